"""Reference rows: FID and KID between real data sets, on the shipped domain extractors.

    python -m lightning_wgen.metrics.reference --data_dir data

prints a Markdown table. A generator that matched MNIST perfectly would score like the
train-vs-test row; one that drew Fashion-MNIST instead of digits like the cross row.
"""

from __future__ import annotations

import argparse

from lightning_wgen.data import FashionMNISTDataModule, MNISTDataModule
from lightning_wgen.metrics.features import load_domain_extractor
from lightning_wgen.metrics.images import ImageQuality

DATA = {"mnist": MNISTDataModule, "fashion_mnist": FashionMNISTDataModule}
# (data set, split, count) against (data set, split, count); Fashion-MNIST's count is capped by
# the data present (1,000 per split in the offline subset).
PAIRS = [
    (("mnist", "train", 10_000), ("mnist", "test", 10_000)),
    (("fashion_mnist", "train", 1000), ("fashion_mnist", "test", 1000)),
    (("mnist", "test", 1000), ("fashion_mnist", "test", 1000)),
]


def reference_rows(data_dir: str, extractors=("mnist", "fashion_mnist"), seed: int = 0):
    modules = {name: cls(data_dir, num_workers=0, download=False) for name, cls in DATA.items()}
    rows = []
    for extractor_name in extractors:
        extractor = load_domain_extractor(extractor_name)
        for (name_a, split_a, n_a), (name_b, split_b, n_b) in PAIRS:
            quality = ImageQuality(extractor, ["fid", "kid"])
            real = modules[name_a].reference_images(n_a, split=split_a, seed=seed)
            quality.set_real_features(quality.features(real))
            for batch in modules[name_b].reference_images(n_b, split=split_b, seed=seed):
                quality.update_fake(batch)
            values = quality.compute(seed)
            rows.append((extractor_name, f"{name_a} {split_a} ({n_a})",
                         f"{name_b} {split_b} ({n_b})", values))  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", default="data")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print("| extractor | real | compared with | FID | KID (x 10^3) |\n|---|---|---|---|---|")
    for extractor, a, b, values in reference_rows(args.data_dir, seed=args.seed):
        fid, kid = values[f"fid_{extractor}"], values[f"kid_{extractor}"]
        kid_std = values[f"kid_{extractor}_std"]
        print(f"| {extractor} | {a} | {b} | {fid:.3f} | {1e3 * kid:.2f} ± {1e3 * kid_std:.2f} |")


if __name__ == "__main__":
    main()
