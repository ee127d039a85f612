"""The zoo's tables and pictures, from checkpoints/manifest.json and the published files.

For each model: 64 samples (seed 0) in ``docs/figures/zoo/<name>.png`` (a scatter over true
samples for 2D data) and, for MNIST models, the share of 10,000 samples (seed 0) that the
shipped ``mnist`` classifier puts in each digit class, so that "all ten classes" is a number,
and ``<name>-nearest.png``: 12 samples (seed 0), each beside its three nearest training images
(pixel distance, all 60,000), to see copying. The zoo table and the Inception table (the
entries' ``inception`` metrics beside the published rows) go between the markers of README.md
and docs/zoo.md::

    python benchmarks/zoo_cards.py --data_dir ../shared/data
"""

from __future__ import annotations

import argparse
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
INCEPTION = "<!-- inception table begin -->", "<!-- inception table end -->"
FAMILY_TABLE = "<!-- family table begin -->", "<!-- family table end -->"
# The published row (benchmarks/inception_fid.py's PUBLISHED) each family corresponds to.
PUBLISHED_NAMES = {
    "GAN": "NS GAN",
    "LSGAN": "LSGAN",
    "WGAN": "WGAN",
    "BEGAN": "BEGAN",
    "VAE": "VAE",
    "AEOT": "AE-OT",
}
SOURCE = "Lucic et al. 2018; An et al. 2020"
NO_MNIST_ROW = "none on MNIST (the WAE paper's FIDs are CelebA's)"
NEAREST = 3


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


@torch.no_grad()
def nearest_picture(name: str, model, train: torch.Tensor, n: int = 12) -> None:
    """``n`` samples (seed 0), each followed by its ``NEAREST`` nearest training images."""
    from PIL import Image

    from lightning_wgen.callbacks.samples import sample_grid

    samples = model.sample(n, seed=0).float().cpu()
    distances = torch.cdist(samples.flatten(1), train.flatten(1))
    nearest = distances.topk(NEAREST, largest=False).indices
    rows = [torch.cat([samples[i : i + 1], train[nearest[i]]]) for i in range(n)]
    grid = sample_grid(torch.cat(rows), nrow=NEAREST + 1)
    Image.fromarray(grid).save(FIGURES / f"{name}-nearest.png")


@torch.no_grad()
def latent_mmd(model, test: list[torch.Tensor]) -> tuple[float, float] | None:
    """For an autoencoder: the IMQ MMD to the prior (seed 0) of one code ``z ~ Q(Z|x)`` per
    ``test`` image (the aggregate posterior), and of the deterministic codes, as the autoencoder
    benchmark measures them (:func:`~lightning_wgen.metrics.evaluate_autoencoder`); else None."""
    from lightning_wgen.metrics import evaluate_autoencoder

    if not (hasattr(model, "encode") and hasattr(model, "decode")):  # ALI has no decode
        return None
    result = evaluate_autoencoder(model, test, mmd_codes=2000, seed=0)
    return result["posterior_mmd"], result["latent_mmd"]


def mnist_test_subset(data_dir: str) -> list[torch.Tensor]:
    """2,000 MNIST test images (the subset of seed 0), in batches of 500."""
    from lightning_wgen.data import MNISTDataModule

    data = MNISTDataModule(data_dir=data_dir, download=False)
    data.setup("test")
    return list(data.reference_images(2000, batch_size=500))


def mnist_training_images(data_dir: str) -> torch.Tensor:
    from lightning_wgen.data import MNISTDataModule

    data = MNISTDataModule(data_dir=data_dir, download=False)
    data.setup("fit")
    total = data.split_size("train")
    return torch.cat(list(data.reference_images(total, split="train", batch_size=5000, seed=0)))


def inception_rows(manifest: Manifest) -> list[str]:
    """Our MNIST models' Inception metrics (seed 0), real data, and the published rows."""
    from inception_fid import PUBLISHED

    lines = [
        "| model | Inception FID | precision | recall | density | coverage | C_T |",
        "|---|---|---|---|---|---|---|",
    ]
    reference = None
    for name in manifest.names():
        block = manifest.entry(name).inception
        if not block:
            continue
        m, reference = block["metrics"], block["reference"]
        values = " | ".join(
            f"{m[k]['mean']:.3f}" for k in ("precision", "recall", "density", "coverage")
        )
        lines.append(
            f"| `{name}` | **{m['fid']['mean']:.1f}** | {values} | {m['c_t']['mean']:.2f} |"
        )
    if reference is not None:
        values = " | ".join(
            f"{reference[k]:.3f}" for k in ("precision", "recall", "density", "coverage")
        )
        lines.append(f"| MNIST training images (10,000) | {reference['fid']:.2f} | {values} | - |")
    for model, fid in PUBLISHED.items():
        lines.append(f"| {model} ({SOURCE}) | {fid} | - | - | - | - | - |")
    return lines


