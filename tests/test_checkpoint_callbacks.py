"""``last.ckpt`` follows a run: every epoch end, every few minutes, at the stop and on SIGTERM."""

import os
import signal
from pathlib import Path

import lightning as L
import pytest
import torch
from helpers import quiet_trainer
from lightning.pytorch.utilities.exceptions import SIGTERMException

from lightning_wgen.callbacks import LastCheckpoint
from lightning_wgen.cli import build_from_config

QUICKSTART = Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml"


def saved_step(ckpt: Path) -> int | None:
    if not ckpt.exists():
        return None
    return torch.load(ckpt, weights_only=True)["wgen"]["generator_steps"]


class WatchLastCkpt(L.Callback):
    """Reads ``last.ckpt`` at each epoch and batch start; sends this process SIGTERM after
    generator step ``sigterm_at``."""

    def __init__(self, ckpt: Path, sigterm_at: int | None = None) -> None:
        self.ckpt, self.sigterm_at = ckpt, sigterm_at
        self.at_epoch_start: list[tuple[int, int | None]] = []
        self.at_batch_start: list[tuple[int, int | None]] = []

    def on_train_epoch_start(self, trainer, pl_module):
        self.at_epoch_start.append((pl_module.generator_steps, saved_step(self.ckpt)))

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.at_batch_start.append((pl_module.generator_steps, saved_step(self.ckpt)))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if pl_module.generator_steps == self.sigterm_at:
            os.kill(os.getpid(), signal.SIGTERM)


def fit(root: Path, steps: int, last: LastCheckpoint, watch: WatchLastCkpt, **trainer_kwargs):
    model, data = build_from_config(QUICKSTART, f"--model.init_args.max_generator_steps={steps}")
    trainer = quiet_trainer(
        default_root_dir=root, enable_checkpointing=True, callbacks=[last, watch], **trainer_kwargs
    )
    trainer.fit(model, data)


def test_last_ckpt_is_rewritten_at_every_epoch_end_and_at_the_stop(tmp_path):
    # toy data never ends an epoch by itself; here 15 batches: 3 generator steps of 5 critic steps
    last = LastCheckpoint(dirpath=str(tmp_path))
    watch = WatchLastCkpt(tmp_path / "last.ckpt")
    fit(tmp_path, 8, last, watch, limit_train_batches=15)
    assert watch.at_epoch_start == [(0, None), (3, 3), (6, 6)]
    assert saved_step(tmp_path / "last.ckpt") == 8  # the stop, mid-epoch
    assert sorted(p.name for p in tmp_path.glob("*.ckpt")) == ["last.ckpt"]


def test_last_ckpt_is_rewritten_on_a_timer_when_epochs_are_endless(tmp_path):
    last = LastCheckpoint(dirpath=str(tmp_path), every_minutes=0)  # after every generator step
    watch = WatchLastCkpt(tmp_path / "last.ckpt")
    fit(tmp_path, 4, last, watch)
    assert watch.at_batch_start == [(0, None), (1, 1), (2, 2), (3, 3)]
    assert saved_step(tmp_path / "last.ckpt") == 4


def test_sigterm_writes_last_ckpt_at_that_step_and_the_run_resumes_from_it(tmp_path):
    last = LastCheckpoint(dirpath=str(tmp_path))
    watch = WatchLastCkpt(tmp_path / "last.ckpt", sigterm_at=5)
    with pytest.raises(SIGTERMException):
        fit(tmp_path, 20, last, watch)
    assert saved_step(tmp_path / "last.ckpt") == 5  # no epoch end came before

    model, data = build_from_config(QUICKSTART, "--model.init_args.max_generator_steps=7")
    watch = WatchLastCkpt(tmp_path / "last.ckpt")
    trainer = quiet_trainer(default_root_dir=tmp_path, callbacks=[watch])
    trainer.fit(model, data, ckpt_path=tmp_path / "last.ckpt", weights_only=True)
    assert [step for step, _ in watch.at_batch_start] == [5, 6]


def test_every_minutes_below_zero_is_refused_in_one_line():
    with pytest.raises(ValueError, match=r"every_minutes must be >= 0 .* got -1"):
        LastCheckpoint(every_minutes=-1)
