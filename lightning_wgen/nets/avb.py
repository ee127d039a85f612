"""The two networks of Adversarial Variational Bayes (Mescheder, Nowozin, Geiger 2017): an
implicit encoder that takes noise as a second input, and an adversary on (data, code) pairs."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lightning_wgen.errors import ConfigError
from lightning_wgen.nets.mlp import mlp


def _features(trunk: nn.Module, name: str) -> int:
    size = getattr(trunk, "latent_dim", None)
    if not isinstance(size, int) or size < 1:
        raise ConfigError(
            f"{name}'s trunk {type(trunk).__name__} needs a `latent_dim` attribute (its output "
            f"size), got {size!r}; use e.g. a ConvEncoder."
        )
    return size


class ImplicitEncoder(nn.Module):
    """``z = f(x, eps)``: a sampler of ``q(z | x)`` with no density (AVB, Sec. 3: the "black-box"
    inference model). ``trunk`` maps the data to ``trunk.latent_dim`` features; they are joined
    with the noise ``eps ~ N(0, I_noise_dim)`` and an MLP (``num_hidden_layers`` of
    ``hidden_features``) makes the code. Called without ``eps``, it uses ``eps = 0``, the noise's
    mean: the deterministic code that reconstructions and ``encode`` use."""

    implicit = True

    def __init__(
        self,
        trunk: nn.Module,
        latent_dim: int = 8,
        noise_dim: int | None = None,
        hidden_features: int = 256,
        num_hidden_layers: int = 2,
    ) -> None:
        super().__init__()
        self.trunk = trunk
        self.latent_dim = latent_dim
        self.noise_dim = latent_dim if noise_dim is None else noise_dim
        features = _features(trunk, "ImplicitEncoder")
        self.head = mlp(features + self.noise_dim, latent_dim, hidden_features, num_hidden_layers)

    def forward(self, x: Tensor, eps: Tensor | None = None) -> Tensor:
        """Codes ``(B, latent_dim)`` for noise ``(B, noise_dim)``, or ``(K, B, latent_dim)``
        for ``(K, B, noise_dim)``: K codes per image, the trunk run once."""
        h = self.trunk(x).flatten(1)
        if eps is None:
            eps = h.new_zeros(h.shape[0], self.noise_dim)
        if eps.dim() == 3:
            h = h.expand(eps.shape[0], *h.shape)
        return self.head(torch.cat([h, eps], dim=-1))


class PairDiscriminator(nn.Module):
    """The adversary ``T(x, z)`` ``(B,)``: ``trunk`` features of the data joined with the code,
    through an MLP. Trained to tell pairs ``(x, z ~ q(z | x))`` from ``(x, z ~ p(z))``, its
    optimum is ``log q(z | x) - log p(z)`` (AVB, Proposition 1)."""

    def __init__(
        self,
        trunk: nn.Module,
        latent_dim: int = 8,
        hidden_features: int = 256,
        num_hidden_layers: int = 2,
    ) -> None:
        super().__init__()
        self.trunk = trunk
        self.latent_dim = latent_dim
        features = _features(trunk, "PairDiscriminator")
        self.head = mlp(features + latent_dim, 1, hidden_features, num_hidden_layers)

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        return self.head(torch.cat([self.trunk(x).flatten(1), z], dim=1)).squeeze(1)
