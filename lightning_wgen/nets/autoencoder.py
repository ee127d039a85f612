"""Convolutional encoder and decoder of the Wasserstein auto-encoder experiments.

Tolstikhin et al. 2018, "Wasserstein Auto-Encoders", Appendix: the encoder halves the resolution
with four strided convolutions (128, 256, 512, 1024 channels), each followed by batch norm and
ReLU, and ends in a linear layer to the code; the decoder projects the code to a small map of
1024 channels and doubles the resolution with strided transposed convolutions (512, 256, and
128 at 64 pixels), batch norm and ReLU, then a last stride-1 convolution to the image. MNIST:
4x4 kernels, d_z = 8; CelebA 64x64: 5x5 kernels, d_z = 64. The output is tanh, images in [-1, 1]
like every data module here. The widths are arguments, so that the same shapes run smaller on a
laptop.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from lightning_wgen.errors import ConfigError, require_at_least


def _same_size_padding(kernel_size: int) -> tuple[int, int]:
    """(padding, output_padding) for which a stride-2 (transposed) convolution halves (doubles)
    the size exactly (for even input sizes)."""
    return (kernel_size - 1) // 2, kernel_size % 2


class ConvEncoder(nn.Module):
    """Images ``(B, channels, image_size, image_size)`` to codes ``(B, latent_dim)``.

    With ``gaussian`` it returns ``(B, 2 * latent_dim)``: the mean and the log-variance of a
    diagonal Gaussian posterior, in that order (VAE, AAE with a Gaussian encoder).
    """

    def __init__(
        self,
        latent_dim: int = 8,
        channels: int = 1,
        image_size: int = 28,
        widths: Sequence[int] = (128, 256, 512, 1024),
        kernel_size: int = 4,
        batch_norm: bool = True,
        gaussian: bool = False,
    ) -> None:
        super().__init__()
        require_at_least(
            "ConvEncoder",
            1,
            channels=channels,
            image_size=image_size,
            smallest_width=min(widths, default=1),
        )
        if latent_dim < 1 or not widths or kernel_size < 2:
            raise ConfigError(
                f"ConvEncoder needs latent_dim >= 1, at least one width and kernel_size >= 2, got "
                f"{latent_dim}, {list(widths)} and {kernel_size}."
            )
        self.latent_dim = latent_dim
        self.gaussian = gaussian
        padding, _ = _same_size_padding(kernel_size)
        layers: list[nn.Module] = []
        width_in = channels
        for width in widths:
            conv = nn.Conv2d(width_in, width, kernel_size, 2, padding, bias=not batch_norm)
            layers.append(conv)
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU())
            width_in = width
        self.features = nn.Sequential(*layers, nn.Flatten())
        size = image_size
        for _ in widths:
            size = (size + 2 * padding - kernel_size) // 2 + 1
        if size < 1:
            raise ConfigError(
                f"ConvEncoder: {len(widths)} halvings of {image_size} pixels leave nothing; use "
                "fewer widths."
            )
        self.head = nn.Linear(widths[-1] * size * size, latent_dim * (2 if gaussian else 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class ConvDecoder(nn.Module):
    """Codes ``(B, latent_dim)`` to images ``(B, channels, image_size, image_size)`` in [-1, 1].

    The first width is the projected map, at ``image_size / 2 ** (len(widths) - 1)`` pixels;
    every further width doubles the resolution. ``tanh=False`` leaves the last convolution
    linear, as in BEGAN's autoencoder discriminator (Berthelot et al. 2017, Sec. 3.5): a tanh
    that saturates on the data's flat background cannot be pushed off a generator that collapses
    onto it.
    """

    def __init__(
        self,
        latent_dim: int = 8,
        channels: int = 1,
        image_size: int = 28,
        widths: Sequence[int] = (1024, 512, 256),
        kernel_size: int = 4,
        batch_norm: bool = True,
        tanh: bool = True,
    ) -> None:
        super().__init__()
        require_at_least(
            "ConvDecoder",
            1,
            latent_dim=latent_dim,
            channels=channels,
            smallest_width=min(widths, default=1),
        )
        require_at_least("ConvDecoder", 1, image_size=image_size)
        require_at_least("ConvDecoder", 2, kernel_size=kernel_size)
        doublings = len(widths) - 1
        if not widths or image_size % 2**doublings:
            raise ConfigError(
                f"ConvDecoder: image_size {image_size} is not divisible by 2 ** {doublings} for "
                f"widths {list(widths)}; use as many widths as the size allows halvings, plus one."
            )
        self.latent_dim = latent_dim
        self.start = image_size // 2**doublings
        self.project = nn.Linear(latent_dim, widths[0] * self.start**2, bias=not batch_norm)
        self.project_norm = nn.BatchNorm2d(widths[0]) if batch_norm else nn.Identity()
        padding, output_padding = _same_size_padding(kernel_size)
        layers: list[nn.Module] = []
        for width_in, width in zip(widths, widths[1:], strict=False):
            layers.append(
                nn.ConvTranspose2d(
                    width_in,
                    width,
                    kernel_size,
                    stride=2,
                    padding=padding,
                    output_padding=output_padding,
                    bias=not batch_norm,
                )
            )
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU())
        layers.append(nn.Conv2d(widths[-1], channels, kernel_size, padding="same"))
        layers += [nn.Tanh()] if tanh else []
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        x = self.project(z).view(z.shape[0], -1, self.start, self.start)
        return self.net(torch.relu(self.project_norm(x)))
