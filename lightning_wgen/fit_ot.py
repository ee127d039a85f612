"""``wgen fit-ot``: fit AE-OT's optimal-transport map for a trained autoencoder checkpoint.

The checkpoint of a ``wgen fit`` run holds the model's and the DataModule's configs; both are
rebuilt from it as every command rebuilds a file's model (:mod:`lightning_wgen.loading`: the
zoo's class-path allow-list, no unpickled code; ``--data_dir`` only says where the data is).
The training set is encoded, the map is fitted and the model, map included, is written to a new
file. The input is never overwritten.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from lightning_wgen.checkpoint_io import atomic_save, read_checkpoint
from lightning_wgen.cli_messages import OneLineArgumentParser, checked_device, checked_output
from lightning_wgen.errors import ConfigError
from lightning_wgen.loading import data_config, model_from_checkpoint
from lightning_wgen.ot import SOLVERS
from lightning_wgen.zoo.weights import build_datamodule


def parser() -> argparse.ArgumentParser:
    p = OneLineArgumentParser(
        prog="wgen fit-ot",
        description="Fit the semi-discrete OT map of an AEOT checkpoint on its training set.",
    )
    p.add_argument("--ckpt", required=True, help="an AEOT checkpoint written by `wgen fit`")
    p.add_argument("--out", help="where to write the fitted model (default: <ckpt>-ot.ckpt)")
    p.add_argument("--max_codes", type=int, help="encode at most this many training images")
    p.add_argument("--data_dir", help="where the training data is, if not where it was")
    p.add_argument("--solver", choices=SOLVERS, default="newton")
    p.add_argument("--target_error", type=float, default=0.05)
    p.add_argument("--max_steps", type=int, default=5000)
    p.add_argument("--max_seconds", type=float)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="where to solve, e.g. cuda")
    return p


def output_path(ckpt: Path, out: str | None) -> Path:
    path = Path(out) if out else ckpt.with_name(f"{ckpt.stem}-ot.ckpt")
    if path.exists():
        raise ConfigError(
            f"fit-ot does not overwrite files: {path} exists; pass another --out or move it."
        )
    return path


def fit_ot_main(argv: list[str]) -> Path:
    """Run ``wgen fit-ot`` with ``argv`` (the arguments after ``fit-ot``); the written path."""
    args = parser().parse_args(argv)
    ckpt = Path(args.ckpt)
    checkpoint = read_checkpoint(ckpt)
    out = checked_output(output_path(ckpt, args.out))
    device = checked_device(args.device)
    saved = checkpoint.get("hyper_parameters", {}).get("_class_path", "")
    if not saved.endswith(".AEOT"):
        raise ConfigError(
            f"fit-ot needs an AEOT checkpoint, {ckpt} holds {saved or 'no saved config'}; "
            "train one with configs/aeot/*.yaml."
        )
    data = build_datamodule(data_config(checkpoint, str(ckpt)), str(ckpt), data_dir=args.data_dir)
    model = model_from_checkpoint(checkpoint, str(ckpt))
    data.prepare_data()
    data.setup("fit")
    model.to(device)
    result = model.fit_ot(
        data.train_dataloader(),
        max_codes=args.max_codes,
        solver=args.solver,
        target_error=args.target_error,
        max_steps=args.max_steps,
        max_seconds=args.max_seconds,
        seed=args.seed,
    )
    checkpoint["state_dict"] = {k: v.cpu() for k, v in model.state_dict().items()}
    checkpoint.setdefault("wgen", {})["ot"] = {
        "codes": len(model.ot_map.codes),
        "steps": result.steps,
        "seconds": result.seconds,
        "estimated_error": result.estimated_error,
        "source": str(ckpt),
    }
    # a whole file or none, never half of one
    atomic_save(out, lambda f: torch.save(checkpoint, f), elsewhere="give --out another folder")
    print(
        f"wgen fit-ot: {len(model.ot_map.codes)} codes, {result.steps} steps, "
        f"{result.seconds:.0f} s, estimated cell-mass error {result.estimated_error:.3f}; "
        f"wrote {out}"
    )
    return out
