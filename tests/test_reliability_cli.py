"""What a new user broke: Ctrl-C, damaged zoo files by path, settings given on resume, a full
disk, files that are not checkpoints. Each through the real ``wgen`` command or the real loader."""

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from test_cli_commands import QUICKSTART, ROOT, saved_step, toy_fit, wgen
from test_cli_errors import GRID25, flip_a_byte

from lightning_wgen import checkpoint_io, sampling
from lightning_wgen.callbacks.logging import write_json, write_png
from lightning_wgen.checkpoint_io import atomic_write
from lightning_wgen.data.mnist import _unpack_whole
from lightning_wgen.errors import CheckpointWriteError, ChecksumError, ConfigError
from lightning_wgen.loading import init_weights, load_model
from lightning_wgen.zoo import load_pretrained
from lightning_wgen.zoo.manifest import Manifest


def last_line(result: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    return result.stderr.strip().splitlines()[-1]


def training_quickstart(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """A real ``wgen fit`` of the quickstart, returned once it has trained a few steps, and its
    run folder."""
    run = subprocess.Popen(
        [sys.executable, "-m", "lightning_wgen.cli", "fit", "--config", QUICKSTART,
         f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.callbacks=[]",
         "--trainer.log_every_n_steps=1"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    folder = tmp_path / "quickstart" / "version_0"
    deadline = time.monotonic() + 300
    while not (folder / "metrics.csv").exists() and time.monotonic() < deadline:
        time.sleep(0.2)  # CSVLogger writes metrics.csv once the first steps are logged
    return run, folder


def test_ctrl_c_leaves_last_ckpt_at_the_finished_step_and_the_run_resumes_there(tmp_path):
    run, folder = training_quickstart(tmp_path)
    time.sleep(1.0)
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=300)
    assert run.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr
    ckpt = folder / "checkpoints" / "last.ckpt"
    line = stderr.strip().splitlines()[-1]
    step = saved_step(ckpt)
    assert step >= 1
    assert line == (
        f"wgen: interrupted (Ctrl-C) after generator step {step}: {ckpt} holds it; resume with "
        f"--ckpt_path {ckpt}."
    )
    # the file resumes at that step: the next run logs from it on and stops 3 steps later
    toy_fit(tmp_path, f"--model.init_args.max_generator_steps={step + 3}", "--ckpt_path", str(ckpt))
    resumed = tmp_path / "quickstart" / "version_1" / "checkpoints" / "last.ckpt"
    assert saved_step(resumed) == step + 3


def test_sigterm_exits_143_naming_the_saved_file(tmp_path):
    run, folder = training_quickstart(tmp_path)
    run.send_signal(signal.SIGTERM)
    _, stderr = run.communicate(timeout=300)
    ckpt = folder / "checkpoints" / "last.ckpt"
    assert run.returncode == 143, stderr[-2000:]
    assert stderr.strip().splitlines()[-1] == (
        f"wgen: stopped by SIGTERM after generator step {saved_step(ckpt)}: {ckpt} holds it; "
        f"resume with --ckpt_path {ckpt}."
    )


def test_a_damaged_zoo_file_is_refused_by_every_road(tmp_path):
    named = flip_a_byte(GRID25, tmp_path / GRID25.name)  # its name carries the hash
    renamed = flip_a_byte(GRID25, tmp_path / "model.safetensors")  # its metadata names the entry
    intact = shutil.copy(GRID25, tmp_path / "copy.safetensors")
    for path in (named, renamed):
        with pytest.raises(ChecksumError, match="damaged"):
            load_model(path)
        model = load_pretrained("wgan-gp-grid25")
        with pytest.raises(ChecksumError, match="damaged"):
            init_weights(model, str(path))
        result = wgen("sample", "--model", str(path), "--out", str(tmp_path / "s.npy"), ok=False)
        assert result.returncode != 0 and "damaged" in last_line(result)
        assert not (tmp_path / "s.npy").exists()
    # an intact copy by any name loads, and samples as the zoo model does
    torch.testing.assert_close(load_model(intact).sample(8, seed=0), model.sample(8, seed=0))
    # weights that are not finite are refused whatever file they come in
    checkpoint = torch.load(_toy_ckpt(tmp_path), weights_only=True)
    checkpoint["state_dict"]["critic.net.0.bias"][0] = float("inf")
    torch.save(checkpoint, tmp_path / "inf.ckpt")
    with pytest.raises(ConfigError, match=r"not finite \(critic.net.0.bias\)"):
        load_model(tmp_path / "inf.ckpt")


def _toy_ckpt(tmp_path: Path) -> Path:
    toy_fit(tmp_path / "toy", "--model.init_args.max_generator_steps=2")
    return tmp_path / "toy" / "quickstart" / "version_0" / "checkpoints" / "last.ckpt"


def test_settings_given_on_resume_take_effect_and_are_named(tmp_path):
    # at a constant rate (the quickstart decays it to zero at its last step)
    constant = "--model.init_args.lr_decay=constant"
    toy_fit(tmp_path, constant, "--model.init_args.max_generator_steps=3")
    good = tmp_path / "quickstart" / "version_0" / "checkpoints" / "last.ckpt"
    # a lower learning rate given on resume replaces the one Lightning restores
    low = "--model.init_args.critic_optimizer.init_args.lr=1e-4"
    result = toy_fit(tmp_path, constant, low, "--model.init_args.max_generator_steps=5",
                     "--ckpt_path", str(good))  # fmt: skip
    said = [ln for ln in result.stderr.splitlines() if ln.startswith("wgen: resuming")]
    assert len(said) == 1
    assert said[0].endswith(
        "with the given settings where they differ from the checkpoint's: "
        "model.critic_optimizer.lr 0.001 -> 0.0001, model.max_generator_steps 3 -> 5."
    )
    resumed = torch.load(
        tmp_path / "quickstart" / "version_1" / "checkpoints" / "last.ckpt", weights_only=True
    )
    assert resumed["wgen"]["generator_steps"] == 5
    assert resumed["optimizer_states"][1]["param_groups"][0]["lr"] == 1e-4
    assert resumed["optimizer_states"][0]["param_groups"][0]["lr"] == 1e-3
    assert resumed["hyper_parameters"]["critic_optimizer"]["init_args"]["lr"] == 1e-4
    # a run that diverges; nonfinite=skip given on its resume is what the resumed run does
    high = "--model.init_args.critic_optimizer.init_args.lr=1e6"
    result = toy_fit(tmp_path, high, ok=False)
    assert "set --model.init_args.nonfinite=skip" in last_line(result)
    ckpt = tmp_path / "quickstart" / "version_2" / "checkpoints" / "last.ckpt"
    result = toy_fit(tmp_path, high, "--model.init_args.nonfinite=skip",
                     "--model.init_args.max_generator_steps=2",
                     "--ckpt_path", str(ckpt))  # fmt: skip
    assert "skipped (nonfinite='skip')" in result.stderr
    assert saved_step(tmp_path / "quickstart" / "version_3" / "checkpoints" / "last.ckpt") == 2
    # another family on the same checkpoint is refused, and nothing is written
    result = wgen("fit", "--config", "configs/wgan/toy.yaml",
                  f"--trainer.logger.init_args.save_dir={tmp_path / 'other'}",
                  "--ckpt_path", str(ckpt), ok=False)  # fmt: skip
    assert last_line(result) == (
        f"wgen: error: --ckpt_path {ckpt} was trained as WGANGP but the config builds WGAN; "
        "resume with the run's own config (config.yaml beside its checkpoints folder), or start "
        "a new run from its weights with --model.init_args.init_from."
    )
    assert not (tmp_path / "other").exists()


def test_the_configured_learning_rate_replaces_a_restored_one_under_a_schedule():
    from helpers import tiny_wgan_gp

    from lightning_wgen.callbacks.resume import take_configured_optimizer_settings

    model = tiny_wgan_gp(max_generator_steps=10, lr_decay="linear")
    optimizers, schedulers = model.configure_optimizers()
    for _ in range(5):  # halfway down the linear schedule, as restored from a checkpoint
        for scheduler in schedulers:
            scheduler.step()
    restored = [opt.param_groups[0]["lr"] for opt in optimizers]
    assert restored == pytest.approx([5e-5, 5e-5])
    model.optimizers = lambda: optimizers  # what Lightning hands a resumed module
    model.lr_schedulers = lambda: schedulers
    model.critic_optimizer = lambda params: torch.optim.Adam(params, lr=1e-5, betas=(0.0, 0.9))
    changed = take_configured_optimizer_settings(model)
    assert changed == ["optimizer 1 lr 0.0001 -> 1e-05"]
    assert optimizers[1].param_groups[0]["lr"] == pytest.approx(5e-6)  # same progress, new base
    assert optimizers[0].param_groups[0]["lr"] == pytest.approx(5e-5)
    schedulers[1].step()
    assert optimizers[1].param_groups[0]["lr"] == pytest.approx(4e-6)


def test_a_full_disk_is_one_line_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    target = tmp_path / "last.ckpt"
    atomic_write(target, b"old checkpoint")

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoint_io.os, "write", full)
    with pytest.raises(CheckpointWriteError) as caught:
        atomic_write(target, b"x" * 3_000_000)
    message = str(caught.value)
    assert message.startswith(f"could not write {target}: no space left on device (3.00 MB ")
    assert "the previous last.ckpt is intact" in message and "\n" not in message
    assert target.read_bytes() == b"old checkpoint"
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def _write_gz(archive: Path) -> None:
    import gzip

    archive.write_bytes(gzip.compress(b"idx bytes"))


WRITERS = {  # every kind of file the package writes, by the function that writes it
    "samples.png": lambda path: sampling.write(torch.zeros(4, 2), path, nrow=2),
    "samples.npy": lambda path: sampling.write(torch.zeros(4, 2), path, nrow=2),
    "samples.pt": lambda path: sampling.write(torch.zeros(4, 2), path, nrow=2),
    "toy_metrics.json": lambda path: write_json(path, {"modes": 25}),
    "step_000001.png": lambda path: write_png(path, np.zeros((4, 4, 3), dtype=np.uint8)),
    "manifest.json": lambda path: Manifest(path, {}).write(),
    "train-images-idx3-ubyte": lambda path: (
        _write_gz(path.with_suffix(".gz")),
        _unpack_whole(path.with_suffix(".gz"), path),
    ),
}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_every_file_writer_keeps_the_old_file_on_a_full_disk(name, tmp_path, monkeypatch):
    target = tmp_path / name
    target.write_bytes(b"old")

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoint_io.os, "write", full)
    with pytest.raises(CheckpointWriteError) as caught:
        WRITERS[name](target)
    message = str(caught.value)
    assert message.startswith(f"could not write {target}: no space left on device (")
    assert f"the previous {name} is intact. Free some space, or " in message
    assert "\n" not in message and target.read_bytes() == b"old"
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


def _unshare_works() -> bool:
    probe = subprocess.run(["unshare", "-r", "-m", "true"], capture_output=True)
    return probe.returncode == 0 if shutil.which("unshare") else False


def test_wgen_fit_on_a_small_full_file_system_says_so_in_one_line(tmp_path):
    if not _unshare_works():
        pytest.skip("no user namespaces here to mount a small tmpfs (the ENOSPC test above runs)")
    disk = tmp_path / "disk"
    disk.mkdir()
    # a 1.4 MB tmpfs: the run folder fits, the 3.2 MB quickstart checkpoint does not
    script = (
        f"mount -t tmpfs -o size=1400k tmpfs {disk} && exec {sys.executable} -m lightning_wgen.cli"
        f" fit --config {QUICKSTART} --trainer.logger.init_args.save_dir={disk}"
        " --trainer.callbacks=[] --model.init_args.max_generator_steps=2"
        " --trainer.enable_progress_bar=false"
    )
    result = subprocess.run(
        ["unshare", "-r", "-m", "sh", "-c", script],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    line = last_line(result)
    assert result.returncode == 1
    ckpt = disk / "quickstart" / "version_0" / "checkpoints" / "last.ckpt"
    assert line.startswith(f"wgen: error: could not write {ckpt}: no space left on device (3.2")
    assert line.endswith(
        "no last.ckpt existed. Free some space, or write the run elsewhere "
        "(--trainer.logger.init_args.save_dir) and resume from the previous file."
    )
