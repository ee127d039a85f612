"""Trained weights from wherever a user has them: a zoo name, a ``.safetensors`` file the zoo
wrote, or a Lightning checkpoint of ``wgen fit``. Nothing is unpickled: checkpoints are read
with ``torch.load(weights_only=True)`` and rebuilt from the config they carry.

``load_model`` gives a whole model (``wgen sample``); ``init_weights`` puts another model's
weights into a freshly configured one (``--model.init_args.init_from``, fine-tuning).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import Tensor

from lightning_wgen.checkpoint_io import read_checkpoint
from lightning_wgen.errors import ConfigError
from lightning_wgen.models.base import GenerativeModule

ZOO_PREFIX = "zoo:"


def zoo_name(source: str) -> str | None:
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
    from lightning_wgen.zoo.weights import build_model, load_state, ready_to_sample

    source = str(source)
    name = zoo_name(source)
    if name is not None:
        return load_pretrained(name, map_location=map_location, ema=ema)
    path = Path(source)
    if path.suffix == ".safetensors":
        about = _checked_published_file(path, flag)
        model = build_model(about["config"], where=str(path))
        load_state(model, path.read_bytes(), where=str(path))
    else:
        checkpoint = read_checkpoint(path, flag)
        model = model_from_checkpoint(checkpoint, str(path))
    return ready_to_sample(model, map_location=map_location, ema=ema)


def model_from_checkpoint(checkpoint: dict, where: str) -> GenerativeModule:
    """The model a ``wgen fit`` checkpoint's config describes, built through the zoo's class-path
    allow-list, holding the checkpoint's (finite, fitting) weights and generator-step count: the
    one road from a checkpoint to a model (``wgen sample``, ``fit-ot``, ``zoo publish``)."""
    from lightning_wgen.zoo.weights import build_model, load_tensors, model_config

    model = build_model(model_config(checkpoint.get("hyper_parameters", {}), where), where)
    load_tensors(model, checkpoint["state_dict"], where, allow_missing=())
    model.generator_steps = int(checkpoint.get("wgen", {}).get("generator_steps", 0))
    return model


def data_config(checkpoint: dict, where: str) -> dict:
    """The DataModule config a ``wgen fit`` checkpoint saved (for :func:`build_datamodule`)."""
    config = checkpoint.get("datamodule_hyper_parameters")
    if not config or "_class_path" not in config:
        raise ConfigError(f"{where} saved no DataModule config; train it with `wgen fit --config`.")
    return config


def source_weights(source: str) -> dict[str, Tensor]:
    """The tensors of a zoo model (``zoo:NAME``), a zoo ``.safetensors`` file or a ``wgen fit``
    checkpoint, sha256-checked when from the zoo."""
    from safetensors.torch import load as load_bytes

    name = zoo_name(source)
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
    checkpoint = read_checkpoint(path, "init_from")
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
