"""WGAN-GP: Wasserstein GAN with a gradient penalty (Gulrajani et al. 2017)."""

from __future__ import annotations

from torch import Tensor, nn

from lightning_wgen.errors import ConfigError
from lightning_wgen.losses import (
    gradient_penalty,
    wasserstein_critic_loss,
    wasserstein_estimate,
    wasserstein_generator_loss,
)
from lightning_wgen.models.adversarial import AdversarialModule, OptimizerFactory


class WGANGP(AdversarialModule):
    """WGAN-GP, Gulrajani et al. 2017, Algorithm 1.

    Critic loss ``E f(x_fake) - E f(x_real) + gp_weight * GP`` (Eq. 3), generator loss
    ``-E f(g(z))``. Paper defaults: ``gp_weight`` (lambda) 10, ``n_critic`` 5, Adam with lr 1e-4 and
    betas (0.0, 0.9) for both players. ``one_sided=True`` gives the one-sided penalty (WGAN-LP).
    """

    def __init__(
        self,
        generator: nn.Module,
        critic: nn.Module,
        *,
        gp_weight: float = 10.0,
        one_sided: bool = False,
        n_critic: int = 5,
        critic_warmup: bool = False,
        generator_optimizer: OptimizerFactory | None = None,
        critic_optimizer: OptimizerFactory | None = None,
        ema_decay: float | None = None,
        max_generator_steps: int | None = None,
    ) -> None:
        if gp_weight < 0:
            raise ConfigError(f"gp_weight must be >= 0, got {gp_weight}; the paper uses 10.")
        super().__init__(
            generator,
            critic,
            n_critic=n_critic,
            critic_warmup=critic_warmup,
            generator_optimizer=generator_optimizer,
            critic_optimizer=critic_optimizer,
            ema_decay=ema_decay,
            max_generator_steps=max_generator_steps,
        )
        self.gp_weight = gp_weight
        self.one_sided = one_sided

    def critic_objective(self, real: Tensor, fake: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        real_scores, fake_scores = self.critic(real), self.critic(fake)
        penalty = gradient_penalty(self.critic, real, fake, one_sided=self.one_sided)
        loss = wasserstein_critic_loss(real_scores, fake_scores) + self.gp_weight * penalty
        logs = {
            "critic/w_estimate": wasserstein_estimate(real_scores, fake_scores).detach(),
            "critic/gp": penalty.detach(),
        }
        return loss, logs

    def generator_objective(self, fake: Tensor) -> Tensor:
        return wasserstein_generator_loss(self.critic(fake))
