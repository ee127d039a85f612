"""WGAN-div: the Wasserstein divergence (Wu et al. 2018)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from lightning_wgen.errors import ConfigError
from lightning_wgen.losses import divergence_penalty
from lightning_wgen.models.adversarial import AdversarialModule, Critic


class WGANDiv(AdversarialModule):
    """WGAN-div, Wu et al. 2018, "Wasserstein Divergence for GANs".

    Critic loss ``E f(x_fake) - E f(x_real) + k * E_u ||grad f(u)||^p`` with ``u`` drawn from the
    real and the generated batch (:func:`~lightning_wgen.losses.divergence_penalty`), generator
    loss ``-E f(g(z))``. Paper defaults: k = 2, p = 6, ``n_critic`` 5, Adam with lr 2e-4 and betas
    (0.5, 0.999). Other arguments: :class:`~lightning_wgen.models.AdversarialModule`.
    """

    per_sample_critic = True
    critic_takes_input_gradients = True
    paper_optimizer = (torch.optim.Adam, {"lr": 2e-4, "betas": (0.5, 0.999)})

    def __init__(
        self,
        generator: nn.Module,
        critic: nn.Module,
        *,
        k: float = 2.0,
        p: float = 6.0,
        **kwargs: Any,
    ) -> None:
        if p < 1:
            raise ConfigError(f"p must be >= 1, got {p}; the paper uses 6.")
        super().__init__(generator, critic, **kwargs)
        self.set_penalty_weight("k", k)
        self.p = p

    def critic_penalty(self, critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
        return divergence_penalty(critic, real, fake, power=self.p, grad_scale=self.grad_scale)
