"""Pictures of a run: fixed-noise samples and reconstructions during training, loss curves at
the end."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import CSVLogger
from torchvision.utils import make_grid

from lightning_wgen.callbacks.logging import log_image, output_dir, write_png
from lightning_wgen.callbacks.periodic import EveryNGeneratorSteps
from lightning_wgen.errors import ConfigError
from lightning_wgen.metrics.features import metric_images


def figure_pixels(fig) -> np.ndarray:
    """A drawn matplotlib figure as an RGB uint8 picture ``(H, W, 3)``."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def scatter_pixels(points: torch.Tensor, title: str = "") -> np.ndarray:
    """A scatter plot of 2D points as an RGB uint8 picture ``(H, W, 3)``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    ax.scatter(points[:, 0], points[:, 1], s=3, alpha=0.6, color="tab:orange")
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    pixels = figure_pixels(fig)
    plt.close(fig)
    return pixels


def sample_grid(samples: torch.Tensor, nrow: int) -> np.ndarray:
    """Images in [-1, 1] ``(N, C, H, W)`` as one RGB uint8 grid ``(H', W', 3)``, exact pixels."""
    grid = make_grid(metric_images(samples.cpu()), nrow=nrow, padding=2, pad_value=255)
    return grid.permute(1, 2, 0).contiguous().numpy()


class SampleGrid(EveryNGeneratorSteps):
    """Samples from the same fixed noise every ``every_n_generator_steps`` and at the end.

    Images are laid out as a grid (exact uint8 pixels); 2D toy samples as a scatter plot. The
    picture goes to W&B or TensorBoard when attached, else to ``<log_dir>/samples/step_N.png``.
    """

    key = "samples"

    def __init__(
        self, num_samples: int = 64, every_n_generator_steps: int = 500, seed: int = 1234
    ) -> None:
        if num_samples < 1 or every_n_generator_steps < 1:
            raise ConfigError(
                f"{type(self).__name__} needs num_samples >= 1 and every_n_generator_steps >= 1, "
                "got "
                f"{num_samples} and {every_n_generator_steps}."
            )
        super().__init__(every_n_generator_steps)
        self.num_samples = num_samples
        self.seed = seed

    def render(self, pl_module: L.LightningModule) -> np.ndarray:
        samples = pl_module.sample(self.num_samples, seed=self.seed).float().cpu()
        if samples.dim() == 4:
            return sample_grid(samples, nrow=max(1, round(self.num_samples**0.5)))
        if samples.dim() == 2 and samples.shape[1] == 2:
            return scatter_pixels(samples, f"generator step {pl_module.generator_steps}")
        raise ConfigError(f"SampleGrid draws images or 2D points, got {tuple(samples.shape)}.")

    def act(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        log_image(trainer, self.key, self.render(pl_module), pl_module.generator_steps)


class ReconstructionGrid(SampleGrid):
    """For autoencoders: ``num_samples`` fixed images of the evaluation split (drawn with
    ``seed``) in odd rows, their reconstructions ``G(E(x))`` below them, every
    ``every_n_generator_steps`` and at the end; logged as ``reconstructions``.
    """

    key = "reconstructions"

    def __init__(
        self, num_samples: int = 32, every_n_generator_steps: int = 500, seed: int = 1234
    ) -> None:
        super().__init__(num_samples, every_n_generator_steps, seed)
        self._images: torch.Tensor | None = None

    def render(self, pl_module: L.LightningModule) -> np.ndarray:
        if not hasattr(pl_module, "reconstruct"):
            raise ConfigError(
                f"ReconstructionGrid needs an autoencoder; {type(pl_module).__name__} has no "
                "reconstruct(). Use SampleGrid for the other families."
            )
        if self._images is None:
            datamodule = pl_module.trainer.datamodule
            self._images = next(
                datamodule.reference_images(
                    self.num_samples, batch_size=self.num_samples, seed=self.seed
                )
            )
        x = self._images.to(pl_module.device)
        was_training = pl_module.training
        pl_module.eval()
        try:
            with torch.no_grad():
                y = pl_module.reconstruct(x)
        finally:
            pl_module.train(was_training)
        nrow = max(1, round(self.num_samples**0.5))
        rows = [t for i in range(0, len(x), nrow) for t in (x[i : i + nrow], y[i : i + nrow])]
        return sample_grid(torch.cat(rows).float().cpu(), nrow=nrow)


class TrainingCurves(Callback):
    """Records the logged losses and metrics; at the end of fitting plots them against the
    generator step into ``training_curves.png`` (and to W&B/TensorBoard when attached).

    ``prefixes`` selects the keys of ``trainer.callback_metrics`` to follow: the players' losses
    and estimates every step, evaluation values (``eval/``, ``ot/``) whenever they change.
    """

    def __init__(self, prefixes: Sequence[str] = ("critic/", "gen/", "eval/", "ot/")) -> None:
        self.prefixes = tuple(prefixes)
        self.history: dict[str, list[tuple[int, float]]] = defaultdict(list)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = pl_module.generator_steps
        for key, value in trainer.callback_metrics.items():
            if not key.startswith(self.prefixes) or value.numel() != 1:
                continue
            series = self.history[key]
            value = float(value)
            if key.startswith(("eval/", "ot/")) and series and series[-1][1] == value:
                continue  # set by an evaluation callback and not renewed since
            series.append((step, value))

    def render(self) -> np.ndarray:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        keys = sorted(self.history)
        cols = min(3, len(keys))
        rows = -(-len(keys) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), dpi=100, squeeze=False)
        for ax, key in zip(axes.flat, keys, strict=False):
            steps, values = zip(*self.history[key], strict=True)
            ax.plot(steps, values, lw=1, marker="." if len(steps) < 50 else None)
            ax.set_title(key, fontsize=9)
            ax.set_xlabel("generator step", fontsize=8)
        for ax in list(axes.flat)[len(keys) :]:
            ax.axis("off")
        fig.tight_layout()
        pixels = figure_pixels(fig)
        plt.close(fig)
        return pixels

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero or not self.history:
            return
        pixels = self.render()
        write_png(output_dir(trainer) / "training_curves.png", pixels)
        if any(not isinstance(lg, CSVLogger) for lg in trainer.loggers):
            log_image(trainer, "training_curves", pixels, pl_module.generator_steps)
