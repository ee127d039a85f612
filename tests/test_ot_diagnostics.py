"""OT diagnostics: POT against closed forms, and a trained critic's estimate against W1."""

import math

import pytest
import torch

from lightning_wgen.losses import gradient_penalty, wasserstein_critic_loss, wasserstein_estimate
from lightning_wgen.metrics import exact_w1, ot_diagnostics, sliced_w1
from lightning_wgen.nets import MLPCritic

# N(0, I) against N(0, 4 I) in 2D. f(x) = ||x|| is 1-Lipschitz and x -> 2x a coupling, so
# W1 = E||2Z|| - E||Z|| = E||Z|| = sqrt(pi / 2); every 1D projection is N(0, 1) against N(0, 4),
# whose W1 is E|Z| = sqrt(2 / pi), and so is the sliced W1.
W1 = math.sqrt(math.pi / 2)
SW1 = math.sqrt(2 / math.pi)


def gaussians(n, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, generator=g), 2 * torch.randn(n, 2, generator=g)


def test_pot_matches_closed_forms():
    x, y = gaussians(2000, 0)
    assert exact_w1(x, x + torch.tensor([3.0, 4.0])) == pytest.approx(5.0, abs=1e-9)
    assert exact_w1(x, y) == pytest.approx(W1, rel=0.06)  # finite samples lie a little above
    assert sliced_w1(x, y, n_projections=500) == pytest.approx(SW1, rel=0.06)
    images = torch.zeros(3, 1, 2, 2)
    assert exact_w1(images, images + 0.5) == pytest.approx(1.0)  # ||0.5 * ones(4)|| per image


def test_trained_critic_approaches_w1_from_below():
    torch.manual_seed(0)
    critic = MLPCritic(hidden_features=64, num_hidden_layers=2)
    optimizer = torch.optim.Adam(critic.parameters(), lr=1e-3, betas=(0.5, 0.9))
    held_out_real, held_out_fake = gaussians(20_000, 1)
    probe_real, probe_fake = gaussians(2000, 2)
    rescaled = []
    for step in range(1, 1501):
        real, fake = 1 * torch.randn(256, 2), 2 * torch.randn(256, 2)
        loss = wasserstein_critic_loss(critic(real), critic(fake))
        loss = loss + 10.0 * gradient_penalty(critic, real, fake)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step in (50, 200, 1500):
            values, _ = ot_diagnostics(critic, probe_real, probe_fake)
            with torch.no_grad():
                estimate = wasserstein_estimate(critic(held_out_real), critic(held_out_fake))
            rescaled.append(float(estimate) / values["slope_max"])
    # The critic rescaled to slope 1 bounds W1 from below and closes in on it.
    assert all(r <= W1 + 0.01 for r in rescaled), rescaled
    assert rescaled[0] < rescaled[-1] and rescaled[-1] > 0.95 * W1, rescaled
    # The penalised critic itself settles at the slope 1 + W1 / (2 lambda), and overshoots W1.
    assert values["slope_p50"] == pytest.approx(1 + W1 / 20, abs=0.01)
    assert float(estimate) > W1
    assert values["w1_exact"] == pytest.approx(exact_w1(probe_real, probe_fake))
    assert values["sw1"] == pytest.approx(SW1, rel=0.06)
