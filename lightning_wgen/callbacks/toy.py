"""Evaluation of a generator on a 2D toy data set: metrics, a scatter plot, a JSON record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import CSVLogger

from lightning_wgen.callbacks.logging import log_image, write_json, write_png
from lightning_wgen.callbacks.periodic import EveryNGeneratorSteps
from lightning_wgen.callbacks.samples import figure_pixels
from lightning_wgen.errors import ConfigError
from lightning_wgen.losses import wasserstein_estimate
from lightning_wgen.metrics.ot import exact_w1
from lightning_wgen.metrics.toy import mode_metrics
from lightning_wgen.refine import refine_plan


def evaluate_toy(
    pl_module: L.LightningModule,
    datamodule: Any,
    num_samples: int = 2500,
    seed: int = 0,
    refine: str | None = None,
    **refine_options: Any,
) -> tuple[dict[str, float], torch.Tensor, torch.Tensor]:
    """Toy metrics of ``pl_module``'s generator against ``datamodule``'s distribution.

    Returns the metrics (modes captured and high-quality fraction where the data set has modes,
    the exact W1 between ``num_samples`` generated and true samples, and the critic's estimate
    E f(real) - E f(fake) on the same two sets), the generated and the real samples. ``refine``
    moves or filters the samples with the critic first (:mod:`lightning_wgen.refine`; DRS and
    MH calibrate on ``num_samples`` other real points, drawn with ``seed + 7``).
    """
    held_out = datamodule.sample(num_samples, seed=seed + 7) if refine else None
    options = {"refine": refine, "real": held_out, **refine_options} if refine else {}
    fake = pl_module.sample(num_samples, seed=seed, **options).float().cpu()
    real = datamodule.sample(num_samples, seed=seed + 1)
    metrics: dict[str, float] = {}
    if datamodule.modes is not None:
        metrics.update(mode_metrics(fake, datamodule.modes, datamodule.std))
    metrics["w1_exact"] = exact_w1(fake, real)
    critic = getattr(pl_module, "critic", None)
    if critic is not None:
        was_training = critic.training
        critic.eval()
        with torch.no_grad():
            scores = pl_module.critic_scores(torch.cat([real, fake]).to(pl_module.device)).float()
        critic.train(was_training)
        metrics["w1_critic"] = float(
            wasserstein_estimate(scores[:num_samples], scores[num_samples:])
        )
    return metrics, fake, real


def scatter_over_real(fake: torch.Tensor | dict, real: torch.Tensor, title: str) -> np.ndarray:
    """Generated (orange) over real (blue) points, as an RGB uint8 picture ``(H, W, 3)``; a dict
    ``{panel title: points}`` draws its panels side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = fake if isinstance(fake, dict) else {"": fake}
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 5), dpi=120, squeeze=False)
    for ax, (name, points) in zip(axes[0], panels.items(), strict=True):
        ax.scatter(real[:, 0], real[:, 1], s=2, alpha=0.5, label="real", color="tab:blue")
        ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.5, label="generated", color="C1")
        ax.set_aspect("equal")
        ax.set_title(name or title, fontsize=8)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=2, markerscale=4)
    if len(panels) > 1 or next(iter(panels)):
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    pixels = figure_pixels(fig)
    plt.close(fig)
    return pixels


def save_scatter(
    path: Path, fake: torch.Tensor | dict, real: torch.Tensor, title: str
) -> np.ndarray:
    """:func:`scatter_over_real` written to ``path`` as a PNG; the picture."""
    pixels = scatter_over_real(fake, real, title)
    write_png(path, pixels)
    return pixels


class ToyEvaluation(EveryNGeneratorSteps):
    """Evaluates on the toy data set every ``every_n_generator_steps`` and at the end of fit.

    At the end it prints the metrics and writes ``toy_metrics.json`` and ``toy_scatter.png`` in
    the run's log directory (``trainer.log_dir``); the picture also goes to W&B or TensorBoard
    when attached. ``refine`` (``[dot, drs]``, or ``{dot: {k_eff_scale: 0.6}}`` with options)
    also measures the samples refined by the critic with each method (:mod:`lightning_wgen.refine`),
    logged as ``toy/<method>/<metric>`` and drawn beside the raw ones.
    """

    def __init__(
        self,
        num_samples: int = 2500,
        every_n_generator_steps: int | None = None,
        seed: int = 0,
        refine: list[str] | dict[str, dict[str, Any]] | None = None,
    ) -> None:
        if num_samples < 2:
            raise ConfigError(f"ToyEvaluation num_samples must be >= 2, got {num_samples}.")
        super().__init__(every_n_generator_steps)
        self.num_samples = num_samples
        self.seed = seed
        self.refine = refine_plan(refine or [], "ToyEvaluation")
        self.metrics: dict[str, float] = {}

    def act(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        datamodule = trainer.datamodule
        if datamodule is None or not hasattr(datamodule, "modes"):
            raise ConfigError(
                "ToyEvaluation needs a ToyDataModule as the trainer's datamodule; got "
                f"{type(datamodule).__name__}."
            )
        self.results, self.metrics = {}, {}
        for method in [None, *self.refine]:
            options = self.refine.get(method, {})
            metrics, fake, self._real = evaluate_toy(
                pl_module, datamodule, self.num_samples, self.seed, method, **options
            )
            self.results[method or "raw"] = (metrics, fake)
            prefix = "" if method is None else f"{method}/"
            self.metrics.update({f"{prefix}{k}": v for k, v in metrics.items()})
        if trainer.logger is not None:
            trainer.logger.log_metrics(
                {f"toy/{k}": v for k, v in self.metrics.items()}, step=pl_module.generator_steps
            )

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        self.act_once(trainer, pl_module)  # when training ended without on_train_end
        out_dir = Path(trainer.log_dir or trainer.default_root_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        name = trainer.datamodule.name
        record = {
            "dataset": name,
            "generator_steps": pl_module.generator_steps,
            "num_samples": self.num_samples,
            "seed": self.seed,
            **self.metrics,
        }
        write_json(out_dir / "toy_metrics.json", record)
        title = f"{type(pl_module).__name__} on {name}, {pl_module.generator_steps} generator steps"
        summary = {panel: _summary(metrics) for panel, (metrics, _) in self.results.items()}
        if self.refine:  # raw and refined side by side, each with its metrics
            panels = {_panel_title(k, m): fake for k, (m, fake) in self.results.items()}
            caption = title
        else:
            panels, caption = self.results["raw"][1], f"{title}\n{summary['raw']}"
        pixels = save_scatter(out_dir / "toy_scatter.png", panels, self._real, caption)
        if any(not isinstance(logger, CSVLogger) for logger in trainer.loggers):
            log_image(trainer, "toy/scatter", pixels, pl_module.generator_steps)
        print(f"\n{title}: {summary['raw']}")
        for method in self.refine:
            print(f"refined by {method}: {summary[method]}")
        print(f"wrote {out_dir / 'toy_metrics.json'} and {out_dir / 'toy_scatter.png'}")


def _summary(metrics: dict[str, float]) -> str:
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()
    )


def _panel_title(name: str, metrics: dict[str, float]) -> str:
    parts = [name]
    if "modes" in metrics:
        parts.append(f"modes {metrics['modes']}/{metrics['num_modes']}")
        parts.append(f"high quality {metrics['high_quality']:.3f}")
    return ", ".join([*parts, f"W1 {metrics['w1_exact']:.3f}"])
