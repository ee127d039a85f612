"""The ``wgen`` command: Lightning's CLI over every model family and DataModule."""

from __future__ import annotations

import sys
import warnings
from typing import Any

from lightning.pytorch import Trainer
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


def main(args: list[str] | None = None) -> None:
    # Toy data is generated in the main process; worker processes would only add overhead.
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    # One training_step per generator step pulls its n_critic real batches from the iterator
    # (see lightning_wgen.models.adversarial); Lightning flags that signature as experimental.
    warnings.filterwarnings("ignore", ".*Found `dataloader_iter` argument.*")
    warnings.filterwarnings("ignore", ".*You are using the `dataloader_iter` step flavor.*")
    # Without val_split an image DataModule has no validation batches; that is the default.
    warnings.filterwarnings("ignore", ".*Total length of `list` across ranks is zero.*")
    try:
        WGenCLI(
            subclass_mode_model=True,
            subclass_mode_data=True,
            auto_configure_optimizers=False,
            save_config_kwargs={"overwrite": True},
            args=args,
        )
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
