"""Bounds and schedules on mixed trace backlogs (issue 12, the trace target).

``python benchmarks/bench_trace_bounds.py AZURE_CSV ARXIV_CSV [--sizes 1000 10000]
[--memory 16492 65536] [--seeds 3]`` builds the backlogs of ``bench_heuristics.py
traces`` (half Azure conversation, half arXiv summarisation, sampled without
replacement, all at step 0; the traces are not committed, give their paths) and
records, per instance:

* the bounds: ``combined`` (decode/area per rank), ``tail``, ``mean_busy``
  (:func:`lpsched.models.combinatorial.mean_busy_bound`, rounded up) and
  ``lower_bound(inst, "best", time_limit=--bound-time)``; ``old_bound`` is
  ``max(combined, tail)``, what ``best`` returned on these sizes before;
* the schedules (all through :func:`lpsched.solve.solve`, so checked):
  ``sorted-f-cont``, ``smith-area`` with ``lookback`` 0 and the default,
  ``local-search`` (``init="auto"``, ``10 sqrt(n / 1000)`` s as in
  ``bench_heuristics.py traces``);
* ratios of the best schedule to the old and the new best bound, and the load
  average (1 minute) when the row was written.

Writes ``benchmarks/results/trace_bounds.{md,csv}``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_heuristics import md_table, mixed_backlog, read_lengths  # noqa: E402
from common import machine  # noqa: E402

from lpsched.models.bounds import lower_bound  # noqa: E402
from lpsched.solve import solve  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "trace_bounds"
PRIMAL = ["sorted-f-cont", "smith-area-0", "smith-area", "local-search"]


def run_primal(inst, name: str, ls_time: float):
    if name == "smith-area-0":
        return solve(inst, "smith-area", lookback=0)
    if name == "local-search":
        return solve(inst, "local-search", time_limit=ls_time)
    return solve(inst, name)


def one_instance(inst, n: int, M: int, seed: int, bound_time: float) -> dict:
    t = time.perf_counter()
    best = lower_bound(inst, "best", time_limit=bound_time)
    row = {"n": n, "M": M, "seed": seed, "combined": best.details["combined"],
           "tail": best.details["tail"], "mean_busy": best.details["mean_busy"],
           "old_bound": max(best.details["combined"], best.details["tail"]),
           "best_bound": best.value, "best_of": best.details.get("best_of"),
           "lp_status": best.details.get("lp_status", ""),
           "bound_s": round(time.perf_counter() - t, 2)}
    ls_time = 10.0 * max(1.0, n / 1000) ** 0.5
    objs = {}
    for name in PRIMAL:
        res = run_primal(inst, name, ls_time)
        objs[name] = res.objective
        row[name] = res.objective
        row[f"{name}_s"] = round(res.runtime, 2)
    top = min(objs.values())
    row["best_schedule"] = top
    row["best_by"] = min(objs, key=objs.get)
    row["ratio_old"] = round(top / row["old_bound"], 4)
    row["ratio_new"] = round(top / row["best_bound"], 4)
    row["sorted_f_cont_over_old"] = round(objs["sorted-f-cont"] / row["old_bound"], 4)
    row["load_1min"] = round(os.getloadavg()[0], 2)
    return row


def commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def command() -> str:
    """``sys.argv`` with the trace paths shortened to ``/path/to/<name>`` (the repository
    names no third-party data location)."""
    return " ".join(f"/path/to/{Path(a).name}" if a.endswith(".csv") else a for a in sys.argv)


def write(rows: list[dict], started: str) -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT.with_suffix(".csv"), "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    keys = sorted({(r["M"], r["n"]) for r in rows})

    def mean(M, n, field, nd=4):
        return round(float(np.mean([r[field] for r in rows if (r["M"], r["n"]) == (M, n)])), nd)

    t1 = md_table(["M", "n", "seeds", "sorted-f-cont / old bound", "best schedule / old bound",
                   "mean_busy / old bound", "best schedule / new bound", "load (1 min)"],
                  [[M, n, sum(1 for r in rows if (r["M"], r["n"]) == (M, n)),
                    mean(M, n, "sorted_f_cont_over_old"), mean(M, n, "ratio_old"),
                    round(float(np.mean([r["best_bound"] / r["old_bound"] for r in rows
                                         if (r["M"], r["n"]) == (M, n)])), 4),
                    mean(M, n, "ratio_new"), mean(M, n, "load_1min", 2)] for M, n in keys])
    t2 = md_table(["M", "n"] + [f"{a} / new bound" for a in PRIMAL] + [f"{a} s" for a in PRIMAL],
                  [[M, n] + [round(float(np.mean([r[a] / r["best_bound"] for r in rows
                                                  if (r["M"], r["n"]) == (M, n)])), 4)
                             for a in PRIMAL]
                   + [mean(M, n, f"{a}_s", 2) for a in PRIMAL] for M, n in keys])
    md = ["# Bounds and schedules on mixed trace backlogs (Azure conv + arXiv summarisation)", "",
          f"Machine: {machine('at the end of the run')}. Started {started}, finished "
          f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC. Commit {commit()} "
          "(plus the uncommitted result files).", "",
          f"Command: `python {command()}`", "",
          "Old bound: max(combined, tail), what `lower_bound(..., 'best')` returned on "
          "these sizes before; new bound: `lower_bound(..., 'best')` now (the mean-busy-time "
          "bound wins every row; the bucket LP is weaker). Ratios are means over seeds.", "",
          t1, "", "Every schedule over the new bound, and runtimes (s):", "", t2]
    OUT.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("azure", help="path of azure_conv_2023.csv")
    ap.add_argument("arxiv", help="path of arxiv_summarization.csv")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--memory", type=int, nargs="+", default=[16492, 65536])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--bound-time", type=float, default=30.0,
                    help="time limit of lower_bound(..., 'best') per instance (s)")
    args = ap.parse_args(argv)
    for p in (args.azure, args.arxiv):
        if not Path(p).is_file():
            print(f"error: {p}: no such file", file=sys.stderr)
            return 2
    started = f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"
    az, ax = read_lengths(Path(args.azure)), read_lengths(Path(args.arxiv))
    rows = []
    for M in args.memory:
        for n in args.sizes:
            for seed in range(args.seeds):
                rows.append(one_instance(mixed_backlog(az, ax, n, M, seed), n, M, seed,
                                         args.bound_time))
                print(rows[-1], flush=True)
    write(rows, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
