"""What every image DataModule shares, on the real Fashion-MNIST subset (1,000 + 1,000)."""

import shutil

import pytest
import torch
from helpers import quiet_trainer, tiny_wgan_gp

from lightning_wgen.data import FashionMNISTDataModule
from lightning_wgen.data.images import default_num_workers
from lightning_wgen.errors import ConfigError


@pytest.fixture(scope="module")
def fashion_dir(shared_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    shutil.copytree(shared_data / "FashionMNIST" / "raw", root / "FashionMNIST" / "raw")
    return str(root)


def fashion(fashion_dir, **kwargs):
    dm = FashionMNISTDataModule(fashion_dir, download=False, num_workers=0, **kwargs)
    dm.setup("fit")
    return dm


def test_val_split_is_fixed_by_its_seed(fashion_dir):
    dm = fashion(fashion_dir, val_split=0.2)
    val, train = dm.val_set.indices, dm.train_set.indices
    assert len(val) == 200 and len(train) == 800
    assert sorted(val + train) == list(range(1000))
    assert fashion(fashion_dir, val_split=0.2, seed=5).val_set.indices == val
    assert fashion(fashion_dir, val_split=0.2, split_seed=1).val_set.indices != val
    assert len(fashion(fashion_dir, val_split=150).val_set) == 150
    assert len(next(iter(dm.val_dataloader()))) == 64
    assert fashion(fashion_dir).val_dataloader() == []


def test_training_order_follows_seed_and_drops_last(fashion_dir):
    first = [next(iter(fashion(fashion_dir, seed=s).train_dataloader())) for s in (0, 0, 1)]
    assert torch.equal(first[0], first[1]) and not torch.equal(first[0], first[2])
    loader = fashion(fashion_dir, batch_size=300).train_dataloader()
    assert [len(b) for b in loader] == [300, 300, 300]
    loader = fashion(fashion_dir, batch_size=300, drop_last=False).train_dataloader()
    assert [len(b) for b in loader] == [300, 300, 300, 100]


def test_reference_images(fashion_dir):
    dm = fashion(fashion_dir)
    every = torch.cat(list(dm.reference_images(1000, batch_size=300)))
    in_order = torch.cat(list(dm.test_dataloader()))
    assert torch.equal(every, in_order)
    some = torch.cat(list(dm.reference_images(100, seed=3)))
    assert some.shape == (100, 1, 28, 28)
    assert torch.equal(some, torch.cat(list(dm.reference_images(100, seed=3))))
    assert not torch.equal(some, torch.cat(list(dm.reference_images(100, seed=4))))
    # each reference image is one of the test images
    matches = (some.flatten(1)[:, None] == in_order.flatten(1)[None]).all(-1).sum(1)
    assert (matches >= 1).all()
    with pytest.raises(ConfigError) as err:
        dm.reference_images(5000)
    assert str(err.value) == (
        "5000 reference images asked for, but the Fashion-MNIST test split has 1000: "
        "ask for 1 to 1000."
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "batch_size must be >= 1, got 0."),
        ({"image_size": -3}, "image_size must be >= 1 pixel, got -3."),
        ({"val_split": 1.5}, "val_split must be a fraction in [0, 1) or a whole number"),
        ({"num_workers": -1}, "num_workers must be >= 0, got -1."),
    ],
)
def test_bad_options_are_one_line(fashion_dir, kwargs, message):
    with pytest.raises(ConfigError) as err:
        FashionMNISTDataModule(fashion_dir, **kwargs)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_split_and_batch_that_leave_nothing(fashion_dir):
    with pytest.raises(ConfigError, match="val_split 1000 leaves no training images"):
        fashion(fashion_dir, val_split=1000)
    with pytest.raises(ConfigError, match="batch_size 2000 is larger than the 1000 training"):
        fashion(fashion_dir, batch_size=2000).train_dataloader()


def test_defaults(fashion_dir):
    assert 0 <= default_num_workers() <= 4
    dm = FashionMNISTDataModule(fashion_dir)
    assert dm.num_workers == default_num_workers() and dm.image_size == 28
    assert dm.drop_last and not dm.return_labels and dm.download


def test_model_with_the_wrong_image_size_stops_with_one_line(fashion_dir):
    model = tiny_wgan_gp(max_generator_steps=1)  # makes 2D points, not images
    with pytest.raises(ConfigError) as err:
        quiet_trainer().fit(model, fashion(fashion_dir, batch_size=8))
    assert str(err.value).startswith(
        "the data gives samples of shape (1, 28, 28) but the generator makes (2,)"
    )


@pytest.mark.parametrize("image_size", [28, 32, 16], ids=["held", "padded", "resized"])
@pytest.mark.parametrize("return_labels", [False, True])
def test_in_memory_training_split_gives_the_same_batches(fashion_dir, image_size, return_labels):
    # 28: torchvision's own uint8 tensor; 32 and 16: decoded once through the transform
    options = {"image_size": image_size, "return_labels": return_labels, "val_split": 0.1}
    per_item, in_memory = (
        fashion(fashion_dir, **options),
        fashion(fashion_dir, in_memory=True, **options),
    )
    assert in_memory.val_set.indices == per_item.val_set.indices
    for loader in ("train_dataloader", "val_dataloader"):
        expected = list(getattr(per_item, loader)())
        found = list(getattr(in_memory, loader)())
        assert len(found) == len(expected) > 0
        for a, b in zip(expected, found, strict=True):
            if return_labels:
                assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
            else:
                assert torch.equal(a, b) and b.dtype == torch.float32
