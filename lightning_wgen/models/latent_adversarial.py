"""A discriminator in the code space, shared by AAE and WAE-GAN."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from lightning_wgen.losses import nonsaturating_critic_loss, nonsaturating_generator_loss
from lightning_wgen.models.autoencoder import AutoencoderModule
from lightning_wgen.models.optimizers import OptimizerFactory, build_optimizer


class LatentAdversarialModule(AutoencoderModule):
    """An autoencoder whose codes are pushed towards the prior by a discriminator ``D`` that
    tells prior samples (label 1) from codes (label 0). ``D`` maps codes ``(B, d)`` to logits
    ``(B,)``; it has its own optimizer, ``discriminator_optimizer`` (``None``: the paper's).
    ``adversarial_weight`` (lambda) weighs the encoder's adversarial term; its default is that
    of WAE-GAN's paper (10 for MNIST), and AAE states its own. Logged: ``disc/loss``.
    """

    paper_discriminator_optimizer: tuple[type[Optimizer], dict[str, Any]] = (
        torch.optim.Adam,
        {"lr": 5e-4, "betas": (0.5, 0.999)},
    )

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        discriminator: nn.Module,
        *,
        adversarial_weight: float = 10.0,
        discriminator_optimizer: OptimizerFactory | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(encoder, decoder, **kwargs)
        self.set_penalty_weight("adversarial_weight", adversarial_weight)
        self.discriminator = discriminator
        self.discriminator_optimizer = discriminator_optimizer

    def discriminator_loss(self, prior_codes: Tensor, codes: Tensor) -> Tensor:
        """``-E log D(z) - E log(1 - D(z~))`` over prior samples ``z`` and codes ``z~``: the
        discriminator's step of Tolstikhin et al. 2018, Algorithm 1 (and of Makhzani et al. 2016,
        Sec. 2), as :func:`~lightning_wgen.losses.nonsaturating_critic_loss` on logits."""
        return nonsaturating_critic_loss(self.discriminator(prior_codes), self.discriminator(codes))

    def latent_penalty(self, codes: Tensor, posterior: tuple[Tensor, Tensor] | None) -> Tensor:
        """``-E log D(z~)``: the encoder's penalty of Tolstikhin et al. 2018, Algorithm 1 (the
        non-saturating form of the authors' code; Makhzani et al. 2016's encoder loss)."""
        return nonsaturating_generator_loss(self.discriminator(codes))

    def update_discriminator(self, codes: Tensor) -> dict[str, Tensor]:
        loss = self.discriminator_loss(self.training_randn_like(codes), codes)
        logs = {"disc/loss": loss}
        update = "latent discriminator update"
        self.step_if_finite(self.optimizer("discriminator"), loss, logs, update)
        return logs

    def optimizers_to_build(self) -> dict[str, Optimizer]:
        disc = build_optimizer(
            self.discriminator_optimizer,
            self.discriminator.parameters(),
            self.paper_discriminator_optimizer,
            "discriminator_optimizer",
        )
        return {**super().optimizers_to_build(), "discriminator": disc}
