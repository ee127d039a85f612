"""AE-OT: the semi-discrete OT solver against closed forms and measured cell masses, the
Algorithm 2 generator by hand and on grid25, and the AEOT module trained on the real MNIST."""

import math
from pathlib import Path

import pytest
import torch
from helpers import quiet_trainer

from lightning_wgen import AEOT
from lightning_wgen.callbacks import FitOT, SampleGrid
from lightning_wgen.cli import main as wgen
from lightning_wgen.data.toy import TOY_STD, sample_toy, toy_modes
from lightning_wgen.errors import ConfigError
from lightning_wgen.metrics.toy import mode_metrics
from lightning_wgen.nets import ConvDecoder, ConvEncoder
from lightning_wgen.ot import (
    SemiDiscreteMap,
    cell_masses,
    dihedral_angles,
    mass_error,
    mass_error_floor,
    power_cells,
    solve_semidiscrete_ot,
    top_two_cells,
)
from lightning_wgen.ot.cells import CubeSampler
from lightning_wgen.ot.newton import masses_and_facets, newton_direction

# -- solver ---------------------------------------------------------------------------------------


def test_chunked_power_cells_match_one_dense_argmax():
    gen = torch.Generator().manual_seed(0)
    codes, heights = torch.randn(300, 5, generator=gen), torch.randn(300, generator=gen)
    x = torch.rand(1000, 5, generator=gen)
    scores = x @ codes.T + heights
    index, value = power_cells(x, codes, heights, chunk=2048)  # 2 codes x 1024 samples a block
    assert torch.equal(index, scores.argmax(dim=1))
    torch.testing.assert_close(value, scores.max(dim=1).values)


def test_top_two_cells_match_a_dense_sort():
    gen = torch.Generator().manual_seed(1)
    codes, heights = torch.randn(257, 3, generator=gen), torch.randn(257, generator=gen)
    x = torch.rand(500, 3, generator=gen)
    scores = x @ codes.T + heights
    first, second, gap = top_two_cells(x, codes, heights, chunk=4096)  # a last block of 1 code
    value, index = scores.topk(2, dim=1)
    assert torch.equal(first, index[:, 0]) and torch.equal(second, index[:, 1])
    torch.testing.assert_close(gap, value[:, 0] - value[:, 1])


def test_monte_carlo_hessian_of_a_1d_problem():
    # Codes 0, 1, 3 with boundaries at 1/3 and 2/3: the facets are points of density 1, so the
    # weights are 1 / |y_i - y_j| between neighbours: 1 and 1/2.
    codes = torch.tensor([[0.0], [1.0], [3.0]], dtype=torch.float64)
    heights = equal_mass_heights_1d([0.0, 1.0, 3.0])
    sampler = CubeSampler(1, "random", 0, codes.device)
    masses, facets = masses_and_facets(codes, heights, sampler, 1 << 20)
    torch.testing.assert_close(
        masses, torch.full((3,), 1 / 3, dtype=torch.float64), atol=3e-3, rtol=0
    )
    expected = torch.tensor([[0, 1, 0], [1, 0, 0.5], [0, 0.5, 0]], dtype=torch.float64)
    torch.testing.assert_close(facets.to_dense(), expected, atol=0, rtol=0.03)


def test_newton_direction_solves_the_laplacian_by_hand():
    # L = [[1, -1, 0], [-1, 1.5, -0.5], [0, -0.5, 0.5]]; L x = (0.1, -0.3, 0.2) with mean-zero x:
    # x0 - x1 = 0.1, x2 - x1 = 0.4, so x1 = -1/6.
    facets = torch.tensor([[0, 1, 0], [1, 0, 0.5], [0, 0.5, 0]], dtype=torch.float64)
    residual = torch.tensor([0.1, -0.3, 0.2], dtype=torch.float64)
    x = newton_direction(facets.to_sparse(), residual)
    expected = torch.tensor([-1 / 6 + 0.1, -1 / 6, -1 / 6 + 0.4], dtype=torch.float64)
    torch.testing.assert_close(x, expected)


