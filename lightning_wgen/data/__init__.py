"""DataModules: 2D toy sets and image data sets, shared by every model family."""

from lightning_wgen.data.celeba import CelebADataModule
from lightning_wgen.data.cifar import CIFAR10DataModule
from lightning_wgen.data.folder import ImageFolderDataModule
from lightning_wgen.data.images import ImageDataModule, images_of
from lightning_wgen.data.mnist import FashionMNISTDataModule, MNISTDataModule
from lightning_wgen.data.resumable import ResumableLoader
from lightning_wgen.data.toy import TOY_DATASETS, ToyDataModule, sample_toy, toy_modes

__all__ = [
    "TOY_DATASETS",
    "CIFAR10DataModule",
    "CelebADataModule",
    "FashionMNISTDataModule",
    "ImageDataModule",
    "ImageFolderDataModule",
    "MNISTDataModule",
    "ResumableLoader",
    "ToyDataModule",
    "images_of",
    "sample_toy",
    "toy_modes",
]
