"""Rebuilding a model from its saved config and moving its weights in and out of safetensors.

A config names classes by their import paths; only this library's classes and torch's
optimizers may be named, so that a manifest or checkpoint cannot make the loader import
anything else. Weights are never unpickled.
"""

from __future__ import annotations

import json
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
    return {k: v for k, v in hyper_parameters.items() if k != "_instantiator"}


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


def export_state(model: GenerativeModule) -> dict[str, Tensor]:
    """The model's tensors that sampling needs: its state dict without critic and discriminator
    (the EMA generator, the autoencoder, AE-OT's map are kept)."""
    return {
        key: value.detach().cpu().clone().contiguous()
        for key, value in model.state_dict().items()
        if not key.startswith(TRAINING_ONLY)
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
    try:
        result = model.load_state_dict(tensors, strict=False)
    except RuntimeError as err:  # shapes that do not fit the config's networks
        first = str(err).strip().splitlines()[-1].strip()
        raise ConfigError(f"{where} does not fit its config: {first}") from None
    missing = [k for k in result.missing_keys if not k.startswith(TRAINING_ONLY)]
    if missing or result.unexpected_keys:
        raise ConfigError(
            f"{where} does not fit its config: missing {missing[:3]}, unexpected "
            f"{result.unexpected_keys[:3]}."
        )
    return model
