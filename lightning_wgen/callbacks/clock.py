"""The training clock: Lightning's ``Timer``, with the time kept in the checkpoint's record."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Timer


class TrainingClock(Timer):
    """Lightning's :class:`~lightning.pytorch.callbacks.Timer` (no time limit unless
    ``duration``, e.g. ``"00:02:00:00"``), whose training time, summed over the runs a
    checkpoint resumed, also goes into ``checkpoint["wgen"]["train_seconds"]``: what ``wgen zoo
    publish`` reports and :attr:`GenerativeModule.train_seconds` reads. ``wgen fit`` adds it
    (with the trainer's ``max_time`` as its ``duration``)."""

    def __init__(self, duration: Any = None) -> None:
        super().__init__(duration=duration)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: Any, checkpoint: dict) -> None:
        # the value Timer saved in its own state, so that a resume starts from exactly it
        state = checkpoint.get("callbacks", {}).get(self.state_key) or self.state_dict()
        checkpoint.setdefault("wgen", {})["train_seconds"] = state["time_elapsed"]["train"]

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: Any, checkpoint: dict) -> None:
        # A checkpoint written without this clock still has the record; with it, Timer's
        # load_state_dict (called next) sets the same value.
        self._offset = float(checkpoint.get("wgen", {}).get("train_seconds", 0.0))
