"""WGAN: the Wasserstein GAN with weight clipping (Arjovsky et al. 2017)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from lightning_wgen.errors import ConfigError
from lightning_wgen.models.adversarial import AdversarialModule


@torch.no_grad()
def clip_parameters(module: nn.Module, clip_value: float) -> None:
    """Clamp every parameter of ``module`` into ``[-clip_value, clip_value]`` in place.

    Arjovsky et al. 2017, Algorithm 1, line 7: keeps the critic in a compact set of functions,
    hence K-Lipschitz for some K that depends on the architecture.
    """
    for parameter in module.parameters():
        parameter.clamp_(-clip_value, clip_value)


class WGAN(AdversarialModule):
    """WGAN, Arjovsky et al. 2017, Algorithm 1.

    Critic loss ``E f(x_fake) - E f(x_real)``, generator loss ``-E f(g(z))``, every critic
    parameter clipped to ``[-clip_value, clip_value]`` after each critic update. Paper defaults:
    ``clip_value`` c = 0.01, RMSprop with lr 5e-5, ``n_critic`` 5 and the warm-up schedule of the
    authors' code (100 critic updates for the first 25 generator updates and every 500th).
    Other arguments: :class:`~lightning_wgen.models.AdversarialModule`.
    """

    paper_critic_warmup = True
    paper_optimizer = (torch.optim.RMSprop, {"lr": 5e-5})

    def __init__(
        self, generator: nn.Module, critic: nn.Module, *, clip_value: float = 0.01, **kwargs: Any
    ) -> None:
        if not clip_value > 0:
            raise ConfigError(f"clip_value must be > 0, got {clip_value}; the paper uses 0.01.")
        super().__init__(generator, critic, **kwargs)
        self.clip_value = clip_value
        clip_parameters(self.critic, clip_value)

    def after_critic_step(self) -> None:
        clip_parameters(self.critic, self.clip_value)
