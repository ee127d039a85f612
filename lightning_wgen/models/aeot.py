"""AE-OT (An, Guo, Lei, Luo, Yau, Gu, ICLR 2020, "AE-OT: A new generative model based on
extended semi-discrete optimal transport")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn

from lightning_wgen.data.images import images_of
from lightning_wgen.errors import ConfigError
from lightning_wgen.models.autoencoder import AutoencoderModule
from lightning_wgen.ot import SemiDiscreteMap, SemiDiscreteResult


class AEOT(AutoencoderModule):
    """An autoencoder trained for reconstruction alone (no latent penalty: the codes keep the
    data's shape), then a semi-discrete OT map from the uniform cube ``[0, 1]^d`` to the codes of
    the training set (:meth:`fit_ot`; the :class:`~lightning_wgen.callbacks.FitOT` callback or
    ``wgen fit-ot``). Sampling draws cube points, maps them to new codes by Algorithm 2 and
    decodes them. The map (codes, heights, centroids) is part of the state dict and checkpoint.

    Args:
        encoder, decoder: a deterministic encoder and its decoder (see
            :class:`~lightning_wgen.models.AutoencoderModule`).
        angle_threshold: ``theta`` of Algorithm 2 (radians, on codes scaled into the cube; see
            :class:`~lightning_wgen.ot.SemiDiscreteMap`).
        **kwargs: reconstruction_weight, optimizer, max_generator_steps, lr_decay.
    """

    gaussian_encoder = False

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        *,
        angle_threshold: float = 0.05,
        **kwargs: Any,
    ) -> None:
        super().__init__(encoder, decoder, **kwargs)
        self.ot_map = SemiDiscreteMap(angle_threshold)

    @property
    def can_sample(self) -> bool:
        return self.ot_map.fitted

    def latent_penalty(self, codes: Tensor, posterior: tuple[Tensor, Tensor] | None) -> Tensor:
        return codes.new_zeros(())

    def noise(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """``n`` codes made by the OT generator from uniform cube points (not ``N(0, I)``)."""
        return self.ot_map.sample(n, generator=generator).to(self.device)

    @torch.no_grad()
    def encode_all(self, batches: Iterable[Any], *, max_codes: int | None = None) -> Tensor:
        """Codes ``(N, d)`` of the images of ``batches`` (eval mode), at most ``max_codes``."""
        was_training = self.training
        self.eval()
        codes, count = [], 0
        try:
            for batch in batches:
                codes.append(self.encode(images_of(batch).to(self.device)).float())
                count += len(codes[-1])
                if max_codes is not None and count >= max_codes:
                    break
        finally:
            self.train(was_training)
        if not codes:
            raise ConfigError("fit_ot got no images to encode; check the training data.")
        return torch.cat(codes)[:max_codes]

    def fit_ot(
        self, batches: Iterable[Any], *, max_codes: int | None = None, **solver: Any
    ) -> SemiDiscreteResult:
        """Encode ``batches`` (the training set) and fit the OT map to the codes; ``solver``
        goes to :func:`~lightning_wgen.ot.solve_semidiscrete_ot`."""
        return self.ot_map.fit(self.encode_all(batches, max_codes=max_codes), **solver)
