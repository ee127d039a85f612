import shutil
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "MNIST" / "raw").is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (see DEVELOPERS.md: ../shared/data)")
    return SHARED_DATA


MNIST_FILES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


@pytest.fixture(scope="session")
def mnist_dir(shared_data, tmp_path_factory) -> Path:
    """A data_dir holding the real MNIST archives and the Fashion-MNIST subset, as a user would."""
    root = tmp_path_factory.mktemp("data")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_FILES:
        shutil.copy(shared_data / "MNIST" / "raw" / name, raw / name)
    shutil.copytree(shared_data / "FashionMNIST" / "raw", root / "FashionMNIST" / "raw")
    return root


@pytest.fixture(scope="module")
def mnist(mnist_dir):
    """The real MNIST as a set-up DataModule (batch 100, no workers)."""
    from lightning_wgen import MNISTDataModule

    data = MNISTDataModule(data_dir=mnist_dir, batch_size=100, num_workers=0, download=False)
    data.setup("fit")
    return data
