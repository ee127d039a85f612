"""Bad invocations of every ``wgen`` subcommand: each one ends in one ``wgen: error:`` line, a
non-zero exit, no traceback, and no file changed in the run folder or the data folder."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = str(ROOT / "configs" / "quickstart.yaml")
WGAN_TOY = str(ROOT / "configs" / "wgan" / "toy.yaml")
MANIFEST = json.loads((ROOT / "checkpoints" / "manifest.json").read_text())
GRID25 = ROOT / "checkpoints" / MANIFEST["models"]["wgan-gp-grid25"]["file"]


def flip_a_byte(source: Path, target: Path) -> Path:
    data = bytearray(source.read_bytes())
    data[-1000] ^= 0x40  # inside the last tensor's values
    target.write_bytes(bytes(data))
    return target


class TouchOnUnpickle:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    """A folder of files a user might pass: a real toy checkpoint and damaged or foreign ones."""
    run = tmp_path_factory.mktemp("run")
    setup = tmp_path_factory.mktemp("setup")
    subprocess.run(
        [sys.executable, "-m", "lightning_wgen.cli", "fit", "--config", QUICKSTART,
         f"--trainer.logger.init_args.save_dir={setup}", "--trainer.callbacks=[]",
         "--trainer.enable_progress_bar=false", "--model.init_args.max_generator_steps=2"],
        cwd=ROOT, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    toy = run / "toy.ckpt"
    shutil.copy(setup / "quickstart" / "version_0" / "checkpoints" / "last.ckpt", toy)
    (run / "text.ckpt").write_text("step,loss\n1,0.5\n")
    (run / "trunc.ckpt").write_bytes(toy.read_bytes()[: toy.stat().st_size // 2])
    (run / "empty.ckpt").write_bytes(b"")
    torch.save({"state_dict": {}, "payload": TouchOnUnpickle(run / "code_ran")}, run / "evil.ckpt")
    checkpoint = torch.load(toy, weights_only=True)
    checkpoint["state_dict"]["generator.net.0.weight"][0, 0] = float("nan")
    torch.save(checkpoint, run / "nan.ckpt")
    flip_a_byte(GRID25, run / "model.safetensors")
    (run / "bad_manifest.json").write_text('{"format": 1, "models": {')
    zoo = run / "zoo"
    zoo.mkdir()
    shutil.copy(ROOT / "checkpoints" / "manifest.json", zoo / "manifest.json")
    flip_a_byte(GRID25, zoo / GRID25.name)
    (run / "existing.ckpt").write_bytes(toy.read_bytes())
    (run / "a_folder").mkdir()
    return run


def cases(run: Path, data: Path) -> list[list[str]]:
    fit = ["fit", "--config", QUICKSTART, f"--trainer.logger.init_args.save_dir={run}/logs",
           "--trainer.callbacks=[]"]  # fmt: skip
    toy_cfg = ["--config", WGAN_TOY, f"--trainer.logger.init_args.save_dir={run}/logs"]
    model = "--model.init_args."
    return [
        # fit: values, classes, optimizer and trainer settings
        [*fit, f"{model}n_critic=0"],
        [*fit, f"{model}n_critic=five"],
        [*fit, "--model=WGANgp"],
        [*fit, f"{model}generator.class_path=lightning_wgen.nets.MLPGen"],
        [*fit, f"{model}critic_optimizer.init_args.lr=-1"],
        [*fit, f"{model}generator_optimizer.init_args.lr=-1"],
        [*fit, f"{model}generator_optimizer.init_args.betas=[2.0, 0.9]"],
        [*fit, f"{model}ema_decay=1.5"],
        [*fit, f"{model}gp_weight=-1"],
        [*fit, f"{model}max_generator_steps=0"],
        [*fit, f"{model}lr_decay=cosine"],
        [*fit, f"{model}nonfinite=ignore"],
        [*fit, f"{model}critic.init_args.data_dim=3"],
        [*fit, f"{model}generator.init_args.hidden_features=0"],
        [*fit, "--data.init_args.name=nosuch"],
        [*fit, "--data.init_args.batch_size=0"],
        [*fit, "--trainer.precision=17"],
        [*fit, "--trainer.accelerator=gpu"],
        [*fit, "--trainer.max_epochs=abc"],
        ["fit", "--config", str(run / "nosuch.yaml")],
        [*fit, "--data=MNISTDataModule", f"--data.data_dir={run}/no_data", "--data.download=false"],
        # fit: files
        [*fit, "--ckpt_path", str(run / "missing.ckpt")],
        [*fit, "--ckpt_path", str(run / "text.ckpt")],
        [*fit, "--ckpt_path", str(run / "trunc.ckpt")],
        [*fit, "--ckpt_path", str(run / "empty.ckpt")],
        [*fit, "--ckpt_path", str(run / "evil.ckpt")],
        [*fit, "--ckpt_path", str(run / "nan.ckpt")],
        ["fit", *toy_cfg, "--ckpt_path", str(run / "toy.ckpt")],
        [*fit, f"{model}critic.init_args.hidden_features=64", "--ckpt_path", str(run / "toy.ckpt")],
        [*fit, f"{model}init_from={run / 'model.safetensors'}"],
        [*fit, f"{model}init_from={run / 'missing.safetensors'}"],
        [*fit, f"{model}init_from={run / 'text.ckpt'}"],
        # validate and predict
        ["validate", "--config", QUICKSTART, "--ckpt_path", str(run / "text.ckpt")],
        ["validate", "--config", QUICKSTART, "--ckpt_path", str(run / "missing.ckpt")],
        ["validate", "--config", QUICKSTART, "--trainer.accelerator=cuda"],
        ["predict", "--config", QUICKSTART, "--ckpt_path", str(run / "evil.ckpt")],
        ["predict", "--config", QUICKSTART, "--ckpt_path", str(run / "trunc.ckpt")],
        ["predict", *toy_cfg, "--ckpt_path", str(run / "toy.ckpt")],
        # sample
        ["sample", "--model", "wgan-gp-mnst"],
        ["sample", "--model", str(run / "model.safetensors")],
        ["sample", "--model", str(run / "text.ckpt")],
        ["sample", "--model", str(run / "nan.ckpt")],
        ["sample", "--model", str(run / "toy.ckpt"), "--out", str(run / "a_folder")],
        ["sample", "--model", str(run / "toy.ckpt"), "--out", "/proc/no/such/x.png"],
        ["sample", "--model", str(run / "toy.ckpt"), "--out", "samples.jpg"],
        ["sample", "--model", str(run / "toy.ckpt"), "--device", "cuda"],
        ["sample", "--model", str(run / "toy.ckpt"), "--device", "banana"],
        ["sample", "--model", str(run / "toy.ckpt"), "--nrow", "-1"],
        ["sample", "--model", str(run / "toy.ckpt"), "--n", "0"],
        ["sample", "--model", str(run / "toy.ckpt"), "--n", "abc"],
        ["sample", "--model", str(run / "toy.ckpt"), "--interpolate", "--steps", "1"],
        ["sample", "--n", "4"],
        # zoo
        ["zoo", "info", "nosuch"],
        ["zoo", "download", "wgan-gp-mnst"],
        ["zoo", "--manifest", str(run / "bad_manifest.json"), "list"],
        ["zoo", "--manifest", str(run / "zoo" / "manifest.json"), "verify", "wgan-gp-grid25"],
        ["zoo", "publish", "--ckpt", str(run / "text.ckpt"), "--name", "wgan-gp-x"],
        ["zoo", "--manifest", str(run / "zoo" / "manifest.json"), "publish",
         "--ckpt", str(run / "toy.ckpt"), "--name", "Bad_Name", "--data_dir", str(data)],
        ["zoo", "verify", "wgan-gp-grid25", "--metrics", "--inception"],  # no Inception metrics
        ["zoo", "frobnicate"],
        # fit-ot
        ["fit-ot", "--ckpt", str(run / "missing.ckpt")],
        ["fit-ot", "--ckpt", str(run / "toy.ckpt")],
        ["fit-ot", "--ckpt", str(run / "text.ckpt")],
        ["fit-ot", "--ckpt", str(run / "toy.ckpt"), "--device", "cuda"],
        ["fit-ot", "--ckpt", str(run / "toy.ckpt"), "--out", str(run / "existing.ckpt")],
        ["fit-ot", "--ckpt", str(run / "toy.ckpt"), "--max_steps", "many"],
    ]  # fmt: skip


def test_every_bad_invocation_is_one_line_and_changes_no_file(run_folder, mnist_dir, tmp_path):
    all_cases = cases(run_folder, mnist_dir)
    assert len(all_cases) >= 40
    assert {c[0] for c in all_cases} == {"fit", "validate", "predict", "sample", "zoo", "fit-ot"}
    spec = {"cwd": str(run_folder), "watch": [str(run_folder), str(mnist_dir)], "cases": all_cases}
    (tmp_path / "cases.json").write_text(json.dumps(spec))
    subprocess.run(
        [sys.executable, str(ROOT / "tests" / "cli_runner.py"),
         str(tmp_path / "cases.json"), str(tmp_path / "results.json")],
        cwd=ROOT, check=True, timeout=900, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )  # fmt: skip
    failures = []
    for result in json.loads((tmp_path / "results.json").read_text()):
        lines = result["stderr"].strip().splitlines()
        ok = (
            result["code"] != 0
            and "Traceback" not in result["stderr"]
            and len(lines) == 1
            and lines[0].startswith("wgen: error: ")
            and not result["changed"]
        )
        if not ok:
            failures.append(result)
    summary = [f"{r['args'][:1] + r['args'][-2:]} -> {r['code']}: {r['stderr'][-400:]!r} "
               f"changed {r['changed'][:3]}" for r in failures]  # fmt: skip
    assert not failures, "\n".join(summary)
    assert not (run_folder / "code_ran").exists()
