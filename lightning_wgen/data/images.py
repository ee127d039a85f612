"""What every image DataModule shares: options, [-1, 1] transforms, splits, loaders, FID references.

A subclass says only how to open a split of its data set (``_open``) and how its images are
resized (``geometry``); splitting, labels, loading, errors and reference images live here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Subset
from torchvision import transforms

from lightning_wgen.data.in_memory import InMemoryImages
from lightning_wgen.data.resumable import ResumableLoader
from lightning_wgen.errors import ConfigError, CorruptImageError, DatasetNotFoundError

# PIL raises OSError (UnidentifiedImageError, truncated files) and, for some broken headers,
# SyntaxError or ValueError while decoding.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError)


def images_of(batch: Any) -> Tensor:
    """The images of a batch: labelled data sets yield ``(images, labels)``, the others images."""
    return batch[0] if isinstance(batch, (list, tuple)) else batch


def default_num_workers() -> int:
    """Loader processes when none are given: the cores beyond two, at most 4.

    Two cores are left to the training process; on a 2-core machine a worker competing with it
    gives no faster training than loading in the training process (``benchmarks/data_loading.py``).
    """
    return max(0, min(4, (os.cpu_count() or 1) - 2))


def to_unit_range() -> transforms.Compose:
    """PIL image -> float tensor ``(C, H, W)`` in [-1, 1]: ``x / 127.5 - 1`` exactly."""
    return transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])


class ConvertMode:
    """PIL image -> the same image in ``mode`` ("L": one channel, "RGB": three)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def __call__(self, image: Any) -> Any:
        return image if image.mode == self.mode else image.convert(self.mode)

    def __repr__(self) -> str:
        return f"ConvertMode({self.mode!r})"


class LabelledImages(Dataset):
    """``(PIL image, label)`` items -> transformed images, or ``(image, label)`` pairs.

    A file that cannot be decoded raises ``CorruptImageError`` naming the file (``paths[i]``).
    """

    def __init__(
        self,
        dataset: Dataset,
        transform: Callable,
        return_labels: bool,
        paths: Sequence[str] | None = None,
    ) -> None:
        self.dataset, self.transform, self.return_labels = dataset, transform, return_labels
        self.paths = paths

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Tensor | tuple[Tensor, Any]:
        try:
            image, label = self.dataset[index]
            image = self.transform(image)
        except _DECODE_ERRORS as err:
            where = self.paths[index] if self.paths is not None else f"number {index}"
            raise CorruptImageError(
                f"cannot read image {where} ({err}): delete or replace the file"
            ) from None
        return (image, label) if self.return_labels else image


