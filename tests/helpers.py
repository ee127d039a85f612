"""Small real models and data for fast Trainer runs in tests."""

import lightning as L
import torch
from torch.utils.data import DataLoader, IterableDataset

from lightning_wgen import WGANGP
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


def quiet_trainer(**kwargs) -> L.Trainer:
    defaults = dict(
        accelerator="cpu",
        max_epochs=-1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    return L.Trainer(**{**defaults, **kwargs})
