"""Semi-discrete optimal transport from the uniform measure on the unit cube to n equal-mass codes.

For codes ``y_1..y_n`` in ``R^d`` and heights ``h``, the Brenier potential
``u_h(x) = max_i <x, y_i> + h_i`` cuts the source domain ``Omega = [0, 1]^d`` into power cells
``W_i(h) = {x : <x, y_i> + h_i >= <x, y_j> + h_j for all j}``, and ``grad u_h`` sends ``W_i`` to
``y_i``. It is the optimal transport map for the quadratic cost when every cell has the code's
mass, ``w_i(h) = mu(W_i(h)) = 1/n``; those heights minimise the convex energy
``E(h) = int u_h dmu - sum_i h_i / n``, whose gradient is ``w(h) - 1/n`` (An et al. 2020, "AE-OT: A
new generative model based on extended semi-discrete optimal transport", ICLR, Sec. 3, Eq. 6-8;
Gu, Luo, Sun, Yau 2016, Thm. 3.2). Concave in the other sign convention, as in POT's
:func:`ot.semidiscrete.solve_semidiscrete`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from lightning_wgen.errors import ConfigError
from lightning_wgen.ot.cells import (
    DEFAULT_CHUNK,
    CubeSampler,
    beyond_noise,
    cell_counts,
    check_codes,
    mass_error,
    nearest_code_distance,
    voronoi_heights,
)
from lightning_wgen.ot.newton import newton_heights

SOLVERS = ("newton", "adam", "pot")


@dataclass
class SemiDiscreteResult:
    """Heights ``(n,)`` (mean zero) and how the solver got them."""

    heights: Tensor
    steps: int
    samples: int
    seconds: float
    estimated_error: float
    history: list[dict[str, float]] = field(default_factory=list)


def solve_semidiscrete_ot(
    codes: Tensor,
    *,
    solver: str = "newton",
    target_error: float = 0.02,
    max_steps: int = 5000,
    max_seconds: float | None = None,
    lr: float | None = None,
    lr_scale: float = 0.1,
    lr_stall_factor: float = 0.5,
    samples: int | None = None,
    max_samples: int = 1 << 24,
    stall_steps: int = 10,
    sampler: str = "random",
    newton_from: float = 1.0,
    warmup_steps: int = 300,
    facet_quantile: float = 0.05,
    batch: int = 1 << 16,
    chunk: int = DEFAULT_CHUNK,
    seed: int = 0,
    callback: Callable[[int, Tensor], None] | None = None,
    pot_options: dict | None = None,
) -> SemiDiscreteResult:
    """Heights that give every code the mass ``1/n`` of the uniform measure on ``[0, 1]^d``.

    ``solver="adam"`` is Algorithm 1 of An et al. (2020): descent on ``E(h)`` with the Monte
    Carlo gradient ``w(h) - 1/n`` over ``samples`` source points, Adam (beta1 0.9, beta2 0.5),
    the update centred so that the heights keep mean zero, and the point count doubled when
    ``E(h)`` has not reached a new minimum for ``stall_steps`` steps (up to ``max_samples``).
    Three choices of ours, each measured on n = 1,000 Gaussian codes in d = 8 (see
    docs/aeot.md): the start is :func:`voronoi_heights`, not zero (no far-off empty cells to
    fill one small step at a time); each cell's step is ``lr_scale`` times the height change
    that moves its nearest boundary by one cell width, ``|y_i - y_nearest| / n^(1/d)`` (codes in
    tight clusters need small steps, lone codes large ones; ``lr`` sets one rate for all); and a
    stall also multiplies the steps by ``lr_stall_factor``, since Adam's normalised steps
    otherwise circle the optimum at a fixed size. ``sampler="random"`` draws fresh points every
    step; ``"sobol"`` integrates every step over the same scrambled Sobol points (the authors'
    pyOMT code), which reads lower errors on those points than on fresh ones. It stops when the
    estimated :func:`mass_error`, less the share that sampling noise explains
    (:func:`mass_error_floor`, in quadrature), is below ``target_error`` twice in a row with the
    point count doubled in between; after ``max_steps``; or after ``max_seconds``. ``samples``
    defaults to ``16 n``.

    ``solver="newton"`` (the default: faster than both others where we measured, see
    docs/aeot.md) takes damped Newton steps with a Monte Carlo Hessian
    (:func:`lightning_wgen.ot.newton.newton_heights`), each checked on fresh points, from the
    Voronoi start until the error beyond noise is below ``target_error``. Where no Newton step
    helps from there (1,000 codes in d = 8 do that), it restarts: those Adam steps until the
    error is below ``newton_from`` (at most ``warmup_steps``; on some codes Adam stalls above
    it), then Newton again. At most ``max_steps`` steps of each kind.

    ``solver="pot"`` calls POT's :func:`ot.semidiscrete.solve_semidiscrete` (averaged SGD with a
    decreasing entropic regularisation; Genans et al., NeurIPS 2025) with the cost
    ``c(x, y) = -<x, y>``, so that its potential is ``h``; ``pot_options`` go to it
    (``max_iter``, ``batch_size``, ``lr0``, ...). ``callback(step, heights)`` is called after
    every Adam or Newton step.
    """
    check_codes(codes)
    if solver not in SOLVERS:
        raise ConfigError(f"solver must be one of {SOLVERS}, got {solver!r}.")
    if target_error <= 0 or max_steps < 1:
        raise ConfigError(
            f"target_error must be > 0 and max_steps >= 1, got {target_error} and {max_steps}."
        )
    if solver == "pot":
        return _solve_with_pot(codes, seed, pot_options or {})
    n, d = codes.shape
    start = time.perf_counter()
    deadline = None if max_seconds is None else start + max_seconds
    if lr is None:
        lr = lr_scale * nearest_code_distance(codes) / n ** (1.0 / d)
    else:
        lr = torch.full((n,), float(lr), dtype=codes.dtype, device=codes.device)
    adam_samples = samples or 16 * n
    source = CubeSampler(d, sampler, seed, codes.device)
    history: list[dict[str, float]] = []
    common = {"batch": batch, "chunk": chunk, "callback": callback, "history": history}
    polish = solver == "newton" and n > 1 and target_error < newton_from
    newton_options = {
        "target_error": target_error,
        "max_samples": max_samples,
        "max_steps": max_steps,
        "deadline": deadline,
        "facet_quantile": facet_quantile,
        **common,
    }
    start_heights = voronoi_heights(codes)
    if polish:
        # Newton straight from the Voronoi start (every cell occupied, as KMT need) often
        # solves small problems; where no step helps, Adam moves the heights closer first.
        heights, steps, samples, error = newton_heights(
            codes, start_heights, source, min_samples=256 * n, **newton_options
        )
        if beyond_noise(error, n, samples, "random") < target_error:
            return _result(heights, steps, samples, start, error, history)
    heights, adam_steps, samples, error = _adam_heights(
        codes,
        start_heights,
        source,
        target_error=newton_from if polish else target_error,
        lr=lr,
        lr_stall_factor=lr_stall_factor,
        samples=adam_samples,
        max_samples=max_samples,
        stall_steps=stall_steps,
        max_steps=min(max_steps, warmup_steps) if polish else max_steps,
        deadline=deadline,
        **common,
    )
    steps = adam_steps + (steps if polish else 0)
    # From Adam's heights even when Adam stalled above newton_from: a Newton step that does not
    # help is never taken, so the worst case is Adam's heights.
    if polish:
        heights, newton_steps, samples, error = newton_heights(
            codes, heights, source, min_samples=samples, **newton_options
        )
        steps += newton_steps
    return _result(heights, steps, samples, start, error, history)


def _result(
    heights: Tensor,
    steps: int,
    samples: int,
    start: float,
    error: float,
    history: list[dict[str, float]],
) -> SemiDiscreteResult:
    return SemiDiscreteResult(
        heights=heights - heights.mean(),
        steps=steps,
        samples=samples,
        seconds=time.perf_counter() - start,
        estimated_error=error,
        history=history,
    )


def _adam_heights(
    codes: Tensor,
    heights: Tensor,
    source: CubeSampler,
    *,
    target_error: float,
    lr: Tensor,
    lr_stall_factor: float,
    samples: int,
    max_samples: int,
    stall_steps: int,
    max_steps: int,
    deadline: float | None,
    batch: int,
    chunk: int,
    callback: Callable[[int, Tensor], None] | None,
    history: list[dict[str, float]],
) -> tuple[Tensor, int, int, float]:
    """The Adam loop of :func:`solve_semidiscrete_ot`: heights, steps, point count, error."""
    n = len(codes)
    first = torch.zeros_like(heights)
    second = torch.zeros_like(heights)
    beta1, beta2, eps = 0.9, 0.5, 1e-12
    best_energy, since_best = math.inf, 0
    error = math.inf
    step = 0
    confirming = False
    for step in range(1, max_steps + 1):
        if source.kind == "sobol":
            source.restart()
        counts, mean_potential = cell_counts(codes, heights, source, samples, batch, chunk)
        masses = (counts / samples).to(codes.dtype)
        energy = mean_potential - float(heights.double().mean())
        error = mass_error(masses)
        history.append({"step": step, "samples": samples, "energy": energy, "error": error})
        if beyond_noise(error, n, samples, source.kind) < target_error:
            # Below target on these points: confirm on twice as many before stopping, so that
            # the heights fit the cube and not one draw of it.
            if confirming or samples >= max_samples:
                break
            samples, confirming = min(2 * samples, max_samples), True
            continue
        confirming = False
        gradient = masses - 1.0 / n
        first.mul_(beta1).add_(gradient, alpha=1 - beta1)
        second.mul_(beta2).addcmul_(gradient, gradient, value=1 - beta2)
        update = (first / (1 - beta1**step)) / ((second / (1 - beta2**step)).sqrt() + eps)
        step_ = lr * update
        heights = heights - (step_ - step_.mean())
        if callback is not None:
            callback(step, heights)
        if energy < best_energy:
            best_energy, since_best = energy, 0
        else:
            since_best += 1
        if since_best >= stall_steps:
            samples = min(2 * samples, max_samples)
            lr = lr * lr_stall_factor
            best_energy, since_best = math.inf, 0
        if deadline is not None and time.perf_counter() > deadline:
            break
    return heights, step, samples, error


def _solve_with_pot(codes: Tensor, seed: int, options: dict) -> SemiDiscreteResult:
    from ot.semidiscrete import solve_semidiscrete

    n, d = codes.shape
    rng = torch.Generator(device=codes.device).manual_seed(seed)

    def uniform_cube(batch: int) -> Tensor:
        return torch.rand(batch, d, generator=rng, device=codes.device, dtype=codes.dtype)

    def negative_inner_product(x: Tensor, y: Tensor) -> Tensor:
        return -(x @ y.T)

    kwargs = {"max_iter": 10_000, "batch_size": 256, **options}
    start = time.perf_counter()
    potential = solve_semidiscrete(
        codes, sampler_source=uniform_cube, metric=negative_inner_product, **kwargs
    )
    return SemiDiscreteResult(
        heights=potential - potential.mean(),
        steps=int(kwargs["max_iter"]),
        samples=int(kwargs["max_iter"]) * int(kwargs["batch_size"]),
        seconds=time.perf_counter() - start,
        estimated_error=math.nan,
    )
