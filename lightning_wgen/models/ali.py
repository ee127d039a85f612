"""ALI / BiGAN (Dumoulin et al. 2017, "Adversarially learned inference"; Donahue, Krähenbühl,
Darrell 2017, "Adversarial feature learning")."""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from lightning_wgen.data.images import images_of
from lightning_wgen.losses import (
    ali_discriminator_loss,
    ali_generator_loss,
    reconstruction_cost,
    wasserstein_estimate,
)
from lightning_wgen.models.adversarial import AdversarialModule
from lightning_wgen.models.optimizers import build_optimizer


class ALI(AdversarialModule):
    """An encoder ``E`` (data to codes), the generator ``G`` (codes to data) and a discriminator
    ``D(x, z)`` on joint pairs (e.g. a ``PairDiscriminator``), which tells ``(x, E(x))`` (label 1)
    from ``(G(z), z)`` (label 0) (:func:`~lightning_wgen.losses.ali_discriminator_loss`); the
    encoder and the generator, updated together by the generator optimizer, minimise the same
    cross-entropy with the labels swapped (:func:`~lightning_wgen.losses.ali_generator_loss`).
    At the optimum the two joint distributions match and ``E`` inverts ``G``.

    An encoder with ``gaussian = True`` (``ConvEncoder(gaussian=True)``, ``MLPEncoder``) is ALI's
    stochastic one, sampled by reparameterisation (``z = mu + sigma * eps``, Sec. 2.2); a plain
    encoder is BiGAN's deterministic ``E``. Inference: :meth:`encode` (the posterior mean) and
    :meth:`reconstruct` (``G(E(x))``). Logged: ``ali/reconstruction`` (``E ||x - G(E(x))||^2``
    on the training batch), and at validation ``val/reconstruction`` on held-out data.

    Paper defaults (ALI, Appendix A): one discriminator update per generator update, Adam with lr
    1e-4 and betas (0.5, 1e-3) for both players. With small networks on MNIST these gave NaN at
    step 116; the shipped configs use BiGAN's Adam lr 2e-4, betas (0.5, 0.999). Other arguments:
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

    # -- inference -----------------------------------------------------------------------------

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """The encoder's mean and log-variance (``None`` for a deterministic encoder)."""
        out = self.encoder(x)
        if getattr(self.encoder, "gaussian", False):
            mean, logvar = out.chunk(2, dim=1)
            return mean, logvar
        return out, None

    def encode(self, x: Tensor) -> Tensor:
        """Deterministic codes ``(B, latent_dim)``: the encoder's output, or its mean."""
        return self.posterior(x)[0]

    def reconstruct(self, x: Tensor) -> Tensor:
        return self.generator(self.encode(x))

    def sampled_codes(self, x: Tensor) -> Tensor:
        """``z ~ q(z | x)``: the reparameterised sample, or the deterministic code."""
        mean, logvar = self.posterior(x)
        if logvar is None:
            return mean
        return mean + self.training_randn_like(mean) * (0.5 * logvar).exp()

    # -- training ------------------------------------------------------------------------------

    def generated_batch(self, n: int) -> tuple[Tensor, Tensor]:
        z = self.training_noise(n)
        return self.generator(z), z

    def critic_objective(
        self, real: Tensor, fake: tuple[Tensor, Tensor]
    ) -> tuple[Tensor, dict[str, Tensor]]:
        with torch.no_grad():
            codes = self.sampled_codes(real)
        encoder_logits, generator_logits = self.critic(real, codes), self.critic(*fake)
        loss = ali_discriminator_loss(encoder_logits, generator_logits)
        return loss, {
            "critic/w_estimate": wasserstein_estimate(encoder_logits, generator_logits).detach()
        }

    def generator_objective(self, fake: tuple[Tensor, Tensor], real: Tensor) -> Tensor:
        codes = self.sampled_codes(real)
        loss = ali_generator_loss(self.critic(real, codes), self.critic(*fake))
        with torch.no_grad():
            error = reconstruction_cost(real, self.reconstruct(real))
        self.log("ali/reconstruction", error, on_step=True, on_epoch=False, batch_size=len(real))
        return loss

    def optimizers_to_build(self) -> dict[str, Optimizer]:
        players = itertools.chain(self.generator.parameters(), self.encoder.parameters())
        return {
            "generator": build_optimizer(
                self.generator_optimizer, players, self.paper_optimizer, "generator_optimizer"
            ),
            "critic": build_optimizer(
                self.critic_optimizer, self.critic.parameters(), self.paper_optimizer,
                "critic_optimizer",
            ),
        }  # fmt: skip

    def networks_chain(self) -> list[tuple[str, nn.Module]]:
        return [("generator", self.generator), ("encoder", self.encoder)]

    def critic_scores(self, x: Tensor) -> Tensor:
        """``D(x, E(x))``: the discriminator's logit of data paired with its code."""
        return self.critic(x, self.encode(x))

    def validation_step(self, batch: Any, batch_idx: int, prefix: str = "val") -> None:
        """``val/reconstruction``: ``E ||x - G(E(x))||^2`` on held-out data."""
        real = images_of(batch)
        self.check_data_shape(real, "generator")
        with torch.no_grad():
            error = reconstruction_cost(real, self.reconstruct(real))
        self.log(f"{prefix}/reconstruction", error, on_epoch=True, batch_size=real.shape[0])
