"""What a resumed run takes from its checkpoint and what from the settings given with it.

``wgen fit --config C --ckpt_path last.ckpt`` continues the checkpoint's run: weights, optimizer
and schedule states, step counters, random states and the position in the data come from the
checkpoint. Every setting comes from what is given (``C`` and the command line), so that a
lower learning rate or ``nonfinite: skip`` given on resume takes effect; each given value that
differs from the checkpoint's is named in one line. The family and the networks cannot change
under trained weights: a resume whose given family or networks differ is refused in one line.
(Lightning's own CLI does the opposite, silently: the checkpoint's hyperparameters replace the
given ones.)
"""

from __future__ import annotations

from typing import Any

from torch import nn

from lightning_wgen.errors import ConfigError


def flatten_config(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"class_path": ..., "init_args": {...}}`` trees as ``{"generator.hidden_features": 256}``
    (``init_args`` levels left out, tuples as lists)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if key in ("_instantiator", "__path__"):
            continue
        key = "class_path" if key == "_class_path" else key
        name = prefix if key == "init_args" else f"{prefix}{key}."
        if isinstance(value, dict):
            flat.update(flatten_config(value, name))
        else:
            flat[name.rstrip(".")] = list(value) if isinstance(value, tuple) else value
    return flat


def _network_keys(config: dict[str, Any]) -> set[str]:
    """Top-level entries that build an ``nn.Module`` (not an optimizer)."""
    return {
        key
        for key, value in config.items()
        if isinstance(value, dict)
        and str(value.get("class_path", "")).startswith("lightning_wgen.")
    }


def resume_differences(
    given: dict[str, Any], saved: dict[str, Any], where: str
) -> list[tuple[str, Any, Any]]:
    """The settings ``(key, saved value, given value)`` in which the given model config differs
    from the checkpoint's hyperparameters ``saved``; :class:`ConfigError` when the family or a
    network differs."""
    networks = _network_keys(given) | _network_keys(saved)
    flat_given, flat_saved = flatten_config(given), flatten_config(saved)
    changed = [
        (key, flat_saved[key], flat_given[key])
        for key in flat_given
        if key in flat_saved and flat_saved[key] != flat_given[key]
    ]
    family = [c for c in changed if c[0] == "class_path"]
    if family:
        _, was, now = family[0]
        raise ConfigError(
            f"{where} was trained as {was.rsplit('.', 1)[-1]} but the config builds "
            f"{now.rsplit('.', 1)[-1]}; resume with the run's own config (config.yaml beside its "
            "checkpoints folder), or start a new run from its weights with "
            "--model.init_args.init_from."
        )
    fixed = [c for c in changed if c[0].split(".")[0] in networks]
    if fixed:
        listed = ", ".join(f"{key} {was!r} there, {now!r} given" for key, was, now in fixed[:3])
        raise ConfigError(
            f"{where} was trained with other networks ({listed}); resume with the run's own "
            "config (config.yaml beside its checkpoints folder), or start a new run from its "
            "weights with --model.init_args.init_from."
        )
    return changed


def describe_differences(changed: list[tuple[str, Any, Any]], section: str) -> list[str]:
    return [f"{section}.{key} {was!r} -> {now!r}" for key, was, now in changed]


def check_state_fits(model: nn.Module, state_dict: dict[str, Any], where: str) -> None:
    """One line when the checkpoint's tensors do not fit ``model`` (a network or EMA switched on
    or off, other layer sizes); buffers may differ in shape (AE-OT's map resizes to its own)."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    params = dict(model.named_parameters())
    resized = [
        f"{k} {tuple(state_dict[k].shape)} there, {tuple(p.shape)} here"
        for k, p in params.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(p.shape)
    ]
    if missing or unexpected or resized:
        what = (
            "; ".join(resized[:2])
            if resized
            else f"{len(missing)} tensors missing there {missing[:2]}, "
            f"{len(unexpected)} not used here {unexpected[:2]}"
        )
        raise ConfigError(
            f"{where} does not fit the configured {type(model).__name__} ({what}); resume with "
            "the run's own config (config.yaml beside its checkpoints folder)."
        )
