"""Which side is the trace gap on? Scaled-down trace mixes small enough for proofs.

``python benchmarks/bench_trace_scaled.py AZURE_CSV ARXIV_CSV [--scale 0.02]
[--cases 10:0 12:0 ...] [--prove-time 60]`` takes the backlogs of
``bench_trace_bounds.py`` (``M = 16492``, seed ``k``), rounds ``s`` and ``o`` down to
``floor(scale * x)`` (``o >= 1``) and ``M`` to ``floor(scale * 16492)``, so that the
request footprints keep their share of memory while the horizon shrinks, then
compares CP-SAT (one worker, ``--prove-time`` s), ``smith-area``, ``sorted-f-cont``,
``local-search`` (10 s) with the mean-busy-time bound and ``lower_bound(..., "best")``
(the time-indexed LP with tail cuts at this size, 20 s). Writes
``benchmarks/results/trace_scaled.{md,csv}``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_heuristics import mixed_backlog, read_lengths  # noqa: E402
from bench_trace_bounds import command  # noqa: E402
from common import machine, write_results  # noqa: E402

from lpsched.instance import Instance  # noqa: E402
from lpsched.models.bounds import lower_bound  # noqa: E402
from lpsched.models.combinatorial import mean_busy_bound  # noqa: E402
from lpsched.solve import solve  # noqa: E402


def scaled(az, ax, n: int, seed: int, scale: float) -> Instance:
    base = mixed_backlog(az, ax, n, 16492, seed)
    s = np.floor(base.prefill * scale).astype(np.int64)
    o = np.maximum(1, np.floor(base.decode * scale)).astype(np.int64)
    return Instance.from_arrays(int(16492 * scale), s, o, name=f"scaled-n{n}-s{seed}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("azure")
    ap.add_argument("arxiv")
    ap.add_argument("--scale", type=float, default=0.02)
    ap.add_argument("--cases", nargs="+", default=["10:0", "10:1", "12:0", "12:1", "14:0",
                                                   "14:1", "20:0", "20:1", "30:0"])
    ap.add_argument("--prove-time", type=float, default=60.0)
    args = ap.parse_args(argv)
    az, ax = read_lengths(Path(args.azure)), read_lengths(Path(args.arxiv))
    rows = []
    for case in args.cases:
        n, seed = (int(x) for x in case.split(":"))
        inst = scaled(az, ax, n, seed, args.scale)
        mb = mean_busy_bound(inst)
        best = lower_bound(inst, "best", time_limit=20).value
        objs = {a: solve(inst, a).objective for a in ("smith-area", "sorted-f-cont")}
        objs["local-search"] = solve(inst, "local-search", time_limit=10).objective
        t = time.perf_counter()
        cp = solve(inst, "cpsat", time_limit=args.prove_time)
        ref = min(cp.objective, *objs.values())
        rows.append({"n": n, "seed": seed, "M": inst.memory, "cpsat_status": str(cp.status),
                     "cpsat_obj": cp.objective, "cpsat_s": round(time.perf_counter() - t, 1),
                     **objs, "mean_busy": round(mb, 1), "best_bound": best,
                     "smith_over_best_schedule": round(objs["smith-area"] / ref, 4),
                     "ls_over_best_schedule": round(objs["local-search"] / ref, 4),
                     "best_schedule_over_mean_busy": round(ref / mb, 4),
                     "best_schedule_over_best_bound": round(ref / best, 4)})
        print(rows[-1], flush=True)
    write_results(ROOT / "benchmarks" / "results" / "trace_scaled", rows,
                  ["# Scaled-down trace mixes: proofs vs heuristics vs bounds", "",
                   f"Machine: {machine('at the end of the run')}.", "",
                   f"Command: `python {command()}`", ""])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
