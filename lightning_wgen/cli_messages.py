"""What ``wgen --help`` lists, and the one line a bad config value gets.

jsonargparse explains a rejected value as a tree (every type of a union it tried, with the value
at each level); :func:`parser_error_line` keeps the option's dotted name, the reason and the
value, and names the known classes when a class name was not found.
"""

from __future__ import annotations

import inspect
import re

import lightning as L

import lightning_wgen.data as data
import lightning_wgen.models as models
from lightning_wgen.models.base import GenerativeModule

# Lines of jsonargparse's explanation that say where, not what.
_NOISE = (
    "Subtypes:",
    "Errors:",
    "Does not validate",
    "Given value type",
    "Given value:",
    "Expected a <class 'NoneType'>",
    "Expected a path but",
    "Problem with given class_path",
    "Parser key",
)


def families() -> list[str]:
    """The model families ``model.class_path`` takes by short name."""
    return sorted(
        name
        for name in models.__all__
        if inspect.isclass(getattr(models, name))
        and issubclass(getattr(models, name), GenerativeModule)
        and not inspect.isabstract(getattr(models, name))
        and name not in ("GenerativeModule", "AdversarialModule", "AutoencoderModule")
    )


def datamodules() -> list[str]:
    """The DataModules ``data.class_path`` takes by short name."""
    return sorted(
        name
        for name in data.__all__
        if inspect.isclass(getattr(data, name))
        and issubclass(getattr(data, name), L.LightningDataModule)
        and name != "ImageDataModule"
    )


def help_epilog() -> str:
    return (
        f"model families (--model NAME): {', '.join(families())}. "
        f"data sets (--data NAME): {', '.join(datamodules())}; toy data: "
        f"ToyDataModule with name {', '.join(data.TOY_DATASETS)}. "
        "Also: wgen sample, wgen fit-ot, wgen zoo (each with --help)."
    )


def parser_error_line(message: str) -> str:
    """jsonargparse's multi-line explanation of a rejected value as one line."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if len(lines) == 1:
        return lines[0]
    keys = [m.group(1) for line in lines if (m := re.match(r'Parser key "([^"]+)"', line))]
    key = ".".join(dict.fromkeys(keys)) or "a value"
    last_key = max((i for i, line in enumerate(lines) if line.startswith("Parser key")), default=0)
    inner = [line.removeprefix("- ") for line in lines[last_key + 1 :]]
    reasons = [line for line in inner if not line.startswith(_NOISE)]
    given = next(
        (line.split(":", 1)[1].strip() for line in inner if line.startswith("Given value:")), None
    )
    classes = re.findall(r"Problem with given class_path '([^']+)'", message)
    if not reasons:
        return f"{key}: invalid value {given!r}." if given else lines[0]
    reason = reasons[0]
    if reason.startswith("Expected a dot import path string"):
        value = reason.split(":", 1)[1].strip()
        known = {"model": families(), "data": datamodules()}.get(key.split(".")[0])
        hint = f"known: {', '.join(known)}" if known else "give a class name or import path"
        return f"{key}: no class {value!r}; {hint}."
    if reason.startswith("Expected a <class"):
        wanted = re.sub(r"Expected a <class '([^']+)'>", r"\1", reason)
        return f"{key}: expected {wanted}, got {given!r}."
    if reason.startswith("Option"):
        where = f" by {classes[-1]}" if classes else ""
        return f"{key}: {reason[0].lower()}{reason[1:]}{where}; see `wgen fit --help`."
    return f"{key}: {reason}" + (f" ({classes[-1]})" if "class_path" in message and classes else "")
