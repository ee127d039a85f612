"""BEGAN's pieces against hand values: the autoencoder loss, three steps of the k_t control and
the convergence measure."""

import pytest
import torch

from lightning_wgen.losses import began_autoencoder_loss, began_convergence, began_k_update


def test_autoencoder_loss_is_the_mean_absolute_error_to_the_power_eta():
    x = torch.tensor([[0.5, -1.0], [0.0, 1.0]])
    reconstruction = torch.tensor([[0.0, -0.5], [0.5, 0.0]])
    assert began_autoencoder_loss(x, reconstruction).item() == pytest.approx(2.5 / 4)
    assert began_autoencoder_loss(x, reconstruction, eta=2).item() == pytest.approx(1.75 / 4)


def test_k_follows_the_proportional_control_over_three_steps_and_stays_in_0_1():
    gamma, lambda_k = 0.5, 0.001
    k = 0.0
    # (L(x), L(G(z))): generated images reconstructed too well -> k rises; too badly -> it falls
    for real, fake, expected in ((0.4, 0.1, 0.0001), (0.3, 0.05, 0.0002), (0.2, 0.5, 0.0)):
        k = began_k_update(k, real, fake, gamma, lambda_k)
        assert k == pytest.approx(expected)
    assert began_k_update(0.9995, 1.0, 0.0, gamma, lambda_k) == 1.0


def test_convergence_measure_by_hand():
    value = began_convergence(torch.tensor(0.4), torch.tensor(0.1), gamma=0.5)
    assert value.item() == pytest.approx(0.4 + abs(0.2 - 0.1))
