"""OT diagnostics during training: the critic's W1 estimate against exact and sliced W1."""

from __future__ import annotations

from typing import Any

import lightning as L
from torch import Tensor

from lightning_wgen.callbacks.logging import log_histogram, log_scalars
from lightning_wgen.callbacks.periodic import EveryNGeneratorSteps
from lightning_wgen.errors import ConfigError
from lightning_wgen.metrics.features import feature_extractor, metric_images
from lightning_wgen.metrics.ot import ot_diagnostics


class OTDiagnostics(EveryNGeneratorSteps):
    """Every ``every_n_generator_steps``, on one fixed real batch and one fixed-noise generated
    batch of ``batch_size``, logs ``ot/w1_critic`` (E f(real) - E f(fake)), ``ot/w1_exact`` (POT's
    exact W1 of the two batches), ``ot/sw1`` (sliced W1) and the critic's input-gradient norms at
    random interpolates (``ot/slope_mean``, ``_p50``, ``_p90``, ``_max``; the full distribution as
    a histogram in W&B/TensorBoard).

    For WGAN-family modules (any module with a ``critic``). W1 is computed between flattened
    samples, or between the features of ``feature_extractor`` ("mnist", "inception", ...). The
    real batch comes from the data module's ``sample`` (toy data) or its evaluation split.
    """

    at_end = False

    def __init__(
        self,
        every_n_generator_steps: int = 500,
        batch_size: int = 512,
        n_projections: int = 200,
        seed: int = 0,
        feature_extractor: str | None = None,
    ) -> None:
        if every_n_generator_steps < 1 or batch_size < 2:
            raise ConfigError(
                "OTDiagnostics needs every_n_generator_steps >= 1 and batch_size >= 2, got "
                f"{every_n_generator_steps} and {batch_size}."
            )
        super().__init__(every_n_generator_steps)
        self.batch_size = batch_size
        self.n_projections = n_projections
        self.seed = seed
        self.feature_extractor = feature_extractor
        self.history: list[dict[str, Any]] = []
        self._real: Tensor | None = None
        self._features = None

    def _real_batch(self, datamodule: Any) -> Tensor:
        if self._real is None:
            n = self.batch_size
            if hasattr(datamodule, "sample"):
                self._real = datamodule.sample(n, seed=self.seed)
            elif hasattr(datamodule, "reference_images"):
                self._real = next(datamodule.reference_images(n, batch_size=n, seed=self.seed))
            else:
                raise ConfigError(
                    "OTDiagnostics needs a lightning-wgen DataModule (toy or image) as the "
                    f"trainer's datamodule; got {type(datamodule).__name__}."
                )
        return self._real

    def diagnose(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, float]:
        if getattr(pl_module, "critic", None) is None:
            raise ConfigError(
                f"OTDiagnostics needs a module with a critic; {type(pl_module).__name__} has none."
            )
        real = self._real_batch(trainer.datamodule).to(pl_module.device)
        # The generator the critic is trained against (not the EMA copy), from fixed noise.
        fake = pl_module.sample(self.batch_size, seed=self.seed + 1, ema=False).to(real.dtype)
        features = None
        if self.feature_extractor is not None:
            if self._features is None:
                self._features = feature_extractor(self.feature_extractor)
            extractor = self._features.to(pl_module.device)

            def features(x: Tensor) -> Tensor:
                return extractor(metric_images(x))[0]

        values, slopes = ot_diagnostics(
            pl_module.critic_scores,
            real,
            fake,
            n_projections=self.n_projections,
            seed=self.seed,
            features=features,
        )
        step = pl_module.generator_steps
        self.history.append({"generator_steps": step, **values})
        log_scalars(trainer, {f"ot/{k}": v for k, v in values.items()}, step)
        log_histogram(trainer, "ot/slopes", slopes, step)
        return values

    def act(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.diagnose(trainer, pl_module)
