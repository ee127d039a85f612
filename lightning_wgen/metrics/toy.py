"""Metrics for 2D mixtures: mode coverage and quality (VEEGAN/PacGAN protocol)."""

from __future__ import annotations

import torch
from torch import Tensor


def mode_metrics(
    samples: Tensor, modes: Tensor, std: float, *, radius: float = 3.0
) -> dict[str, float]:
    """Modes captured and high-quality fraction of ``samples`` ``(N, 2)`` for a Gaussian mixture.

    Srivastava et al. 2017 (VEEGAN, Sec. 5.1) and Lin et al. 2018 (PacGAN, Sec. 5): a sample is
    *high quality* if it lies within ``radius`` standard deviations of its nearest mode; a mode is
    *captured* if at least one sample lies within ``radius`` standard deviations of it.

    Returns ``modes`` (captured count), ``num_modes`` and ``high_quality`` (fraction in [0, 1]).
    """
    distances = torch.cdist(samples.double(), modes.double())
    near = distances <= radius * std
    return {
        "modes": int(near.any(dim=0).sum()),
        "num_modes": len(modes),
        "high_quality": float(near.any(dim=1).double().mean()),
    }
