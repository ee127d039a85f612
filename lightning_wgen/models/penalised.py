"""The families whose critic penalty is a gradient norm at the critic's inputs."""

from __future__ import annotations

from typing import Any

from torch import nn


class InputGradientPenalty:
    """Mixin before an adversarial base, for WGAN-GP, DRAGAN and Cramér GAN: the penalty is taken
    per sample (no batch norm in the critic), differentiates the critic's input gradient again,
    and is weighted by ``gp_weight`` (lambda: 10 in the three papers)."""

    per_sample_critic = True
    critic_takes_input_gradients = True

    def __init__(
        self, generator: nn.Module, critic: nn.Module, *, gp_weight: float = 10.0, **kwargs: Any
    ) -> None:
        super().__init__(generator, critic, **kwargs)
        self.set_penalty_weight("gp_weight", gp_weight)
