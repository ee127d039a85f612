"""The zoo's table and pictures, from checkpoints/manifest.json and the published files.

For each model: 64 samples (seed 0) in ``docs/figures/zoo/<name>.png`` (a scatter over true
samples for 2D data) and, for MNIST models, the share of 10,000 samples (seed 0) that the
shipped ``mnist`` classifier puts in each digit class, so that "all ten classes" is a number.
The table goes between the markers of README.md and docs/zoo.md::

    python benchmarks/zoo_cards.py
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from common import rewrite_table

from lightning_wgen.zoo import Manifest, load_pretrained

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "figures" / "zoo"
RESULTS = ROOT / "benchmarks" / "results" / "zoo_classes.json"
BEGIN, END = "<!-- zoo table begin -->", "<!-- zoo table end -->"
RECIPES = "<!-- zoo recipes begin -->", "<!-- zoo recipes end -->"


@torch.no_grad()
def class_shares(model, n: int = 10_000) -> list[float]:
    """Share of ``n`` samples (seed 0) in each class of the shipped ``mnist`` classifier."""
    from lightning_wgen.metrics import load_domain_extractor, metric_images

    classifier = load_domain_extractor("mnist")
    counts = torch.zeros(10)
    for images in model.sample_batches(n, seed=0, batch_size=500):
        logits = classifier(metric_images(images.float()))[1]
        counts += torch.bincount(logits.argmax(dim=1), minlength=10).float()
    return (counts / n).tolist()


def picture(name: str, model, entry: dict) -> None:
    FIGURES.mkdir(parents=True, exist_ok=True)
    if entry["resolution"] == "2-d points":
        from lightning_wgen.callbacks.toy import save_scatter
        from lightning_wgen.data import ToyDataModule

        real = ToyDataModule(entry["dataset"]).sample(2500, seed=1)
        save_scatter(FIGURES / f"{name}.png", model.sample(2500, seed=0), real, name)
        return
    from PIL import Image

    from lightning_wgen.callbacks.samples import sample_grid

    Image.fromarray(sample_grid(model.sample(64, seed=0), nrow=8)).save(FIGURES / f"{name}.png")


def row(name: str, entry: dict, shares: list[float] | None) -> str:
    metrics, reference = entry["metrics"], entry["reference"]

    def value(key: str, fmt: str, scale: float = 1.0) -> str:
        m = metrics[key]
        return f"{scale * m['mean']:{fmt}} ± {scale * m['std']:{fmt}}"

    if "fid_mnist" in metrics:
        quality = (
            f"FID {value('fid_mnist', '.2f')} (train vs test {reference['fid_mnist']:.3f}); "
            f"KID x10^3 {value('kid_mnist', '.1f', 1e3)}; IS {value('is_mnist', '.2f')} "
            f"(test images {reference['is_mnist']:.2f})"
        )
    else:
        quality = (
            f"modes {value('modes', '.1f')} / 25, high quality {value('high_quality', '.3f')}, "
            f"W1 {value('w1_exact', '.3f')} (true vs true {reference['w1_exact']:.3f})"
        )
    classes = f"{100 * min(shares):.1f} %" if shares else "-"
    minutes = entry["training"]["seconds"] / 60
    return (
        f"| `{name}` | {entry['family']} | {entry['resolution']} | {quality} | {classes} | "
        f"{entry['training']['generator_steps']:,} steps, {minutes:.0f} min | "
        f"{entry['size'] / 1e6:.1f} MB |"
    )


def recipe(name: str, entry: dict) -> str:
    training = entry["training"]
    return (
        f"| `{name}` | `{training['command']}` | {training['generator_steps']:,} | "
        f"{training['seconds']:.0f} s | {training['machine']} |"
    )


def main() -> None:
    manifest = Manifest.read()
    lines = [
        "| name | family | resolution | metrics (mean ± std over seeds 0, 1, 2) | smallest "
        "digit class | training (1 CPU thread) | file |",
        "|---|---|---|---|---|---|---|",
    ]
    recipes = ["| name | command | generator steps | seconds | machine |", "|---|---|---|---|---|"]
    records = {}
    for name in manifest.names():
        entry = manifest.entry(name).to_dict()
        model = load_pretrained(name)
        picture(name, model, entry)
        shares = class_shares(model) if entry["dataset"] == "mnist" else None
        records[name] = shares
        lines.append(row(name, entry, shares))
        recipes.append(recipe(name, entry))
    RESULTS.write_text(json.dumps(records, indent=1) + "\n")
    for doc in (ROOT / "README.md", ROOT / "docs" / "zoo.md"):
        rewrite_table(doc, BEGIN, END, "\n".join(lines))
    rewrite_table(ROOT / "docs" / "zoo.md", *RECIPES, "\n".join(recipes))


if __name__ == "__main__":
    main()
