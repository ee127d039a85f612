"""What every generative family shares: counting generator steps, stopping, decaying the learning
rates, sampling from the prior, refusing a non-finite loss, and the hyperparameters to save.

A *generator step* is one update of the network that maps prior noise to data: the generator of
an adversarial family, the decoder of an autoencoder. Training length, evaluation schedules and
the progress bar all count it, whatever the number of optimizer steps around it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from lightning_wgen.errors import ConfigError, TrainingDivergedError

OptimizerFactory = Callable[[Iterable[nn.Parameter]], Optimizer]
LR_DECAYS = ("constant", "linear")


def hparams_ignore(*names: str) -> list[str]:
    """Arguments to leave out of ``save_hyperparameters``.

    Under ``LightningCLI`` the saved hyperparameters are the parsed config (class paths and init
    args), which rebuilds networks and optimizers on ``load_from_checkpoint`` without pickling
    them; keep them there. Built from Python, they are live objects: leave them out so that the
    checkpoint stays loadable with ``weights_only=True``.
    """
    try:
        from lightning.pytorch.core.mixins.hparams_mixin import _given_hyperparameters
    except ImportError:  # pragma: no cover - older or newer Lightning without the context
        return list(names)
    return [] if _given_hyperparameters.get() is not None else list(names)


def build_optimizer(
    factory: OptimizerFactory | None,
    params: Iterable[nn.Parameter],
    default: tuple[type[Optimizer], dict[str, Any]],
) -> Optimizer:
    """``factory(params)``, or the family's paper optimizer ``default`` when none is given."""
    if factory is None:
        optimizer_class, kwargs = default
        return optimizer_class(params, **kwargs)
    return factory(params)


