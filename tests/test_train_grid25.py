"""Every adversarial family learns the 25-Gaussian grid from its toy config (VEEGAN/PacGAN modes).

Each run is the family's ``configs/<family>/toy.yaml`` at its full budget of 2,000 generator steps:
seed 0 of the three-seed table in docs/toy_benchmark.md. The configs decay both learning rates
linearly to zero; at a constant rate the last-step mode count swings with the game (Cramér GAN,
DRAGAN and WGAN-LP ended at 17, 19 and 17 modes with this suite's two threads and at 24, 24 and 25
with one), and a run cut short would be read before it settles, so none is cut.
"""

from pathlib import Path

import pytest
import torch
from helpers import quiet_trainer

from lightning_wgen.callbacks import evaluate_toy
from lightning_wgen.cli import build_from_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

# name: (config, overrides, generator steps)
GRID_RUNS = {
    "wgan_gp": ("wgan_gp", [], 2000),
    "wgan_lp": ("wgan_gp", ["--model.init_args.one_sided=true"], 2000),
    "wgan_div": ("wgan_div", [], 2000),
    "wgan_sn": ("wgan_sn", [], 2000),
    "sngan": ("sngan", [], 2000),
    "cramer_gan": ("cramer_gan", [], 2000),
}

# Families documented to cover fewer modes on this data set (docs/toy_benchmark.md, "Below 20
# modes"): (config, overrides, generator steps, least modes, largest exact W1). The thresholds
# still fail a run whose loss pushed the generator the wrong way (untrained: 1 mode, W1 3.8).
FEWER_MODES = {
    # Gulrajani et al. 2017 (Sec. 3.1, Fig. 1): a weight-clipped critic on this very data set
    # learns an overly simple function.
    "wgan": ("wgan", [], 2000, 12, 2.0),
    # Mode dropping of the JS game: PacGAN (Lin et al. 2018), Table 1, GAN 17.3 of 25 modes.
    # FGAN's default divergence, jensen_shannon, gives the same gradients as GAN.
    "gan": ("gan", [], 2000, 15, 2.0),
    "fgan": ("fgan", [], 2000, 15, 2.0),
    # DRAGAN plays the same game with a penalty near the data: seeds 0-6 ended at 25, 24, 21,
    # 25, 25, 15 and 25 modes (W1 0.39-0.98, benchmarks/toy_grid.py), so a machine that rounds
    # differently may land on a 15-mode run.
    "dragan": ("dragan", [], 2000, 12, 1.5),
}


def train_on_grid(config: str, overrides: list[str], steps: int, root: Path):
    model, data = build_from_config(
        CONFIGS / config / "toy.yaml", *overrides, f"--model.init_args.max_generator_steps={steps}"
    )
    before, _, _ = evaluate_toy(model, data)
    quiet_trainer(default_root_dir=root).fit(model, data)
    after, _, _ = evaluate_toy(model, data)
    print(f"{config} {overrides}: before {before}\nafter {after}")
    assert before["modes"] < 12 and before["w1_exact"] > 1.5  # the untrained generator fails
    assert model.generator_steps == steps
    return model, after


@pytest.mark.parametrize("run", sorted(GRID_RUNS))
def test_family_learns_grid25(run, tmp_path):
    _, after = train_on_grid(*GRID_RUNS[run], tmp_path)
    assert after["modes"] >= 20
    assert after["w1_exact"] < 0.8


@pytest.mark.parametrize("run", sorted(FEWER_MODES))
def test_family_with_fewer_modes_still_learns_grid25(run, tmp_path):
    config, overrides, steps, least_modes, largest_w1 = FEWER_MODES[run]
    model, after = train_on_grid(config, overrides, steps, tmp_path)
    assert after["modes"] >= least_modes
    assert after["w1_exact"] < largest_w1
    if run == "wgan":
        weights = torch.cat([p.detach().flatten() for p in model.critic.parameters()])
        assert weights.abs().max().item() <= model.clip_value
