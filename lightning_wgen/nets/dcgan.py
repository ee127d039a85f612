"""DCGAN-style convolutional networks for 28x28 (MNIST), 32x32 (CIFAR-10) and 64x64 (CelebA).

Shapes follow Radford et al. 2016: the generator projects the noise to a small feature map (7x7
for 28 pixels, 4x4 otherwise) and doubles the resolution with strided transposed convolutions,
halving the width each time, with batch norm and ReLU, and a tanh output in [-1, 1]. The critic
halves the resolution with strided convolutions and LeakyReLU(0.2) down to 3x3 or 4x4 and ends
in a linear layer. Its normalisation is a choice: ``"layer"`` (layer norm over (C, H, W), what
WGAN-GP prescribes, Gulrajani et al. 2017, Sec. 4, since its penalty is per sample),
``"none"`` (for spectral normalisation) or ``"batch"`` (the DCGAN discriminator of the GAN
baseline). With ``base_channels`` b the widths are b, 2b, 4b (and 8b at 64 pixels).
"""

from __future__ import annotations

import math
from typing import Literal

from torch import Tensor, nn

from lightning_wgen.errors import ConfigError, require_at_least

SUPPORTED_IMAGE_SIZES = (28, 32, 64)
CRITIC_NORMS = ("layer", "none", "batch")


def _start_size(image_size: int) -> int:
    if image_size not in SUPPORTED_IMAGE_SIZES:
        raise ConfigError(
            f"image_size={image_size} is not supported by the DCGAN networks; use one of "
            f"{SUPPORTED_IMAGE_SIZES} (resize or pad the data to match)."
        )
    return 7 if image_size == 28 else 4


def _doublings(image_size: int) -> int:
    return int(math.log2(image_size // _start_size(image_size)))


class DCGANGenerator(nn.Module):
    """Noise ``(B, latent_dim)`` to images ``(B, channels, image_size, image_size)`` in [-1, 1]."""

    def __init__(
        self,
        latent_dim: int = 128,
        channels: int = 1,
        image_size: int = 28,
        base_channels: int = 64,
    ) -> None:
        super().__init__()
        require_at_least(
            "DCGANGenerator",
            1,
            latent_dim=latent_dim,
            channels=channels,
            base_channels=base_channels,
        )
        self.latent_dim = latent_dim
        self.start = _start_size(image_size)
        doublings = _doublings(image_size)
        width = base_channels * 2 ** (doublings - 1)
        self.project = nn.Sequential(
            nn.Linear(latent_dim, width * self.start * self.start, bias=False),
            nn.BatchNorm1d(width * self.start * self.start),
            nn.ReLU(),
        )
        layers: list[nn.Module] = []
        for _ in range(doublings - 1):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(width // 2),
                nn.ReLU(),
            ]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, stride=2, padding=1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        h = self.project(z).view(z.shape[0], -1, self.start, self.start)
        return self.body(h)


class DCGANCritic(nn.Module):
    """Images ``(B, channels, image_size, image_size)`` to unbounded scores ``(B,)``, or to
    features ``(B, out_features)`` when ``out_features > 1`` (the critic of Cramér GAN)."""

    def __init__(
        self,
        channels: int = 1,
        image_size: int = 28,
        base_channels: int = 64,
        norm: Literal["layer", "none", "batch"] = "layer",
        out_features: int = 1,
    ) -> None:
        super().__init__()
        require_at_least(
            "DCGANCritic",
            1,
            channels=channels,
            base_channels=base_channels,
            out_features=out_features,
        )
        if norm not in CRITIC_NORMS:
            raise ConfigError(
                f"DCGANCritic norm={norm!r} is not supported; use one of {CRITIC_NORMS} ('batch' "
                "only for the GAN baseline: penalties taken per sample forbid it)."
            )
        _start_size(image_size)
        halvings = 4 if image_size == 64 else 3  # down to 3 (28), 4 (32) or 4 (64) pixels
        layers: list[nn.Module] = []
        width_in, width = channels, base_channels
        for i in range(halvings):
            layers.append(nn.Conv2d(width_in, width, 4, stride=2, padding=1))
            if i > 0 and norm == "layer":
                layers.append(nn.GroupNorm(1, width))
            elif i > 0 and norm == "batch":
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.LeakyReLU(0.2))
            width_in, width = width, 2 * width
        self.features = nn.Sequential(*layers, nn.Flatten())
        final = 3 if image_size == 28 else 4
        self.head = nn.Linear(width_in * final * final, out_features)
        self.out_features = out_features

    def forward(self, x: Tensor) -> Tensor:
        out = self.head(self.features(x))
        return out.squeeze(-1) if self.out_features == 1 else out
