"""Where callbacks' numbers and pictures go: every attached logger, or files in the run folder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger, WandbLogger

from lightning_wgen.checkpoint_io import atomic_save, atomic_write


def output_dir(trainer: L.Trainer) -> Path:
    """The run's log folder (``trainer.log_dir``), created if needed."""
    path = Path(trainer.log_dir or trainer.default_root_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_scalars(trainer: L.Trainer, values: dict[str, float], step: int) -> None:
    """``values`` to every logger at ``step``, and to ``trainer.callback_metrics``.

    The latter lets ``ModelCheckpoint(monitor="eval/fid")`` and early stopping use them.
    """
    for logger in trainer.loggers:
        logger.log_metrics(values, step=step)
    trainer.callback_metrics.update({k: torch.tensor(v) for k, v in values.items()})


def log_image(trainer: L.Trainer, key: str, image: np.ndarray, step: int) -> list[str]:
    """An RGB uint8 ``(H, W, 3)`` picture to every logger; returns where each copy went.

    W&B gets an image under ``key``, TensorBoard ``add_image``; with a CSV logger or none, it
    is written as ``<log_dir>/<key with / as _>/step_<step>.png``.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"log_image expects uint8 (H, W, 3), got {image.dtype} {image.shape}")
    places: list[str] = []
    wrote_file = False
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_image(key=key, images=[image], step=step)
            places.append(f"wandb:{key}")
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(key, image, global_step=step, dataformats="HWC")
            places.append(f"tensorboard:{key}")
        elif isinstance(logger, CSVLogger) and not wrote_file:
            places.append(str(save_png(trainer, key, image, step)))
            wrote_file = True
    if not trainer.loggers:
        places.append(str(save_png(trainer, key, image, step)))
    return places


LOG_ELSEWHERE = "log elsewhere (--trainer.logger.init_args.save_dir)"


def write_png(path: Path, pixels: np.ndarray) -> None:
    """An RGB uint8 picture ``(H, W, 3)`` written whole to ``path`` as a PNG."""
    from PIL import Image

    atomic_save(path, lambda f: Image.fromarray(pixels).save(f, format="PNG"), LOG_ELSEWHERE)


def write_json(path: Path, record: dict) -> None:
    """``record`` written whole to ``path`` as indented JSON."""
    atomic_write(path, (json.dumps(record, indent=2) + "\n").encode(), LOG_ELSEWHERE)


def save_png(trainer: L.Trainer, key: str, image: np.ndarray, step: int) -> Path:
    folder = output_dir(trainer) / re.sub(r"[^A-Za-z0-9_.-]+", "_", key)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"step_{step:06d}.png"
    write_png(path, image)
    return path


def log_histogram(trainer: L.Trainer, key: str, values: torch.Tensor, step: int) -> None:
    """The distribution of ``values`` to W&B (``wandb.Histogram``) and TensorBoard, if attached."""
    data = values.detach().float().cpu().numpy()
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            import wandb

            logger.log_metrics({key: wandb.Histogram(data)}, step=step)
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_histogram(key, data, global_step=step)
