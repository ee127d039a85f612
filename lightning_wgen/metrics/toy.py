"""Metrics for 2D mixtures: mode coverage and quality (VEEGAN/PacGAN protocol) and exact W1."""

from __future__ import annotations

import numpy as np
import ot
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


def exact_w1(x: Tensor, y: Tensor) -> float:
    """Exact W1 between the empirical measures of ``x`` ``(N, d)`` and ``y`` ``(M, d)``.

    Solves the discrete optimal-transport linear program with uniform weights and Euclidean
    ground cost by network simplex (``ot.emd2``; Bonneel et al. 2011), in float64.
    """
    a = x.detach().cpu().double().numpy()
    b = y.detach().cpu().double().numpy()
    cost = ot.dist(a, b, metric="euclidean")
    weights_a = np.full(len(a), 1.0 / len(a))
    weights_b = np.full(len(b), 1.0 / len(b))
    return float(ot.emd2(weights_a, weights_b, cost, numItermax=10_000_000))
