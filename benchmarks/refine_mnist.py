"""Critic-guided sampling of the MNIST zoo GANs, measured with the domain (MNIST classifier)
features: FID, precision and recall (k = 3) of raw and refined samples, and the seconds each
method took, beside the cost per 10,000 samples.

    python benchmarks/refine_mnist.py --data_dir ../shared/data [--num_samples 2000]

The reference is the first 8,000 MNIST test images; DRS and MH calibrate the critic on the other
2,000 (held out from the reference). Samples are those of seed 0 (``model.sample(n, seed=0,
refine=...)``). Results go to ``benchmarks/results/refine_mnist.json``.

``--inception DIR`` adds the Lucic et al. 2018 protocol for the raw and DOT samples: the 10,000
samples of seed 0 against the 10,000 test images, Inception FID, precision, recall, density and
coverage from the features ``benchmarks/inception_features.py`` stored in ``DIR`` (sources
``test``, ``<model>`` and ``<model>:<method>``), and the same metrics in the domain features,
computed here on the same samples::

    python benchmarks/inception_features.py --data_dir DATA --out DIR \
        --sources test wgan-gp-mnist wgan-mnist wgan-gp-mnist:dot_latent wgan-mnist:dot_latent
    python benchmarks/refine_mnist.py --data_dir DATA --inception DIR --methods raw dot_latent
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from lightning_wgen.data import MNISTDataModule
from lightning_wgen.metrics import frechet_distance, load_domain_extractor, metric_images
from lightning_wgen.metrics.fidelity import density_coverage, precision_recall
from lightning_wgen.zoo import Manifest, load_pretrained

sys.path.insert(0, str(Path(__file__).resolve().parent))
from inception_features import folder_name  # noqa: E402
from inception_fid import stored  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "refine_mnist.json"
COLUMNS = ("fid", "precision", "recall", "density", "coverage")
METHODS = {"raw": (None, {}), "dot_latent": ("dot_latent", {}), "drs": ("drs", {}),
           "mh": ("mh", {}), "dot": ("dot", {})}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", default="data")
    parser.add_argument("--models", nargs="+", default=["wgan-gp-mnist", "wgan-mnist"])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--num_samples", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--inception", help="folder of stored Inception features (see above)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = MNISTDataModule(data_dir=args.data_dir, download=False)
    data.setup("fit")
    test = torch.cat(list(data.reference_images(10_000, split="test")))
    reference, held_out = test[:8000], test[8000:]
    extractor = load_domain_extractor("mnist")

    def features(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([extractor(metric_images(b))[0] for b in x.split(250)])

    real = features(reference)
    rows = []
    for name in args.models:
        model = load_pretrained(name, critic=True)
        for method in args.methods:
            refine, options = METHODS[method]
            if refine in ("drs", "mh"):
                options = {**options, "real": held_out}
            start = time.perf_counter()
            samples = model.sample(args.num_samples, seed=0, refine=refine, **options)
            seconds = time.perf_counter() - start
            fake = features(samples)
            row = {"model": name, "method": method, "fid_mnist": frechet_distance(real, fake),
                   **precision_recall(real, fake), "seconds": seconds,
                   "seconds_per_10000": seconds * 10_000 / args.num_samples}  # fmt: skip
            rows.append(row)
            print(json.dumps(row), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/refine_mnist.py --data_dir DATA"
    if args.methods != list(METHODS):
        command += " --methods " + " ".join(args.methods)
    if args.num_samples != 2000:
        command += f" --num_samples {args.num_samples}"
    record = {"rows": rows, "command": command}
    if args.inception:
        lucic = lucic_rows(args, test, features)
        record["lucic"] = {"rows": lucic, "command": command + " --inception DIR"}
    RESULTS.write_text(json.dumps(record, indent=1) + "\n")
    print("| model | method | FID (MNIST features) | precision | recall | s per 10,000 |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| `{r['model']}` | {r['method']} | {r['fid_mnist']:.2f} | {r['precision']:.3f} | "
              f"{r['recall']:.3f} | {r['seconds_per_10000']:.0f} |")  # fmt: skip
    if args.inception:
        print_lucic(lucic)


def lucic_rows(args, test: torch.Tensor, features) -> list[dict]:
    """Lucic et al.'s protocol for the raw and DOT rows: 10,000 samples of seed 0 against the
    10,000 test images, in the stored Inception features and in the domain features."""
    folder = Path(args.inception)
    inception_test = stored(folder / "test")
    if inception_test is None:
        raise SystemExit(f"the test images' Inception features are not complete in {folder}.")
    domain_test = features(test)
    rows = []
    for name in args.models:
        model = load_pretrained(name, critic=True)
        for method in args.methods:
            refine = METHODS[method][0]
            if refine in ("drs", "mh"):
                continue  # other samples than seed 0's: no stored features
            fake_inception = stored(folder / folder_name(f"{name}:{refine}" if refine else name))
            stated = Manifest.read().entry(name).inception if refine is None else None
            if fake_inception is None and not stated:
                print(f"{name} {method}: Inception features incomplete, skipped")
                continue
            samples = model.sample(10_000, seed=0, batch_size=250, refine=refine)
            row = {"model": name, "method": method}
            spaces = [("mnist", domain_test, features(samples))]
            if fake_inception is not None:
                spaces.append(("inception", inception_test, fake_inception))
            else:  # the raw samples' values the entry states, measured on the same samples
                metrics = stated["metrics"]
                row.update({f"{k}_inception": metrics[k]["mean"] for k in COLUMNS})
                row["inception_from"] = "the manifest entry"
            for prefix, real, fake in spaces:
                values = {"fid": frechet_distance(real, fake), **precision_recall(real, fake),
                          **density_coverage(real, fake)}  # fmt: skip
                row.update({f"{key}_{prefix}": value for key, value in values.items()})
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def print_lucic(rows: list[dict]) -> None:
    columns = COLUMNS
    print("| model | method | Inception: " + " | ".join(columns) + " | domain: "
          + " | ".join(columns) + " |")  # fmt: skip
    print("|---" * (2 + 2 * len(columns)) + "|")
    for r in rows:
        values = [f"{r[f'{c}_{space}']:.{2 if c == 'fid' else 3}f}"
                  for space in ("inception", "mnist") for c in columns]  # fmt: skip
        print(f"| `{r['model']}` | {r['method']} | " + " | ".join(values) + " |")


if __name__ == "__main__":
    main()
