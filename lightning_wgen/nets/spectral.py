"""Spectral normalisation of a whole network (Miyato et al. 2018)."""

from __future__ import annotations

from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

NORMALISED_LAYERS = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def spectral_normalized(module: nn.Module, n_power_iterations: int = 1) -> nn.Module:
    """``module`` with every linear and convolutional weight spectrally normalised, in place.

    Miyato et al. 2018, "Spectral Normalization for GANs", Eq. 8: ``W / sigma(W)`` with
    ``sigma(W)`` the largest singular value of the weight reshaped to ``(out, in * k * k)``,
    estimated by ``n_power_iterations`` power iterations per forward pass in training mode
    (Algorithm 1), through ``torch.nn.utils.parametrizations.spectral_norm``. Layers that are
    already parametrised are left as they are, so applying it twice changes nothing.
    """
    for layer in module.modules():
        if isinstance(layer, NORMALISED_LAYERS) and not parametrize.is_parametrized(
            layer, "weight"
        ):
            spectral_norm(layer, n_power_iterations=n_power_iterations)
    return module
