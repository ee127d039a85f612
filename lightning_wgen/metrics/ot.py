"""Optimal-transport diagnostics: exact and sliced W1 with POT, and the critic's empirical slopes.

A WGAN critic's estimate ``E f(real) - E f(fake)`` lower-bounds W1 only while the critic is
1-Lipschitz. Logging it next to the exact minibatch W1 of the same two batches, and next to the
distribution of the critic's input-gradient norms, shows whether the estimate can be trusted.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import ot
import torch
from torch import Tensor

from lightning_wgen.losses import critic_slopes, random_interpolates, wasserstein_estimate


def _points(x: Tensor) -> np.ndarray:
    return x.detach().flatten(1).cpu().double().numpy()


def exact_w1(x: Tensor, y: Tensor) -> float:
    """Exact W1 between the empirical measures of ``x`` ``(N, ...)`` and ``y`` ``(M, ...)``.

    Samples are flattened to vectors. Solves the discrete optimal-transport linear program
    ``min_P <P, C>`` over couplings of uniform weights, ``C_ij = ||x_i - y_j||_2`` (Peyre & Cuturi
    2019, "Computational Optimal Transport", Eq. 2.15), by network simplex (``ot.emd2``; Bonneel et
    al. 2011), in float64.
    """
    a, b = _points(x), _points(y)
    cost = ot.dist(a, b, metric="euclidean")
    return float(ot.emd2(ot.unif(len(a)), ot.unif(len(b)), cost, numItermax=10_000_000))


def sliced_w1(x: Tensor, y: Tensor, *, n_projections: int = 200, seed: int = 0) -> float:
    """Sliced W1: the mean over random unit directions ``theta`` of W1(<theta, x>, <theta, y>).

    Rabin et al. 2011 and Bonneel et al. 2015, "Sliced and Radon Wasserstein barycenters of
    measures", Eq. 4 with p = 1; POT's ``ot.sliced_wasserstein_distance``. Samples are flattened.
    """
    return float(
        ot.sliced_wasserstein_distance(
            _points(x), _points(y), n_projections=n_projections, p=1, seed=seed
        )
    )


def ot_diagnostics(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    *,
    n_projections: int = 200,
    seed: int = 0,
    features: Callable[[Tensor], Tensor] | None = None,
) -> tuple[dict[str, float], Tensor]:
    """The critic's W1 estimate beside the exact and sliced W1 of the same two batches.

    Returns the values and the slopes themselves. Values: ``w1_critic``; ``w1_exact``; ``sw1``;
    the critic's input-gradient norms at random interpolates (``slope_mean``, ``slope_p50``,
    ``slope_p90``, ``slope_max``: its empirical Lipschitz constant); and ``w1_critic_rescaled``,
    the estimate of ``f / slope_max``.

    Kantorovich-Rubinstein duality bounds the estimate of a 1-Lipschitz critic by W1 from below.
    A penalised critic is not 1-Lipschitz: a WGAN-GP critic settles near the slope
    ``k = 1 + W1 / (2 lambda)`` that minimises its loss ``-k W1 + lambda (k - 1)^2``, so
    ``w1_critic`` can exceed W1 while the rescaled value stays below it. With ``features``, W1
    and SW1 are computed between the two batches' features instead of their flattened pixels.
    """
    with torch.no_grad():
        w1_critic = float(wasserstein_estimate(critic(real).float(), critic(fake).float()))
        a, b = (features(real), features(fake)) if features is not None else (real, fake)
    rng = torch.Generator().manual_seed(seed)
    slopes = critic_slopes(critic, random_interpolates(real, fake, rng)).float().cpu()
    quantiles = torch.quantile(slopes, torch.tensor([0.5, 0.9]))
    values = {
        "w1_critic": w1_critic,
        "w1_exact": exact_w1(a, b),
        "sw1": sliced_w1(a, b, n_projections=n_projections, seed=seed),
        "slope_mean": float(slopes.mean()),
        "slope_p50": float(quantiles[0]),
        "slope_p90": float(quantiles[1]),
        "slope_max": float(slopes.max()),
        "w1_critic_rescaled": w1_critic / max(float(slopes.max()), 1e-12),
    }
    return values, slopes
