"""The checkpoints ``wgen fit`` writes by default: ``last.ckpt`` and the best by FID."""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_warn
from lightning.pytorch.utilities.exceptions import SIGTERMException

from lightning_wgen.callbacks.evaluation import ImageEvaluation
from lightning_wgen.errors import TrainingDivergedError, TrainingInterrupted


class LastCheckpoint(ModelCheckpoint):
    """``<log_dir>/checkpoints/last.ckpt``: rewritten at every epoch end, every
    ``every_minutes`` of training (toy data sets never end an epoch), when training stops
    (``max_generator_steps`` ends the epoch it is reached in), when the process is sent
    SIGTERM (Lightning stops between generator steps, so the file resumes cleanly), and when the
    divergence guard stops training (:class:`~lightning_wgen.errors.TrainingDivergedError`: the
    weights are those before the update that failed; the error's message then names the file).
    It never replaces the previous file with weights that are not all finite.

    Lightning's own ``save_last=True`` writes ``last.ckpt`` only beside a top-k checkpoint, so
    without one it would appear only at the end of training and a run killed before then would
    lose everything; here the single "top-k" file is ``last.ckpt`` itself. Under ``wgen`` it is
    written by :class:`~lightning_wgen.checkpoint_io.AtomicCheckpointIO`, so a kill mid-write
    keeps the previous one.
    """

    def __init__(self, dirpath: str | None = None, every_minutes: float = 10.0) -> None:
        if not every_minutes >= 0:
            raise ValueError(
                f"LastCheckpoint: every_minutes must be >= 0 (0 writes after every generator "
                f"step), got {every_minutes}"
            )
        super().__init__(
            dirpath=dirpath,
            filename="last",
            save_top_k=1,
            every_n_epochs=1,
            save_on_train_epoch_end=True,
            enable_version_counter=False,
        )
        self.every_minutes = every_minutes
        self._written_at = time.monotonic()
        self._interrupted = False
        self._previous_sigint: Any = None
        self.saved_on_signal: Path | None = None  # where SIGTERM's save went, for the message

    @property
    def path(self) -> Path:
        return Path(self.dirpath) / "last.ckpt"

    def _finite(self, trainer: L.Trainer, filepath: str | Path) -> bool:
        if all_finite(trainer.lightning_module):
            return True
        rank_zero_warn(f"the weights are not all finite: {filepath} is left as it was.")
        return False

    def _write(self, trainer: L.Trainer) -> bool:
        if not self._finite(trainer, self.path):
            return False
        trainer.save_checkpoint(str(self.path), weights_only=False)
        self._written_at = time.monotonic()
        return True

    def _save_checkpoint(self, trainer: L.Trainer, filepath: str) -> None:
        # Lightning's own epoch-end saves come here too.
        if self._finite(trainer, filepath):
            super()._save_checkpoint(trainer, filepath)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        self._written_at = time.monotonic()
        self._catch_ctrl_c()

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        self._release_ctrl_c()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._interrupted and self.dirpath:
            self._release_ctrl_c()
            step = getattr(pl_module, "generator_steps", trainer.global_step)
            saved = self._write(trainer)
            where = (
                f"{self.path} holds it; resume with --ckpt_path {self.path}"
                if saved
                else f"the weights are not all finite, {self.path} was left as it was"
            )
            raise TrainingInterrupted(
                f"interrupted (Ctrl-C) after generator step {step}: {where}.", 128 + signal.SIGINT
            )
        due = time.monotonic() - self._written_at >= 60 * self.every_minutes
        if due and not trainer.sanity_checking and self.dirpath:
            self._write(trainer)

    def _catch_ctrl_c(self) -> None:
        # Python's own handler raises KeyboardInterrupt wherever the program is, in the middle of
        # a critic cycle too; ours lets the generator step under way finish first.
        if threading.current_thread() is not threading.main_thread() or not self.dirpath:
            return
        self._interrupted = False
        self._previous_sigint = signal.signal(signal.SIGINT, self._on_ctrl_c)

    def _release_ctrl_c(self) -> None:
        if self._previous_sigint is not None:
            signal.signal(signal.SIGINT, self._previous_sigint)
            self._previous_sigint = None

    def _on_ctrl_c(self, signum: int, frame: Any) -> None:
        if self._interrupted:  # the second Ctrl-C: stop at once, no file
            self._release_ctrl_c()
            raise KeyboardInterrupt
        self._interrupted = True
        print(
            f"\nCtrl-C: stopping after this generator step and writing {self.path} "
            "(Ctrl-C again stops at once without writing it).",
            file=sys.stderr,
            flush=True,
        )

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        self._written_at = time.monotonic()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception) -> None:
        self._release_ctrl_c()
        fitting = trainer.state.fn == TrainerFn.FITTING
        if not fitting or not self.dirpath:
            return
        if isinstance(exception, SIGTERMException):
            if self._write(trainer):
                self.saved_on_signal = self.path
        elif isinstance(exception, TrainingDivergedError) and self._write(trainer):
            saved = f" The last good state is in {self.path} (resume with --ckpt_path)."
            exception.args = (f"{exception}{saved}",)


def all_finite(module: L.LightningModule) -> bool:
    """Whether every parameter and floating buffer of ``module`` is finite (one host sync)."""
    tensors = [t for t in (*module.parameters(), *module.buffers()) if t.is_floating_point()]
    if not tensors:
        return True
    with torch.no_grad():
        return bool(torch.stack([t.isfinite().all() for t in tensors]).all())


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
    added: list[ModelCheckpoint] = [LastCheckpoint()]
    for cb in callbacks:
        measures_fid = isinstance(cb, ImageEvaluation) and "fid" in (cb.metric_names or ("fid",))
        if measures_fid:  # metric_names None: all the extractor gives, FID always among them
            suffix = "" if cb.feature_extractor == "inception" else f"_{cb.feature_extractor}"
            added.append(BestEvaluationCheckpoint(monitor=f"eval/fid{suffix}"))
            break
    return added
