"""The autoencoder regularisers (denoising, sparse, contractive): the penalties against hand
values and closed forms, the options of every autoencoder family, and a denoising autoencoder
trained on the real MNIST against the plain one."""

import math

import pytest
import torch
from helpers import quiet_trainer
from torch import nn

from lightning_wgen import AAE, AEOT, VAE, WAEMMD
from lightning_wgen.errors import ConfigError
from lightning_wgen.losses import (
    contractive_penalty,
    corrupt,
    kl_sparsity,
    l1_sparsity,
    reconstruction_cost,
)
from lightning_wgen.metrics import evaluate_autoencoder
from lightning_wgen.nets import ConvDecoder, ConvEncoder, MLPCritic

SMALL_ENCODER = (16, 32, 64, 128)
SMALL_DECODER = (128, 64, 32)


def nets(gaussian=False):
    return ConvEncoder(8, widths=SMALL_ENCODER, gaussian=gaussian), ConvDecoder(
        8, widths=SMALL_DECODER
    )


def test_l1_sparsity_sums_each_code_and_averages_the_batch():
    codes = torch.tensor([[1.0, -2.0, 0.0], [0.5, 0.5, -3.0]])
    assert l1_sparsity(codes).item() == pytest.approx((3.0 + 4.0) / 2)


def test_kl_sparsity_by_hand():
    activations = torch.tensor([[0.1, 0.5], [0.3, 0.5]])  # mean activations 0.2 and 0.5
    rho = 0.05

    def kl(p, q):
        return p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))

    assert kl_sparsity(activations, rho).item() == pytest.approx(kl(rho, 0.2) + kl(rho, 0.5))
    assert kl_sparsity(torch.full((4, 3), rho), rho).item() == pytest.approx(0.0, abs=1e-7)


def test_contractive_penalty_of_a_linear_encoder_is_its_weights_frobenius_norm():
    torch.manual_seed(0)
    encoder = nn.Linear(6, 3)
    x = torch.randn(5, 6, requires_grad=True)
    penalty = contractive_penalty(x, encoder(x))
    assert penalty.item() == pytest.approx(encoder.weight.pow(2).sum().item(), rel=1e-6)
    # a sigmoid layer: J = diag(h (1 - h)) W, so ||J||_F^2 = sum_j (h_j (1 - h_j))^2 ||W_j||^2
    h = torch.sigmoid(encoder(x))
    by_hand = ((h * (1 - h)).pow(2) * encoder.weight.pow(2).sum(1)).sum(1).mean()
    assert contractive_penalty(x, h).item() == pytest.approx(by_hand.item(), rel=1e-6)
    # it stays in the graph: its gradient reaches the encoder's weights
    penalty.backward()
    torch.testing.assert_close(encoder.weight.grad, 2 * encoder.weight)


def test_corruption_masks_where_the_draw_is_below_the_level_or_adds_scaled_noise():
    x = torch.tensor([[0.5, 0.2, -0.3, 0.9]])
    draws = torch.tensor([[0.1, 0.7, 0.2, 0.9]])
    masked = corrupt(x, "masking", 0.25, draws)
    torch.testing.assert_close(masked, torch.tensor([[-1.0, 0.2, -1.0, 0.9]]))
    torch.testing.assert_close(corrupt(x, "gaussian", 0.5, draws), x + 0.5 * draws)
    with pytest.raises(ConfigError, match="corruption must be one of"):
        corrupt(x, "salt", 0.1, draws)


@pytest.mark.parametrize(
    "options, message",
    [
        (
            {"corruption": "blur"},
            "corruption must be one of ('gaussian', 'masking') or null, got 'blur'.",
        ),  # fmt: skip
        ({"corruption": "masking", "corruption_level": 1.5}, "corruption_level must be > 0"),
        ({"sparsity": "l2"}, "sparsity must be one of ('l1', 'kl'), got 'l2'."),
        ({"sparsity_target": 1.0}, "sparsity_target must be in (0, 1), got 1.0."),
        ({"contractive_weight": -1.0}, "contractive_weight must be >= 0 (0 turns it off)"),
    ],
)
def test_a_regulariser_option_out_of_range_is_one_line(options, message):
    with pytest.raises(ConfigError) as err:
        AEOT(*nets(), **options)
    assert str(err.value).startswith(message)


@pytest.mark.parametrize("family", [AEOT, VAE, WAEMMD, AAE])
def test_every_autoencoder_family_takes_the_regularisers_and_logs_them(family, mnist, tmp_path):
    extra = {"discriminator": MLPCritic(data_dim=8, hidden_features=32)} if family is AAE else {}
    model = family(
        *nets(gaussian=family is VAE),
        corruption="gaussian",
        corruption_level=0.3,
        sparsity_weight=1e-3,
        sparsity="kl",
        contractive_weight=1e-3,
        max_generator_steps=2,
        **extra,
    )
    trainer = quiet_trainer(default_root_dir=tmp_path)
    trainer.fit(model, mnist)
    logged = trainer.callback_metrics
    assert logged["ae/sparsity"] > 0 and logged["ae/contractive"] > 0
    # the logged loss holds both penalties at their weights
    if family is AEOT:
        expected = model.reconstruction_weight * logged["ae/reconstruction"] + 1e-3 * (
            logged["ae/sparsity"] + logged["ae/contractive"]
        )
        torch.testing.assert_close(logged["ae/loss"], expected)


def test_a_denoising_autoencoder_restores_corrupted_test_digits_better_than_the_plain_one(
    mnist, tmp_path
):
    test = list(mnist.reference_images(1000, batch_size=500, seed=0))
    noise = torch.Generator().manual_seed(1)
    corrupted = [
        (corrupt(x, "masking", 0.5, torch.rand(x.shape, generator=noise)), x) for x in test
    ]

    def restoration_cost(model):
        model.eval()
        with torch.no_grad():
            costs = [reconstruction_cost(model.reconstruct(c), x) for c, x in corrupted]
        return float(sum(costs)) / len(costs)  # batches of equal size

    costs = {}
    for name, options in (("plain", {}), ("denoising", {"corruption": "masking",
                                                         "corruption_level": 0.5})):  # fmt: skip
        torch.manual_seed(0)
        model = AEOT(*nets(), max_generator_steps=100, reconstruction_weight=1.0, **options)
        quiet_trainer(default_root_dir=tmp_path / name).fit(model, mnist)
        costs[name] = restoration_cost(model)
        costs[f"{name} clean"] = evaluate_autoencoder(model, test)["reconstruction"]
    print(costs)
    # measured (100 steps, half the pixels masked): 96 against 171; on clean digits the plain
    # autoencoder is the better one (86 against 121), which is the trade
    assert costs["denoising"] < 0.8 * costs["plain"]
