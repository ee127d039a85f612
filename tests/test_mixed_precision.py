"""Mixed precision with the gradient penalty: bf16 autocast, and fp16 with a loss-scaled penalty."""

from pathlib import Path

import pytest
import torch
from helpers import quiet_trainer
from lightning.pytorch.plugins.precision import MixedPrecision

from lightning_wgen.callbacks import evaluate_toy
from lightning_wgen.cli import build_from_config
from lightning_wgen.losses import critic_slopes, gradient_penalty
from lightning_wgen.nets import DCGANCritic

QUICKSTART = Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml"


def tiny_slope_critic(x):
    # f(x) = 1e-8 * (3 x1 + 4 x2) in float16, as two products: the forward values are fine,
    # but the input gradient (3e-8, 4e-8) lies below float16's smallest subnormal (6e-8)
    w = torch.tensor([[3.0], [4.0]], dtype=torch.float16)
    return ((x @ w).squeeze(1) * 1e-4) * 1e-4


def test_scaled_input_gradient_survives_where_float16_flushes_it_to_zero():
    points = torch.randn(3, 2).half()
    assert critic_slopes(tiny_slope_critic, points).tolist() == [0.0, 0.0, 0.0]
    scaled = critic_slopes(tiny_slope_critic, points, grad_scale=torch.tensor(2.0**14))
    coefficient = torch.tensor(1e-4, dtype=torch.float16).item() ** 2  # 1e-4 rounded to float16
    torch.testing.assert_close(scaled, torch.full((3,), 5 * coefficient), rtol=2e-3, atol=0)


@pytest.mark.parametrize(
    ("dtype", "grad_scale"), [(torch.bfloat16, None), (torch.float16, torch.tensor(2.0**12))]
)
def test_penalty_under_autocast_matches_float32(dtype, grad_scale):
    torch.manual_seed(0)
    critic = DCGANCritic(channels=1, image_size=28, base_channels=16, norm="layer")
    real, fake = torch.rand(16, 1, 28, 28) * 2 - 1, torch.rand(16, 1, 28, 28) * 2 - 1
    torch.manual_seed(1)
    exact = gradient_penalty(critic, real, fake)
    torch.manual_seed(1)  # the same interpolation weights
    with torch.autocast("cpu", dtype=dtype):
        mixed = gradient_penalty(critic, real, fake.to(dtype), grad_scale=grad_scale)
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, exact, rtol=5e-2, atol=0)


# bf16-mixed training with the penalty learns the grid (untrained: 1 mode, exact W1 3.8). bf16
# matmuls are slow on CPUs without bf16 units (1.15 s a step at the quickstart's width 256 on 2
# cores, 0.12 s at width 64), hence narrower networks for twice the steps. Seeds 0-4 measured
# 24, 21, 15, 20, 23 modes and W1 0.62-0.84 (benchmarks/test_margins.py --only bf16).
BF16_RUN = [
    "--model.init_args.max_generator_steps=600",
    "--model.init_args.lr_decay=constant",  # as measured (the quickstart now decays its rates)
    "--model.init_args.generator.init_args.hidden_features=64",
    "--model.init_args.critic.init_args.hidden_features=64",
]
LEAST_MODES, LARGEST_W1 = 10, 1.2


def test_wgan_gp_learns_grid25_in_bf16_mixed(tmp_path):
    model, data = build_from_config(QUICKSTART, *BF16_RUN)
    trainer = quiet_trainer(default_root_dir=tmp_path, precision="bf16-mixed")
    trainer.fit(model, data)
    after, _, _ = evaluate_toy(model, data)
    assert after["modes"] >= LEAST_MODES and after["w1_exact"] < LARGEST_W1, after
    assert trainer.precision_plugin.scaler is None and model.grad_scale is None


def test_float16_steps_that_overflow_are_skipped_and_the_scale_lowered(tmp_path):
    # Lightning turns "16-mixed" on CPU into bf16; the plugin keeps float16 and its GradScaler.
    # float16 matmuls are slow on CPU, hence the small networks and run.
    model, data = build_from_config(
        QUICKSTART,
        "--model.init_args.max_generator_steps=10",
        "--model.init_args.generator.init_args.hidden_features=32",
        "--model.init_args.critic.init_args.hidden_features=32",
        "--data.init_args.batch_size=32",
    )
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    trainer = quiet_trainer(default_root_dir=tmp_path, plugins=[MixedPrecision("16-mixed", "cpu")])
    trainer.fit(model, data)
    scale = trainer.precision_plugin.scaler.get_scale()
    # at the initial scale 2^16 the gradient of float16 scores overflows (float16 max 65504):
    # that step is skipped and the scale halved; the penalty always uses the current scale
    assert scale <= 2.0**15
    assert model.grad_scale.item() == scale
    after = dict(model.named_parameters())
    assert all(torch.isfinite(p).all() for p in after.values())
    # every weight was trained but the critic's output bias, on which neither the Wasserstein
    # loss nor the penalty depends (its gradient is exactly zero)
    moved = {name for name, p in after.items() if not torch.equal(before[name], p)}
    assert set(after) - moved == {"critic.net.6.bias"}
