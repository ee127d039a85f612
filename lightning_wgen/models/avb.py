"""AVB (Mescheder, Nowozin, Geiger, ICML 2017, "Adversarial Variational Bayes: Unifying
Variational Autoencoders and Generative Adversarial Networks")."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from lightning_wgen import losses
from lightning_wgen.errors import ConfigError
from lightning_wgen.models.latent_adversarial import LatentAdversarialModule


class AVB(LatentAdversarialModule):
    """A VAE whose encoder is any sampler ``z = f(x, eps)`` (an ``ImplicitEncoder``), with the
    KL term read off an adversary ``T(x, z)`` (a ``PairDiscriminator``).

    Each step (Algorithm 1) updates ``T`` to tell ``(x, z ~ q(z | x))`` (label 1) from ``(x, z ~
    p(z))`` (label 0) with the logistic loss, whose optimum is ``log q(z | x) - log p(z)``
    (Proposition 1); then encoder and decoder on ``reconstruction_weight * ||x - G(z)||^2 +
    adversarial_weight * E T(x, z)``, the negative ELBO (the comparison document's Eq. 6). With
    ``adaptive_contrast`` (Sec. 3.3; on, as without it the encoder ignored its noise on MNIST)
    ``T`` sees the codes normalised by ``r(z | x)``, the Gaussian with the moments of
    ``contrast_samples`` other codes, held constant as in the authors' code: per coordinate (the
    paper) or, with ``contrast_full_covariance`` (beyond it), the full covariance. The KL is then
    :func:`~lightning_wgen.losses.avb_kl_estimate`."""

    gaussian_encoder = False
    paper_reconstruction_weight = 1.0

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        discriminator: nn.Module,
        *,
        adversarial_weight: float = 1.0,
        adaptive_contrast: bool = True,
        contrast_samples: int = 64,
        contrast_full_covariance: bool = False,
        **kwargs: Any,
    ) -> None:
        if not getattr(encoder, "implicit", False):
            raise ConfigError(
                f"AVB needs an implicit encoder (z = f(x, eps)), got {type(encoder).__name__}; "
                "use lightning_wgen.nets.ImplicitEncoder."
            )
        if contrast_samples < 2:
            raise ConfigError(f"contrast_samples must be >= 2, got {contrast_samples}.")
        kwargs["adversarial_weight"] = adversarial_weight
        super().__init__(encoder, decoder, discriminator, **kwargs)
        self.adaptive_contrast, self.full_contrast = adaptive_contrast, contrast_full_covariance
        self.contrast_samples = contrast_samples

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """The deterministic code ``f(x, 0)`` (the noise at its mean): reconstructions, encode."""
        return self.encoder(x), None

    def sample_posterior(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One code ``z = f(x, eps) ~ q(z | x)`` per image, ``eps ~ N(0, I)`` from ``generator``."""
        eps = torch.randn(len(x), self.encoder.noise_dim, generator=generator).to(x)
        return self.encoder(x, eps)

    def sample_codes(self, x: Tensor, copies: int = 1) -> Tensor:
        """``copies`` codes ``z ~ q(z | x)`` per image, ``(copies, B, d)``, training noise."""
        noise = self.training_randn_like(x.new_empty(len(x), copies * self.encoder.noise_dim))
        return self.encoder(x, noise.view(len(x), copies, -1).transpose(0, 1))

    def adversary_pairs(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """``z ~ q(z | x)`` per image, what ``T`` sees of it (``L^-1 (z - mu)``), ``log det L``."""
        if not self.adaptive_contrast:
            z = self.sample_codes(x)[0]
            return z, z, None
        codes = self.sample_codes(x, 1 + self.contrast_samples)
        z, others = codes[0], codes[1:].detach()  # r's moments: constants in the gradient
        return z, *losses.contrast_normalise(z, others, self.full_contrast)

    def autoencoder_update(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        seen = self.regularisers.encoder_input(self, x)
        z, shown, log_det = self.adversary_pairs(seen)
        contrast = self.training_randn_like(shown)  # p(z), or N(0, I) for the normalised codes
        disc = losses.nonsaturating_critic_loss(
            self.discriminator(seen, shown.detach()), self.discriminator(seen, contrast)
        )
        logs = {"disc/loss": disc}
        self.step_if_finite(self.optimizer("discriminator"), disc, logs, "adversary update")

        t = self.discriminator(seen, shown)
        kl = t.mean() if log_det is None else losses.avb_kl_estimate(t, shown, z, log_det)
        reconstruction = losses.reconstruction_cost(self.decoder(z), x)
        terms = {"ae/reconstruction": reconstruction, "ae/penalty": kl}
        terms.update(self.regularisers.terms(seen, z))
        loss = self.reconstruction_weight * reconstruction + self.penalty_weight * kl
        terms = {"ae/loss": loss + self.regularisers.weighted(terms), **terms}
        update = "encoder and decoder update"
        self.step_if_finite(self.optimizer("autoencoder"), terms["ae/loss"], terms, update)
        return z.detach(), {**logs, **terms}
