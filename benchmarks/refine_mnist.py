"""Critic-guided sampling of the MNIST zoo GANs, measured with the domain (MNIST classifier)
features: FID, precision and recall (k = 3) of raw and refined samples, and the seconds each
method took, beside the cost per 10,000 samples.

    python benchmarks/refine_mnist.py --data_dir ../shared/data [--num_samples 2000]

The reference is the first 8,000 MNIST test images; DRS and MH calibrate the critic on the other
2,000 (held out from the reference). Samples are those of seed 0 (``model.sample(n, seed=0,
refine=...)``). Results go to ``benchmarks/results/refine_mnist.json``. The Inception rows
(Lucic protocol) are measured with ``benchmarks/inception_features.py``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from lightning_wgen.data import MNISTDataModule
from lightning_wgen.metrics import frechet_distance, load_domain_extractor, metric_images
from lightning_wgen.metrics.fidelity import precision_recall
from lightning_wgen.zoo import load_pretrained

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "refine_mnist.json"
METHODS = {"raw": (None, {}), "dot_latent": ("dot_latent", {}), "drs": ("drs", {}),
           "mh": ("mh", {}), "dot": ("dot", {})}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", default="data")
    parser.add_argument("--models", nargs="+", default=["wgan-gp-mnist", "wgan-mnist"])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--num_samples", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
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
    RESULTS.write_text(json.dumps({"rows": rows, "command": command}, indent=1) + "\n")
    print("| model | method | FID (MNIST features) | precision | recall | s per 10,000 |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| `{r['model']}` | {r['method']} | {r['fid_mnist']:.2f} | {r['precision']:.3f} | "
              f"{r['recall']:.3f} | {r['seconds_per_10000']:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
