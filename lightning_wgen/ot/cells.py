"""Power cells of codes in the unit cube, and their masses by Monte Carlo.

For codes ``y_1..y_n`` in ``R^d`` and heights ``h``, the Brenier potential
``u_h(x) = max_i <x, y_i> + h_i`` cuts ``Omega = [0, 1]^d`` into power cells
``W_i(h) = {x : <x, y_i> + h_i >= <x, y_j> + h_j for all j}``. Every cell mass is a Monte Carlo
estimate: the share of source samples whose argmax is the cell. The argmax is taken in chunks of
samples and of codes, so memory stays bounded by ``chunk`` scores whatever n and the sample
count are.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import Tensor

from lightning_wgen.errors import ConfigError

# Scores held at once by the chunked argmax: 2^18 floats (1 MiB in float32), the fastest
# block on a 2-core CPU (1.1-1.7 G scores/s for n = 1k-10k, d = 8); GPUs take larger ones.
DEFAULT_CHUNK = 1 << 18


def check_codes(codes: Tensor, heights: Tensor | None = None) -> None:
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


def top_two_cells(
    x: Tensor, codes: Tensor, heights: Tensor, *, chunk: int = DEFAULT_CHUNK
) -> tuple[Tensor, Tensor, Tensor]:
    """For each row of ``x``: its power cell, the runner-up cell, and the score gap between them
    (``>= 0``); small gaps mark the points near a facet between two cells. Needs n >= 2 codes;
    chunked as :func:`power_cells`."""
    n = codes.shape[0]
    code_block = max(2, min(n, chunk // 1024))
    sample_block = max(1, chunk // code_block)
    first = torch.empty(len(x), dtype=torch.long, device=x.device)
    second = torch.empty_like(first)
    gap = torch.empty(len(x), dtype=codes.dtype, device=x.device)
    for s in range(0, len(x), sample_block):
        xs = x[s : s + sample_block]
        best_value = best_index = None
        for c in range(0, n, code_block):
            scores = torch.addmm(heights[c : c + code_block], xs, codes[c : c + code_block].T)
            value, index = scores.topk(min(2, scores.shape[1]), dim=1)
            if best_value is None:
                best_value, best_index = value, index + c
                continue
            best_value, pick = torch.cat([best_value, value], dim=1).topk(2, dim=1)
            best_index = torch.cat([best_index, index + c], dim=1).gather(1, pick)
        first[s : s + sample_block] = best_index[:, 0]
        second[s : s + sample_block] = best_index[:, 1]
        gap[s : s + sample_block] = best_value[:, 0] - best_value[:, 1]
    return first, second, gap


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


def cell_counts(
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
    check_codes(codes, heights)
    sampler = CubeSampler(codes.shape[1], "random", seed, codes.device)
    counts, _ = cell_counts(codes, heights.to(codes.dtype), sampler, samples, batch, chunk)
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


def beyond_noise(error: float, n: int, samples: int, sampler: str) -> float:
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
