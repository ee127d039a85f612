"""The autoencoder families and AE-OT on the real MNIST at one budget (docs/autoencoders.md).

Each row trains ``configs/<family>/mnist.yaml`` with every network width divided by ``--shrink``
(8: encoder 16-32-64-128, decoder 128-64-32, discriminator 4x64) for ``--steps`` decoder steps
at batch 100, then measures on the 10,000 test images: the reconstruction cost
``E ||x - G(E(x))||^2`` (pixels in [-1, 1], summed over the 784 pixels), the IMQ MMD between
2,000 test codes and 2,000 prior samples, and FID/KID against the test set with the shipped
``mnist`` extractor (10,000 samples, seed 0; docs/evaluation.md). The AE-OT row trains its
reconstruction-only autoencoder the same way, then fits its OT map to ``--ot_codes`` training
codes (target error 0.1, as its configs' FitOT) and records the share of its samples that mix
two or more codes; ``--ot_thetas`` repeats that and the FID for other angle thresholds on the
same map. Seed 0 of each row leaves 64 samples in
``docs/figures/mnist_samples_<row>.png``::

    python benchmarks/autoencoders_mnist.py --data_dir ../shared/data      # all rows, seeds 0 1 2
    python benchmarks/autoencoders_mnist.py --data_dir data --rows vae wae_mmd --steps 500

Results go to ``benchmarks/results/autoencoders_mnist.json`` (merged with earlier runs by row and
seed) and the table between the markers of ``docs/autoencoders.md`` is rewritten from them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from common import bare_trainer, merge_records, rewrite_table, spread

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "autoencoders_mnist.json"
DOC = ROOT / "docs" / "autoencoders.md"
BEGIN, END = "<!-- autoencoders table begin -->", "<!-- autoencoders table end -->"
ROWS = ("vae", "aae", "wae_mmd", "wae_gan", "avb", "aeot")
FIGURES = ROOT / "docs" / "figures"


def shrunk(widths: list[int], shrink: int) -> str:
    return "[" + ",".join(str(max(1, w // shrink)) for w in widths) + "]"


def run_one(
    row: str,
    seed: int,
    steps: int,
    shrink: int,
    data_dir: str,
    threads: int,
    ot_codes: int,
    ot_thetas: list[float],
) -> dict:
    """Train one row for one seed; the record of its metrics."""
    import torch

    from lightning_wgen.cli import build_from_config
    from lightning_wgen.metrics import (
        ImageQuality,
        evaluate_autoencoder,
        evaluate_images,
        feature_extractor,
        real_features,
    )

    torch.set_num_threads(threads)
    overrides = [
        f"--data.init_args.data_dir={data_dir}",
        "--data.init_args.download=false",
        "--data.init_args.num_workers=0",
        f"--seed_everything={seed}",
        f"--data.init_args.seed={seed}",
        f"--model.init_args.max_generator_steps={steps}",
        f"--model.init_args.decoder.init_args.widths={shrunk([1024, 512, 256], shrink)}",
    ]
    trunk = f"widths={shrunk([128, 256, 512, 1024], shrink)}"
    if row == "avb":  # the implicit encoder and the adversary each have a convolutional trunk
        overrides += [
            f"--model.init_args.{net}.init_args.{arg}"
            for net in ("encoder", "discriminator")
            for arg in (f"trunk.init_args.{trunk}", f"trunk.init_args.latent_dim={512 // shrink}",
                        f"hidden_features={512 // shrink}")
        ]  # fmt: skip
    else:
        overrides.append(f"--model.init_args.encoder.init_args.{trunk}")
    if row in ("aae", "wae_gan"):
        overrides.append(
            f"--model.init_args.discriminator.init_args.hidden_features={512 // shrink}"
        )
    model, data = build_from_config(ROOT / "configs" / row / "mnist.yaml", *overrides)
    trainer = bare_trainer()
    start = time.perf_counter()
    trainer.fit(model, data)
    seconds = time.perf_counter() - start
    record = {"row": row, "seed": seed, "family": type(model).__name__, "steps": steps}
    if row == "aeot":  # what the config's FitOT callback does at the end of `wgen fit`
        result = model.fit_ot(data.train_dataloader(), max_codes=ot_codes, target_error=0.1)
        record.update(ot_codes=ot_codes, ot_seconds=result.seconds, ot_error=result.estimated_error)
        record.update(ot_mixed=mixed_share(model.ot_map))
    test = data.reference_images(data.split_size("test"), batch_size=500)
    record.update(shrink=shrink, parameters=sum(p.numel() for p in model.parameters()))
    record.update(evaluate_autoencoder(model, test, mmd_codes=2000, seed=seed))
    quality = ImageQuality(feature_extractor("mnist"), ("fid", "kid"))
    quality.set_real_features(real_features(quality, data, num_images=10_000))
    record.update(evaluate_images(model, quality, num_samples=10_000, seed=0))
    record.update(seconds=seconds)
    if seed == 0:
        from PIL import Image

        from lightning_wgen.callbacks.samples import sample_grid

        FIGURES.mkdir(parents=True, exist_ok=True)
        grid = sample_grid(model.sample(64, seed=0).float().cpu(), nrow=8)
        Image.fromarray(grid).save(FIGURES / f"mnist_samples_{row}.png")
    if row == "aeot" and ot_thetas:  # Algorithm 2's angle threshold on the same map
        record["theta_sweep"] = []
        for theta in ot_thetas:
            model.ot_map.angle_threshold = theta
            mixed = mixed_share(model.ot_map)
            fid = evaluate_images(model, quality, num_samples=10_000, seed=0)["fid_mnist"]
            record["theta_sweep"].append({"theta": theta, "ot_mixed": mixed, "fid_mnist": fid})
    return record


def mixed_share(ot_map, samples: int = 10_000) -> float:
    """The share of an AE-OT map's samples (seed 0) that mix two or more codes; the others
    decode one training code unchanged."""
    import torch

    x = torch.rand(samples, ot_map.latent_dim, generator=torch.Generator().manual_seed(0))
    return float((ot_map.generate(x)[1] >= 2).double().mean())


def latent_mmd(runs: list[dict]) -> str:
    """The latent MMD to ``N(0, I)``; none for AE-OT, which samples its own codes' measure."""
    if runs[0]["row"] == "aeot":
        return "- (no prior)"
    return spread([r["latent_mmd"] for r in runs], ".4f")


