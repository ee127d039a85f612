"""Where ``wgen predict`` puts its results: one ``predictions.pt`` for the whole split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.utilities import rank_zero_info

from lightning_wgen.callbacks.logging import output_dir
from lightning_wgen.checkpoint_io import atomic_save


def concatenate(batches: list[Any]) -> Any:
    """Batch outputs (tensors, or dicts of tensors) joined along the batch dimension."""
    if isinstance(batches[0], dict):
        return {key: torch.cat([b[key] for b in batches]).cpu() for key in batches[0]}
    return torch.cat(list(batches)).cpu()


class PredictionWriter(BasePredictionWriter):
    """Saves the predictions of the whole predict split to ``path`` (default
    ``<log_dir>/predictions.pt``), loadable with ``torch.load(weights_only=True)``: critic scores
    ``(N,)`` for adversarial families, ``{"codes", "reconstructions"}`` for autoencoders."""

    def __init__(self, path: str | None = None) -> None:
        super().__init__(write_interval="epoch")
        self.path = path

    def write_on_epoch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        predictions: Any,
        batch_indices: Any,
    ) -> None:
        if not trainer.is_global_zero or not predictions:
            return
        out = Path(self.path) if self.path else output_dir(trainer) / "predictions.pt"
        predicted = concatenate(predictions)
        atomic_save(out, lambda f: torch.save(predicted, f), "give PredictionWriter another path")
        rank_zero_info(f"wrote {out}")
