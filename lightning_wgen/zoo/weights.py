"""Rebuilding a model from its saved config and moving its weights in and out of safetensors.

A config names classes by their import paths; only this library's classes and torch's
optimizers may be named, so that a manifest or checkpoint cannot make the loader import
anything else. Weights are never unpickled.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lightning.pytorch import LightningDataModule
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes
from torch import Tensor

from lightning_wgen.errors import ConfigError
from lightning_wgen.models.base import GenerativeModule

ALLOWED_CLASS_PATHS = ("lightning_wgen.", "torch.optim.")
# Networks only training needs; the zoo publishes what sampling (and reconstruction) needs.
TRAINING_ONLY = ("critic.", "discriminator.")
FORMAT = "lightning-wgen/zoo/1"


def check_class_paths(config: Any, where: str) -> None:
    """Refuse any ``class_path`` outside :data:`ALLOWED_CLASS_PATHS`, anywhere in ``config``."""
    if isinstance(config, dict):
        for key, value in config.items():
            if key in ("class_path", "_class_path") and not (
                isinstance(value, str) and value.startswith(ALLOWED_CLASS_PATHS)
            ):
                raise ConfigError(
                    f"{where} names the class {value!r}; only lightning_wgen classes and "
                    "torch.optim optimizers are rebuilt from saved configs."
                )
            check_class_paths(value, where)
    elif isinstance(config, list):
        for value in config:
            check_class_paths(value, where)


def model_config(hyper_parameters: dict[str, Any], where: str) -> dict[str, Any]:
    """The config that rebuilds a model, from a ``wgen fit`` checkpoint's hyperparameters."""
    if "_class_path" not in hyper_parameters:
        raise ConfigError(
            f"{where} holds no model config (trained without `wgen fit --config`?); train it "
            "with the wgen command, whose checkpoints carry the config that rebuilds the model."
        )
    # the speed options were model arguments before they became --speed.* (SpeedOptions)
    dropped = ("_instantiator", "channels_last", "compile_networks")
    return {k: v for k, v in hyper_parameters.items() if k not in dropped}


def build_model(config: dict[str, Any], where: str = "the config") -> GenerativeModule:
    """The module ``config`` (``{"_class_path": ..., **init_args}``) describes, untrained."""
    from lightning.pytorch.cli import instantiate_module

    check_class_paths(config, where)
    model = instantiate_module(GenerativeModule, config)
    if not isinstance(model, GenerativeModule):
        raise ConfigError(f"{where} describes {type(model).__name__}, not a generative model.")
    return model


def build_datamodule(
    config: dict[str, Any], where: str = "the config", **overrides: Any
) -> LightningDataModule:
    from lightning.pytorch.cli import instantiate_module

    check_class_paths(config, where)
    config = {k: v for k, v in config.items() if k != "_instantiator"}
    config.update({k: v for k, v in overrides.items() if v is not None and k in config})
    return instantiate_module(LightningDataModule, config)


def export_state(model: GenerativeModule, *, critic: bool = False) -> dict[str, Tensor]:
    """The model's tensors that sampling needs: its state dict without critic and discriminator
    (the EMA generator, the autoencoder, AE-OT's map are kept); ``critic=True`` keeps the critic,
    which critic-guided sampling (:mod:`lightning_wgen.refine`) needs."""
    dropped = tuple(p for p in TRAINING_ONLY if not (critic and p == "critic."))
    return {
        key: value.detach().cpu().clone().contiguous()
        for key, value in model.state_dict().items()
        if not key.startswith(dropped)
    }


def to_safetensors(tensors: dict[str, Tensor], config: dict[str, Any], name: str) -> bytes:
    """The safetensors file's bytes. Its metadata (one key, ``wgen``, so that the bytes do not
    depend on a hash map's order) carries the name and the model config: the file alone says
    what it is."""
    about = {"format": FORMAT, "name": name, "config": config}
    return save_bytes(tensors, metadata={"wgen": json.dumps(about, sort_keys=True)})


def load_state(model: GenerativeModule, data: bytes, where: str) -> GenerativeModule:
    """Load safetensors bytes into ``model``; everything but the training-only networks must
    be there, and nothing else."""
    try:
        tensors = load_bytes(data)
    except Exception as err:
        raise ConfigError(f"{where} is not a safetensors file ({err}).") from None
    missing = load_tensors(model, tensors, where, allow_missing=TRAINING_ONLY)
    # the networks the file does not hold stay as built (random); refine() refuses such a critic
    model.untrained_networks = sorted({key.split(".")[0] for key in missing})
    return model


def nonfinite_names(tensors: dict[str, Tensor]) -> list[str]:
    """The names of the floating tensors that hold a NaN or an infinity."""
    return [k for k, v in tensors.items() if v.is_floating_point() and not v.isfinite().all()]


def load_tensors(
    model: GenerativeModule, tensors: dict[str, Tensor], where: str, allow_missing: tuple
) -> list[str]:
    """``model.load_state_dict(tensors)`` with one line for the first name or shape that does
    not fit; returns the model's keys ``tensors`` left alone (allowed by ``allow_missing``).

    Shapes are left to ``load_state_dict``: modules such as AE-OT's map resize their buffers
    to what they load. Tensors that are not finite are refused."""
    bad = nonfinite_names(tensors)
    if bad:
        raise ConfigError(
            f"{where} holds weights that are not finite ({bad[0]}"
            f"{f' and {len(bad) - 1} more' if len(bad) > 1 else ''}): the file is damaged or "
            "comes from a diverged run; use an earlier checkpoint."
        )
    own = model.state_dict()
    unexpected = [k for k in tensors if k not in own]
    missing = [k for k in own if k not in tensors]
    refused = [k for k in missing if not k.startswith(allow_missing)]
    if unexpected or refused:
        raise ConfigError(
            f"{where} does not fit the configured {type(model).__name__}: "
            f"{len(unexpected)} unexpected tensors {unexpected[:2]}, {len(refused)} missing "
            f"{refused[:2]}; configure the same family and networks as the source."
        )
    try:
        model.load_state_dict(tensors, strict=False)
    except RuntimeError as err:
        size = re.search(
            r"size mismatch for ([\w.]+): copying a param with shape torch\.Size\(\[([^\]]*)\]\)"
            r" from checkpoint, the shape in current model is torch\.Size\(\[([^\]]*)\]\)",
            str(err),
        )
        what = (
            f"{size[1]} has shape ({size[2]}) there but ({size[3]}) in"
            if size
            else f"{str(err).strip().splitlines()[-1].strip()}; it does not fit"
        )
        raise ConfigError(
            f"{where}: {what} the configured {type(model).__name__}; configure the networks as "
            "the source was trained (`wgen zoo info NAME` shows its config)."
        ) from None
    return missing


def ready_to_sample(
    model: GenerativeModule, *, map_location: Any = None, ema: bool = True
) -> GenerativeModule:
    """``model`` in eval mode on ``map_location``; ``ema=False`` drops the EMA generator, so that
    sampling uses the trained generator's own weights."""
    if not ema and getattr(model, "generator_ema", None) is not None:
        model.generator_ema = None
    if map_location is not None:
        model.to(map_location)
    return model.eval()
