"""AE-OT's generator on grid25 and ring8 against our GAN and WGAN-GP (docs/aeot.md).

The mode-collapse comparison of An et al. (2020): the OT generator works on the data itself
(identity autoencoder: the codes are ``--codes`` training points; the solver stops after at
most 120 s, target 0.05), the GANs are
``configs/gan/toy.yaml`` and ``configs/wgan_gp/toy.yaml`` (3x256 MLPs, 2,000 generator steps)
with the data set swapped. Each model draws 2,500 samples (seed 0), measured with the toy metrics
(modes captured, high-quality fraction within 3 std, exact W1 to 2,500 real points). AE-OT
appears twice: with Algorithm 2's angle test (theta 0.05) and with every neighbour mixed
(theta = pi), which shows what the test is for::

    python benchmarks/aeot_toy.py                 # both data sets, seed 0

The figure goes to ``docs/figures/aeot_toy.png``, the records to
``benchmarks/results/aeot_toy.json`` and the table between the markers of ``docs/aeot.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from common import bare_trainer, merge_records, rewrite_table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "aeot_toy.json"
FIGURE = ROOT / "docs" / "figures" / "aeot_toy.png"
DOC = ROOT / "docs" / "aeot.md"
BEGIN, END = "<!-- aeot toy table begin -->", "<!-- aeot toy table end -->"
DATASETS = ("grid25", "ring8")
ROWS = ("gan", "wgan_gp", "aeot", "aeot_mixed")
TITLES = {
    "gan": "GAN",
    "wgan_gp": "WGAN-GP",
    "aeot": "AE-OT (theta 0.05)",
    "aeot_mixed": "AE-OT, all mixed (theta pi)",
}


def run_one(row: str, dataset: str, seed: int, codes: int) -> tuple[dict, list]:
    """One model on one data set: its record and its samples (a list, for the figure)."""
    import torch

    from lightning_wgen.cli import build_from_config
    from lightning_wgen.data.toy import TOY_STD, sample_toy, toy_modes
    from lightning_wgen.metrics.ot import exact_w1
    from lightning_wgen.metrics.toy import mode_metrics
    from lightning_wgen.ot import SemiDiscreteMap

    torch.set_num_threads(1)
    start = time.perf_counter()
    record = {"row": f"{row} {dataset}", "seed": seed, "model": row, "dataset": dataset}
    if row.startswith("aeot"):
        data = sample_toy(dataset, codes, torch.Generator().manual_seed(seed))
        ot_map = SemiDiscreteMap(math.pi if row == "aeot_mixed" else 0.05)
        result = ot_map.fit(data, target_error=0.05, max_seconds=120, seed=seed)
        samples = ot_map.sample(2500, generator=torch.Generator().manual_seed(0))
        record.update(codes=codes, ot_estimated_error=result.estimated_error)
    else:
        model, datamodule = build_from_config(
            ROOT / "configs" / row / "toy.yaml",
            f"--data.init_args.name={dataset}",
            f"--seed_everything={seed}",
            f"--data.init_args.seed={seed}",
        )
        bare_trainer().fit(model, datamodule)
        samples = model.sample(2500, seed=0).float().cpu()
        record.update(generator_steps=model.generator_steps)
    real = sample_toy(dataset, 2500, torch.Generator().manual_seed(1))
    record.update(mode_metrics(samples, toy_modes(dataset), TOY_STD[dataset]))
    record.update(w1_exact=exact_w1(samples, real), seconds=time.perf_counter() - start)
    return record, samples.tolist()


def figure(samples: dict[tuple[str, str], list]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from lightning_wgen.data.toy import sample_toy

    fig, axes = plt.subplots(
        len(DATASETS), len(ROWS), figsize=(3 * len(ROWS), 3 * len(DATASETS)), dpi=110
    )
    for i, dataset in enumerate(DATASETS):
        real = sample_toy(dataset, 2500, torch.Generator().manual_seed(1))
        for j, row in enumerate(ROWS):
            ax = axes[i, j]
            fake = torch.tensor(samples[(row, dataset)])
            ax.scatter(real[:, 0], real[:, 1], s=1, alpha=0.4, color="tab:blue")
            ax.scatter(fake[:, 0], fake[:, 1], s=1, alpha=0.4, color="tab:orange")
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{TITLES[row]}\n{dataset}", fontsize=8)
    fig.suptitle("2,500 samples (orange) over 2,500 real points (blue)", fontsize=9)
    fig.tight_layout()
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURE)
    plt.close(fig)
    print(f"wrote {FIGURE}")


def table(records: list[dict]) -> str:
    lines = [
        "| data | model | modes | high quality (%) | exact W1 | s |",
        "|---|---|---|---|---|---|",
    ]
    order = {(d, r): i for i, (d, r) in enumerate((d, r) for d in DATASETS for r in ROWS)}
    for r in sorted(records, key=lambda r: order[(r["dataset"], r["model"])]):
        lines.append(
            f"| {r['dataset']} | {TITLES[r['model']]} | {r['modes']} / {r['num_modes']} | "
            f"{100 * r['high_quality']:.1f} | {r['w1_exact']:.3f} | {r['seconds']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--codes", type=int, default=1000, help="data points AE-OT maps to")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (one thread each)")
    args = parser.parse_args()

    jobs = [(row, dataset) for dataset in DATASETS for row in ROWS]
    new, samples = [], {}
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = {job: pool.submit(run_one, *job, args.seed, args.codes) for job in jobs}
        for job, future in futures.items():
            record, samples[job] = future.result()
            print(json.dumps(record), flush=True)
            new.append(record)
    figure(samples)
    rewrite_table(DOC, BEGIN, END, table(merge_records(RESULTS, new)))


if __name__ == "__main__":
    main()
