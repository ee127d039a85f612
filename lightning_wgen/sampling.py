"""``wgen sample``: samples or latent walks of a zoo model or a ``wgen fit`` checkpoint, written
as a picture (``.png``), an array (``.npy``) or a tensor file (``.pt``).

    wgen sample --model wgan-gp-mnist --n 64 --seed 0 --out grid.png
    wgen sample --model lightning_logs/run/version_0/checkpoints/last.ckpt --n 8 --interpolate
    wgen sample --model lightning_logs/run/version_0/checkpoints/last.ckpt --refine dot
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from lightning_wgen.checkpoint_io import atomic_save, read_checkpoint
from lightning_wgen.cli_messages import OneLineArgumentParser, checked_device, checked_output
from lightning_wgen.errors import ConfigError, first_line
from lightning_wgen.loading import data_config, load_model, zoo_name
from lightning_wgen.models.base import GenerativeModule
from lightning_wgen.refine import METHODS, check_refinable
from lightning_wgen.zoo.weights import build_datamodule

OUTPUTS = (".png", ".npy", ".pt")


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between rows of ``a`` and ``b`` at fractions ``t`` ``(T,)``:
    ``(B, T, d)``. A straight line between two Gaussian draws passes through points of unusually
    small norm; the great circle keeps the norm a Gaussian draw has (White 2016, "Sampling
    Generative Networks", Sec. 2.1)."""
    a_unit = a / a.norm(dim=1, keepdim=True)
    b_unit = b / b.norm(dim=1, keepdim=True)
    omega = torch.arccos((a_unit * b_unit).sum(1).clamp(-1.0, 1.0))[:, None, None]  # (B, 1, 1)
    t = t[None, :, None]
    sin = torch.sin(omega)
    straight = sin.abs() < 1e-6  # parallel ends: the circle is the line
    wa = torch.where(straight, 1 - t, torch.sin((1 - t) * omega) / sin.clamp_min(1e-12))
    wb = torch.where(straight, t, torch.sin(t * omega) / sin.clamp_min(1e-12))
    return wa * a[:, None] + wb * b[:, None]


@torch.no_grad()
def latent_walks(
    model: GenerativeModule, n: int, steps: int, *, seed: int = 0, ema: bool = True
) -> Tensor:
    """``n`` walks of ``steps`` samples each (``(n * steps, ...)``, walk by walk) between pairs of
    prior draws: spherical for Gaussian noise, straight for AE-OT's codes (which are points of
    the training codes' hull, not Gaussian)."""
    if n < 1 or steps < 2:
        raise ConfigError(f"interpolation needs n >= 1 walks of steps >= 2, got {n} and {steps}.")
    rng = torch.Generator().manual_seed(seed)
    ends = model.noise(2 * n, generator=rng)
    a, b = ends[:n], ends[n:]
    t = torch.linspace(0, 1, steps, device=a.device)
    gaussian = type(model).noise is GenerativeModule.noise
    z = slerp(a, b, t) if gaussian else a[:, None] + t[None, :, None] * (b - a)[:, None]
    return model.generate(z.reshape(n * steps, -1), ema=ema)


def write(samples: Tensor, out: Path, nrow: int) -> None:
    """``samples`` to ``out``: a grid (images) or scatter plot (2D points) for ``.png``, the
    values themselves for ``.npy`` and ``.pt``."""
    samples = samples.detach().float().cpu()
    elsewhere = "give --out a folder you can write to"
    if out.suffix == ".npy":
        atomic_save(out, lambda f: np.save(f, samples.numpy()), elsewhere)
    elif out.suffix == ".pt":
        atomic_save(out, lambda f: torch.save(samples, f), elsewhere)
    else:
        from PIL import Image

        from lightning_wgen.callbacks.samples import sample_grid, scatter_pixels

        if samples.dim() == 4:
            pixels = sample_grid(samples, nrow=nrow)
        elif samples.dim() == 2 and samples.shape[1] == 2:
            pixels = scatter_pixels(samples, f"{len(samples)} samples")
        else:
            raise ConfigError(
                f"a .png shows images or 2D points, got samples of shape {tuple(samples.shape)};"
                " write .npy or .pt instead."
            )
        atomic_save(out, lambda f: Image.fromarray(pixels).save(f, format="PNG"), elsewhere)


