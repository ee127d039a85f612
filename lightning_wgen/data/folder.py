"""Folders of image files: flat, or one subfolder per class (torchvision's ``ImageFolder``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset
from torchvision import datasets, transforms
from torchvision.datasets.folder import IMG_EXTENSIONS, default_loader, has_file_allowed_extension

from lightning_wgen.data.images import ImageDataModule
from lightning_wgen.errors import ConfigError, DatasetNotFoundError


def image_files(folder: Path) -> list[Path]:
    """The image files directly in ``folder`` (by extension, as torchvision's ``ImageFolder``)."""
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file() and has_file_allowed_extension(path.name, IMG_EXTENSIONS)
    )


class ImageFiles(Dataset):
    """``(PIL image, None)`` items from a list of unlabelled image files."""

    def __init__(self, files: Sequence[Path]) -> None:
        self.files = [str(f) for f in files]

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[Any, None]:
        return default_loader(self.files[index]), None


def no_labels(where: str) -> ConfigError:
    return ConfigError(
        f"return_labels is set but {where} has no labels: set return_labels: false, or put the "
        "images in one subfolder per class and use ImageFolderDataModule."
    )


class ImageFolderDataModule(ImageDataModule):
    """Any folder of images: flat (no labels), or one subfolder per class (labels = class index).

    Images are converted to ``channels`` (1 or 3), optionally center-cropped to ``center_crop``,
    resized so the shorter side is ``image_size`` and center-cropped to a square (default 64).
    Reference images for evaluation come from ``test_dir`` when given, else from ``data_dir``
    itself (the training images). Other arguments: ``ImageDataModule``; ``download`` is unused.
    """

    def __init__(
        self,
        data_dir: str = "data",
        *,
        channels: int = 3,
        center_crop: int | None = None,
        test_dir: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(data_dir, **kwargs)
        if channels not in (1, 3):
            raise ConfigError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}.")
        if center_crop is not None and center_crop < 1:
            raise ConfigError(f"center_crop must be >= 1 pixel or null, got {center_crop}.")
        self.num_channels, self.center_crop = channels, center_crop
        self.test_dir = None if test_dir is None else Path(test_dir)
        self.name = f"image folder {self.data_dir}"

    def geometry(self) -> list[Callable]:
        crop = [] if self.center_crop is None else [transforms.CenterCrop(self.center_crop)]
        return [*crop, *super().geometry()]

    def _open(self, split: str) -> tuple[Dataset, Sequence[str] | None]:
        folder = self.data_dir if split == "train" or self.test_dir is None else self.test_dir
        return open_image_folder(folder, self.return_labels)


def open_image_folder(folder: Path, return_labels: bool) -> tuple[Dataset, list[str]]:
    """A flat folder of images, or torchvision's ``ImageFolder`` over class subfolders."""
    if not folder.is_dir():
        raise DatasetNotFoundError(f"image folder {folder} does not exist: check data_dir.")
    files = image_files(folder)
    if files:
        if return_labels:
            raise no_labels(f"the flat image folder {folder}")
        return ImageFiles(files), [str(f) for f in files]
    if any(p.is_dir() for p in folder.iterdir()):
        dataset = datasets.ImageFolder(str(folder), loader=default_loader, allow_empty=True)
        if len(dataset) > 0:
            return dataset, [path for path, _ in dataset.samples]
    raise DatasetNotFoundError(
        f"no images in {folder} (looked for {', '.join(IMG_EXTENSIONS)}): put the images in it, "
        "or in one subfolder per class."
    )
