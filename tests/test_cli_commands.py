"""The real ``wgen`` command in a subprocess: fit, resume, sample, fine-tune, W&B, help, errors."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from helpers import wandb_history_keys
from PIL import Image

from lightning_wgen.data import ToyDataModule
from lightning_wgen.loading import load_model
from lightning_wgen.zoo import load_pretrained

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = "configs/quickstart.yaml"
FAMILIES = [
    "WGAN", "WGANGP", "WGANDiv", "WGANSN", "SNGAN", "GAN", "DRAGAN", "FGAN", "LSGAN", "BEGAN",
    "WGANQC", "CramerGAN", "ALI",
    "VAE", "AAE", "WAEMMD", "WAEGAN", "AVB", "AEOT",
]  # fmt: skip
DATAMODULES = [
    "MNISTDataModule", "FashionMNISTDataModule", "CIFAR10DataModule", "CelebADataModule",
    "ImageFolderDataModule", "ToyDataModule",
]  # fmt: skip


def wgen(*args: str, ok: bool = True, **env: str) -> subprocess.CompletedProcess:
    stray = ROOT / "config.yaml"  # where a run without logger or default_root_dir saves its config
    existed = stray.exists()
    result = subprocess.run(
        [sys.executable, "-m", "lightning_wgen.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "WANDB_SILENT": "true", **env},
        timeout=600,
    )
    if ok:
        assert result.returncode == 0, result.stderr[-3000:]
    assert existed or not stray.exists(), f"wgen {args[0]} wrote {stray} into the repository"
    return result


def saved_step(ckpt: Path) -> int:
    return torch.load(ckpt, weights_only=True)["wgen"]["generator_steps"]


def toy_fit(tmp_path: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    return wgen(
        "fit", "--config", QUICKSTART,
        f"--trainer.logger.init_args.save_dir={tmp_path}",
        "--trainer.callbacks=[]",
        "--trainer.log_every_n_steps=1",
        *args, ok=ok,
    )  # fmt: skip


def test_fit_writes_last_ckpt_and_resume_continues_at_its_step(tmp_path):
    # Lightning's max_steps counts every optimizer step: 60 = 10 generator steps of 5 + 1
    toy_fit(tmp_path, "--model.init_args.max_generator_steps=20", "--trainer.max_steps=60")
    first = tmp_path / "quickstart" / "version_0"
    assert sorted(p.name for p in (first / "checkpoints").iterdir()) == ["last.ckpt"]
    assert saved_step(first / "checkpoints" / "last.ckpt") == 10

    # the given settings win on resume (lightning_wgen.resume): the same ones again
    resumed = toy_fit(tmp_path, "--model.init_args.max_generator_steps=20",
                      "--ckpt_path", str(first / "checkpoints" / "last.ckpt"))  # fmt: skip
    assert "resuming from" not in resumed.stderr  # nothing differs, nothing to say
    second = tmp_path / "quickstart" / "version_1"
    assert saved_step(second / "checkpoints" / "last.ckpt") == 20
    with open(second / "metrics.csv") as f:
        steps = [int(row["step"]) for row in csv.DictReader(f)]
    assert min(steps) == 10 and max(steps) == 19  # logged at steps 10..19, none from 0

    tested = wgen("test", "--config", QUICKSTART, "--trainer.logger=false",
                  f"--trainer.default_root_dir={tmp_path}",
                  "--ckpt_path", str(second / "checkpoints" / "last.ckpt"))  # fmt: skip
    assert "test/w_estimate" in tested.stdout  # on 2,500 held-out points

    # predict: the critic's scores of the same held-out points, saved in one file
    wgen("predict", "--config", QUICKSTART, "--trainer.logger=false",
         f"--trainer.default_root_dir={tmp_path}",
         "--ckpt_path", str(second / "checkpoints" / "last.ckpt"))  # fmt: skip
    scores = torch.load(tmp_path / "predictions.pt", weights_only=True)
    model = load_model(second / "checkpoints" / "last.ckpt")
    points = torch.cat(list(ToyDataModule("grid25", batch_size=256).predict_dataloader()))
    assert scores.shape == (2500,)
    torch.testing.assert_close(scores, model.critic_scores(points).detach())

    # critic-guided sampling from the run: DRS calibrated on held-out points of its data set
    wgen("sample", "--model", str(second / "checkpoints" / "last.ckpt"), "--n", "50",
         "--refine", "drs", "--real", "500", "--out", str(tmp_path / "drs.npy"))  # fmt: skip
    real = ToyDataModule("grid25").sample(500, seed=7)
    expected = model.sample(50, seed=0, refine="drs", real=real)
    np.testing.assert_allclose(np.load(tmp_path / "drs.npy"), expected.numpy(), atol=1e-6)


def test_fit_on_mnist_then_sample_from_its_checkpoint(mnist_dir, tmp_path):
    wgen(
        "fit", "--config", "configs/zoo/wgan_gp_mnist.yaml",
        f"--data.init_args.data_dir={mnist_dir}",
        "--data.init_args.batch_size=8",
        "--model.init_args.max_generator_steps=3",
        f"--trainer.logger.init_args.save_dir={tmp_path}",
    )  # fmt: skip
    ckpt = tmp_path / "zoo_wgan_gp_mnist" / "version_0" / "checkpoints" / "last.ckpt"
    assert saved_step(ckpt) == 3
    validated = wgen(
        "validate", "--config", "configs/zoo/wgan_gp_mnist.yaml", "--trainer.logger=false",
        f"--trainer.default_root_dir={tmp_path}",
        f"--data.init_args.data_dir={mnist_dir}", "--data.init_args.val_split=64",
        "--ckpt_path", str(ckpt),
    )  # fmt: skip
    assert "val/w_estimate" in validated.stdout
    wgen("sample", "--model", str(ckpt), "--n", "16", "--out", str(tmp_path / "grid.png"))
    # 4 x 4 images of 28 pixels with 2-pixel padding around each
    assert Image.open(tmp_path / "grid.png").size == (4 * 30 + 2, 4 * 30 + 2)


def test_sample_from_a_zoo_name_matches_load_pretrained(tmp_path):
    wgen("sample", "--model", "wgan-gp-mnist", "--n", "9", "--seed", "3",
         "--out", str(tmp_path / "grid.png"))  # fmt: skip
    assert Image.open(tmp_path / "grid.png").size == (3 * 30 + 2, 3 * 30 + 2)
    wgen("sample", "--model", "wgan-gp-mnist", "--n", "9", "--seed", "3",
         "--out", str(tmp_path / "s.npy"))  # fmt: skip
    expected = load_pretrained("wgan-gp-mnist").sample(9, seed=3)
    np.testing.assert_allclose(np.load(tmp_path / "s.npy"), expected.numpy(), atol=1e-6)

    # a zoo GAN ships its critic: --refine moves the samples as load_pretrained's model does
    wgen("sample", "--model", "wgan-gp-grid25", "--refine", "dot", "--n", "500",
         "--out", str(tmp_path / "r.npy"))  # fmt: skip
    expected = load_pretrained("wgan-gp-grid25", critic=True).sample(500, seed=0, refine="dot")
    np.testing.assert_allclose(np.load(tmp_path / "r.npy"), expected.numpy(), atol=1e-5)

    # a model with no critic at all is refused before its data are read
    refused = wgen("sample", "--model", "vae-mnist", "--refine", "drs",
                   "--out", str(tmp_path / "r.npy"), ok=False)  # fmt: skip
    assert refused.stderr.strip().splitlines()[-1] == (
        "wgen: error: refine='drs' needs a critic, and VAE has none: refine samples of an "
        "adversarial family (WGAN, WGAN-GP, ...)."
    )

    wgen("sample", "--model", "zoo:ae-ot-mnist", "--n", "2", "--interpolate", "--steps", "5",
         "--out", str(tmp_path / "walk.pt"))  # fmt: skip
    walks = torch.load(tmp_path / "walk.pt", weights_only=True).reshape(2, 5, 1, 28, 28)
    assert not torch.allclose(walks[:, 0], walks[:, -1])  # each walk goes somewhere
    step = (walks[:, 1:] - walks[:, :-1]).abs().mean()
    assert step < (walks[:, -1] - walks[:, 0]).abs().mean()  # in steps smaller than the whole


def test_init_from_a_zoo_model_fine_tunes_and_a_mismatch_is_one_line(tmp_path):
    result = toy_fit(
        tmp_path,
        "--model.init_args.init_from=zoo:wgan-gp-grid25",
        "--model.init_args.max_generator_steps=2",
        # Adam's first steps move every weight by about the learning rate: fine-tune gently
        # (two steps at the recipe's 1e-3 lose about half of the modes)
        "--model.init_args.generator_optimizer.init_args.lr=1e-5",
        "--trainer.callbacks=[lightning_wgen.callbacks.ToyEvaluation]",
    )
    # the zoo file holds the critic too: nothing is left as initialised
    assert "init_from zoo:wgan-gp-grid25: weights loaded\n" in result.stderr
    out = result.stdout
    # two steps from scratch cover a few of the 25 modes; from the zoo model, nearly all
    modes = int(out.split("modes=")[1].split(",")[0])
    assert modes >= 20, out[-500:]

    bad = toy_fit(
        tmp_path,
        "--model.init_args.init_from=zoo:wgan-gp-grid25",
        "--model.init_args.generator.init_args.hidden_features=64",
        "--model.init_args.max_generator_steps=2",
        ok=False,
    )
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    (line,) = [ln for ln in bad.stderr.splitlines() if ln.startswith("wgen: error")]
    assert "init_from zoo:wgan-gp-grid25: generator." in line and "has shape" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--model.init_args.n_critic=0"], "n_critic must be >= 1, got 0"),
        (["--model=NoSuchFamily"], "model: no class 'NoSuchFamily'; known: AAE, AEOT"),
        (
            ["--model.init_args.generator.class_path=lightning_wgen.nets.NoSuchNet"],
            "model.generator: lightning_wgen.nets has no class 'NoSuchNet'",
        ),
        (["--model.init_args.n_critic=five"], "model.n_critic: expected int, got 'five'"),
        (
            ["--data=MNISTDataModule", "--data.data_dir=/nonexistent", "--data.download=false"],
            "/nonexistent/MNIST/raw",
        ),
    ],
)
def test_invalid_config_exits_with_one_line(args, expected, tmp_path):
    result = toy_fit(tmp_path, *args, ok=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "usage:" not in result.stderr
    (line,) = [ln for ln in result.stderr.splitlines() if ln.startswith("wgen: error")]
    assert expected in line
    assert result.stderr.rstrip().endswith(line)


class TouchOnUnpickle:
    """Pickles as a call of ``Path.touch(path)``: unpickling it runs that code."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_a_checkpoint_that_would_run_code_is_refused_in_one_line(tmp_path):
    marker, evil = tmp_path / "code_ran", tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": TouchOnUnpickle(marker)}, evil)
    for subcommand in ("fit", "validate"):
        result = wgen(subcommand, "--config", QUICKSTART, "--trainer.logger=false",
                      f"--trainer.default_root_dir={tmp_path}",
                      "--ckpt_path", str(evil), ok=False)  # fmt: skip
        assert result.returncode != 0 and "Traceback" not in result.stderr
        assert result.stderr.rstrip().endswith(
            f"wgen: error: --ckpt_path {evil} holds Python objects other than tensors and plain "
            "values (getattr), which are not unpickled because that could run code "
            "(torch.load(weights_only=True)); pass a checkpoint of `wgen fit`."
        )
        assert not marker.exists()
    torch.load(evil, weights_only=False)  # what Lightning's default would have done
    assert marker.exists()


