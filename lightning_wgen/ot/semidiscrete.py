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

Every cell mass is a Monte Carlo estimate: the share of source samples whose argmax is the cell.
The argmax is taken in chunks of samples and of codes, so memory stays bounded by ``chunk``
scores whatever n and the sample count are.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor

from lightning_wgen.errors import ConfigError

SOLVERS = ("adam", "pot")
# Scores held at once by the chunked argmax: 2^18 floats (1 MiB in float32), the fastest
# block on a 2-core CPU (1.1-1.7 G scores/s for n = 1k-10k, d = 8); GPUs take larger ones.
DEFAULT_CHUNK = 1 << 18


def _check_codes(codes: Tensor, heights: Tensor | None = None) -> None:
    if codes.ndim != 2 or codes.shape[0] < 1 or codes.shape[1] < 1:
        raise ConfigError(
            f"codes must be a (n, d) tensor with n, d >= 1, got shape {tuple(codes.shape)}."
        )
    if not torch.isfinite(codes).all():
        raise ConfigError("codes contain NaN or infinite values; encode finite data.")
    if heights is not None and heights.shape != (codes.shape[0],):
        raise ConfigError(
            f"heights must have shape ({codes.shape[0]},) to match the codes, got "
            f"{tuple(heights.shape)}."
        )


