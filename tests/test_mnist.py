import gzip
import shutil

import pytest
import torch
from helpers import quiet_trainer
from torchvision import datasets

from lightning_wgen.cli import main as wgen
from lightning_wgen.data import MNISTDataModule
from lightning_wgen.errors import DatasetNotFoundError

FILES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


@pytest.fixture(scope="module")
def mnist_dir(shared_data, tmp_path_factory):
    """A data_dir holding the real MNIST archives, as a user would place them."""
    root = tmp_path_factory.mktemp("data")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in FILES:
        shutil.copy(shared_data / "MNIST" / "raw" / name, raw / name)
    return root


def test_mnist_datamodule_reads_real_archives(mnist_dir, shared_data):
    dm = MNISTDataModule(data_dir=str(mnist_dir), batch_size=16, num_workers=0, download=False)
    dm.prepare_data()
    dm.setup("fit")
    assert len(dm.train_set) == 60_000
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (16, 1, 28, 28) and labels.shape == (16,)
    assert images.min() >= -1.0 and images.max() <= 1.0
    # first training image, exactly: raw byte b -> b / 127.5 - 1
    with gzip.open(shared_data / "MNIST" / "raw" / FILES[0]) as f:
        raw = torch.frombuffer(bytearray(f.read()[16 : 16 + 784]), dtype=torch.uint8)
    first, label = dm.train_set[0]
    torch.testing.assert_close(first.flatten(), raw.float() / 127.5 - 1, atol=1e-6, rtol=0)
    assert label == 5


def test_missing_mnist_gives_one_line_naming_files(tmp_path):
    dm = MNISTDataModule(data_dir=str(tmp_path), download=False)
    with pytest.raises(DatasetNotFoundError) as err:
        dm.prepare_data()
    message = str(err.value)
    assert "\n" not in message
    assert "train-images-idx3-ubyte.gz" in message and "t10k-labels-idx1-ubyte.gz" in message
    assert str(tmp_path / "MNIST" / "raw") in message


class UnreachableMNIST(datasets.MNIST):
    """torchvision's MNIST with its mirrors pointed at a closed port on this machine."""

    mirrors = ["http://127.0.0.1:9/mnist/"]


class UnreachableMNISTDataModule(MNISTDataModule):
    dataset_class = UnreachableMNIST


def test_failed_download_gives_one_line(tmp_path):
    dm = UnreachableMNISTDataModule(data_dir=str(tmp_path), download=True)
    with pytest.raises(DatasetNotFoundError) as err:
        dm.prepare_data()
    message = str(err.value)
    assert "\n" not in message and message.startswith("UnreachableMNIST could not be downloaded")
    assert f"in {tmp_path / 'UnreachableMNIST' / 'raw'}/" in message


def test_wgan_gp_trains_a_few_steps_on_real_mnist(mnist_dir, tmp_path):
    # the shipped config, through the real CLI, with the run shortened
    wgen([
        "fit",
        "--config", "configs/wgan_gp/mnist.yaml",
        f"--data.init_args.data_dir={mnist_dir}",
        "--data.init_args.download=false",
        "--data.init_args.num_workers=0",
        "--model.init_args.max_generator_steps=3",
        f"--trainer.logger.init_args.save_dir={tmp_path}",
        "--trainer.enable_progress_bar=false",
        f"--trainer.default_root_dir={tmp_path}",
    ])  # fmt: skip
    metrics = (tmp_path / "wgan_gp_mnist" / "version_0" / "metrics.csv").read_text()
    assert "critic/gp" in metrics and "gen/loss" in metrics


def test_wgan_gp_mnist_module_from_python(mnist_dir):
    from lightning_wgen import WGANGP
    from lightning_wgen.nets import DCGANCritic, DCGANGenerator

    model = WGANGP(DCGANGenerator(base_channels=8), DCGANCritic(base_channels=8),
                   max_generator_steps=2)  # fmt: skip
    dm = MNISTDataModule(data_dir=str(mnist_dir), batch_size=8, num_workers=0, download=False)
    quiet_trainer().fit(model, dm)
    images = model.sample(4, seed=0)
    assert images.shape == (4, 1, 28, 28) and images.abs().max() <= 1.0
