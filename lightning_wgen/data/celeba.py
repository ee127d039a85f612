"""CelebA, aligned and cropped faces: torchvision's ``CelebA``, or a plain folder of its images."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from torch.utils.data import Dataset
from torchvision import datasets, transforms
from torchvision.datasets.utils import check_integrity, extract_archive

from lightning_wgen.data.folder import ImageFiles, image_files, no_labels
from lightning_wgen.data.images import ImageDataModule
from lightning_wgen.errors import ConfigError, DatasetNotFoundError, first_line

PARTITIONS = {"train": 0, "valid": 1, "test": 2}
# The official partition (list_eval_partition.txt) by file number: 000001-162770 train,
# 162771-182637 valid, 182638-202599 test.
_LAST_OF_PARTITION = (162_770, 182_637, 202_599)
ALIGNED_WIDTH = 178  # aligned CelebA images are 178x218


class _CelebAAsIs(datasets.CelebA):
    """torchvision's CelebA that checks the annotation files exist but not their md5 sums."""

    file_list = [(file_id, None, name) for file_id, _, name in datasets.CelebA.file_list]


def official_partition(filename: str) -> int | None:
    """0 (train), 1 (valid) or 2 (test) for an official file name such as ``000001.jpg``."""
    stem = Path(filename).stem
    if not (stem.isdigit() and 1 <= int(stem) <= _LAST_OF_PARTITION[-1]):
        return None
    return next(p for p, last in enumerate(_LAST_OF_PARTITION) if int(stem) <= last)


class CelebADataModule(ImageDataModule):
    """CelebA (Liu et al. 2015), aligned: center crop 140, resized to 64 (as in the WAE paper,
    Tolstikhin et al. 2018); ``center_crop`` (null: none) and ``image_size`` are configurable.

    Two layouts are read from ``data_dir``:

    - torchvision's: ``celeba/img_align_celeba/`` (or ``celeba/img_align_celeba.zip``) with the
      five annotation files in ``celeba/``. Labels are the 40 binary attributes. Their md5 sums are
      checked unless ``verify=False``.
    - a folder of the aligned images, ``celeba/img_align_celeba/`` or ``img_align_celeba/``,
      without annotations: the partition comes from ``list_eval_partition.txt`` next to the
      folder when present, else from the official file numbering. No labels.

    The training split is the train partition, the evaluation split the test partition. A
    download needs torchvision's Google Drive helper (``pip install gdown``) and is often
    refused by Drive's quota; placing the files by hand always works.
    """

    name = "CelebA"
    num_channels = 3

    def __init__(
        self,
        data_dir: str = "data",
        *,
        center_crop: int | None = 140,
        verify: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(data_dir, **kwargs)
        if center_crop is not None and not 1 <= center_crop <= ALIGNED_WIDTH:
            raise ConfigError(
                f"center_crop must be 1 to {ALIGNED_WIDTH} (the width of the aligned CelebA "
                f"images) or null, got {center_crop}."
            )
        self.center_crop, self.verify = center_crop, verify

    @property
    def base_folder(self) -> Path:
        return self.data_dir / datasets.CelebA.base_folder

    def geometry(self) -> list[Callable]:
        crop = [] if self.center_crop is None else [transforms.CenterCrop(self.center_crop)]
        return [*crop, *super().geometry()]

    def _open(self, split: str) -> tuple[Dataset, Sequence[str] | None]:
        base = self.base_folder
        annotations = [name for _, _, name in datasets.CelebA.file_list if name.endswith(".txt")]
        has_annotations = all((base / name).is_file() for name in annotations)
        zip_path = base / "img_align_celeba.zip"
        if has_annotations and not (base / "img_align_celeba").is_dir() and zip_path.is_file():
            self._extract(zip_path)
        if has_annotations and (base / "img_align_celeba").is_dir():
            return self._torchvision(split, download=False)
        for folder in (base / "img_align_celeba", self.data_dir / "img_align_celeba"):
            if folder.is_dir():
                return self._folder(folder, split)
        if self.download:
            return self._torchvision(split, download=True)
        raise DatasetNotFoundError(f"CelebA is missing (download=False): {self._where()}")

    def _where(self) -> str:
        return (
            f"put img_align_celeba.zip (or its folder img_align_celeba/) and list_attr_celeba.txt, "
            f"identity_CelebA.txt, list_bbox_celeba.txt, list_landmarks_align_celeba.txt, "
            f"list_eval_partition.txt in {self.base_folder}/, or only the aligned images in "
            f"{self.base_folder}/img_align_celeba/"
        )

    def _extract(self, zip_path: Path) -> None:
        md5 = dict((name, md5) for _, md5, name in datasets.CelebA.file_list)[zip_path.name]
        if self.verify and not check_integrity(zip_path, md5):
            raise DatasetNotFoundError(
                f"{zip_path} does not match the official md5 sum: replace it with the official "
                "file, or set verify: false to use it as it is"
            )
        extract_archive(str(zip_path), str(zip_path.parent))

    def _torchvision(self, split: str, *, download: bool) -> tuple[Dataset, Sequence[str]]:
        dataset_class = datasets.CelebA if self.verify else _CelebAAsIs
        try:
            dataset = dataset_class(
                str(self.data_dir), split=self._partition(split), download=download
            )
        except (RuntimeError, OSError, ValueError) as err:
            raise DatasetNotFoundError(self._problem(err, download)) from None
        folder = self.base_folder / "img_align_celeba"
        return dataset, [str(folder / name) for name in dataset.filename]

    def _problem(self, err: Exception, download: bool) -> str:
        first = first_line(err)
        if download:
            return f"CelebA could not be downloaded ({first}): {self._where()}"
        bad = [
            name
            for _, md5, name in datasets.CelebA.file_list
            if name.endswith(".txt") and not check_integrity(self.base_folder / name, md5)
        ]
        if self.verify and bad:
            return (
                f"CelebA annotation files in {self.base_folder}/ do not match the official md5 "
                f"sums ({', '.join(bad)}): replace them with the official files, or set "
                "verify: false to use them as they are"
            )
        return f"CelebA in {self.base_folder}/ could not be read ({first}): {self._where()}"

    @staticmethod
    def _partition(split: str) -> str:
        return "train" if split == "train" else "test"

    def _folder(self, folder: Path, split: str) -> tuple[Dataset, Sequence[str]]:
        if self.return_labels:
            raise no_labels(f"the CelebA image folder {folder} (no annotation files)")
        wanted = PARTITIONS[self._partition(split)]
        files = image_files(folder)
        if not files:
            raise DatasetNotFoundError(f"no images in {folder}: {self._where()}")
        listing = folder.parent / "list_eval_partition.txt"
        if listing.is_file():
            partition = {}
            for line in listing.read_text().splitlines():
                fields = line.split()
                if len(fields) == 2 and fields[1].isdigit():
                    partition[fields[0]] = int(fields[1])
            chosen = [f for f in files if partition.get(f.name) == wanted]
        else:
            unnamed = [f.name for f in files if official_partition(f.name) is None]
            if unnamed:
                raise ConfigError(
                    f"{folder} holds files not named as in CelebA ({unnamed[0]}) and there is no "
                    f"{listing.name} next to it: add one, or use ImageFolderDataModule."
                )
            chosen = [f for f in files if official_partition(f.name) == wanted]
        return ImageFiles(chosen), [str(f) for f in chosen]
