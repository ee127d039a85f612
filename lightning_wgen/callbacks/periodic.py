"""When the evaluation and picture callbacks act: every N generator steps and at the end."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.callbacks import Callback

from lightning_wgen.errors import ConfigError


class EveryNGeneratorSteps(Callback):
    """Base of the callbacks that act every ``every_n_generator_steps`` (``None``: never during
    training) and, when ``at_end``, once more at the end of training.

    They act on rank zero only, at most once per generator step (a step that ends an epoch
    mid-cycle ends a batch twice), and only while the module can sample (``can_sample``: AE-OT
    before its map is fitted cannot). A subclass defines :meth:`act`.
    """

    at_end = True

    def __init__(self, every_n_generator_steps: int | None) -> None:
        if every_n_generator_steps is not None and every_n_generator_steps < 1:
            raise ConfigError(
                f"{type(self).__name__}: every_n_generator_steps must be >= 1 or None, got "
                f"{every_n_generator_steps}."
            )
        self.every_n_generator_steps = every_n_generator_steps
        self.last_step = -1  # the generator step of the latest act (-1 before the first)

    def act(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """What the callback does at a scheduled generator step."""
        raise NotImplementedError

    def act_once(self, trainer: L.Trainer, pl_module: L.LightningModule) -> bool:
        """:meth:`act` now, unless it already did at this generator step or this is not rank
        zero or the module cannot sample yet; whether it acted."""
        step = pl_module.generator_steps
        ready = getattr(pl_module, "can_sample", True)
        if step == self.last_step or not trainer.is_global_zero or not ready:
            return False
        self.act(trainer, pl_module)
        self.last_step = step
        return True

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        every = self.every_n_generator_steps
        if every and pl_module.generator_steps % every == 0:
            self.act_once(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.at_end:
            self.act_once(trainer, pl_module)
