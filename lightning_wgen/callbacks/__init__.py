"""Callbacks: when to evaluate and where to log, and the run-time policies (fine-tuning, exact
resume, the training clock, speed options) that ``wgen`` adds to a run."""

from lightning_wgen.callbacks.aeot import FitOT
from lightning_wgen.callbacks.checkpoints import BestEvaluationCheckpoint, LastCheckpoint
from lightning_wgen.callbacks.clock import TrainingClock
from lightning_wgen.callbacks.defaults import fit_policies
from lightning_wgen.callbacks.evaluation import ImageEvaluation
from lightning_wgen.callbacks.finetune import InitFromWeights
from lightning_wgen.callbacks.ot import OTDiagnostics
from lightning_wgen.callbacks.predictions import PredictionWriter
from lightning_wgen.callbacks.progress import GeneratorStepProgressBar
from lightning_wgen.callbacks.resume import ExactResume, GivenOptimizerSettings
from lightning_wgen.callbacks.samples import ReconstructionGrid, SampleGrid, TrainingCurves
from lightning_wgen.callbacks.speed import SpeedOptions
from lightning_wgen.callbacks.toy import ToyEvaluation, evaluate_toy

__all__ = [
    "BestEvaluationCheckpoint",
    "ExactResume",
    "FitOT",
    "GeneratorStepProgressBar",
    "GivenOptimizerSettings",
    "ImageEvaluation",
    "InitFromWeights",
    "LastCheckpoint",
    "OTDiagnostics",
    "PredictionWriter",
    "ReconstructionGrid",
    "SampleGrid",
    "SpeedOptions",
    "ToyEvaluation",
    "TrainingClock",
    "TrainingCurves",
    "evaluate_toy",
    "fit_policies",
]
