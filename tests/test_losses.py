import math

import pytest
import torch
from torch import nn

from lightning_wgen.errors import ConfigError
from lightning_wgen.losses import (
    F_DIVERGENCES,
    cramer_critic,
    cramer_generator_loss,
    divergence_penalty,
    dragan_penalty,
    f_divergence,
    f_divergence_estimate,
    f_gan_critic_loss,
    f_gan_generator_loss,
    gradient_penalty,
    hinge_critic_loss,
    nonsaturating_critic_loss,
    nonsaturating_generator_loss,
    perturbed_interpolates,
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


# -- the classifier losses ---------------------------------------------------------------------


def test_hinge_and_nonsaturating_losses_exact_values():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.5])
    # relu(1 - 2) = 0, relu(1 - 0.5) = 0.5; relu(1 - 2) = 0, relu(1 + 0.5) = 1.5
    assert hinge_critic_loss(real, fake).item() == pytest.approx(0.25 + 0.75)
    # D = sigmoid(v): v = 0 is D = 1/2 on both sides; v = log 3 is D = 3/4
    zero = torch.zeros(3)
    assert nonsaturating_critic_loss(zero, zero).item() == pytest.approx(2 * math.log(2))
    log3 = torch.full((2,), math.log(3.0))
    assert nonsaturating_critic_loss(log3, -log3).item() == pytest.approx(-2 * math.log(0.75))
    assert nonsaturating_generator_loss(log3).item() == pytest.approx(-math.log(0.75))
    assert nonsaturating_generator_loss(-log3).item() == pytest.approx(-math.log(0.25))


# -- f-divergences ---------------------------------------------------------------------------------

# P = (1/2, 1/4, 1/4) and Q = (1/4, 1/4, 1/2) on three points, as batches whose empirical
# distributions are exactly P and Q; the likelihood ratios are p/q = 2, 1, 1/2.
P, Q = torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64), torch.tensor([0.25, 0.25, 0.5])
REAL_POINTS, FAKE_POINTS = torch.tensor([0, 0, 1, 2]), torch.tensor([0, 1, 2, 2])
Q = Q.double()
M = (P + Q) / 2

CLOSED_FORM = {  # D_f(P || Q) from its textbook definition
    "kl": (P * (P / Q).log()).sum(),
    "reverse_kl": (Q * (Q / P).log()).sum(),
    "pearson": ((P - Q).square() / Q).sum(),
    "squared_hellinger": (P.sqrt() - Q.sqrt()).square().sum(),
    "jensen_shannon": (P * (P / M).log() + Q * (Q / M).log()).sum(),  # 2 JSD, Nowozin Table 1
    "gan": (P * (P / M).log() + Q * (Q / M).log()).sum() - math.log(4),  # 2 JSD - log 4
}
F_PRIME = {  # f'(u): the optimal critic output is T*(x) = f'(p(x)/q(x))
    "kl": lambda u: 1 + u.log(),
    "reverse_kl": lambda u: -1 / u,
    "pearson": lambda u: 2 * (u - 1),
    "squared_hellinger": lambda u: 1 - u.rsqrt(),
    "jensen_shannon": lambda u: (2 * u / (1 + u)).log(),
    "gan": lambda u: (u / (1 + u)).log(),
}
INVERSE_ACTIVATION = {  # v with g_f(v) = T, solved by hand from Nowozin et al., Table 2
    "kl": lambda t: t,
    "reverse_kl": lambda t: -(-t).log(),
    "pearson": lambda t: t,
    "squared_hellinger": lambda t: -(1 - t).log(),
    "jensen_shannon": lambda t: -(2 * (-t).exp() - 1).log(),
    "gan": lambda t: -((-t).exp() - 1).log(),
}


@pytest.mark.parametrize("name", sorted(F_DIVERGENCES))
def test_f_divergence_variational_form_is_tight_at_the_optimal_critic(name):
    v_star = INVERSE_ACTIVATION[name](F_PRIME[name](P / Q))
    real_scores, fake_scores = v_star[REAL_POINTS], v_star[FAKE_POINTS]
    expected = CLOSED_FORM[name].item()
    assert f_divergence_estimate(real_scores, fake_scores, name).item() == pytest.approx(expected)
    assert f_gan_critic_loss(real_scores, fake_scores, name).item() == pytest.approx(-expected)
    # any other critic gives a strictly lower bound
    for shift in (-0.3, 0.3):
        worse = v_star + shift * torch.tensor([1.0, -1.0, 0.5], dtype=torch.float64)
        assert f_divergence_estimate(worse[REAL_POINTS], worse[FAKE_POINTS], name) < expected
    # the non-saturating generator loss is -E_fake g_f(v)
    fake_t = F_PRIME[name](P / Q)[FAKE_POINTS]
    assert f_gan_generator_loss(fake_scores, name).item() == pytest.approx(-fake_t.mean().item())


