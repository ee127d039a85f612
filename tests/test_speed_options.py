"""The speed options of every family: ``channels_last`` (convolution weights in channels-last
memory format while training) and ``compile_networks`` (``torch.compile``, leaving eager a critic
whose input gradients a penalty differentiates again). Each trains as the default does."""

import lightning as L
import torch
from helpers import quiet_trainer
from torch.utils.data import DataLoader

from lightning_wgen import WGANGP
from lightning_wgen.callbacks import SpeedOptions
from lightning_wgen.nets import DCGANCritic, DCGANGenerator


class LayoutAtStep(L.Callback):
    def __init__(self) -> None:
        self.channels_last: list[bool] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        convs = [p for p in pl_module.parameters() if p.dim() == 4]
        self.channels_last.append(
            all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
        )


def train(**options) -> tuple[WGANGP, LayoutAtStep]:
    torch.manual_seed(0)
    nets = DCGANGenerator(latent_dim=8, base_channels=8), DCGANCritic(base_channels=8)
    model = WGANGP(*nets, n_critic=2, max_generator_steps=2)
    images = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    layout = LayoutAtStep()
    trainer = quiet_trainer(callbacks=[layout, SpeedOptions(**options)])
    trainer.fit(model, DataLoader(images, batch_size=4))
    return model, layout


def test_channels_last_trains_in_that_layout_and_ends_in_the_default_one():
    plain, plain_layout = train()
    fast, fast_layout = train(channels_last=True)
    assert fast_layout.channels_last == [True, True] and plain_layout.channels_last == [False] * 2
    convs = [p for p in fast.parameters() if p.dim() == 4]
    assert all(p.is_contiguous() for p in convs)  # ready for safetensors and plain use
    for (name, a), b in zip(plain.state_dict().items(), fast.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)


def test_compile_networks_compiles_the_generator_keeps_the_penalised_critic_eager():
    plain, _ = train()
    fast, _ = train(compile_networks=True)
    assert fast.generator._compiled_call_impl is not None
    assert fast.critic._compiled_call_impl is None  # the gradient penalty's double backward
    for (name, a), b in zip(plain.state_dict().items(), fast.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)
