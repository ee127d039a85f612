"""Small real models and data for fast Trainer runs in tests."""

import lightning as L
import torch
from torch.utils.data import DataLoader, IterableDataset

from lightning_wgen import WGANGP
from lightning_wgen.callbacks import fit_policies
from lightning_wgen.data import ToyDataModule
from lightning_wgen.nets import MLPCritic, MLPGenerator


def tiny_wgan_gp(**kwargs) -> WGANGP:
    return WGANGP(
        MLPGenerator(latent_dim=2, hidden_features=16, num_hidden_layers=1),
        MLPCritic(hidden_features=16, num_hidden_layers=1),
        **kwargs,
    )


class _Counted(IterableDataset):
    def __init__(self, batch_size: int, seed: int, counter: list) -> None:
        self.batch_size, self.seed, self.counter = batch_size, seed, counter

    def __iter__(self):
        rng = torch.Generator().manual_seed(self.seed)
        while True:
            self.counter.append(1)
            yield torch.randn(self.batch_size, 2, generator=rng)


class CountingToyData(ToyDataModule):
    """grid25 shape of data, recording how many batches the training loop drew."""

    def __init__(self, batch_size: int = 8) -> None:
        super().__init__("grid25", batch_size=batch_size)
        self.drawn: list = []

    def train_dataloader(self):
        return DataLoader(_Counted(self.batch_size, 0, self.drawn), batch_size=None)


def quiet_trainer(*, policies: bool = True, **kwargs) -> L.Trainer:
    """A CPU Trainer without logger, checkpoints, bar or summary, with the run-time policies
    ``wgen fit`` adds (:func:`lightning_wgen.callbacks.fit_policies`) after ``callbacks`` unless
    ``policies`` is false (a plain Trainer)."""
    callbacks = list(kwargs.pop("callbacks", []))
    kwargs["callbacks"] = [*callbacks, *fit_policies(callbacks)] if policies else callbacks
    defaults = dict(
        accelerator="cpu",
        max_epochs=-1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    return L.Trainer(**{**defaults, **kwargs})


def wandb_history_keys(run_file) -> set[str]:
    """The metric keys logged in an offline W&B run's ``run-*.wandb`` file.

    The file is W&B's transaction log: a 7-byte header (``:W&B``, magic, version), then LevelDB
    log blocks of 32 KiB whose records (7-byte header: crc, length, type full/first/middle/last)
    carry protobuf ``Record`` messages; wandb 0.31 ships no Python reader for it.
    """
    import struct

    from wandb.proto import wandb_internal_pb2

    data = run_file.read_bytes()
    assert data[:4] == b":W&B", f"{run_file} is not a W&B transaction log"
    keys, pos, block, buffer = set(), 7, 32768, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        buffer = chunk if kind in (1, 2) else buffer + chunk
        if kind not in (1, 4):
            continue
        record = wandb_internal_pb2.Record()
        record.ParseFromString(buffer)
        if record.WhichOneof("record_type") == "history":
            keys.update(item.key or "/".join(item.nested_key) for item in record.history.item)
    return keys


def short_mnist_run(model, mnist, root, prefixes: list[str]) -> tuple[float, float, dict]:
    """Train ``model`` on ``mnist``: the domain FID (1,000 samples against 1,000 test images)
    before and after, and the history of the logged values under ``prefixes``."""
    from lightning_wgen.callbacks import TrainingCurves
    from lightning_wgen.metrics import ImageQuality, evaluate_images, load_domain_extractor

    quality = ImageQuality(load_domain_extractor("mnist"))
    quality.set_real_features(quality.features(mnist.reference_images(1000, seed=0)))
    before = evaluate_images(model, quality, num_samples=1000)["fid_mnist"]
    curves = TrainingCurves(prefixes=prefixes)
    quiet_trainer(default_root_dir=root, callbacks=[curves]).fit(model, mnist)
    after = evaluate_images(model, quality, num_samples=1000)["fid_mnist"]
    return before, after, curves.history


def first_and_last(history: list[tuple[int, float]], n: int = 100) -> tuple[float, float]:
    """The means of the first and the last ``n`` logged values."""
    values = [value for _, value in history]
    return sum(values[:n]) / n, sum(values[-n:]) / n


def adam_for_both_players(lr: float, betas=(0.5, 0.999)) -> dict:
    """An adversarial family's ``generator_optimizer`` and ``critic_optimizer`` arguments: Adam
    with ``lr`` and ``betas`` for both."""

    def adam(params):
        return torch.optim.Adam(params, lr=lr, betas=betas)

    return {"generator_optimizer": adam, "critic_optimizer": adam}
