"""Resuming a run: exactly where it stopped, with the optimizer settings given now."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.fabric.utilities.types import _Stateful
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info

from lightning_wgen import random_state
from lightning_wgen.data.resumable import ResumableLoader


class ExactResume(Callback):
    """A run resumed with ``ckpt_path`` draws the noise and the data the uninterrupted run would
    have drawn, so that its losses and weights are the same.

    Saves the random states (torch and CUDA, numpy, Python) in
    ``checkpoint["wgen"]["random_state"]`` and takes them back just before the first resumed
    step, once the loop has built its data iterator and run any sanity check. Lightning hands
    the training loaders their saved state only when it resumes mid-epoch; resumed at an epoch
    end a :class:`~lightning_wgen.data.resumable.ResumableLoader` gets its state here. ``wgen fit``
    adds it; with a plain ``Trainer`` pass ``callbacks=[ExactResume()]``.
    """

    def __init__(self) -> None:
        self._random_state: dict[str, Any] | None = None
        self._loader_states: list[dict[str, Any]] | None = None

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: Any, checkpoint: dict) -> None:
        checkpoint.setdefault("wgen", {})["random_state"] = random_state.capture()

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: Any, checkpoint: dict) -> None:
        self._random_state = checkpoint.get("wgen", {}).get("random_state")
        fit_loop = checkpoint.get("loops", {}).get("fit_loop", {})
        self._loader_states = fit_loop.get("state_dict", {}).get("combined_loader")

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: Any) -> None:
        # A loader applies a state when the epoch's first batch is drawn, after this hook.
        states, self._loader_states = self._loader_states, None
        if not states:
            return
        loaders = trainer.train_dataloader
        if isinstance(loaders, dict):
            loaders = list(loaders.values())
        loaders = list(loaders) if isinstance(loaders, list | tuple) else [loaders]
        # the states are those of the stateful loaders, in order (Lightning's own test)
        stateful = [x for x in loaders if isinstance(x, _Stateful)]
        for loader, state in zip(stateful, states, strict=False):
            if isinstance(loader, ResumableLoader) and not loader.restored:
                loader.load_state_dict(state)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: Any, batch: Any, i: int) -> None:
        if self._random_state is not None:
            random_state.restore(self._random_state)
            self._random_state = None


class GivenOptimizerSettings(Callback):
    """On a resume, the configured optimizer settings (learning rate, betas, ...) win over the
    checkpoint's, which Lightning restored with the optimizer states: a lower learning rate
    given on resume, as the divergence guard advises, takes effect
    (:func:`take_configured_optimizer_settings`). ``wgen fit`` adds it."""

    def on_train_start(self, trainer: L.Trainer, pl_module: Any) -> None:
        if trainer.ckpt_path is not None:
            take_configured_optimizer_settings(pl_module)


def _same(a: Any, b: Any) -> bool:
    """Equal settings, a list and a tuple of the same values included (``betas``)."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return list(a) == list(b)
    return a == b


def take_configured_optimizer_settings(module: Any) -> list[str]:
    """Put the settings of the optimizers ``module.optimizers_to_build()`` makes in place of
    those of its running optimizers; a learning-rate schedule keeps its progress (its base rate
    changes). The changed settings, described (and logged)."""
    changed = []
    schedulers = module.lr_schedulers() or []
    schedulers = schedulers if isinstance(schedulers, list) else [schedulers]
    for i, (optimizer, fresh) in enumerate(
        zip(module.optimizer_list(), module.optimizers_to_build().values(), strict=True)
    ):
        groups = getattr(optimizer, "optimizer", optimizer).param_groups
        for j, (group, wanted) in enumerate(zip(groups, fresh.param_groups, strict=True)):
            for key, value in wanted.items():
                scheduled = key == "lr" and "initial_lr" in group
                current = group["initial_lr"] if scheduled else group.get(key)
                if key == "params" or _same(current, value):
                    continue
                changed.append(f"optimizer {i} {key} {current!r} -> {value!r}")
                if scheduled:
                    factor = group["lr"] / current if current else 1.0
                    group["initial_lr"], group["lr"] = value, value * factor
                    if i < len(schedulers):
                        schedulers[i].base_lrs[j] = value
                else:
                    group[key] = value
    if changed:
        rank_zero_info(f"resumed with the configured optimizer settings: {', '.join(changed)}")
    return changed
