"""What must survive a crash, a divergence or a file from elsewhere: atomic checkpoint writes, the
divergence guard, and loading that never unpickles code."""

import itertools
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import quiet_trainer, tiny_wgan_gp
from torch import nn
from torch.utils.data import IterableDataset

from lightning_wgen import WAEMMD, WGANGP
from lightning_wgen import random_state as rs
from lightning_wgen.callbacks import LastCheckpoint
from lightning_wgen.checkpoint_io import AtomicCheckpointIO, atomic_write
from lightning_wgen.cli import _cli
from lightning_wgen.data.resumable import ResumableLoader
from lightning_wgen.data.toy import sample_toy
from lightning_wgen.errors import ConfigError, TrainingDivergedError
from lightning_wgen.loading import init_weights, load_model

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "configs" / "quickstart.yaml"

# -- atomic checkpoint files ---------------------------------------------------------------------

# Run in a child process: train the quickstart model on from `last.ckpt`, with os.write replaced so
# that the process kills itself (SIGKILL: no handler, no clean-up) after writing half of the first
# chunk of its next checkpoint file.
RESUME_AND_DIE_MID_WRITE = """
import os, signal, sys
from lightning_wgen.callbacks import LastCheckpoint
from lightning_wgen.checkpoint_io import AtomicCheckpointIO
from lightning_wgen.cli import build_from_config
from helpers import quiet_trainer

real_write = os.write
def write_half_then_die(fd, data):
    real_write(fd, bytes(data[: len(data) // 2]))
    os.kill(os.getpid(), signal.SIGKILL)

model, data = build_from_config(sys.argv[1], "--model.init_args.max_generator_steps=4")
root = sys.argv[2]
trainer = quiet_trainer(default_root_dir=root, enable_checkpointing=True,
                        callbacks=[LastCheckpoint(dirpath=root, every_minutes=0)],
                        plugins=[AtomicCheckpointIO()])
os.write = write_half_then_die
trainer.fit(model, data, ckpt_path=f"{root}/last.ckpt", weights_only=True)
"""


def fit_quickstart(root: Path, steps: int, ckpt_path=None):
    from lightning_wgen.cli import build_from_config

    model, data = build_from_config(QUICKSTART, f"--model.init_args.max_generator_steps={steps}")
    trainer = quiet_trainer(
        default_root_dir=root,
        enable_checkpointing=True,
        callbacks=[LastCheckpoint(dirpath=str(root), every_minutes=0)],
        plugins=[AtomicCheckpointIO()],
    )
    trainer.fit(model, data, ckpt_path=ckpt_path, weights_only=True)
    return model


