"""Callbacks: thin wrappers that decide when to evaluate and where to log."""

from lightning_wgen.callbacks.progress import GeneratorStepProgressBar
from lightning_wgen.callbacks.toy import ToyEvaluation, evaluate_toy

__all__ = ["GeneratorStepProgressBar", "ToyEvaluation", "evaluate_toy"]