def test_help_lists_every_family_and_data_set():
    for args in (["--help"], ["fit", "--help"]):
        text = " ".join(wgen(*args).stdout.split())  # help text wraps names across lines
        missing = [name for name in FAMILIES + DATAMODULES if name not in text]
        assert not missing, f"wgen {' '.join(args)} does not list {missing}"


def test_wandb_offline_run_holds_metrics_images_and_config(tmp_path):
    wgen(
        "fit", "--config", "configs/wgan_gp/toy.yaml", "--config", "configs/logger/wandb.yaml",
        "--model.init_args.max_generator_steps=5",
        f"--trainer.logger.init_args.save_dir={tmp_path}",
        "--trainer.log_every_n_steps=1",
        WANDB_MODE="offline",
        WANDB_DIR=str(tmp_path),
    )  # fmt: skip
    (run,) = (tmp_path / "wandb").glob("offline-run-*")
    keys = wandb_history_keys(next(run.glob("run-*.wandb")))
    assert {"critic/loss", "critic/w_estimate", "toy/modes", "toy/w1_exact"} <= keys
    assert list((run / "files" / "media" / "images").rglob("*scatter*.png"))
    config = yaml.safe_load((run / "files" / "wgen_config.yaml").read_text())
    assert config["model"]["class_path"] == "lightning_wgen.models.WGANGP"
    assert config["model"]["init_args"]["max_generator_steps"] == 5


