"""Baselines with a classifier critic: the non-saturating GAN (DCGAN) and DRAGAN."""

from __future__ import annotations

import torch
from torch import Tensor

from lightning_wgen.losses import (
    dragan_penalty,
    nonsaturating_critic_loss,
    nonsaturating_generator_loss,
)
from lightning_wgen.models.adversarial import AdversarialModule, Critic
from lightning_wgen.models.penalised import InputGradientPenalty


class GAN(AdversarialModule):
    """The non-saturating GAN (Goodfellow et al. 2014, Sec. 3) as in DCGAN (Radford et al. 2016).

    The critic outputs logits and minimises the binary cross-entropy ``-E log D(x) -
    E log(1 - D(G(z)))``; the generator minimises ``-E log D(G(z))``. DCGAN defaults: one critic
    update per generator update, Adam with lr 2e-4 and betas (0.5, 0.999); batch norm in both
    networks is allowed. Other arguments: :class:`~lightning_wgen.models.AdversarialModule`.
    """

    paper_n_critic = 1
    paper_optimizer = (torch.optim.Adam, {"lr": 2e-4, "betas": (0.5, 0.999)})

    def critic_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return nonsaturating_critic_loss(real_scores, fake_scores)

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return nonsaturating_generator_loss(fake_scores)


class DRAGAN(InputGradientPenalty, GAN):
    """DRAGAN, Kodali et al. 2017: the non-saturating GAN plus a gradient penalty around the data.

    Critic loss ``BCE + gp_weight * E (||grad D(x_p)|| - 1)^2`` with ``x_p`` perturbed real points
    (:func:`~lightning_wgen.losses.dragan_penalty`). Defaults of the authors' code: lambda 10, one
    critic update per generator update, Adam with lr 1e-4 and betas (0.5, 0.999).
    """

    paper_optimizer = (torch.optim.Adam, {"lr": 1e-4, "betas": (0.5, 0.999)})

    def critic_penalty(self, critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
        return dragan_penalty(critic, real, grad_scale=self.grad_scale)
