"""f-GAN: variational divergence minimisation (Nowozin et al. 2016)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from lightning_wgen.losses import f_divergence, f_gan_critic_loss, f_gan_generator_loss
from lightning_wgen.models.adversarial import AdversarialModule


class FGAN(AdversarialModule):
    """f-GAN, Nowozin et al. 2016, Algorithm 1 with the non-saturating generator of Sec. 3.2.

    The critic's raw output ``v`` passes through the divergence's output activation ``g_f``; the
    critic maximises ``E_real g_f(v) - E_fake f*(g_f(v))``, a lower bound of
    ``D_f(P_real || P_fake)``, and the generator minimises ``-E_fake g_f(v)``. ``divergence`` is
    one of ``kl``, ``reverse_kl``, ``pearson``, ``squared_hellinger``, ``jensen_shannon``, ``gan``
    (:data:`~lightning_wgen.losses.F_DIVERGENCES`). Defaults: one critic update per generator
    update (the single-step method of Algorithm 1), Adam with lr 2e-4 and betas (0.5, 0.999).
    """

    paper_n_critic = 1
    paper_optimizer = (torch.optim.Adam, {"lr": 2e-4, "betas": (0.5, 0.999)})

    def __init__(
        self,
        generator: nn.Module,
        critic: nn.Module,
        *,
        divergence: str = "jensen_shannon",
        **kwargs: Any,
    ) -> None:
        f_divergence(divergence)  # one clear line for an unknown name
        super().__init__(generator, critic, **kwargs)
        self.divergence = divergence

    def critic_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return f_gan_critic_loss(real_scores, fake_scores, self.divergence)

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return f_gan_generator_loss(fake_scores, self.divergence)
