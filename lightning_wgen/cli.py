"""The ``wgen`` command: Lightning's CLI over every model family and DataModule (``fit``,
``validate``, ``test``, ``predict``), ``wgen sample`` (:mod:`lightning_wgen.sampling`), ``wgen
fit-ot`` (:mod:`lightning_wgen.fit_ot`) and ``wgen zoo`` (:mod:`lightning_wgen.zoo.cli`)."""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path
from typing import Any, NoReturn

from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter, ModelCheckpoint, ProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.plugins.io import CheckpointIO
from lightning.pytorch.utilities.exceptions import SIGTERMException

import lightning_wgen.data  # noqa: F401  (registers the DataModules for short class names)
import lightning_wgen.models  # noqa: F401  (registers the families for short class names)
from lightning_wgen.callbacks import GeneratorStepProgressBar, SpeedOptions, fit_policies
from lightning_wgen.callbacks.checkpoints import LastCheckpoint, default_checkpoints
from lightning_wgen.callbacks.predictions import PredictionWriter
from lightning_wgen.checkpoint_io import AtomicCheckpointIO, read_checkpoint
from lightning_wgen.cli_messages import help_epilog, parser_error_line
from lightning_wgen.errors import (
    ConfigError,
    TrainingInterrupted,
    WGenError,
    first_line,
    one_line,
)
from lightning_wgen.loading import fine_tune_from
from lightning_wgen.models.base import GenerativeModule
from lightning_wgen.resume import check_state_fits, describe_differences, resume_differences
from lightning_wgen.zoo.weights import nonfinite_names


