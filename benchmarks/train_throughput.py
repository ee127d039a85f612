"""Training steps per second of our modules against minimal plain-PyTorch loops.

    python benchmarks/train_throughput.py [--steps 30 --repeats 3 --threads 2]

Two pairs, each run side by side in one process on the same in-memory data tensor (random
images in [-1, 1]: the speed does not depend on the values), with the same networks (copies of
one initialisation), batch, optimizers and schedule:

- ``wgan_gp``: :class:`~lightning_wgen.WGANGP` under a Lightning ``Trainer`` against a bare loop
  of Gulrajani et al.'s Algorithm 1 (DCGAN networks at 28x28, base width 64, layer-norm critic,
  batch 64, n_critic 5, lambda 10, Adam 1e-4 (0, 0.9)). One step is one generator step.
- ``wae_mmd``: :class:`~lightning_wgen.WAEMMD` against a bare loop of Tolstikhin et al.'s
  Algorithm 2 (the zoo's convolutional encoder and decoder, 8-d codes, batch 64, IMQ kernel,
  lambda 10, Adam 1e-3). One step is one autoencoder update.

Our module gets its batches from a DataLoader that slices the tensor (no collation), so the ratio
is that of the module and Lightning's loop alone; ``benchmarks/data_loading.py`` measures the
data path. Each repetition times ``--steps`` steps after ``--warmup`` untimed ones, one of ours
then one of the plain loop, in turns step by step; the printed ratio is ours / plain in steps
per second, mean ± standard deviation over the repetitions (1.0: no overhead). ``--variant``
changes both sides alike:

- ``fused``: Adam's fused implementation;
- ``channels_last``: our module under ``SpeedOptions(channels_last=True)``; the plain loop's
  networks and data converted to channels-last memory format;
- ``compile``: our module under ``SpeedOptions(compile_networks=True)``; the plain loop's networks
  compiled with
  ``torch.compile`` (``nn.Module.compile``), except a critic whose input gradient needs a double
  backward that the compiled graph does not support (probed once on a small batch; the critic
  then stays eager and the result says why; our WGAN-GP keeps its critic eager too).

Comparing a variant's steps per second with the default run's shows whether it helps. The
process's peak resident memory is printed at the end. Results go to
``benchmarks/results/train_throughput[_VARIANT].json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import resource
import statistics
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import lightning as L
import torch
from common import bare_trainer, plain_gradient_penalty, rewrite_table, spread
from torch import Tensor, nn
from torch.utils.data import DataLoader, IterableDataset

from lightning_wgen import WAEMMD, WGANGP
from lightning_wgen.callbacks import SpeedOptions, fit_policies
from lightning_wgen.losses import WAE_KERNEL_SCALES
from lightning_wgen.nets import ConvDecoder, ConvEncoder, DCGANCritic, DCGANGenerator

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "train_throughput.json"
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- throughput table begin -->", "<!-- throughput table end -->"
BATCH = 64


class Slices(IterableDataset):
    """Consecutive ``batch``-row slices of ``data``, round and round."""

    def __init__(self, data: Tensor, batch: int) -> None:
        self.data, self.batch = data, batch

    def __iter__(self) -> Iterator[Tensor]:
        start = 0
        while True:
            if start + self.batch > len(self.data):
                start = 0
            yield self.data[start : start + self.batch]
            start += self.batch


def batches(data: Tensor) -> Iterator[Tensor]:
    return iter(Slices(data, BATCH))


class Interleaved(L.Callback):
    """Runs one plain step after each of our steps and keeps both sides' times, after the first
    ``warmup`` steps. Our step's time is the wall time from one batch's start to the next's
    (or the end of training) less the plain step run in between, so it holds everything
    Lightning does per step; taken in turns, both sides see the same machine at the same moment
    (on a shared host the speed drifts by more than the overhead being measured)."""

    def __init__(self, plain_step: Callable[[], None], warmup: int) -> None:
        self.plain_step, self.warmup = plain_step, warmup
        self.ours = self.plain = self.last_plain = 0.0
        self.mark: float | None = None

    def _close_interval(self, pl_module) -> None:
        now = time.perf_counter()
        if self.mark is not None and pl_module.generator_steps > self.warmup:
            self.ours += now - self.mark - self.last_plain
        self.mark = now

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._close_interval(pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        start = time.perf_counter()
        self.plain_step()
        self.last_plain = time.perf_counter() - start
        if pl_module.generator_steps > self.warmup:
            self.plain += self.last_plain

    def on_train_end(self, trainer, pl_module):
        self._close_interval(pl_module)


def time_pair(
    module: L.LightningModule,
    plain_step: Callable[[], None],
    data: Tensor,
    warmup: int,
    steps: int,
    speed: SpeedOptions,
) -> tuple[float, float]:
    """Steps per second of ``module`` under a bare Trainer (no logger, checkpoint or bar) with
    the run-time policies ``wgen fit`` adds (``fit_policies``) and the variant's ``speed``, and
    of ``plain_step``, run in turns (:class:`Interleaved`)."""
    module.max_generator_steps = warmup + steps
    turns = Interleaved(plain_step, warmup)
    trainer = bare_trainer()
    trainer.callbacks.extend([turns, speed, *fit_policies(trainer.callbacks)])
    loader = DataLoader(Slices(data, BATCH), batch_size=None)
    trainer.fit(module, train_dataloaders=loader)
    return steps / turns.ours, steps / turns.plain


class Variant:
    """What ``--variant`` changes, applied alike to our module's and the plain loop's copies."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.notes: list[str] = []

    def adam(self, **kwargs) -> Callable:
        return partial(torch.optim.Adam, fused=(self.name == "fused") or None, **kwargs)

    def data(self, x: Tensor) -> Tensor:
        if self.name == "channels_last":
            return x.contiguous(memory_format=torch.channels_last)
        return x

    def speed_options(self) -> SpeedOptions:
        """What our module's trainer is given instead of converted networks."""
        return SpeedOptions(
            channels_last=self.name == "channels_last", compile_networks=self.name == "compile"
        )

    def net(self, module: nn.Module, *, eager: bool = False, ours: bool = False) -> nn.Module:
        if ours:  # our run converts its networks itself (speed_options)
            return module
        if self.name == "channels_last":
            return module.to(memory_format=torch.channels_last)
        if self.name == "compile" and not eager:
            module.compile()
        return module

    def critic_eager(self, critic: nn.Module, shape: tuple[int, ...]) -> bool:
        """Whether ``critic`` must stay eager: under ``compile``, when a compiled copy cannot
        take the penalty's double backward on a batch of ``shape``."""
        if self.name != "compile":
            return False
        probe = copy.deepcopy(critic)
        probe.compile()
        x = torch.randn(shape).requires_grad_(True)
        try:
            (grad,) = torch.autograd.grad(probe(x).sum(), x, create_graph=True)
            grad.square().sum().backward()
        except Exception as error:  # noqa: BLE001 - any failure means: keep it eager
            reason = str(error).strip().splitlines()[0][:200]
            self.notes.append(f"critic eager: compiled double backward failed ({reason})")
            return True
        return False