def parser() -> argparse.ArgumentParser:
    p = OneLineArgumentParser(
        prog="wgen sample",
        description="Sample from a zoo model or a `wgen fit` checkpoint.",
    )
    p.add_argument(
        "--model", required=True, help="a zoo name (see `wgen zoo list`), .ckpt or .safetensors"
    )
    p.add_argument("--n", type=int, default=64, help="samples, or walks with --interpolate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="samples.png", help="a .png, .npy or .pt file")
    p.add_argument("--interpolate", action="store_true", help="latent walks, one per row")
    p.add_argument("--steps", type=int, default=8, help="samples per walk (--interpolate)")
    p.add_argument("--nrow", type=int, help="images per grid row (default: about sqrt(n))")
    p.add_argument("--no_ema", action="store_true", help="sample the trained generator, not EMA")
    p.add_argument("--device", default="cpu", help="e.g. cuda")
    p.add_argument(
        "--refine", choices=METHODS, help="move or filter the samples with the run's critic"
    )
    p.add_argument(
        "--real", type=int, default=2000, help="held-out real samples for --refine drs or mh"
    )
    p.add_argument("--data_dir", help="where the run's data set is (--refine drs or mh)")
    return p


def held_out_real(source: str, n: int, data_dir: str | None, device: torch.device) -> Tensor:
    """``n`` real samples the run did not train on, from the DataModule its checkpoint saved
    (or a zoo entry's): points of a toy set (seed 7) or images of the test split (seed 1)."""
    name = zoo_name(source)
    if name is not None:
        from lightning_wgen.zoo.manifest import Manifest

        config = Manifest.read().entry(name).data
    else:
        config = data_config(read_checkpoint(Path(source), "--model"), source)
    data = build_datamodule(config, source, data_dir=data_dir)
    if hasattr(data, "reference_images"):
        return torch.cat(list(data.reference_images(n, seed=1))).to(device)
    return data.sample(n, seed=7).to(device)


def sample_main(argv: list[str]) -> Path:
    """Run ``wgen sample`` with ``argv`` (the arguments after ``sample``); the written path."""
    args = parser().parse_args(argv)
    out = checked_output(Path(args.out))
    if out.suffix not in OUTPUTS:
        raise ConfigError(f"--out {out} must end in one of {', '.join(OUTPUTS)}.")
    for flag, value, least in (
        ("--n", args.n, 1),
        ("--nrow", args.nrow, 1),
        ("--steps", args.steps, 2),
    ):
        if value is not None and value < least:
            raise ConfigError(f"{flag} must be >= {least}, got {value}.")
    device = checked_device(args.device)
    model = load_model(args.model, map_location=device, ema=not args.no_ema)
    if not model.can_sample:
        raise ConfigError(
            f"{args.model} cannot sample yet (an AEOT without its OT map); run `wgen fit-ot` on it."
        )
    if args.interpolate:
        samples = latent_walks(model, args.n, args.steps, seed=args.seed, ema=not args.no_ema)
        nrow = args.steps
    else:
        if args.refine and "critic" in getattr(model, "untrained_networks", ()):
            name = zoo_name(args.model)
            fix = (
                f"fit one with `wgen zoo add-critic {name}`"
                if name is not None
                else "pass the run's `wgen fit` checkpoint"
            )
            raise ConfigError(
                f"--refine needs the run's trained critic, and --model {args.model} holds only "
                f"what sampling needs; {fix}."
            )
        if args.refine:
            check_refinable(model, args.refine)  # before reading the run's data for DRS or MH
        real = None
        if args.refine in ("drs", "mh"):
            real = held_out_real(args.model, args.real, args.data_dir, device)
        refine = {"refine": args.refine, "real": real} if args.refine else {}
        samples = model.sample(args.n, seed=args.seed, ema=not args.no_ema, **refine)
        nrow = args.nrow or max(1, round(args.n**0.5))
    try:
        write(samples, out, nrow)
    except OSError as err:
        raise ConfigError(f"--out {out}: could not write it ({first_line(err)}).") from None
    print(f"wrote {out} ({tuple(samples.shape)})")
    return out
