"""Which side of the trace gap is it on, with arrivals? Windows of consecutive requests.

``python benchmarks/bench_trace_windows.py CONV_CSV ARXIV_CSV [--sizes 50 100 200]
[--memory 16384 32768] [--offsets 0 5000] [--scale 0.05] [--ls-time 5] [--bound-time 10]
[--prove-time 30] [--out NAME]`` (the traces are not committed; give their paths).

A *window* is ``n`` consecutive requests of a trace starting at row ``offset``, with their
arrivals shifted to start at step 0:

* the conversation trace (Azure 2023) with its own arrival times, ``floor((t - t_0) /
  0.025 s)`` steps (the package's default step time);
* the Azure code trace 2023 (``--code``, Vidur's ``splitwise_code.csv``) likewise with
  its own arrival times;
* the arXiv summarisation trace has no arrival times: its requests get Poisson arrivals
  (seed ``offset``) at the rate that gives the same memory load as the conversation
  trace at the same ``M`` (``rho = lambda * mean area / M``; 1.09 at ``M = 32768``,
  2.19 at ``M = 16384`` over the whole conversation trace).

Requests whose peak ``s + o`` exceeds ``M`` are dropped (counted in ``dropped``). Each
window is measured twice:

* **full size**: ``mc-sf``, ``sorted-f``, ``sorted-f-cont``, ``smith-area`` and
  ``local-search`` (``--ls-time`` s, default start) through :func:`lpsched.solve.solve`
  (every schedule checked), against the combinatorial bounds and
  ``lower_bound(..., "best", time_limit=--bound-time)``;
* **scaled** by ``--scale`` (``s, o, M`` and the arrival steps multiplied and rounded
  down, ``o >= 1``; footprints keep their share of memory and the load its level while
  the horizon shrinks 20-fold), small enough for the time-indexed MILP (HiGHS, one
  thread, ``--prove-time`` s; ``--prover cpsat`` for CP-SAT, which proved far fewer) to
  prove optima: the same heuristics against the optimum (or the exact solver's best
  schedule and the best bound).

Columns: ``best_sched`` is the best schedule found (any method), ``bound`` the best bound
(and ``bound_src`` the component it comes from); ``gap`` = 1 - bound / best_sched;
``<algo>_r`` = objective / best_sched. On scaled rows with a proven optimum,
``bound_gap_opt`` = 1 - bound / opt is the part of the gap on the bound's side and
``<algo>_r`` the part on each schedule's side.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_trace_bounds import command  # noqa: E402
from common import appending_rows, machine, write_results  # noqa: E402

from lpsched.instance import Instance  # noqa: E402
from lpsched.models.bounds import lower_bound  # noqa: E402
from lpsched.models.combinatorial import fractional_bound  # noqa: E402
from lpsched.models.release_bounds import release_busy_bound  # noqa: E402
from lpsched.solve import solve  # noqa: E402
from lpsched.traces import read_trace_columns  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "trace_windows"
HEURISTICS = ["mc-sf", "sorted-f", "sorted-f-cont", "smith-area", "local-search"]
STEP_SECONDS = 0.025
CONV_LOAD_PER_M = 1.0934628 * 32768  # rho * M of the whole conversation trace


def conv_window(path: str, offset: int, n: int, M: int) -> tuple[Instance, int]:
    cols = read_trace_columns(path, start=offset, limit=n)
    t = np.asarray(cols.times, dtype=float)
    a = np.floor((t - t.min()) / STEP_SECONDS).astype(np.int64)
    return _instance(f"conv-o{offset}-n{n}-M{M}", M, cols.prefill, cols.decode, a)


def arxiv_window(path: str, offset: int, n: int, M: int) -> tuple[Instance, int]:
    cols = read_trace_columns(path, start=offset, limit=n, times=False)
    s, o = np.asarray(cols.prefill), np.asarray(cols.decode)
    area = s * o + o * (o + 1) / 2
    rate = CONV_LOAD_PER_M / float(area.mean())  # requests per step at the conversation load
    gaps = np.random.default_rng(offset).exponential(1.0 / rate, size=s.size)
    a = np.floor(np.cumsum(gaps) - gaps[0]).astype(np.int64)
    return _instance(f"arxiv-o{offset}-n{n}-M{M}", M, s, o, a)


def _instance(name: str, M: int, s, o, a) -> tuple[Instance, int]:
    s, o, a = (np.asarray(x, dtype=np.int64) for x in (s, o, a))
    keep = s + o <= M
    inst = Instance.from_arrays(M, s[keep], o[keep], a[keep], name=name)
    return inst, int((~keep).sum())


def scaled(inst: Instance, scale: float) -> Instance:
    M = int(inst.memory * scale)
    o = np.maximum(1, np.floor(inst.decode * scale)).astype(np.int64)
    s = np.minimum(np.floor(inst.prefill * scale).astype(np.int64), M - o)
    a = np.floor(inst.arrival * scale).astype(np.int64)
    return Instance.from_arrays(M, s, o, a, name=inst.name + f"-x{scale:g}")


def _no_ramps(inst: Instance):
    """``release_busy`` without the ramp-limited fluid (its first form), or "" offline."""
    return "" if inst.offline else fractional_bound(release_busy_bound(inst, ramps=False))


BEFORE = ("decode", "area", "combined", "tail", "mean_busy", "bnb_root", "lp_bound")
"""The components of ``best`` before issue 22 (no ``release_busy``, ``partition``, ``lazy_lp``)."""


def before_bound(d: dict) -> int:
    """What ``best`` returned before issue 22, from one call's ``details`` (its ``lp_bound``
    counts only when it is not the column-generation LP, which is new)."""
    return max(int(d[k]) for k in BEFORE if k in d and not (k == "lp_bound" and "lazy_lp" in d))


def bound_columns(inst: Instance, bound_time: float, best_sched: int, exact_lb,
                  opt) -> dict:
    """The bound columns: ``bound`` (best, with the exact solver's), ``bound_before`` (the same
    without ``release_busy``, what ``best`` returned before it), the gaps."""
    b = lower_bound(inst, "best", time_limit=bound_time)
    d = b.details
    before = before_bound(d)
    prev = max(before, int(d.get("release_busy", 0)))  # best of the previous round
    lb_cp = int(exact_lb) if exact_lb not in ("", None) else 0
    bound, before = max(b.value, lb_cp), max(before, lb_cp)
    return {"bound": bound, "bound_src": d["source"] if bound == b.value else "exact",
            "bound_before": before, "gap_before": round(1 - before / best_sched, 4),
            "gap": round(1 - bound / best_sched, 4),
            "gap_prev": round(1 - max(prev, lb_cp) / best_sched, 4),
            "bound_gap_opt": "" if opt is None else round(1 - bound / opt, 4),
            "decode": d["decode"], "area": d["area"], "release_busy": d.get("release_busy", ""),
                "rb_no_ramps": _no_ramps(inst),
            "lp_bound": d.get("lp_bound", ""), "partition": d.get("partition", ""),
            "lazy_lp": d.get("lazy_lp", ""),
            "bound_s": round(b.runtime, 2)}


def run_heuristics(inst: Instance, algos: list[str], ls_time: float, row: dict) -> dict:
    """Objective of each of ``algos`` (local search for ``ls_time`` s, the others up to
    60 s) through :func:`lpsched.solve.solve` (checked); their seconds go to ``row``."""
    objs = {}
    for algo in algos:
        t = time.perf_counter()
        res = solve(inst, algo, time_limit=ls_time if algo == "local-search" else 60)
        assert res.schedule is not None and res.status.value != "error", (algo, res.message)
        objs[algo] = int(res.objective)
        row[algo + "_s"] = round(time.perf_counter() - t, 2)
    return objs


def measure(inst: Instance, args, prove: bool) -> dict:
    row: dict = {"exact_status": "", "exact_lb": ""}
    objs = run_heuristics(inst, HEURISTICS, args.ls_time, row)
    if prove:
        # one thread (the default of both); the exact solvers start from local search
        res = solve(inst, args.prover, time_limit=args.prove_time)
        objs["exact"] = int(res.objective)
        row["exact_status"] = f"{args.prover} {res.status.value}"
        row["exact_lb"] = int(res.lower_bound) if res.lower_bound is not None else ""
    best = min(objs.values())
    opt = best if prove and row["exact_status"].endswith(" optimal") else None
    row["best_sched"] = best
    row.update(bound_columns(inst, args.bound_time, best, row["exact_lb"], opt))
    for algo in [*HEURISTICS, "exact"]:
        row[algo + "_r"] = round(objs[algo] / best, 4) if algo in objs else ""
    return row


def window(args, trace: str, off: int, n: int, M: int, kind: str) -> tuple[Instance, int]:
    make = arxiv_window if trace == "arxiv" else conv_window
    path = {"conv": args.conv, "arxiv": args.arxiv, "code": args.code}[trace]
    if path is None:
        raise SystemExit(f"trace {trace!r} needs its CSV (--code PATH)")
    inst, dropped = make(path, off, n, M)
    return (inst if kind == "full" else scaled(inst, args.scale)), dropped


def rebound(args) -> list[dict]:
    """Recompute the bound columns of the rows of ``args.rebound`` (same windows)."""
    import csv

    with open(args.rebound, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        inst, _ = window(args, row["trace"], int(row["offset"]), int(row["window_n"]),
                         int(row["window_M"]), row["kind"])
        opt = int(row["best_sched"]) if row["exact_status"].endswith("optimal") else None
        row.update(bound_columns(inst, args.bound_time, int(row["best_sched"]),
                                 row["exact_lb"], opt))
        print({k: row[k] for k in ("trace", "M", "n", "kind", "gap_before", "gap")}, flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("conv")
    ap.add_argument("arxiv")
    ap.add_argument("--code", default=None,
                    help="the Azure code trace CSV (trace 'code', its own arrival times)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200])
    ap.add_argument("--memory", type=int, nargs="+", default=[16384, 32768])
    ap.add_argument("--offsets", type=int, nargs="+", default=[0, 5000])
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--ls-time", type=float, default=5.0)
    ap.add_argument("--bound-time", type=float, default=10.0)
    ap.add_argument("--prove-time", type=float, default=30.0)
    ap.add_argument("--traces", nargs="+", default=["conv", "arxiv"])
    ap.add_argument("--kinds", nargs="+", default=["full", "scaled"])
    ap.add_argument("--prover", choices=["milp", "cpsat"], default="milp")
    ap.add_argument("--prove-full", action="store_true",
                    help="run the exact solver on the full-size windows too (short decodes: "
                         "the code trace)")
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--rebound", default=None,
                    help="a CSV of this script: recompute its bound columns only")
    args = ap.parse_args(argv)
    started = machine("at start")
    out = Path(args.out)
    if args.rebound:
        rows = rebound(args)
        write_results(out, rows, _preamble(started))
        return 0
    rows = []
    fields = None
    for trace in args.traces:
        for M in args.memory:
            for n in args.sizes:
                for off in args.offsets:
                    for kind in args.kinds:
                        x, dropped = window(args, trace, off, n, M, kind)
                        rho = float(x.area.sum()) / (x.memory * max(1, int(x.arrival.max())))
                        row = {"trace": trace, "window_n": n, "window_M": M, "M": x.memory,
                               "n": x.n, "offset": off,
                               "kind": kind, "dropped": dropped, "rho": round(rho, 2),
                               **measure(x, args, prove=kind == "scaled" or args.prove_full),
                               "load1": round(os.getloadavg()[0], 1)}
                        rows.append(row)
                        print({k: row[k] for k in ("trace", "M", "n", "offset", "kind", "gap",
                                                   "bound_gap_opt", "best_sched", "bound")},
                              flush=True)
                        if fields is None:
                            fields = list(row)
                        with appending_rows(out.with_suffix(".partial.csv"), fields) as wr:
                            wr.writerow(row)
    write_results(out, rows, _preamble(started))
    out.with_suffix(".partial.csv").unlink(missing_ok=True)
    return 0


def _preamble(started: str) -> list[str]:
    return ["# Trace windows with arrivals: which side is the gap on?", "",
            f"Machine: {started} (shared by 8 helpers: short runs; load1 per row).", "",
            f"Command: `{command()}`", ""]


if __name__ == "__main__":
    raise SystemExit(main())
