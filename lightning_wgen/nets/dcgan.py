"""DCGAN-style convolutional networks for 28x28 (MNIST) and 32x32 (CIFAR-10) images.

Shapes follow Radford et al. 2016 (strided transposed convolutions, batch norm and ReLU in the
generator, tanh output in [-1, 1]). The critic has no batch norm, as WGAN-GP prescribes
(Gulrajani et al. 2017, Sec. 4: the penalty is per sample, and batch norm couples the samples);
it uses layer norm over (C, H, W) or no normalisation.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from lightning_wgen.errors import ConfigError

SUPPORTED_IMAGE_SIZES = (28, 32)


def _check_image_size(image_size: int) -> int:
    if image_size not in SUPPORTED_IMAGE_SIZES:
        raise ConfigError(
            f"image_size={image_size} is not supported by the DCGAN networks; use one of "
            f"{SUPPORTED_IMAGE_SIZES} (resize or pad the data to match)."
        )
    return image_size // 4


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
        self.latent_dim = latent_dim
        self.start = _check_image_size(image_size)
        width = 4 * base_channels
        self.project = nn.Sequential(
            nn.Linear(latent_dim, width * self.start * self.start, bias=False),
            nn.BatchNorm1d(width * self.start * self.start),
            nn.ReLU(),
        )
        self.body = nn.Sequential(
            nn.ConvTranspose2d(width, 2 * base_channels, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(2 * base_channels),
            nn.ReLU(),
            nn.ConvTranspose2d(
                2 * base_channels, base_channels, 4, stride=2, padding=1, bias=False
            ),
            nn.BatchNorm2d(base_channels),
            nn.ReLU(),
            nn.Conv2d(base_channels, channels, 3, padding=1),
            nn.Tanh(),
        )

    def forward(self, z: Tensor) -> Tensor:
        h = self.project(z).view(z.shape[0], -1, self.start, self.start)
        return self.body(h)


class DCGANCritic(nn.Module):
    """Images ``(B, channels, image_size, image_size)`` to unbounded scores ``(B,)``."""

    def __init__(
        self,
        channels: int = 1,
        image_size: int = 28,
        base_channels: int = 64,
        norm: Literal["layer", "none"] = "layer",
    ) -> None:
        super().__init__()
        if norm not in ("layer", "none"):
            raise ConfigError(
                f"DCGANCritic norm={norm!r} is not supported; use 'layer' or 'none' (batch norm "
                "is excluded because the gradient penalty is taken per sample)."
            )
        _check_image_size(image_size)

        def block(c_in: int, c_out: int, normalise: bool) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1)]
            if normalise:
                layers.append(nn.GroupNorm(1, c_out))  # layer norm over (C, H, W)
            return layers + [nn.LeakyReLU(0.2)]

        use_norm = norm == "layer"
        self.features = nn.Sequential(
            *block(channels, base_channels, False),
            *block(base_channels, 2 * base_channels, use_norm),
            *block(2 * base_channels, 4 * base_channels, use_norm),
            nn.Flatten(),
        )
        final = (image_size // 4) // 2  # 28 -> 3, 32 -> 4
        self.head = nn.Linear(4 * base_channels * final * final, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x)).squeeze(-1)
