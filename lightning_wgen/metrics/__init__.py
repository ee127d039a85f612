"""Evaluation metrics as functions and metric objects."""

from lightning_wgen.metrics.autoencoder import evaluate_autoencoder
from lightning_wgen.metrics.features import (
    DomainFeatures,
    FeatureExtractor,
    InceptionFeatures,
    feature_extractor,
    load_domain_extractor,
    metric_images,
    to_uint8,
)
from lightning_wgen.metrics.images import (
    ImageQuality,
    evaluate_images,
    frechet_distance,
    real_features,
)
from lightning_wgen.metrics.ot import exact_w1, ot_diagnostics, sliced_w1
from lightning_wgen.metrics.toy import mode_metrics

__all__ = [
    "DomainFeatures",
    "FeatureExtractor",
    "ImageQuality",
    "InceptionFeatures",
    "evaluate_autoencoder",
    "evaluate_images",
    "exact_w1",
    "feature_extractor",
    "frechet_distance",
    "load_domain_extractor",
    "metric_images",
    "mode_metrics",
    "ot_diagnostics",
    "real_features",
    "sliced_w1",
    "to_uint8",
]