def family_rows(manifest: Manifest, latent: dict[str, tuple[float, float] | None]) -> list[str]:
    """One row per family (``configs/<family>/``): its MNIST zoo entry at the zoo's budget for
    its kind, the entry's FID on the shipped classifier and Inception FID, the latent MMDs of
    its sampled and deterministic test codes (``latent``, by name, for the autoencoders), and
    the published row it corresponds to."""
    import yaml
    from inception_fid import PUBLISHED

    entries = {}
    for name in manifest.names():
        entry = manifest.entry(name).to_dict()
        if entry["dataset"] != "mnist":
            continue
        entries.setdefault(entry["family"], []).append((name, entry))
    lines = [
        "| family | MNIST zoo entry | budget | FID_mnist (seeds 0-2) | Inception FID | "
        "latent MMD, sampled codes | latent MMD, deterministic codes | published Inception FID |",
        "|---|---|---|---|---|---|---|---|",
    ]
    folders = (ROOT / "configs").iterdir()  # configs/cpu/ is WGAN-GP's CPU recipe, not a family
    for folder in sorted(p for p in folders if p.name != "cpu" and (p / "mnist.yaml").exists()):
        config = yaml.safe_load((folder / "mnist.yaml").read_text())
        family = config["model"]["class_path"].rsplit(".", 1)[1]
        label = PUBLISHED_NAMES.get(family)
        published = f"{label} {PUBLISHED[label]} ({SOURCE})" if label else "-"
        published = NO_MNIST_ROW if family in ("WAEMMD", "WAEGAN") else published
        for name, entry in entries.get(family, [(None, None)]):
            if name is None:
                lines.append(f"| {family} | not trained yet | - | - | - | - | - | {published} |")
                continue
            fid = entry["metrics"]["fid_mnist"]
            block = entry.get("inception") or {}
            inception = f"{block['metrics']['fid']['mean']:.1f}" if block else "-"
            mmds = latent.get(name) or ("-", "-")
            mmd = " | ".join(m if m == "-" else f"{m:.4f}" for m in mmds)
            # WGAN-LP is WGAN-GP's class with the one-sided penalty (Petzka et al. 2018)
            label = (
                f"{family} (one-sided penalty: WGAN-LP)"
                if entry["config"].get("one_sided")
                else family
            )
            lines.append(
                f"| {label} | `{name}` | {entry['training']['generator_steps']:,} steps | "
                f"{fid['mean']:.2f} ± {fid['std']:.2f} | {inception} | {mmd} | {published} |"
            )
    return lines


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
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_dir", default="data", help="MNIST, for the nearest images")
    args = parser.parse_args()
    manifest = Manifest.read()
    train = test = None
    lines = [
        "| name | family | resolution | metrics (mean ± std over seeds 0, 1, 2) | smallest "
        "digit class | training (CPU clock) | file |",
        "|---|---|---|---|---|---|---|",
    ]
    recipes = ["| name | command | generator steps | seconds | machine |", "|---|---|---|---|---|"]
    records, latent = {}, {}
    for name in manifest.names():
        entry = manifest.entry(name).to_dict()
        model = load_pretrained(name)
        picture(name, model, entry)
        shares = None
        if entry["dataset"] == "mnist":
            shares = class_shares(model)
            if train is None:
                train, test = mnist_training_images(args.data_dir), mnist_test_subset(args.data_dir)
            nearest_picture(name, model, train)
            latent[name] = latent_mmd(model, test)
        records[name] = shares
        lines.append(row(name, entry, shares))
        recipes.append(recipe(name, entry))
    RESULTS.write_text(json.dumps(records, indent=1) + "\n")
    for doc in (ROOT / "README.md", ROOT / "docs" / "zoo.md"):
        rewrite_table(doc, BEGIN, END, "\n".join(lines))
    rewrite_table(ROOT / "docs" / "zoo.md", *RECIPES, "\n".join(recipes))
    for doc in ("README.md", "docs/zoo.md", "docs/evaluation.md"):
        rewrite_table(ROOT / doc, *INCEPTION, "\n".join(inception_rows(manifest)))
    rewrite_table(ROOT / "docs" / "zoo.md", *FAMILY_TABLE, "\n".join(family_rows(manifest, latent)))


if __name__ == "__main__":
    main()
