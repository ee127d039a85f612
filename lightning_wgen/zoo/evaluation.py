"""The metrics a zoo entry states, measured under a protocol the entry records, so that
``wgen zoo verify --metrics`` can measure them again the same way (docs/evaluation.md).

Images: FID, KID and IS of ``num_samples`` samples per seed against ``num_real`` images of the
evaluation split, with the data set's domain extractor (``mnist``, ``fashion_mnist``) or
Inception, and, where the protocol asks, precision and recall (Kynkäänniemi et al. 2019),
density and coverage (Naeem et al. 2020) against the same images and the data-copying test C_T
(Meehan et al. 2020) against ``copying_train_images`` training images. A second, Inception-only
protocol (Lucic et al. 2018: FID of 10,000 samples against the 10,000 test images) makes an
entry comparable with the published tables. 2D toy data: modes, high-quality fraction and exact
W1 of ``num_samples`` samples against as many true ones. Each value is the mean over the seeds,
its spread their standard deviation; the reference row is what real data scores under the same
protocol.
"""

from __future__ import annotations

import statistics
from typing import Any

import torch

from lightning_wgen.metrics import (
    ImageQuality,
    evaluate_images,
    exact_w1,
    feature_extractor,
    frechet_distance,
    mode_metrics,
    real_features,
)
from lightning_wgen.metrics.fidelity import copying_test, density_coverage, precision_recall

# the data sets with a domain feature extractor of their own (the others use Inception)
EXTRACTOR_OF_DATASET = {"mnist": "mnist", "fashion_mnist": "fashion_mnist"}
SEEDS = (0, 1, 2)
COPYING_CELLS = 20  # Meehan et al. 2020 use 20 to 50 k-means cells on MNIST


def is_toy(datamodule: Any) -> bool:
    return hasattr(datamodule, "modes") and hasattr(datamodule, "sample")


def default_protocol(
    dataset: str, datamodule: Any, *, seeds=SEEDS, num_samples: int | None = None
) -> dict[str, Any]:
    """The protocol for ``dataset``; an image DataModule must be set up (``setup("fit")``)."""
    if is_toy(datamodule):
        return {
            "kind": "toy",
            "num_samples": num_samples or 2500,
            "seeds": list(seeds),
            "real": "as many true samples, drawn with seed + 1",
            "spread": "standard deviation over the seeds",
        }
    extractor = EXTRACTOR_OF_DATASET.get(dataset, "inception")
    metrics = ["fid", "kid", "is"] if extractor != "inception" else ["fid", "kid"]
    return image_protocol(datamodule, extractor, metrics, seeds=seeds, num_samples=num_samples)


def image_protocol(
    datamodule: Any,
    extractor: str,
    metrics: list[str],
    *,
    seeds=SEEDS,
    num_samples: int | None = None,
    fidelity: bool = True,
) -> dict[str, Any]:
    """``metrics`` of ``extractor``'s features for ``num_samples`` samples (10,000) per seed
    against up to 10,000 test images; with ``fidelity``, also precision/recall, density/coverage
    and C_T (20 k-means cells of up to 10,000 training images)."""
    num_real = min(10_000, datamodule.split_size("test"))
    protocol = {
        "kind": "image",
        "extractor": extractor,
        "metrics": list(metrics),
        "num_samples": num_samples or 10_000,
        "num_real": num_real,
        "split": "test",
        "real_subset_seed": 0,
        "seeds": list(seeds),
        "spread": "standard deviation over the seeds",
        "reference": f"{num_real} training images against the {num_real} evaluation images",
    }
    if fidelity:
        protocol.update(
            fidelity=True,
            copying_train_images=min(10_000, datamodule.split_size("train")),
            copying_cells=COPYING_CELLS,
        )
    return protocol


def inception_protocol(datamodule: Any, *, seeds=(0,), num_samples: int | None = None) -> dict:
    """Lucic et al. 2018's protocol: Inception FID of 10,000 samples against the 10,000 test
    images (grayscale repeated to RGB, bilinear to 299), with the fidelity metrics beside it."""
    protocol = image_protocol(
        datamodule, "inception", ["fid"], seeds=seeds, num_samples=num_samples
    )
    return {"name": "Lucic et al. 2018", **protocol}


def summary(per_seed: list[dict[str, float]]) -> dict[str, dict[str, Any]]:
    """Per metric: the mean over the seeds' values, their standard deviation and the values."""
    out = {}
    for key in per_seed[0]:
        values = [run[key] for run in per_seed]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        out[key] = {"mean": statistics.fmean(values), "std": spread, "per_seed": values}
    return out


