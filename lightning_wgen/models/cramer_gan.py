"""Cramér GAN: the energy distance with a learned feature map (Bellemare et al. 2017)."""

from __future__ import annotations

import torch
from torch import Tensor

from lightning_wgen.errors import ConfigError
from lightning_wgen.losses import cramer_critic, cramer_generator_loss, gradient_penalty
from lightning_wgen.models.adversarial import AdversarialModule, Critic
from lightning_wgen.models.penalised import InputGradientPenalty


class CramerGAN(InputGradientPenalty, AdversarialModule):
    """Cramér GAN, Bellemare et al. 2017, "The Cramér Distance as a Solution to Biased Wasserstein
    Gradients", Algorithm 1.

    The critic network ``h`` maps samples to features ``(B, k)``; with an independent generated
    batch ``x'_g`` the critic is ``f(x) = ||h(x) - h(x'_g)|| - ||h(x)||``. The critic maximises
    ``E f(x_r) - E f(x_g)`` less ``gp_weight`` times the WGAN-GP penalty on ``f``; the generator
    minimises the energy-distance estimate :func:`~lightning_wgen.losses.cramer_generator_loss`.
    Defaults: lambda 10, ``n_critic`` 5, Adam with lr 1e-4 and betas (0.5, 0.9).
    """

    paper_optimizer = (torch.optim.Adam, {"lr": 1e-4, "betas": (0.5, 0.9)})

    def features(self, x: Tensor) -> Tensor:
        h = self.critic(x)
        if h.dim() != 2:
            raise ConfigError(
                f"CramerGAN needs a critic with feature outputs (B, k), got shape "
                f"{tuple(h.shape)}; give the critic out_features > 1 (the paper uses 256)."
            )
        return h

    def _other_fake(self, n: int) -> Tensor:
        return self.generator(self.training_noise(n))

    def critic_scores(self, x: Tensor) -> Tensor:
        """``f(x)`` against a fresh generated reference batch (the critic of Algorithm 1)."""
        with torch.no_grad():
            h_other = self.features(self._other_fake(x.shape[0]))
        return cramer_critic(self.features(x), h_other)

    def step_critic(self, n: int) -> Critic:
        with torch.no_grad():
            other = self._other_fake(n)
        h_other = self.features(other)
        return lambda x: cramer_critic(self.features(x), h_other)

    def critic_penalty(self, critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
        alpha = self.training_rand(real.shape[0])
        return gradient_penalty(critic, real, fake, grad_scale=self.grad_scale, alpha=alpha)

    def generator_objective(self, fake: Tensor, real: Tensor) -> Tensor:
        other = self._other_fake(fake.shape[0])
        return cramer_generator_loss(self.features(real), self.features(fake), self.features(other))
