"""WGAN-QC (Liu, Gu, Samaras, ICCV 2019, "Wasserstein GAN with quadratic transport cost")."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from lightning_wgen.errors import ConfigError
from lightning_wgen.losses import (
    batch_kantorovich_potentials,
    critic_slopes,
    quadratic_transport_cost,
    wasserstein_estimate,
    wgan_qc_regression_loss,
    wgan_qc_transport_regulariser,
)
from lightning_wgen.models.adversarial import AdversarialModule


class WGANQC(AdversarialModule):
    """The critic regresses the Kantorovich potentials of each batch's exact optimal transport
    under the cost ``K/2 ||x - y||^2`` (:func:`~lightning_wgen.losses.batch_kantorovich_potentials`,
    POT's network simplex), plus ``gamma`` times the optimal-transport regulariser (OTR,
    :func:`~lightning_wgen.losses.wgan_qc_transport_regulariser`, weighted ``gamma / (2 sqrt
    K)``); the generator minimises ``-E D(G(z))``. ``transport_scale`` is K; ``None``: one over
    the data's dimension (the authors' default). Logged: ``critic/transport_cost``, the batch's
    exact quadratic transport cost, which ``critic/w_estimate`` (``E D(x) - E D(G(z))``)
    approaches as the regression fits.

    Defaults of the authors' code: gamma 0.1, one critic update per generator update, Adam with
    lr 1e-4 and betas (0.5, 0.999). Other arguments:
    :class:`~lightning_wgen.models.AdversarialModule`.
    """

    paper_n_critic = 1
    paper_optimizer = (torch.optim.Adam, {"lr": 1e-4, "betas": (0.5, 0.999)})
    per_sample_critic = True
    critic_takes_input_gradients = True
    progress_bar_keys = ("critic/loss", "critic/transport_cost")

    def __init__(
        self,
        generator: nn.Module,
        critic: nn.Module,
        *,
        gamma: float = 0.1,
        transport_scale: float | None = None,
        **kwargs: Any,
    ) -> None:
        if transport_scale is not None and transport_scale <= 0:
            raise ConfigError(
                f"transport_scale (K) must be > 0, got {transport_scale}; leave it unset for the "
                "paper's 1 / dimension."
            )
        super().__init__(generator, critic, **kwargs)
        self.set_penalty_weight("gamma", gamma)
        self.transport_scale = transport_scale

    def cost_scale(self, x: Tensor) -> float:
        """K for samples shaped as ``x``: ``transport_scale`` or one over their dimension."""
        return self.transport_scale or 1.0 / x[0].numel()

    def critic_objective(self, real: Tensor, fake: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        scale = self.cost_scale(real)
        batch = batch_kantorovich_potentials(quadratic_transport_cost(real, fake, scale))
        real_scores, fake_scores = self.critic(real), self.critic(fake)
        loss = wgan_qc_regression_loss(
            real_scores, fake_scores, batch.real_targets, batch.fake_targets
        )
        logs = {
            "critic/w_estimate": wasserstein_estimate(real_scores, fake_scores).detach(),
            "critic/transport_cost": batch.cost,
        }
        if self.penalty_weight > 0:
            slopes = critic_slopes(self.critic, fake, create_graph=True, grad_scale=self.grad_scale)
            displacement = real[batch.match] - fake.to(real.dtype)
            penalty = wgan_qc_transport_regulariser(slopes, displacement, scale)
            loss = loss + self.penalty_weight / (2 * math.sqrt(scale)) * penalty
            logs["critic/penalty"] = penalty.detach()
        return loss, logs