def table(records: list[dict]) -> str:
    lines = [
        "| family | seeds | steps | parameters | reconstruction | latent MMD | FID (mnist) | "
        "KID x 10^3 (mnist) | s / run |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in ROWS:
        runs = sorted((r for r in records if r["row"] == row), key=lambda r: r["seed"])
        if not runs:
            continue
        lines.append(
            f"| {runs[0]['family']} | {','.join(str(r['seed']) for r in runs)} | "
            f"{runs[0]['steps']} | {runs[0]['parameters']:,} | "
            f"{spread([r['reconstruction'] for r in runs], '.1f')} | "
            f"{latent_mmd(runs)} | "
            f"{spread([r['fid_mnist'] for r in runs], '.2f')} | "
            f"{spread([1000 * r['kid_mnist'] for r in runs], '.0f')} | "
            f"{statistics.fmean(r['seconds'] for r in runs):.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", default="data")
    parser.add_argument("--rows", nargs="*", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--shrink", type=int, default=8)
    parser.add_argument("--ot_codes", type=int, default=2000, help="training codes AE-OT maps")
    parser.add_argument(
        "--ot_thetas", nargs="*", type=float, default=[], help="AE-OT angle thresholds to sweep"
    )
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    args = parser.parse_args()

    jobs = [(row, seed) for row in args.rows for seed in args.seeds]
    data_dir = str(Path(args.data_dir).resolve())
    fixed = (args.steps, args.shrink, data_dir, args.threads, args.ot_codes, args.ot_thetas)
    records = merge_records(RESULTS, [])
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(run_one, row, seed, *fixed) for row, seed in jobs]
        for future in as_completed(futures):  # each record kept as soon as its run ends
            record = future.result()
            print(json.dumps(record), flush=True)
            records = merge_records(RESULTS, [record])
    rewrite_table(DOC, BEGIN, END, table(records))


if __name__ == "__main__":
    main()
