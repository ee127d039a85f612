"""AAE (Makhzani et al. 2016, "Adversarial Autoencoders")."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn
from torch.optim import Optimizer

from lightning_wgen.losses import reconstruction_cost
from lightning_wgen.models.latent_adversarial import LatentAdversarialModule
from lightning_wgen.models.optimizers import build_optimizer


class AAE(LatentAdversarialModule):
    """An autoencoder trained in the paper's two phases on every batch (Makhzani et al. 2016,
    Sec. 2): the *reconstruction phase* updates encoder and decoder on the reconstruction cost;
    the *regularisation phase* updates the discriminator on prior samples against fresh codes,
    then the encoder alone on ``-adversarial_weight * log D(q(x))``, with an optimizer of its
    own. The encoder is deterministic or Gaussian (its ``gaussian`` attribute; the paper's
    "deterministic" and "Gaussian posterior" choices, Sec. 2).

    The paper trained with SGD and momentum; by default the optimizers are the WAE setting (Adam,
    beta1 0.5) so that the four autoencoder families compare at one budget.
    """

    paper_reconstruction_weight = 1.0

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        discriminator: nn.Module,
        *,
        adversarial_weight: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            encoder, decoder, discriminator, adversarial_weight=adversarial_weight, **kwargs
        )

    def optimizers_to_build(self) -> dict[str, Optimizer]:
        factory, params = self.autoencoder_optimizer, self.encoder.parameters()
        encoder = build_optimizer(factory, params, self.paper_optimizer)
        return {**super().optimizers_to_build(), "encoder": encoder}

    def autoencoder_update(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        seen = self.regularisers.encoder_input(self, x)  # denoising, sparse, contractive
        codes, posterior = self.codes_for_training(seen)
        reconstruction = reconstruction_cost(self.decoder(codes), x)
        terms = {"ae/reconstruction": reconstruction}
        terms.update(self.regularisers.terms(seen, codes if posterior is None else posterior[0]))
        loss = self.reconstruction_weight * reconstruction + self.regularisers.weighted(terms)
        self.step_if_finite(self.optimizer("autoencoder"), loss, terms, "reconstruction update")

        codes, posterior = self.codes_for_training(x)
        logs = self.update_discriminator(codes.detach())
        penalty = self.latent_penalty(codes, posterior)
        update = "encoder regularisation update"
        encoder = self.optimizer("encoder")
        self.step_if_finite(encoder, self.penalty_weight * penalty, {"ae/penalty": penalty}, update)
        logs.update({**terms, "ae/penalty": penalty, "ae/loss": loss})
        return codes.detach(), logs
