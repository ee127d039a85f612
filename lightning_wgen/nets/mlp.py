"""Fully connected networks for low-dimensional (toy 2D) data."""

from __future__ import annotations

from torch import Tensor, nn

from lightning_wgen.errors import ConfigError, require_at_least


def mlp(
    in_features: int, out_features: int, hidden_features: int, num_hidden_layers: int
) -> nn.Sequential:
    """``num_hidden_layers`` Linear+ReLU blocks of width ``hidden_features``, then a Linear head."""
    if num_hidden_layers < 1:
        raise ConfigError(f"num_hidden_layers must be >= 1, got {num_hidden_layers}.")
    layers: list[nn.Module] = []
    width = in_features
    for _ in range(num_hidden_layers):
        layers += [nn.Linear(width, hidden_features), nn.ReLU()]
        width = hidden_features
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """Maps noise ``(B, latent_dim)`` to points ``(B, data_dim)`` (linear output, data units)."""

    def __init__(
        self,
        latent_dim: int = 2,
        data_dim: int = 2,
        hidden_features: int = 512,
        num_hidden_layers: int = 3,
    ) -> None:
        super().__init__()
        require_at_least(
            "MLPGenerator",
            1,
            latent_dim=latent_dim,
            data_dim=data_dim,
            hidden_features=hidden_features,
        )
        self.latent_dim = latent_dim
        self.net = mlp(latent_dim, data_dim, hidden_features, num_hidden_layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class MLPCritic(nn.Module):
    """Maps points ``(B, data_dim)`` to unbounded scores ``(B,)``, or to features
    ``(B, out_features)`` when ``out_features > 1`` (the critic of Cramér GAN)."""

    def __init__(
        self,
        data_dim: int = 2,
        hidden_features: int = 512,
        num_hidden_layers: int = 3,
        out_features: int = 1,
    ) -> None:
        super().__init__()
        require_at_least(
            "MLPCritic",
            1,
            data_dim=data_dim,
            hidden_features=hidden_features,
            out_features=out_features,
        )
        self.net = mlp(data_dim, out_features, hidden_features, num_hidden_layers)
        self.out_features = out_features

    def forward(self, x: Tensor) -> Tensor:
        out = self.net(x)
        return out.squeeze(-1) if self.out_features == 1 else out


class MLPEncoder(nn.Module):
    """Maps points ``(B, data_dim)`` to codes ``(B, latent_dim)``, or with ``gaussian`` to the mean
    and log-variance of a diagonal Gaussian ``(B, 2 * latent_dim)`` (ALI's stochastic encoder
    on 2-D data; also the data branch of a ``PairDiscriminator``)."""

    def __init__(
        self,
        data_dim: int = 2,
        latent_dim: int = 2,
        hidden_features: int = 512,
        num_hidden_layers: int = 3,
        gaussian: bool = False,
    ) -> None:
        super().__init__()
        require_at_least(
            "MLPEncoder",
            1,
            data_dim=data_dim,
            latent_dim=latent_dim,
            hidden_features=hidden_features,
        )
        self.latent_dim, self.gaussian = latent_dim, gaussian
        out = latent_dim * (2 if gaussian else 1)
        self.net = mlp(data_dim, out, hidden_features, num_hidden_layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
