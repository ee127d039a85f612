"""Every adversarial family on the 25-Gaussian grid at one budget (docs/toy_benchmark.md).

Each row trains ``configs/<family>/toy.yaml`` (3x256 MLPs, 2-d noise, batch 256, 2,000 generator
steps) for every seed, then measures 2,500 samples against the grid (VEEGAN/PacGAN protocol:
modes captured, high-quality fraction, plus the exact W1 to 2,500 real samples)::

    python benchmarks/toy_grid.py                  # all rows, seeds 0 1 2, two worker processes
    python benchmarks/toy_grid.py --rows gan wgan_gp --seeds 0

Results go to ``benchmarks/results/toy_grid.json`` (one record per run, merged with earlier runs)
and the table between the markers of ``docs/toy_benchmark.md`` is rewritten from all records.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from common import bare_trainer, merge_records, rewrite_table, spread

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "toy_grid.json"
DOC = ROOT / "docs" / "toy_benchmark.md"
BEGIN, END = "<!-- toy_grid table begin -->", "<!-- toy_grid table end -->"

# row name -> (config, extra command-line overrides)
ROWS: dict[str, tuple[str, list[str]]] = {
    "wgan": ("wgan", []),
    "wgan_gp": ("wgan_gp", []),
    "wgan_lp": ("wgan_gp", ["--model.init_args.one_sided=true"]),
    "wgan_div": ("wgan_div", []),
    "wgan_sn": ("wgan_sn", []),
    "sngan": ("sngan", []),
    "dragan": ("dragan", []),
    "gan": ("gan", []),
    "cramer_gan": ("cramer_gan", []),
    "lsgan": ("lsgan", []),
    "began": ("began", []),
    "wgan_qc": ("wgan_qc", []),
    "ali": ("ali", []),
    **{
        f"fgan_{d}": ("fgan", [f"--model.init_args.divergence={d}"])
        for d in ("jensen_shannon", "kl", "reverse_kl", "pearson", "squared_hellinger", "gan")
    },
}


def run_one(row: str, seed: int) -> dict:
    """Train one row for one seed; the record of its metrics."""
    import torch

    from lightning_wgen.callbacks import evaluate_toy
    from lightning_wgen.cli import build_from_config
    from lightning_wgen.errors import TrainingDivergedError

    torch.set_num_threads(1)
    config, overrides = ROWS[row]
    path = ROOT / "configs" / config / "toy.yaml"
    model, data = build_from_config(
        path, *overrides, f"--seed_everything={seed}", f"--data.init_args.seed={seed}"
    )
    trainer = bare_trainer()
    start = time.perf_counter()
    record = {"row": row, "seed": seed, "family": type(model).__name__, "n_critic": model.n_critic}
    try:
        trainer.fit(model, data)
        metrics, _, _ = evaluate_toy(model, data, num_samples=2500, seed=0)
        record.update(
            modes=metrics["modes"],
            high_quality=metrics["high_quality"],
            w1_exact=metrics["w1_exact"],
            diverged=False,
        )
    except TrainingDivergedError as err:
        record.update(modes=0, high_quality=0.0, w1_exact=float("nan"), diverged=str(err))
    record.update(generator_steps=model.generator_steps, seconds=time.perf_counter() - start)
    return record


def table(records: list[dict]) -> str:
    lines = [
        "| row | family | n_critic | seeds | modes (of 25) | high quality (%) | exact W1 | "
        "diverged | s / run |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in ROWS:
        runs = [r for r in records if r["row"] == row]
        if not runs:
            continue
        ok = [r for r in runs if not r["diverged"]]
        lines.append(
            f"| {row} | {runs[0]['family']} | {runs[0]['n_critic']} | "
            f"{','.join(str(r['seed']) for r in sorted(runs, key=lambda r: r['seed']))} | "
            f"{spread([r['modes'] for r in ok], '.1f')} | "
            f"{spread([100 * r['high_quality'] for r in ok], '.1f')} | "
            f"{spread([r['w1_exact'] for r in ok], '.3f')} | "
            f"{len(runs) - len(ok)} of {len(runs)} | "
            f"{statistics.fmean(r['seconds'] for r in runs):.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="*", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (one thread each)")
    args = parser.parse_args()

    jobs = [(row, seed) for row in args.rows for seed in args.seeds]
    new = []
    with ProcessPoolExecutor(args.jobs) as pool:
        for record in pool.map(run_one, *zip(*jobs, strict=True)):
            print(json.dumps(record), flush=True)
            new.append(record)
    rewrite_table(DOC, BEGIN, END, table(merge_records(RESULTS, new)))


if __name__ == "__main__":
    main()
