"""VAE (Kingma & Welling 2014, "Auto-Encoding Variational Bayes")."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from lightning_wgen.losses import gaussian_kl_to_standard_normal
from lightning_wgen.models.autoencoder import AutoencoderModule


class VAE(AutoencoderModule):
    """Gaussian encoder, reparameterised codes, and the KL of each posterior to ``N(0, I)``.

    The loss is the negative ELBO of a Gaussian decoder with fixed variance ``sigma^2``:
    ``E ||x - G(z)||^2 / (2 sigma^2) + KL(Q(Z|x) || N(0, I))`` (Kingma & Welling 2014, Eq. 10,
    with the KL of Appendix B), so ``reconstruction_weight = 1 / (2 sigma^2)``; the default 1
    is ``sigma^2 = 1/2``. ``kl_weight`` other than 1 gives the beta-VAE.
    """

    gaussian_encoder = True
    paper_reconstruction_weight = 1.0

    def __init__(
        self, encoder: nn.Module, decoder: nn.Module, *, kl_weight: float = 1.0, **kwargs: Any
    ) -> None:
        super().__init__(encoder, decoder, **kwargs)
        self.set_penalty_weight("kl_weight", kl_weight)

    def latent_penalty(self, codes: Tensor, posterior: tuple[Tensor, Tensor] | None) -> Tensor:
        mean, logvar = posterior
        return gaussian_kl_to_standard_normal(mean, logvar)
