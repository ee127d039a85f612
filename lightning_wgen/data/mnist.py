"""MNIST as a DataModule on torchvision's ``MNIST`` (images scaled to [-1, 1])."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision import datasets, transforms
from torchvision.datasets.utils import extract_archive

from lightning_wgen.errors import DatasetNotFoundError


def to_unit_range() -> transforms.Compose:
    """PIL image -> float tensor ``(C, H, W)`` in [-1, 1]: ``x / 127.5 - 1`` exactly."""
    return transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])


class MNISTDataModule(L.LightningDataModule):
    """MNIST 28x28, one channel, in [-1, 1]; batches are ``(images, labels)``.

    Files are looked up in ``<data_dir>/MNIST/raw/`` as torchvision keeps them; the original
    ``.gz`` archives placed there are extracted without a download. With ``download=True`` the
    missing ones are fetched by torchvision. ``seed`` fixes the shuffling order of every epoch;
    training batches drop the last incomplete batch.
    """

    dataset_class = datasets.MNIST

    def __init__(
        self,
        data_dir: str = "data",
        batch_size: int = 64,
        num_workers: int = 2,
        download: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.data_dir = Path(data_dir)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.download = download
        self.seed = seed
        self.train_set: Dataset | None = None

    @property
    def raw_folder(self) -> Path:
        return self.data_dir / self.dataset_class.__name__ / "raw"

    def _expected_files(self) -> list[str]:
        return [Path(url).name for url, _ in self.dataset_class.resources]

    def _extract_local_archives(self) -> None:
        for name in self._expected_files():
            archive = self.raw_folder / name
            if (
                archive.suffix == ".gz"
                and archive.exists()
                and not archive.with_suffix("").exists()
            ):
                extract_archive(str(archive), str(self.raw_folder))

    def _dataset(self, train: bool, transform=None) -> Dataset:
        self._extract_local_archives()
        try:
            return self.dataset_class(
                str(self.data_dir), train=train, download=self.download, transform=transform
            )
        except (RuntimeError, OSError) as err:
            how = "could not be downloaded" if self.download else "is missing (download=False)"
            lines = [line.strip() for line in str(err).splitlines() if line.strip()]
            reason = " ".join(dict.fromkeys([lines[0], lines[-1]])) if lines else type(err).__name__
            raise DatasetNotFoundError(
                f"{self.dataset_class.__name__} {how}: put {', '.join(self._expected_files())} "
                f"(or the same names without .gz) in {self.raw_folder}/ ({reason})"
            ) from None

    def prepare_data(self) -> None:
        self._dataset(train=True)
        self._dataset(train=False)

    def setup(self, stage: str) -> None:
        if self.train_set is None:
            self.train_set = self._dataset(train=True, transform=to_unit_range())

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            self.train_set,
            batch_size=self.batch_size,
            shuffle=True,
            drop_last=True,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            generator=torch.Generator().manual_seed(self.seed),
        )
