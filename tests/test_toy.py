import math

import pytest
import torch

from lightning_wgen.data import ToyDataModule, sample_toy, toy_modes
from lightning_wgen.errors import ConfigError
from lightning_wgen.metrics import exact_w1, mode_metrics


def grid():
    return toy_modes("grid25"), 0.05


def test_grid25_and_ring8_modes():
    modes, _ = grid()
    assert modes.shape == (25, 2)
    assert {tuple(m) for m in modes.tolist()} == {
        (float(a), float(b)) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)
    }
    ring = toy_modes("ring8")
    # eight distinct points on the unit circle, 45 degrees apart
    assert torch.allclose(ring.norm(dim=1), torch.ones(8))
    gaps = torch.cdist(ring, ring) + 10 * torch.eye(8)
    assert gaps.min().item() == pytest.approx(2 * math.sin(math.pi / 8), rel=1e-5)


def test_mode_metrics_all_on_the_means():
    modes, std = grid()
    result = mode_metrics(modes.repeat(100, 1), modes, std)
    assert result == {"modes": 25, "num_modes": 25, "high_quality": 1.0}


def test_mode_metrics_one_mode_only():
    modes, std = grid()
    samples = modes[7] + 0.01 * torch.randn(2500, 2)
    assert mode_metrics(samples, modes, std) == {"modes": 1, "num_modes": 25, "high_quality": 1.0}


def test_mode_metrics_counts_the_three_std_radius():
    modes, std = grid()
    # 2.9 std from mode (0, 0) counts; 3.1 std from mode (2, 2) does not; (1, 1) is far from all.
    samples = torch.tensor([[2.9 * std, 0.0], [2.0 + 3.1 * std, 2.0], [1.0, 1.0], [1.0, 1.0]])
    assert mode_metrics(samples, modes, std) == {"modes": 1, "num_modes": 25, "high_quality": 0.25}


def test_true_samples_score_full_marks():
    modes, std = grid()
    result = mode_metrics(sample_toy("grid25", 2500, torch.Generator().manual_seed(0)), modes, std)
    assert result["modes"] == 25
    # within 3 std in 2D: 1 - exp(-9/2) = 0.9889 of a Gaussian
    assert result["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.01)


def test_exact_w1_hand_cases():
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    assert exact_w1(x, x + torch.tensor([3.0, 4.0])) == pytest.approx(5.0)
    # the optimal plan pairs crosswise: cost 0, not 2
    assert exact_w1(x, x.flip(0)) == pytest.approx(0.0)
    # unequal sizes: half the mass of the single point moves 1 to each side
    y = torch.tensor([[0.5, 0.0]])
    assert exact_w1(x, y) == pytest.approx(0.5)


def test_w1_reference_figures():
    rng = torch.Generator().manual_seed(0)
    real = sample_toy("grid25", 2500, rng)
    other = sample_toy("grid25", 2500, rng)
    collapsed = torch.zeros(2500, 2) + 0.05 * torch.randn(2500, 2, generator=rng)
    assert exact_w1(real, other) < 0.25  # two true samples
    assert exact_w1(real, collapsed) > 3.0  # one mode only


def test_toy_datamodule_streams_fresh_batches():
    dm = ToyDataModule("ring8", batch_size=64, seed=3)
    it = iter(dm.train_dataloader())
    a, b = next(it), next(it)
    assert a.shape == (64, 2) and not torch.equal(a, b)
    torch.testing.assert_close(a, next(iter(dm.train_dataloader())))  # seeded stream
    assert dm.sample(10, seed=1).shape == (10, 2)
    swiss = ToyDataModule("swissroll")
    assert swiss.modes is None and swiss.std is None


def test_toy_datamodule_rejects_unknown_names():
    with pytest.raises(ConfigError, match="grid25, ring8, swissroll"):
        ToyDataModule("grid9")
