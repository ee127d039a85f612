"""Inception FID and the fidelity metrics of the MNIST zoo models, from the features that
``benchmarks/inception_features.py`` wrote, beside the published rows (Lucic et al. 2018's
protocol: 10,000 samples against the 10,000 test images, grayscale to RGB, bilinear to 299).

For each model with all 40 chunks of features: FID against the test set, precision and recall
(k = 3), density and coverage (k = 5), the 1-NN accuracy against the test set, and, when the
10,000 training images' features are there too, C_T (20 cells), MiFID and NDB (100 bins)
against them::

    python benchmarks/inception_fid.py                      # features in the default folder
    python benchmarks/inception_fid.py --features /work/cache/inception

Results go to ``benchmarks/results/inception_fid_mnist.json``; the table is printed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from inception_features import BATCH, MODELS, NUM
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "inception_fid_mnist.json"
# Inception FID on MNIST under the same protocol, as the AE-OT paper (An et al. 2020) lists them
# from Lucic et al. 2018 (mean ± std over runs where given).
PUBLISHED = {
    "NS GAN": "6.8 ± 0.5",
    "LSGAN": "7.8",
    "WGAN": "6.7 ± 0.4",
    "BEGAN": "13.1",
    "VAE": "23.8 ± 0.6",
    "GLANN": "8.6",
    "AE-OT": "6.2 ± 0.2",
}


def stored(folder: Path, source: str) -> torch.Tensor | None:
    files = sorted((folder / source).glob("*.safetensors"))
    if len(files) < NUM // BATCH:
        return None
    return torch.cat([load_file(str(f))["features"] for f in files])


def main() -> None:
    from lightning_wgen.metrics import fidelity, frechet_distance

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--features", default=str(Path.home() / ".cache/lightning_wgen/inception"))
    args = parser.parse_args()
    folder = Path(args.features)
    test, train = stored(folder, "test"), stored(folder, "train")
    if test is None:
        raise SystemExit(
            f"the test images' features are not complete in {folder}: run "
            "benchmarks/inception_features.py first."
        )
    rows = {}
    for name in MODELS:
        fake = stored(folder, name)
        if fake is None:
            print(f"{name}: features incomplete, skipped")
            continue
        row = {"fid": frechet_distance(test, fake), **fidelity.precision_recall(test, fake)}
        row.update(
            fidelity.density_coverage(test, fake), one_nn=fidelity.one_nn_accuracy(test, fake)
        )
        if train is not None:
            row.update(
                fidelity.copying_test(train, test, fake),
                mifid=fidelity.memorization_informed_fid(train, fake),
            )
            row.update(fidelity.number_of_different_bins(train, fake))
        rows[name] = row
        print(name, json.dumps({k: round(v, 4) for k, v in row.items()}), flush=True)
    record = {
        "protocol": "Lucic et al. 2018, 10k vs 10k test, TF-FID Inception",
        "models": rows,
        "published": PUBLISHED,
    }
    if train is not None:
        record["train_vs_test_fid"] = frechet_distance(test, train)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
