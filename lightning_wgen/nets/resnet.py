"""The residual networks of WGAN-GP and SNGAN for 32x32 (CIFAR-10) and 64x64 (CelebA) images.

32 pixels (Gulrajani et al. 2017, Appendix F; Miyato et al. 2018, Table 4): the generator maps
the noise to 4x4 features and applies three upsampling residual blocks of constant width; the
critic applies two downsampling blocks (the first without pre-activation) and two plain blocks,
then ReLU, a sum over positions and a linear layer. 64 pixels (the 64x64 ResNet of Gulrajani et
al. 2017): four upsampling blocks of widths 8b, 4b, 2b, b in the generator, four downsampling
blocks of widths 2b, 4b, 8b, 8b in the critic. The generator uses batch norm; the critic has no
normalisation, so it suits per-sample penalties and spectral normalisation alike.
"""

from __future__ import annotations

from torch import Tensor, nn

from lightning_wgen.errors import ConfigError, require_at_least

SUPPORTED_IMAGE_SIZES = (32, 64)


def _check_image_size(image_size: int) -> None:
    if image_size not in SUPPORTED_IMAGE_SIZES:
        raise ConfigError(
            f"image_size={image_size} is not supported by the ResNet networks; use one of "
            f"{SUPPORTED_IMAGE_SIZES} (or DCGANGenerator/DCGANCritic for 28x28 images)."
        )


class ResidualBlock(nn.Module):
    """``shortcut(x) + main(x)`` with optional 2x up- or downsampling.

    ``main`` is [BN] ReLU [up] conv3x3 [BN] ReLU conv3x3 [down]; the shortcut is [up] conv1x1 [down]
    when the width or the resolution changes, else the identity. ``preactivate=False`` drops the
    first ReLU (the critic's first block, whose input is the image).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        resample: str | None = None,
        batch_norm: bool = False,
        preactivate: bool = True,
    ) -> None:
        super().__init__()
        up = [nn.Upsample(scale_factor=2)] if resample == "up" else []
        down = [nn.AvgPool2d(2)] if resample == "down" else []

        def norm(width: int) -> list[nn.Module]:
            return [nn.BatchNorm2d(width)] if batch_norm else []

        self.main = nn.Sequential(
            *norm(in_channels),
            *([nn.ReLU()] if preactivate else []),
            *up,
            nn.Conv2d(in_channels, out_channels, 3, padding=1),
            *norm(out_channels),
            nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
            *down,
        )
        changes = in_channels != out_channels or resample is not None
        self.shortcut = (
            nn.Sequential(*up, nn.Conv2d(in_channels, out_channels, 1), *down)
            if changes
            else nn.Identity()
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.shortcut(x) + self.main(x)


class ResNetGenerator(nn.Module):
    """Noise ``(B, latent_dim)`` to images ``(B, channels, image_size, image_size)`` in [-1, 1].

    ``base_channels``: the width of every block at 32 pixels (256 in SNGAN, 128 in WGAN-GP); the
    width b of the last block at 64 pixels (64 in WGAN-GP).
    """

    def __init__(
        self,
        latent_dim: int = 128,
        channels: int = 3,
        image_size: int = 32,
        base_channels: int = 256,
    ) -> None:
        super().__init__()
        _check_image_size(image_size)
        require_at_least(
            "ResNetGenerator",
            1,
            latent_dim=latent_dim,
            channels=channels,
            base_channels=base_channels,
        )
        self.latent_dim = latent_dim
        b = base_channels
        widths = [b, b, b, b] if image_size == 32 else [8 * b, 8 * b, 4 * b, 2 * b, b]
        self.start_width = widths[0]
        self.project = nn.Linear(latent_dim, 4 * 4 * widths[0])
        self.blocks = nn.Sequential(
            *(
                ResidualBlock(c_in, c_out, resample="up", batch_norm=True)
                for c_in, c_out in zip(widths[:-1], widths[1:], strict=True)
            )
        )
        self.to_image = nn.Sequential(
            nn.BatchNorm2d(widths[-1]),
            nn.ReLU(),
            nn.Conv2d(widths[-1], channels, 3, padding=1),
            nn.Tanh(),
        )

    def forward(self, z: Tensor) -> Tensor:
        h = self.project(z).view(z.shape[0], self.start_width, 4, 4)
        return self.to_image(self.blocks(h))


class ResNetCritic(nn.Module):
    """Images to unbounded scores ``(B,)``, or features ``(B, out_features)`` when
    ``out_features > 1`` (Cramér GAN).

    ``base_channels``: the width of every block at 32 pixels (128 in SNGAN and WGAN-GP); the width
    b of the first block at 64 pixels (64 in WGAN-GP).
    """

    def __init__(
        self,
        channels: int = 3,
        image_size: int = 32,
        base_channels: int = 128,
        out_features: int = 1,
    ) -> None:
        super().__init__()
        _check_image_size(image_size)
        require_at_least(
            "ResNetCritic",
            1,
            channels=channels,
            base_channels=base_channels,
            out_features=out_features,
        )
        b = base_channels
        if image_size == 32:
            blocks = [
                ResidualBlock(channels, b, resample="down", preactivate=False),
                ResidualBlock(b, b, resample="down"),
                ResidualBlock(b, b),
                ResidualBlock(b, b),
            ]
            width = b
        else:
            widths = [b, 2 * b, 4 * b, 8 * b, 8 * b]
            blocks = [ResidualBlock(channels, b, preactivate=False)] + [
                ResidualBlock(c_in, c_out, resample="down")
                for c_in, c_out in zip(widths[:-1], widths[1:], strict=True)
            ]
            width = widths[-1]
        self.blocks = nn.Sequential(*blocks, nn.ReLU())
        self.head = nn.Linear(width, out_features)
        self.out_features = out_features

    def forward(self, x: Tensor) -> Tensor:
        out = self.head(self.blocks(x).sum(dim=(2, 3)))
        return out.squeeze(-1) if self.out_features == 1 else out
