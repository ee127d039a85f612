"""FID/KID/IS wiring on a small feature extractor: exact values, monotonicity, the real cache."""

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torchmetrics.image import FrechetInceptionDistance, KernelInceptionDistance

from lightning_wgen.data import FashionMNISTDataModule, MNISTDataModule
from lightning_wgen.data.images import to_unit_range
from lightning_wgen.errors import ConfigError
from lightning_wgen.metrics import (
    DomainFeatures,
    ImageQuality,
    load_domain_extractor,
    metric_images,
    real_features,
    to_uint8,
)
from lightning_wgen.metrics.features import DOMAIN_EXTRACTORS, WEIGHTS_DIR, WeightsNotFoundError
from lightning_wgen.nets import ConvClassifier


@pytest.fixture(scope="module")
def mnist(mnist_dir):
    return MNISTDataModule(str(mnist_dir), download=False, num_workers=0)


@pytest.fixture(scope="module")
def mnist_images(mnist):
    """2,000 real MNIST test digits in [-1, 1]."""
    return torch.cat(list(mnist.reference_images(2000, batch_size=500)))


@pytest.fixture(scope="module")
def extractor():
    return load_domain_extractor("mnist")


def fid_kid(extractor, real, fake) -> tuple[float, float]:
    quality = ImageQuality(extractor, ["fid", "kid"])
    quality.set_real_features(quality.features(real.split(500)))
    for batch in fake.split(500):
        quality.update_fake(batch)
    values = quality.compute()
    return values[f"fid_{extractor.name}"], values[f"kid_{extractor.name}"]


def test_to_uint8_inverts_the_datamodules_scaling_exactly():
    pixels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    images = to_unit_range()(Image.fromarray(pixels))
    assert torch.equal(to_uint8(images)[0], torch.from_numpy(pixels))
    assert to_uint8(torch.tensor([-1.5, -1.0, 0.0, 1.0, 2.0])).tolist() == [0, 0, 128, 255, 255]


def test_metric_images_repeat_grayscale_to_three_channels():
    gray = torch.linspace(-1, 1, 2 * 16).view(2, 1, 4, 4)
    rgb = metric_images(gray)
    assert rgb.dtype == torch.uint8 and rgb.shape == (2, 3, 4, 4)
    assert torch.equal(rgb[:, 0], rgb[:, 2]) and torch.equal(rgb[:, 1], to_uint8(gray)[:, 0])
    with pytest.raises(ConfigError, match=r"got shape \(5, 2\); evaluate 2D toy"):
        metric_images(torch.zeros(5, 2))


def test_fid_and_kid_of_a_set_against_itself_are_zero(extractor, mnist_images):
    fid, kid = fid_kid(extractor, mnist_images, mnist_images)
    assert abs(fid) < 1e-3
    # KID averages random subsets of the two sets: near 0, not exactly (noisy sets score > 0.01)
    assert abs(kid) < 0.01


def test_fid_and_kid_grow_monotonically_with_noise(extractor, mnist_images):
    noise = torch.randn(mnist_images.shape, generator=torch.Generator().manual_seed(0))
    levels = (0.05, 0.1, 0.2, 0.4, 0.8)
    values = [
        fid_kid(extractor, mnist_images, (mnist_images + s * noise).clamp(-1, 1)) for s in levels
    ]
    fids, kids = zip(*values, strict=True)
    assert fids[0] > 1e-2 and all(a < b for a, b in zip(fids, fids[1:], strict=False)), fids
    # KID's subset noise (about 0.003) hides the weakest noise level; from 0.1 on it grows
    kids = kids[1:]
    assert kids[0] > 1e-2 and all(a < b for a, b in zip(kids, kids[1:], strict=False)), kids


class FeaturesOnly(nn.Module):
    """The extractor's features as a plain torchmetrics ``feature`` module."""

    def __init__(self, extractor):
        super().__init__()
        self.extractor, self.num_features = extractor, extractor.num_features

    def forward(self, images):
        return self.extractor(images)[0].double()  # KID's kernel needs float64


