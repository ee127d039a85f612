"""Does BEGAN's autoencoder critic learn to reconstruct MNIST, with and without batch norm?

    python benchmarks/began_critic.py --data_dir ../shared/data [--steps 1000] [--threads 1]

The critic of ``configs/zoo/began_mnist.yaml`` (read from the configs: ``ConvEncoder`` widths
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
import yaml

from lightning_wgen.data import MNISTDataModule
from lightning_wgen.losses import began_autoencoder_loss
from lightning_wgen.nets import AutoencoderCritic, ConvDecoder, ConvEncoder

OUT = Path(__file__).parent / "results" / "began_critic.json"
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def critic(batch_norm: bool) -> AutoencoderCritic:
    """The BEGAN critic of ``configs/began/mnist.yaml`` with the zoo overlay's widths, with or
    without batch norm."""
    parts = {}
    for config in ("began/mnist.yaml", "zoo/began_mnist.yaml"):
        critic_args = yaml.safe_load((CONFIGS / config).read_text())["model"]["init_args"]
        for part in ("encoder", "decoder"):
            parts.setdefault(part, {}).update(critic_args["critic"]["init_args"][part]["init_args"])
    for args in parts.values():
        args["batch_norm"] = batch_norm
    return AutoencoderCritic(ConvEncoder(**parts["encoder"]), ConvDecoder(**parts["decoder"]))


def train(batch_norm: bool, data: MNISTDataModule, steps: int) -> list[dict]:
    torch.manual_seed(0)
    net = critic(batch_norm)
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
    data = MNISTDataModule(data_dir=args.data_dir, download=False, num_workers=0, in_memory=True)
    data.setup("fit")
    rows = [row for batch_norm in (False, True) for row in train(batch_norm, data, args.steps)]
    OUT.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
