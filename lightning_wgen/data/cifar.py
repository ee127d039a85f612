"""CIFAR-10 on torchvision's ``CIFAR10``: 32x32 RGB, the official archive used offline."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch.utils.data import Dataset
from torchvision import datasets
from torchvision.datasets.utils import check_integrity, extract_archive

from lightning_wgen.data.images import ImageDataModule
from lightning_wgen.errors import DatasetNotFoundError, first_line


def without_md5(dataset_class: type[datasets.CIFAR10]) -> type[datasets.CIFAR10]:
    """``dataset_class`` checking that its batch files exist but not their md5 sums."""
    return type(
        f"{dataset_class.__name__}AsIs",
        (dataset_class,),
        {
            "train_list": [[name, None] for name, _ in dataset_class.train_list],
            "test_list": [[name, None] for name, _ in dataset_class.test_list],
            "meta": {**dataset_class.meta, "md5": None},
        },
    )


class CIFAR10DataModule(ImageDataModule):
    """CIFAR-10 (Krizhevsky 2009): 50,000 training and 10,000 test images, 32x32 RGB, 10 classes.

    Offline, put the official ``cifar-10-python.tar.gz`` (or its extracted
    ``cifar-10-batches-py/``) in ``data_dir``: it is md5-checked with torchvision's
    ``check_integrity`` and extracted, without a download. ``verify=False`` skips the md5 checks,
    for a copy that is not the official one (the batches are Python pickles: load only files you
    trust). Other arguments: ``ImageDataModule``; sizes other than 32 resize.
    """

    dataset_class: type[datasets.CIFAR10] = datasets.CIFAR10
    name = "CIFAR-10"
    num_channels = 3
    native_size = 32

    def __init__(self, data_dir: str = "data", *, verify: bool = True, **kwargs) -> None:
        super().__init__(data_dir, **kwargs)
        self.verify = verify

    @property
    def batches_folder(self) -> Path:
        return self.data_dir / self.dataset_class.base_folder

    def _open(self, split: str) -> tuple[Dataset, Sequence[str] | None]:
        cls = self.dataset_class
        archive = self.data_dir / cls.filename
        if archive.is_file() and not self.batches_folder.is_dir():
            if self.verify and not check_integrity(archive, cls.tgz_md5):
                raise DatasetNotFoundError(
                    f"{archive} does not match the official md5 sum: replace it with the official "
                    "archive, or set verify: false to use it as it is"
                )
            extract_archive(str(archive), str(self.data_dir))
        opened = cls if self.verify else without_md5(cls)
        try:
            dataset = opened(str(self.data_dir), train=split == "train", download=self.download)
        except (RuntimeError, OSError) as err:
            raise DatasetNotFoundError(self._problem(err)) from None
        return dataset, None

    def _problem(self, err: Exception) -> str:
        cls = self.dataset_class
        official = dict(cls.train_list + cls.test_list)
        official[cls.meta["filename"]] = cls.meta["md5"]
        present = [name for name in official if (self.batches_folder / name).is_file()]
        if self.verify and len(present) == len(official):
            folder = self.batches_folder
            bad = [n for n, md5 in official.items() if not check_integrity(folder / n, md5)]
            return (
                f"CIFAR-10 files in {self.batches_folder}/ do not match the official md5 sums "
                f"({', '.join(bad)}): put the official {cls.filename} in {self.data_dir}/ instead, "
                "or set verify: false to use these files as they are"
            )
        how = "could not be downloaded" if self.download else "is missing (download=False)"
        first = first_line(err)
        return (
            f"CIFAR-10 {how}: put {cls.filename}, or its extracted folder {cls.base_folder}/ "
            f"({', '.join(official)}), in {self.data_dir}/ ({first})"
        )
