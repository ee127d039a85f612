"""What every family shares: generator-step counting and stopping, learning-rate decay, sampling,
the non-finite guard. Run-time policies (fine-tuning, exact resume, the training clock, speed
options) are callbacks that ``wgen`` adds (:func:`lightning_wgen.callbacks.fit_policies`).

A *generator step* is one update of the network that maps prior noise to data: the generator of
an adversarial family, the decoder of an autoencoder. Training length, evaluation schedules and
the progress bar all count it, whatever the number of optimizer steps around it.
"""

from __future__ import annotations

import inspect
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Timer
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from lightning_wgen.errors import ConfigError, TrainingDivergedError
from lightning_wgen.models.guard import nonfinite_terms, scaler_absorbs
from lightning_wgen.models.sampling import Sampling
from lightning_wgen.models.shapes import check_data_shape, sample_shape_of

LR_DECAYS = ("constant", "linear")
NONFINITE_ACTIONS = ("stop", "skip")


class GenerativeModule(Sampling, L.LightningModule):
    """Base of every family (manual optimisation). A subclass sets ``latent_dim``-carrying
    networks, defines :meth:`sampling_network` (the rest of sampling comes from
    :class:`~lightning_wgen.models.sampling.Sampling`) and :meth:`optimizers_to_build`, and calls
    :meth:`finish_generator_step` once per generator update.

    Args:
        max_generator_steps: stop training after this many generator updates.
        lr_decay: ``"constant"``, or ``"linear"``: every learning rate falls linearly to zero at
            ``max_generator_steps``, as in the released code of WGAN-GP (Gulrajani et al. 2017,
            CIFAR-10 ResNet) and SNGAN (Miyato et al. 2018); it settles an oscillating game.
        init_from: fine-tuning: a fresh ``fit`` starts from the weights of ``zoo:NAME``, a zoo
            ``.safetensors`` file or a ``wgen fit`` checkpoint, loaded by the callback
            :class:`~lightning_wgen.callbacks.InitFromWeights`; a resumed run keeps its own.
        nonfinite: what an update whose loss (or any of its terms) is NaN or infinite does, found
            before its optimizer step: ``"stop"`` raises :class:`TrainingDivergedError` naming
            the generator step and the terms, with the weights as they were before that update
            (:class:`~lightning_wgen.callbacks.LastCheckpoint` saves them); ``"skip"`` leaves
            the weights unchanged, warns, counts it in ``train/skipped_updates`` and goes on.
    """

    def __init__(
        self,
        *,
        max_generator_steps: int | None = None,
        lr_decay: str = "constant",
        init_from: str | None = None,
        nonfinite: str = "stop",
    ) -> None:
        super().__init__()
        if nonfinite not in NONFINITE_ACTIONS:
            raise ConfigError(f"nonfinite must be one of {NONFINITE_ACTIONS}, got {nonfinite!r}.")
        steps = max_generator_steps
        if steps is not None and steps < 1:
            raise ConfigError(f"max_generator_steps must be >= 1 or None, got {steps}.")
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
        self.generator_steps = 0
        self.skipped_updates = 0
        self.sample_shape: tuple[int, ...] | None = None  # what the sampling network makes

    # -- what a family defines --------------------------------------------------------------------

    penalty_weight: float = 0.0

    def set_penalty_weight(self, name: str, value: float) -> None:
        """Check and keep the family's penalty weight, the argument ``name`` of its constructor,
        whose default is the paper's value (written once, there)."""
        if value < 0:
            signatures = (inspect.signature(c).parameters for c in type(self).__mro__[:-1])
            paper = next(p[name].default for p in signatures if name in p)
            raise ConfigError(f"{name} must be >= 0, got {value}; the paper uses {paper:g}.")
        self.penalty_weight = value

    def optimizers_to_build(self) -> dict[str, Optimizer]:
        """The family's optimizers by name (the player they update), in the order
        ``self.optimizers()`` returns them; :meth:`optimizer` gets one by its name."""
        raise NotImplementedError

    # the optimizer the divergence guard's advice names: its name and its config key
    advised_optimizer: tuple[str, str]

    # -- optimisation -----------------------------------------------------------------------------

    def configure_optimizers(self) -> Any:
        built = self.optimizers_to_build()
        self._optimizer_names, optimizers = list(built), list(built.values())
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
        """One guarded update: if :meth:`update_is_finite` passes ``terms`` (``loss`` and its terms
        by log name), zero the gradients, backpropagate, step ``optimizer``; whether it stepped."""
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
        bad = nonfinite_terms(terms)
        if not bad or scaler_absorbs(self.loss_scaler):
            return True
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

    def divergence_hint(self) -> str:
        name, key = self.advised_optimizer
        running = self.optimizer(name)
        lr = getattr(running, "optimizer", running).param_groups[0]["lr"]
        return f"the {name}'s is {lr:g}: --model.init_args.{key}.init_args.lr"

    def optimizer_list(self) -> list:
        """``self.optimizers()`` as a list, also when the family has a single optimizer."""
        optimizers = self.optimizers()
        return optimizers if isinstance(optimizers, list) else [optimizers]

    def optimizer(self, name: str) -> Any:
        """The running optimizer of :meth:`optimizers_to_build`'s ``name``."""
        return self.optimizer_list()[self._optimizer_names.index(name)]

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

    # -- checks and the run ---------------------------------------------------------------------

    def networks_chain(self) -> list[tuple[str, nn.Module]]:
        """The networks that take one another's outputs, from the sampling network on (the
        critic, the encoder); :meth:`on_fit_start` checks that they fit together."""
        return []

    def networks_to_keep_eager(self) -> set[str]:
        """Names in :meth:`networks_chain` that ``torch.compile`` must leave uncompiled."""
        return set()

    def check_networks_fit(self) -> None:
        """One :class:`ConfigError` line if the networks do not fit together
        (:func:`~lightning_wgen.models.shapes.sample_shape_of`); keeps the sample shape."""
        self.sample_shape = sample_shape_of(self.networks_chain(), self.latent_dim, self.device)

    def check_data_shape(self, x: Tensor, made_by: str) -> None:
        """One line when the data's samples ``x`` do not have the shape the networks make."""
        check_data_shape(x, self.sample_shape, made_by)

    def _check_once(self) -> None:
        if self.sample_shape is None:
            self.check_networks_fit()

    on_validation_start = on_test_start = on_predict_start = _check_once

    def on_fit_start(self) -> None:
        self.check_networks_fit()
        if self.init_from_pending():
            raise ConfigError(
                f"init_from {self.init_from}: nothing loads these weights; add lightning_wgen."
                "callbacks.InitFromWeights() to the trainer's callbacks (wgen fit adds it)."
            )

    def init_from_pending(self) -> bool:
        """Whether this fit should start from the ``init_from`` weights and they are not loaded
        yet: a run resumed from a checkpoint keeps its own weights."""
        resumed = self.generator_steps > 0 or self.trainer.ckpt_path is not None
        return self.init_from is not None and not resumed and self.weights_from != self.init_from

    def on_train_start(self) -> None:
        self._stop_when_done()

    @property
    def train_seconds(self) -> float | None:
        """Seconds spent training, summed over the runs a checkpoint resumed, by the trainer's
        ``Timer`` (:class:`~lightning_wgen.callbacks.TrainingClock`); ``None`` without one."""
        trainer = self._trainer
        timers = [c for c in trainer.callbacks if isinstance(c, Timer)] if trainer else []
        return timers[0].time_elapsed("train") if timers else None

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        record = checkpoint.setdefault("wgen", {})  # callbacks add theirs (random states, time)
        record.update(generator_steps=self.generator_steps, skipped_updates=self.skipped_updates)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved = checkpoint.get("wgen", {})
        self.generator_steps = int(saved.get("generator_steps", 0))
        self.skipped_updates = int(saved.get("skipped_updates", 0))
