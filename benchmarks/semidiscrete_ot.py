"""Semi-discrete OT solvers on the same codes: time to a cell-mass accuracy, and peak memory.

For each size ``n x d`` (codes: ``n`` standard normal points in ``R^d``, seed 0) and each solver
of :func:`lightning_wgen.ot.solve_semidiscrete_ot` ("newton", "adam", "pot"), in a fresh process:

- newton: one run with ``target_error`` a little under the goal (its own stop rule), at most
  ``--budget`` seconds;
- adam and pot: runs with a doubling budget (adam: seconds, pot: ``max_iter``) from scratch,
  until the heights reach the goal or the next run would pass ``--budget`` seconds.

Each run's heights are checked on ``--check_samples`` independent points (seed 99): the error is
``max_i |w_i - 1/n| * n`` less the noise floor of those points in quadrature
(:func:`lightning_wgen.ot.cells.beyond_noise`); the table also gives the mean of
``|w_i - 1/n| * n`` beside its own floor, ``sqrt(n / samples) * sqrt(2 / pi)`` (the mean absolute
value of each cell's binomial noise, normal approximation), which a few outlying cells do not
dominate as they do the max. The time is that of the first run that reaches
``--goal``; the memory is the process's peak resident memory during the solve, above what it held
before (CPU), or ``torch.cuda.max_memory_allocated`` (GPU). POT is the baseline of the ratio::

    python benchmarks/semidiscrete_ot.py --sizes 1000x8 1000x64 --budget 300          # CPU rows
    python benchmarks/semidiscrete_ot.py --device cuda --sizes 10000x8 60000x8 60000x64

Results go to ``benchmarks/results/semidiscrete_ot.json`` (merged by row) and the table between
the markers of ``docs/aeot.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from common import merge_records, rewrite_table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "semidiscrete_ot.json"
DOC = ROOT / "docs" / "aeot.md"
BEGIN, END = "<!-- semidiscrete table begin -->", "<!-- semidiscrete table end -->"
SOLVERS = ("newton", "adam", "pot")


def resident_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def run_one(solver: str, n: int, d: int, args: argparse.Namespace) -> dict:
    """All the runs of one solver on one size, in this (fresh) process."""
    import torch

    from lightning_wgen.ot import cell_masses, mass_error, solve_semidiscrete_ot
    from lightning_wgen.ot.cells import beyond_noise

    device = torch.device(args.device)
    codes = torch.randn(n, d, generator=torch.Generator().manual_seed(0)).to(device)
    before = resident_kib("VmRSS")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()

    def checked(heights: torch.Tensor) -> dict:
        masses = cell_masses(codes, heights, samples=args.check_samples, seed=99)
        raw = mass_error(masses)
        return {
            "raw_error": raw,
            "error": beyond_noise(raw, n, args.check_samples, "random"),
            "mean_error": float((masses.double() - 1.0 / n).abs().mean() * n),
            "mean_floor": math.sqrt(n / args.check_samples) * math.sqrt(2 / math.pi),
        }

    runs, budget = [], args.first_budget[solver]
    while True:
        if solver == "newton":
            options = {"target_error": args.goal * 0.6, "max_seconds": args.budget}
        elif solver == "adam":
            options = {"solver": "adam", "target_error": 1e-9, "max_seconds": budget}
        else:
            options = {"solver": "pot", "pot_options": {"max_iter": int(budget)}}
        if solver != "newton":
            options.setdefault("solver", solver)
        start = time.perf_counter()
        result = solve_semidiscrete_ot(codes, seed=0, **options)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        runs.append({"budget": budget, "seconds": seconds, **checked(result.heights)})
        print(json.dumps({"solver": solver, "n": n, "d": d, **runs[-1]}), flush=True)
        reached = runs[-1]["error"] < args.goal
        if solver == "newton" or reached or 3 * seconds > args.budget:
            break
        budget *= 2
    if device.type == "cuda":
        peak_mib = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mib = (resident_kib("VmHWM") - before) / 1024
    return {
        "row": f"{solver} {n}x{d} {args.device}",
        "seed": 0,
        "solver": solver,
        "n": n,
        "d": d,
        "device": args.device,
        "goal": args.goal,
        "check_samples": args.check_samples,
        "reached": reached,
        "seconds": runs[-1]["seconds"],
        "error": runs[-1]["error"],
        "raw_error": runs[-1]["raw_error"],
        "mean_error": runs[-1]["mean_error"],
        "mean_floor": runs[-1]["mean_floor"],
        "peak_mib": peak_mib,
        "runs": runs,
    }


def table(records: list[dict]) -> str:
    lines = [
        "| n x d | device | solver | time to error < goal | error (check) | mean error (floor) | "
        "peak memory | time / POT's |",
        "|---|---|---|---|---|---|---|---|",
    ]
    key = {s: i for i, s in enumerate(SOLVERS)}
    records = sorted(records, key=lambda r: (r["device"], r["n"], r["d"], key[r["solver"]]))
    pots = {(r["n"], r["d"], r["device"]): r for r in records if r["solver"] == "pot"}
    for r in records:
        pot = pots.get((r["n"], r["d"], r["device"]))
        time_text = f"{r['seconds']:.0f} s" if r["reached"] else f"not in {r['seconds']:.0f} s"
        both = pot is not None and r["reached"] and pot["reached"]
        ratio = f"{r['seconds'] / pot['seconds']:.2f}" if both else "-"
        mean = f"{r['mean_error']:.3f} ({r['mean_floor']:.3f})" if "mean_error" in r else "-"
        lines.append(
            f"| {r['n']:,} x {r['d']} | {r['device']} | {r['solver']} | {time_text} | "
            f"{r['error']:.3f} (raw {r['raw_error']:.3f}, 2^{math.log2(r['check_samples']):.0f} "
            f"points) | {mean} | {r['peak_mib']:.0f} MiB | {ratio} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", default=["1000x8", "1000x64"])
    parser.add_argument("--solvers", nargs="*", default=list(SOLVERS), choices=SOLVERS)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--goal", type=float, default=0.05)
    parser.add_argument("--check_samples", type=int, default=1 << 25)
    parser.add_argument("--budget", type=float, default=600, help="seconds per solver and size")
    args = parser.parse_args()
    args.first_budget = {"newton": 0, "adam": 30.0, "pot": 2000}

    new = []
    for size in args.sizes:
        n, d = (int(v) for v in size.split("x"))
        for solver in args.solvers:
            with ProcessPoolExecutor(1) as pool:  # a fresh process: its own peak memory
                record = pool.submit(run_one, solver, n, d, args).result()
            print(json.dumps({k: v for k, v in record.items() if k != "runs"}), flush=True)
            new.append(record)
    rewrite_table(DOC, BEGIN, END, table(merge_records(RESULTS, new)))


if __name__ == "__main__":
    main()
