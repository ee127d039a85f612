"""A discriminator in the code space, shared by AAE and WAE-GAN."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from lightning_wgen.losses import nonsaturating_critic_loss, nonsaturating_generator_loss
from lightning_wgen.models.autoencoder import AutoencoderModule
from lightning_wgen.models.base import OptimizerFactory, build_optimizer


class LatentAdversarialModule(AutoencoderModule):
    """An autoencoder whose codes are pushed towards the prior by a discriminator ``D`` that
    tells prior samples (label 1) from codes (label 0). ``D`` maps codes ``(B, d)`` to logits
    ``(B,)``; it has its own optimizer, ``discriminator_optimizer`` (``None``: the paper's).
    Logged: ``disc/loss``.
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
        discriminator_optimizer: OptimizerFactory | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(encoder, decoder, **kwargs)
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

    def update_discriminator(self, codes: Tensor, logs: dict[str, Tensor]) -> None:
        optimizer = self.optimizer_list()[1]
        loss = self.discriminator_loss(self.training_randn_like(codes), codes)
        self.step_if_finite(optimizer, loss, {"disc/loss": loss}, "latent discriminator update")
        logs["disc/loss"] = loss

    def optimizers_to_build(self) -> list[Optimizer]:
        disc = build_optimizer(
            self.discriminator_optimizer,
            self.discriminator.parameters(),
            self.paper_discriminator_optimizer,
            "discriminator_optimizer",
        )
        return [*super().optimizers_to_build(), disc]
