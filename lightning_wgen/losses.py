"""Losses and penalties as pure functions of critic scores and networks.

Conventions: a critic maps a batch ``(B, ...)`` to scores ``(B,)`` or ``(B, 1)``; every loss is a
scalar to be *minimised* by the player it belongs to.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from lightning_wgen.errors import ConfigError


def wasserstein_estimate(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """The critic's estimate of W1: ``E f(x_real) - E f(x_fake)``.

    Kantorovich-Rubinstein duality (Arjovsky et al. 2017, "Wasserstein GAN", Eq. 2): for a
    1-Lipschitz ``f`` this lower-bounds W1(P_r, P_g), with equality at the optimal critic.
    """
    return real_scores.mean() - fake_scores.mean()


def wasserstein_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Critic loss ``E f(x_fake) - E f(x_real)``, the negated W1 estimate.

    Arjovsky et al. 2017, Algorithm 1 (the critic ascends E f(x) - E f(g(z))); the first two terms
    of Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", Eq. 3.
    """
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator_loss(fake_scores: Tensor) -> Tensor:
    """Generator loss ``-E f(g(z))`` (Arjovsky et al. 2017, Algorithm 1, line 11)."""
    return -fake_scores.mean()


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    *,
    one_sided: bool = False,
    target: float = 1.0,
) -> Tensor:
    """Gradient penalty of WGAN-GP, without its weight lambda.

    Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", Eq. 3 and Algorithm 1::

        x_hat = alpha * x_real + (1 - alpha) * x_fake,   alpha ~ U[0, 1], one per sample
        GP    = E_{x_hat} (||grad_x f(x_hat)||_2 - target)^2

    With ``one_sided=True`` the penalty is ``E max(0, ||grad f(x_hat)|| - target)^2`` (WGAN-LP,
    Petzka et al. 2018, "On the regularization of Wasserstein GANs", Eq. 8), which penalises only
    slopes above the Lipschitz bound.

    The norm runs over all non-batch dimensions. The gradient graph is kept (``create_graph=True``)
    so that the penalty can be back-propagated into the critic's parameters. Both inputs are
    detached: the penalty trains the critic only.
    """
    if real.shape != fake.shape:
        raise ConfigError(
            f"gradient_penalty: real and fake batches must have the same shape, got "
            f"{tuple(real.shape)} and {tuple(fake.shape)}; pass equally sized batches."
        )
    interpolates = random_interpolates(real, fake)
    excess = critic_slopes(critic, interpolates, create_graph=True) - target
    if one_sided:
        excess = excess.clamp(min=0.0)
    return excess.square().mean()


def random_interpolates(
    real: Tensor, fake: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """``alpha * real + (1 - alpha) * fake`` with one ``alpha ~ U[0, 1]`` per sample, detached.

    The sampling distribution of the WGAN-GP penalty (Gulrajani et al. 2017, Algorithm 1, l. 6-8).
    ``generator`` (a CPU ``torch.Generator``) makes the draw reproducible.
    """
    alpha_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    if generator is None:
        alpha = torch.rand(alpha_shape, device=real.device, dtype=real.dtype)
    else:
        alpha = torch.rand(alpha_shape, generator=generator).to(real.device, real.dtype)
    return torch.lerp(fake.detach(), real.detach(), alpha)


def critic_slopes(
    critic: Callable[[Tensor], Tensor], points: Tensor, *, create_graph: bool = False
) -> Tensor:
    """Per-sample input-gradient norms ``||grad_x f(x)||_2`` ``(B,)`` of ``critic`` at ``points``.

    The norm runs over all non-batch dimensions. With ``create_graph`` the result can be
    back-propagated into the critic's parameters (for a penalty); without, it is a diagnostic.
    """
    points = points.detach().requires_grad_(True)
    with torch.enable_grad():
        scores = critic(points)
        (grad,) = torch.autograd.grad(scores.sum(), points, create_graph=create_graph)
    return torch.linalg.vector_norm(grad.flatten(1), dim=1)