def _image_quality(datamodule: Any, protocol: dict[str, Any]) -> ImageQuality:
    extractor = feature_extractor(protocol["extractor"])
    quality = ImageQuality(extractor, protocol["metrics"], fidelity=protocol.get("fidelity", False))
    evaluated = _real(quality, datamodule, protocol, protocol["split"], protocol["num_real"])
    quality.set_real_features(evaluated)
    return quality


def _real(quality: ImageQuality, datamodule: Any, protocol: dict, split: str, count: int):
    """The (cached) features of ``count`` real images of ``split``, the protocol's subset."""
    seed = protocol["real_subset_seed"]
    return real_features(quality, datamodule, num_images=count, split=split, seed=seed)


def measure(model: Any, datamodule: Any, protocol: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each metric's mean, spread and per-seed values for ``model`` under ``protocol``."""
    n = protocol["num_samples"]
    runs = []
    if protocol["kind"] == "toy":
        for seed in protocol["seeds"]:
            runs.append(_toy_metrics(model.sample(n, seed=seed).float().cpu(), datamodule, seed))
        return summary(runs)
    quality = _image_quality(datamodule, protocol)
    train = None
    if "copying_cells" in protocol:
        count = protocol["copying_train_images"]
        train = _real(quality, datamodule, protocol, "train", count)
    for seed in protocol["seeds"]:
        values = evaluate_images(model, quality, num_samples=n, seed=seed)
        if train is not None:
            fake = torch.cat(quality.fake_features)
            copying = copying_test(
                train, quality.real_features, fake, cells=protocol["copying_cells"]
            )
            values.update({f"{k}{quality.suffix}": v for k, v in copying.items()})
        runs.append({k: v for k, v in values.items() if not k.endswith("_std")})
    return summary(runs)


def feature_metrics(
    train: torch.Tensor | None, test: torch.Tensor, fake: torch.Tensor, protocol: dict[str, Any]
) -> dict[str, float]:
    """What :func:`measure` gives for one seed of an FID protocol with fidelity, from features
    already computed (``benchmarks/inception_fid.py`` reads them from disk): FID, precision,
    recall, density and coverage against ``test``, and C_T against ``train`` unless it is None
    (the reference row, where the "samples" are training images), named after the extractor."""
    suffix = "" if protocol["extractor"] == "inception" else f"_{protocol['extractor']}"
    values = {"fid": frechet_distance(test, fake), **precision_recall(test, fake)}
    values.update(density_coverage(test, fake))
    if train is not None:
        values.update(copying_test(train, test, fake, cells=protocol["copying_cells"]))
    return {f"{k}{suffix}": v for k, v in values.items()}


def reference(datamodule: Any, protocol: dict[str, Any]) -> dict[str, float]:
    """What real data scores under ``protocol``: training images against the evaluation split
    (images), or true samples against independent true samples (toy)."""
    if protocol["kind"] == "toy":
        seed = protocol["seeds"][0]
        return _toy_metrics(
            datamodule.sample(protocol["num_samples"], seed=seed + 2), datamodule, seed
        )
    quality = _image_quality(datamodule, protocol)
    quality.reset_fake()
    num = protocol["num_real"]
    for images in datamodule.reference_images(
        num, split="train", seed=protocol["real_subset_seed"]
    ):
        quality.update_fake(images.float())
    values = quality.compute(protocol["seeds"][0])
    return {k: v for k, v in values.items() if not k.endswith("_std")}


def _toy_metrics(samples: torch.Tensor, datamodule: Any, seed: int) -> dict[str, float]:
    real = datamodule.sample(len(samples), seed=seed + 1)
    values: dict[str, float] = {}
    if datamodule.modes is not None:
        modes = mode_metrics(samples, datamodule.modes, datamodule.std)
        values.update(modes=modes["modes"], high_quality=modes["high_quality"])
    values["w1_exact"] = exact_w1(samples, real)
    return {k: float(v) for k, v in values.items()}


def within_spread(stated: dict[str, Any], measured: dict[str, Any]) -> bool:
    """True when a re-measured mean lies within the stated spread of the stated mean (plus a
    floor of 1e-4 relative for floating-point noise where the spread is 0)."""
    tolerance = max(stated["std"], 1e-4 * abs(stated["mean"]), 1e-9)
    return abs(measured["mean"] - stated["mean"]) <= tolerance
