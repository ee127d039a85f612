"""lightning-wgen: Wasserstein-family generative models on PyTorch Lightning."""

from lightning_wgen.checkpoint_io import AtomicCheckpointIO
from lightning_wgen.data import (
    CelebADataModule,
    CIFAR10DataModule,
    FashionMNISTDataModule,
    ImageFolderDataModule,
    MNISTDataModule,
    ToyDataModule,
)
from lightning_wgen.errors import (
    ConfigError,
    CorruptImageError,
    DatasetNotFoundError,
    TrainingDivergedError,
    WGenError,
)
from lightning_wgen.models import (
    AAE,
    AEOT,
    AVB,
    DRAGAN,
    FGAN,
    GAN,
    LSGAN,
    SNGAN,
    VAE,
    WAEGAN,
    WAEMMD,
    WGAN,
    WGANGP,
    WGANSN,
    AdversarialModule,
    AutoencoderModule,
    CramerGAN,
    WGANDiv,
)

__version__ = "0.1.0"

__all__ = [
    "AAE",
    "AEOT",
    "AVB",
    "VAE",
    "WAEGAN",
    "WAEMMD",
    "AutoencoderModule",
    "DRAGAN",
    "FGAN",
    "GAN",
    "LSGAN",
    "SNGAN",
    "WGAN",
    "WGANGP",
    "WGANSN",
    "AdversarialModule",
    "AtomicCheckpointIO",
    "CramerGAN",
    "WGANDiv",
    "CIFAR10DataModule",
    "CelebADataModule",
    "ConfigError",
    "CorruptImageError",
    "DatasetNotFoundError",
    "FashionMNISTDataModule",
    "ImageFolderDataModule",
    "MNISTDataModule",
    "ToyDataModule",
    "TrainingDivergedError",
    "WGenError",
    "__version__",
]
