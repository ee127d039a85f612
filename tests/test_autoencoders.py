"""Autoencoder families: their losses against hand values and closed forms, their networks, and
WAE-MMD trained briefly on the real MNIST."""

import math

import numpy as np
import pytest
import torch
from helpers import quiet_trainer
from torch import nn

from lightning_wgen import AAE, VAE, WAEGAN, WAEMMD
from lightning_wgen.callbacks import ReconstructionGrid
from lightning_wgen.errors import ConfigError
from lightning_wgen.losses import (
    WAE_KERNEL_SCALES,
    gaussian_kl_to_standard_normal,
    latent_kernel,
    mmd_unbiased,
    reconstruction_cost,
)
from lightning_wgen.metrics import evaluate_autoencoder, to_uint8
from lightning_wgen.nets import ConvDecoder, ConvEncoder, MLPCritic

SMALL_ENCODER = (16, 32, 64, 128)  # the MNIST networks of the WAE paper, every width / 8
SMALL_DECODER = (128, 64, 32)


def small_nets(latent_dim=8, gaussian=False):
    return (
        ConvEncoder(latent_dim, widths=SMALL_ENCODER, gaussian=gaussian),
        ConvDecoder(latent_dim, widths=SMALL_DECODER),
    )


def build(family, **kwargs):
    encoder, decoder = small_nets(gaussian=family is VAE)
    if family in (AAE, WAEGAN):
        kwargs["discriminator"] = MLPCritic(data_dim=8, hidden_features=32, num_hidden_layers=2)
    return family(encoder, decoder, **kwargs)


# -- losses ---------------------------------------------------------------------------------------


def imq_by_hand(a: float, b: float) -> float:
    # d = 1, sigma_z^2 = 1: C = 2 d sigma_z^2 = 2, summed over the seven scales
    return sum(2 * s / (2 * s + (a - b) ** 2) for s in (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0))


def test_mmd_on_three_points_by_hand():
    x, y = [0.0, 1.0, 3.0], [0.0, 2.0, 2.0]
    within_x = sum(imq_by_hand(a, b) for i, a in enumerate(x) for j, b in enumerate(x) if i != j)
    within_y = sum(imq_by_hand(a, b) for i, a in enumerate(y) for j, b in enumerate(y) if i != j)
    cross = sum(imq_by_hand(a, b) for a in x for b in y)
    expected = within_x / 6 + within_y / 6 - 2 * cross / 9
    assert expected == pytest.approx(-0.8329399992124067, abs=1e-12)  # printed once, kept
    got = mmd_unbiased(
        torch.tensor(x, dtype=torch.float64)[:, None], torch.tensor(y).double()[:, None]
    )
    assert got.item() == pytest.approx(expected, abs=1e-12)
    # the kernel itself at distance 0 is the number of scales, at distance^2 = 2: sum of s/(s+1)
    k = latent_kernel(
        torch.zeros(1, 1).double(), torch.tensor([[math.sqrt(2)]], dtype=torch.float64)
    )
    assert k.item() == pytest.approx(sum(s / (s + 1) for s in WAE_KERNEL_SCALES), abs=1e-12)


def test_rbf_kernel_over_the_same_scales():
    x, y = torch.zeros(1, 2).double(), torch.tensor([[1.0, 1.0]]).double()  # ||x - y||^2 = 2
    expected = sum(math.exp(-2 / (4 * s)) for s in WAE_KERNEL_SCALES)  # C = 2 * 2 * 1
    assert latent_kernel(x, y, "rbf").item() == pytest.approx(expected, abs=1e-12)


def test_mmd_is_zero_in_expectation_for_one_distribution_and_positive_when_shifted():
    gen = torch.Generator().manual_seed(0)

    def draw(n, shift=0.0):
        return torch.randn(n, 8, generator=gen, dtype=torch.float64) + shift

    small = torch.stack([mmd_unbiased(draw(64), draw(64)) for _ in range(200)])
    standard_error = small.std() / math.sqrt(len(small))
    assert abs(small.mean().item()) < 3 * standard_error.item()
    large = mmd_unbiased(draw(3000), draw(3000)).item()  # the large-sample estimate
    assert abs(large) < 1e-3
    assert abs(small.mean().item() - large) < 3 * standard_error.item()
    assert (small < 0).any()  # unbiased: single estimates fall on both sides of 0

    shifted = torch.stack([mmd_unbiased(draw(64), draw(64, shift=1.0)) for _ in range(20)])
    assert (shifted > small.max()).all()


def test_kl_term_matches_the_closed_form():
    # KL(N(1, 1) || N(0, 1)) = 1/2; KL(N(0, 2) || N(0, 1)) = (2 - 1 - ln 2) / 2
    mean = torch.tensor([[1.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)]])
    expected = 0.5 + (1.0 - math.log(2.0)) / 2
    assert gaussian_kl_to_standard_normal(mean, logvar).item() == pytest.approx(expected)
    gen = torch.Generator().manual_seed(0)
    mean, logvar = torch.randn(16, 5, generator=gen), torch.randn(16, 5, generator=gen)
    reference = torch.distributions.kl_divergence(
        torch.distributions.Normal(mean, (0.5 * logvar).exp()), torch.distributions.Normal(0, 1)
    )
    torch.testing.assert_close(
        gaussian_kl_to_standard_normal(mean, logvar), reference.sum(1).mean()
    )