def test_a_kill_during_a_checkpoint_write_leaves_the_previous_checkpoint_to_resume_from(tmp_path):
    fit_quickstart(tmp_path, 2)
    last = tmp_path / "last.ckpt"
    before = last.read_bytes()
    assert torch.load(last, weights_only=True)["wgen"]["generator_steps"] == 2

    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
    child = subprocess.run(
        [sys.executable, "-c", RESUME_AND_DIE_MID_WRITE, str(QUICKSTART), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    (torn,) = tmp_path.glob(".last.ckpt.*.tmp")  # the write that was cut short
    assert 0 < torn.stat().st_size < len(before) // 2 + (1 << 24)
    assert last.read_bytes() == before  # untouched

    model = fit_quickstart(tmp_path, 4, ckpt_path=last)  # and the run resumes from it
    assert model.generator_steps == 4
    assert torch.load(last, weights_only=True)["wgen"]["generator_steps"] == 4
    assert not list(tmp_path.glob(".last.ckpt.*.tmp"))  # the next write cleared the torn file


def test_atomic_write_replaces_the_whole_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "model.ckpt"
    atomic_write(target, b"old")
    atomic_write(target, b"new content")
    assert target.read_bytes() == b"new content"
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.ckpt"]


def test_a_write_leaves_another_live_writers_temporary_file_alone(tmp_path):
    # Two runs unpacking the same MNIST archive at once: the first to finish removed the
    # second's half-written file, and the second failed in os.replace.
    target = tmp_path / "train-images-idx3-ubyte"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        in_progress = tmp_path / f".{target.name}.{other.pid}.abcd.tmp"
        in_progress.write_bytes(b"half")
        atomic_write(target, b"whole")
        assert in_progress.exists()  # the other writer is alive: its file stays
    finally:
        other.kill()
        other.wait()
    atomic_write(target, b"whole again")
    assert not in_progress.exists()  # its writer is gone: the next write clears it
    assert target.read_bytes() == b"whole again"


def test_wgen_trainers_write_checkpoints_atomically():
    cli = _cli(["--config", str(QUICKSTART), "--trainer.logger=false"], run=False)
    assert isinstance(cli.trainer.strategy.checkpoint_io, AtomicCheckpointIO)


def test_random_states_survive_a_weights_only_checkpoint(tmp_path):
    import random

    import numpy as np

    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    torch.save({"random": rs.capture()}, tmp_path / "states.pt")
    expected = (torch.rand(3), np.random.rand(3), [random.random() for _ in range(3)])
    torch.manual_seed(9), np.random.seed(9), random.seed(9)
    rs.restore(torch.load(tmp_path / "states.pt", weights_only=True)["random"])
    got = (torch.rand(3), np.random.rand(3), [random.random() for _ in range(3)])
    assert torch.equal(got[0], expected[0])
    assert np.array_equal(got[1], expected[1]) and got[2] == expected[2]


# -- divergence guard ----------------------------------------------------------------------------


class NaNInBatch(IterableDataset):
    """grid25 batches of 16 in a fixed order; batch ``bad`` (0-based) has a NaN coordinate."""

    def __init__(self, bad: int) -> None:
        self.bad = bad

    def __iter__(self):
        rng = torch.Generator().manual_seed(0)
        for i in itertools.count():
            x = sample_toy("grid25", 16, rng)
            if i == self.bad:
                x[3, 0] = float("nan")
            yield x


def nan_run(tmp_path, model, ckpt_path=None):
    trainer = quiet_trainer(
        default_root_dir=tmp_path,
        enable_checkpointing=True,
        callbacks=[LastCheckpoint(dirpath=str(tmp_path), every_minutes=60)],
    )
    loader = ResumableLoader(NaNInBatch(bad=7), batch_size=None)
    trainer.fit(model, train_dataloaders=loader, ckpt_path=ckpt_path, weights_only=True)


def test_a_nan_in_a_batch_stops_training_naming_step_and_term_after_saving_the_last_good_state(
    tmp_path,
):
    torch.manual_seed(0)
    model = tiny_wgan_gp(n_critic=5, max_generator_steps=4)
    with pytest.raises(TrainingDivergedError) as info:
        nan_run(tmp_path, model)
    last = tmp_path / "last.ckpt"
    # batches 0-4 are generator step 0's critic updates; batch 7 is the 3rd of step 1's. (The
    # penalty stays finite: no gradient flows back through a ReLU whose input is NaN.)
    assert str(info.value) == (
        "WGANGP diverged at generator step 1 (critic update 3 of 5): critic/w_estimate = nan, "
        "critic/loss = nan; the weights are those before this update. "
        "Lower the learning rate (the critic's is 0.0001: "
        "--model.init_args.critic_optimizer.init_args.lr), or set --model.init_args.nonfinite=skip "
        "to skip such updates; either takes effect on a resume. "
        f"The last good state is in {last} (resume with --ckpt_path)."
    )
    saved = torch.load(last, weights_only=True)
    assert (saved["wgen"]["generator_steps"], saved["wgen"]["critic_steps_in_cycle"]) == (1, 2)
    live = model.state_dict()
    assert all(torch.equal(saved["state_dict"][k], live[k]) for k in live)
    assert all(v.isfinite().all() for v in live.values() if v.is_floating_point())

    resumed = tiny_wgan_gp(n_critic=5, max_generator_steps=4)
    nan_run(tmp_path, resumed, ckpt_path=last)  # goes on after the bad batch, to the end
    assert resumed.generator_steps == 4


def test_nonfinite_skip_leaves_the_weights_alone_and_counts_the_skipped_update(tmp_path):
    torch.manual_seed(0)
    model = tiny_wgan_gp(n_critic=5, max_generator_steps=4, nonfinite="skip")
    with pytest.warns(UserWarning, match=r"generator step 1 \(critic update 3 of 5\).*skipped"):
        nan_run(tmp_path, model)
    assert model.generator_steps == 4 and model.skipped_updates == 1
    assert all(p.isfinite().all() for p in model.parameters())


class Flat(nn.Module):
    """2D points to codes and back: the smallest autoencoder pair."""

    latent_dim = 2

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(2, 2)

    def forward(self, x):
        return self.net(x)


def test_the_guard_covers_the_autoencoder_families(tmp_path):
    model = WAEMMD(Flat(), Flat(), max_generator_steps=10)
    with pytest.raises(TrainingDivergedError, match=r"^WAEMMD diverged at generator step 7 "
                       r"\(autoencoder update\): ae/loss = nan, ae/reconstruction = nan, "
                       r"ae/penalty = nan; "):  # fmt: skip
        nan_run(tmp_path, model)


def test_last_checkpoint_never_replaces_a_file_with_non_finite_weights(tmp_path):
    model = tiny_wgan_gp(max_generator_steps=2)
    trainer = quiet_trainer(
        default_root_dir=tmp_path,
        enable_checkpointing=True,
        callbacks=[LastCheckpoint(dirpath=str(tmp_path), every_minutes=0)],
    )
    trainer.fit(model, train_dataloaders=ResumableLoader(NaNInBatch(bad=-1), batch_size=None))
    before = (tmp_path / "last.ckpt").read_bytes()
    with torch.no_grad():
        next(model.generator.parameters()).fill_(float("inf"))
    with pytest.warns(UserWarning, match="not all finite"):
        trainer.checkpoint_callback._write(trainer)
    assert (tmp_path / "last.ckpt").read_bytes() == before


# -- untrusted files -----------------------------------------------------------------------------


class TouchOnUnpickle:
    """Creates ``marker`` when unpickled: what a hostile checkpoint would do with any code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture
def hostile(tmp_path):
    marker = tmp_path / "code_ran"
    ckpt = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": TouchOnUnpickle(marker)}, ckpt)
    yield ckpt
    assert not marker.exists(), "loading the file ran its code"


def test_load_model_refuses_a_checkpoint_that_would_run_code(hostile):
    with pytest.raises(ConfigError, match="not unpickled because that could run code"):
        load_model(hostile)


def test_init_from_refuses_a_checkpoint_that_would_run_code(hostile):
    with pytest.raises(ConfigError, match="not unpickled because that could run code"):
        init_weights(tiny_wgan_gp(), str(hostile))


def test_load_from_checkpoint_refuses_a_checkpoint_that_would_run_code(hostile):
    # Lightning's own loader, on torch's weights_only default
    with pytest.raises(pickle.UnpicklingError):
        WGANGP.load_from_checkpoint(hostile)


def test_a_hostile_file_named_safetensors_is_refused(tmp_path):
    marker = tmp_path / "code_ran"
    fake = tmp_path / "model.safetensors"
    fake.write_bytes(pickle.dumps(TouchOnUnpickle(marker)))
    with pytest.raises(ConfigError):
        load_model(fake)
    with pytest.raises(ConfigError, match="is not a safetensors file"):
        init_weights(tiny_wgan_gp(), str(fake))
    assert not marker.exists()
