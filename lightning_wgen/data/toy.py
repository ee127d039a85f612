"""2D toy distributions, generated on the fly: ``grid25``, ``ring8`` and ``swissroll``.

``grid25``: 25 Gaussians with means {-4, -2, 0, 2, 4}^2 and std 0.05; ``ring8``: 8 Gaussians with
means at angles 2*pi*k/8 on the unit circle and std 0.01 (the protocol of VEEGAN, Srivastava et
al. 2017, and PacGAN, Lin et al. 2018); ``swissroll``: the 2D swiss roll of the WGAN-GP toy
experiments (Gulrajani et al. 2017), scaled to roughly [-2, 2]^2.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, IterableDataset

from lightning_wgen.data.resumable import ResumableLoader
from lightning_wgen.errors import ConfigError

TOY_DATASETS = ("grid25", "ring8", "swissroll")
TOY_STD = {"grid25": 0.05, "ring8": 0.01}


def toy_modes(name: str) -> Tensor | None:
    """The mode means ``(K, 2)`` of a mixture data set, or ``None`` for ``swissroll``."""
    if name == "grid25":
        axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
        return torch.cartesian_prod(axis, axis)
    if name == "ring8":
        # 2*pi*k/8 for k = 0..7; linspace(0, 2*pi, 8) would put modes 0 and 7 on one point.
        angles = 2 * math.pi * torch.arange(8, dtype=torch.float32) / 8
        return torch.stack([angles.cos(), angles.sin()], dim=1)
    if name == "swissroll":
        return None
    raise ConfigError(f"unknown toy data set {name!r}; choose one of {', '.join(TOY_DATASETS)}.")


def sample_toy(name: str, n: int, generator: torch.Generator | None = None) -> Tensor:
    """``n`` samples ``(n, 2)`` (float32) from the named toy distribution."""
    modes = toy_modes(name)
    if modes is not None:
        idx = torch.randint(len(modes), (n,), generator=generator)
        return modes[idx] + TOY_STD[name] * torch.randn(n, 2, generator=generator)
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator))
    roll = torch.stack([t * t.cos(), t * t.sin()], dim=1) + 0.25 * torch.randn(
        n, 2, generator=generator
    )
    return roll / 7.5


class _ToyBatches(IterableDataset):
    """An endless stream of ready-made batches (collation would cost more than generation).

    Under DDP each of the ``world`` processes draws the global batch of ``world * batch_size``
    points from the same stream and keeps rows ``rank, rank + world, ...``: together they see
    what one process with the global batch would.
    """

    def __init__(self, name: str, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        self.name, self.batch_size, self.seed = name, batch_size, seed
        self.rank, self.world = rank, world

    def __iter__(self) -> Iterator[Tensor]:
        rng = torch.Generator().manual_seed(self.seed)
        while True:
            yield sample_toy(self.name, self.world * self.batch_size, rng)[self.rank :: self.world]


TEST_SIZE = 2500


class ToyDataModule(L.LightningDataModule):
    """A 2D toy data set as an endless training stream (one epoch lasts the whole run).

    Args:
        name: one of ``grid25``, ``ring8``, ``swissroll``.
        batch_size: samples per critic batch (per process under DDP).
        seed: seed of the training stream.
    """

    def __init__(self, name: str = "grid25", batch_size: int = 256, seed: int = 0) -> None:
        super().__init__()
        toy_modes(name)  # raises the one-line error for an unknown name
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}.")
        self.save_hyperparameters()
        self.name, self.batch_size, self.seed = name, batch_size, seed

    @property
    def modes(self) -> Tensor | None:
        return toy_modes(self.name)

    @property
    def std(self) -> float | None:
        return TOY_STD.get(self.name)

    def sample(self, n: int, *, seed: int = 0) -> Tensor:
        """``n`` reference samples, reproducible by ``seed`` and independent of training."""
        return sample_toy(self.name, n, torch.Generator().manual_seed(seed))

    def train_dataloader(self) -> DataLoader:
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer else (0, 1)
        stream = _ToyBatches(self.name, self.batch_size, self.seed, rank, world)
        return ResumableLoader(stream, batch_size=None)

    def test_dataloader(self) -> DataLoader:
        """``TEST_SIZE`` held-out points (drawn with ``seed + 1_000_003``), for ``wgen test``."""
        points = self.sample(TEST_SIZE, seed=self.seed + 1_000_003)
        return DataLoader(points, batch_size=self.batch_size)

    def predict_dataloader(self) -> DataLoader:
        """The test points, for ``wgen predict``."""
        return self.test_dataloader()
