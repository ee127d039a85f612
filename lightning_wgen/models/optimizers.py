"""Building a family's optimizers from its config, and what of it to save."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from torch import nn
from torch.optim import Optimizer

from lightning_wgen.errors import ConfigError, first_line

OptimizerFactory = Callable[[Iterable[nn.Parameter]], Optimizer]


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
