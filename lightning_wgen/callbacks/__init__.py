"""Callbacks: thin wrappers that decide when to evaluate and where to log."""

from lightning_wgen.callbacks.aeot import FitOT
from lightning_wgen.callbacks.checkpoints import BestEvaluationCheckpoint, LastCheckpoint
from lightning_wgen.callbacks.evaluation import ImageEvaluation
from lightning_wgen.callbacks.finetune import InitFromWeights
from lightning_wgen.callbacks.ot import OTDiagnostics
from lightning_wgen.callbacks.predictions import PredictionWriter
from lightning_wgen.callbacks.progress import GeneratorStepProgressBar
from lightning_wgen.callbacks.samples import ReconstructionGrid, SampleGrid, TrainingCurves
from lightning_wgen.callbacks.toy import ToyEvaluation, evaluate_toy

__all__ = [
    "BestEvaluationCheckpoint",
    "LastCheckpoint",
    "FitOT",
    "GeneratorStepProgressBar",
    "ImageEvaluation",
    "InitFromWeights",
    "OTDiagnostics",
    "PredictionWriter",
    "ReconstructionGrid",
    "SampleGrid",
    "ToyEvaluation",
    "TrainingCurves",
    "evaluate_toy",
]
