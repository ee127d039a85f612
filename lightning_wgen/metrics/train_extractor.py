"""Train a domain feature extractor (MNIST, Fashion-MNIST) and write it as safetensors.

    python -m lightning_wgen.metrics.train_extractor mnist --data_dir data

trains ``ConvClassifier`` on the data set's training split (images at 32x32, as the DataModules
give them), measures its accuracy on the test split, and writes
``lightning_wgen/metrics/weights/<name>.safetensors`` with the provenance in its metadata. It prints
the file's sha256 for ``DOMAIN_EXTRACTORS``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from lightning_wgen.data import FashionMNISTDataModule, MNISTDataModule
from lightning_wgen.metrics.features import WEIGHTS_DIR, save_domain_extractor
from lightning_wgen.nets.classifier import ConvClassifier

DATAMODULES = {"mnist": MNISTDataModule, "fashion_mnist": FashionMNISTDataModule}


@torch.no_grad()
def accuracy(classifier: ConvClassifier, loader) -> float:
    classifier.eval()
    correct = total = 0
    for images, labels in loader:
        correct += int((classifier(images).argmax(1) == labels).sum())
        total += len(labels)
    return correct / total


@torch.no_grad()
def feature_rms(classifier: ConvClassifier, loader) -> float:
    """Root mean square of the classifier's features over ``loader``'s images."""
    classifier.eval()
    total = count = 0.0
    for images, _ in loader:
        features = classifier.features(images).double()
        total += float(features.square().sum())
        count += features.numel()
    return (total / count) ** 0.5


def train(
    name: str, data_dir: str, epochs: int, batch_size: int = 128, lr: float = 2e-3, seed: int = 0
) -> tuple[ConvClassifier, dict[str, object]]:
    """Adam with a cosine schedule, cross-entropy; returns the classifier and its provenance."""
    torch.manual_seed(seed)
    data = DATAMODULES[name](
        data_dir, batch_size=batch_size, image_size=32, return_labels=True, seed=seed
    )
    data.prepare_data()
    data.setup("fit")
    train_loader = data.train_dataloader()
    classifier = ConvClassifier(channels=1)
    optimizer = torch.optim.Adam(classifier.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=epochs * len(train_loader)
    )
    start = time.perf_counter()
    for epoch in range(epochs):
        classifier.train()
        for images, labels in train_loader:
            loss = F.cross_entropy(classifier(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        print(f"epoch {epoch + 1}/{epochs}: last batch loss {loss.item():.4f}", flush=True)
    test_accuracy = accuracy(classifier, data.test_dataloader())
    scale = feature_rms(classifier, data._loader(data.train_set, train=False))
    info = {
        "name": name,
        "dataset": data.name,
        "train_images": len(data.train_set),
        "test_images": len(data.test_dataloader().dataset),
        "test_accuracy": round(test_accuracy, 4),
        "feature_scale": round(scale, 6),
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "train_seconds": round(time.perf_counter() - start),
        "torch": torch.__version__,
        "command": f"python -m lightning_wgen.metrics.train_extractor {name} --data_dir data "
        f"--epochs {epochs} --seed {seed}",
        "features": "128-d pre-activation layer before the head, divided by feature_scale (its RMS "
        "on the training split); input 32x32 gray in [-1, 1]",
    }
    return classifier, info


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(DATAMODULES))
    parser.add_argument("--data_dir", default="data")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    classifier, info = train(args.name, args.data_dir, args.epochs, seed=args.seed)
    out = args.out or WEIGHTS_DIR / f"{args.name}.safetensors"
    out.parent.mkdir(parents=True, exist_ok=True)
    sha256 = save_domain_extractor(classifier, out, info)
    print(
        f"{args.name}: test accuracy {info['test_accuracy']:.4f} on {info['test_images']} test "
        f"images after {info['train_images']} training images x {args.epochs} epochs "
        f"({info['train_seconds']} s)\nwrote {out}\nsha256 {sha256}"
    )


if __name__ == "__main__":
    main()
