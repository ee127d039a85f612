import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import MNIST_FILES as FILES
from helpers import quiet_trainer
from torchvision import datasets

from lightning_wgen.cli import main as wgen
from lightning_wgen.data import FashionMNISTDataModule, MNISTDataModule
from lightning_wgen.errors import DatasetNotFoundError

# Published class counts of MNIST (LeCun et al.): digits 0-9 in the training and test sets.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def idx_bytes(path: Path, header: int) -> np.ndarray:
    """An IDX file's payload, read independently of torchvision."""
    with gzip.open(path) as f:
        return np.frombuffer(f.read()[header:], dtype=np.uint8)


def test_all_70000_mnist_images_through_torchvision(mnist_dir, shared_data):
    dm = MNISTDataModule(
        data_dir=str(mnist_dir), batch_size=1000, download=False, return_labels=True, num_workers=1
    )
    dm.prepare_data()
    dm.setup("fit")
    assert dm.image_shape == (1, 28, 28)
    for loader, prefix, counts in (
        (dm.train_dataloader(), "train", TRAIN_COUNTS),
        (dm.test_dataloader(), "t10k", TEST_COUNTS),
    ):
        n, pixel_sum, histogram = 0, 0.0, torch.zeros(10, dtype=torch.long)
        low, high = 0.0, 0.0
        for images, labels in loader:
            assert images.shape[1:] == (1, 28, 28) and images.dtype == torch.float32
            n += len(images)
            # x = b / 127.5 - 1 undone in float64: the sum of the raw bytes, exactly
            pixel_sum += ((images.double() + 1) * 127.5).round().sum().item()
            low, high = min(low, images.min().item()), max(high, images.max().item())
            histogram += torch.bincount(labels, minlength=10)
        raw = idx_bytes(shared_data / "MNIST" / "raw" / f"{prefix}-images-idx3-ubyte.gz", 16)
        assert n == len(raw) // 784 == sum(counts)
        assert pixel_sum == raw.sum(dtype=np.int64)
        assert (low, high) == (-1.0, 1.0)
        assert histogram.tolist() == counts


def test_first_image_exact_and_padding_to_32(mnist_dir, shared_data):
    raw = idx_bytes(shared_data / "MNIST" / "raw" / FILES[0], 16)[:784].reshape(28, 28)
    expected = torch.from_numpy(raw.astype(np.float32)) / 127.5 - 1
    dm = MNISTDataModule(data_dir=str(mnist_dir), download=False, return_labels=True)
    dm.setup("fit")
    first, label = dm.train_set[0]
    torch.testing.assert_close(first[0], expected, atol=1e-6, rtol=0)
    assert label == 5
    padded = MNISTDataModule(data_dir=str(mnist_dir), download=False, image_size=32)
    padded.setup("fit")
    image = padded.train_set[0]
    assert image.shape == (1, 32, 32) and padded.image_shape == (1, 32, 32)
    torch.testing.assert_close(image[0, 2:30, 2:30], expected, atol=1e-6, rtol=0)
    border = torch.ones(32, 32, dtype=torch.bool)
    border[2:30, 2:30] = False
    assert (image[0][border] == -1).all()  # padding is black


def test_fashion_mnist_subset(shared_data, tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    shutil.copytree(shared_data / "FashionMNIST" / "raw", raw)
    dm = FashionMNISTDataModule(
        data_dir=str(tmp_path), download=False, return_labels=True, batch_size=100, num_workers=0
    )
    dm.prepare_data()
    dm.setup("fit")
    for loader, prefix in ((dm.train_dataloader(), "train"), (dm.test_dataloader(), "t10k")):
        images, labels = map(torch.cat, zip(*loader, strict=True))
        expected_labels = idx_bytes(raw / f"{prefix}-labels-idx1-ubyte.gz", 8)
        assert images.shape == (1000, 1, 28, 28)
        assert (
            torch.bincount(labels, minlength=10).tolist()
            == np.bincount(expected_labels, minlength=10).tolist()
        )
        pixels = idx_bytes(raw / f"{prefix}-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
        if prefix == "t10k":  # unshuffled: image by image, exactly
            expected = torch.from_numpy(pixels.astype(np.float32)) / 127.5 - 1
            torch.testing.assert_close(images[:, 0], expected, atol=1e-6, rtol=0)
            assert labels.tolist() == expected_labels.tolist()


def test_missing_mnist_gives_one_line_naming_files(tmp_path):
    dm = MNISTDataModule(data_dir=str(tmp_path), download=False)
    with pytest.raises(DatasetNotFoundError) as err:
        dm.prepare_data()
    message = str(err.value)
    assert "\n" not in message
    assert "train-images-idx3-ubyte.gz" in message and "t10k-labels-idx1-ubyte.gz" in message
    assert str(tmp_path / "MNIST" / "raw") in message


def test_damaged_archive_gives_one_line_and_leaves_no_file(shared_data, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    labels = shared_data / "MNIST" / "raw" / "train-labels-idx1-ubyte.gz"
    (raw / labels.name).write_bytes(labels.read_bytes()[:-1000])  # cut short, as by a crash
    dm = MNISTDataModule(data_dir=str(tmp_path), download=False)
    with pytest.raises(DatasetNotFoundError) as err:
        dm.prepare_data()
    message = str(err.value)
    assert "\n" not in message and "could not be unpacked" in message and labels.name in message
    assert sorted(p.name for p in raw.iterdir()) == [labels.name]  # no half-written file
    # the original archive put back: unpacked whole, byte for byte
    shutil.copy(labels, raw / labels.name)
    dm._extract_local_archives()
    with gzip.open(labels) as f:
        assert (raw / "train-labels-idx1-ubyte").read_bytes() == f.read()


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


def test_wgan_gp_trains_a_few_steps_on_real_mnist(mnist_dir, tmp_path, monkeypatch):
    # the shipped config, through the real CLI, with the run shortened; its evaluation keeps the
    # full protocol (10,000 generated digits against the 10,000 test digits)
    monkeypatch.setenv("WGEN_CACHE_DIR", str(tmp_path / "cache"))
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
    run = tmp_path / "wgan_gp_mnist" / "version_0"
    metrics = (run / "metrics.csv").read_text()
    assert "critic/penalty" in metrics and "gen/loss" in metrics and "eval/fid_mnist" in metrics
    record = json.loads((run / "image_metrics.json").read_text())
    assert record["num_samples"] == record["num_real"] == 10_000
    assert [h["generator_steps"] for h in record["history"]] == [3]
    assert (run / "samples" / "step_000003.png").is_file()
    assert (run / "training_curves.png").is_file()
    (cached,) = (tmp_path / "cache" / "real_features").iterdir()
    assert cached.name.startswith("mnist-test-1x28x28-10000of10000-all-")


def test_wgan_gp_mnist_module_from_python(mnist_dir):
    from lightning_wgen import WGANGP
    from lightning_wgen.nets import DCGANCritic, DCGANGenerator

    model = WGANGP(DCGANGenerator(base_channels=8), DCGANCritic(base_channels=8),
                   max_generator_steps=2)  # fmt: skip
    dm = MNISTDataModule(data_dir=str(mnist_dir), batch_size=8, num_workers=0, download=False)
    quiet_trainer().fit(model, dm)
    images = model.sample(4, seed=0)
    assert images.shape == (4, 1, 28, 28) and images.abs().max() <= 1.0
