"""Fit AE-OT's optimal-transport map when the autoencoder has finished training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info

from lightning_wgen.callbacks.logging import log_scalars
from lightning_wgen.errors import ConfigError


class FitOT(Callback):
    """At the end of training, encodes the training set (at most ``max_codes`` images), fits
    the module's semi-discrete OT map (:meth:`~lightning_wgen.models.AEOT.fit_ot`; ``solver``
    holds :func:`~lightning_wgen.ot.solve_semidiscrete_ot`'s arguments) and saves the model,
    map included, as ``filename`` beside the run's other checkpoints. Logs ``ot/steps``,
    ``ot/samples``, ``ot/seconds`` and ``ot/estimated_error``.

    List it before the callbacks that sample at the end of training (ImageEvaluation,
    SampleGrid): Lightning runs callbacks in list order.
    """

    def __init__(
        self,
        max_codes: int | None = None,
        filename: str = "aeot.ckpt",
        solver: dict[str, Any] | None = None,
    ) -> None:
        if max_codes is not None and max_codes < 2:
            raise ConfigError(f"FitOT needs max_codes >= 2 or None, got {max_codes}.")
        self.max_codes = max_codes
        self.filename = filename
        self.solver = dict(solver or {})
        self.result = None
        self.path: Path | None = None

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not hasattr(pl_module, "fit_ot"):
            raise ConfigError(f"FitOT needs an AEOT module, got {type(pl_module).__name__}.")
        if trainer.datamodule is None:
            raise ConfigError(
                "FitOT encodes the training set of the trainer's datamodule; fit with one."
            )
        loader = trainer.datamodule.train_dataloader()
        self.result = pl_module.fit_ot(loader, max_codes=self.max_codes, **self.solver)
        values = {
            "ot/steps": self.result.steps,
            "ot/samples": self.result.samples,
            "ot/seconds": self.result.seconds,
            "ot/estimated_error": self.result.estimated_error,
        }
        log_scalars(trainer, values, pl_module.generator_steps)
        checkpoint_callback = trainer.checkpoint_callback
        folder = getattr(checkpoint_callback, "dirpath", None) or trainer.default_root_dir
        self.path = Path(folder) / self.filename
        trainer.save_checkpoint(self.path)
        rank_zero_info(
            f"FitOT: {len(pl_module.ot_map.codes)} codes, {self.result.steps} steps, estimated "
            f"cell-mass error {self.result.estimated_error:.3f}; saved {self.path}"
        )