# -- WGAN-GP ---------------------------------------------------------------------------------


def wgan_gp_pair(
    data: Tensor, variant: Variant
) -> tuple[Callable[[], L.LightningModule], Callable[[], Callable]]:
    torch.manual_seed(0)
    generator = DCGANGenerator(latent_dim=128, channels=1, image_size=28)
    critic = DCGANCritic(channels=1, image_size=28, norm="layer")
    adam = variant.adam(lr=1e-4, betas=(0.0, 0.9))
    critic_eager = variant.critic_eager(critic, (4, *data.shape[1:]))

    def nets(ours: bool = False) -> tuple[nn.Module, nn.Module]:
        g, d = copy.deepcopy(generator), copy.deepcopy(critic)
        return variant.net(g, ours=ours), variant.net(d, eager=critic_eager, ours=ours)

    def ours() -> L.LightningModule:
        g, d = nets(ours=True)
        kwargs = {"generator_optimizer": adam, "critic_optimizer": adam}
        return WGANGP(g, d, gp_weight=10.0, n_critic=5, **kwargs)

    def plain() -> Callable[[], None]:
        g, d = nets()
        opt_g, opt_d = adam(g.parameters()), adam(d.parameters())
        real_batches = batches(data)

        def step() -> None:
            d.requires_grad_(True)
            for _ in range(5):
                real = next(real_batches)
                with torch.no_grad():
                    fake = g(torch.randn(BATCH, 128))
                penalty = plain_gradient_penalty(d, real, fake)
                loss = d(fake).mean() - d(real).mean() + 10.0 * penalty
                opt_d.zero_grad(set_to_none=True)
                loss.backward()
                opt_d.step()
            d.requires_grad_(False)
            loss = -d(g(torch.randn(BATCH, 128))).mean()
            opt_g.zero_grad(set_to_none=True)
            loss.backward()
            opt_g.step()

        return step

    return ours, plain


# -- WAE-MMD ---------------------------------------------------------------------------------


def imq_mmd(x: Tensor, y: Tensor) -> Tensor:
    """Unbiased MMD^2 with the IMQ kernel summed over the WAE authors' scales."""
    n, base = x.shape[0], 2.0 * x.shape[1]

    def k(a: Tensor, b: Tensor) -> Tensor:
        d2 = torch.cdist(a, b).square()
        return sum(base * s / (base * s + d2) for s in WAE_KERNEL_SCALES)

    off = 1.0 - torch.eye(n)
    kxx, kyy = (k(x, x) * off).sum() / (n * (n - 1)), (k(y, y) * off).sum() / (n * (n - 1))
    return kxx + kyy - 2.0 * k(x, y).mean()


