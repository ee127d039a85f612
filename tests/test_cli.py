import json

import pytest
import torch

from lightning_wgen import WGANGP
from lightning_wgen.cli import main as wgen


def test_quickstart_config_runs_and_writes_its_report(tmp_path, capsys):
    wgen([
        "fit",
        "--config", "configs/quickstart.yaml",
        "--model.init_args.max_generator_steps=20",
        f"--trainer.logger.init_args.save_dir={tmp_path}",
        f"--trainer.default_root_dir={tmp_path}",
    ])  # fmt: skip
    run = tmp_path / "quickstart" / "version_0"
    record = json.loads((run / "toy_metrics.json").read_text())
    assert record["generator_steps"] == 20 and record["num_modes"] == 25
    assert {"modes", "high_quality", "w1_exact", "w1_critic"} <= record.keys()
    assert {"dot/modes", "dot/high_quality", "dot/w1_exact"} <= record.keys()  # refined by DOT
    assert (run / "toy_scatter.png").read_bytes()[:4] == b"\x89PNG"
    out = capsys.readouterr().out
    assert "w1_exact=" in out and "refined by dot: modes=" in out
    assert (run / "config.yaml").exists()

    # the checkpoint rebuilds the model from the saved config, and loads without pickle
    (ckpt,) = (run / "checkpoints").glob("*.ckpt")
    state = torch.load(ckpt, weights_only=True)
    assert state["wgen"]["generator_steps"] == 20
    assert (
        state["hyper_parameters"]["generator"]["class_path"] == "lightning_wgen.nets.MLPGenerator"
    )
    model = WGANGP.load_from_checkpoint(ckpt, weights_only=True)
    assert model.generator_steps == 20 and model.sample(3, seed=0).shape == (3, 2)


def test_short_class_names_work(tmp_path):
    wgen([
        "fit",
        "--config", "configs/quickstart.yaml",
        "--model=WGANGP",
        "--model.generator=MLPGenerator",
        "--model.critic=MLPCritic",
        "--model.max_generator_steps=2",
        "--trainer.callbacks=[]",
        f"--trainer.logger.init_args.save_dir={tmp_path}",
    ])  # fmt: skip


def test_bad_value_exits_with_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        wgen([
            "fit",
            "--config", "configs/quickstart.yaml",
            "--model.init_args.n_critic=0",
            f"--trainer.logger.init_args.save_dir={tmp_path}",
        ])  # fmt: skip
    assert (
        exit_info.value.code
        == "wgen: error: n_critic must be >= 1, got 0; use 5 as in WGAN/WGAN-GP."
    )
