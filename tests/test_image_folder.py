import numpy as np
import pytest
import torch
from layouts import celeba_files
from PIL import Image

from lightning_wgen.cli import main as wgen
from lightning_wgen.data import ImageFolderDataModule
from lightning_wgen.errors import ConfigError, CorruptImageError, DatasetNotFoundError

CLASSES = ["airplane", "automobile", "ship", "truck"]


@pytest.fixture
def class_folders(shared_data, tmp_path):
    """``root/<class>/<i>.png``: ten real CIFAR-10 test images per class, as lossless PNG."""
    subset = np.load(shared_data / "CIFAR10" / "cifar10_test_subset_400.npz")
    names = [str(c) for c in subset["classes"]]
    root = tmp_path / "classes"
    written = []
    for image, label in zip(subset["images"], subset["labels"], strict=True):
        folder = root / names[label]
        folder.mkdir(parents=True, exist_ok=True)
        if len(list(folder.iterdir())) < 10:
            Image.fromarray(image).save(folder / f"{len(list(folder.iterdir()))}.png")
            written.append((names[label], image))
    return root, written


def test_class_subfolders_give_labels_and_exact_pixels(class_folders):
    root, written = class_folders
    dm = ImageFolderDataModule(
        str(root), image_size=32, return_labels=True, num_workers=0, batch_size=8
    )
    dm.setup("fit")
    assert len(dm.train_set) == 40 and dm.image_shape == (3, 32, 32)
    image, label = dm.train_set[0]  # sorted: airplane/0.png
    first_airplane = next(img for name, img in written if name == "airplane")
    expected = torch.from_numpy(first_airplane.astype(np.float32)).permute(2, 0, 1) / 127.5 - 1
    torch.testing.assert_close(image, expected, atol=1e-6, rtol=0)
    assert label == 0
    labels = torch.cat([labels for _, labels in dm.test_dataloader()])
    assert torch.bincount(labels).tolist() == [10, 10, 10, 10]


def test_flat_folder_grayscale_crop_and_test_dir(shared_data, tmp_path):
    files = celeba_files(shared_data)
    train, test = tmp_path / "train", tmp_path / "test"
    for folder, chunk in ((train, files[:30]), (test, files[30:40])):
        folder.mkdir()
        for f in chunk:
            (folder / f.name).write_bytes(f.read_bytes())
    dm = ImageFolderDataModule(
        str(train), channels=1, center_crop=140, image_size=32, test_dir=str(test), num_workers=0
    )
    dm.setup("fit")
    assert len(dm.train_set) == 30 and dm.train_set[0].shape == (1, 32, 32)
    assert sum(len(b) for b in dm.reference_images(10)) == 10
    with pytest.raises(ConfigError, match="has no labels"):
        ImageFolderDataModule(str(train), return_labels=True).setup("fit")


def test_folder_errors(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=f"image folder {tmp_path / 'nope'} does not"):
        ImageFolderDataModule(str(tmp_path / "nope")).setup("fit")
    (tmp_path / "empty_class").mkdir()
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(DatasetNotFoundError) as err:
        ImageFolderDataModule(str(tmp_path)).setup("fit")
    assert str(err.value).startswith(f"no images in {tmp_path} (looked for .jpg, .jpeg, .png")
    with pytest.raises(ConfigError, match="channels must be 1 .* or 3 .*, got 4"):
        ImageFolderDataModule(str(tmp_path), channels=4)


@pytest.fixture
def folder_with_corrupt_image(shared_data, tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    files = celeba_files(shared_data)[:7]
    for f in files:
        (folder / f.name).write_bytes(f.read_bytes())
    (folder / "zz_truncated.jpg").write_bytes(files[0].read_bytes()[:3000])
    return folder


def test_corrupt_image_raises_one_line_naming_the_file(folder_with_corrupt_image):
    dm = ImageFolderDataModule(str(folder_with_corrupt_image), num_workers=0, batch_size=8)
    dm.setup("fit")
    with pytest.raises(CorruptImageError) as err:
        next(iter(dm.train_dataloader()))
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"cannot read image {folder_with_corrupt_image / 'zz_truncated.jpg'}")
    assert message.endswith("delete or replace the file")
    (folder_with_corrupt_image / "zz_truncated.jpg").write_text("a text file named .jpg")
    with pytest.raises(CorruptImageError, match="cannot identify image file"):
        list(dm.train_dataloader())


def mnist_config_on(folder, root, *extra):
    """The shipped MNIST config on an image folder; Lightning writes its files under ``root``."""
    return [
        "fit",
        "--config", "configs/wgan_gp/mnist.yaml",
        "--data=lightning_wgen.data.ImageFolderDataModule",
        f"--data.init_args.data_dir={folder}",
        "--data.init_args.channels=1",
        "--data.init_args.batch_size=8",
        "--model.init_args.max_generator_steps=1",
        "--trainer.logger=false",
        "--trainer.enable_checkpointing=false",
        "--trainer.enable_progress_bar=false",
        f"--trainer.default_root_dir={root}",
        *extra,
    ]  # fmt: skip


def test_cli_prints_one_line_for_a_corrupt_image_read_in_a_worker(
    folder_with_corrupt_image, tmp_path
):
    with pytest.raises(SystemExit) as err:
        wgen(mnist_config_on(folder_with_corrupt_image, tmp_path / "run",
                             "--data.init_args.image_size=28",
                             "--data.init_args.num_workers=1"))  # fmt: skip
    message = str(err.value.code)
    assert "\n" not in message
    assert message.startswith(f"wgen: error: cannot read image {folder_with_corrupt_image}/zz_")


def test_cli_image_size_that_does_not_fit_the_model(shared_data, tmp_path):
    faces = tmp_path / "faces"
    faces.mkdir()
    for f in celeba_files(shared_data)[:8]:
        (faces / f.name).write_bytes(f.read_bytes())
    with pytest.raises(SystemExit) as err:
        wgen(mnist_config_on(faces, tmp_path / "run", "--data.init_args.image_size=32",
                             "--data.init_args.num_workers=0"))  # fmt: skip
    assert str(err.value.code) == (
        "wgen: error: the data gives samples of shape (1, 32, 32) but the generator makes "
        "(1, 28, 28): give the data and the networks the same image_size and channels"
    )
