"""The classic autoencoder regularisers, as options of every autoencoder family: denoising,
sparse and contractive (the penalties are pure functions in :mod:`lightning_wgen.losses`)."""

from __future__ import annotations

import torch
from torch import Tensor

from lightning_wgen.errors import ConfigError
from lightning_wgen.losses import (
    CORRUPTIONS,
    contractive_penalty,
    corrupt,
    kl_sparsity,
    l1_sparsity,
)

SPARSITIES = ("l1", "kl")


class CodeRegularisers:
    """What the encoder sees in training, and the penalties added to the autoencoder's loss.

    ``corruption`` ("masking" or "gaussian", with ``level``) makes a denoising autoencoder;
    ``sparsity_weight`` > 0 adds the ``sparsity`` penalty ("l1" on the codes, or "kl" of the
    codes' sigmoids to ``target``); ``contractive_weight`` > 0 adds ``E ||J_f(x)||_F^2``. Both
    penalties act on the encoder's mean codes and are logged unweighted (``ae/sparsity``,
    ``ae/contractive``).
    """

    def __init__(
        self,
        corruption: str | None,
        level: float,
        sparsity: str,
        target: float,
        *,
        sparsity_weight: float,
        contractive_weight: float,
    ) -> None:
        limit = 1.0 if corruption == "masking" else float("inf")
        for name, value, wrong, what in (
            ("corruption", corruption, corruption not in (None, *CORRUPTIONS),
             f"one of {CORRUPTIONS} or null"),
            ("corruption_level", level, not 0 < level < limit, "> 0 (and < 1 for masking)"),
            ("sparsity", sparsity, sparsity not in SPARSITIES, f"one of {SPARSITIES}"),
            ("sparsity_target", target, not 0 < target < 1, "in (0, 1)"),
            ("sparsity_weight", sparsity_weight, sparsity_weight < 0, ">= 0 (0 turns it off)"),
            ("contractive_weight", contractive_weight, contractive_weight < 0,
             ">= 0 (0 turns it off)"),
        ):  # fmt: skip
            if wrong:
                raise ConfigError(f"{name} must be {what}, got {value!r}.")
        self.corruption, self.level = corruption, level
        self.sparsity, self.target = sparsity, target
        self.weights = {"ae/sparsity": sparsity_weight, "ae/contractive": contractive_weight}

    def encoder_input(self, module, x: Tensor) -> Tensor:
        """``x``, or ``x`` corrupted (denoising), with gradients on for the contractive penalty;
        the noise comes from ``module``'s training stream (the same under DDP)."""
        if self.corruption == "gaussian":
            x = corrupt(x, "gaussian", self.level, module.training_randn_like(x))
        elif self.corruption == "masking":
            shape = x.shape[1:]
            draw = module.shard_rows(len(x), lambda m: torch.rand(m, *shape, device=x.device))
            x = corrupt(x, "masking", self.level, draw.to(x.dtype))
        if self.weights["ae/contractive"]:
            x = x.detach().requires_grad_(True)
        return x

    def terms(self, seen: Tensor, codes: Tensor) -> dict[str, Tensor]:
        """The switched-on penalties of ``codes``, computed from ``seen`` (unweighted)."""
        out = {}
        if self.weights["ae/sparsity"]:
            kl = self.sparsity == "kl"
            out["ae/sparsity"] = (
                kl_sparsity(codes.sigmoid(), self.target) if kl else l1_sparsity(codes)
            )
        if self.weights["ae/contractive"]:
            out["ae/contractive"] = contractive_penalty(seen, codes)
        return out

    def weighted(self, terms: dict[str, Tensor]) -> Tensor | float:
        """Their weighted sum, to add to the loss."""
        return sum(self.weights[k] * v for k, v in terms.items() if k in self.weights)
