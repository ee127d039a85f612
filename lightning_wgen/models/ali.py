"""ALI / BiGAN (Dumoulin et al. 2017, "Adversarially learned inference"; Donahue, Krähenbühl,
Darrell 2017, "Adversarial feature learning")."""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from lightning_wgen.losses import (
    ali_discriminator_loss,
    ali_generator_loss,
    reconstruction_cost,
    wasserstein_estimate,
)
from lightning_wgen.models.adversarial import AdversarialModule
from lightning_wgen.models.optimizers import build_optimizer


class ALI(AdversarialModule):
    """An encoder ``E``, the generator ``G`` and a discriminator ``D(x, z)`` on joint pairs (e.g. a
    ``PairDiscriminator``) that tells ``(x, E(x))`` (label 1) from ``(G(z), z)`` (label 0)
    (:func:`~lightning_wgen.losses.ali_discriminator_loss`); ``E`` and ``G``, updated together by
    the generator optimizer, minimise the cross-entropy with the labels swapped
    (:func:`~lightning_wgen.losses.ali_generator_loss`). At the optimum the joint distributions
    match and ``E`` inverts ``G``. An encoder with ``gaussian = True`` is ALI's stochastic one,
    sampled by reparameterisation; a plain one is BiGAN's deterministic ``E``.
    Inference: :meth:`encode` (the mean), :meth:`reconstruct` (``G(E(x))``); logged:
    ``ali/reconstruction``, ``E ||x - G(E(x))||^2`` on the training batch.

    Paper defaults (ALI's tables): one discriminator update per generator update, Adam lr 1e-4,
    betas (0.5, 1e-3); with small networks on MNIST these gave NaN at step 116, so the configs
    use BiGAN's Adam lr 2e-4, betas (0.5, 0.999). Other arguments:
    :class:`~lightning_wgen.models.AdversarialModule`.
    """

    paper_n_critic = 1
    paper_optimizer = (torch.optim.Adam, {"lr": 1e-4, "betas": (0.5, 1e-3)})
    progress_bar_keys = ("critic/loss", "ali/reconstruction")

    def __init__(
        self, generator: nn.Module, encoder: nn.Module, critic: nn.Module, **kwargs: Any
    ) -> None:
        super().__init__(generator, critic, **kwargs)
        self.encoder = encoder

    def codes(self, x: Tensor, sample: bool = False) -> Tensor:
        """The encoder's codes: its mean, or with ``sample`` a reparameterised ``z ~ q(z|x)``."""
        out = self.encoder(x)
        if not getattr(self.encoder, "gaussian", False):
            return out
        mean, logvar = out.chunk(2, dim=1)
        return self.reparameterised(mean, logvar) if sample else mean

    def encode(self, x: Tensor) -> Tensor:
        return self.codes(x)

    def reconstruct(self, x: Tensor) -> Tensor:
        return self.generator(self.codes(x))

    def generated_batch(self, n: int) -> tuple[Tensor, Tensor]:
        z = self.training_noise(n)
        return self.generator(z), z

    def critic_objective(self, real: Tensor, fake: Any) -> tuple[Tensor, dict[str, Tensor]]:
        with torch.no_grad():
            codes = self.codes(real, sample=True)
        encoder_logits, generator_logits = self.critic(real, codes), self.critic(*fake)
        loss = ali_discriminator_loss(encoder_logits, generator_logits)
        gap = wasserstein_estimate(encoder_logits, generator_logits).detach()
        return loss, {"critic/w_estimate": gap}

    def generator_objective(self, fake: Any, real: Tensor) -> Tensor:
        codes = self.codes(real, sample=True)
        loss = ali_generator_loss(self.critic(real, codes), self.critic(*fake))
        with torch.no_grad():
            error = reconstruction_cost(real, self.reconstruct(real))
        self.log("ali/reconstruction", error, on_step=True, on_epoch=False, batch_size=len(real))
        return loss

    def optimizers_to_build(self) -> dict[str, Optimizer]:
        players = itertools.chain(self.generator.parameters(), self.encoder.parameters())
        return {
            name: build_optimizer(factory, params, self.paper_optimizer, f"{name}_optimizer")
            for name, factory, params in (
                ("generator", self.generator_optimizer, players),
                ("critic", self.critic_optimizer, self.critic.parameters()),
            )
        }

    def networks_chain(self) -> list[tuple[str, nn.Module]]:
        return [("generator", self.generator), ("encoder", self.encoder)]

    def critic_scores(self, x: Tensor) -> Tensor:
        """``D(x, E(x))``: the discriminator's logit of data paired with its code."""
        return self.critic(x, self.codes(x))
