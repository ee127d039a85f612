import math

import pytest
import torch
from torch import nn

from lightning_wgen.errors import ConfigError
from lightning_wgen.losses import (
    gradient_penalty,
    wasserstein_critic_loss,
    wasserstein_estimate,
    wasserstein_generator_loss,
)


def linear_critic(weight: list[float]) -> nn.Linear:
    critic = nn.Linear(len(weight), 1, bias=True)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([weight]))
        critic.bias.fill_(0.7)
    return critic


def test_wasserstein_losses_exact_values():
    real = torch.tensor([1.0, 2.0, 3.0])
    fake = torch.tensor([-1.0, 0.5])
    assert wasserstein_estimate(real, fake).item() == pytest.approx(2.0 - (-0.25))
    assert wasserstein_critic_loss(real, fake).item() == pytest.approx(-0.25 - 2.0)
    assert wasserstein_generator_loss(fake).item() == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("weight", "two_sided", "one_sided"),
    [
        ([3.0, 4.0], 16.0, 16.0),  # slope 5: (5 - 1)^2 on both sides
        ([0.3, 0.4], 0.25, 0.0),  # slope 0.5: penalised only by the two-sided version
        ([1.0, 0.0], 0.0, 0.0),  # slope exactly 1
    ],
)
def test_gradient_penalty_linear_critic(weight, two_sided, one_sided):
    # A linear critic f(x) = w.x + b has grad f = w everywhere, so GP = (||w|| - 1)^2 exactly.
    critic = linear_critic(weight)
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx(two_sided, abs=1e-6)
    got = gradient_penalty(critic, real, fake, one_sided=True).item()
    assert got == pytest.approx(one_sided, abs=1e-6)


def test_gradient_penalty_target_and_graph_into_critic():
    # GP = (||w|| - t)^2 with t = 2 and ||w|| = 5; d GP / d w = 2 (||w|| - t) w / ||w||.
    critic = linear_critic([3.0, 4.0])
    penalty = gradient_penalty(critic, torch.randn(4, 2), torch.randn(4, 2), target=2.0)
    assert penalty.item() == pytest.approx(9.0)
    penalty.backward()
    expected = 2 * (5.0 - 2.0) * torch.tensor([[3.0, 4.0]]) / 5.0
    torch.testing.assert_close(critic.weight.grad, expected)


def test_gradient_penalty_norm_over_all_non_batch_dims():
    # Images (B, C, H, W) and a linear critic on the flattened pixels: the slope is ||W||_F.
    weight = torch.full((1, 2 * 3 * 3), 0.5)  # ||W|| = 0.5 * sqrt(18)
    critic = nn.Sequential(nn.Flatten(), nn.Linear(18, 1, bias=False))
    with torch.no_grad():
        critic[1].weight.copy_(weight)
    real, fake = torch.randn(5, 2, 3, 3), torch.randn(5, 2, 3, 3)
    expected = (0.5 * math.sqrt(18) - 1) ** 2
    assert gradient_penalty(critic, real, fake).item() == pytest.approx(expected, rel=1e-6)


class HalfSquaredNorm(nn.Module):
    """f(x) = ||x||^2 / 2, so grad f(x) = x: the penalty sees the interpolates themselves."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return 0.5 * x.pow(2).flatten(1).sum(1)


def test_gradient_penalty_at_known_interpolates():
    # real == fake pins the interpolates whatever alpha is: GP = mean (||x_i|| - 1)^2.
    x = torch.tensor([[3.0, 4.0], [0.0, 0.5], [1.0, 0.0]])
    expected_two = ((torch.tensor([5.0, 0.5, 1.0]) - 1) ** 2).mean().item()
    expected_one = ((torch.tensor([4.0, 0.0, 0.0])) ** 2).mean().item()
    assert gradient_penalty(HalfSquaredNorm(), x, x).item() == pytest.approx(expected_two)
    assert gradient_penalty(HalfSquaredNorm(), x, x, one_sided=True).item() == pytest.approx(
        expected_one
    )


def test_gradient_penalty_one_uniform_alpha_per_sample():
    critic = HalfSquaredNorm()
    torch.manual_seed(0)
    n = 2000
    real, fake = torch.ones(n, 3, 2, 2), torch.zeros(n, 3, 2, 2)
    gradient_penalty(critic, real, fake)
    x_hat = critic.seen[0]
    alpha = x_hat[:, 0, 0, 0]
    # alpha * 1 + (1 - alpha) * 0 = alpha: one value for every coordinate of a sample ...
    torch.testing.assert_close(x_hat, alpha.view(n, 1, 1, 1).expand_as(x_hat))
    # ... drawn from U[0, 1] (mean 1/2, variance 1/12), independently across samples.
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0
    assert alpha.mean().item() == pytest.approx(0.5, abs=0.03)
    assert alpha.var().item() == pytest.approx(1 / 12, abs=0.01)


def test_gradient_penalty_rejects_mismatched_batches():
    with pytest.raises(ConfigError, match="same shape"):
        gradient_penalty(linear_critic([1.0, 0.0]), torch.randn(4, 2), torch.randn(3, 2))