def test_fid_and_kid_equal_direct_torchmetrics(extractor, mnist, mnist_images, tmp_path):
    real = torch.cat(list(mnist.reference_images(1000, batch_size=250, seed=3)))
    noise = torch.randn(1000, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    fake = (mnist_images[:1000] + 0.3 * noise).clamp(-1, 1)

    quality = ImageQuality(extractor, ["fid", "kid"], kid_subset_size=500)
    quality.set_real_features(
        real_features(quality, mnist, num_images=1000, seed=3, batch_size=250, cache_dir=tmp_path)
    )
    for batch in fake.split(250):
        quality.update_fake(batch)
    ours = quality.compute(seed=7)

    def as_bytes(x):  # the uint8 conversion written out independently of the library
        return (x * 127.5 + 127.5).round().to(torch.uint8).repeat(1, 3, 1, 1)

    direct_fid = FrechetInceptionDistance(feature=FeaturesOnly(extractor))
    direct_kid = KernelInceptionDistance(feature=FeaturesOnly(extractor), subset_size=500)
    for metric in (direct_fid, direct_kid):
        for batch in real.split(250):
            metric.update(as_bytes(batch), real=True)
        for batch in fake.split(250):
            metric.update(as_bytes(batch), real=False)
    torch.manual_seed(7)
    kid_mean, kid_std = direct_kid.compute()
    assert ours["fid_mnist"] == pytest.approx(float(direct_fid.compute()), rel=1e-6)
    assert ours["kid_mnist"] == pytest.approx(float(kid_mean), rel=1e-6)
    assert ours["kid_mnist_std"] == pytest.approx(float(kid_std), rel=1e-6)
    assert ours["fid_mnist"] > 1.0


def test_real_feature_cache_is_reused_and_invalidated(mnist, tmp_path):
    torch.manual_seed(0)
    random_net = DomainFeatures(ConvClassifier(), "random")
    calls = []
    random_net.register_forward_hook(lambda *_: calls.append(1))

    def cached():
        quality = ImageQuality(random_net, ["fid"])
        return real_features(quality, mnist, num_images=600, batch_size=200, cache_dir=tmp_path)

    first = cached()
    assert len(calls) == 3 and len(list(tmp_path.glob("*.safetensors"))) == 1
    again = cached()
    assert len(calls) == 3 and torch.equal(first, again)  # no forward pass: read from disk

    with torch.no_grad():
        random_net.classifier.body[0].weight.mul_(1.5)
    changed = cached()
    assert len(calls) == 6 and len(list(tmp_path.glob("*.safetensors"))) == 2
    assert not torch.equal(changed, first)

    damaged = max(tmp_path.glob("*.safetensors"), key=lambda p: p.stat().st_mtime)
    damaged.write_bytes(b"not a safetensors file")
    assert torch.equal(cached(), changed) and len(calls) == 9  # recomputed, not trusted


def test_inception_score_on_the_domain_classifier(extractor, mnist_images):
    quality = ImageQuality(extractor, ["is"], is_splits=4)
    quality.update_fake(mnist_images)
    real_score = quality.compute()["is_mnist"]
    quality.reset_fake()
    quality.update_fake(mnist_images[:1].expand(2000, -1, -1, -1))
    collapsed = quality.compute()["is_mnist"]
    # ten balanced, confidently classified digits score near 10; one repeated digit scores 1
    assert 9.0 < real_score <= 10.0 and collapsed == pytest.approx(1.0, abs=1e-3)


def test_shipped_extractors_carry_their_provenance_and_accuracy():
    mnist = load_domain_extractor("mnist")
    fashion = load_domain_extractor("fashion_mnist")
    assert float(mnist.metadata["test_accuracy"]) >= 0.99
    assert mnist.metadata["test_images"] == "10000" and mnist.metadata["train_images"] == "60000"
    assert float(fashion.metadata["test_accuracy"]) >= 0.8
    for name, net in (("mnist", mnist), ("fashion_mnist", fashion)):
        assert net.metadata["command"].startswith(
            f"python -m lightning_wgen.metrics.train_extractor {name} "
        )
        assert len(DOMAIN_EXTRACTORS[name]) == 64


def test_extractor_accuracy_holds_on_the_test_split(extractor, mnist_dir):
    """The shipped MNIST extractor, through its uint8 input path, on all 10,000 test digits."""
    data = MNISTDataModule(str(mnist_dir), download=False, num_workers=0, return_labels=True)
    data.batch_size = 1000
    correct = 0
    with torch.no_grad():
        for images, labels in data.test_dataloader():
            correct += int((extractor(metric_images(images))[1].argmax(1) == labels).sum())
    assert correct / 10_000 >= 0.99

    fashion = load_domain_extractor("fashion_mnist")
    data = FashionMNISTDataModule(
        str(mnist_dir), download=False, num_workers=0, return_labels=True, image_size=32
    )
    images, labels = map(torch.cat, zip(*data.test_dataloader(), strict=True))
    with torch.no_grad():
        accuracy = (fashion(metric_images(images))[1].argmax(1) == labels).float().mean()
    assert float(accuracy) == pytest.approx(float(fashion.metadata["test_accuracy"]), abs=1e-4)


def test_damaged_or_unknown_extractor_gives_one_line(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="unknown feature extractor 'cifar'"):
        load_domain_extractor("cifar")
    copy = tmp_path / "mnist.safetensors"
    copy.write_bytes((WEIGHTS_DIR / "mnist.safetensors").read_bytes())
    assert load_domain_extractor("mine", copy).metadata["name"] == "mnist"
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        load_domain_extractor("mine", tmp_path / "absent.safetensors")

    monkeypatch.setattr("lightning_wgen.metrics.features.WEIGHTS_DIR", tmp_path)
    copy.write_bytes(copy.read_bytes()[:-1] + b"\x00")
    with pytest.raises(WeightsNotFoundError, match="expected 337623dc128f...: the file is damaged"):
        load_domain_extractor("mnist")
