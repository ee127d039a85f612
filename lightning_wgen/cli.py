"""The ``wgen`` command: Lightning's CLI over every model family and DataModule,
``wgen fit-ot`` (:mod:`lightning_wgen.fit_ot`) and ``wgen zoo`` (:mod:`lightning_wgen.zoo.cli`)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.callbacks import ProgressBar
from lightning.pytorch.cli import LightningCLI

import lightning_wgen.data  # noqa: F401  (registers the DataModules for short class names)
import lightning_wgen.models  # noqa: F401  (registers the families for short class names)
from lightning_wgen.callbacks import GeneratorStepProgressBar
from lightning_wgen.errors import WGenError, one_line


class WGenCLI(LightningCLI):
    """``LightningCLI`` with any family as ``model.class_path`` and any DataModule as ``data``."""

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        # Lightning's bar counts data batches; ours counts generator steps. Added unless the
        # config turns the bar off or brings its own.
        config = self._get(self.config_init, "trainer", default={})
        callbacks = list(config.get("callbacks") or [])
        wants_bar = config.get("enable_progress_bar") is not False
        if wants_bar and not any(isinstance(c, ProgressBar) for c in callbacks):
            kwargs.setdefault("callbacks", [*callbacks, GeneratorStepProgressBar()])
        return super().instantiate_trainer(**kwargs)


def _quiet_known_warnings() -> None:
    # Toy data is generated in the main process; worker processes would only add overhead.
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    # One training_step per generator step pulls its n_critic real batches from the iterator
    # (see lightning_wgen.models.adversarial); Lightning flags that signature as experimental.
    warnings.filterwarnings("ignore", ".*Found `dataloader_iter` argument.*")
    warnings.filterwarnings("ignore", ".*You are using the `dataloader_iter` step flavor.*")
    # Without val_split an image DataModule has no validation batches; that is the default.
    warnings.filterwarnings("ignore", ".*Total length of `list` across ranks is zero.*")


def _cli(args: list[str] | None, run: bool = True) -> WGenCLI:
    return WGenCLI(
        subclass_mode_model=True,
        subclass_mode_data=True,
        auto_configure_optimizers=False,
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
    _quiet_known_warnings()
    cli = _cli(["--config", str(config), *overrides, "--trainer.logger=false"], run=False)
    return cli.model, cli.datamodule


def main(args: list[str] | None = None) -> None:
    _quiet_known_warnings()
    argv = sys.argv[1:] if args is None else args
    try:
        if argv[:1] == ["fit-ot"]:
            from lightning_wgen.fit_ot import fit_ot_main

            fit_ot_main(argv[1:])
        elif argv[:1] == ["zoo"]:
            from lightning_wgen.zoo.cli import zoo_main

            sys.exit(zoo_main(argv[1:]))
        else:
            _cli(args)
    except Exception as err:
        cause = _library_error(err)
        if cause is None:
            raise
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
