"""AVB: the adversary learns log q(z|x) - log p(z) for a known Gaussian posterior (with and
without adaptive contrast), the KL estimate of adaptive contrast by hand, and a short run on the
real MNIST."""

import math

import pytest
import torch
from helpers import quiet_trainer
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lightning_wgen import AVB
from lightning_wgen.errors import ConfigError
from lightning_wgen.losses import avb_kl_estimate, contrast_normalise
from lightning_wgen.metrics import evaluate_autoencoder
from lightning_wgen.nets import ConvDecoder, ConvEncoder, ImplicitEncoder, PairDiscriminator

A, S = 1.0, 0.5  # q(z | x) = N(A x, S^2), p(z) = N(0, 1), x ~ N(0, 1)


class GaussianPosterior(nn.Module):
    """A hand-built implicit encoder with a known density: z = A x + S eps."""

    implicit, latent_dim, noise_dim = True, 1, 1

    def forward(self, x, eps=None):
        return A * x + S * (torch.zeros_like(x) if eps is None else eps)


class Features(nn.Flatten):
    latent_dim = 1


def true_log_ratio(x, z):
    """log q(z | x) - log p(z) for the Gaussians above."""
    return -((z - A * x) ** 2) / (2 * S**2) - math.log(S) + z**2 / 2


def true_kl(x):
    """KL(N(A x, S^2) || N(0, 1)) per x."""
    return -math.log(S) + (S**2 + (A * x) ** 2) / 2 - 0.5


@pytest.mark.parametrize("adaptive_contrast", [False, True])
def test_the_adversary_learns_the_log_density_ratio_of_a_gaussian_posterior(
    adaptive_contrast, tmp_path
):
    torch.manual_seed(0)
    decoder = nn.Linear(1, 1)
    decoder.latent_dim = 1
    adversary = PairDiscriminator(Features(), latent_dim=1, hidden_features=64)
    model = AVB(
        GaussianPosterior(),
        decoder,
        adversary,
        adaptive_contrast=adaptive_contrast,
        contrast_samples=64,
        discriminator_optimizer=lambda p: torch.optim.Adam(p, lr=3e-3),
        max_generator_steps=1500,
    )
    data = DataLoader(TensorDataset(torch.randn(20_000, 1)), batch_size=256, shuffle=True)
    quiet_trainer(default_root_dir=tmp_path).fit(model, data)

    x = torch.randn(4000, 1)
    z = A * x + S * torch.randn(4000, 1)  # pairs from q, where T is trained
    with torch.no_grad():
        if not adaptive_contrast:
            error = (adversary(x, z) - true_log_ratio(x, z).squeeze(1)).abs().mean()
            kl = adversary(x, z).mean()
        else:  # T sees the codes normalised by moments of a few codes per image, as in training
            z, normalised, log_det = model.adversary_pairs(x)
            kl = avb_kl_estimate(adversary(x, normalised), normalised, z, log_det)
            # T sees q's codes normalised by their own moments, nearly N(0, I): T* is near 0
            error = adversary(x, normalised).abs().mean()
    print(f"adaptive contrast {adaptive_contrast}: mean |T - T*| {error:.3f}, KL {kl:.3f}")
    # measured: |T - T*| 0.072, KL 0.799 (plain); 0.028, KL 0.788 (adaptive contrast with 64
    # codes per image: with 8, T cannot see the noisy moments and the estimate is 0.67); the
    # true mean KL of these 4,000 x is about 0.82
    assert error < 0.2
    assert kl.item() == pytest.approx(true_kl(x).mean().item(), abs=0.05)


def test_adaptive_contrasts_kl_estimate_by_hand():
    t = torch.tensor([0.3, -0.1])
    z = torch.tensor([[1.0, 2.0], [0.0, -1.0]])
    mean = torch.tensor([[0.5, 1.0], [0.5, 0.0]])
    std = torch.tensor([[0.5, 2.0], [1.0, 0.5]])
    normalised = (z - mean) / std  # [[1, 0.5], [-0.5, -2]]
    # per row: t + |z|^2 / 2 - |z~|^2 / 2 - sum log std
    first = 0.3 + 5.0 / 2 - 1.25 / 2 - math.log(0.5 * 2.0)
    second = -0.1 + 1.0 / 2 - 4.25 / 2 - math.log(1.0 * 0.5)
    estimate = avb_kl_estimate(t, normalised, z, std.log().sum(1))
    assert estimate.item() == pytest.approx((first + second) / 2)


