"""MNIST and Fashion-MNIST on torchvision's datasets: 28x28, one channel, 32x32 by padding."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Sequence
from pathlib import Path

from torch.utils.data import Dataset
from torchvision import datasets, transforms

from lightning_wgen.checkpoint_io import atomic_write
from lightning_wgen.data.images import ImageDataModule, LabelledImages
from lightning_wgen.data.in_memory import InMemoryImages
from lightning_wgen.errors import DatasetNotFoundError


class MNISTDataModule(ImageDataModule):
    """MNIST (LeCun et al. 1998): 60,000 training and 10,000 test digits, labels 0-9.

    ``image_size`` 28 is the native resolution; 32 pads two black pixels on each side (the
    32x32 layout of DCGAN-style networks); other sizes resize. Files are looked up in
    ``<data_dir>/MNIST/raw/`` as torchvision keeps them: the original ``.gz`` archives placed
    there are extracted and used without a download. Other arguments: ``ImageDataModule``.
    """

    dataset_class: type[datasets.MNIST] = datasets.MNIST
    name = "MNIST"
    num_channels = 1
    native_size = 28

    @property
    def raw_folder(self) -> Path:
        return self.data_dir / self.dataset_class.__name__ / "raw"

    def geometry(self) -> list[Callable]:
        if self.image_size == 32:
            return [transforms.Pad(2, fill=0)]
        return super().geometry()

    def _decoded(self, items: LabelledImages) -> InMemoryImages:
        if self.image_size != self.native_size:
            return super()._decoded(items)
        dataset = items.dataset  # torchvision holds the 8-bit pixels: (N, 28, 28) and labels
        return InMemoryImages(dataset.data.unsqueeze(1), dataset.targets, self.return_labels)

    def _open(self, split: str) -> tuple[Dataset, Sequence[str] | None]:
        self._extract_local_archives()
        try:
            dataset = self.dataset_class(
                str(self.data_dir), train=split == "train", download=self.download
            )
        except (RuntimeError, OSError) as err:
            how = "could not be downloaded" if self.download else "is missing (download=False)"
            lines = [line.strip() for line in str(err).splitlines() if line.strip()]
            reason = " ".join(dict.fromkeys([lines[0], lines[-1]])) if lines else type(err).__name__
            raise DatasetNotFoundError(
                f"{self.dataset_class.__name__} {how}: put {', '.join(self._expected_files())} "
                f"(or the same names without .gz) in {self.raw_folder}/ ({reason})"
            ) from None
        return dataset, None

    def _expected_files(self) -> list[str]:
        return [Path(url).name for url, _ in self.dataset_class.resources]

    def _extract_local_archives(self) -> None:
        for name in self._expected_files():
            archive = self.raw_folder / name
            extracted = archive.with_suffix("")
            if archive.suffix == ".gz" and archive.exists() and not extracted.exists():
                _unpack_whole(archive, extracted)


def _unpack_whole(archive: Path, extracted: Path) -> None:
    """Unpack a ``.gz`` in memory, then write it whole (:func:`atomic_write`): another process
    never reads half a file, and a damaged archive leaves nothing that a later run would trust."""
    try:
        with gzip.open(archive) as source:
            data = source.read()
    except (OSError, EOFError) as err:
        raise DatasetNotFoundError(
            f"{archive} could not be unpacked ({type(err).__name__}: {err}): "
            "replace it with the original archive."
        ) from None
    atomic_write(extracted, data, elsewhere="give --data.init_args.data_dir a folder with room")


class FashionMNISTDataModule(MNISTDataModule):
    """Fashion-MNIST (Xiao et al. 2017): MNIST's layout with ten classes of clothing.

    Files are looked up in ``<data_dir>/FashionMNIST/raw/``; everything else is as MNIST.
    """

    dataset_class = datasets.FashionMNIST
    name = "Fashion-MNIST"
