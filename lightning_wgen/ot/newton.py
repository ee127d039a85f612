"""Damped Newton steps for the semi-discrete OT heights, with a Monte Carlo Hessian.

The energy ``E(h)`` of :mod:`lightning_wgen.ot.semidiscrete` has the gradient ``w(h) - 1/n`` and
a sparse Hessian: a graph Laplacian over the cells that share a facet, with
``-d w_i / d h_j = mu(F_ij) / |y_i - y_j|`` for the facet ``F_ij`` between cells i and j
(Kitagawa, Merigot, Thibert 2019, "Convergence of a Newton algorithm for semi-discrete optimal
transport", JEMS, arXiv:1603.05579, where the damped Newton method below converges globally).

Their facets are exact polytopes in 2D and 3D; here the dimension is that of a latent space, so
both the masses and the Hessian come from one pass over random source points.
A point whose best and second-best cells are i and j lies at the distance
``gap / |y_i - y_j|`` from their facet (``gap``: the difference of the two scores). The points
closer than ``t`` fill a slab of width ``2 t`` along the facet, so ``mu(F_ij)`` is their share
divided by ``2 t``. One width ``t`` in the cube serves all facets: every cell has the same mass,
so none is much thinner than the others, whatever the spacing of its code.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
from torch import Tensor

from lightning_wgen.ot.cells import (
    DEFAULT_CHUNK,
    CubeSampler,
    beyond_noise,
    mass_error,
    mass_error_floor,
    top_two_cells,
)


def masses_and_facets(
    codes: Tensor,
    heights: Tensor,
    sampler: CubeSampler,
    samples: int,
    *,
    facet_quantile: float = 0.05,
    batch: int = 1 << 16,
    chunk: int = DEFAULT_CHUNK,
) -> tuple[Tensor, Tensor]:
    """Monte Carlo cell masses ``(n,)`` (float64) and the Hessian's facet weights
    ``mu(F_ij) / |y_i - y_j|`` as a sparse symmetric ``(n, n)`` matrix. The slab's half-width
    ``t`` is the ``facet_quantile`` of the first batch's distances to the nearest facet."""
    n = codes.shape[0]
    counts = torch.zeros(n, dtype=torch.float64, device=codes.device)
    pairs, width = [], None
    for start in range(0, samples, batch):
        x = sampler.draw(min(batch, samples - start)).to(codes.dtype)
        first, second, gap = top_two_cells(x, codes, heights, chunk=chunk)
        counts += torch.bincount(first, minlength=n)
        spacing = (codes[first] - codes[second]).norm(dim=1)
        distance = gap / spacing  # duplicate codes (spacing 0) share no facet: inf or NaN
        if width is None:
            width = float(distance[spacing > 0].double().quantile(facet_quantile).clamp_min(1e-12))
        near = (distance < width) & (spacing > 0)
        pairs.append(first[near] * n + second[near])
    pair, count = torch.cat(pairs).unique(return_counts=True)
    rows, cols = pair // n, pair % n
    spacing = (codes[rows] - codes[cols]).norm(dim=1)
    weight = count.double() / (2 * samples * width * spacing.double())
    facets = torch.sparse_coo_tensor(
        torch.stack([torch.cat([rows, cols]), torch.cat([cols, rows])]),
        torch.cat([weight, weight]),
        (n, n),
        check_invariants=True,
    ).coalesce()
    return counts / samples, facets


