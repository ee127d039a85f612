"""The non-finite guard's checks: which terms of an update are NaN or infinite, and whether an
overflow is the mixed-precision loss scaler's business."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def nonfinite_terms(terms: dict[str, Tensor | None]) -> str:
    """``""`` when every value of ``terms`` (``None`` ones left out) is finite, checked with one
    host sync; else ``"name = value, ..."`` for those that are not."""
    terms = {name: value for name, value in terms.items() if value is not None}
    values = torch.stack([value.detach().float().reshape(()) for value in terms.values()])
    if bool(torch.isfinite(values).all()):
        return ""
    return ", ".join(f"{k} = {v.item()}" for k, v in terms.items() if not v.isfinite())


def scaler_absorbs(scaler: Any | None) -> bool:
    """Whether the GradScaler of ``precision="16-mixed"`` deals with an overflow itself: it
    skips the optimizer step and halves its scale. The guard acts only once the scale is down to
    1, when lowering it further no longer explains the overflow."""
    return scaler is not None and scaler.is_enabled() and scaler.get_scale() > 1.0
