"""Trained weights from wherever a user has them: a zoo name, a ``.safetensors`` file the zoo
wrote, or a Lightning checkpoint of ``wgen fit``. Nothing is unpickled: checkpoints are read
with ``torch.load(weights_only=True)`` and rebuilt from the config they carry.

``load_model`` gives a whole model (``wgen sample``); ``init_weights`` puts another model's
weights into a freshly configured one (``--model.init_args.init_from``, fine-tuning).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import torch
from torch import Tensor

from lightning_wgen.errors import ConfigError, first_line
from lightning_wgen.models.base import GenerativeModule

ZOO_PREFIX = "zoo:"


def read_checkpoint(ckpt: Path, flag: str = "--ckpt") -> tuple[bytes, dict]:
    """The bytes of a ``wgen fit`` checkpoint and its contents, loaded without unpickling code
    (``torch.load(weights_only=True)``); one line if it is missing or not a checkpoint, saying
    what the file is instead (:func:`describe_unloadable`)."""
    if not ckpt.is_file():
        raise ConfigError(f"{flag} {ckpt} is not a file; pass a checkpoint of `wgen fit`.")
    raw = ckpt.read_bytes()
    try:
        checkpoint = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as err:
        raise ConfigError(
            f"{flag} {ckpt} {describe_unloadable(raw, err)}; pass a checkpoint of `wgen fit`."
        ) from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ConfigError(
            f"{flag} {ckpt} holds no state_dict, so it is not a Lightning checkpoint; pass a "
            "checkpoint of `wgen fit`."
        )
    return raw, checkpoint


# torch.load(weights_only=True) names the first object it refused: "Unsupported global: GLOBAL x"
FOREIGN = re.compile(r"Unsupported (?:global|class): (?:GLOBAL )?([\w.]+)")


def describe_unloadable(raw: bytes, err: Exception) -> str:
    """What a file that ``torch.load(weights_only=True)`` refused is, from its bytes: empty, text,
    a truncated torch archive or pickle, a pickle holding other objects (which could run code),
    or some other format."""
    if not raw:
        return "is empty (0 bytes)"
    foreign = FOREIGN.search(str(err))
    if foreign:
        return (
            f"holds Python objects other than tensors and plain values ({foreign[1]}), which are "
            "not unpickled because that could run code (torch.load(weights_only=True))"
        )
    if raw[:4] == b"PK\x03\x04":  # torch.save's zip archive
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                names = archive.namelist()
        except zipfile.BadZipFile:
            return (
                f"is a truncated or damaged torch checkpoint ({len(raw)} bytes, its zip archive "
                "has no end: was a copy or download cut short?)"
            )
        if not any(name.endswith("/data.pkl") for name in names):
            return "is a zip archive, not a torch checkpoint"
        return f"is a damaged torch checkpoint ({first_line(err)})"
    if raw[:1] == b"\x80":  # a pickle (torch's legacy format)
        return f"is a truncated or damaged pickle ({first_line(err)})"
    head = raw[:400]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\n\r\t" for c in text):
        start = " ".join(text.split())[:40]
        return f"is a text file, not a checkpoint (it begins {start!r})"
    return f"is not a checkpoint (an unknown binary format, beginning {raw[:8].hex()})"


def _zoo_name(source: str) -> str | None:
    """The zoo name ``source`` refers to: ``zoo:NAME``, or a bare name that is not a file."""
    if source.startswith(ZOO_PREFIX):
        return source[len(ZOO_PREFIX) :]
    if Path(source).suffix in (".ckpt", ".safetensors") or Path(source).exists():
        return None
    return source


def _published_metadata(path: Path) -> dict:
    """What `wgen zoo publish` keeps in a safetensors file's metadata: its ``name`` and the model
    ``config``."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            about = json.loads(f.metadata()["wgen"])
        about["config"]  # noqa: B018  (a KeyError if missing)
        return about
    except Exception:
        raise ConfigError(
            f"{path} is not a safetensors file written by `wgen zoo publish` (no model config "
            "in its metadata)."
        ) from None


