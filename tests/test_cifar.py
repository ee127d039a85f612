import tarfile

import numpy as np
import pytest
import torch
from layouts import CIFAR_TRAIN_PER_BATCH, build_cifar10, md5_of
from torchvision import datasets

from lightning_wgen.data import CIFAR10DataModule
from lightning_wgen.errors import DatasetNotFoundError

N_TRAIN = 5 * CIFAR_TRAIN_PER_BATCH


def unit_range(images_hwc: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images_hwc.astype(np.float32)).permute(0, 3, 1, 2) / 127.5 - 1


@pytest.fixture
def cifar_dir(shared_data, tmp_path):
    arrays = build_cifar10(shared_data, tmp_path)
    return tmp_path, arrays


def test_pickled_batches_load_exactly(cifar_dir):
    root, arrays = cifar_dir
    dm = CIFAR10DataModule(
        str(root), verify=False, download=False, return_labels=True, batch_size=50, num_workers=0
    )
    dm.prepare_data()
    dm.setup("fit")
    assert len(dm.train_set) == N_TRAIN and dm.image_shape == (3, 32, 32)
    image, label = dm.train_set[7]
    torch.testing.assert_close(image, unit_range(arrays["train_images"][7:8])[0], atol=1e-6, rtol=0)
    assert label == arrays["train_labels"][7]
    images, labels = map(torch.cat, zip(*dm.test_dataloader(), strict=True))
    torch.testing.assert_close(images, unit_range(arrays["test_images"]), atol=1e-6, rtol=0)
    assert labels.tolist() == arrays["test_labels"].tolist()
    # the four classes of the subset, 100 images each, over both splits
    histogram = np.bincount(np.concatenate([arrays["train_labels"], labels.numpy()]), minlength=10)
    assert histogram.tolist() == [100, 100, 0, 0, 0, 0, 0, 0, 100, 100]
    batch = next(iter(dm.train_dataloader()))
    assert batch[0].shape == (50, 3, 32, 32) and batch[0].abs().max() <= 1


def test_copy_that_is_not_official_is_refused_by_md5(cifar_dir):
    root, _ = cifar_dir
    with pytest.raises(DatasetNotFoundError) as err:
        CIFAR10DataModule(str(root), download=False).prepare_data()
    message = str(err.value)
    assert "\n" not in message
    assert "do not match the official md5 sums (data_batch_1," in message
    assert "set verify: false" in message


class LocalCIFAR10(datasets.CIFAR10):
    """torchvision's CIFAR10 with its server at a closed port: nothing can be fetched."""

    url = "http://127.0.0.1:9/cifar-10-python.tar.gz"


def test_archive_in_data_dir_is_checked_and_extracted_without_download(cifar_dir, tmp_path):
    root, arrays = cifar_dir
    user_dir = tmp_path / "user"
    user_dir.mkdir()
    archive = user_dir / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    folder = root / "cifar-10-batches-py"
    sums = {p.name: md5_of(p) for p in folder.iterdir()}

    class Official(LocalCIFAR10):
        tgz_md5 = md5_of(archive)
        train_list = [[n, sums[n]] for n, _ in datasets.CIFAR10.train_list]
        test_list = [["test_batch", sums["test_batch"]]]
        meta = {**datasets.CIFAR10.meta, "md5": sums["batches.meta"]}

    class DataModule(CIFAR10DataModule):
        dataset_class = Official

    dm = DataModule(str(user_dir), download=False, num_workers=0)
    dm.setup("fit")
    assert len(dm.train_set) == N_TRAIN
    assert (user_dir / "cifar-10-batches-py" / "test_batch").is_file()

    # a damaged archive is refused, not extracted
    other = tmp_path / "damaged"
    other.mkdir()
    (other / "cifar-10-python.tar.gz").write_bytes(archive.read_bytes()[:-100])
    with pytest.raises(DatasetNotFoundError, match="does not match the official md5 sum"):
        DataModule(str(other), download=False).prepare_data()
    assert not (other / "cifar-10-batches-py").exists()


def test_missing_cifar_names_the_files(tmp_path):
    for download in (False, True):

        class DataModule(CIFAR10DataModule):
            dataset_class = LocalCIFAR10

        with pytest.raises(DatasetNotFoundError) as err:
            DataModule(str(tmp_path), download=download).prepare_data()
        message = str(err.value)
        assert "\n" not in message
        how = "could not be downloaded" if download else "is missing (download=False)"
        assert message.startswith(f"CIFAR-10 {how}: put cifar-10-python.tar.gz")
        assert "data_batch_5, test_batch, batches.meta" in message and str(tmp_path) in message
