"""Critic-guided sampling (lightning_wgen.refine): DOT, DRS and MH-GAN on hand-built critics whose
answers are known, and through ``model.sample(refine=...)`` on a real WGAN-GP module."""

import json
import math

import pytest
import torch
from torch import nn

from lightning_wgen.errors import ConfigError
from lightning_wgen.models import WGANGP
from lightning_wgen.refine import (
    calibrate,
    dot_in_data,
    dot_in_latent,
    drs_acceptance,
    lipschitz_estimate,
    mh_step,
)

CENTRE = torch.tensor([1.0, -2.0])


def quadratic_well(x):
    """D(x) = -|x - m|^2 / 2: highest at m."""
    return -0.5 * (x - CENTRE).square().sum(dim=1)


def test_dot_in_data_moves_each_sample_to_the_argmin_of_its_cost():
    # argmin_x |x - y| + |x - m|^2 / (2K) lies on the segment from y to m: a sample farther
    # than K from m stops at distance K from m; a nearer one does not move.
    k = 0.5
    torch.manual_seed(0)
    directions = torch.nn.functional.normalize(torch.randn(64, 2), dim=1)
    far = CENTRE + directions * torch.linspace(1.0, 2.5, 64)[:, None]
    near = CENTRE + directions * 0.2
    moved = dot_in_data(quadratic_well, torch.cat([far, near]), k, steps=600)
    expected = torch.cat([CENTRE + directions * k, near])
    assert (moved - expected).norm(dim=1).max() < 0.03
    assert (moved[:64] - far).norm(dim=1).min() > 0.4  # the far ones did travel


def test_dot_in_data_clips_to_the_data_range():
    moved = dot_in_data(quadratic_well, torch.zeros(8, 2), 0.01, steps=300, clip=(-0.5, 0.5))
    assert torch.allclose(moved, torch.tensor([0.5, -0.5]).expand(8, 2))


def test_dot_in_latent_follows_the_critic_within_the_prior():
    identity = nn.Identity()

    def slope(x):
        return x[:, 0]  # D(x) = x_1: the pull (1 / k = 2) beats the distance's (1)

    z_y = torch.tensor([[0.2, 0.3], [-0.5, 0.9]])
    uniform = dot_in_latent(slope, identity, z_y, 0.5, steps=250, prior="uniform")
    assert torch.allclose(uniform, torch.tensor([[1.0, 0.3], [1.0, 0.9]]), atol=1e-6)
    # a Gaussian draw moves on its sphere: the radial part of every step is removed
    z_y = torch.randn(256, 16, generator=torch.Generator().manual_seed(1))
    normal = dot_in_latent(slope, identity, z_y, 0.5, steps=10, prior="normal")
    assert (normal.norm(dim=1) / z_y.norm(dim=1) - 1).abs().max() < 1e-3
    assert (normal[:, 0] - z_y[:, 0]).min() > 0
    with pytest.raises(ConfigError, match="prior must be 'normal' or 'uniform', got 'cauchy'"):
        dot_in_latent(slope, identity, z_y, 0.5, prior="cauchy")


def test_lipschitz_estimate_of_a_linear_critic_is_its_slope():
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(1000, 1, generator=g), torch.randn(1000, 1, generator=g)
    estimate = lipschitz_estimate(3 * a[:, 0], 3 * b[:, 0], a, b, repeats=10)
    assert estimate == pytest.approx(3.0, rel=1e-5)
    # in 2D the max over 100 random pairs finds a pair nearly along the slope's direction
    w = torch.tensor([3.0, -4.0])
    a, b = torch.randn(1000, 2, generator=g), torch.randn(1000, 2, generator=g)
    estimate = lipschitz_estimate(a @ w, b @ w, a, b, repeats=10)
    assert 0.98 * 5.0 < estimate <= 5.0 + 1e-5


def test_calibration_recovers_the_log_density_ratio():
    # real scores N(1, 1) and generated N(-1, 1): log p_real / p_fake = 2 s exactly
    g = torch.Generator().manual_seed(3)
    real = torch.randn(20000, generator=g) + 1
    fake = torch.randn(20000, generator=g) - 1
    slope, intercept = calibrate(real, fake)
    assert slope == pytest.approx(2.0, abs=0.06)
    assert intercept == pytest.approx(0.0, abs=0.03)


def test_drs_acceptance_by_hand():
    eps = 1e-6
    p = drs_acceptance(torch.tensor([0.0, -10.0]), 0.0, gamma_percentile=None, eps=eps)
    f = [-math.log(1 - math.exp(-eps)), -10 - math.log(1 - math.exp(-10 - eps))]
    assert torch.allclose(p, torch.sigmoid(torch.tensor(f, dtype=torch.float64)), rtol=1e-9)
    assert p[0] > 1 - 1e-5 and p[1] < 5e-5
    # a constant critic: every sample has the same chance, and without the shift it is ~1
    constant = torch.zeros(1000)
    assert drs_acceptance(constant, 0.0, gamma_percentile=None).min() > 1 - 1e-5
    assert torch.allclose(drs_acceptance(constant, 0.0), torch.full((1000,), 0.5).double())


