"""Inception FID and the fidelity metrics of the MNIST zoo models, from the features that
``benchmarks/inception_features.py`` wrote, beside the published rows (Lucic et al. 2018's
protocol: 10,000 samples against the 10,000 test images, grayscale to RGB, bilinear to 299).

For each published MNIST model whose 40 chunks of features are there: what ``wgen zoo publish
--inception`` measures (``lightning_wgen.zoo.evaluation.feature_metrics``: FID, precision and
recall with k = 3, density and coverage with k = 5, C_T in 20 cells of the 10,000 training
images), and for the table also the 1-NN accuracy against the test set, MiFID and NDB
(100 bins) against the training images. The reference row is the training images against the
test images. ``--write_manifest`` puts each model's values into its manifest entry
(``inception``), as ``publish --inception`` would have::

    python benchmarks/inception_fid.py --data_dir ../shared/data --features /work/cache/inception
    python benchmarks/inception_fid.py --data_dir ../shared/data --write_manifest
    python benchmarks/inception_fid.py --data_dir ../shared/data --write_manifest \
        --models lsgan-mnist ali-mnist  # only these entries: the others stay as they are

Results go to ``benchmarks/results/inception_fid_mnist.json`` (merged by model with the rows
already there); the table is printed.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch
from inception_features import BATCH, MODELS, NUM, folder_name
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "inception_fid_mnist.json"
COMMAND = (
    "python benchmarks/inception_features.py --data_dir DATA && "
    "python benchmarks/inception_fid.py --data_dir DATA --write_manifest"
)
# Inception FID on MNIST under the same protocol, as the AE-OT paper (An et al. 2020) lists them
# from Lucic et al. 2018 (mean ± std over runs where given; LSGAN's and BEGAN's spread from
# Lucic et al. 2018 as issue 30 quotes it).
PUBLISHED = {
    "NS GAN": "6.8 ± 0.5",
    "LSGAN": "7.8 ± 0.6",
    "WGAN": "6.7 ± 0.4",
    "BEGAN": "13.1 ± 1.0",
    "VAE": "23.8 ± 0.6",
    "GLANN": "8.6",
    "AE-OT": "6.2 ± 0.2",
}


def stored(folder: Path) -> torch.Tensor | None:
    files = sorted(folder.glob("*.safetensors"))
    if len(files) < NUM // BATCH:
        return None
    return torch.cat([load_file(str(f))["features"] for f in files])


def main() -> None:
    from lightning_wgen.data import MNISTDataModule
    from lightning_wgen.metrics import fidelity
    from lightning_wgen.zoo import Manifest
    from lightning_wgen.zoo.evaluation import feature_metrics, inception_protocol, summary

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_dir", default="data", help="MNIST, for the protocol's counts")
    parser.add_argument("--features", default=str(Path.home() / ".cache/lightning_wgen/inception"))
    parser.add_argument("--write_manifest", action="store_true")
    parser.add_argument("--models", nargs="*", default=MODELS, choices=MODELS, metavar="NAME")
    args = parser.parse_args()
    folder = Path(args.features)
    test, train = stored(folder / "test"), stored(folder / "train")
    if test is None or train is None:
        raise SystemExit(
            f"the test and training images' features are not complete in {folder}: run "
            "benchmarks/inception_features.py first."
        )
    data = MNISTDataModule(args.data_dir, download=False)
    data.setup("fit")
    protocol = inception_protocol(data)
    timing = json.loads((folder / "timing.json").read_text())
    reference = feature_metrics(None, test, train, protocol)  # training images as the samples
    print("train vs test", json.dumps({k: round(v, 4) for k, v in reference.items()}))
    manifest = Manifest.read()
    rows = {}
    for name in args.models:
        source = folder_name(name)
        fake = stored(folder / source)
        if fake is None:
            print(f"{source}: features incomplete, skipped")
            continue
        row = feature_metrics(train, test, fake, protocol)
        extra = {
            "one_nn": fidelity.one_nn_accuracy(test, fake),
            "mifid": fidelity.memorization_informed_fid(train, fake),
            **fidelity.number_of_different_bins(train, fake),
        }
        seconds = sum(timing[source]) * BATCH / 10_000
        rows[source] = {**row, **extra, "feature_seconds": seconds}
        print(source, json.dumps({k: round(v, 4) for k, v in rows[source].items()}), flush=True)
        if args.write_manifest:
            entry = Manifest.read(manifest.path).entry(name)  # as it is now: others write too
            entry.inception = {
                "metrics": summary([row]),
                "reference": reference,
                "protocol": protocol,
                "measured": {
                    "command": COMMAND,
                    "seconds": seconds,
                    "machine": f"{platform.machine()}, 2 CPU cores, torch {torch.__version__}",
                },
            }
            manifest.save_entry(name, entry)
    if args.write_manifest:
        print(f"wrote the Inception metrics into {manifest.path}")
    earlier = json.loads(RESULTS.read_text())["models"] if RESULTS.exists() else {}
    current = {folder_name(name) for name in MODELS}  # rows of replaced files are dropped
    earlier = {source: row for source, row in earlier.items() if source in current}
    record = {
        "protocol": protocol,
        "reference": reference,
        "models": {**earlier, **rows},
        "published": PUBLISHED,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
