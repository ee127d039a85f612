"""The shared adversarial base: the critic/generator schedule, optimizers, EMA and sampling.

One ``training_step`` is one generator iteration: it draws a fresh real batch for each of its
critic updates from the dataloader iterator, then makes one generator update. Lightning's
per-step overhead is thus paid once per ``n_critic + 1`` optimizer steps.

Training length: Lightning's ``trainer.global_step`` counts *every* optimizer step (critic and
generator), so ``trainer.max_steps`` would mean ``n_critic + 1`` times fewer generator steps than it
says. Set ``max_generator_steps`` on the module instead; ``generator_steps`` is the counter it is
compared against, and it is saved in and restored from checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from lightning_wgen.data.images import images_of
from lightning_wgen.errors import ConfigError
from lightning_wgen.losses import (
    wasserstein_critic_loss,
    wasserstein_estimate,
    wasserstein_generator_loss,
)
from lightning_wgen.models.base import GenerativeModule
from lightning_wgen.models.ema import averaged_generator, update_average
from lightning_wgen.models.optimizers import OptimizerFactory, build_optimizer, hparams_ignore

Critic = Callable[[Tensor], Tensor]  # samples to scores (or features)
WARMUP_CRITIC_STEPS = 100
WARMUP_GENERATOR_STEPS = 25
WARMUP_EVERY = 500


def critic_steps_for(generator_step: int, n_critic: int, warmup: bool) -> int:
    """Critic updates before generator update number ``generator_step`` (counted from 0).

    With ``warmup`` this is the schedule of the original WGAN code (Arjovsky et al. 2017): 100
    critic iterations for the first 25 generator iterations and for every 500th, else ``n_critic``.
    """
    if warmup and (generator_step < WARMUP_GENERATOR_STEPS or generator_step % WARMUP_EVERY == 0):
        return WARMUP_CRITIC_STEPS
    return n_critic


def _reject_batch_norm(critic: nn.Module, family: str) -> None:
    norms = [
        type(m).__name__ for m in critic.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
    ]
    if norms:
        raise ConfigError(
            f"{family} takes its penalty per sample, but the critic {type(critic).__name__} has "
            f"{norms[0]} layers, which mix the samples of a batch; use a critic without batch "
            "norm (e.g. DCGANCritic with norm='layer' or 'none')."
        )


class AdversarialModule(GenerativeModule):
    """Base for critic/generator families, with manual optimization.

    A family overrides only what differs from the Wasserstein defaults: :meth:`critic_loss`,
    :meth:`generator_loss`, :meth:`critic_penalty` (weighted by ``penalty_weight``),
    :meth:`after_critic_step`, :meth:`step_critic` (Cramér GAN's critic is a function of the
    network), :meth:`generated_batch` or :meth:`generator_objective`, and states its paper's
    defaults in the class attributes ``paper_n_critic``, ``paper_critic_warmup`` and
    ``paper_optimizer``.
    Everything else (the ``n_critic`` loop, warm-up, EMA, sampling, logging, step counting)
    lives here. Families whose penalty is taken per sample set ``per_sample_critic`` and refuse
    critics with batch norm.

    Args:
        generator: maps ``(B, generator.latent_dim)`` noise to data-space samples.
        critic: maps data-space samples to scores ``(B,)`` (or features ``(B, k)`` for Cramér GAN).
        n_critic: critic updates per generator update; ``None``: the family's paper default.
        critic_warmup: use the WGAN warm-up schedule (see :func:`critic_steps_for`); ``None``: the
            family's paper default (on for ``WGAN`` only).
        generator_optimizer, critic_optimizer: callables ``params -> Optimizer``; ``None`` uses the
            family's paper optimizer (``paper_optimizer``).
        ema_decay: if set, keep an exponential moving average of the generator's weights and
            sample from it; ``ema_warmup`` (default on) lowers the decay of update ``t`` to
            ``(1 + t) / (10 + t)`` while that is smaller (:func:`~lightning_wgen.models.ema.
            ema_decay_at`); before generator step ``ema_start`` the average copies the generator.
        run_options: ``max_generator_steps``, ``lr_decay``, ``init_from``, ``nonfinite``: see
            :class:`GenerativeModule`.
    """

    paper_n_critic: int = 5
    paper_critic_warmup: bool = False
    paper_optimizer: tuple[type[Optimizer], dict[str, Any]] = (
        torch.optim.Adam,
        {"lr": 1e-4, "betas": (0.0, 0.9)},
    )
    per_sample_critic: bool = False
    # the penalty differentiates the critic's input gradient again (double backward)
    critic_takes_input_gradients: bool = False

    progress_bar_keys: tuple[str, ...] = ("critic/loss", "critic/w_estimate")
    advised_optimizer = ("critic", "critic_optimizer")

    def __init__(
        self,
        generator: nn.Module,
        critic: nn.Module,
        *,
        n_critic: int | None = None,
        critic_warmup: bool | None = None,
        generator_optimizer: OptimizerFactory | None = None,
        critic_optimizer: OptimizerFactory | None = None,
        ema_decay: float | None = None,
        ema_warmup: bool = True,
        ema_start: int = 0,
        **run_options: Any,
    ) -> None:
        super().__init__(**run_options)
        n_critic = self.paper_n_critic if n_critic is None else n_critic
        critic_warmup = self.paper_critic_warmup if critic_warmup is None else critic_warmup
        if n_critic < 1:
            raise ConfigError(f"n_critic must be >= 1, got {n_critic}; use 5 as in WGAN/WGAN-GP.")
        if not hasattr(generator, "latent_dim"):
            raise ConfigError(
                f"generator {type(generator).__name__} has no `latent_dim` attribute; the module "
                "needs it to draw noise. Set `self.latent_dim` in the generator's __init__."
            )
        networks = ("generator", "critic", "encoder")  # the encoder: ALI's
        self.save_hyperparameters(
            ignore=hparams_ignore(*networks, "generator_optimizer", "critic_optimizer")
        )
        if self.per_sample_critic:
            _reject_batch_norm(critic, type(self).__name__)
        self.generator, self.critic = generator, critic
        self.n_critic, self.critic_warmup = n_critic, critic_warmup
        # the optimizer factories, built in optimizers_to_build
        self.generator_optimizer, self.critic_optimizer = generator_optimizer, critic_optimizer
        self.generator_ema = averaged_generator(generator, ema_decay, ema_warmup, ema_start)
        self.critic_steps_in_cycle = 0
        self._batch_size = 0

    # -- what a family defines --------------------------------------------------------------------
    # The defaults are the Wasserstein losses, without penalty; a family overrides what differs.

    def critic_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        """The critic's loss on its scores of a real and a generated batch."""
        return wasserstein_critic_loss(real_scores, fake_scores)

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        """The generator's loss on the critic's scores of a generated batch."""
        return wasserstein_generator_loss(fake_scores)

    def critic_penalty(self, critic: Critic, real: Tensor, fake: Tensor) -> Tensor | None:
        """The family's regulariser on ``critic`` (weighted by ``penalty_weight``), or ``None``."""
        return None

    def step_critic(self, n: int) -> Critic:
        """The critic ``f`` as one critic update of batch size ``n`` scores samples: the network
        itself, or a function of it (Cramér GAN's ``f`` against a generated reference batch)."""
        return self.critic

    def generated_batch(self, n: int) -> Any:
        """The generated side of one update: ``n`` samples of fresh noise (ALI: with the noise)."""
        return self.generator(self.training_noise(n))

    def critic_objective(self, real: Tensor, fake: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Critic loss to minimise on one real and one (detached) fake batch, and values to log.

        ``critic/w_estimate`` is the score gap ``E f(x_real) - E f(x_fake)``: the W1 estimate
        of the Wasserstein families, a plain separation measure for the others.
        """
        critic = self.step_critic(real.shape[0])
        real_scores, fake_scores = critic(real), critic(fake)
        loss = self.critic_loss(real_scores, fake_scores)
        logs = {"critic/w_estimate": wasserstein_estimate(real_scores, fake_scores).detach()}
        penalty = self.critic_penalty(critic, real, fake)
        if penalty is not None:
            loss = loss + self.penalty_weight * penalty
            logs["critic/penalty"] = penalty.detach()
        return loss, logs

    def generator_objective(self, fake: Tensor, real: Tensor) -> Tensor:
        """Generator loss to minimise on a fake batch that carries the generator's graph.

        ``real`` is the last real batch the critic saw (Cramér GAN's generator loss needs it).
        """
        return self.generator_loss(self.critic(fake))

    @property
    def grad_scale(self) -> Tensor | None:
        """The loss scale of ``precision="16-mixed"`` as a tensor (read without a host sync), or
        ``None``: penalties take their input gradients of the scaled scores and unscale them
        (:func:`~lightning_wgen.losses.critic_slopes`)."""
        scaler = self.loss_scaler
        return None if scaler is None else scaler.scale(torch.ones((), device=self.device))

    def after_critic_step(self) -> None:
        """Hook run after every critic update (weight clipping goes here)."""

    def critic_scores(self, x: Tensor) -> Tensor:
        """The critic's score ``f(x)`` ``(B,)`` per sample, for diagnostics and validation."""
        return self.critic(x)

    # -- sampling ---------------------------------------------------------------------------------

    def sampling_network(self, ema: bool) -> nn.Module:
        if ema and self.generator_ema is not None:
            return self.generator_ema.module
        return self.generator

    def forward(self, z: Tensor) -> Tensor:
        return self.generator(z)

    def networks_chain(self) -> list[tuple[str, nn.Module]]:
        return [("generator", self.generator), ("critic", self.critic)]

    def networks_to_keep_eager(self) -> set[str]:
        return {"critic"} if self.critic_takes_input_gradients else set()

    # -- optimisation -----------------------------------------------------------------------------

    def optimizers_to_build(self) -> dict[str, Optimizer]:
        return {
            name: build_optimizer(
                factory, net.parameters(), self.paper_optimizer, f"{name}_optimizer"
            )
            for name, factory, net in (
                ("generator", self.generator_optimizer, self.generator),
                ("critic", self.critic_optimizer, self.critic),
            )
        }

    def _next_real_batch(self, dataloader_iter: Iterator) -> Tensor:
        batch, _, _ = next(dataloader_iter)
        batch = self.trainer.precision_plugin.convert_input(batch)
        batch = self.trainer.strategy.batch_to_device(batch)
        return images_of(batch)  # the unconditional players use images only

    def training_step(self, dataloader_iter: Iterator) -> None:
        opt_g, opt_c = self.optimizer("generator"), self.optimizer("critic")
        critic_steps = critic_steps_for(self.generator_steps, self.n_critic, self.critic_warmup)
        logs: dict[str, Tensor] = {}
        # The position in the cycle is kept on the module: when the data runs out mid-cycle the
        # epoch ends (StopIteration) and the next epoch completes the same cycle.
        while self.critic_steps_in_cycle < critic_steps:
            real = self._next_real_batch(dataloader_iter)
            self.check_data_shape(real, "generator")
            self._batch_size = real.shape[0]
            with torch.no_grad():
                fake = self.generated_batch(self._batch_size)
            loss, logs = self.critic_objective(real, fake)
            logs["critic/loss"] = loss.detach()
            update = f"critic update {self.critic_steps_in_cycle + 1} of {critic_steps}"
            if self.step_if_finite(opt_c, loss, logs, update):
                self.after_critic_step()
            self.critic_steps_in_cycle += 1

        with self.toggled_optimizer(opt_g):
            fake = self.generated_batch(self._batch_size)
            g_loss = self.generator_objective(fake, real)
            self.step_if_finite(opt_g, g_loss, {"gen/loss": g_loss}, "generator update")
        update_average(self.generator_ema, self.generator, self.generator_steps)
        self.critic_steps_in_cycle = 0

        logs["gen/loss"] = g_loss.detach()
        self.log_step(logs, self._batch_size)
        self.finish_generator_step()

    def validation_step(self, batch: Any, batch_idx: int, prefix: str = "val") -> None:
        """The critic's W1 estimate between held-out real data and fresh samples (``val/``)."""
        real = images_of(batch)
        self.check_data_shape(real, "generator")
        # Seeded by the batch index: the same noise at every validation, and none of the global
        # random state used, which training (and an exact resume) depends on.
        rng = torch.Generator().manual_seed(batch_idx)
        with torch.no_grad():
            fake = self.generator(self.noise(real.shape[0], generator=rng))
            estimate = wasserstein_estimate(self.critic_scores(real), self.critic_scores(fake))
        self.log(f"{prefix}/w_estimate", estimate, on_epoch=True, batch_size=real.shape[0])

    def test_step(self, batch: Any, batch_idx: int) -> None:
        """:meth:`validation_step` on the test split (``wgen test``), logged as ``test/``."""
        self.validation_step(batch, batch_idx, prefix="test")

    def predict_step(self, batch: Any, batch_idx: int) -> Tensor:
        """``wgen predict``: the critic's scores of the data (the test split by default)."""
        x = images_of(batch)
        self.check_data_shape(x, "generator")
        with torch.no_grad():
            return self.critic_scores(x)

    # -- checkpointing ----------------------------------------------------------------------------

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["wgen"]["critic_steps_in_cycle"] = self.critic_steps_in_cycle

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        self.critic_steps_in_cycle = int(checkpoint.get("wgen", {}).get("critic_steps_in_cycle", 0))
