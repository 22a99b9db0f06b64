"""Bounds against schedules on traces with arrivals (issue 22's trace target).

``python benchmarks/bench_trace_arrivals.py CONV_CSV ARXIV_CSV [--code CODE_CSV]
[--sizes 1000 2000 5000] [--memory 16384 32768 65536] [--bound-time 20] [--ls-time 20]``
takes the first ``n`` requests of the conversation trace with their arrival times, of
the arXiv summarisation trace with Poisson arrivals at the conversation trace's memory
load (:func:`bench_trace_windows.arxiv_window`) and (``--code``, trace ``code``) of the
Azure code trace 2023 (Vidur's ``splitwise_code.csv``) with its arrival times, and records

* ``lower_bound(inst, "best", time_limit=--bound-time)`` with the component it comes
  from, and ``bound_before``: the same without the release-date mean-busy-time bound
  and the burst partition bound (what ``best`` returned before them; computed from the
  same call's components), ``bound_prev`` / ``gap_prev`` the same with the release-date
  bound (the previous round's ``best``); ``partition`` (the burst partition bound,
  :mod:`lpsched.models.partition_bounds`) and ``bursts`` (groups bounded / groups),
  ``lazy_lp`` (the time-indexed LP by column generation, :mod:`lpsched.models.lazy_lp`,
  valid at every round) and its ``lazy_rounds``;
* ``mc-sf``, ``sorted-f-cont``, ``sorted-f-online``, ``smith-area`` and ``local-search``
  (``--ls-time`` s), all through :func:`lpsched.solve.solve` (checked); ``best_sched``
  is the best of them;
* ``gap_before`` / ``gap`` = 1 - bound / best_sched.

Writes ``benchmarks/results/trace_arrivals.{md,csv}``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_trace_bounds import command  # noqa: E402
from bench_trace_windows import (  # noqa: E402
    _no_ramps,
    arxiv_window,
    before_bound,
    conv_window,
    run_heuristics,
)
from common import appending_rows, machine, write_results  # noqa: E402

from lpsched.models.bounds import lower_bound  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "trace_arrivals"
ALGOS = ["mc-sf", "sorted-f-cont", "sorted-f-online", "smith-area", "local-search"]


def one(inst, args) -> dict:
    row: dict = {}
    objs = run_heuristics(inst, ALGOS, args.ls_time, row)
    best = min(objs.values())
    b = lower_bound(inst, "best", time_limit=args.bound_time)
    d = b.details
    before = before_bound(d)
    prev = max(before, int(d.get("release_busy", 0)))  # best of the previous round
    row.update({"best_sched": best, "best_by": min(objs, key=lambda k: objs[k]),
                "bound_before": before, "bound": b.value, "bound_src": d["source"],
                "bound_s": round(b.runtime, 1), "gap_before": round(1 - before / best, 4),
                "bound_prev": prev, "gap_prev": round(1 - prev / best, 4),
                "gap": round(1 - b.value / best, 4), "decode": d["decode"], "area": d["area"],
                "release_busy": d.get("release_busy", ""), "rb_no_ramps": _no_ramps(inst),
                "partition": d.get("partition", ""), "bursts": d.get("partition_groups", ""),
                "lazy_lp": d.get("lazy_lp", ""), "lazy_rounds": d.get("lazy_rounds", "")})
    for algo in ALGOS:
        row[algo + "_r"] = round(objs[algo] / best, 4)
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("conv")
    ap.add_argument("arxiv")
    ap.add_argument("--code", default=None, help="the Azure code trace CSV (trace 'code')")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 5000])
    ap.add_argument("--memory", type=int, nargs="+", default=[16384, 32768, 65536])
    ap.add_argument("--traces", nargs="+", default=["conv", "arxiv"])
    ap.add_argument("--bound-time", type=float, default=20.0)
    ap.add_argument("--ls-time", type=float, default=20.0)
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    started = machine("at start")
    out = Path(args.out)
    rows = []
    for trace in args.traces:
        for M in args.memory:
            for n in args.sizes:
                make = arxiv_window if trace == "arxiv" else conv_window
                path = {"conv": args.conv, "arxiv": args.arxiv, "code": args.code}[trace]
                if path is None:
                    raise SystemExit(f"trace {trace!r} needs its CSV (--code PATH)")
                inst, dropped = make(path, 0, n, M)
                rho = float(inst.area.sum()) / (M * max(1, int(inst.arrival.max())))
                row = {"trace": trace, "n": inst.n, "M": M, "dropped": dropped,
                       "rho": round(rho, 2), **one(inst, args),
                       "load1": round(os.getloadavg()[0], 1)}
                rows.append(row)
                print({k: row[k] for k in ("trace", "n", "M", "gap_before", "gap",
                                           "bound_src")}, flush=True)
                with appending_rows(out.with_suffix(".partial.csv"), list(row)) as wr:
                    wr.writerow(row)
    write_results(out, rows, ["# Traces with arrivals: best bound against the best schedule",
                              "", f"Machine: {started} (shared by 8 helpers; load1 per row).",
                              "", f"Command: `{command()}`", ""])
    out.with_suffix(".partial.csv").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