def power_cells(
    x: Tensor, codes: Tensor, heights: Tensor, *, chunk: int = DEFAULT_CHUNK
) -> tuple[Tensor, Tensor]:
    """For each row of ``x`` ``(N, d)``: the index of its power cell, ``argmax_i <x, y_i> + h_i``,
    and the value of the potential ``u_h(x)`` there. Chunked over samples and codes so that at
    most ``chunk`` scores exist at once."""
    n = codes.shape[0]
    code_block = max(1, min(n, chunk // 1024))
    sample_block = max(1, chunk // code_block)
    index = torch.empty(len(x), dtype=torch.long, device=x.device)
    value = torch.empty(len(x), dtype=codes.dtype, device=x.device)
    for s in range(0, len(x), sample_block):
        xs = x[s : s + sample_block]
        best_value = torch.full((len(xs),), -math.inf, dtype=codes.dtype, device=x.device)
        best_index = torch.zeros(len(xs), dtype=torch.long, device=x.device)
        for c in range(0, n, code_block):
            scores = torch.addmm(heights[c : c + code_block], xs, codes[c : c + code_block].T)
            block_value, block_index = scores.max(dim=1)
            better = block_value > best_value
            best_value = torch.where(better, block_value, best_value)
            best_index = torch.where(better, block_index + c, best_index)
        index[s : s + sample_block] = best_index
        value[s : s + sample_block] = best_value
    return index, value


class CubeSampler:
    """Points of the uniform measure on ``[0, 1]^d``, made in batches on ``device``.

    ``"sobol"``: a scrambled Sobol sequence (randomised quasi-Monte Carlo, as in the authors'
    pyOMT code); :meth:`restart` replays it from its first point, so every step of the solver
    integrates over the same points. ``"random"``: independent uniform draws.
    """

    def __init__(self, d: int, kind: str, seed: int, device: torch.device) -> None:
        if kind not in ("sobol", "random"):
            raise ConfigError(f"sampler must be 'sobol' or 'random', got {kind!r}.")
        self.d, self.kind, self.seed, self.device = d, kind, seed, device
        self.restart()

    def restart(self) -> None:
        if self.kind == "sobol":
            self._engine = torch.quasirandom.SobolEngine(self.d, scramble=True, seed=self.seed)
        else:
            self._rng = torch.Generator(device=self.device).manual_seed(self.seed)

    def draw(self, n: int) -> Tensor:
        if self.kind == "sobol":
            return self._engine.draw(n).to(self.device)
        return torch.rand(n, self.d, generator=self._rng, device=self.device)


def assigned_points(
    codes: Tensor, heights: Tensor, sampler: CubeSampler, samples: int, batch: int, chunk: int
) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
    """``samples`` source points in batches of ``batch``: each batch with its
    :func:`power_cells` indices and potential values."""
    for start in range(0, samples, batch):
        x = sampler.draw(min(batch, samples - start)).to(codes.dtype)
        yield x, *power_cells(x, codes, heights, chunk=chunk)


def _cell_counts(
    codes: Tensor, heights: Tensor, sampler: CubeSampler, samples: int, batch: int, chunk: int
) -> tuple[Tensor, float]:
    """Cell counts of ``samples`` source points and the mean of ``u_h`` over them."""
    counts = torch.zeros(len(codes), dtype=torch.float64, device=codes.device)
    potential = 0.0
    for _, index, value in assigned_points(codes, heights, sampler, samples, batch, chunk):
        counts += torch.bincount(index, minlength=len(codes))
        potential += float(value.double().sum())
    return counts, potential / samples


def cell_masses(
    codes: Tensor,
    heights: Tensor,
    *,
    samples: int = 1 << 22,
    seed: int = 12345,
    batch: int = 1 << 16,
    chunk: int = DEFAULT_CHUNK,
) -> Tensor:
    """Monte Carlo masses ``w_i(h)`` ``(n,)`` of the power cells, from ``samples`` independent
    uniform points of ``[0, 1]^d`` (pseudo-random, drawn with ``seed``)."""
    _check_codes(codes, heights)
    sampler = CubeSampler(codes.shape[1], "random", seed, codes.device)
    counts, _ = _cell_counts(codes, heights.to(codes.dtype), sampler, samples, batch, chunk)
    return counts / samples


def mass_error(masses: Tensor) -> float:
    """``max_i |w_i - 1/n| * n``: the largest relative error of a cell mass."""
    n = len(masses)
    return float((masses.double() - 1.0 / n).abs().max() * n)


def mass_error_floor(n: int, samples: int) -> float:
    """The :func:`mass_error` that ``samples`` Monte Carlo points read for *exact* heights, on
    average: ``sqrt(n / samples) * E max_i |Z_i|`` over n standard normals (the binomial count of
    each cell, normal approximation; ``E max |Z| ~ sqrt(2 ln 2n)``). A measured error is
    meaningful only well above it."""
    return math.sqrt(n / samples) * math.sqrt(2 * math.log(2 * n))


def cube_frame(codes: Tensor) -> Tensor:
    """The codes scaled into the unit cube, ``z_i = (y_i - mid) / range + 1/2`` with one
    ``range`` (the widest axis's) for all axes. Power cells do not change under it (with the
    heights divided by ``range``): ``<x, y_i> = range * <x, z_i> + (terms without i)``."""
    low, high = codes.min(dim=0).values, codes.max(dim=0).values
    return (codes - (low + high) / 2) / _code_range(codes) + 0.5


def _code_range(codes: Tensor) -> float:
    return float((codes.max(dim=0).values - codes.min(dim=0).values).max().clamp_min(1e-12))


def voronoi_heights(codes: Tensor) -> Tensor:
    """Heights whose power cells are the Voronoi cells of the :func:`cube_frame` codes within
    the cube: ``h_i = -range * |z_i|^2 / 2``, since ``argmax_i <x, z_i> - |z_i|^2 / 2`` is the
    nearest ``z_i``: the solver's start, close to the data's shape and without far-off empty
    cells."""
    heights = -_code_range(codes) * cube_frame(codes).square().sum(dim=1) / 2
    return heights - heights.mean()


def _beyond_noise(error: float, n: int, samples: int, sampler: str) -> float:
    """The part of a measured :func:`mass_error` that random sampling noise does not explain
    (the two add roughly in quadrature); Sobol points are not charged the random floor."""
    if sampler != "random":
        return error
    return math.sqrt(max(error**2 - mass_error_floor(n, samples) ** 2, 0.0))


def nearest_code_distance(codes: Tensor, *, block: int = 4096) -> Tensor:
    """``min_{j != i} |y_i - y_j|`` for every code ``(n,)``; a lone code gets its own norm + 1."""
    n = len(codes)
    if n == 1:
        return codes.norm(dim=1) + 1
    out = torch.empty(n, dtype=codes.dtype, device=codes.device)
    for start in range(0, n, block):
        distance = torch.cdist(codes[start : start + block], codes)
        rows = torch.arange(len(distance), device=codes.device)
        distance[rows, rows + start] = torch.inf
        out[start : start + block] = distance.min(dim=1).values
    # Duplicate codes share a cell boundary that no height can move; give them a usable step.
    positive = out[out > 0]
    floor = positive.min() if len(positive) else torch.ones((), dtype=codes.dtype)
    return out.clamp_min(floor)


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
    solver: str = "adam",
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
    pyOMT code), which reads lower errors on those points than on fresh ones.

    It stops when the estimated :func:`mass_error`, less the share that sampling noise explains
    (:func:`mass_error_floor`, in quadrature), is below ``target_error`` twice in a row with the
    point count doubled in between; after ``max_steps``; or after ``max_seconds``. ``samples``
    defaults to ``16 n``.

    ``solver="pot"`` calls POT's :func:`ot.semidiscrete.solve_semidiscrete` (averaged SGD with a
    decreasing entropic regularisation; Genans et al., NeurIPS 2025) with the cost
    ``c(x, y) = -<x, y>``, so that its potential is ``h``; ``pot_options`` go to it
    (``max_iter``, ``batch_size``, ``lr0``, ...). ``callback(step, heights)`` is called after
    every step of ``"adam"``.
    """
    _check_codes(codes)
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
    if lr is None:
        lr = lr_scale * nearest_code_distance(codes) / n ** (1.0 / d)
    else:
        lr = torch.full((n,), float(lr), dtype=codes.dtype, device=codes.device)
    samples = samples or 16 * n
    source = CubeSampler(d, sampler, seed, codes.device)
    heights = voronoi_heights(codes)
    first = torch.zeros_like(heights)
    second = torch.zeros_like(heights)
    beta1, beta2, eps = 0.9, 0.5, 1e-12
    best_energy, since_best = math.inf, 0
    history: list[dict[str, float]] = []
    error = math.inf
    step = 0
    confirming = False
    for step in range(1, max_steps + 1):
        if sampler == "sobol":
            source.restart()
        counts, mean_potential = _cell_counts(codes, heights, source, samples, batch, chunk)
        masses = (counts / samples).to(codes.dtype)
        energy = mean_potential - float(heights.double().mean())
        error = mass_error(masses)
        history.append({"step": step, "samples": samples, "energy": energy, "error": error})
        if _beyond_noise(error, n, samples, sampler) < target_error:
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
        heights -= step_ - step_.mean()
        if callback is not None:
            callback(step, heights)
        if energy < best_energy:
            best_energy, since_best = energy, 0
        else:
            since_best += 1
        if since_best >= stall_steps:
            samples = min(2 * samples, max_samples)
            lr *= lr_stall_factor
            best_energy, since_best = math.inf, 0
        if max_seconds is not None and time.perf_counter() - start > max_seconds:
            break
    return SemiDiscreteResult(
        heights=heights - heights.mean(),
        steps=step,
        samples=samples,
        seconds=time.perf_counter() - start,
        estimated_error=error,
        history=history,
    )


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
