"""Benchmark: the two CP-SAT formulations (``events``, default, and ``cumulative``).

Instances: the MC-SF synthetic family (``mcsf_synthetic``, n = 10, 12, 14) and random
instances with arrivals (``random_instance(n, 30, seed, max_decode=12, max_arrival=20)``,
n = 10, 14, 18). Each solve is single-threaded (``num_workers=1``, seed 0) with the same
time limit; two solves run at a time on the 2-core machine. The baseline in the same run
is the other formulation: we report proofs and time to proof for both.

Usage (from the repository root)::

    python benchmarks/bench_cpsat_formulations.py --time-limit 30 --seeds 4

Writes ``benchmarks/results/cpsat_formulations.{md,csv}``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import load_average, machine, write_results  # noqa: E402

FORMULATIONS = ("events", "cumulative")


def make(family: str, n: int, seed: int):
    from lpsched.generators import mcsf_synthetic, random_instance

    if family == "mcsf":
        return mcsf_synthetic(n, seed)
    return random_instance(n, 30, seed, max_decode=12, max_arrival=20)


def job(family: str, n: int, seed: int, formulation: str, time_limit: float) -> dict:
    from lpsched.solve import solve

    res = solve(make(family, n, seed), "cpsat", time_limit=time_limit, seed=0, threads=1,
                formulation=formulation)
    return {"status": str(res.status), "objective": res.objective, "lower_bound": res.lower_bound,
            "time": round(res.runtime, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--time-limit", type=float, default=30.0)
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args()
    cases = [("mcsf", n, s) for n in (10, 12, 14) for s in range(args.seeds)]
    cases += [("arrivals", n, s) for n in (10, 14, 18) for s in range(args.seeds)]
    started = machine()
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futs = {(c, f): pool.submit(job, *c, f, args.time_limit) for c in cases for f in FORMULATIONS}
        res = {k: v.result() for k, v in futs.items()}
    rows = []
    for c in cases:
        row = {"family": c[0], "n": c[1], "seed": c[2]}
        for f in FORMULATIONS:
            r = res[(c, f)]
            row.update({f"{f}_status": r["status"], f"{f}_obj": r["objective"],
                        f"{f}_lb": r["lower_bound"], f"{f}_s": r["time"]})
        rows.append(row)
    summary = ["| family | n | instances | events proven | events median s to proof | "
               "cumulative proven | cumulative median s to proof |", "|---|---|---|---|---|---|---|"]
    for fam, n in dict.fromkeys((c[0], c[1]) for c in cases):
        rs = [r for r in rows if r["family"] == fam and r["n"] == n]
        cells = []
        for f in FORMULATIONS:
            t = [r[f"{f}_s"] for r in rs if r[f"{f}_status"] == "optimal"]
            cells += [f"{len(t)}/{len(rs)}", f"{statistics.median(t):.1f}" if t else "-"]
        summary.append(f"| {fam} | {n} | {len(rs)} | " + " | ".join(cells) + " |")
    write_results(Path(__file__).resolve().parent / "results" / "cpsat_formulations", rows, [
        "# CP-SAT formulations: events (default) vs cumulative", "",
        f"Machine: {started}; {load_average('at end')}; wall "
        f"{time.perf_counter() - t0:.0f} s.",
        f"Time limit {args.time_limit:g} s per solve, `num_workers=1`, seed 0, {args.jobs} solves "
        "at a time. Families: `mcsf_synthetic(n, seed)`; `random_instance(n, 30, seed, "
        "max_decode=12, max_arrival=20)` (arrivals).", "", *summary, "", "Per instance:"])


if __name__ == "__main__":
    main()
