"""The shared autoencoder base: encode, decode, reconstruct, sample from the prior, and one
training step that minimises a reconstruction cost plus a penalty on the codes.

Every family minimises ``reconstruction_weight * E c(X, G(Z~)) + penalty_weight * D_Z(Q_Z, P_Z)``
(Tolstikhin et al. 2018, "Wasserstein Auto-Encoders", Eq. 4) with ``c(x, y) = ||x - y||^2`` and
the prior ``P_Z = N(0, I)``; they differ in the encoder (deterministic or Gaussian) and in
``D_Z``: the KL of each posterior to the prior (VAE), an MMD (WAE-MMD) or a latent discriminator
(AAE, WAE-GAN). One training step is one decoder update, counted as a generator step.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from lightning_wgen.data.images import images_of
from lightning_wgen.errors import ConfigError
from lightning_wgen.losses import mmd_unbiased, reconstruction_cost
from lightning_wgen.models.ae_regularisers import CodeRegularisers
from lightning_wgen.models.base import GenerativeModule
from lightning_wgen.models.optimizers import OptimizerFactory, build_optimizer, hparams_ignore

# The networks and optimizers are rebuilt from the config (LightningCLI), never pickled.
NOT_HYPERPARAMETERS = (
    "encoder",
    "decoder",
    "optimizer",
    "discriminator",
    "discriminator_optimizer",
)


class AutoencoderModule(GenerativeModule):
    """Base of the autoencoder families (manual optimisation).

    A family sets ``gaussian_encoder`` (``True``/``False`` when it needs one kind of encoder,
    ``None`` for either), its paper's ``paper_optimizer`` and ``paper_reconstruction_weight``,
    calls :meth:`set_penalty_weight` with its own name for lambda, and defines
    :meth:`latent_penalty`. Logged every step: ``ae/reconstruction`` (``E c``, unweighted),
    ``ae/penalty`` (the family's ``D_Z``), ``ae/latent_mmd`` (the IMQ MMD between the batch's
    codes and as many prior samples: one yardstick for every family) and ``ae/loss``.

    Args:
        encoder: images to codes ``(B, d)``, or ``(B, 2d)`` (mean, log-variance) when its
            ``gaussian`` attribute is true.
        decoder: codes ``(B, d)`` to images; needs a ``latent_dim`` attribute.
        reconstruction_weight: the factor on ``c``; ``None``: the family's paper value.
        optimizer: callable ``params -> Optimizer`` for encoder and decoder together; ``None``:
            the family's paper optimizer.
        corruption, corruption_level: a denoising autoencoder: the encoder sees ``x`` corrupted
            ("masking" a fraction ``corruption_level`` of the pixels, or "gaussian" noise of
            that std) and the decoder must give back the clean ``x`` (:func:`~lightning_wgen.
            losses.corrupt`).
        sparsity_weight, sparsity, sparsity_target: a sparse autoencoder: ``"l1"`` adds
            ``weight * E sum_j |z_j|``, ``"kl"`` the KL sparsity penalty of the codes' sigmoids to
            ``sparsity_target`` (logged as ``ae/sparsity``).
        contractive_weight: a contractive autoencoder: adds ``weight * E ||J_f(x)||_F^2`` of the
            encoder's (mean) codes (logged as ``ae/contractive``).
        run_options: ``max_generator_steps``, ``lr_decay``, ``init_from``, ``nonfinite``: see
            :class:`GenerativeModule`.
    """

    gaussian_encoder: bool | None = None
    paper_optimizer: tuple[type[Optimizer], dict[str, Any]] = (
        torch.optim.Adam,
        {"lr": 1e-3, "betas": (0.5, 0.999)},
    )
    # Tolstikhin et al.'s code scales ||x - y||^2 by 0.05 (wae.py, cost "l2sq"); their lambdas
    # are relative to that.
    paper_reconstruction_weight: float = 0.05
    progress_bar_keys: tuple[str, ...] = ("ae/reconstruction", "ae/latent_mmd")
    advised_optimizer = ("autoencoder", "optimizer")

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        *,
        reconstruction_weight: float | None = None,
        optimizer: OptimizerFactory | None = None,
        corruption: str | None = None,
        corruption_level: float = 0.25,
        sparsity_weight: float = 0.0,
        sparsity: str = "l1",
        sparsity_target: float = 0.05,
        contractive_weight: float = 0.0,
        **run_options: Any,
    ) -> None:
        super().__init__(**run_options)
        family = type(self).__name__
        self.regularisers = CodeRegularisers(
            corruption, corruption_level, sparsity, sparsity_target,
            sparsity_weight=sparsity_weight, contractive_weight=contractive_weight,
        )  # fmt: skip
        for name, net in (("encoder", encoder), ("decoder", decoder)):
            if not hasattr(net, "latent_dim"):
                raise ConfigError(
                    f"{name} {type(net).__name__} has no `latent_dim` attribute; {family} needs "
                    f"it to match the code sizes. Set `self.latent_dim` in its __init__."
                )
        if encoder.latent_dim != decoder.latent_dim:
            raise ConfigError(
                f"the encoder makes codes of size {encoder.latent_dim} but the decoder takes "
                f"{decoder.latent_dim}; give both the same latent_dim."
            )
        gaussian = bool(getattr(encoder, "gaussian", False))
        if self.gaussian_encoder is not None and gaussian != self.gaussian_encoder:
            kind = "a Gaussian" if self.gaussian_encoder else "a deterministic"
            raise ConfigError(
                f"{family} needs {kind} encoder, got {type(encoder).__name__} with gaussian="
                f"{gaussian}; set the encoder's `gaussian: {str(self.gaussian_encoder).lower()}`."
            )
        weight = (
            self.paper_reconstruction_weight
            if reconstruction_weight is None
            else reconstruction_weight
        )
        if weight <= 0:
            raise ConfigError(
                f"reconstruction_weight must be > 0, got {weight}; the paper's code uses "
                f"{self.paper_reconstruction_weight:g}."
            )
        self.save_hyperparameters(ignore=hparams_ignore(*NOT_HYPERPARAMETERS))
        self.encoder = encoder
        self.decoder = decoder
        self.gaussian = gaussian
        self.reconstruction_weight = weight
        self.autoencoder_optimizer = optimizer

    # -- what a family defines --------------------------------------------------------------------

    def latent_penalty(self, codes: Tensor, posterior: tuple[Tensor, Tensor] | None) -> Tensor:
        """``D_Z`` on a batch of codes (and the Gaussian posterior's mean and log-variance)."""
        raise NotImplementedError

    # -- the model --------------------------------------------------------------------------------

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """The encoder's mean codes ``(B, d)`` and, for a Gaussian encoder, the log-variances."""
        out = self.encoder(x)
        if not self.gaussian:
            return out, None
        mean, logvar = out.chunk(2, dim=1)
        return mean, logvar

    def encode(self, x: Tensor) -> Tensor:
        """Deterministic codes ``(B, d)``: the encoder's output, or its posterior mean."""
        return self.posterior(x)[0]

    def sample_posterior(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One code ``z ~ Q(Z|x)`` per image ``(B, d)`` with noise from ``generator`` (not the
        training stream): ``mean + exp(logvar / 2) * eps`` for a Gaussian encoder, the code
        itself for a deterministic one. Over a data set these are samples of the aggregate
        posterior ``Q_Z`` (Tolstikhin et al. 2018, Sec. 2), the measure the prior should match."""
        mean, logvar = self.posterior(x)
        if logvar is None:
            return mean
        return self.reparameterised(
            mean, logvar, torch.randn(mean.shape, generator=generator).to(mean)
        )

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def reconstruct(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    def forward(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def networks_chain(self) -> list[tuple[str, nn.Module]]:
        return [("decoder", self.decoder), ("encoder", self.encoder)]

    def sampling_network(self, ema: bool) -> nn.Module:
        return self.decoder

    def codes_for_training(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor] | None]:
        """Codes ``z~ ~ Q(Z|x)``: the reparameterised sample (:meth:`reparameterised`) for a
        Gaussian encoder, the code itself otherwise."""
        mean, logvar = self.posterior(x)
        if logvar is None:
            return mean, None
        return self.reparameterised(mean, logvar), (mean, logvar)

    # -- optimisation -----------------------------------------------------------------------------

    def optimizers_to_build(self) -> dict[str, Optimizer]:
        params = [*self.encoder.parameters(), *self.decoder.parameters()]
        factory = self.autoencoder_optimizer
        return {"autoencoder": build_optimizer(factory, params, self.paper_optimizer)}

    def update_discriminator(self, codes: Tensor) -> dict[str, Tensor]:
        """Hook before the autoencoder's update, given the batch's (detached) codes; its logs."""
        return {}

    def autoencoder_update(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """One update of encoder and decoder on the family's objective (after the latent
        discriminator's, for the families that have one); the codes and the step's logs."""
        seen = self.regularisers.encoder_input(self, x)
        codes, posterior = self.codes_for_training(seen)
        logs = self.update_discriminator(codes.detach())
        reconstruction = reconstruction_cost(self.decoder(codes), x)
        penalty = self.latent_penalty(codes, posterior)
        terms = {"ae/reconstruction": reconstruction, "ae/penalty": penalty}
        terms.update(self.regularisers.terms(seen, codes if posterior is None else posterior[0]))
        loss = self.reconstruction_weight * reconstruction + self.penalty_weight * penalty
        loss = loss + self.regularisers.weighted(terms)
        terms = {"ae/loss": loss, **terms}  # the total first in logs and divergence messages
        self.step_if_finite(self.optimizer("autoencoder"), loss, terms, "autoencoder update")
        return codes.detach(), {**logs, **terms}

    def training_step(self, batch: Any, batch_idx: int) -> None:
        x = images_of(batch)
        self.check_data_shape(x, "decoder")
        codes, logs = self.autoencoder_update(x)
        logs["ae/latent_mmd"] = self.step_latent_mmd(codes, logs["ae/penalty"])
        logs = {k: v.detach() for k, v in logs.items()}
        self.log_step(logs, x.shape[0])
        self.finish_generator_step()

    def step_latent_mmd(self, codes: Tensor, penalty: Tensor) -> Tensor:
        """``ae/latent_mmd`` of a training step, given its codes and the family's penalty."""
        return self.latent_mmd(codes)

    @torch.no_grad()
    def latent_mmd(self, codes: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """IMQ MMD between ``codes`` and as many prior samples: ``ae/latent_mmd``. The prior
        samples come from ``generator`` when one is given, else from the training stream."""
        if generator is None:
            return mmd_unbiased(codes, self.training_randn_like(codes))
        prior = torch.randn(codes.shape, generator=generator).to(codes)
        return mmd_unbiased(codes, prior)

    def validation_step(self, batch: Any, batch_idx: int, prefix: str = "val") -> None:
        """Reconstruction cost of held-out images and the MMD of their codes (``val/``)."""
        x = images_of(batch)
        self.check_data_shape(x, "decoder")
        with torch.no_grad():
            codes = self.encode(x)
            values = {
                f"{prefix}/reconstruction": reconstruction_cost(self.decoder(codes), x),
                # seeded by the batch index: the global random state is training's
                f"{prefix}/latent_mmd": self.latent_mmd(
                    codes, generator=torch.Generator().manual_seed(batch_idx)
                ),
            }
        self.log_dict(values, on_epoch=True, batch_size=x.shape[0])

    def test_step(self, batch: Any, batch_idx: int) -> None:
        """:meth:`validation_step` on the test split (``wgen test``), logged as ``test/``."""
        self.validation_step(batch, batch_idx, prefix="test")

    def predict_step(self, batch: Any, batch_idx: int) -> dict[str, Tensor]:
        """``wgen predict``: codes and reconstructions of the data (the test split by default)."""
        x = images_of(batch)
        self.check_data_shape(x, "decoder")
        with torch.no_grad():
            codes = self.encode(x)
            return {"codes": codes, "reconstructions": self.decoder(codes)}