class GenerativeModule(L.LightningModule):
    """Base of every family (manual optimisation). A subclass sets ``latent_dim``-carrying
    networks, defines :meth:`sampling_network` and :meth:`optimizers_to_build`, and calls
    :meth:`finish_generator_step` once per generator update.

    Args:
        max_generator_steps: stop training after this many generator updates.
        lr_decay: ``"constant"``, or ``"linear"``: every learning rate falls linearly with the
            generator step, to zero at ``max_generator_steps``, as in the released code of WGAN-GP
            (Gulrajani et al. 2017, CIFAR-10 ResNet) and SNGAN (Miyato et al. 2018). It settles an
            oscillating game, so that the last step is a fair reading of what was learned.
        init_from: fine-tuning: before the first step of a fresh ``fit``, load the weights of a
            zoo model (``zoo:NAME``), a zoo ``.safetensors`` file or a ``wgen fit`` checkpoint
            into the configured networks (:func:`lightning_wgen.loading.init_weights`). A run
            resumed with ``--ckpt_path`` keeps its own weights.
    """

    def __init__(
        self,
        *,
        max_generator_steps: int | None = None,
        lr_decay: str = "constant",
        init_from: str | None = None,
    ) -> None:
        super().__init__()
        if max_generator_steps is not None and max_generator_steps < 1:
            raise ConfigError(
                f"max_generator_steps must be >= 1 or None, got {max_generator_steps}."
            )
        if lr_decay not in LR_DECAYS:
            raise ConfigError(f"lr_decay must be one of {LR_DECAYS}, got {lr_decay!r}.")
        if lr_decay == "linear" and max_generator_steps is None:
            raise ConfigError(
                "lr_decay='linear' decays to zero at max_generator_steps, which is not set; "
                "set max_generator_steps or use lr_decay='constant'."
            )
        self.automatic_optimization = False
        self.max_generator_steps = max_generator_steps
        self.lr_decay = lr_decay
        self.init_from = init_from
        self.generator_steps = 0
        self._seconds_before = 0.0  # training time of earlier runs resumed from
        self._started: float | None = None

    # -- what a family defines --------------------------------------------------------------------

    penalty_weight: float = 0.0

    def set_penalty_weight(self, value: float, name: str, paper_value: float) -> None:
        """Check and keep the family's penalty weight (its ``name`` in the signature)."""
        if value < 0:
            raise ConfigError(f"{name} must be >= 0, got {value}; the paper uses {paper_value:g}.")
        self.penalty_weight = value

    def sampling_network(self, ema: bool) -> nn.Module:
        """The network that maps prior noise ``(B, latent_dim)`` to data."""
        raise NotImplementedError

    def optimizers_to_build(self) -> list[Optimizer]:
        """The family's optimizers, in the order ``self.optimizers()`` returns them."""
        raise NotImplementedError

    # -- sampling ---------------------------------------------------------------------------------

    @property
    def latent_dim(self) -> int:
        return int(self.sampling_network(ema=False).latent_dim)

    @property
    def can_sample(self) -> bool:
        """False while :meth:`sample` cannot work yet (AEOT before its map is fitted); the
        periodic sampling callbacks skip those steps."""
        return True

    def noise(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """Standard normal noise ``(n, latent_dim)`` on the module's device."""
        if generator is None:
            return torch.randn(n, self.latent_dim, device=self.device)
        return torch.randn(n, self.latent_dim, generator=generator).to(self.device)

    def shard_rows(self, n: int, draw: Callable[[int], Tensor]) -> Tensor:
        """``draw(n)`` for a training batch of ``n`` rows, made the same under DDP as in one
        process: with W processes (all seeded alike) each draws the ``W * n`` rows of the global
        batch and keeps rows ``rank, rank + W, ...``, as DistributedSampler deals out the data, so a
        W-process run with batch ``n`` equals one process with batch ``W * n``."""
        trainer = self._trainer
        world = trainer.world_size if trainer is not None else 1
        if world == 1:
            return draw(n)
        return draw(world * n)[trainer.global_rank :: world]

    def training_noise(self, n: int) -> Tensor:
        """:meth:`noise` for a training batch of ``n``, sharded under DDP (:meth:`shard_rows`)."""
        return self.shard_rows(n, self.noise)

    def training_rand(self, n: int) -> Tensor:
        """``n`` draws of ``U[0, 1)`` for a training batch (e.g. a penalty's interpolation
        weights), sharded under DDP (:meth:`shard_rows`)."""
        return self.shard_rows(n, lambda m: torch.rand(m, device=self.device))

    def training_randn_like(self, x: Tensor) -> Tensor:
        """``torch.randn_like(x)`` for a training batch ``x``, sharded under DDP by rows."""

        def draw(n: int) -> Tensor:
            return torch.randn(n, *x.shape[1:], device=x.device, dtype=x.dtype)

        return self.shard_rows(x.shape[0], draw)

    @torch.no_grad()
    def sample(
        self, n: int, *, seed: int | None = None, ema: bool = True, batch_size: int = 1024
    ) -> Tensor:
        """``n`` samples in data space (points, or images in [-1, 1]) on the module's device.

        The same ``seed`` gives the same samples on any device. Uses the EMA generator when there
        is one and ``ema`` is true; the networks are put in eval mode for the call.
        """
        return torch.cat(list(self.sample_batches(n, seed=seed, ema=ema, batch_size=batch_size)))

    def sample_batches(
        self, n: int, *, seed: int | None = None, ema: bool = True, batch_size: int = 1024
    ) -> Iterator[Tensor]:
        """:meth:`sample` one batch of at most ``batch_size`` at a time, for evaluation."""
        if n < 1:
            raise ConfigError(f"sample: n must be >= 1, got {n}.")
        rng = torch.Generator().manual_seed(seed) if seed is not None else None
        for start in range(0, n, batch_size):
            yield self.generate(self.noise(min(batch_size, n - start), generator=rng), ema=ema)

    @torch.no_grad()
    def generate(self, z: Tensor, *, ema: bool = True) -> Tensor:
        """The sampling network on given noise (or AE-OT codes) ``z`` ``(B, latent_dim)``, in
        eval mode for the call: what :meth:`sample` does after drawing ``z``."""
        net = self.sampling_network(ema)
        was_training = net.training
        net.eval()
        try:
            return net(z)
        finally:
            net.train(was_training)

    # -- optimisation -----------------------------------------------------------------------------

    def configure_optimizers(self) -> Any:
        optimizers = self.optimizers_to_build()
        if self.lr_decay == "constant":
            return optimizers
        # Stepped once per generator step in finish_generator_step (manual optimisation).
        total = self.max_generator_steps

        def linear(step: int) -> float:
            return max(0.0, 1.0 - step / total)

        return optimizers, [LambdaLR(opt, linear) for opt in optimizers]

    def finish_generator_step(self, losses: dict[str, Tensor | None]) -> None:
        """After a generator update: refuse a non-finite loss, step the learning-rate schedules,
        count the step and stop at ``max_generator_steps``."""
        self._check_finite(losses)
        for scheduler in self.lr_schedulers() or []:
            scheduler.step()
        self.generator_steps += 1
        self._stop_when_done()

    def _check_finite(self, losses: dict[str, Tensor | None]) -> None:
        # One device sync per generator step; a NaN would otherwise train on silently.
        losses = {name: loss for name, loss in losses.items() if loss is not None}
        if bool(torch.isfinite(torch.stack(list(losses.values()))).all()):
            return
        values = ", ".join(f"{name} loss {loss.item()}" for name, loss in losses.items())
        raise TrainingDivergedError(
            f"{type(self).__name__} diverged at generator step {self.generator_steps}: {values}; "
            f"lower the learning rate ({self.divergence_hint()}) or resume from the last "
            "checkpoint."
        )

    def divergence_hint(self) -> str:
        rates = [f"{opt.optimizer.param_groups[0]['lr']:g}" for opt in self.optimizer_list()]
        return f"now {', '.join(rates)}"

    def optimizer_list(self) -> list:
        """``self.optimizers()`` as a list, also when the family has a single optimizer."""
        optimizers = self.optimizers()
        return optimizers if isinstance(optimizers, list) else [optimizers]

    progress_bar_keys: tuple[str, ...] = ()

    def log_step(self, logs: dict[str, Tensor], batch_size: int) -> None:
        """Log one generator step's values; ``progress_bar_keys`` also go to the progress bar."""
        shown = {k: logs.pop(k) for k in self.progress_bar_keys if k in logs}
        kwargs = {"on_step": True, "on_epoch": False, "batch_size": batch_size}
        self.log_dict(logs, **kwargs)
        self.log_dict(shown, prog_bar=True, **kwargs)

    def _stop_when_done(self) -> None:
        limit = self.max_generator_steps
        if limit is not None and self.generator_steps >= limit:
            self.trainer.should_stop = True

    # -- checkpointing ----------------------------------------------------------------------------

    @property
    def train_seconds(self) -> float:
        """Wall-clock seconds spent in ``fit``, summed over the runs a checkpoint resumed."""
        running = time.perf_counter() - self._started if self._started is not None else 0.0
        return self._seconds_before + running

    def on_fit_start(self) -> None:
        resumed = self.generator_steps > 0 or self.trainer.ckpt_path is not None
        if self.init_from is None or resumed:
            return
        from lightning_wgen.loading import init_weights

        untouched = init_weights(self, self.init_from)
        kept = sorted({key.split(".")[0] for key in untouched})
        rank_zero_info(
            f"init_from {self.init_from}: weights loaded"
            + (f"; left as initialised: {', '.join(kept)}" if kept else "")
        )

    def on_train_start(self) -> None:
        self._started = time.perf_counter()
        self._stop_when_done()

    def on_train_end(self) -> None:
        self._seconds_before, self._started = self.train_seconds, None

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["wgen"] = {
            "generator_steps": self.generator_steps,
            "train_seconds": self.train_seconds,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved = checkpoint.get("wgen", {})
        self.generator_steps = int(saved.get("generator_steps", 0))
        self._seconds_before = float(saved.get("train_seconds", 0.0))
