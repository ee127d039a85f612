"""Inception features of MNIST and of the MNIST zoo models, under Lucic et al.'s protocol.

10,000 samples of seed 0 of each model (``sample_batches`` in batches of 250, as
``evaluate_images``) and the 10,000 MNIST test images (and, for the copy test, 10,000 training
images drawn with seed 0), each turned into the TF-FID Inception's 2048 pool3 features:
grayscale repeated to RGB, TF1 bilinear resize to 299 (``InceptionFeatures``). The network runs
in channels-last memory layout (features within 1e-5 of the default layout). Features are
written in chunks of 250 images to ``--out/<folder>/<index>.safetensors`` (``test``, ``train``,
or ``<name>-<sha256[:8]>`` of a model's published file), so a stopped run resumes where it
stopped and a republished model is measured afresh; ``benchmarks/inception_fid.py`` computes
the metrics from them::

    python benchmarks/inception_features.py --data_dir ../shared/data            # everything
    python benchmarks/inception_features.py --data_dir data --sources test wgan-gp-mnist
    python benchmarks/inception_features.py --sources wgan-gp-mnist:dot_latent  # refined

A source ``<model>:<method>`` is the same 10,000 samples refined by the model's published
critic (``model.sample(10_000, seed=0, refine=method)``, DOT only: DRS and MH draw other
samples), in ``<name>-<sha256[:8]>-<method>``; ``benchmarks/refine_mnist.py --inception``
reads them.

It prints the seconds per 10,000 images of each chunk and writes them to ``timing.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from safetensors.torch import save

from lightning_wgen.checkpoint_io import atomic_write
from lightning_wgen.metrics import InceptionFeatures, metric_images
from lightning_wgen.zoo import Manifest

MANIFEST = Manifest.read()  # every published MNIST model, variants (fgan-mnist-hellinger) too
MODELS = tuple(name for name in MANIFEST.names() if MANIFEST.entry(name).dataset == "mnist")
SOURCES = ("test", *MODELS, "train")
NUM, BATCH, PIECE = 10_000, 250, 50


def batches(source: str, data_dir: str):
    if source in ("test", "train"):
        from lightning_wgen.data import MNISTDataModule

        data = MNISTDataModule(data_dir=data_dir, download=False)
        data.setup("fit")
        return data.reference_images(NUM, split=source, batch_size=BATCH, seed=0)
    from lightning_wgen.zoo import load_pretrained

    name, _, method = source.partition(":")
    if method:
        model = load_pretrained(name, critic=True)
        return model.sample(NUM, seed=0, batch_size=BATCH, refine=method).split(BATCH)
    return load_pretrained(name).sample_batches(NUM, seed=0, batch_size=BATCH)


def folder_name(source: str) -> str:
    """``test``/``train``, or the model's name with its file's sha256 prefix (and the
    refinement method of a ``<model>:<method>`` source)."""
    if source in ("test", "train"):
        return source
    from lightning_wgen.zoo import Manifest

    name, _, method = source.partition(":")
    folder = f"{name}-{Manifest.read().entry(name).sha256[:8]}"
    return f"{folder}-{method}" if method else folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_dir", default="data")
    parser.add_argument("--sources", nargs="+", default=list(SOURCES))
    parser.add_argument("--out", default=str(Path.home() / ".cache/lightning_wgen/inception"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    extractor = InceptionFeatures().to(memory_format=torch.channels_last)
    timing_path = Path(args.out) / "timing.json"
    for source in args.sources:
        folder = Path(args.out) / folder_name(source)
        folder.mkdir(parents=True, exist_ok=True)
        for index, images in enumerate(batches(source, args.data_dir)):
            path = folder / f"{index:03d}.safetensors"
            if path.is_file():
                continue
            start = time.perf_counter()
            with torch.no_grad():
                pixels = metric_images(images.float())
                features = torch.cat([extractor(p)[0] for p in pixels.split(PIECE)])
            seconds = time.perf_counter() - start
            atomic_write(path, save({"features": features.contiguous()}))
            per_10k = seconds / len(images) * 10_000
            # read again before each write: another run may be filling the same folder
            timing = json.loads(timing_path.read_text()) if timing_path.is_file() else {}
            timing.setdefault(folder.name, []).append(per_10k)
            atomic_write(timing_path, json.dumps(timing).encode())
            print(f"{source} {index}: {per_10k:.0f} s per 10k images", flush=True)


if __name__ == "__main__":
    main()