def wae_mmd_pair(
    data: Tensor, variant: Variant
) -> tuple[Callable[[], L.LightningModule], Callable[[], Callable]]:
    torch.manual_seed(0)
    encoder = ConvEncoder(latent_dim=8, channels=1, image_size=28, widths=[16, 32, 64, 128])
    decoder = ConvDecoder(latent_dim=8, channels=1, image_size=28, widths=[128, 64, 32])
    adam = variant.adam(lr=1e-3, betas=(0.5, 0.999))

    def nets(ours: bool = False) -> tuple[nn.Module, nn.Module]:
        enc, dec = copy.deepcopy(encoder), copy.deepcopy(decoder)
        return variant.net(enc, ours=ours), variant.net(dec, ours=ours)

    def ours() -> L.LightningModule:
        enc, dec = nets(ours=True)
        return WAEMMD(enc, dec, mmd_weight=10.0, optimizer=adam)

    def plain() -> Callable[[], None]:
        enc, dec = nets()
        opt = adam([*enc.parameters(), *dec.parameters()])
        real_batches = batches(data)

        def step() -> None:
            x = next(real_batches)
            codes = enc(x)
            reconstruction = (dec(codes) - x).square().flatten(1).sum(1).mean()
            loss = 0.05 * reconstruction + 10.0 * imq_mmd(codes, torch.randn_like(codes))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        return step

    return ours, plain


PAIRS = {"wgan_gp": wgan_gp_pair, "wae_mmd": wae_mmd_pair}
NUMERIC = ("steps", "warmup", "repeats", "threads")
# timed steps per repetition when --steps is not given: about 40 s of each side on 2 cores
STEPS = {"wgan_gp": 40, "wae_mmd": 400}
VARIANTS = ("default", "fused", "channels_last", "compile")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=None, help=f"default: {STEPS}")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--pairs", nargs="+", default=list(PAIRS), choices=list(PAIRS))
    parser.add_argument("--variant", default="default", choices=VARIANTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    variant = Variant(args.variant)
    data = variant.data(torch.rand(BATCH * 64, 1, 28, 28) * 2 - 1)
    records = []
    for name in args.pairs:
        variant.notes.clear()
        ours, plain = PAIRS[name](data, variant)
        rates: dict[str, list[float]] = {"ours": [], "plain": []}
        for _ in range(args.repeats):
            speed = variant.speed_options()
            steps = args.steps or STEPS[name]
            ours_rate, plain_rate = time_pair(ours(), plain(), data, args.warmup, steps, speed)
            rates["ours"].append(ours_rate)
            rates["plain"].append(plain_rate)
        ratios = [o / p for o, p in zip(rates["ours"], rates["plain"], strict=True)]
        record = {
            "pair": name,
            "steps_per_second": rates,
            "ratio": ratios,
            "ratio_mean": statistics.fmean(ratios),
            "threads": args.threads,
            "steps": steps,
            "variant": args.variant,
            "notes": list(variant.notes),
        }
        records.append(record)
        print(
            f"{name}: ours {spread(rates['ours'], '.3f')} steps/s, "
            f"plain {spread(rates['plain'], '.3f')} steps/s, ratio {spread(ratios, '.3f')}"
            + "".join(f"; {note}" for note in variant.notes),
            flush=True,
        )
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak_mib:.0f} MiB")
    results = result_file(args.variant)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(
        json.dumps(
            {
                "records": records,
                "peak_rss_mib": peak_mib,
                "torch": torch.__version__,
                "lightning": L.__version__,
                "machine": platform.processor() or platform.machine(),
                "command": "python benchmarks/train_throughput.py "
                + " ".join(f"--{k} {v}" for k, v in vars(args).items() if k in NUMERIC and v)
                + (f" --variant {args.variant}" if args.variant != "default" else ""),
            },
            indent=1,
        )
        + "\n"
    )
    rewrite_table(DOC, BEGIN, END, table())


def result_file(variant: str) -> Path:
    name = "train_throughput" + ("" if variant == "default" else f"_{variant}")
    return RESULTS.with_name(f"{name}.json")


def table() -> str:
    """The docs table from the result files there are, one per variant."""
    rows = [
        "| pair | variant | ours (steps/s) | plain PyTorch (steps/s) | ratio | peak RSS |",
        "|---|---|---|---|---|---|",
    ]
    commands, notes = [], []
    for path in map(result_file, VARIANTS):
        if not path.is_file():
            continue
        run = json.loads(path.read_text())
        commands.append(f"`{run['command']}`")
        for r in run["records"]:
            rates = r["steps_per_second"]
            rows.append(
                f"| {r['pair']} | {r.get('variant', 'default')} | "
                f"{spread(rates['ours'], '.3f')} | {spread(rates['plain'], '.3f')} | "
                f"{spread(r['ratio'], '.3f')} | {run['peak_rss_mib']:.0f} MiB |"
            )
            notes += [f"{r['pair']}, {r['variant']}: {note}." for note in r.get("notes", [])]
    text = "\n".join(rows) + "\n\nCommands: " + "; ".join(commands) + "."
    return text + "".join(f"\n\n{note}" for note in notes)


if __name__ == "__main__":
    main()
