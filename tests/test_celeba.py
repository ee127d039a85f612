import shutil

import numpy as np
import pytest
import torch
from layouts import (
    attribute_pattern,
    build_celeba_folder,
    build_celeba_official,
    celeba_files,
    celeba_partition,
)
from PIL import Image

from lightning_wgen.data import CelebADataModule
from lightning_wgen.data.celeba import official_partition
from lightning_wgen.errors import ConfigError, DatasetNotFoundError


def expected_image(path, size=64):
    """Aligned 178x218 image -> centre 140x140 box -> size x size, bilinear, in [-1, 1]."""
    left, top = (178 - 140) // 2, (218 - 140) // 2  # 19, 39
    with Image.open(path) as image:
        crop = image.convert("RGB").crop((left, top, left + 140, top + 140))
        pixels = np.asarray(crop.resize((size, size), Image.BILINEAR), dtype=np.float32)
    return torch.from_numpy(pixels).permute(2, 0, 1) / 127.5 - 1


def counts_by_partition(files):
    parts = list(celeba_partition(files).values())
    return parts.count(0), parts.count(2)


def test_torchvision_layout_with_annotations(shared_data, tmp_path):
    build_celeba_official(shared_data, tmp_path)
    files = celeba_files(shared_data)
    n_train, n_test = counts_by_partition(files)
    dm = CelebADataModule(
        str(tmp_path), verify=False, download=False, return_labels=True, num_workers=0
    )
    dm.prepare_data()
    dm.setup("fit")
    assert len(dm.train_set) == n_train == 80 and dm.image_shape == (3, 64, 64)
    image, attributes = dm.train_set[3]
    torch.testing.assert_close(image, expected_image(files[3]), atol=1e-6, rtol=0)
    # the file's {-1, 1} attributes as torchvision's {0, 1}
    assert attributes.tolist() == [(attribute_pattern(3, k) + 1) // 2 for k in range(40)]
    references = torch.cat(list(dm.reference_images(n_test, batch_size=8)))
    test_files = [f for f in files if celeba_partition(files)[f.name] == 2]
    expected = torch.stack([expected_image(f) for f in test_files])
    torch.testing.assert_close(references, expected, atol=1e-6, rtol=0)


def test_annotations_not_official_are_refused_by_md5(shared_data, tmp_path):
    build_celeba_official(shared_data, tmp_path)
    with pytest.raises(DatasetNotFoundError) as err:
        CelebADataModule(str(tmp_path), download=False).prepare_data()
    message = str(err.value)
    assert "\n" not in message and "do not match the official md5 sums (" in message
    assert "list_eval_partition.txt" in message and "set verify: false" in message


def test_plain_folder_with_partition_file(shared_data, tmp_path):
    build_celeba_folder(shared_data, tmp_path / "celeba", partition_file=True)
    dm = CelebADataModule(str(tmp_path), download=False, num_workers=0, batch_size=16)
    dm.setup("fit")
    assert len(dm.train_set) == 80
    batch = next(iter(dm.train_dataloader()))
    assert batch.shape == (16, 3, 64, 64) and batch.min() >= -1 and batch.max() <= 1
    assert sum(len(b) for b in dm.reference_images(20)) == 20
    with pytest.raises(ConfigError, match="has no labels"):
        CelebADataModule(str(tmp_path), return_labels=True).prepare_data()


def test_plain_folder_uses_the_official_numbering(shared_data, tmp_path):
    build_celeba_folder(shared_data, tmp_path, partition_file=False)  # data_dir/img_align_celeba
    dm = CelebADataModule(
        str(tmp_path), download=False, num_workers=0, image_size=32, center_crop=None
    )
    dm.setup("fit")
    # the 120 shared images are numbered below 162771: all in the official train partition
    assert len(dm.train_set) == 120
    image = dm.train_set[0]
    assert image.shape == (3, 32, 32)
    with pytest.raises(DatasetNotFoundError, match="the CelebA test split has no images"):
        dm.reference_images(10)
    assert [official_partition(n) for n in ("000001.jpg", "162770.jpg", "162771.jpg")] == [0, 0, 1]
    assert [official_partition(n) for n in ("182637.jpg", "182638.jpg", "202599.jpg")] == [1, 2, 2]
    assert official_partition("face.jpg") is None and official_partition("202600.jpg") is None


def test_folder_errors(shared_data, tmp_path):
    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    with pytest.raises(DatasetNotFoundError, match=f"no images in {folder}"):
        CelebADataModule(str(tmp_path)).prepare_data()
    Image.new("RGB", (178, 218)).save(folder / "my_face.jpg")
    with pytest.raises(ConfigError) as err:
        CelebADataModule(str(tmp_path)).prepare_data()
    assert "not named as in CelebA (my_face.jpg)" in str(err.value)
    assert "list_eval_partition.txt" in str(err.value)
    with pytest.raises(ConfigError, match="center_crop must be 1 to 178"):
        CelebADataModule(str(tmp_path), center_crop=200)


def test_missing_celeba_names_files_and_place(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:
        CelebADataModule(str(tmp_path), download=False).prepare_data()
    message = str(err.value)
    assert "\n" not in message and message.startswith("CelebA is missing (download=False)")
    assert f"in {tmp_path / 'celeba'}/" in message
    assert "img_align_celeba.zip" in message and "list_eval_partition.txt" in message


def test_zip_next_to_annotations_is_extracted(shared_data, tmp_path):
    build_celeba_official(shared_data, tmp_path)
    base = tmp_path / "celeba"
    shutil.make_archive(str(base / "img_align_celeba"), "zip", base, "img_align_celeba")
    shutil.rmtree(base / "img_align_celeba")
    dm = CelebADataModule(str(tmp_path), verify=False, download=False, num_workers=0)
    dm.setup("fit")
    assert len(dm.train_set) == 80 and (base / "img_align_celeba" / "000444.jpg").is_file()
    with pytest.raises(DatasetNotFoundError, match="img_align_celeba.zip does not match"):
        shutil.rmtree(base / "img_align_celeba")
        CelebADataModule(str(tmp_path), download=False).prepare_data()
