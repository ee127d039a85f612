"""A training DataLoader that resumes mid-epoch where it stopped, in the same order.

Lightning saves the ``state_dict`` of a loader that has one with the fit loop's state and hands it
back through ``load_state_dict`` when ``fit`` resumes from that checkpoint; a plain DataLoader has
none, so a resumed run would restart the epoch (and reshuffle it). :class:`ResumableLoader` keeps
the state of its shuffling generator at the start of each epoch and counts the batches it has
handed out: resumed, it restores that state and passes over the batches already trained on, so
the run continues with the very batches (and worker augmentations) it would have had.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader


class ResumableLoader(DataLoader):
    """A :class:`~torch.utils.data.DataLoader` with ``state_dict`` / ``load_state_dict``.

    The order of an epoch depends only on ``generator`` (a ``torch.Generator`` the loader owns;
    one seeded with 0 is made when none is given), never on the global random state. Counting is
    of the batches handed to the training loop, which is exact for the families that fetch their
    own batches (the adversarial ones) and for sized loaders, which Lightning does not prefetch.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("generator") is None:
            kwargs["generator"] = torch.Generator().manual_seed(0)
        super().__init__(*args, **kwargs)
        self._epoch_start: torch.Tensor | None = None  # generator state when this epoch began
        self._handed_out = 0
        self._exhausted = False
        self._resume: dict[str, Any] | None = None
        self.restored = False  # whether load_state_dict was called

    def state_dict(self) -> dict[str, Any]:
        # Lightning stops asking a sized loader for batches once it has had len(self) of them,
        # so the epoch may be over before this iterator has seen its end.
        length = _length(self)
        finished = self._exhausted or (length is not None and self._handed_out >= length)
        return {
            "epoch_start": self._epoch_start,
            "handed_out": self._handed_out,
            "exhausted": finished,
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._resume = dict(state)
        self.restored = True

    def __iter__(self) -> Iterator[Any]:
        return self._batches()

    def _batches(self) -> Iterator[Any]:
        # A generator: nothing here runs before the first batch is asked for, so a state loaded
        # after ``iter()`` (Lightning's loop makes the iterator before the epoch-start hooks)
        # still applies to this epoch.
        skip = 0
        if self._resume is not None:
            state, self._resume = self._resume, None
            if state["exhausted"] or state["epoch_start"] is None:
                self.generator.set_state(state["generator"])  # the next epoch, from its start
            else:
                self.generator.set_state(state["epoch_start"])  # this epoch, then skip ahead
                skip = int(state["handed_out"])
        self._epoch_start = self.generator.get_state()
        self._handed_out, self._exhausted = skip, False
        iterator = super().__iter__()
        for _ in range(skip):  # already trained on: drawn again, in order, and dropped
            next(iterator)
        # A sized loader stops after len(self) batches without asking for one more, as
        # Lightning's loop does: asking would run the sampler to its end, which draws from the
        # generator once more, and the next epoch's order would depend on who asked.
        length = _length(self)
        for batch in itertools.islice(iterator, None if length is None else length - skip):
            self._handed_out += 1
            yield batch
        self._exhausted = True


def _length(loader: DataLoader) -> int | None:
    try:
        return len(loader)
    except TypeError:  # an iterable data set without a length
        return None