def test_full_covariance_contrast_whitens_correlated_codes_by_hand():
    # four codes of one image: mean 0, covariance sum p p^T / 3 = [[5/6, 1/2], [1/2, 5/6]],
    # det 4/9, so log det L = log(2/3), and z = (1, 0) has |z~|^2 = z^T S^-1 z = 15/8
    others = torch.tensor([[1.0, 1.0], [-1.0, -1.0], [0.5, -0.5], [-0.5, 0.5]]).unsqueeze(1)
    z = torch.tensor([[1.0, 0.0]])
    normalised, log_det = contrast_normalise(z, others, full=True)
    assert normalised.pow(2).sum().item() == pytest.approx(15 / 8, rel=1e-5)
    assert log_det.item() == pytest.approx(math.log(2 / 3), rel=1e-5)
    # per coordinate: std sqrt(5/6) each, |z~|^2 = 6/5, sum log sigma = log(5/6)
    normalised, log_det = contrast_normalise(z, others)
    assert normalised.pow(2).sum().item() == pytest.approx(6 / 5, rel=1e-5)
    assert log_det.item() == pytest.approx(math.log(5 / 6), rel=1e-5)


class LearnableGaussian(nn.Module):
    """z = a + b eps with learnable a, b: q(z | x) = N(a, b^2) for every x."""

    implicit, latent_dim, noise_dim = True, 1, 1

    def __init__(self, a: float, b: float):
        super().__init__()
        self.a, self.b = nn.Parameter(torch.tensor(a)), nn.Parameter(torch.tensor(b))

    def forward(self, x, eps=None):
        return self.a + self.b * (torch.zeros_like(x) if eps is None else eps)


def test_adaptive_contrasts_kl_gradient_is_the_closed_form_kls_for_a_gaussian_posterior():
    # q = N(a, b^2) normalised by its own moments is N(0, 1), so T* = 0 and the estimate's
    # gradient must be that of KL(N(a, b^2) || N(0, 1)) = (a^2 + b^2 - 1) / 2 - log b: (a, b - 1/b).
    # r's moments are constants (the authors' code): were they differentiated, the -|z~|^2 / 2
    # term would reward heavy tails through the few codes that estimate them.
    torch.manual_seed(0)
    encoder, decoder = LearnableGaussian(0.5, 2.0), nn.Linear(1, 1)
    decoder.latent_dim = 1
    adversary = PairDiscriminator(Features(), latent_dim=1)
    model = AVB(encoder, decoder, adversary, contrast_samples=64)
    x = torch.zeros(20_000, 1)
    z, normalised, log_det = model.adversary_pairs(x)
    assert z.requires_grad and not log_det.requires_grad
    avb_kl_estimate(torch.zeros(len(x)), normalised, z, log_det).backward()
    assert encoder.a.grad.item() == pytest.approx(0.5, abs=0.02)
    assert encoder.b.grad.item() == pytest.approx(2.0 - 1 / 2.0, abs=0.05)


class CorrelatedGaussian(nn.Module):
    """z = a + B eps in two dimensions: q(z | x) = N(a, B B^T) for every x."""

    implicit, latent_dim, noise_dim = True, 2, 2

    def __init__(self, a, b):
        super().__init__()
        self.a, self.b = nn.Parameter(torch.tensor(a)), nn.Parameter(torch.tensor(b))

    def forward(self, x, eps=None):
        eps = torch.zeros(len(x), 2) if eps is None else eps
        return self.a + eps @ self.b.T


