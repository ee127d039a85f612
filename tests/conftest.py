import os
import shutil
from pathlib import Path

import pytest

# OpenMP threads that wait at a barrier sleep instead of spinning. On 2 cores shared with another
# 2-thread job, a spinning thread burns the time slice that the thread it waits for needs: the
# quickstart's generator steps ran at 0.17 a second spinning and 4.5 passive beside a 2-thread
# matmul job (7.8 and 6.8 on idle cores). Set before torch loads its OpenMP runtime; the
# suite's subprocesses (wgen, notebook kernels) inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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
