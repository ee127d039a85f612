"""What the benchmarks share: a bare Trainer, merging result records, rewriting a doc's table,
and the gradient penalty of the plain PyTorch loops they race against."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import lightning as L
import torch
from torch import Tensor, nn


def plain_gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
    """WGAN-GP's two-sided penalty as the single-file scripts write it (no library code): mean
    ``(||grad D(x_hat)|| - 1)^2`` on random interpolates of image batches (Gulrajani et al. 2017,
    Eq. 3)."""
    alpha = torch.rand(real.shape[0], 1, 1, 1)
    mix = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mix).sum(), mix, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).square().mean()


def bare_trainer() -> L.Trainer:
    """A CPU Trainer with no logger, checkpoint, progress bar or summary: only the training."""
    return L.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=-1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )


def merge_records(path: Path, new: list[dict]) -> list[dict]:
    """Earlier records of ``path`` (JSON) with those of the same ``(row, seed)`` replaced by
    ``new``; written back and returned."""
    old = json.loads(path.read_text()) if path.is_file() else []
    done = {(r["row"], r["seed"]) for r in new}
    records = [r for r in old if (r["row"], r["seed"]) not in done] + new
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=1) + "\n")
    return records


def rewrite_table(doc: Path, begin: str, end: str, text: str) -> None:
    """Put ``text`` between the ``begin`` and ``end`` markers of ``doc``, when it has them."""
    print(text)
    if doc.is_file() and begin in doc.read_text():
        head, rest = doc.read_text().split(begin, 1)
        doc.write_text(f"{head}{begin}\n{text}\n{end}{rest.split(end, 1)[1]}")
        print(f"rewrote the table in {doc}")


def spread(values: list[float], fmt: str) -> str:
    """``mean ± standard deviation`` of ``values`` in format ``fmt`` (the mean alone for one
    value, ``-`` for none)."""
    if not values:
        return "-"
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:{fmt}}"
    return f"{mean:{fmt}} ± {statistics.stdev(values):{fmt}}"