def equal_mass_heights_1d(values: list[float]) -> torch.Tensor:
    """Closed form on [0, 1]: code k (ascending) owns [k/m, (k+1)/m], so the boundary x = k/m
    between codes k-1 and k solves x v_{k-1} + a_{k-1} = x v_k + a_k."""
    m, a = len(values), [0.0]
    for k in range(1, m):
        a.append(a[-1] - (k / m) * (values[k] - values[k - 1]))
    return torch.tensor(a, dtype=torch.float64)


def test_heights_of_a_product_grid_match_the_closed_form():
    # Codes (u_i, v_j): with heights a_i + b_j the argmax splits by axis, so the equal-mass cells
    # are products of the 1D cells and the heights are known exactly (up to a constant).
    u, v = [0.0, 0.3, 1.5, 2.0], [-1.0, 0.0, 0.2]
    codes = torch.cartesian_prod(torch.tensor(u), torch.tensor(v))
    a, b = equal_mass_heights_1d(u), equal_mass_heights_1d(v)
    expected = (a[:, None] + b[None, :]).flatten()
    expected -= expected.mean()
    result = solve_semidiscrete_ot(codes, target_error=0.01, seed=0)
    got = result.heights.double()
    print(f"steps {result.steps}, max height error {(got - expected).abs().max():.4f}")
    # a boundary off by 0.003 moves a height by 0.003 * |v_k - v_k-1| <= 0.004
    torch.testing.assert_close(got, expected, atol=0.005, rtol=0)
    assert mass_error(cell_masses(codes, result.heights, samples=1 << 22)) < 0.02


