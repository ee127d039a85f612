"""WGAN-GP on the real MNIST for a fixed wall-clock budget: domain FID against training time.

    python benchmarks/time_to_quality.py --data_dir ../shared/data [--minutes 30 --every 3]

Trains the zoo's CPU recipe (``configs/zoo/wgan_gp_mnist.yaml``: DCGAN networks at half width,
batch 64, n_critic 5, lambda 10, Adam 1e-4 (0, 0.9), EMA 0.999) at a constant learning rate, on
``--threads`` CPU threads (2: the development machine), and every ``--every`` minutes of training
measures FID with the shipped ``mnist`` extractor, 2,000 generated (EMA) against 2,000 test
images. The evaluations are not counted in the training clock. The run stops after
``--minutes`` of training. Records go to ``benchmarks/results/time_to_quality.json``, the curve to
``docs/figures/time_to_quality.png`` and the table between the markers of
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from common import bare_trainer, rewrite_table

from lightning_wgen.callbacks import ImageEvaluation
from lightning_wgen.cli import build_from_config

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "zoo" / "wgan_gp_mnist.yaml"
RESULTS = ROOT / "benchmarks" / "results" / "time_to_quality.json"
FIGURE = ROOT / "docs" / "figures" / "time_to_quality.png"
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- time to quality table begin -->", "<!-- time to quality table end -->"


class TimedEvaluation(ImageEvaluation):
    """FID every ``every_seconds`` of training (evaluation time excluded); stops the run after
    ``budget_seconds``. Each record holds the training seconds and generator steps."""

    def __init__(self, every_seconds: float, budget_seconds: float, **kwargs) -> None:
        super().__init__(feature_extractor="mnist", metrics=["fid"], **kwargs)
        self.every_seconds, self.budget_seconds = every_seconds, budget_seconds
        self.records: list[dict] = []
        self._clock = 0.0
        self._since = None

    def on_train_start(self, trainer, pl_module):
        self._since = time.perf_counter()
        self._measure(trainer, pl_module)  # the untrained generator, at 0 s

    def _measure(self, trainer, pl_module):
        if self._since is not None:
            self._clock += time.perf_counter() - self._since
        values = self.evaluate(trainer, pl_module)
        record = {"seconds": self._clock, "generator_steps": pl_module.generator_steps, **values}
        self.records.append(record)
        print(json.dumps(record), flush=True)
        self._since = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        elapsed = self._clock + time.perf_counter() - self._since
        if elapsed >= self.every_seconds * len(self.records):
            self._measure(trainer, pl_module)
            if self._clock >= self.budget_seconds:
                trainer.should_stop = True

    def on_train_end(self, trainer, pl_module):
        pass


def draw_curve(records: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=120)
    ax.plot([r["seconds"] / 60 for r in records], [r["fid_mnist"] for r in records], "o-")
    ax.set_xlabel("training time on 2 CPU cores (min)")
    ax.set_ylabel("FID (mnist extractor)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.set_title("WGAN-GP on MNIST: time to quality")
    fig.tight_layout()
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", default="../shared/data")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--every", type=float, default=3.0, help="minutes between evaluations")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, data = build_from_config(
        CONFIG,
        f"--data.init_args.data_dir={args.data_dir}",
        "--model.init_args.lr_decay=constant",
        "--model.init_args.max_generator_steps=1000000",
    )
    evaluation = TimedEvaluation(
        every_seconds=60 * args.every,
        budget_seconds=60 * args.minutes,
        num_samples=args.samples,
        num_real=args.samples,
    )
    trainer = bare_trainer()
    trainer.callbacks.append(evaluation)
    trainer.fit(model, data)
    records = evaluation.records
    command = (
        f"python benchmarks/time_to_quality.py --data_dir {args.data_dir} --minutes "
        f"{args.minutes:g} --every {args.every:g} --threads {args.threads}"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"records": records, "command": command}, indent=1) + "\n")
    draw_curve(records)
    rows = ["| training time | generator steps | FID (mnist, 2k vs 2k) |", "|---|---|---|"]
    rows += [
        f"| {r['seconds'] / 60:.1f} min | {r['generator_steps']:,} | {r['fid_mnist']:.2f} |"
        for r in records
    ]
    rewrite_table(DOC, BEGIN, END, "\n".join(rows))


if __name__ == "__main__":
    main()