def newton_direction(
    facets: Tensor, residual: Tensor, *, floor: float = 0.1, tol: float = 1e-8
) -> Tensor:
    """The height change ``delta`` (mean zero) with ``L delta = residual`` for the Laplacian
    ``L = diag(W 1) - W`` of the facet weights ``W``, by Jacobi-preconditioned conjugate
    gradients. Cells that the pass saw on few facets get their diagonal raised to ``floor``
    times the median one, which shortens their step and leaves the solution's fixed point alone."""
    degree = facets @ torch.ones(facets.shape[0], dtype=facets.dtype, device=facets.device)
    positive = degree[degree > 0]
    typical = float(positive.median()) if len(positive) else 1.0
    diagonal = degree.clamp_min(floor * typical) + 1e-9 * typical
    residual = residual - residual.mean()
    x = torch.zeros_like(residual)
    r = residual.clone()
    z = r / diagonal
    p = z.clone()
    rz = r @ z
    target = tol * float(residual.norm())
    if target == 0:
        return torch.zeros_like(residual)
    for _ in range(10 * len(residual)):
        product = diagonal * p - facets @ p
        alpha = rz / (p @ product)
        x += alpha * p
        r -= alpha * product
        if float(r.norm()) <= target:
            break
        z = r / diagonal
        rz, rz_old = r @ z, rz
        p = z + (rz / rz_old) * p
    return x - x.mean()


def samples_for(error: float, n: int, low: int, high: int) -> int:
    """The point count whose noise floor (:func:`mass_error_floor`) is a third of ``error``."""
    wanted = n * (3 * mass_error_floor(n, n) / max(error, 1e-9)) ** 2
    return int(min(high, max(low, wanted)))


def newton_heights(
    codes: Tensor,
    heights: Tensor,
    sampler: CubeSampler,
    *,
    target_error: float,
    min_samples: int,
    max_samples: int,
    max_steps: int,
    deadline: float | None = None,
    facet_quantile: float = 0.05,
    min_step: float = 1.0 / 1024,
    batch: int = 1 << 16,
    chunk: int = DEFAULT_CHUNK,
    callback: Callable[[int, Tensor], None] | None = None,
    history: list[dict[str, float]] | None = None,
) -> tuple[Tensor, int, int, float]:
    """Damped Newton from ``heights`` until the estimated :func:`mass_error` beyond the noise of
    its points is below ``target_error``: returns the heights, steps, last point count and
    estimated error. Every step is checked on fresh points and halved until it shrinks the
    residual ``|w - 1/n|`` (within a noise allowance) and keeps every cell at least half of
    ``min(min_i w_i, 1/n)`` (KMT's damping); below ``min_step`` it stops where it is. The point
    count grows so that its noise floor stays a ninth of the error still to remove."""
    n = codes.shape[0]
    history = history if history is not None else []
    options = {"facet_quantile": facet_quantile, "batch": batch, "chunk": chunk}
    samples = samples_for(1.0, n, min_samples, max_samples)
    masses, facets = masses_and_facets(codes, heights, sampler, samples, **options)
    error = mass_error(masses)
    steps = 0
    while True:
        remaining = beyond_noise(error, n, samples, "random")
        history.append({"newton_step": steps, "samples": samples, "error": error})
        out_of_time = deadline is not None and time.perf_counter() > deadline
        if remaining < target_error or steps >= max_steps or out_of_time:
            break
        direction = newton_direction(facets, 1.0 / n - masses).to(heights.dtype)
        residual = float((masses - 1.0 / n).norm())
        least = 0.5 * min(float(masses.min()), 1.0 / n)
        tau = 1.0
        while tau >= min_step:
            trial = heights + tau * direction
            trial_samples = samples_for(remaining / 3, n, samples, max_samples)
            trial_masses, trial_facets = masses_and_facets(
                codes, trial, sampler, trial_samples, **options
            )
            noise = 2 / math.sqrt(trial_samples)  # about twice the norm of the masses' noise
            shrinks = float((trial_masses - 1.0 / n).norm()) < (1 - tau / 4) * residual + noise
            if shrinks and float(trial_masses.min()) >= least:
                break
            tau /= 2
        else:
            break  # no step along the direction helps: keep the heights we have
        heights, masses, facets, samples = trial, trial_masses, trial_facets, trial_samples
        error = mass_error(masses)
        steps += 1
        if callback is not None:
            callback(steps, heights)
    return heights - heights.mean(), steps, samples, error