def test_random_codes_get_equal_masses_within_five_percent():
    # Acceptance: n = 1,000 codes in d = 8, masses measured on 2^24 independent points.
    codes = torch.randn(1000, 8, generator=torch.Generator().manual_seed(0))
    result = solve_semidiscrete_ot(codes, target_error=0.03, seed=0)
    samples = 1 << 24
    error = mass_error(cell_masses(codes, result.heights, samples=samples, seed=99))
    floor = mass_error_floor(1000, samples)
    print(f"{result.steps} steps, {result.seconds:.0f} s: error {error:.4f} (floor {floor:.4f})")
    assert error < 0.05
    start = mass_error(cell_masses(codes, torch.zeros(1000), samples=samples // 16, seed=99))
    assert start > 100  # from heights 0, one cell holds > 10 % of the cube


def test_solver_refuses_bad_codes_in_one_line():
    with pytest.raises(ConfigError, match=r"codes must be a \(n, d\) tensor"):
        solve_semidiscrete_ot(torch.zeros(5))
    with pytest.raises(ConfigError, match="NaN or infinite"):
        solve_semidiscrete_ot(torch.tensor([[0.0], [math.nan]]))
    with pytest.raises(ConfigError, match="solver must be one of"):
        solve_semidiscrete_ot(torch.zeros(3, 2), solver="lbfgs")


def test_pot_backend_solves_the_same_problem():
    # POT's averaged SGD with the cost -<x, y> returns our heights on a 1D problem.
    values = [0.0, 0.2, 1.0, 1.1]
    codes = torch.tensor(values, dtype=torch.float64)[:, None]
    result = solve_semidiscrete_ot(codes, solver="pot", pot_options={"max_iter": 4000})
    expected = equal_mass_heights_1d(values)
    torch.testing.assert_close(result.heights, expected - expected.mean(), atol=0.01, rtol=0)


# -- generator ------------------------------------------------------------------------------------


def fitted_two_code_map(angle_threshold: float) -> SemiDiscreteMap:
    # Codes 0 and 1 on [0, 1]: equal masses put the boundary at 1/2 (h_0 - h_1 = 1/2), and the
    # cells' centroids at 1/4 and 3/4.
    ot_map = SemiDiscreteMap(angle_threshold)
    ot_map.load_state_dict({
        "codes": torch.tensor([[0.0], [1.0]]),
        "heights": torch.tensor([0.25, -0.25]),
        "centroids": torch.tensor([[0.25], [0.75]]),
    })  # fmt: skip
    return ot_map


def test_dihedral_angle_by_hand():
    # normals (0, -1) and (1, -1): 45 degrees
    angle = dihedral_angles(torch.tensor([[0.0], [1.0]]), torch.tensor([0]), torch.tensor([1]))
    assert angle.item() == pytest.approx(math.pi / 4)


def test_generator_mixes_neighbours_by_inverse_distance_under_the_threshold():
    x = torch.tensor([[0.4]])
    # kept (45 deg < 1 rad): weights 1/0.15 and 1/0.35 on codes 0 and 1 -> 0.15 / 0.5 = 0.3
    codes, used = fitted_two_code_map(1.0).generate(x)
    assert codes.item() == pytest.approx(0.3) and used.item() == 2
    # rejected (45 deg > 0.5 rad): only the nearest centroid's code
    codes, used = fitted_two_code_map(0.5).generate(x)
    assert codes.item() == 0.0 and used.item() == 1
    assert fitted_two_code_map(0.5).transport(
        torch.tensor([[0.49], [0.51]])
    ).flatten().tolist() == [
        0.0,
        1.0,
    ]


def test_generator_before_fit_is_one_clear_error():
    with pytest.raises(ConfigError, match="not fitted; call fit"):
        SemiDiscreteMap().sample(3)
    with pytest.raises(ConfigError, match=r"angle_threshold must be in \[0, pi\]"):
        SemiDiscreteMap(4.0)


def test_grid25_generator_captures_every_mode_without_mixing_them():
    # Acceptance: the OT generator on grid25 itself (identity autoencoder), toy metrics of 2,500
    # samples: 25/25 modes, high-quality fraction > 0.95.
    codes = sample_toy("grid25", 1000, torch.Generator().manual_seed(0))
    ot_map = SemiDiscreteMap()
    result = ot_map.fit(codes, max_steps=100, seed=0)
    samples = ot_map.sample(2500, generator=torch.Generator().manual_seed(1))
    metrics = mode_metrics(samples, toy_modes("grid25"), TOY_STD["grid25"])
    ot_map.angle_threshold = math.pi  # every neighbour mixed: Algorithm 2 without its test
    mixed = mode_metrics(
        ot_map.sample(2500, generator=torch.Generator().manual_seed(1)),
        toy_modes("grid25"),
        TOY_STD["grid25"],
    )
    print(f"{result.steps} steps, {result.seconds:.0f} s: {metrics}; all mixed {mixed}")
    assert metrics["modes"] == 25 and metrics["high_quality"] > 0.95
    assert mixed["high_quality"] < metrics["high_quality"] - 0.2


# -- the module -----------------------------------------------------------------------------------


def small_aeot(**kwargs) -> AEOT:
    return AEOT(
        ConvEncoder(8, widths=(16, 32, 64, 128)), ConvDecoder(8, widths=(128, 64, 32)), **kwargs
    )


def test_aeot_fits_its_map_at_the_end_of_training_and_round_trips_it(mnist, tmp_path):
    torch.manual_seed(0)
    model = small_aeot(max_generator_steps=5)
    with pytest.raises(ConfigError, match="not fitted"):
        model.sample(2)
    fit_ot = FitOT(max_codes=300, solver={"max_steps": 30})
    grid = SampleGrid(num_samples=4, every_n_generator_steps=1)  # waits for the map
    quiet_trainer(default_root_dir=tmp_path, callbacks=[fit_ot, grid]).fit(model, mnist)
    assert fit_ot.path.exists() and model.ot_map.codes.shape == (300, 8)
    assert [p.name for p in tmp_path.rglob("step_*.png")] == ["step_000005.png"]  # the end only
    samples = model.sample(6, seed=0)
    assert samples.shape == (6, 1, 28, 28) and samples.abs().max() <= 1
    state = torch.load(fit_ot.path, weights_only=True)
    fresh = small_aeot()
    fresh.load_state_dict(state["state_dict"])
    torch.testing.assert_close(fresh.sample(6, seed=0), samples)
    torch.testing.assert_close(fresh.ot_map.centroids, model.ot_map.centroids, equal_nan=True)


def wgen_fit_aeot(data_dir, tmp_path, *callbacks: str) -> Path:
    """``wgen fit`` of configs/aeot/mnist.yaml, 3 steps, small widths; the checkpoint's path."""
    wgen([
        "fit",
        "--config", "configs/aeot/mnist.yaml",
        f"--data.init_args.data_dir={data_dir}",
        "--data.init_args.download=false",
        "--data.init_args.batch_size=20",
        "--data.init_args.num_workers=0",
        "--model.init_args.max_generator_steps=3",
        "--model.init_args.encoder.init_args.widths=[8,8,8,8]",
        "--model.init_args.decoder.init_args.widths=[8,8,8]",
        f"--trainer.callbacks=[{','.join(callbacks)}]",
        "--trainer.enable_progress_bar=false",
        f"--trainer.logger.init_args.save_dir={tmp_path}",
    ])  # fmt: skip
    return tmp_path / "aeot_mnist" / "version_0" / "checkpoints" / "last.ckpt"


def test_config_fits_the_map_in_wgen_fit(mnist_dir, tmp_path):
    fit_ot = '{"class_path": "FitOT", "init_args": {"max_codes": 60, "solver": {"max_steps": 20}}}'
    ckpt = wgen_fit_aeot(mnist_dir, tmp_path, fit_ot)
    model = AEOT.load_from_checkpoint(ckpt.with_name("aeot.ckpt"), weights_only=True)
    assert model.ot_map.codes.shape == (60, 8) and model.sample(3, seed=0).shape == (3, 1, 28, 28)


def test_wgen_fit_ot_writes_a_new_checkpoint_and_never_overwrites(mnist_dir, tmp_path, capsys):
    ckpt = wgen_fit_aeot(mnist_dir, tmp_path)  # trained without FitOT: no map yet
    before = ckpt.read_bytes()
    assert not AEOT.load_from_checkpoint(ckpt, weights_only=True).can_sample
    args = ["fit-ot", "--ckpt", str(ckpt), "--data_dir", str(mnist_dir), "--max_codes", "80"]
    wgen([*args, "--target_error", "0.3"])
    out = ckpt.with_name(f"{ckpt.stem}-ot.ckpt")
    assert f"wrote {out}" in capsys.readouterr().out
    model = AEOT.load_from_checkpoint(out, weights_only=True)
    assert model.ot_map.codes.shape == (80, 8) and model.sample(3, seed=0).shape == (3, 1, 28, 28)
    assert torch.load(out, weights_only=True)["wgen"]["ot"]["codes"] == 80
    assert ckpt.read_bytes() == before
    with pytest.raises(SystemExit) as exit_info:
        wgen(args)  # the output exists
    assert exit_info.value.code == (
        f"wgen: error: fit-ot does not overwrite files: {out} exists; pass another --out or "
        "move it."
    )
    assert torch.load(out, weights_only=True)["wgen"]["ot"]["codes"] == 80


def test_wgen_fit_ot_refuses_other_checkpoints_in_one_line(tmp_path):
    other = tmp_path / "wgan.ckpt"
    torch.save(
        {"state_dict": {}, "hyper_parameters": {"_class_path": "lightning_wgen.models.WGANGP"}},
        other,
    )
    with pytest.raises(SystemExit) as exit_info:
        wgen(["fit-ot", "--ckpt", str(other)])
    assert exit_info.value.code == (
        f"wgen: error: fit-ot needs an AEOT checkpoint, {other} holds "
        "lightning_wgen.models.WGANGP; train one with configs/aeot/*.yaml."
    )
    with pytest.raises(SystemExit, match="is not a file"):
        wgen(["fit-ot", "--ckpt", str(tmp_path / "missing.ckpt")])