def _checked_published_file(path: Path, flag: str, *, needs_config: bool = True) -> dict:
    """The metadata of a zoo ``.safetensors`` file reached by its path, after the zoo's hash
    check of files whose name or metadata ties them to a manifest entry (``{}`` for a file
    without it, when ``needs_config`` is false)."""
    from lightning_wgen.zoo.registry import check_published_file

    if not path.is_file():
        raise ConfigError(f"{flag} {path} is not a file.")
    try:
        about = _published_metadata(path)
    except ConfigError:
        if needs_config:
            raise
        about = {}
    check_published_file(path, about.get("name"), f"{flag} {path}")
    return about


def load_model(
    source: str | Path,
    *,
    map_location: str | torch.device | None = None,
    ema: bool = True,
    flag: str = "--model",
) -> GenerativeModule:
    """The trained model in eval mode, from a zoo name (``wgan-gp-mnist`` or
    ``zoo:wgan-gp-mnist``), a zoo ``.safetensors`` file, or a ``wgen fit`` checkpoint.

    ``ema=False`` samples from the trained generator instead of its moving average.
    """
    from lightning_wgen.zoo.registry import load_pretrained
    from lightning_wgen.zoo.weights import (
        build_model,
        load_state,
        load_tensors,
        model_config,
        ready_to_sample,
    )

    source = str(source)
    name = _zoo_name(source)
    if name is not None:
        return load_pretrained(name, map_location=map_location, ema=ema)
    path = Path(source)
    if path.suffix == ".safetensors":
        about = _checked_published_file(path, flag)
        model = build_model(about["config"], where=str(path))
        load_state(model, path.read_bytes(), where=str(path))
    else:
        _, checkpoint = read_checkpoint(path, flag)
        config = model_config(checkpoint.get("hyper_parameters", {}), where=str(path))
        model = build_model(config, where=str(path))
        load_tensors(model, checkpoint["state_dict"], str(path), allow_missing=())
        model.generator_steps = int(checkpoint.get("wgen", {}).get("generator_steps", 0))
    return ready_to_sample(model, map_location=map_location, ema=ema)


def source_weights(source: str) -> dict[str, Tensor]:
    """The tensors of a zoo model (``zoo:NAME``), a zoo ``.safetensors`` file or a ``wgen fit``
    checkpoint, sha256-checked when from the zoo."""
    from safetensors.torch import load as load_bytes

    name = _zoo_name(source)
    if name is not None:
        from lightning_wgen.zoo.registry import download

        return load_bytes(download(name).read_bytes())
    path = Path(source)
    if path.suffix == ".safetensors":
        _checked_published_file(path, "init_from", needs_config=False)
        try:
            return load_bytes(path.read_bytes())
        except Exception as err:
            raise ConfigError(f"init_from {path} is not a safetensors file ({err}).") from None
    _, checkpoint = read_checkpoint(path, "init_from")
    return checkpoint["state_dict"]


def init_weights(model: GenerativeModule, source: str) -> list[str]:
    """Copy the weights of ``source`` (see :func:`source_weights`) into ``model``; the names of
    the tensors that stayed as initialised (a zoo file has no critic or discriminator; a source
    without an EMA generator starts the EMA at the loaded generator)."""
    from lightning_wgen.zoo.weights import TRAINING_ONLY, load_tensors

    tensors = source_weights(source)
    allowed = TRAINING_ONLY
    if getattr(model, "generator_ema", None) is None:  # the source's EMA has nowhere to go
        tensors = {k: v for k, v in tensors.items() if not k.startswith("generator_ema.")}
    elif not any(k.startswith("generator_ema.") for k in tensors):
        # AveragedModel copies the generator at its first update while n_averaged is 0
        allowed = (*TRAINING_ONLY, "generator_ema.")
    return load_tensors(model, tensors, f"init_from {source}", allow_missing=allowed)


def fine_tune_from(model: GenerativeModule) -> None:
    """Load the weights ``model.init_from`` names (:func:`init_weights`) and say which networks
    stayed as initialised; ``model.weights_from`` records it, so that they are loaded once."""
    from lightning.pytorch.utilities import rank_zero_info

    untouched = init_weights(model, model.init_from)
    model.weights_from = model.init_from
    kept = sorted({key.split(".")[0] for key in untouched})
    rank_zero_info(
        f"init_from {model.init_from}: weights loaded"
        + (f"; left as initialised: {', '.join(kept)}" if kept else "")
    )