@pytest.mark.parametrize("full", [True, False])
def test_full_covariance_contrast_gives_the_closed_form_kls_gradient_for_correlated_codes(full):
    # KL(N(a, B B^T) || N(0, I)) = (tr(B B^T) + |a|^2 - 2 - log det B B^T) / 2, gradient (a,
    # B - B^-T). Whitened by the full covariance, q's codes are N(0, I), so T* = 0 and the
    # estimate's gradient must be that. Per coordinate they are not (T* != 0), and without T the
    # gradient is B - diag(B B^T)^-1 B: what the encoder gets wherever T falls short.
    torch.manual_seed(0)
    b = [[2.0, 0.0], [1.5, 1.0]]
    encoder, decoder = CorrelatedGaussian([0.5, -1.0], b), nn.Linear(2, 1)
    decoder.latent_dim = 2
    adversary = PairDiscriminator(Features(), latent_dim=2)
    model = AVB(encoder, decoder, adversary, contrast_samples=64, contrast_full_covariance=full)
    x = torch.zeros(20_000, 1)
    z, normalised, log_det = model.adversary_pairs(x)
    avb_kl_estimate(torch.zeros(len(x)), normalised, z, log_det).backward()
    b = torch.tensor(b)
    closed_form = b - torch.linalg.inv(b).T  # [[1.5, 0.75], [1.5, 0]]
    per_coordinate = b - b / (b @ b.T).diagonal().unsqueeze(1)  # [[1.5, 0], [1.04, 0.69]]
    torch.testing.assert_close(encoder.a.grad, torch.tensor([0.5, -1.0]), atol=0.03, rtol=0)
    expected = closed_form if full else per_coordinate
    # 5 % above: E S^-1 of 64 codes is (63 / 60) of the true inverse covariance in 2-D
    torch.testing.assert_close(encoder.b.grad, expected, atol=0.08, rtol=0)


def test_avb_posterior_samples_feed_the_encoder_noise_from_the_generator():
    decoder = nn.Linear(1, 1)
    decoder.latent_dim = 1
    model = AVB(GaussianPosterior(), decoder, PairDiscriminator(Features(), latent_dim=1))
    x = torch.randn(5, 1)
    eps = torch.randn(5, 1, generator=torch.Generator().manual_seed(2))
    sampled = model.sample_posterior(x, torch.Generator().manual_seed(2))
    torch.testing.assert_close(sampled, A * x + S * eps)
    torch.testing.assert_close(model.encode(x), A * x)  # the deterministic code: eps = 0


def test_avb_refuses_an_encoder_without_noise_in_one_line():
    encoder, decoder = ConvEncoder(8, widths=(8,)), ConvDecoder(8, widths=(8,))
    adversary = PairDiscriminator(ConvEncoder(16, widths=(8,)), latent_dim=8)
    with pytest.raises(ConfigError, match="AVB needs an implicit encoder .* got ConvEncoder"):
        AVB(encoder, decoder, adversary)


def test_avb_learns_to_reconstruct_mnist_and_pulls_its_codes_to_the_prior(mnist, tmp_path):
    torch.manual_seed(0)
    widths = (16, 32, 64, 128)  # the MNIST networks of the WAE paper, every width / 8
    encoder = ImplicitEncoder(ConvEncoder(64, widths=widths), latent_dim=8, hidden_features=64)
    adversary = PairDiscriminator(ConvEncoder(64, widths=widths), latent_dim=8, hidden_features=64)
    model = AVB(encoder, ConvDecoder(8, widths=(128, 64, 32)), adversary, max_generator_steps=200)
    test = list(mnist.reference_images(2000, batch_size=500, seed=0))
    before = evaluate_autoencoder(model, test)
    trainer = quiet_trainer(default_root_dir=tmp_path)
    trainer.fit(model, mnist)
    after = evaluate_autoencoder(model, test)
    print(f"before {before}\nafter {after}")
    assert {"ae/reconstruction", "ae/penalty", "ae/latent_mmd", "disc/loss"} <= set(
        trainer.callback_metrics
    )
    # measured (adaptive contrast, the default): 683 -> 81 and 1.85 -> 0.33; without it the
    # encoder learned to ignore its noise and the MMD only fell to 1.26
    assert after["reconstruction"] < 0.3 * before["reconstruction"]
    assert after["latent_mmd"] < 0.3 * before["latent_mmd"]
    # and of the sampled codes, z ~ q(z|x): 1.85 -> 0.37 (measured)
    assert after["posterior_mmd"] < 0.3 * before["posterior_mmd"]
    assert model.sample(4, seed=0).shape == (4, 1, 28, 28)
