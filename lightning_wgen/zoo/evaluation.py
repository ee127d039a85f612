"""The metrics a zoo entry states, measured under a protocol the entry records, so that
``wgen zoo verify --metrics`` can measure them again the same way (docs/evaluation.md).

Images: FID, KID and IS of ``num_samples`` samples per seed against ``num_real`` images of the
evaluation split, with the data set's domain extractor (``mnist``, ``fashion_mnist``) or
Inception. 2D toy data: modes, high-quality fraction and exact W1 of ``num_samples`` samples
against as many true ones. Each value is the mean over the seeds, its spread their standard
deviation; the reference row is what real data scores under the same protocol.
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
    mode_metrics,
    real_features,
)

# the data sets with a domain feature extractor of their own (the others use Inception)
EXTRACTOR_OF_DATASET = {"mnist": "mnist", "fashion_mnist": "fashion_mnist"}
SEEDS = (0, 1, 2)


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
    num_real = min(10_000, datamodule.split_size("test"))
    return {
        "kind": "image",
        "extractor": EXTRACTOR_OF_DATASET.get(dataset, "inception"),
        "metrics": ["fid", "kid", "is"],
        "num_samples": num_samples or 10_000,
        "num_real": num_real,
        "split": "test",
        "real_subset_seed": 0,
        "seeds": list(seeds),
        "spread": "standard deviation over the seeds",
        "reference": f"{num_real} training images against the {num_real} evaluation images",
    }


def _summary(per_seed: list[dict[str, float]]) -> dict[str, dict[str, Any]]:
    out = {}
    for key in per_seed[0]:
        values = [run[key] for run in per_seed]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        out[key] = {"mean": statistics.fmean(values), "std": spread, "per_seed": values}
    return out


def _image_quality(datamodule: Any, protocol: dict[str, Any]) -> ImageQuality:
    quality = ImageQuality(feature_extractor(protocol["extractor"]), protocol["metrics"])
    features = real_features(
        quality,
        datamodule,
        num_images=protocol["num_real"],
        split=protocol["split"],
        seed=protocol["real_subset_seed"],
    )
    quality.set_real_features(features)
    return quality


def measure(model: Any, datamodule: Any, protocol: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each metric's mean, spread and per-seed values for ``model`` under ``protocol``."""
    n = protocol["num_samples"]
    runs = []
    if protocol["kind"] == "toy":
        for seed in protocol["seeds"]:
            runs.append(_toy_metrics(model.sample(n, seed=seed).float().cpu(), datamodule, seed))
        return _summary(runs)
    quality = _image_quality(datamodule, protocol)
    for seed in protocol["seeds"]:
        values = evaluate_images(model, quality, num_samples=n, seed=seed)
        runs.append({k: v for k, v in values.items() if not k.endswith("_std")})
    return _summary(runs)


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
