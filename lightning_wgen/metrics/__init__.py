"""Evaluation metrics as functions and metric objects."""

from lightning_wgen.metrics.toy import exact_w1, mode_metrics

__all__ = ["exact_w1", "mode_metrics"]
