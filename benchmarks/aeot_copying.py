"""Does AE-OT copy? The zoo's ``ae-ot-mnist`` map, judged by the data-copying test C_T for each
angle threshold of docs/aeot.md's sweep (issue: AE-OT's sampler judged by copying, not FID).

The map holds the codes of 2,000 training images. They are found again by encoding all 60,000
training images with the model's encoder and taking, for each code, the image whose code is
nearest (the script reports the largest such distance: 0 up to rounding means the very image).
Then, on the shipped ``mnist`` extractor's features, for each ``theta``: C_T (Meehan et al.
2020, 20 k-means cells) of 10,000 samples (seed 0) against those 2,000 training images with the
10,000 test images as held-out data; the same behind the decoder (``c_t_decoded``: the decoded
training codes against the test images' reconstructions, so that a sample that decodes a
training code unchanged counts as a copy); the share of samples that mix two or more codes;
precision, recall, density and coverage against the test images; and FID_mnist::

    python benchmarks/aeot_copying.py --data_dir ../shared/data
    python benchmarks/aeot_copying.py --data_dir data --thetas 0.05 0.1

Results go to ``benchmarks/results/aeot_copying.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "aeot_copying.json"
THETAS = (0.05, 0.1, 0.2, 0.4, 3.1416)


def main() -> None:
    from lightning_wgen.data import MNISTDataModule
    from lightning_wgen.metrics import frechet_distance, load_domain_extractor, metric_images
    from lightning_wgen.metrics.fidelity import copying_test, density_coverage, precision_recall
    from lightning_wgen.zoo import load_pretrained

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_dir", default="data")
    parser.add_argument("--thetas", type=float, nargs="+", default=list(THETAS))
    parser.add_argument("--num_samples", type=int, default=10_000)
    args = parser.parse_args()

    model = load_pretrained("ae-ot-mnist").eval()
    extractor = load_domain_extractor("mnist")
    data = MNISTDataModule(data_dir=args.data_dir, download=False)
    data.setup("fit")

    def features(batches) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([extractor(metric_images(b))[0] for b in batches])

    train = torch.cat(list(data.reference_images(60_000, split="train", batch_size=1000)))
    with torch.no_grad():
        codes = torch.cat([model.encoder(b) for b in train.split(1000)])
    fitted = model.ot_map.codes
    gap, index = torch.cdist(fitted, codes).min(dim=1)
    seen = features(train[index].split(1000))
    test_images = torch.cat(list(data.reference_images(10_000, split="test", batch_size=1000)))
    test = features(test_images.split(1000))
    # The same comparison behind the decoder: the decoded training codes against the
    # reconstructions of the test images, so that a sample replaying a code counts as a copy.
    with torch.no_grad():
        seen_decoded = features(model.decoder(fitted).clamp(-1, 1).split(1000))
        rebuilt = torch.cat([model.decoder(model.encoder(b)) for b in test_images.split(1000)])
    test_rebuilt = features(rebuilt.clamp(-1, 1).split(1000))
    record = {
        "model": "ae-ot-mnist",
        "codes": len(fitted),
        "largest_code_to_image_gap": float(gap.max()),
        "reference_c_t": copying_test(seen, test[0::2], test[1::2])["c_t"],  # test vs test
        "reference_c_t_decoded": copying_test(seen_decoded, test_rebuilt[0::2], test_rebuilt[1::2])[
            "c_t"
        ],
        "thetas": [],
    }
    source = torch.rand(
        args.num_samples, model.ot_map.latent_dim, generator=torch.Generator().manual_seed(0)
    )
    for theta in args.thetas:
        start = time.perf_counter()
        model.ot_map.angle_threshold = theta
        new_codes, mixed = model.ot_map.generate(source)
        with torch.no_grad():
            images = torch.cat([model.decoder(c) for c in new_codes.split(1000)]).clamp(-1, 1)
        fake = features(images.split(1000))
        row = {
            "theta": theta,
            "mixed": float((mixed >= 2).double().mean()),
            **copying_test(seen, test, fake),
            "c_t_decoded": copying_test(seen_decoded, test_rebuilt, fake)["c_t"],
            **precision_recall(test, fake),
            **density_coverage(test, fake),
            "fid_mnist": frechet_distance(test, fake),
            "seconds": time.perf_counter() - start,
        }
        record["thetas"].append(row)
        print(json.dumps(row), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=1) + "\n")
    print(f"largest code-to-image gap {record['largest_code_to_image_gap']:.2e}; wrote {RESULTS}")


if __name__ == "__main__":
    main()