class ImageDataModule(L.LightningDataModule):
    """An image data set with images in [-1, 1], ``(C, H, W)`` with ``C = num_channels``.

    Batches are image tensors, or ``(images, labels)`` with ``return_labels``. The training split
    gives up ``val_split`` of its images (a fraction in [0, 1), or a count) to a validation set
    drawn with ``split_seed``; ``seed`` fixes the shuffling order. ``reference_images`` yields
    images of the evaluation split for FID and the other sample-quality metrics.

    Args:
        data_dir: where the data set lives (and is downloaded to).
        batch_size: images per batch.
        image_size: side of the square images; ``None`` is the data set's own resolution.
        val_split: fraction (or number) of training images held out for validation.
        return_labels: yield ``(images, labels)`` instead of images.
        num_workers: loader processes; ``None`` is ``default_num_workers()``.
        drop_last: drop the last incomplete training batch.
        download: let torchvision download what is missing.
        seed: seed of the training order.
        split_seed: seed of the train/validation split.
        in_memory: decode the training split once into 8-bit pixels in memory (N*C*H*W bytes:
            47 MB for MNIST) instead of at every batch; the same images, far faster on a CPU.
    """

    name: str = "images"
    num_channels: int = 3
    native_size: int | None = None
    default_size: int = 64

    def __init__(
        self,
        data_dir: str = "data",
        batch_size: int = 64,
        image_size: int | None = None,
        val_split: float = 0.0,
        return_labels: bool = False,
        num_workers: int | None = None,
        drop_last: bool = True,
        download: bool = True,
        seed: int = 0,
        split_seed: int = 0,
        in_memory: bool = False,
    ) -> None:
        super().__init__()
        # A Path in the saved hyperparameters would make checkpoints unloadable with
        # torch.load(weights_only=True); the string is the same folder.
        data_dir = str(data_dir)
        self.save_hyperparameters()
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}.")
        if image_size is None:
            image_size = self.native_size or self.default_size
        if image_size < 1:
            raise ConfigError(f"image_size must be >= 1 pixel, got {image_size}.")
        if not (0 <= val_split < 1 or float(val_split).is_integer()):
            raise ConfigError(
                f"val_split must be a fraction in [0, 1) or a whole number of images, "
                f"got {val_split}."
            )
        if num_workers is not None and num_workers < 0:
            raise ConfigError(f"num_workers must be >= 0, got {num_workers}.")
        self.data_dir = Path(data_dir)
        self.batch_size, self.image_size, self.val_split = batch_size, image_size, val_split
        self.return_labels, self.drop_last, self.download = return_labels, drop_last, download
        self.num_workers = default_num_workers() if num_workers is None else num_workers
        self.seed, self.split_seed, self.in_memory = seed, split_seed, in_memory
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self._opened: dict[str, tuple[Dataset, Sequence[str] | None]] = {}

    # -- what a data set says about itself -------------------------------------------------
    def _open(self, split: str) -> tuple[Dataset, Sequence[str] | None]:
        """``split`` ("train" or "test") as ``(PIL image, label)`` items, and their file paths."""
        raise NotImplementedError

    def geometry(self) -> list[Callable]:
        """PIL transforms that bring an image to ``image_size`` (before scaling to [-1, 1])."""
        if self.image_size == self.native_size:
            return []
        return [transforms.Resize(self.image_size), transforms.CenterCrop(self.image_size)]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.num_channels, self.image_size, self.image_size)

    def transform(self) -> transforms.Compose:
        mode = "L" if self.num_channels == 1 else "RGB"
        return transforms.Compose([ConvertMode(mode), *self.geometry(), to_unit_range()])

    # -- Lightning hooks ----------------------------------------------------------------------
    def prepare_data(self) -> None:
        self._open("train")
        self._open("test")

    def setup(self, stage: str) -> None:
        # the evaluation split is opened when first asked for (test_dataloader, reference_images)
        if self.train_set is not None or stage in ("test", "predict"):
            return
        full = self._items(*self._split("train"), return_labels=self.return_labels)
        if len(full) == 0:
            raise DatasetNotFoundError(f"{self.name} has no training images in {self.data_dir}.")
        if self.in_memory:
            full = self._decoded(full)
        n_val = self._num_val(len(full))
        if n_val == 0:
            self.train_set = full
            return
        order = torch.randperm(len(full), generator=torch.Generator().manual_seed(self.split_seed))
        self.val_set = Subset(full, order[:n_val].tolist())
        self.train_set = Subset(full, order[n_val:].tolist())

    def train_dataloader(self) -> DataLoader:
        if self.train_set is None:
            self.setup("fit")
        if self.drop_last and len(self.train_set) < self.batch_size:
            raise ConfigError(
                f"batch_size {self.batch_size} is larger than the {len(self.train_set)} training "
                f"images of {self.name}, so drop_last leaves no batch: lower batch_size."
            )
        return self._loader(self.train_set, train=True)

    def val_dataloader(self) -> DataLoader | list:
        if self.train_set is None:
            self.setup("fit")
        return [] if self.val_set is None else self._loader(self.val_set, train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self._items(*self._split("test"), self.return_labels), train=False)

    def predict_dataloader(self) -> DataLoader:
        """The test split, for ``wgen predict``."""
        return self.test_dataloader()

    # -- evaluation ---------------------------------------------------------------------------
    def reference_images(
        self, num_images: int, *, split: str = "test", batch_size: int = 250, seed: int = 0
    ) -> Iterator[Tensor]:
        """Batches ``(b, C, H, W)`` in [-1, 1] of ``num_images`` images of ``split``.

        The default, "test", is the evaluation split of Lucic et al. 2018 ("Are GANs Created
        Equal?"); for CelebA its test partition. Fewer images than the split are a subset drawn
        with ``seed`` (the same for the same seed); as many as the split give all of it in order.
        """
        images = self._items(*self._split(split), return_labels=False)
        if len(images) == 0:
            raise DatasetNotFoundError(f"the {self.name} {split} split has no images.")
        if not 1 <= num_images <= len(images):
            raise ConfigError(
                f"{num_images} reference images asked for, but the {self.name} {split} split "
                f"has {len(images)}: ask for 1 to {len(images)}."
            )
        if num_images < len(images):
            picked = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
            images = Subset(images, picked[:num_images].sort().values.tolist())
        return iter(DataLoader(images, batch_size=batch_size, num_workers=self.num_workers))

    def split_size(self, split: str = "test") -> int:
        """Number of images in ``split`` ("train" before any validation hold-out, or "test")."""
        return len(self._split(split)[0])

    # -- internals ------------------------------------------------------------------------------
    def _split(self, split: str) -> tuple[Dataset, Sequence[str] | None]:
        if split not in ("train", "test"):
            raise ConfigError(f"split must be 'train' or 'test', got {split!r}.")
        if split not in self._opened:
            self._opened[split] = self._open(split)
        return self._opened[split]

    def _items(
        self, dataset: Dataset, paths: Sequence[str] | None, return_labels: bool
    ) -> LabelledImages:
        return LabelledImages(dataset, self.transform(), return_labels, paths)

    def _decoded(self, items: LabelledImages) -> InMemoryImages:
        """The training split in memory; a data set that holds its pixels overrides this."""
        return InMemoryImages.decode(items, self.return_labels)

    def _num_val(self, n: int) -> int:
        n_val = round(self.val_split * n) if self.val_split < 1 else int(self.val_split)
        if n_val >= n:
            raise ConfigError(
                f"val_split {self.val_split} leaves no training images of the {n} in {self.name}: "
                f"use a fraction below 1 or fewer than {n} images."
            )
        return n_val

    def _loader(self, dataset: Dataset, *, train: bool) -> DataLoader:
        # The training loader resumes mid-epoch in the same order (ResumableLoader).
        return (ResumableLoader if train else DataLoader)(
            dataset,
            batch_size=self.batch_size,
            shuffle=train,
            drop_last=train and self.drop_last,
            num_workers=self.num_workers,
            persistent_workers=train and self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
            generator=torch.Generator().manual_seed(self.seed) if train else None,
        )
