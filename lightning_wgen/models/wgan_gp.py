"""WGAN-GP: Wasserstein GAN with a gradient penalty (Gulrajani et al. 2017)."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from lightning_wgen.losses import gradient_penalty
from lightning_wgen.models.adversarial import AdversarialModule, Critic
from lightning_wgen.models.penalised import InputGradientPenalty


class WGANGP(InputGradientPenalty, AdversarialModule):
    """WGAN-GP, Gulrajani et al. 2017, Algorithm 1.

    Critic loss ``E f(x_fake) - E f(x_real) + gp_weight * GP`` (Eq. 3), generator loss
    ``-E f(g(z))``. Paper defaults: ``gp_weight`` (lambda) 10, ``n_critic`` 5, Adam with lr 1e-4 and
    betas (0.0, 0.9) for both players. ``one_sided=True`` gives the one-sided penalty
    ``max(0, ||grad f|| - 1)^2`` (WGAN-LP, Petzka et al. 2018). Other arguments:
    :class:`~lightning_wgen.models.AdversarialModule`.
    """

    def __init__(
        self, generator: nn.Module, critic: nn.Module, *, one_sided: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(generator, critic, **kwargs)
        self.one_sided = one_sided

    def critic_penalty(self, critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
        return gradient_penalty(
            critic,
            real,
            fake,
            one_sided=self.one_sided,
            grad_scale=self.grad_scale,
            alpha=self.training_rand(real.shape[0]),
        )
