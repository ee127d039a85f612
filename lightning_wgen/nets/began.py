"""BEGAN's discriminator: an autoencoder whose output is the reconstruction of its input."""

from __future__ import annotations

from torch import Tensor, nn

from lightning_wgen.errors import ConfigError


class AutoencoderCritic(nn.Module):
    """``D(v) = decoder(encoder(v))``, the same shape as ``v`` (Berthelot et al. 2017, Sec. 3.1:
    the discriminator is an autoencoder, scored by how well it reconstructs). ``encoder`` maps the
    data to ``h`` features and ``decoder`` (with ``latent_dim = h``) maps them back: e.g. a
    ``ConvEncoder``/``ConvDecoder`` pair for images (the paper's embedding ``h`` is 64), or an
    ``MLPCritic(out_features=h)`` / ``MLPGenerator(latent_dim=h)`` pair for points."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        size = getattr(encoder, "latent_dim", getattr(encoder, "out_features", None))
        if size != getattr(decoder, "latent_dim", None):
            raise ConfigError(
                f"AutoencoderCritic: the encoder makes {size} features but the decoder takes "
                f"{getattr(decoder, 'latent_dim', None)}; give both the same size."
            )
        self.encoder, self.decoder = encoder, decoder

    def forward(self, v: Tensor) -> Tensor:
        return self.decoder(self.encoder(v).flatten(1)).view_as(v)
