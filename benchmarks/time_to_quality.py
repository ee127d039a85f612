"""MNIST generators for a fixed CPU wall-clock budget, side by side: FID after 2, 4 and 8 minutes.

    python benchmarks/time_to_quality.py --data_dir ../shared/data \\
        [--recipes cpu zoo plain --seeds 0 1 2 --minutes 2 4 8 --threads 2 --inception]

Runs, one after the other in one process on the same data and ``--threads`` CPU threads:

- ``cpu``: our CPU recipe, ``configs/cpu/mnist.yaml``;
- ``zoo``: our GPU-oriented zoo recipe, ``configs/zoo/wgan_gp_mnist.yaml`` (half-width DCGAN,
  EMA 0.999), at a constant learning rate;
- ``plain``: a plain PyTorch WGAN-GP loop written here with the textbook hyperparameters of the
  widely used single-file scripts: MLP generator 100-128-256-512-1024-784 (batch norm, LeakyReLU
  0.2, tanh), MLP critic 784-512-256-1 (LeakyReLU 0.2), Adam 2e-4 (0.5, 0.999), n_critic 5,
  batch 64, lambda 10, no EMA. It reads the same MNIST batches (``MNISTDataModule``).

At each of ``--minutes`` of training (evaluation time is not counted) FID_mnist is measured with
the shipped ``mnist`` extractor, 10,000 generated images (what ``wgen sample`` draws: the EMA
generator when the recipe keeps one; ``fid_mnist_raw`` is the raw generator) against the 10,000
test images; with ``--inception`` also the Inception FID at the last time (about 30 min per
evaluation on 2 CPU cores). Records go to ``benchmarks/results/time_to_quality.json``, the curve to
``docs/figures/time_to_quality.png`` and the table between the markers of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import lightning as L
import torch
from common import bare_trainer, plain_gradient_penalty, rewrite_table
from torch import nn

from lightning_wgen.cli import build_from_config
from lightning_wgen.data import MNISTDataModule
from lightning_wgen.data.images import images_of
from lightning_wgen.metrics.features import feature_extractor
from lightning_wgen.metrics.images import ImageQuality, evaluate_images, real_features

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    "cpu": ROOT / "configs" / "cpu" / "mnist.yaml",
    "zoo": ROOT / "configs" / "zoo" / "wgan_gp_mnist.yaml",
}
RESULTS = ROOT / "benchmarks" / "results" / "time_to_quality.json"
FIGURE = ROOT / "docs" / "figures" / "time_to_quality.png"
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- time to quality table begin -->", "<!-- time to quality table end -->"
LABELS = {"cpu": "CPU recipe", "zoo": "zoo recipe", "plain": "plain PyTorch script"}


class Judge:
    """FID_mnist (and optionally Inception FID) of 10,000 samples against the test images."""

    def __init__(self, data: MNISTDataModule, num_samples: int, inception: bool) -> None:
        self.num_samples = num_samples
        self.qualities = {"mnist": ImageQuality(feature_extractor("mnist"), metrics=["fid"])}
        if inception:
            self.qualities["inception"] = ImageQuality(feature_extractor("inception"), ["fid"])
        for quality in self.qualities.values():
            quality.set_real_features(real_features(quality, data, num_images=num_samples))

    def __call__(self, sampler, inception: bool) -> dict[str, float]:
        values = evaluate_images(sampler, self.qualities["mnist"], num_samples=self.num_samples)
        if getattr(sampler, "generator_ema", None) is not None:
            raw = evaluate_images(
                RawGenerator(sampler), self.qualities["mnist"], num_samples=self.num_samples
            )
            values["fid_mnist_raw"] = raw["fid_mnist"]
        if inception and "inception" in self.qualities:
            quality = self.qualities["inception"]
            values.update(evaluate_images(sampler, quality, num_samples=self.num_samples))
        return values


class Clock:
    """Training seconds (evaluations excluded); calls ``measure`` at each of ``marks`` seconds."""

    def __init__(self, marks: list[float], measure) -> None:
        self.marks, self.measure = marks, measure
        self.seconds, self.since = 0.0, time.perf_counter()
        self.records: list[dict] = []

    def tick(self, generator_steps: int) -> bool:
        """Called after each generator step; False once the last mark is measured."""
        now = time.perf_counter()
        self.seconds += now - self.since
        if self.seconds >= self.marks[len(self.records)]:
            record = {"seconds": self.seconds, "generator_steps": generator_steps}
            record.update(self.measure(last=len(self.records) == len(self.marks) - 1))
            self.records.append(record)
            print(json.dumps(record), flush=True)
        self.since = time.perf_counter()
        return len(self.records) < len(self.marks)


class Sampler:
    """``sample_batches`` of a plain generator (eval mode, no grad), as ``evaluate_images`` asks."""

    def __init__(self, generator: nn.Module, latent_dim: int) -> None:
        self.generator, self.latent_dim = generator, latent_dim

    @torch.no_grad()
    def sample_batches(self, n: int, seed: int = 0, batch_size: int = 250):
        was_training = self.generator.training
        self.generator.eval()
        noise = torch.Generator().manual_seed(seed)
        for start in range(0, n, batch_size):
            z = torch.randn(min(batch_size, n - start), self.latent_dim, generator=noise)
            yield self.generator(z)
        self.generator.train(was_training)


class RawGenerator:
    """Our module's ``sample_batches`` without its EMA (``fid_mnist_raw``)."""

    def __init__(self, model: L.LightningModule) -> None:
        self.model = model

    def sample_batches(self, n: int, seed: int = 0, batch_size: int = 250):
        return self.model.sample_batches(n, seed=seed, batch_size=batch_size, ema=False)


