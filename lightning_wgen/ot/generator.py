"""The AE-OT generator: new codes by piecewise-linear extension of the semi-discrete OT map.

``grad u_h`` sends a whole cell to one code, so sampling it only replays the codes. Algorithm 2
of An et al. (2020, ICLR, Sec. 3.3) extends it: a source point ``x`` takes the ``d + 1`` cell
centroids nearest to it and mixes their codes with weights inversely proportional to
``|x - c_k|``, but only among cells whose supporting hyperplanes of ``u_h`` meet the nearest
one's at a dihedral angle below ``theta``. A large angle marks a singularity of the Brenier
potential: the two cells hold codes on different modes, whose mixture would be a blurry
in-between sample (mode mixture); such neighbours are rejected from the mixture.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from lightning_wgen.errors import ConfigError
from lightning_wgen.ot.cells import (
    DEFAULT_CHUNK,
    CubeSampler,
    assigned_points,
    cube_frame,
    power_cells,
)
from lightning_wgen.ot.semidiscrete import SemiDiscreteResult, solve_semidiscrete_ot


def cell_centroids(
    codes: Tensor,
    heights: Tensor,
    *,
    samples: int = 1 << 20,
    seed: int = 1,
    batch: int = 1 << 16,
    chunk: int = DEFAULT_CHUNK,
) -> tuple[Tensor, Tensor]:
    """Monte Carlo centroids ``(n, d)`` of the power cells in ``[0, 1]^d`` and each cell's sample
    count ``(n,)``; a cell that no sample hit gets NaN."""
    n, d = codes.shape
    sums = torch.zeros(n, d, dtype=torch.float64, device=codes.device)
    counts = torch.zeros(n, dtype=torch.float64, device=codes.device)
    sampler = CubeSampler(d, "random", seed, codes.device)
    for x, index, _ in assigned_points(codes, heights, sampler, samples, batch, chunk):
        sums.index_add_(0, index, x.double())
        counts += torch.bincount(index, minlength=n)
    return (sums / counts[:, None]).to(codes.dtype), counts


def dihedral_angles(codes: Tensor, first: Tensor, second: Tensor) -> Tensor:
    """Angles (radians) between the graphs of ``<x, y_i> + h_i`` and ``<x, y_j> + h_j`` in
    ``R^(d+1)``, for index tensors ``first`` and ``second`` of one shape: the angle between
    their normals ``(y_i, -1)`` and ``(y_j, -1)``. The heights shift the planes, not the angle."""
    normals = torch.cat([codes, -torch.ones_like(codes[:, :1])], dim=1)
    normals = normals / normals.norm(dim=1, keepdim=True)
    cosine = (normals[first] * normals[second]).sum(dim=-1)
    return torch.arccos(cosine.clamp(-1.0, 1.0))


class SemiDiscreteMap(nn.Module):
    """A fitted semi-discrete OT map and the generator of Algorithm 2, as buffers that travel
    with a state dict (``codes``, ``heights``, ``centroids``; empty until :meth:`fit`).

    Args:
        angle_threshold: ``theta`` in radians. Angles are measured on the codes scaled into the
            unit cube (one scale for all axes, see :func:`cube_frame`), so that a threshold
            means the same for codes of any scale; ``0`` keeps only the nearest cell (the codes
            themselves), ``pi`` mixes every neighbour.
    """

    def __init__(self, angle_threshold: float = 0.05) -> None:
        super().__init__()
        if not 0 <= angle_threshold <= torch.pi:
            raise ConfigError(f"angle_threshold must be in [0, pi] radians, got {angle_threshold}.")
        self.angle_threshold = angle_threshold
        for name in ("codes", "heights", "centroids"):
            self.register_buffer(name, torch.empty(0))

    @property
    def fitted(self) -> bool:
        return self.codes.numel() > 0

    @property
    def latent_dim(self) -> int:
        return int(self.codes.shape[1]) if self.fitted else 0

    def fit(
        self, codes: Tensor, *, centroid_samples: int | None = None, **solver: Any
    ) -> SemiDiscreteResult:
        """Solve for the heights of ``codes`` (see :func:`solve_semidiscrete_ot`, which takes
        ``solver``'s arguments) and estimate the cell centroids with ``centroid_samples``
        points (default ``max(2^20, 64 n)``)."""
        codes = codes.detach().float()
        result = solve_semidiscrete_ot(codes, **solver)
        samples = centroid_samples or max(1 << 20, 64 * len(codes))
        centroids, _ = cell_centroids(codes, result.heights, samples=samples)
        self.codes, self.heights, self.centroids = codes, result.heights, centroids
        return result

    def _require_fit(self) -> None:
        if not self.fitted:
            raise ConfigError(
                "the semi-discrete OT map is not fitted; call fit(codes) (AEOT: train with the "
                "FitOT callback or run `wgen fit-ot --ckpt CHECKPOINT`)."
            )

    def transport(self, x: Tensor) -> Tensor:
        """The Monge map ``grad u_h``: the code of each point's power cell."""
        self._require_fit()
        index, _ = power_cells(x.to(self.codes.dtype), self.codes, self.heights)
        return self.codes[index]

    def generate(self, x: Tensor, *, batch: int = 4096) -> tuple[Tensor, Tensor]:
        """Algorithm 2 for source points ``x`` ``(N, d)`` in the cube: new codes ``(N, d)`` and
        how many of the ``d + 1`` neighbours each one mixes ``(N,)``."""
        self._require_fit()
        n, d = self.codes.shape
        k = min(d + 1, n)
        frame = cube_frame(self.codes)
        # Cells that no centroid sample hit have NaN centroids: never a neighbour.
        centroids = torch.nan_to_num(self.centroids, nan=torch.inf)
        out, used = [], []
        for start in range(0, len(x), batch):
            xs = x[start : start + batch].to(self.codes.dtype)
            distance, index = torch.cdist(xs, centroids).topk(k, dim=1, largest=False)
            angles = dihedral_angles(frame, index[:, :1].expand_as(index), index)
            keep = angles <= self.angle_threshold
            keep[:, 0] = True
            weights = keep / distance.clamp_min(1e-12)
            weights = weights / weights.sum(dim=1, keepdim=True)
            out.append(torch.einsum("bk,bkd->bd", weights, self.codes[index]))
            used.append(keep.sum(dim=1))
        return torch.cat(out), torch.cat(used)

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """``n`` new codes from uniform points of the cube (drawn with ``generator``)."""
        self._require_fit()
        x = torch.rand(n, self.latent_dim, generator=generator).to(self.codes.device)
        return self.generate(x)[0]

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # The buffers' sizes are known only once fitted: take them from the state dict.
        for name in ("codes", "heights", "centroids"):
            key = prefix + name
            if key in state_dict:
                setattr(self, name, torch.empty_like(state_dict[key], device=self.codes.device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        n, d = (tuple(self.codes.shape) if self.fitted else (0, 0))[:2]
        return f"codes={n}, latent_dim={d}, angle_threshold={self.angle_threshold}"
