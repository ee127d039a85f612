"""Does BEGAN's autoencoder critic learn to reconstruct MNIST, with and without batch norm?

    python benchmarks/began_critic.py --data_dir ../shared/data [--steps 1000] [--threads 1]

The critic of ``configs/zoo/began_mnist.yaml`` (built from the configs: ``ConvEncoder`` widths
16-128 to h = 64, ``ConvDecoder`` widths 128-32, linear output) trained alone on real digits with
BEGAN's loss L(x) = |x - D(x)| (``began_autoencoder_loss``), Adam lr 1e-4, betas (0.9, 0.999),
batch 64: what the critic sees while k_t is 0 (the first thousands of steps of a BEGAN run).
Prints L(x) every 250 steps for each setting, beside the loss of the all-background image (every
pixel -1), and writes ``benchmarks/results/began_critic.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from lightning_wgen.cli import build_from_config
from lightning_wgen.data import MNISTDataModule
from lightning_wgen.losses import began_autoencoder_loss
from lightning_wgen.nets import AutoencoderCritic

OUT = Path(__file__).parent / "results" / "began_critic.json"
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def critic_and_data(batch_norm: bool, data_dir: str) -> tuple[AutoencoderCritic, MNISTDataModule]:
    """The BEGAN critic of ``configs/began/mnist.yaml`` with the zoo overlay, built as ``wgen
    fit`` builds it (seed 0 of the config), with or without batch norm, and the run's data."""
    flag = str(batch_norm).lower()
    model, data = build_from_config(
        CONFIGS / "began" / "mnist.yaml",
        "--config",
        str(CONFIGS / "zoo" / "began_mnist.yaml"),
        f"--model.init_args.critic.init_args.encoder.init_args.batch_norm={flag}",
        f"--model.init_args.critic.init_args.decoder.init_args.batch_norm={flag}",
        f"--data.init_args.data_dir={data_dir}",
    )
    data.setup("fit")
    return model.critic, data


def train(batch_norm: bool, data_dir: str, steps: int) -> list[dict]:
    net, data = critic_and_data(batch_norm, data_dir)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4, betas=(0.9, 0.999))
    rows, step, start = [], 0, time.perf_counter()
    while step < steps:
        for x in data.train_dataloader():
            loss = began_autoencoder_loss(x, net(x)).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if step % 250 == 0:
                blank = began_autoencoder_loss(x, torch.full_like(x, -1.0)).mean()
                row = {"batch_norm": batch_norm, "step": step, "L_x": loss.item()}
                rows.append({**row, "L_blank": blank.item()})
                print(json.dumps({**rows[-1], "seconds": round(time.perf_counter() - start)}))
            if step == steps:
                break
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_dir", default="data")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = [
        row for batch_norm in (False, True) for row in train(batch_norm, args.data_dir, args.steps)
    ]
    OUT.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
