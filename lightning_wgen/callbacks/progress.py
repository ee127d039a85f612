"""Lightning's progress bar, counting generator steps instead of data batches."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar


class GeneratorStepProgressBar(TQDMProgressBar):
    """Shows ``generator_steps`` of the whole run out of ``max_generator_steps``, with the
    family's step values (critic loss and W estimate for the adversarial ones) and the last
    evaluation's FID (``eval/fid`` or ``eval/fid_<extractor>``) once one has been measured.

    Lightning's bar counts data batches, of which an adversarial step draws ``n_critic``.
    """

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        self._count_generator_steps(trainer, pl_module)  # a run resumed mid-epoch starts here

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_epoch_start(trainer, pl_module)
        self._count_generator_steps(trainer, pl_module)

    def _count_generator_steps(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        bar = self.train_progress_bar
        bar.total = getattr(pl_module, "max_generator_steps", None)
        bar.n = getattr(pl_module, "generator_steps", 0)
        bar.initial = bar.n  # the rate and time left count this epoch's steps only
        bar.set_description(f"Epoch {trainer.current_epoch}, generator steps")

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        step = getattr(pl_module, "generator_steps", batch_idx + 1)
        super().on_train_batch_end(trainer, pl_module, outputs, batch, step - 1)

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        metrics = super().get_metrics(trainer, pl_module)
        for key, value in trainer.callback_metrics.items():
            # eval/fid, or eval/fid_mnist with a domain extractor; not the KID/IS spreads
            if key.startswith("eval/fid") and value.numel() == 1:
                metrics[key.removeprefix("eval/")] = f"{float(value):.3g}"
        return metrics