def test_mh_step_by_hand():
    logit = torch.zeros(4)
    proposal = torch.tensor([1.0, -math.log(2), -math.log(2), -50.0])
    uniform = torch.tensor([0.999, 0.49, 0.51, 0.5])
    assert mh_step(logit, proposal, uniform).tolist() == [True, True, False, False]


class Identity2D(nn.Module):
    """G(z) = 3 z_{1:2} for z in R^16: samples N(0, 9 I) in the plane."""

    latent_dim = 16

    def forward(self, z):
        return 3 * z[:, :2]


class Constant(nn.Module):
    def __init__(self):
        super().__init__()
        self.unused = nn.Linear(1, 1)

    def forward(self, x):
        return torch.zeros(len(x), 1)


class Cone(nn.Module):
    """D(x) = -|x - m|: 1-Lipschitz, highest at m."""

    def __init__(self):
        super().__init__()
        self.unused = nn.Linear(1, 1)

    def forward(self, x):
        return -(x - CENTRE).norm(dim=1, keepdim=True)


def real_near_centre(n=2000):
    return CENTRE + 0.3 * torch.randn(n, 2, generator=torch.Generator().manual_seed(4))


@pytest.mark.parametrize("method", ["drs", "mh"])
def test_rejection_keeps_everything_alike_for_a_constant_critic(method):
    model = WGANGP(Identity2D(), Constant())
    raw = model.sample(4000, seed=0)
    refined = model.sample(4000, seed=0, refine=method, real=real_near_centre())
    assert refined.shape == (4000, 2)
    # the same distribution as the generator's (N(0, 9 I)): no sample is favoured
    assert refined.mean(dim=0).abs().max() < 0.2
    assert refined.std(dim=0).sub(raw.std(dim=0)).abs().max() < 0.2


@pytest.mark.parametrize("method", ["drs", "mh"])
def test_rejection_drops_samples_far_from_where_the_critic_is_high(method):
    model = WGANGP(Identity2D(), Cone())
    raw = model.sample(2000, seed=1)
    refined = model.sample(2000, seed=1, refine=method, real=real_near_centre())
    assert refined.shape == raw.shape
    before, after = (raw - CENTRE).norm(dim=1), (refined - CENTRE).norm(dim=1)
    assert after.mean() < 0.6 * before.mean()
    assert (after > 4).float().mean() < 0.3 * (before > 4).float().mean()


@pytest.mark.parametrize("method", ["dot", "dot_latent"])
def test_transport_raises_every_samples_critic_value(method):
    # at DOT's optimum D(x) - K |x - y| >= D(y): no sample's score goes down
    model = WGANGP(Identity2D(), Cone())
    raw = model.sample(2000, seed=1)
    refined = model.sample(2000, seed=1, refine=method)
    gain = model.critic(refined).flatten() - model.critic(raw).flatten()
    assert gain.min() > -0.02
    assert gain.mean() > 0.1
    # a smaller K_eff weighs the critic more against the distance travelled: samples go further
    further = model.sample(2000, seed=1, refine=method, k_eff_scale=0.6)
    assert (model.critic(further).flatten() - model.critic(raw).flatten()).mean() > gain.mean()


def test_toy_evaluation_measures_and_draws_refined_samples_beside_the_raw(tmp_path, capsys):
    from helpers import quiet_trainer, tiny_wgan_gp
    from PIL import Image

    from lightning_wgen.callbacks import ToyEvaluation
    from lightning_wgen.data import ToyDataModule

    evaluation = ToyEvaluation(num_samples=500, refine={"dot": {"k_eff_scale": 0.6}, "drs": {}})
    trainer = quiet_trainer(default_root_dir=tmp_path, callbacks=[evaluation])
    trainer.fit(tiny_wgan_gp(max_generator_steps=5), ToyDataModule("grid25", batch_size=64))
    record = json.loads((tmp_path / "toy_metrics.json").read_text())
    assert {"modes", "w1_exact", "dot/modes", "dot/w1_exact", "drs/high_quality"} <= set(record)
    out = capsys.readouterr().out
    assert "refined by dot: modes=" in out and "refined by drs: modes=" in out
    width, height = Image.open(tmp_path / "toy_scatter.png").size
    assert width > 2.5 * height  # three panels: raw, dot, drs
    with pytest.raises(ConfigError, match="ToyEvaluation refine: 'sharpen' is not one of"):
        ToyEvaluation(refine=["sharpen"])


def test_an_option_the_method_does_not_take_is_one_line():
    model = WGANGP(Identity2D(), Constant())
    with pytest.raises(ConfigError, match="refine='mh' has no option 'steps'; it takes none"):
        model.sample(10, refine="mh", real=real_near_centre(), steps=5)
    with pytest.raises(ConfigError, match="refine='dot' has no option 'prior'; it takes betas"):
        model.sample(10, refine="dot", prior="uniform")


def test_a_model_without_a_critic_refuses_to_refine_in_one_line():
    from lightning_wgen.zoo import load_pretrained

    vae = load_pretrained("vae-mnist")
    with pytest.raises(ConfigError, match="refine='dot' needs a critic, and VAE has none"):
        vae.sample(4, refine="dot")
