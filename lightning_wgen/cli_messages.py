"""What ``wgen --help`` lists, and the one line a bad config value gets.

jsonargparse explains a rejected value as a tree (every type of a union it tried, with the value
at each level); :func:`parser_error_line` keeps the option's dotted name, the reason and the
value, and names the known classes when a class name was not found.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import inspect
import os
import re
from pathlib import Path
from typing import NoReturn

import lightning as L
import torch

import lightning_wgen.data as data
import lightning_wgen.models as models
from lightning_wgen.errors import ConfigError
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
        close = closest(value.rsplit(".", 1)[-1], known or [])
        if close:
            hint = f"did you mean {' or '.join(close)}?"
        else:
            hint = f"known: {', '.join(known)}." if known else "give a class name or import path."
        return f"{key}: no class {value!r}; {hint}"
    missing = re.match(r"module '([\w.]+)' has no attribute '(\w+)'", reason)
    if missing:
        module, name = missing.groups()
        close = closest(name, public_classes(module))
        hint = f"; did you mean {module}.{' or '.join(close)}?" if close else ""
        return f"{key}: {module} has no class {name!r}{hint}"
    if reason.startswith("Expected a <class"):
        wanted = re.sub(r"Expected a <class '([^']+)'>", r"\1", reason)
        return f"{key}: expected {wanted}, got {given!r}."
    if reason.startswith("Option"):
        where = f" by {classes[-1]}" if classes else ""
        moved = re.search(r"'(channels_last|compile_networks)'", reason)
        if moved:  # a config.yaml written before the speed options became --speed.*
            fix = f"move it to the speed: section (--speed.{moved[1]}), or delete it if false"
            return f"{key}: {reason[0].lower()}{reason[1:]}{where}; {fix}."
        return f"{key}: {reason[0].lower()}{reason[1:]}{where}; see `wgen fit --help`."
    return f"{key}: {reason}" + (f" ({classes[-1]})" if "class_path" in message and classes else "")


def closest(name: str, known: list[str]) -> list[str]:
    """The names in ``known`` closest to ``name``, ignoring case (``WGANgp`` -> ``WGANGP``)."""
    by_lower = {k.lower(): k for k in known}
    exact = by_lower.get(name.lower())
    if exact:
        return [exact]
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=2, cutoff=0.6)
    prefixed = [k for k in by_lower if k.startswith(name.lower()) and k not in close]
    return [by_lower[k] for k in [*close, *prefixed][:2]]


def public_classes(module: str) -> list[str]:
    try:
        found = importlib.import_module(module)
    except ImportError:
        return []
    return [n for n in dir(found) if not n.startswith("_") and inspect.isclass(getattr(found, n))]


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse for ``wgen sample``, ``fit-ot`` and ``zoo``: a rejected argument is one
    :class:`ConfigError` line (``wgen: error: ...``), not usage and a message on two lines."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{self.prog}: {message}; see `{self.prog} --help`.")


def checked_device(value: str, flag: str = "--device") -> torch.device:
    """The device ``value`` names, or one line when it is not a device or not on this machine."""
    try:
        device = torch.device(value)
    except (RuntimeError, ValueError):
        raise ConfigError(f"{flag} {value!r} is not a device; give cpu, cuda or cuda:N.") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (device.index or 0) >= count:
            found = f"{count} CUDA device(s)" if count else "no CUDA GPU"
            raise ConfigError(f"{flag} {value}: this machine has {found}; use --device cpu.")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"{flag} {value}: MPS is not available here; use --device cpu.")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"{flag} {value}: only cpu, cuda and mps are supported.")
    return device


def checked_output(path: Path, flag: str = "--out") -> Path:
    """``path`` if a file can be written there (checked before any work); one line if it is a
    folder or its folder cannot be made or written to."""
    if path.is_dir():
        raise ConfigError(f"{flag} {path} is a folder; give a file path such as {path / 'x'}.")
    folder = next((p for p in path.absolute().parents if p.exists()), None)
    if folder is None or not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        where = folder if folder is not None else path.parent
        raise ConfigError(f"{flag} {path}: cannot write in {where}; give a path you can write.")
    return path
