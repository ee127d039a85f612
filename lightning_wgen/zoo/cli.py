"""``wgen zoo list | info NAME | download NAME | verify [NAME] [--metrics] | publish |
add-critic NAME``."""

from __future__ import annotations

import argparse
import json

from lightning_wgen.cli_messages import OneLineArgumentParser
from lightning_wgen.zoo.critic import add_critic
from lightning_wgen.zoo.evaluation import SEEDS
from lightning_wgen.zoo.manifest import Manifest, ModelEntry
from lightning_wgen.zoo.publish import measure_again, publish
from lightning_wgen.zoo.registry import download, verify


def parser() -> argparse.ArgumentParser:
    p = OneLineArgumentParser(prog="wgen zoo", description="The pretrained model zoo.")
    p.add_argument("--manifest", help="a manifest.json (default: checkpoints/manifest.json)")
    sub = p.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="the models, with their main metric")
    listing.add_argument("filter", nargs="?", help="a shell pattern, e.g. '*mnist*'")
    sub.add_parser("info", help="a model's manifest entry").add_argument("name")
    sub.add_parser("download", help="fetch and hash-check a model's file").add_argument("name")
    check = sub.add_parser("verify", help="check files' sha256 (and, with --metrics, metrics)")
    check.add_argument("name", nargs="?", help="one model (default: all)")
    check.add_argument("--metrics", action="store_true", help="measure the metrics again")
    check.add_argument("--data_dir", help="where the evaluation data is (default: data)")
    check.add_argument("--seeds", type=int, nargs="+", help="measure only these of its seeds")
    check.add_argument("--inception", action="store_true", help="the Inception metrics instead")
    out = sub.add_parser("publish", help="export a `wgen fit` checkpoint into the zoo")
    out.add_argument("--ckpt", required=True)
    out.add_argument("--name", required=True, help="<family>-<dataset>[-<variant>]")
    out.add_argument("--data_dir", help="where the training data is, if not where it was")
    out.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    out.add_argument("--num_samples", type=int, help="per seed (default: 10,000; toy 2,500)")
    out.add_argument("--command", dest="train_command", help="the command that trained it")
    out.add_argument("--train_seconds", type=float, help="training time, if not in the ckpt")
    out.add_argument("--max_megabytes", type=float, default=10.0)
    out.add_argument(
        "--inception", action="store_true", help="also Lucic et al.'s Inception FID (seed 0)"
    )
    fit = sub.add_parser("add-critic", help="fit a critic to a published GAN and republish it")
    fit.add_argument("name")
    fit.add_argument("--steps", type=int, default=5000, help="critic updates (default: 5000)")
    fit.add_argument("--data_dir", help="where the training data is (default: data)")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument(
        "--penalty", type=float, help="fit with WGAN-GP's objective, this penalty weight (10)"
    )
    fit.add_argument("--refit", action="store_true", help="train a published critic further")
    return p


def _main_metric(entry: ModelEntry) -> str:
    for key in ("fid_mnist", "fid_fashion_mnist", "fid", "w1_exact"):
        if key in entry.metrics:
            value = entry.metrics[key]
            return f"{key} {value['mean']:.3f} ± {value['std']:.3f}"
    return "-"


def zoo_main(argv: list[str]) -> int:
    """Run ``wgen zoo`` with ``argv``; the exit status."""
    args = parser().parse_args(argv)
    if args.command == "publish":
        entry = publish(
            args.ckpt,
            args.name,
            manifest=args.manifest,
            data_dir=args.data_dir,
            seeds=tuple(args.seeds),
            num_samples=args.num_samples,
            train_command=args.train_command,
            train_seconds=args.train_seconds,
            max_megabytes=args.max_megabytes,
            inception=args.inception,
        )
        print(f"published {args.name}: {entry.file} ({entry.size / 1e6:.2f} MB), "
              f"{_main_metric(entry)}")  # fmt: skip
        return 0
    if args.command == "add-critic":
        entry = add_critic(
            args.name, steps=args.steps, manifest=args.manifest, data_dir=args.data_dir,
            seed=args.seed, command="wgen zoo " + " ".join(argv), penalty=args.penalty,
            refit=args.refit,
        )  # fmt: skip
        fitted = entry.extra["critic"]
        print(f"{args.name}: critic fitted in {fitted['steps']} steps ({fitted['seconds']:.0f} s, "
              f"W1 estimate {fitted['w_estimate']:.3f}); now {entry.file}")  # fmt: skip
        return 0
    manifest = Manifest.read(args.manifest)
    if args.command == "list":
        for name in manifest.names(args.filter):
            entry = manifest.entry(name)
            print(f"{name:24s} {entry.family:10s} {entry.dataset:14s} "
                  f"{entry.size / 1e6:5.2f} MB  {_main_metric(entry)}")  # fmt: skip
        return 0
    if args.command == "info":
        print(json.dumps({"name": args.name, **manifest.entry(args.name).to_dict()}, indent=2))
        return 0
    if args.command == "download":
        print(download(args.name, manifest=manifest, progress=True))
        return 0
    names = [args.name] if args.name else manifest.names()
    failed = 0
    for name in names:
        sha256 = verify(name, manifest=manifest)
        print(f"{name}: sha256 {sha256[:16]}... ok")
        if not args.metrics:
            continue
        for key, (stated, new, ok) in measure_again(
            name,
            manifest=manifest,
            data_dir=args.data_dir,
            seeds=args.seeds,
            inception=args.inception,
        ).items():
            failed += not ok
            print(f"  {key}: stated {stated['mean']:.4f} ± {stated['std']:.4f}, measured "
                  f"{new['mean']:.4f}: {'ok' if ok else 'OUTSIDE THE SPREAD'}")  # fmt: skip
    return 1 if failed else 0
