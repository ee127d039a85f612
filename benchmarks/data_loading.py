"""Throughput of the image DataModules with their defaults, against a plain in-memory tensor loop.

    python benchmarks/data_loading.py [--images 20000]

Reads the real data in ../shared/data (MNIST in full; CIFAR-10 and CelebA laid out in their
official formats from the shared subsets, in a temporary folder). For each data set it prints
images per second of the DataModule's training loader (defaults: worker count, shuffling,
decoding and transforms), of the same loader with the other choice of worker count (0 or 1:
"alt"), and of a loop that slices batches out of a tensor already in memory, with the ratio to
that loop. For context it also
prints how many images per second one WGAN-GP critic step (DCGAN networks, gradient penalty)
consumes on this machine when its real batches come from the loader, and when they come from
the in-memory tensor, taken in turns; the ratio is the share of training speed the data path
leaves (1.0: the data path costs nothing).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the official-layout builders used by the tests

from layouts import build_celeba_folder, build_cifar10  # noqa: E402

from lightning_wgen import WGANGP  # noqa: E402
from lightning_wgen.data import (  # noqa: E402
    CelebADataModule,
    CIFAR10DataModule,
    MNISTDataModule,
)
from lightning_wgen.nets import DCGANCritic, DCGANGenerator  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"


def loader_rate(dm, images: int) -> float:
    """Images per second over ``images`` training images (epochs repeat as needed)."""
    dm.setup("fit")
    loader = dm.train_dataloader()
    seen, start = 0, None
    while seen < images:
        for batch in loader:
            if start is None:  # the first batch pays for worker start-up; not counted
                start = time.perf_counter()
                continue
            seen += len(batch)
            if seen >= images:
                break
    return seen / (time.perf_counter() - start)


def tensor_loop_rate(dm, images: int) -> float:
    """The same number of images sliced from an in-memory tensor in shuffled batches."""
    batches = tensor_batches(dm)
    next(batches)  # builds the tensor; not counted
    seen, start = 0, time.perf_counter()
    while seen < images:
        seen += len(next(batches))
    return seen / (time.perf_counter() - start)


def critic_rates(channels: int, image_size: int, feeds: dict, rounds: int = 5, steps: int = 8):
    """Median images per second through WGAN-GP critic steps (DCGAN networks: forward, penalty,
    backward, Adam) for each iterator of real batches in ``feeds``, measured in turns."""
    torch.manual_seed(0)
    model = WGANGP(
        DCGANGenerator(channels=channels, image_size=image_size),
        DCGANCritic(channels=channels, image_size=image_size),
    )
    opt = torch.optim.Adam(model.critic.parameters(), lr=1e-4, betas=(0.0, 0.9))

    def step(real):
        with torch.no_grad():
            fake = model.generator(model.noise(len(real)))
        loss, _ = model.critic_objective(real, fake)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return len(real)

    rates = {name: [] for name in feeds}
    for batches in feeds.values():
        step(next(batches))  # warm-up, and worker start-up
    for _ in range(rounds):
        for name, batches in feeds.items():
            start = time.perf_counter()
            seen = sum(step(next(batches)) for _ in range(steps))
            rates[name].append(seen / (time.perf_counter() - start))
    return {name: statistics.median(r) for name, r in rates.items()}


def endless(loader):
    while True:
        yield from loader


def tensor_batches(dm):
    """Endless shuffled batches sliced from up to 2,000 training images held in one tensor."""
    dm.setup("fit")
    data = torch.stack([dm.train_set[i] for i in range(min(len(dm.train_set), 2000))])
    while True:
        order = torch.randperm(len(data))
        for i in range(0, len(data) - dm.batch_size + 1, dm.batch_size):
            yield data[order[i : i + dm.batch_size]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20_000, help="images timed per loader")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    try:
        shutil.copytree(SHARED / "MNIST" / "raw", tmp / "MNIST" / "raw")
        build_cifar10(SHARED, tmp / "cifar")
        build_celeba_folder(SHARED, tmp / "celeba" / "celeba", partition_file=False)
        cases = [
            ("MNIST 28", MNISTDataModule, {"data_dir": str(tmp)}, (1, 28)),
            ("CIFAR-10 32", CIFAR10DataModule, {"data_dir": str(tmp / "cifar"), "verify": False},
             (3, 32)),
            ("CelebA 140->64", CelebADataModule, {"data_dir": str(tmp / "celeba")}, None),
            ("CelebA 140->32", CelebADataModule,
             {"data_dir": str(tmp / "celeba"), "image_size": 32}, (3, 32)),
        ]  # fmt: skip
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch 64, "
              f"{args.images} images per loader")  # fmt: skip
        header = ("data set", "workers (alt)", "loader img/s", "alt img/s", "tensor img/s",
                  "loader/tensor", "critic img/s fed by loader", "alt", "by tensor", "ratio",
                  "ratio alt")  # fmt: skip
        print(" | ".join(header))
        for name, cls, kwargs, net in cases:
            dm = cls(download=False, **kwargs)
            rate = loader_rate(dm, args.images)
            alt_workers = 1 if dm.num_workers == 0 else 0
            rate0 = loader_rate(cls(download=False, num_workers=alt_workers, **kwargs), args.images)
            base = tensor_loop_rate(dm, args.images)
            row = f"{name} | {dm.num_workers} ({alt_workers}) | {rate:,.0f} | {rate0:,.0f} | "
            row += f"{base:,.0f} | {rate / base:.4f}"
            if net:
                alt_dm = cls(download=False, num_workers=alt_workers, **kwargs)
                alt_dm.setup("fit")
                r = critic_rates(
                    *net,
                    {
                        "tensor": tensor_batches(dm),
                        "loader": endless(dm.train_dataloader()),
                        "alt": endless(alt_dm.train_dataloader()),
                    },
                )
                row += f" | {r['loader']:,.0f} | {r['alt']:,.0f} | {r['tensor']:,.0f} | "
                row += f"{r['loader'] / r['tensor']:.3f} | {r['alt'] / r['tensor']:.3f}"
            print(row)
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
