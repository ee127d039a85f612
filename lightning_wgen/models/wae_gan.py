"""WAE-GAN (Tolstikhin et al. 2018, "Wasserstein Auto-Encoders", Algorithm 1)."""

from __future__ import annotations

from lightning_wgen.models.latent_adversarial import LatentAdversarialModule


class WAEGAN(LatentAdversarialModule):
    """Deterministic encoder and a latent discriminator (4 fully connected layers of 512 units
    for MNIST, 1024 for CelebA in the paper). Each step first updates the discriminator on prior
    samples against the batch's codes, then encoder and decoder on
    ``reconstruction_weight * c(x, G(z~)) - adversarial_weight * log D(z~)``.
    ``adversarial_weight`` is lambda (10 for MNIST in the paper).
    """

    gaussian_encoder = False
