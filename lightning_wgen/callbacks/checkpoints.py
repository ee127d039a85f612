"""The checkpoints ``wgen fit`` writes by default: ``last.ckpt`` and the best by FID."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

from lightning_wgen.callbacks.evaluation import ImageEvaluation


def last_checkpoint() -> ModelCheckpoint:
    """``<log_dir>/checkpoints/last.ckpt``, rewritten at every epoch end and when training stops
    (``max_generator_steps`` ends the epoch it is reached in)."""
    return ModelCheckpoint(save_last=True, save_top_k=0, save_on_train_epoch_end=True)


class BestEvaluationCheckpoint(ModelCheckpoint):
    """``best-<metric>.ckpt``: the weights of the evaluation with the lowest ``monitor`` so far
    (e.g. ``eval/fid_mnist``), saved right after that evaluation, so that the file holds the
    weights that were measured, not those of a later epoch end.

    It follows the trainer's :class:`ImageEvaluation`; Lightning's own bookkeeping (best score,
    file replacement, its state in ``last.ckpt`` for resuming) is kept.
    """

    def __init__(self, monitor: str = "eval/fid", dirpath: str | None = None) -> None:
        super().__init__(
            dirpath=dirpath,
            monitor=monitor,
            mode="min",
            save_top_k=1,
            filename="best-" + monitor.split("/")[-1],
            auto_insert_metric_name=False,
            save_on_train_epoch_end=False,
        )
        self._saved_step = -1

    def _after_evaluation(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        step = getattr(pl_module, "generator_steps", -1)
        evaluated = any(
            isinstance(cb, ImageEvaluation) and cb.last_evaluated_step == step
            for cb in trainer.callbacks
        )
        candidates = self._monitor_candidates(trainer)
        if not evaluated or step == self._saved_step or self.monitor not in candidates:
            return
        self._saved_step = step
        self._save_topk_checkpoint(trainer, candidates)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._after_evaluation(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._after_evaluation(trainer, pl_module)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        pass  # saved after evaluations only

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        pass


def default_checkpoints(callbacks: list) -> list[ModelCheckpoint]:
    """What ``wgen fit`` adds when the config brings no ModelCheckpoint: ``last.ckpt``, and the
    best by FID when an :class:`ImageEvaluation` measures one."""
    added = [last_checkpoint()]
    for cb in callbacks:
        if isinstance(cb, ImageEvaluation) and "fid" in cb.metric_names:
            suffix = "" if cb.feature_extractor == "inception" else f"_{cb.feature_extractor}"
            added.append(BestEvaluationCheckpoint(monitor=f"eval/fid{suffix}"))
            break
    return added
