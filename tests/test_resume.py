"""A run interrupted anywhere and resumed with ``ckpt_path`` continues exactly as the
uninterrupted run: the same losses at every later step and the same weights, EMA and optimizer
states at the end (CPU, fixed seed)."""

import os
import signal

import lightning as L
import pytest
import torch
from helpers import quiet_trainer
from lightning.pytorch.utilities.exceptions import SIGTERMException
from PIL import Image
from torch import nn

from lightning_wgen import WAEMMD, WGANGP
from lightning_wgen.callbacks import LastCheckpoint
from lightning_wgen.data import ImageFolderDataModule, ToyDataModule
from lightning_wgen.nets import MLPCritic, MLPGenerator

STEPS = 6
SIDE = 8


class ImageGenerator(nn.Module):
    """Noise to 1 x 8 x 8 images: a small MLP, enough to exercise every piece of the loop."""

    latent_dim = 4

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            MLPGenerator(latent_dim=4, data_dim=SIDE * SIDE, hidden_features=16),
            nn.Tanh(),
            nn.Unflatten(1, (1, SIDE, SIDE)),
        )

    def forward(self, z):
        return self.net(z)


class Encoder(nn.Module):
    latent_dim = 4

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(SIDE * SIDE, 16), nn.ReLU())
        self.out = nn.Linear(16, 4)

    def forward(self, x):
        return self.out(self.net(x))


def image_critic() -> nn.Module:
    return nn.Sequential(nn.Flatten(), MLPCritic(data_dim=SIDE * SIDE, hidden_features=16))


def build(family: str) -> L.LightningModule:
    torch.manual_seed(0)
    common = {"max_generator_steps": STEPS, "lr_decay": "linear"}
    if family == "wgan_gp_toy":
        generator = MLPGenerator(latent_dim=2, hidden_features=16, num_hidden_layers=1)
        critic = MLPCritic(hidden_features=16, num_hidden_layers=1)
        return WGANGP(generator, critic, n_critic=5, ema_decay=0.9, **common)
    if family == "wgan_gp":
        return WGANGP(ImageGenerator(), image_critic(), n_critic=5, ema_decay=0.9, **common)
    return WAEMMD(Encoder(), ImageGenerator(), **common)


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """40 random 8 x 8 grayscale PNG files: 6 shuffled batches of 6 per epoch (drop_last)."""
    folder = tmp_path_factory.mktemp("pngs")
    pixels = torch.randint(0, 256, (40, SIDE, SIDE), generator=torch.Generator().manual_seed(1))
    for i, image in enumerate(pixels):
        Image.fromarray(image.to(torch.uint8).numpy(), mode="L").save(folder / f"{i:02d}.png")
    return folder


def data_for(family: str, folder):
    if family == "wgan_gp_toy":
        return ToyDataModule("grid25", batch_size=16, seed=3)
    return ImageFolderDataModule(
        str(folder), channels=1, image_size=SIDE, batch_size=6, num_workers=0, seed=5
    )


class Record(L.Callback):
    """The logged losses after every generator step; optionally interrupts the run."""

    def __init__(self, stop_at_epoch_end=None, sigterm_at=None, crash_in_step=None) -> None:
        self.losses: dict[int, dict[str, float]] = {}
        self.stop_at_epoch_end, self.sigterm_at, self.crash_in_step = (
            stop_at_epoch_end,
            sigterm_at,
            crash_in_step,
        )
        self.critic_updates = 0
        self.step_at_start = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.step_at_start = pl_module.generator_steps

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        # (a training_step cut short by the end of the data makes no generator step)
        if pl_module.generator_steps > self.step_at_start:
            logged = trainer.callback_metrics
            self.losses[pl_module.generator_steps] = {
                k: float(v) for k, v in logged.items() if k.endswith("loss")
            }
        if pl_module.generator_steps == self.sigterm_at:
            os.kill(os.getpid(), signal.SIGTERM)

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.current_epoch == self.stop_at_epoch_end:
            trainer.should_stop = True

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        if pl_module.generator_steps == self.crash_in_step:
            self.critic_updates += 1
            if self.critic_updates == 3:
                raise RuntimeError("the machine went away")


def run(family, folder, root, record, ckpt_path=None):
    model = build(family)
    last = LastCheckpoint(dirpath=str(root), every_minutes=0)
    trainer = quiet_trainer(
        default_root_dir=root, enable_checkpointing=True, callbacks=[record, last]
    )
    L.seed_everything(7)
    trainer.fit(model, data_for(family, folder), ckpt_path=ckpt_path, weights_only=True)
    return model, trainer


def states(model: L.LightningModule, trainer: L.Trainer) -> dict[str, torch.Tensor]:
    tensors = dict(model.state_dict())
    for i, optimizer in enumerate(trainer.optimizers):
        for key, state in optimizer.state_dict()["state"].items():
            tensors.update({f"opt{i}.{key}.{name}": value for name, value in state.items()})
    return tensors


@pytest.fixture(scope="module")
def uninterrupted(image_folder, tmp_path_factory):
    cache = {}

    def get(family):
        if family not in cache:
            record = Record()
            model, trainer = run(family, image_folder, tmp_path_factory.mktemp("full"), record)
            cache[family] = record.losses, states(model, trainer)
        return cache[family]

    return get


INTERRUPTIONS = {
    # the data runs out inside a critic cycle: epoch 0 ends after 1 generator step + 1 critic
    # update, and last.ckpt is written right there, mid-cycle
    "mid_cycle_epoch_end": ({"stop_at_epoch_end": 0}, None),
    # SIGTERM between generator steps 3 and 4, mid-epoch (batch 3 of 6 of epoch 2)
    "sigterm_mid_epoch": ({"sigterm_at": 3}, SIGTERMException),
    # the process dies at the 3rd critic update of generator step 5: last.ckpt is that of step 4
    "crash_inside_cycle": ({"crash_in_step": 4}, RuntimeError),
}


@pytest.mark.parametrize(
    ("family", "interruption"),
    [
        ("wgan_gp", "mid_cycle_epoch_end"),
        ("wgan_gp", "sigterm_mid_epoch"),
        ("wgan_gp", "crash_inside_cycle"),
        ("wgan_gp_toy", "sigterm_mid_epoch"),
        ("wae_mmd", "sigterm_mid_epoch"),
    ],
)
def test_a_resumed_run_continues_exactly(
    family, interruption, image_folder, uninterrupted, tmp_path
):
    expected_losses, expected_states = uninterrupted(family)
    kwargs, error = INTERRUPTIONS[interruption]
    first = Record(**kwargs)
    if error is None:
        run(family, image_folder, tmp_path, first)
    else:
        with pytest.raises(error):
            run(family, image_folder, tmp_path, first)
    saved = torch.load(tmp_path / "last.ckpt", weights_only=True)["wgen"]
    if interruption == "mid_cycle_epoch_end":
        assert (saved["generator_steps"], saved["critic_steps_in_cycle"]) == (1, 1)
    if interruption == "crash_inside_cycle":
        assert saved["generator_steps"] == 4 and first.critic_updates == 3

    second = Record()
    model, trainer = run(family, image_folder, tmp_path, second, tmp_path / "last.ckpt")
    resumed_from = saved["generator_steps"]
    assert sorted(second.losses) == list(range(resumed_from + 1, STEPS + 1))
    for step, losses in second.losses.items():
        assert losses == expected_losses[step], f"step {step}"
    got = states(model, trainer)
    assert got.keys() == expected_states.keys()
    different = [k for k in got if not torch.equal(got[k], expected_states[k])]
    assert not different