def test_fit_keeps_the_best_checkpoint_by_fid_and_shows_fid_in_the_bar(mnist_dir, tmp_path):
    evaluation = tmp_path / "evaluation.yaml"
    evaluation.write_text(
        "trainer:\n"
        "  callbacks:\n"
        "    - class_path: lightning_wgen.callbacks.ImageEvaluation\n"  # default metrics: all
        "      init_args: {feature_extractor: mnist, num_samples: 200,\n"
        "                  every_n_generator_steps: 2}\n"
    )
    result = wgen(
        "fit", "--config", "configs/zoo/wgan_gp_mnist.yaml", "--config", str(evaluation),
        f"--data.init_args.data_dir={mnist_dir}",
        "--data.init_args.batch_size=8",
        "--model.init_args.max_generator_steps=6",
        f"--trainer.logger.init_args.save_dir={tmp_path}",
    )  # fmt: skip
    run = tmp_path / "zoo_wgan_gp_mnist" / "version_0"
    history = json.loads((run / "image_metrics.json").read_text())["history"]
    assert [h["generator_steps"] for h in history] == [2, 4, 6]
    best = min(history, key=lambda h: h["fid_mnist"])
    assert saved_step(run / "checkpoints" / "best-fid_mnist.ckpt") == best["generator_steps"]
    assert saved_step(run / "checkpoints" / "last.ckpt") == 6
    assert f"fid_mnist={history[-1]['fid_mnist']:.3g}" in result.stdout  # the progress bar


def test_predict_gives_an_autoencoders_codes_and_reconstructions(mnist_dir, tmp_path):
    configs = [
        "--config", "configs/vae/mnist.yaml", "--config", "configs/zoo/autoencoder_mnist.yaml",
        f"--data.init_args.data_dir={mnist_dir}",
    ]  # fmt: skip
    wgen(
        "fit", *configs, "--model.init_args.max_generator_steps=2", "--trainer.callbacks=[]",
        "--data.init_args.batch_size=8", f"--trainer.logger.init_args.save_dir={tmp_path}",
    )  # fmt: skip
    (ckpt,) = tmp_path.glob("*/version_0/checkpoints/last.ckpt")
    wgen("predict", *configs, "--ckpt_path", str(ckpt), "--trainer.logger=false",
         f"--trainer.default_root_dir={tmp_path}")  # fmt: skip
    out = torch.load(tmp_path / "predictions.pt", weights_only=True)
    assert out["codes"].shape == (10_000, 8)  # every test image
    assert out["reconstructions"].shape == (10_000, 1, 28, 28)
    model = load_model(ckpt)
    torch.testing.assert_close(out["reconstructions"][:4], model.decoder(out["codes"][:4]).detach())
