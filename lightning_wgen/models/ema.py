"""The exponential moving average of a generator's weights, with a warm-up."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel

from lightning_wgen.errors import ConfigError


def ema_decay_at(decay: float, updates: int, warmup: bool = True) -> float:
    """The decay of the average's next update after ``updates`` earlier ones.

    With ``warmup``: ``min(decay, (1 + t) / (10 + t))``, the schedule of TensorFlow's
    ``ExponentialMovingAverage(decay, num_updates=t)``, so that the average forgets the first
    (untrained) weights after tens of updates instead of thousands (``decay`` 0.999 keeps 37 %
    of the weights of 1,000 updates ago). Without: ``decay`` itself.
    """
    return min(decay, (1 + updates) / (10 + updates)) if warmup else decay


def averaged_generator(
    generator: nn.Module, decay: float | None, warmup: bool = True, start: int = 0
) -> AveragedModel | None:
    """``torch.optim.swa_utils.AveragedModel`` of ``generator`` (buffers averaged too), or None
    when ``decay`` is None: the first update copies the weights, update ``t`` then takes
    ``W_ema <- d W_ema + (1 - d) W`` with ``d = ema_decay_at(decay, t, warmup)``. Before
    generator step ``start`` (see :func:`update_average`) the average copies the generator."""
    if decay is not None and not 0.0 < decay < 1.0:
        raise ConfigError(f"ema_decay must be in (0, 1) or None, got {decay}; try 0.999.")
    if start < 0:
        raise ConfigError(f"ema_start must be >= 0 generator steps, got {start}.")
    if decay is None:
        return None

    @torch.no_grad()
    def update(averaged: list[Tensor], current: list[Tensor], updates: Tensor) -> None:
        # called once per device and dtype; integer buffers (batch-norm counters) are copied
        if averaged[0].is_floating_point():
            torch._foreach_lerp_(averaged, current, 1.0 - ema_decay_at(decay, int(updates), warmup))
        else:
            torch._foreach_copy_(averaged, current)

    average = AveragedModel(generator, multi_avg_fn=update, use_buffers=True)
    average.start = start
    return average


def update_average(average: AveragedModel | None, generator: nn.Module, step: int) -> None:
    """Fold ``generator`` into ``average`` after generator step ``step`` (nothing if None)."""
    if average is None:
        return
    if step < average.start:
        average.n_averaged.zero_()  # the next update copies the weights
    average.update_parameters(generator)
