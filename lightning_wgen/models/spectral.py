"""Spectrally normalised critics (Miyato et al. 2018) with the Wasserstein and the hinge loss."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from lightning_wgen.losses import hinge_critic_loss
from lightning_wgen.models.adversarial import AdversarialModule
from lightning_wgen.nets.spectral import spectral_normalized


class WGANSN(AdversarialModule):
    """The Wasserstein losses with a spectrally normalised critic (Miyato et al. 2018, Sec. 2.1).

    Every linear and convolutional layer of the critic is divided by its largest singular value,
    estimated by ``n_power_iterations`` power iterations per training forward pass; the critic is
    then 1-Lipschitz for 1-Lipschitz activations. Defaults of the paper's ResNet setting: Adam
    with lr 2e-4 and betas (0.0, 0.9), ``n_critic`` 5. Other arguments:
    :class:`~lightning_wgen.models.AdversarialModule`.
    """

    per_sample_critic = True
    paper_optimizer = (torch.optim.Adam, {"lr": 2e-4, "betas": (0.0, 0.9)})

    def __init__(
        self, generator: nn.Module, critic: nn.Module, *, n_power_iterations: int = 1, **kwargs: Any
    ) -> None:
        critic = spectral_normalized(critic, n_power_iterations)
        super().__init__(generator, critic, **kwargs)
        self.n_power_iterations = n_power_iterations


class SNGAN(WGANSN):
    """SNGAN: a spectrally normalised critic trained with the hinge loss (Miyato et al. 2018).

    Critic loss ``E max(0, 1 - D(x_real)) + E max(0, 1 + D(G(z)))`` (Eq. 16), generator loss
    ``-E D(G(z))`` (Eq. 17); the defaults of :class:`WGANSN`.
    """

    def critic_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return hinge_critic_loss(real_scores, fake_scores)