def test_reconstruction_cost_sums_pixels_and_averages_the_batch():
    x = torch.zeros(2, 1, 2, 2)
    y = torch.tensor([1.0, 1.0, 1.0, 1.0, 2.0, 0.0, 0.0, 0.0]).view(2, 1, 2, 2)
    assert reconstruction_cost(x, y).item() == pytest.approx((4.0 + 4.0) / 2)


@pytest.mark.parametrize("family", [AAE, WAEGAN])
def test_latent_discriminator_losses_by_hand(family):
    encoder, decoder = small_nets(latent_dim=1)
    discriminator = nn.Linear(1, 1)
    with torch.no_grad():
        discriminator.weight.fill_(1.0)
        discriminator.bias.zero_()
    model = family(encoder, decoder, nn.Sequential(discriminator, nn.Flatten(0)))
    prior, codes = torch.tensor([[0.0]]), torch.tensor([[math.log(3.0)]])
    # D(0) = 1/2, D(ln 3) = 3/4: -log D(z) - log(1 - D(z~)) = ln 2 + ln 4
    assert model.discriminator_loss(prior, codes).item() == pytest.approx(3 * math.log(2.0))
    # the encoder's penalty -log D(z~) = ln(4/3)
    assert model.latent_penalty(codes, None).item() == pytest.approx(math.log(4.0 / 3.0))


def test_vae_codes_are_reparameterised_samples():
    model = build(VAE)
    mean, logvar = torch.full((20000, 8), 2.0), torch.full((20000, 8), math.log(4.0))
    model.posterior = lambda x: (mean, logvar)
    torch.manual_seed(0)
    codes, posterior = model.codes_for_training(None)
    assert posterior[0] is mean
    assert codes.mean().item() == pytest.approx(2.0, abs=0.02)
    assert codes.std().item() == pytest.approx(2.0, abs=0.02)


def test_posterior_samples_and_their_mmd_by_hand():
    # a Gaussian encoder's sample is mean + exp(logvar / 2) eps with the given generator's eps;
    # evaluate_autoencoder draws that noise with seed + 1 and the prior with seed
    vae = build(VAE)
    vae.posterior = lambda x: (torch.full((len(x), 8), 2.0), torch.full((len(x), 8), math.log(4.0)))
    eps = torch.randn(6, 8, generator=torch.Generator().manual_seed(3))
    sampled = vae.sample_posterior(torch.zeros(6, 1, 28, 28), torch.Generator().manual_seed(3))
    torch.testing.assert_close(sampled, 2.0 + 2.0 * eps)

    images = [torch.rand(6, 1, 28, 28) * 2 - 1, torch.rand(4, 1, 28, 28) * 2 - 1]
    result = evaluate_autoencoder(vae, images, seed=5)
    prior = torch.randn(10, 8, generator=torch.Generator().manual_seed(5)).double()
    codes = 2.0 + 2.0 * torch.randn(10, 8, generator=torch.Generator().manual_seed(6))
    assert result["posterior_mmd"] == pytest.approx(mmd_unbiased(codes.double(), prior).item())
    centres = torch.full((10, 8), 2.0).double()
    assert result["latent_mmd"] == pytest.approx(mmd_unbiased(centres, prior).item())

    # a deterministic encoder's posterior is its code: the two MMDs are one number
    wae = build(WAEMMD)
    torch.testing.assert_close(wae.sample_posterior(images[0]), wae.encode(images[0]))
    result = evaluate_autoencoder(wae, images)
    assert result["posterior_mmd"] == result["latent_mmd"]


# -- networks and settings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image_size", "channels", "kernel_size", "decoder_widths"),
    [(28, 1, 4, (1024, 512, 256)), (32, 3, 5, (1024, 512, 256)), (64, 3, 5, (1024, 512, 256, 128))],
)
def test_paper_networks_shapes(image_size, channels, kernel_size, decoder_widths):
    encoder = ConvEncoder(64, channels, image_size, kernel_size=kernel_size, gaussian=True)
    decoder = ConvDecoder(64, channels, image_size, decoder_widths, kernel_size)
    x = torch.rand(2, channels, image_size, image_size) * 2 - 1
    assert encoder(x).shape == (2, 128)
    out = decoder(torch.randn(2, 64))
    assert out.shape == x.shape
    assert out.abs().max() <= 1.0
    widths = [m.out_channels for m in encoder.modules() if isinstance(m, nn.Conv2d)]
    assert widths == [128, 256, 512, 1024]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: VAE(*small_nets()), "VAE needs a Gaussian encoder"),
        (lambda: WAEMMD(*small_nets(gaussian=True)), "WAEMMD needs a deterministic encoder"),
        (lambda: WAEMMD(ConvEncoder(4, widths=(8,)), ConvDecoder(8)), "codes of size 4"),
        (lambda: WAEMMD(*small_nets(), kernel="laplace"), "kernel must be one of"),
        (lambda: WAEMMD(*small_nets(), mmd_weight=-1.0), "mmd_weight must be >= 0, got -1.0"),
        (lambda: VAE(*small_nets(gaussian=True), reconstruction_weight=0), "must be > 0"),
        (lambda: ConvDecoder(8, image_size=30), "not divisible by 2 \\*\\* 2"),
    ],
)
def test_bad_settings_raise_one_line(make, message):
    with pytest.raises(ConfigError, match=message) as info:
        make()
    assert "\n" not in str(info.value)


