"""What every generative family shares: counting generator steps, stopping, decaying the learning
rates, sampling from the prior, guarding every update against a non-finite loss, the state a
checkpoint needs to resume exactly (step counters and random states), and the hyperparameters to
save.

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
from lightning.fabric.utilities.types import _Stateful
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from lightning_wgen import random_state
from lightning_wgen.data.resumable import ResumableLoader
from lightning_wgen.errors import ConfigError, TrainingDivergedError, first_line

OptimizerFactory = Callable[[Iterable[nn.Parameter]], Optimizer]
LR_DECAYS = ("constant", "linear")
NONFINITE_ACTIONS = ("stop", "skip")


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
    name: str = "optimizer",
) -> Optimizer:
    """``factory(params)``, or the family's paper optimizer ``default`` when none is given;
    settings the optimizer refuses (torch's ``ValueError``, e.g. a negative learning rate) are
    one :class:`ConfigError` line naming the config key ``model.init_args.<name>``."""
    if factory is None:
        optimizer_class, kwargs = default
        return optimizer_class(params, **kwargs)
    try:
        return factory(params)
    except (ValueError, TypeError) as err:
        raise ConfigError(
            f"model.init_args.{name}: {first_line(err)}; fix its init_args "
            f"(--model.init_args.{name}.init_args.<setting>)."
        ) from None


def _same(a: Any, b: Any) -> bool:
    """Equal settings, a list and a tuple of the same values included (``betas``)."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return list(a) == list(b)
    return a == b


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
        init_from: fine-tuning: before the first step of a fresh ``fit``, start from the weights
            of a zoo model (``zoo:NAME``), a zoo ``.safetensors`` file or a ``wgen fit``
            checkpoint, loaded into the configured networks by the
            :class:`~lightning_wgen.callbacks.InitFromWeights` callback (``wgen fit`` adds it).
            A run resumed with ``--ckpt_path`` keeps its own weights.
        nonfinite: what an update whose loss (or any of its terms) is NaN or infinite does, found
            before its optimizer step: ``"stop"`` raises :class:`TrainingDivergedError` naming
            the generator step and the terms, with the weights as they were before that update
            (:class:`~lightning_wgen.callbacks.LastCheckpoint` saves them); ``"skip"`` leaves
            the weights unchanged, warns, counts it in ``train/skipped_updates`` and goes on.
        channels_last: keep the networks' convolution weights in channels-last memory format
            while training (and back in the default format afterwards). On the 2-core CPU this
            made WGAN-GP and WAE-MMD on 28x28 images 12 % and 29 % faster (docs/benchmarks.md).
        compile_networks: compile the networks with ``torch.compile`` (``nn.Module.compile``)
            at the start of ``fit``, except those whose input gradients a penalty
            differentiates again (:meth:`networks_to_keep_eager`), which the compiled graph does
            not support; the first steps then take longer while the graphs compile.
    """

    def __init__(
        self,
        *,
        max_generator_steps: int | None = None,
        lr_decay: str = "constant",
        init_from: str | None = None,
        nonfinite: str = "stop",
        channels_last: bool = False,
        compile_networks: bool = False,
    ) -> None:
        super().__init__()
        if nonfinite not in NONFINITE_ACTIONS:
            raise ConfigError(f"nonfinite must be one of {NONFINITE_ACTIONS}, got {nonfinite!r}.")
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
        self.weights_from: str | None = None  # the init_from source loaded (by InitFromWeights)
        self.nonfinite = nonfinite
        self.channels_last = channels_last
        self.compile_networks = compile_networks
        self.generator_steps = 0
        self.skipped_updates = 0
        self._random_state_to_restore: dict[str, Any] | None = None
        self._loader_states_to_restore: list[dict[str, Any]] | None = None
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

    def finish_generator_step(self) -> None:
        """After a generator update: step the learning-rate schedules, count the step and stop at
        ``max_generator_steps``."""
        schedulers = self.lr_schedulers() or []
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
            scheduler.step()
        self.generator_steps += 1
        self._stop_when_done()

    def step_if_finite(
        self, optimizer: Any, loss: Tensor, terms: dict[str, Tensor | None], update: str
    ) -> bool:
        """One guarded update: when :meth:`update_is_finite` passes ``terms`` (the loss and the
        terms it sums, by their log names), zero the gradients, backpropagate ``loss`` and step
        ``optimizer``; whether it stepped."""
        if not self.update_is_finite(terms, update):
            return False
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        optimizer.step()
        return True

    def update_is_finite(self, terms: dict[str, Tensor | None], update: str) -> bool:
        """Whether every value of ``terms`` (a loss and the terms it sums) is finite; call it
        before ``update``'s backward pass and optimizer step (one host sync).

        When one is not: with ``nonfinite="stop"``, raise :class:`TrainingDivergedError` naming
        the generator step, the update and the non-finite terms (the weights are still those
        before this update); with ``"skip"``, warn, count it and return ``False``: the caller
        leaves its optimizer alone. Under ``16-mixed`` an overflow goes to the GradScaler
        (which skips the step and lowers its scale) until the scale is down to 1.
        """
        terms = {name: value for name, value in terms.items() if value is not None}
        values = torch.stack([value.detach().float().reshape(()) for value in terms.values()])
        if bool(torch.isfinite(values).all()) or self._loss_scaler_absorbs():
            return True
        bad = ", ".join(
            f"{name} = {value.item()}" for name, value in terms.items() if not value.isfinite()
        )
        step = self.generator_steps
        where = f"{type(self).__name__} diverged at generator step {step} ({update})"
        if self.nonfinite == "skip":
            self.skipped_updates += 1
            rank_zero_warn(f"{where}: {bad}; skipped (nonfinite='skip').")
            return False
        raise TrainingDivergedError(
            f"{where}: {bad}; the weights are those before this update. Lower the learning rate "
            f"({self.divergence_hint()}), or set --model.init_args.nonfinite=skip to skip such "
            "updates; either takes effect on a resume."
        )

    @property
    def loss_scaler(self) -> Any | None:
        """The GradScaler of ``precision="16-mixed"``, or ``None``."""
        trainer = self._trainer
        return getattr(trainer.precision_plugin, "scaler", None) if trainer else None

    def _loss_scaler_absorbs(self) -> bool:
        # Under 16-mixed a value that overflows float16 is the GradScaler's business: it skips
        # the optimizer step and halves its scale. The guard acts only once the scale is down
        # to 1, when lowering it further no longer explains the overflow.
        scaler = self.loss_scaler
        return scaler is not None and scaler.is_enabled() and scaler.get_scale() > 1.0

    def divergence_hint(self) -> str:
        rates = [f"{opt.optimizer.param_groups[0]['lr']:g}" for opt in self.optimizer_list()]
        return f"now {', '.join(rates)}: --model.init_args.<name>_optimizer.init_args.lr"

    def optimizer_list(self) -> list:
        """``self.optimizers()`` as a list, also when the family has a single optimizer."""
        optimizers = self.optimizers()
        return optimizers if isinstance(optimizers, list) else [optimizers]

    progress_bar_keys: tuple[str, ...] = ()

    def log_step(self, logs: dict[str, Tensor], batch_size: int) -> None:
        """Log one generator step's values; ``progress_bar_keys`` also go to the progress bar."""
        shown = {k: logs.pop(k) for k in self.progress_bar_keys if k in logs}
        kwargs = {"on_step": True, "on_epoch": False, "batch_size": batch_size}
        if self.nonfinite == "skip":
            logs["train/skipped_updates"] = float(self.skipped_updates)
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

    def networks_chain(self) -> list[tuple[str, nn.Module]]:
        """The networks that take one another's outputs, from the sampling network on (the
        critic, the encoder); :meth:`on_fit_start` checks that they fit together."""
        return []

    def check_networks_fit(self) -> None:
        """Run 2 standard normal codes (from a generator of its own) through
        :meth:`networks_chain` in eval mode without gradients, and turn a shape mismatch into one
        :class:`ConfigError` line before the first step, not a traceback inside it."""
        chain = self.networks_chain()
        if not chain:
            return
        rng = torch.Generator().manual_seed(0)
        x = torch.randn(2, self.latent_dim, generator=rng).to(self.device)
        shape_in = tuple(x.shape[1:])
        modes = {net: net.training for _, net in chain}
        try:
            with torch.no_grad():
                for i, (name, net) in enumerate(chain):
                    if i == 1:
                        self.sample_shape = shape_in
                    net.eval()
                    try:
                        x = net(x)
                    except (RuntimeError, ValueError, IndexError) as err:
                        source = "noise" if i == 0 else f"the {chain[i - 1][0]}'s outputs"
                        raise ConfigError(
                            f"the {name} {type(net).__name__} cannot take {source} of shape "
                            f"{shape_in} ({first_line(err)}); give the networks matching "
                            "latent_dim, channels and image_size (or data_dim)."
                        ) from None
                    shape_in = tuple(x.shape[1:])
        finally:
            for net, mode in modes.items():
                net.train(mode)

    sample_shape: tuple[int, ...] | None = None  # what the sampling network makes, per sample

    def check_data_shape(self, x: Tensor, made_by: str) -> None:
        """One line when the data's samples ``x`` do not have the shape the networks make."""
        if self.sample_shape is not None and tuple(x.shape[1:]) != self.sample_shape:
            raise ConfigError(
                f"the data gives samples of shape {tuple(x.shape[1:])} but the {made_by} makes "
                f"{self.sample_shape}: give the data and the networks the same image_size and "
                "channels"
            )

    def _check_once(self) -> None:
        if self.sample_shape is None:
            self.check_networks_fit()

    def on_validation_start(self) -> None:
        self._check_once()

    def on_test_start(self) -> None:
        self._check_once()

    def on_predict_start(self) -> None:
        self._check_once()

    def networks_to_keep_eager(self) -> set[str]:
        """Names in :meth:`networks_chain` that ``compile_networks`` leaves uncompiled."""
        return set()

    def on_fit_start(self) -> None:
        if self.channels_last:
            self.to(memory_format=torch.channels_last)
        self.check_networks_fit()
        if self.compile_networks:
            eager = self.networks_to_keep_eager()
            for name, net in self.networks_chain():
                if name not in eager and getattr(net, "_compiled_call_impl", None) is None:
                    net.compile()
        if self.init_from_pending():
            raise ConfigError(
                f"init_from {self.init_from}: nothing loads these weights; add "
                "lightning_wgen.callbacks.InitFromWeights() to the trainer's callbacks (wgen fit "
                "adds it)."
            )

    def init_from_pending(self) -> bool:
        """Whether this fit should start from the ``init_from`` weights and they are not loaded
        yet: a run resumed from a checkpoint keeps its own weights."""
        resumed = self.generator_steps > 0 or self.trainer.ckpt_path is not None
        return self.init_from is not None and not resumed and self.weights_from != self.init_from

    def on_train_start(self) -> None:
        self._started = time.perf_counter()
        if self.trainer.ckpt_path is not None:
            self.take_configured_optimizer_settings()
        self._stop_when_done()

    def take_configured_optimizer_settings(self) -> list[str]:
        """After a resume, the configured optimizer settings (learning rate, betas, ...) in place
        of the checkpoint's, which Lightning restored with the optimizer states; a learning-rate
        schedule keeps its progress (its base rate changes). The changed settings, described.

        Without this a lower learning rate given on resume, which the divergence guard advises,
        would be silently replaced by the one that diverged."""
        changed = []
        schedulers = self.lr_schedulers() or []
        schedulers = schedulers if isinstance(schedulers, list) else [schedulers]
        for i, (optimizer, fresh) in enumerate(
            zip(self.optimizer_list(), self.optimizers_to_build(), strict=True)
        ):
            groups = getattr(optimizer, "optimizer", optimizer).param_groups
            for j, (group, wanted) in enumerate(zip(groups, fresh.param_groups, strict=True)):
                for key, value in wanted.items():
                    scheduled = key == "lr" and "initial_lr" in group
                    current = group["initial_lr"] if scheduled else group.get(key)
                    if key == "params" or _same(current, value):
                        continue
                    changed.append(f"optimizer {i} {key} {current!r} -> {value!r}")
                    if scheduled:
                        factor = group["lr"] / current if current else 1.0
                        group["initial_lr"], group["lr"] = value, value * factor
                        if i < len(schedulers):
                            schedulers[i].base_lrs[j] = value
                    else:
                        group[key] = value
        if changed:
            rank_zero_info(f"resumed with the configured optimizer settings: {', '.join(changed)}")
        return changed

    def on_train_end(self) -> None:
        self._seconds_before, self._started = self.train_seconds, None

    def on_fit_end(self) -> None:
        if self.channels_last:
            self.to(memory_format=torch.contiguous_format)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["wgen"] = {
            "generator_steps": self.generator_steps,
            "train_seconds": self.train_seconds,
            "skipped_updates": self.skipped_updates,
            "random_state": random_state.capture(),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved = checkpoint.get("wgen", {})
        self.generator_steps = int(saved.get("generator_steps", 0))
        self._seconds_before = float(saved.get("train_seconds", 0.0))
        self.skipped_updates = int(saved.get("skipped_updates", 0))
        self._random_state_to_restore = saved.get("random_state")
        fit_loop = checkpoint.get("loops", {}).get("fit_loop", {})
        self._loader_states_to_restore = fit_loop.get("state_dict", {}).get("combined_loader")

    def on_train_epoch_start(self) -> None:
        # Lightning hands the training loaders their saved state only when it resumes mid-epoch;
        # resumed at an epoch end, a ResumableLoader would start over from its seed's first
        # epoch. Give it its state here: the loader applies a state when the epoch's first batch
        # is drawn, which comes after this hook.
        states, self._loader_states_to_restore = self._loader_states_to_restore, None
        if not states:
            return
        loaders = self.trainer.train_dataloader
        if isinstance(loaders, dict):
            loaders = list(loaders.values())
        loaders = list(loaders) if isinstance(loaders, list | tuple) else [loaders]
        # the states are those of the stateful loaders, in order (Lightning's own test)
        stateful = [x for x in loaders if isinstance(x, _Stateful)]
        for loader, state in zip(stateful, states, strict=False):
            if isinstance(loader, ResumableLoader) and not loader.restored:
                loader.load_state_dict(state)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # A resumed run takes back the random states of the moment its checkpoint was written
        # here, once the loop has built its data iterator and run any sanity check, so that it
        # draws the noise the uninterrupted run would have drawn.
        if self._random_state_to_restore is not None:
            random_state.restore(self._random_state_to_restore)
            self._random_state_to_restore = None
