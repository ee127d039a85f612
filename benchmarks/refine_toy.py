"""Critic-guided sampling on the 25-Gaussian grid: raw samples against DOT (data and latent
space), DRS and MH-GAN, from trained WGAN-GP runs (docs/refine.md).

Each run is a ``wgen fit`` checkpoint (``--checkpoints``), or the quickstart recipe trained here
for each of ``--seeds``. For every method, 2,500 samples of seed 0 are measured against the grid
(VEEGAN/PacGAN protocol: modes captured, high-quality fraction; exact W1 to 2,500 real points of
seed 1); DRS and MH calibrate on, and MH starts from, 2,500 other real points (seed 7)::

    python benchmarks/refine_toy.py --seeds 0 1 2
    python benchmarks/refine_toy.py --checkpoints runs/*/version_0/checkpoints/last.ckpt

Results go to ``benchmarks/results/refine_toy.json`` (merged by run and method) and the table
between the markers of ``docs/refine.md``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from common import bare_trainer, merge_records, rewrite_table, spread

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "refine_toy.json"
DOC = ROOT / "docs" / "refine.md"
BEGIN, END = "<!-- refine_toy table begin -->", "<!-- refine_toy table end -->"
# name -> (method, options); "raw" is the generator's own samples
METHODS = {
    "raw": (None, {}),
    "dot": ("dot", {}),
    "dot, K_eff x 0.6": ("dot", {"k_eff_scale": 0.6}),
    "dot_latent": ("dot_latent", {}),
    "drs": ("drs", {}),
    "mh": ("mh", {}),
}
SAMPLES = 2500


def trained_runs(args: argparse.Namespace):
    """``(name, seed, model)`` for every checkpoint given, or every seed trained here."""
    from lightning_wgen.cli import build_from_config
    from lightning_wgen.loading import load_model

    for index, path in enumerate(args.checkpoints):
        yield Path(path).parent.parent.parent.name, index, load_model(path)
    for seed in args.seeds if not args.checkpoints else []:
        model, data = build_from_config(
            args.config, f"--seed_everything={seed}", f"--data.init_args.seed={seed}"
        )
        bare_trainer().fit(model, data)
        yield Path(args.config).stem, seed, model.eval()


def measure(model, method: str, data, real_eval, real_held_out) -> dict:
    import torch

    from lightning_wgen.metrics import exact_w1, mode_metrics

    start = time.perf_counter()
    refine, options = METHODS[method]
    if refine is not None:
        options = {"refine": refine, "real": real_held_out, **options}
    samples = model.sample(SAMPLES, seed=0, **options).float().cpu()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        return {
            **mode_metrics(samples, data.modes, data.std),
            "w1_exact": exact_w1(samples, real_eval),
            "seconds_per_10k": seconds * 10_000 / SAMPLES,
        }


def table(records: list[dict]) -> str:
    lines = [
        "| recipe | method | runs | modes (of 25) | high quality (%) | exact W1 | "
        "s / 10,000 samples |",
        "|---|---|---|---|---|---|---|",
    ]
    for recipe in sorted({r["recipe"] for r in records}):
        for method in METHODS:
            runs = [r for r in records if r["method"] == method and r["recipe"] == recipe]
            if runs:
                lines.append(
                    f"| {recipe} | {method} | {len(runs)} | "
                    f"{spread([r['modes'] for r in runs], '.1f')} | "
                    f"{spread([100 * r['high_quality'] for r in runs], '.1f')} | "
                    f"{spread([r['w1_exact'] for r in runs], '.3f')} | "
                    f"{spread([r['seconds_per_10k'] for r in runs], '.1f')} |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", nargs="*", default=[])
    parser.add_argument("--config", default=str(ROOT / "configs" / "quickstart.yaml"))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--methods", nargs="*", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--recipe", default="quickstart", help="the runs' label in the table")
    args = parser.parse_args()

    from lightning_wgen.data import ToyDataModule

    data = ToyDataModule(name="grid25")
    real_eval, real_held_out = data.sample(SAMPLES, seed=1), data.sample(SAMPLES, seed=7)
    new = []
    for name, seed, model in trained_runs(args):
        for method in args.methods:
            row = f"{args.recipe} {name} {method}"
            record = {
                "row": row,
                "recipe": args.recipe,
                "run": name,
                "seed": seed,
                "method": method,
            }
            record.update(measure(model, method, data, real_eval, real_held_out))
            print(json.dumps(record), flush=True)
            new.append(record)
    rewrite_table(DOC, BEGIN, END, table(merge_records(RESULTS, new)))


if __name__ == "__main__":
    main()
