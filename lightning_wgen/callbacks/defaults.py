"""The run-time policies ``wgen fit`` adds to a run's callbacks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lightning.pytorch.callbacks import Callback, Timer

from lightning_wgen.callbacks.clock import TrainingClock
from lightning_wgen.callbacks.finetune import InitFromWeights
from lightning_wgen.callbacks.resume import ExactResume, GivenOptimizerSettings


def fit_policies(given: Sequence[Callback] = (), max_time: Any = None) -> list[Callback]:
    """Fine-tuning from ``init_from`` (:class:`InitFromWeights`), exact resume
    (:class:`ExactResume`), the optimizer settings given on resume (:class:`GivenOptimizerSettings`)
    and the training clock (:class:`TrainingClock`, limited to the trainer's ``max_time``), each
    unless ``given`` holds one of its kind (any ``Timer`` for the clock). With a plain
    ``Trainer``: ``Trainer(callbacks=[*mine, *fit_policies(mine)])``."""
    kinds = (
        (InitFromWeights, InitFromWeights),
        (ExactResume, ExactResume),
        (GivenOptimizerSettings, GivenOptimizerSettings),
        (Timer, lambda: TrainingClock(max_time)),
    )
    return [make() for kind, make in kinds if not any(isinstance(c, kind) for c in given)]
