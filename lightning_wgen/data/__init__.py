"""DataModules: 2D toy sets and image data sets, shared by every model family."""

from lightning_wgen.data.mnist import MNISTDataModule
from lightning_wgen.data.toy import TOY_DATASETS, ToyDataModule, sample_toy, toy_modes

__all__ = ["TOY_DATASETS", "MNISTDataModule", "ToyDataModule", "sample_toy", "toy_modes"]