@pytest.mark.parametrize("name", sorted(F_DIVERGENCES))
def test_f_divergence_conjugate_is_the_fenchel_conjugate_of_f(name):
    div = F_DIVERGENCES[name]
    u = torch.linspace(1e-4, 60.0, 600_001, dtype=torch.float64)
    v = torch.tensor([-1.5, -0.4, 0.0, 0.3, 1.0], dtype=torch.float64)
    t = div.activation(v)
    # f*(t) = sup_u t u - f(u), here on a fine grid of u > 0 that contains the maximiser
    sup = (t[:, None] * u[None, :] - div.f(u)[None, :]).max(dim=1).values
    torch.testing.assert_close(div.conjugate(t), sup, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(div.conjugate_of_activation(v), div.conjugate(t))


def test_gan_divergence_is_the_nonsaturating_gan():
    real, fake = torch.randn(7), torch.randn(5)
    torch.testing.assert_close(
        f_gan_critic_loss(real, fake, "gan"), nonsaturating_critic_loss(real, fake)
    )
    torch.testing.assert_close(
        f_gan_generator_loss(fake, "gan"), nonsaturating_generator_loss(fake)
    )


def test_unknown_f_divergence_names_the_choices():
    with pytest.raises(ConfigError, match="unknown f-divergence 'chi2'; choose one of kl, "):
        f_divergence("chi2")


# -- WGAN-div and DRAGAN ---------------------------------------------------------------------------


def test_divergence_penalty_at_real_and_fake_points():
    # grad f(x) = x: the slopes are the norms of the real and the fake points themselves
    real = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    fake = torch.tensor([[0.0, 0.0], [3.0, 0.0]])
    expected = (1 + 2**6 + 0 + 3**6) / 4
    assert divergence_penalty(HalfSquaredNorm(), real, fake).item() == pytest.approx(expected)
    assert divergence_penalty(HalfSquaredNorm(), real, fake, power=2).item() == pytest.approx(
        (1 + 4 + 0 + 9) / 4
    )
    # a linear critic with ||w|| = 5 has slope 5 everywhere
    critic = linear_critic([3.0, 4.0])
    penalty = divergence_penalty(critic, real, fake)
    assert penalty.item() == pytest.approx(5.0**6)
    penalty.backward()  # d ||w||^6 / d w = 6 ||w||^4 w
    torch.testing.assert_close(critic.weight.grad, 6 * 5.0**4 * torch.tensor([[3.0, 4.0]]))


def test_perturbed_interpolates_stay_within_half_a_std_above_the_data():
    generator = torch.Generator().manual_seed(0)
    real = torch.randn(20_000, 3) * 2.0
    points = perturbed_interpolates(real, generator)
    step = (points - real) / (0.5 * real.std())  # alpha * u, alpha and u ~ U[0, 1)
    assert step.min() >= 0 and step.max() < 1
    assert step.mean().item() == pytest.approx(0.25, abs=0.01)  # E[alpha] E[u] = 1/4
    assert step.var().item() == pytest.approx(1 / 9 - 1 / 16, abs=0.01)  # Var(alpha u)
    # one alpha per sample couples its coordinates: corr(alpha u_1, alpha u_2) = (1/48) / (7/144)
    corr = torch.corrcoef(step[:, :2].T)[0, 1].item()
    assert corr == pytest.approx(3 / 7, abs=0.03)


def test_dragan_penalty_values():
    assert dragan_penalty(linear_critic([3.0, 4.0]), torch.randn(6, 2)).item() == pytest.approx(
        16.0
    )
    # constant data: std 0, no perturbation, and grad f(0) = 0 gives (0 - 1)^2
    assert dragan_penalty(HalfSquaredNorm(), torch.zeros(4, 3)).item() == pytest.approx(1.0)


# -- Cramér GAN ------------------------------------------------------------------------------------


def test_cramer_critic_and_generator_loss_hand_values():
    h = torch.tensor([[3.0, 4.0], [3.0, 4.0]])
    reference = torch.tensor([[0.0, 0.0], [3.0, 0.0]])
    # ||h - h'|| - ||h||: 5 - 5 and 4 - 5
    torch.testing.assert_close(cramer_critic(h, reference), torch.tensor([0.0, -1.0]))
    # ||0 - 3|| + ||0 - 1|| - ||3 - 1||
    loss = cramer_generator_loss(
        torch.tensor([[0.0]]), torch.tensor([[3.0]]), torch.tensor([[1.0]])
    )
    assert loss.item() == pytest.approx(2.0)


def test_cramer_generator_loss_estimates_the_energy_distance():
    # X ~ N(0, 1), Y ~ N(mu, 1): E|X - Y| = E|N(-mu, 2)| and E|Y - Y'| = 2 / sqrt(pi)
    torch.manual_seed(0)
    n, mu = 400_000, 1.5
    x, y, y2 = torch.randn(n, 1), torch.randn(n, 1) + mu, torch.randn(n, 1) + mu
    s = math.sqrt(2.0)
    normal_cdf = 0.5 * (1 + math.erf(-mu / s / math.sqrt(2)))
    mean_abs = s * math.sqrt(2 / math.pi) * math.exp(-(mu**2) / (2 * s * s)) + mu * (
        1 - 2 * normal_cdf
    )
    expected = 2 * mean_abs - 2 / math.sqrt(math.pi)
    assert cramer_generator_loss(x, y, y2).item() == pytest.approx(expected, abs=0.01)