class WGenParser(LightningArgumentParser):
    """Lightning's parser, with one line for a rejected value instead of usage and a tree."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("epilog", help_epilog())
        super().__init__(*args, **kwargs)

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        if not self.exit_on_error:  # jsonargparse trying one alternative of a union
            super().error(message, ex)
        sys.exit(f"wgen: error: {parser_error_line(message)}")


class SaveConfigToLoggers(SaveConfigCallback):
    """Lightning's ``config.yaml`` in the log folder, and in each W&B run's files as
    ``wgen_config.yaml`` (W&B's own ``config.yaml`` there holds the hyperparameters)."""

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                run = logger.experiment
                path = Path(run.dir) / "wgen_config.yaml"
                self.parser.save(self.config, path, skip_none=False, overwrite=True)
                run.save(str(path), base_path=run.dir, policy="now")


# --ckpt_path values that Lightning resolves itself
CKPT_NAMES = ("last", "best", "hpc")


class WGenCLI(LightningCLI):
    """``LightningCLI`` with any family as ``model.class_path`` and any DataModule as ``data``."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # --speed.channels_last, --speed.compile_networks: a callback on every run
        parser.add_lightning_class_args(SpeedOptions, "speed")

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        super().parse_arguments(parser, args)
        # LightningCLI reads a --ckpt_path's hyperparameters next, with a traceback for a file
        # that is not a checkpoint; check it first, for one line instead.
        self._resume: tuple[Path, dict] | None = None
        self._resume_changes: list[str] = []
        subcommand = self.config.get("subcommand")
        path = self.config[subcommand].get("ckpt_path") if subcommand else None
        named = str(path) in CKPT_NAMES or str(path).startswith("registry")
        if path is not None and "://" not in str(path) and not named:
            checkpoint = read_checkpoint(Path(path), "--ckpt_path")
            self._resume = (Path(path), checkpoint)

    def _parse_ckpt_path(self) -> None:
        # Lightning would replace the given model config by the checkpoint's, silently; here the
        # given settings win and their differences are named (lightning_wgen.resume).
        if self._resume is None:
            return
        path, checkpoint = self._resume
        config = self.config[self.config.subcommand]
        where = f"--ckpt_path {path}"
        for section, saved in (
            ("model", checkpoint.get("hyper_parameters")),
            ("data", checkpoint.get("datamodule_hyper_parameters")),
        ):
            given = config.get(section)
            if not saved or "_class_path" not in saved or given is None:
                continue
            given = given.as_dict() if hasattr(given, "as_dict") else dict(given)
            if section == "data" and given.get("class_path") != saved["_class_path"]:
                continue  # another data set on purpose (evaluating on another split or set)
            changed = resume_differences(given, saved, where)
            self._resume_changes += describe_differences(changed, section)

    def _preflight(self) -> None:
        """Checks that need the built model, made before the trainer starts writing the run
        folder: the networks fit together, the optimizers accept their settings, the init_from
        weights load, and a --ckpt_path's tensors fit the configured model and are finite."""
        data = self.datamodule
        if data is not None and getattr(data, "download", None) is False:
            data.prepare_data()  # only checks the files are there
        model = self.model
        if not isinstance(model, GenerativeModule):
            return
        model.check_networks_fit()
        if self.subcommand == "fit":
            model.optimizers_to_build()
        if self._resume is None:
            if self.subcommand == "fit" and model.init_from is not None:
                fine_tune_from(model)  # InitFromWeights then finds them loaded
            return
        path, checkpoint = self._resume
        where = f"--ckpt_path {path}"
        check_state_fits(model, checkpoint["state_dict"], where)
        bad = nonfinite_names(checkpoint["state_dict"])
        if bad:
            raise ConfigError(
                f"{where} holds weights that are not finite ({bad[0]}{' and more' * (len(bad) > 1)}"
                "); it is damaged or comes from a diverged run: resume from an earlier checkpoint."
            )
        step = checkpoint.get("wgen", {}).get("generator_steps", "?")
        if self._resume_changes:
            print(
                f"wgen: resuming from {path} at generator step {step} with the given settings "
                f"where they differ from the checkpoint's: {', '.join(self._resume_changes)}.",
                file=sys.stderr,
            )

    def _run_subcommand(self, subcommand: str) -> None:
        try:
            super()._run_subcommand(subcommand)
        except SIGTERMException:
            last = next((c for c in self.trainer.callbacks if isinstance(c, LastCheckpoint)), None)
            saved = last.saved_on_signal if last is not None else None
            step = getattr(self.model, "generator_steps", "?")
            where = f": {saved} holds it; resume with --ckpt_path {saved}" if saved else ""
            raise TrainingInterrupted(
                f"stopped by SIGTERM after generator step {step}{where}.", 143
            ) from None

    def _read_checkpoints_safely(self) -> None:
        # Lightning's fit/validate/test/predict would unpickle anything in --ckpt_path (their
        # default, weights_only=None, means False): read tensors and plain values only, so that a
        # checkpoint from elsewhere cannot run code. `--weights_only false` reads a file of
        # one's own that holds other objects.
        config = self.config_init[self.subcommand]
        if config.get("weights_only") is None:
            config["weights_only"] = True

    before_fit = before_validate = before_test = before_predict = _read_checkpoints_safely

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        self._preflight()
        # Lightning's bar counts data batches; ours counts generator steps. Added unless the
        # config turns the bar off or brings its own; likewise the checkpoints (last.ckpt, and
        # the best by FID when an ImageEvaluation measures it), and for `predict` the writer
        # of predictions.pt.
        config = self._get(self.config_init, "trainer", default={})
        callbacks = list(config.get("callbacks") or [])
        added = []
        wants_bar = config.get("enable_progress_bar") is not False
        if wants_bar and not any(isinstance(c, ProgressBar) for c in callbacks):
            added.append(GeneratorStepProgressBar())
        wants_checkpoints = config.get("enable_checkpointing") is not False
        if wants_checkpoints and not any(isinstance(c, ModelCheckpoint) for c in callbacks):
            added.extend(default_checkpoints(callbacks))
        # fine-tuning, exact resume, the given optimizer settings, the clock (they act in fit)
        added.extend(fit_policies(callbacks, config.get("max_time")))
        wants_writer = self.subcommand == "predict"
        if wants_writer and not any(isinstance(c, BasePredictionWriter) for c in callbacks):
            added.append(PredictionWriter())
        if added:
            kwargs.setdefault("callbacks", [*callbacks, *added])
        # The critic's updates leave the generator without gradients and the generator's the
        # critic: under plain "ddp" Lightning would stop at the first backward pass.
        if config.get("strategy") == "ddp":
            kwargs.setdefault("strategy", "ddp_find_unused_parameters_true")
        # Checkpoints written atomically beside their target (lightning_wgen.checkpoint_io).
        plugins = config.get("plugins") or []
        plugins = list(plugins) if isinstance(plugins, list) else [plugins]
        if not any(isinstance(p, CheckpointIO) for p in plugins):
            kwargs.setdefault("plugins", [*plugins, AtomicCheckpointIO()])
        try:
            return super().instantiate_trainer(**kwargs)
        except WGenError:
            raise
        except Exception as err:  # Lightning refusing a trainer setting (precision, devices, ...)
            raise ConfigError(f"trainer: {first_line(err)}") from None


def _quiet_known_warnings() -> None:
    # Toy data is generated in the main process; worker processes would only add overhead.
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    # One training_step per generator step pulls its n_critic real batches from the iterator
    # (see lightning_wgen.models.adversarial); Lightning flags that signature as experimental.
    warnings.filterwarnings("ignore", ".*Found `dataloader_iter` argument.*")
    warnings.filterwarnings("ignore", ".*You are using the `dataloader_iter` step flavor.*")
    # Without val_split an image DataModule has no validation batches; that is the default.
    warnings.filterwarnings("ignore", ".*Total length of `list` across ranks is zero.*")
    # "Seed set to 0" on stderr before every run and every one-line error
    logging.getLogger("lightning.fabric.utilities.seed").setLevel(logging.WARNING)
    # wgen's TrainingClock is the Timer and takes the trainer's max_time as its limit, so
    # Lightning's "Ignoring `Trainer(max_time=...)`" would wrongly say the limit is ignored
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if _not_ignoring_max_time not in rank_zero.filters:
        rank_zero.addFilter(_not_ignoring_max_time)


def _not_ignoring_max_time(record: logging.LogRecord) -> bool:
    return "Ignoring `Trainer(max_time=...)`" not in record.getMessage()


def _cli(args: list[str] | None, run: bool = True) -> WGenCLI:
    _quiet_known_warnings()  # also when called without main (build_from_config, tests)
    return WGenCLI(
        subclass_mode_model=True,
        subclass_mode_data=True,
        parser_class=WGenParser,
        auto_configure_optimizers=False,
        save_config_callback=SaveConfigToLoggers,
        save_config_kwargs={"overwrite": True},
        args=args,
        run=run,
    )


def build_from_config(
    config: str | Path, *overrides: str
) -> tuple[LightningModule, LightningDataModule]:
    """The model and DataModule that ``wgen fit --config config [overrides]`` would train.

    ``overrides`` are command-line style, e.g. ``"--model.init_args.max_generator_steps=10"``.
    The config's ``seed_everything`` is applied, as ``wgen fit`` would.
    """
    cli = _cli(["--config", str(config), *overrides, "--trainer.logger=false"], run=False)
    return cli.model, cli.datamodule


def main(args: list[str] | None = None) -> None:
    _quiet_known_warnings()
    argv = sys.argv[1:] if args is None else args
    try:
        if argv[:1] == ["fit-ot"]:
            from lightning_wgen.fit_ot import fit_ot_main

            fit_ot_main(argv[1:])
        elif argv[:1] == ["sample"]:
            from lightning_wgen.sampling import sample_main

            sample_main(argv[1:])
        elif argv[:1] == ["zoo"]:
            from lightning_wgen.zoo.cli import zoo_main

            sys.exit(zoo_main(argv[1:]))
        else:
            _cli(args)
    except Exception as err:
        cause = _library_error(err)
        if cause is None:
            raise
        if isinstance(cause, TrainingInterrupted):
            print(f"wgen: {one_line(cause)}", file=sys.stderr)
            sys.exit(cause.exit_code)
        sys.exit(f"wgen: error: {one_line(cause)}")


def _library_error(err: BaseException | None) -> WGenError | None:
    """Our own error behind ``err``; jsonargparse wraps errors raised while instantiating."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, WGenError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


if __name__ == "__main__":
    main()
