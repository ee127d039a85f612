"""WGAN-GP learns the 25-Gaussian grid on CPU (about a minute on 2 cores)."""

from functools import partial

import lightning as L
import torch
from helpers import quiet_trainer

from lightning_wgen import WGANGP, ToyDataModule
from lightning_wgen.callbacks import evaluate_toy
from lightning_wgen.nets import MLPCritic, MLPGenerator


def test_wgan_gp_learns_grid25():
    L.seed_everything(0, verbose=False)
    adam = partial(torch.optim.Adam, lr=1e-3, betas=(0.5, 0.9))
    model = WGANGP(
        MLPGenerator(latent_dim=2, hidden_features=256),
        MLPCritic(hidden_features=256),
        gp_weight=1.0,
        generator_optimizer=adam,
        critic_optimizer=adam,
        max_generator_steps=1500,
    )
    data = ToyDataModule("grid25", batch_size=256)
    before, _, _ = evaluate_toy(model, data)
    quiet_trainer().fit(model, data)
    after, _, _ = evaluate_toy(model, data)
    print(f"before: {before}\nafter: {after}")
    assert before["modes"] < 20 and before["w1_exact"] > 0.8  # the untrained generator fails both
    assert after["modes"] >= 20
    assert after["w1_exact"] < 0.8
    assert after["w1_critic"] > 0  # the critic separates real from generated
