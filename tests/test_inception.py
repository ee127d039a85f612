"""Inception weights offline: a local file, TORCH_HOME's cache, and one line when neither is there.

The real TF-FID weights cannot be downloaded here; these tests write a weights file in the same
on-disk format (torch-fidelity's state dict, random values) and run torchmetrics' network on it.
"""

import socket

import pytest
import torch
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
from torchmetrics.image import FrechetInceptionDistance

from lightning_wgen.metrics import ImageQuality, InceptionFeatures, feature_extractor
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
def no_network(monkeypatch, tmp_path):
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
        feature=2048, feature_extractor_weights_path=str(weights_file)
    )
    direct.update(pixels[:3], real=True)
    direct.update(pixels[3:], real=False)
    assert ours["fid"] == pytest.approx(float(direct.compute()), rel=1e-4)
    assert set(ours) == {"fid", "is", "is_std"}