class ClockCallback(L.Callback):
    """Ticks ``clock`` after each generator step of our module; stops after the last mark."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def on_train_start(self, trainer, pl_module):
        self.clock.since = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        just_stepped = pl_module.critic_steps_in_cycle == 0 and pl_module.generator_steps > 0
        if just_stepped and not self.clock.tick(pl_module.generator_steps):
            trainer.should_stop = True


def run_ours(
    recipe: str, seed: int, data_dir: str, marks: list[float], judge: Judge, extra: list[str]
) -> list:
    overrides = [f"--data.init_args.data_dir={data_dir}", f"--seed_everything={seed}", *extra]
    if recipe == "zoo":  # the zoo decays its rates to zero over 20,000 steps; keep them constant
        overrides += ["--model.init_args.lr_decay=constant"]
    model, data = build_from_config(CONFIGS[recipe], *overrides)
    clock = Clock(marks, lambda last: judge(model, last))
    trainer = bare_trainer()
    trainer.callbacks.append(ClockCallback(clock))
    trainer.fit(model, data)
    return clock.records


def plain_networks(latent_dim: int = 100) -> tuple[nn.Module, nn.Module]:
    def block(n_in: int, n_out: int, batch_norm: bool) -> list[nn.Module]:
        norm = [nn.BatchNorm1d(n_out)] if batch_norm else []
        return [nn.Linear(n_in, n_out), *norm, nn.LeakyReLU(0.2)]

    generator = nn.Sequential(
        *block(latent_dim, 128, False),
        *block(128, 256, True),
        *block(256, 512, True),
        *block(512, 1024, True),
        nn.Linear(1024, 784),
        nn.Tanh(),
        nn.Unflatten(1, (1, 28, 28)),
    )
    critic = nn.Sequential(
        nn.Flatten(), *block(784, 512, False), *block(512, 256, False), nn.Linear(256, 1)
    )
    return generator, critic


def run_plain(seed: int, data_dir: str, marks: list[float], judge: Judge) -> list:
    torch.manual_seed(seed)
    data = MNISTDataModule(data_dir=data_dir, batch_size=64, download=False, num_workers=0)
    data.setup("fit")
    generator, critic = plain_networks()
    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_c = torch.optim.Adam(critic.parameters(), lr=2e-4, betas=(0.5, 0.999))
    sampler = Sampler(generator, 100)
    clock = Clock(marks, lambda last: judge(sampler, last))
    steps = 0
    while True:
        for i, real in enumerate(data.train_dataloader()):
            real = images_of(real)
            fake = generator(torch.randn(real.shape[0], 100))
            loss_c = critic(fake.detach()).mean() - critic(real).mean()
            loss_c = loss_c + 10.0 * plain_gradient_penalty(critic, real, fake.detach())
            opt_c.zero_grad()
            loss_c.backward()
            opt_c.step()
            if i % 5 == 4:
                loss_g = -critic(generator(torch.randn(real.shape[0], 100))).mean()
                opt_g.zero_grad()
                loss_g.backward()
                opt_g.step()
                steps += 1
                if not clock.tick(steps):
                    return clock.records


def draw_curves(records: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.5), dpi=120)
    for recipe, label in LABELS.items():
        rows = [r for r in records if r["recipe"] == recipe]
        for seed in sorted({r["seed"] for r in rows}):
            mine = [r for r in rows if r["seed"] == seed]
            ax.plot(
                [r["seconds"] / 60 for r in mine],
                [r["fid_mnist"] for r in mine],
                "o-",
                color={"cpu": "C0", "zoo": "C1", "plain": "C2"}[recipe],
                label=label if seed == min(r["seed"] for r in rows) else None,
                alpha=0.8,
            )
    ax.set_xlabel("training time on 2 CPU cores (min)")
    ax.set_ylabel("FID_mnist (10k vs 10k test)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("WGAN-GP on MNIST: time to quality")
    fig.tight_layout()
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURE)


def table(records: list[dict], marks: list[float]) -> str:
    head = "| recipe | seed | " + " | ".join(f"{m:g} min" for m in marks) + " |"
    rows = [head, "|---|---|" + "---|" * len(marks)]
    for recipe, label in LABELS.items():
        mine = [r for r in records if r["recipe"] == recipe]
        for seed in sorted({r["seed"] for r in mine}):
            cells = [
                f"{r['fid_mnist']:.2f} ({r['generator_steps']:,} steps)"
                for r in mine
                if r["seed"] == seed
            ]
            rows.append(f"| {label} | {seed} | " + " | ".join(cells) + " |")
        if len({r["seed"] for r in mine}) > 1:
            means = [
                statistics.mean(r["fid_mnist"] for r in mine if r["minutes"] == m) for m in marks
            ]
            rows.append(f"| {label} | mean | " + " | ".join(f"{v:.2f}" for v in means) + " |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", default="../shared/data")
    parser.add_argument("--recipes", nargs="+", default=["cpu", "zoo", "plain"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--minutes", nargs="+", type=float, default=[2.0, 4.0, 8.0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--inception", action="store_true")
    parser.add_argument("--out", default=str(RESULTS))
    # anything else (--model.init_args.n_critic=2, ...) overrides the CPU recipe, to try variants
    args, cpu_overrides = parser.parse_known_args()
    torch.set_num_threads(args.threads)
    data = MNISTDataModule(data_dir=args.data_dir, download=False, num_workers=0)
    judge = Judge(data, args.samples, args.inception)
    marks = [60 * m for m in args.minutes]
    records = []
    for seed in args.seeds:
        for recipe in args.recipes:
            if recipe == "plain":
                found = run_plain(seed, args.data_dir, marks, judge)
            else:
                extra = cpu_overrides if recipe == "cpu" else []
                found = run_ours(recipe, seed, args.data_dir, marks, judge, extra)
            for minutes, record in zip(args.minutes, found, strict=True):
                records.append({"recipe": recipe, "seed": seed, "minutes": minutes, **record})
    command = (
        f"python benchmarks/time_to_quality.py --data_dir {args.data_dir} --recipes "
        f"{' '.join(args.recipes)} --seeds {' '.join(map(str, args.seeds))} --minutes "
        f"{' '.join(f'{m:g}' for m in args.minutes)} --threads {args.threads}"
        + (" --inception" if args.inception else "")
        + "".join(f" {o}" for o in cpu_overrides)
    )
    out = Path(args.out)
    # runs of other recipes or seeds already in the file stay (with their own commands)
    earlier = json.loads(out.read_text()) if out.is_file() else {"records": [], "commands": []}
    ran = {(r["recipe"], r["seed"]) for r in records}
    kept = [r for r in earlier["records"] if (r["recipe"], r["seed"]) not in ran]
    records = sorted(kept + records, key=lambda r: (r["seed"], r["recipe"], r["minutes"]))
    commands = [c for c in earlier.get("commands", []) if c != command] + [command]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"records": records, "commands": commands}, indent=1) + "\n")
    if out == RESULTS:
        draw_curves(records)
        rewrite_table(DOC, BEGIN, END, table(records, args.minutes) + "\n\n" + "; ".join(commands))
    else:
        print(table(records, args.minutes))


if __name__ == "__main__":
    main()
