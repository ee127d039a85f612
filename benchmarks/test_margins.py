"""How far the trained-threshold tests of the default suite clear their thresholds, over seeds.

A test that trains a model and asserts a threshold passes on one machine and may fail on another
(other CPU, other thread count, load): this script reruns each such test's training with seeds
0, 1, 2 (the test itself runs seed 0) and prints the measured values beside the thresholds::

    python benchmarks/test_margins.py --data_dir ../shared/data     # all, seeds 0 1 2
    python benchmarks/test_margins.py --only bf16 --seeds 0

The grid25 family tests (tests/test_train_grid25.py) are the rows of benchmarks/toy_grid.py.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

QUICKSTART = ROOT / "configs" / "quickstart.yaml"


def bf16(seed: int) -> str:
    # tests/test_mixed_precision.py::test_wgan_gp_learns_grid25_in_bf16_mixed
    from helpers import quiet_trainer
    from test_mixed_precision import BF16_RUN, LARGEST_W1, LEAST_MODES

    from lightning_wgen.callbacks import evaluate_toy
    from lightning_wgen.cli import build_from_config

    model, data = build_from_config(
        QUICKSTART,
        *BF16_RUN,
        f"--seed_everything={seed}",
        f"--data.init_args.seed={seed}",
    )
    with tempfile.TemporaryDirectory() as root:
        quiet_trainer(default_root_dir=root, precision="bf16-mixed").fit(model, data)
    after, _, _ = evaluate_toy(model, data)
    return (
        f"modes {after['modes']} (>= {LEAST_MODES}), exact W1 {after['w1_exact']:.3f} "
        f"(< {LARGEST_W1})"
    )


def wae_mmd(seed: int, data_dir: Path) -> str:
    # tests/test_autoencoders.py::test_wae_mmd_learns_to_reconstruct_mnist_and_matches_the_prior
    from helpers import quiet_trainer
    from test_autoencoders import build

    from lightning_wgen import MNISTDataModule
    from lightning_wgen.metrics import evaluate_autoencoder
    from lightning_wgen.models import WAEMMD

    data = MNISTDataModule(data_dir=data_dir, batch_size=100, num_workers=0, download=False)
    data.setup("fit")
    torch.manual_seed(seed)
    model = build(WAEMMD, max_generator_steps=200, reconstruction_weight=0.0125)
    batches = list(data.reference_images(2000, batch_size=500, seed=0))
    before = evaluate_autoencoder(model, batches)
    with tempfile.TemporaryDirectory() as root:
        quiet_trainer(default_root_dir=root).fit(model, data)
    after = evaluate_autoencoder(model, batches)
    rec = after["reconstruction"] / before["reconstruction"]
    mmd = after["latent_mmd"] / before["latent_mmd"]
    return f"reconstruction ratio {rec:.3f} (< 0.2), latent MMD ratio {mmd:.4f} (< 0.1)"


def aeot_grid(seed: int) -> str:
    # tests/test_aeot.py::test_grid25_generator_captures_every_mode_without_mixing_them
    from lightning_wgen.data.toy import TOY_STD, sample_toy, toy_modes
    from lightning_wgen.metrics.toy import mode_metrics
    from lightning_wgen.ot import SemiDiscreteMap

    codes = sample_toy("grid25", 1000, torch.Generator().manual_seed(seed))
    ot_map = SemiDiscreteMap()
    ot_map.fit(codes, max_steps=100, seed=seed)
    modes, std = toy_modes("grid25"), TOY_STD["grid25"]
    metrics = mode_metrics(
        ot_map.sample(2500, generator=torch.Generator().manual_seed(seed + 1)), modes, std
    )
    ot_map.angle_threshold = math.pi  # every neighbour mixed
    mixed = mode_metrics(
        ot_map.sample(2500, generator=torch.Generator().manual_seed(seed + 1)), modes, std
    )
    return (
        f"modes {metrics['modes']} (== 25), high quality {metrics['high_quality']:.3f} (> 0.95), "
        f"all mixed {mixed['high_quality']:.3f} (< {metrics['high_quality'] - 0.2:.3f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=["bf16", "wae_mmd", "aeot_grid"])
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--data_dir", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    runs = {"bf16": bf16, "wae_mmd": lambda s: wae_mmd(s, args.data_dir), "aeot_grid": aeot_grid}
    for name in args.only:
        for seed in args.seeds:
            start = time.perf_counter()
            result = runs[name](seed)
            print(f"{name} seed {seed}: {result} [{time.perf_counter() - start:.0f} s]", flush=True)


if __name__ == "__main__":
    main()
