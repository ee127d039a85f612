"""Whether the networks fit together and fit the data: one line before the first step instead of
a traceback inside it."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lightning_wgen.errors import ConfigError, first_line


def sample_shape_of(
    chain: list[tuple[str, nn.Module]], latent_dim: int, device: torch.device
) -> tuple[int, ...] | None:
    """Run 2 standard normal codes (from a generator of their own) through the networks of
    ``chain`` (the sampling network first, then those taking its outputs) in eval mode without
    gradients; the shape of one sample of the first network, or ``None`` for an empty chain.
    A shape mismatch is one :class:`ConfigError` line."""
    if not chain:
        return None
    x = torch.randn(2, latent_dim, generator=torch.Generator().manual_seed(0)).to(device)
    shapes = [tuple(x.shape[1:])]
    modes = {net: net.training for _, net in chain}
    try:
        with torch.no_grad():
            for i, (name, net) in enumerate(chain):
                net.eval()
                try:
                    x = net(x)
                except (RuntimeError, ValueError, IndexError) as err:
                    source = "noise" if i == 0 else f"the {chain[i - 1][0]}'s outputs"
                    raise ConfigError(
                        f"the {name} {type(net).__name__} cannot take {source} of shape "
                        f"{shapes[-1]} ({first_line(err)}); give the networks matching "
                        "latent_dim, channels and image_size (or data_dim)."
                    ) from None
                shapes.append(tuple(x.shape[1:]))
    finally:
        for net, mode in modes.items():
            net.train(mode)
    return shapes[1]


def check_data_shape(x: Tensor, sample_shape: tuple[int, ...] | None, made_by: str) -> None:
    """One line when the data's samples ``x`` do not have the ``sample_shape`` the ``made_by``
    network makes (``None``: not known yet)."""
    if sample_shape is not None and tuple(x.shape[1:]) != sample_shape:
        raise ConfigError(
            f"the data gives samples of shape {tuple(x.shape[1:])} but the {made_by} makes "
            f"{sample_shape}: give the data and the networks the same image_size and channels"
        )
