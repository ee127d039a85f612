"""Fully connected networks for images: fast on a CPU, where a convolution is not.

The generator maps noise through Linear + LeakyReLU(0.2) blocks (batch norm after every block
but the first, when ``batch_norm``) to ``channels * image_size**2`` values, a tanh and a reshape
to ``(B, C, H, W)`` in [-1, 1]. The critic flattens the image and applies Linear + LeakyReLU(0.2)
blocks and a linear score. The default widths are those of the widely used single-file WGAN-GP
MNIST scripts (generator 128-256-512-1024, critic 512-256).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from lightning_wgen.errors import ConfigError, require_at_least


def leaky_blocks(
    in_features: int, widths: Sequence[int], batch_norm: bool = False
) -> list[nn.Module]:
    """Linear (+ BatchNorm1d after the first) + LeakyReLU(0.2) for each width in ``widths``."""
    if not widths or min(widths) < 1:
        raise ConfigError(
            f"hidden_features must be a non-empty list of positive widths, got {list(widths)}; "
            "try [128, 256, 512, 1024]."
        )
    layers: list[nn.Module] = []
    for i, width in enumerate(widths):
        layers.append(nn.Linear(in_features, width))
        if batch_norm and i > 0:
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.LeakyReLU(0.2))
        in_features = width
    return layers


class MLPImageGenerator(nn.Module):
    """Maps noise ``(B, latent_dim)`` to images ``(B, channels, image_size, image_size)``."""

    def __init__(
        self,
        latent_dim: int = 100,
        channels: int = 1,
        image_size: int = 28,
        hidden_features: Sequence[int] = (128, 256, 512, 1024),
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        require_at_least(
            "MLPImageGenerator", 1, latent_dim=latent_dim, channels=channels, image_size=image_size
        )
        self.latent_dim = latent_dim
        self.shape = (channels, image_size, image_size)
        out = channels * image_size * image_size
        layers = leaky_blocks(latent_dim, hidden_features, batch_norm)
        self.net = nn.Sequential(*layers, nn.Linear(hidden_features[-1], out), nn.Tanh())

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(z.shape[0], *self.shape)


class MLPImageCritic(nn.Module):
    """Maps images ``(B, channels, image_size, image_size)`` to unbounded scores ``(B,)``."""

    def __init__(
        self,
        channels: int = 1,
        image_size: int = 28,
        hidden_features: Sequence[int] = (512, 256),
    ) -> None:
        super().__init__()
        require_at_least("MLPImageCritic", 1, channels=channels, image_size=image_size)
        self.shape = (channels, image_size, image_size)
        in_features = channels * image_size * image_size
        layers = leaky_blocks(in_features, hidden_features)
        self.net = nn.Sequential(nn.Flatten(), *layers, nn.Linear(hidden_features[-1], 1))

    def forward(self, x: Tensor) -> Tensor:
        if tuple(x.shape[1:]) != self.shape:
            raise ConfigError(
                f"MLPImageCritic expects images of shape (B, {', '.join(map(str, self.shape))}), "
                f"got {tuple(x.shape)}; set channels and image_size to the data's."
            )
        return self.net(x).squeeze(-1)
