"""Evaluation callbacks in real Trainer runs: FID on schedule, OT diagnostics, pictures, files."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import quiet_trainer
from lightning.pytorch.loggers import CSVLogger, WandbLogger
from PIL import Image

from lightning_wgen import WGANGP
from lightning_wgen.callbacks import ImageEvaluation, OTDiagnostics, SampleGrid, TrainingCurves
from lightning_wgen.callbacks.periodic import EveryNGeneratorSteps
from lightning_wgen.callbacks.samples import sample_grid
from lightning_wgen.cli import build_from_config
from lightning_wgen.data import MNISTDataModule
from lightning_wgen.errors import ConfigError
from lightning_wgen.metrics import ImageQuality, evaluate_images, load_domain_extractor
from lightning_wgen.nets import DCGANCritic, DCGANGenerator

QUICKSTART = Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml"


def tiny_mnist_model(**kwargs) -> WGANGP:
    torch.manual_seed(0)
    return WGANGP(
        DCGANGenerator(latent_dim=16, base_channels=8),
        DCGANCritic(base_channels=8),
        n_critic=1,
        **kwargs,
    )


def mnist(mnist_dir, **kwargs) -> MNISTDataModule:
    return MNISTDataModule(str(mnist_dir), batch_size=16, num_workers=0, download=False, **kwargs)


def test_evaluation_diagnostics_and_pictures_in_a_run(mnist_dir, tmp_path):
    model = tiny_mnist_model(ema_decay=0.5, max_generator_steps=4)
    evaluation = ImageEvaluation(
        "mnist", num_samples=500, every_n_generator_steps=2, cache_dir=str(tmp_path / "cache")
    )
    ot_diagnostics = OTDiagnostics(every_n_generator_steps=2, batch_size=64)
    grid, curves = SampleGrid(num_samples=16, every_n_generator_steps=2), TrainingCurves()
    trainer = quiet_trainer(
        logger=CSVLogger(tmp_path, name="run", version=0),
        callbacks=[evaluation, ot_diagnostics, grid, curves],
        enable_checkpointing=True,
        default_root_dir=tmp_path,
    )
    trainer.fit(model, mnist(mnist_dir))
    run = tmp_path / "run" / "version_0"

    # FID/KID/IS at generator steps 2 and 4, in the CSV log and in image_metrics.json
    assert [h["generator_steps"] for h in evaluation.history] == [2, 4]
    rows = [line.split(",") for line in (run / "metrics.csv").read_text().splitlines()]
    header = rows[0]
    logged = {
        int(row[header.index("step")]): float(row[header.index("eval/fid_mnist")])
        for row in rows[1:]
        if row[header.index("eval/fid_mnist")]
    }
    assert logged == pytest.approx(
        {h["generator_steps"]: h["fid_mnist"] for h in evaluation.history}
    )
    record = json.loads((run / "image_metrics.json").read_text())
    assert record["history"] == evaluation.history and record["feature_extractor"] == "mnist"
    assert {"kid_mnist", "kid_mnist_std", "is_mnist", "is_mnist_std"} <= set(record["history"][0])

    # the last value is reproducible and comes from the EMA generator
    quality = ImageQuality(load_domain_extractor("mnist"))
    quality.set_real_features(evaluation.quality.metrics["kid"].real_features[0])
    again = evaluate_images(model, quality, num_samples=500)
    assert {"generator_steps": 4, **again} == pytest.approx(evaluation.history[-1], rel=1e-6)
    ema, model.generator_ema = model.generator_ema, None
    assert evaluate_images(model, quality, num_samples=500)["fid_mnist"] != again["fid_mnist"]
    model.generator_ema = ema

    # OT diagnostics next to the critic's estimate
    for key in ("ot/w1_critic", "ot/w1_exact", "ot/sw1", "ot/slope_max", "ot/w1_critic_rescaled"):
        assert key in header
    assert [h["generator_steps"] for h in ot_diagnostics.history] == [2, 4]
    assert all(h["w1_exact"] > h["sw1"] > 0 for h in ot_diagnostics.history)

    # the fixed-noise grid as exact PNG pixels, the curves at the end
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "step_000002.png",
        "step_000004.png",
    ]
    expected_grid = sample_grid(model.sample(16, seed=1234).cpu(), nrow=4)
    written = np.asarray(Image.open(run / "samples" / "step_000004.png"))
    assert written.shape == (122, 122, 3) and np.array_equal(written, expected_grid)
    assert (run / "training_curves.png").stat().st_size > 10_000
    assert len(curves.history["critic/loss"]) == 4 and len(curves.history["eval/fid_mnist"]) == 2

    # the metric and its extractor stay out of the checkpoint
    (ckpt,) = (run / "checkpoints").glob("*.ckpt")
    state = torch.load(ckpt, weights_only=True)
    assert all(
        k.split(".")[0] in ("generator", "critic", "generator_ema") for k in state["state_dict"]
    )
    saved = [v for k, v in state["callbacks"].items() if k.startswith("ImageEvaluation")]
    assert saved == [{"history": evaluation.history}]


def test_evaluation_at_the_end_of_validation(mnist_dir, tmp_path):
    model = tiny_mnist_model(max_generator_steps=6)
    evaluation = ImageEvaluation(
        "mnist", metrics=["fid"], num_samples=200, cache_dir=str(tmp_path), fidelity=True
    )
    trainer = quiet_trainer(
        callbacks=[evaluation],
        limit_train_batches=3,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        default_root_dir=tmp_path,
    )
    trainer.fit(model, mnist(mnist_dir, val_split=16))
    # three generator steps per epoch; validation after each epoch, one evaluation each
    assert [h["generator_steps"] for h in evaluation.history] == [3, 6]
    fidelity = ("precision_mnist", "recall_mnist", "density_mnist", "coverage_mnist")
    assert all(h[name] >= 0 for h in evaluation.history for name in fidelity)
    assert "val/w_estimate" in trainer.callback_metrics


def test_wandb_offline_receives_grid_histogram_and_metrics(mnist_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    model = tiny_mnist_model(max_generator_steps=2)
    logger = WandbLogger(project="wgen-test", save_dir=str(tmp_path), offline=True)
    trainer = quiet_trainer(
        default_root_dir=tmp_path,
        logger=logger,
        callbacks=[SampleGrid(num_samples=4, every_n_generator_steps=2),
                   OTDiagnostics(every_n_generator_steps=2, batch_size=32), TrainingCurves()],
    )  # fmt: skip
    trainer.fit(model, mnist(mnist_dir))
    run_dir = next((tmp_path / "wandb").glob("offline-run-*"))
    logger.experiment.finish()
    images = sorted(p.name for p in (run_dir / "files" / "media" / "images").iterdir())
    assert any(n.startswith("samples_") for n in images)
    assert any(n.startswith("training_curves_") for n in images)
    assert not (tmp_path / "samples").exists()  # no PNG fallback when a logger takes images


def test_callbacks_refuse_what_they_cannot_measure(tmp_path):
    with pytest.raises(ConfigError, match="non-empty subset"):
        ImageEvaluation("mnist", metrics=["fid", "psnr"])
    with pytest.raises(ConfigError, match="at least 2 images"):
        ImageEvaluation("mnist", num_samples=1)
    with pytest.raises(ConfigError, match="unknown feature extractor 'cifar'"):
        ImageEvaluation("cifar").setup(None, None, "fit")


class Recorder(EveryNGeneratorSteps):
    def __init__(self, every_n_generator_steps, at_end=True):
        super().__init__(every_n_generator_steps)
        self.at_end, self.steps = at_end, []

    def act(self, trainer, pl_module):
        self.steps.append(pl_module.generator_steps)


class NotReady(WGANGP):
    can_sample = False


def test_periodic_callbacks_act_every_n_steps_once_each_and_at_the_end(tmp_path):
    model, data = build_from_config(
        QUICKSTART,
        "--model.init_args.max_generator_steps=5",
        "--model.init_args.generator.init_args.hidden_features=8",
        "--model.init_args.critic.init_args.hidden_features=8",
    )
    every_2, only_during, never = Recorder(2), Recorder(2, at_end=False), Recorder(None)
    trainer = quiet_trainer(default_root_dir=tmp_path, callbacks=[every_2, only_during, never])
    trainer.fit(model, data)
    assert (every_2.steps, only_during.steps, never.steps) == ([2, 4, 5], [2, 4], [5])
    assert not every_2.act_once(trainer, model) and every_2.steps == [2, 4, 5]  # once a step
    waiting = Recorder(1)
    unready = NotReady(model.generator, model.critic, max_generator_steps=2)
    quiet_trainer(default_root_dir=tmp_path, callbacks=[waiting]).fit(unready, data)
    assert waiting.steps == []  # nothing while the module cannot sample
    with pytest.raises(ConfigError, match="Recorder: every_n_generator_steps must be >= 1"):
        Recorder(0)


def test_image_evaluation_measures_refined_samples_beside_the_raw(mnist_dir, tmp_path):
    model = tiny_mnist_model(max_generator_steps=3)
    evaluation = ImageEvaluation(
        "mnist", metrics=["fid"], num_samples=100, cache_dir=str(tmp_path), refine=["dot", "drs"]
    )
    trainer = quiet_trainer(callbacks=[evaluation], default_root_dir=tmp_path)
    trainer.fit(model, mnist(mnist_dir))
    (last,) = evaluation.history
    assert {"fid_mnist", "dot/fid_mnist", "drs/fid_mnist"} <= last.keys()
    # the refined images are the raw ones moved or filtered: different features, other FIDs
    assert last["dot/fid_mnist"] != last["fid_mnist"] != last["drs/fid_mnist"]
    with pytest.raises(ConfigError, match="ImageEvaluation refine: 'sharpen' is not one of"):
        ImageEvaluation("mnist", refine=["sharpen"])