# -- training on the real MNIST -------------------------------------------------------------------


def test_wae_mmd_learns_to_reconstruct_mnist_and_matches_the_prior(mnist, tmp_path):
    torch.manual_seed(0)
    model = build(WAEMMD, max_generator_steps=200, reconstruction_weight=0.0125)
    test_images = mnist.reference_images(2000, batch_size=500, seed=0)
    test_batches = list(test_images)
    before = evaluate_autoencoder(model, test_batches)
    quiet_trainer(default_root_dir=tmp_path).fit(model, mnist)
    after = evaluate_autoencoder(model, test_batches)
    print(f"before {before}\nafter {after}")
    assert model.generator_steps == 200
    # measured: 754 -> 77 and 1.84 -> 0.014 (2,000 test images)
    assert after["reconstruction"] < 0.2 * before["reconstruction"]
    assert after["latent_mmd"] < 0.1 * before["latent_mmd"]


@pytest.mark.parametrize("family", [VAE, AAE, WAEGAN, WAEMMD])
def test_each_family_trains_logs_and_round_trips_a_checkpoint(family, mnist, tmp_path):
    model = build(family, max_generator_steps=3)
    trainer = quiet_trainer(default_root_dir=tmp_path)
    trainer.fit(model, mnist)
    assert model.generator_steps == 3
    logged = set(trainer.callback_metrics)
    assert {"ae/reconstruction", "ae/penalty", "ae/latent_mmd", "ae/loss"} <= logged
    assert ("disc/loss" in logged) == (family in (AAE, WAEGAN))
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    state = torch.load(tmp_path / "m.ckpt", weights_only=True)
    assert state["wgen"]["generator_steps"] == 3 and state["wgen"]["train_seconds"] > 0
    fresh = build(family)
    fresh.load_state_dict(state["state_dict"])
    torch.testing.assert_close(fresh.sample(4, seed=0), model.sample(4, seed=0))
    assert model.sample(4, seed=0).shape == (4, 1, 28, 28)


def test_reconstruction_grid_pairs_fixed_test_images_with_their_reconstructions(mnist, tmp_path):
    model = build(WAEMMD, max_generator_steps=2)
    grid = ReconstructionGrid(num_samples=4, every_n_generator_steps=2, seed=3)
    quiet_trainer(default_root_dir=tmp_path, callbacks=[grid]).fit(model, mnist)
    files = sorted((tmp_path / "reconstructions").glob("step_*.png"))
    assert [f.name for f in files] == ["step_000002.png"]
    from PIL import Image

    pixels = torch.from_numpy(np.array(Image.open(files[0])))
    assert pixels.shape == (4 * 30 + 2, 2 * 30 + 2, 3)  # rows: 2 images, 2 reconstructions, ...
    real = next(mnist.reference_images(4, batch_size=4, seed=3))
    model.eval()
    with torch.no_grad():
        recon = model.reconstruct(real)
    for row, images in ((0, real[:2]), (1, recon[:2]), (2, real[2:]), (3, recon[2:])):
        for col, image in enumerate(images):
            top, left = 2 + 30 * row, 2 + 30 * col
            expected = to_uint8(image[None])[0, 0]
            assert torch.equal(pixels[top : top + 28, left : left + 28, 0], expected)


def test_aae_takes_a_gaussian_encoder_and_samples_its_codes(mnist, tmp_path):
    encoder, decoder = small_nets(gaussian=True)
    discriminator = MLPCritic(data_dim=8, hidden_features=32, num_hidden_layers=2)
    model = AAE(encoder, decoder, discriminator, max_generator_steps=2)
    quiet_trainer(default_root_dir=tmp_path).fit(model, mnist)
    assert model.generator_steps == 2
    x = next(mnist.reference_images(4, batch_size=4))
    model.eval()
    mean = model.encode(x)
    assert mean.shape == (4, 8)
    torch.manual_seed(0)
    sampled, (posterior_mean, _) = model.codes_for_training(x)
    torch.testing.assert_close(posterior_mean, mean)
    assert not torch.allclose(sampled, mean)
