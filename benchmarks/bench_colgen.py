"""Benchmark: configuration cuts (issue 12) against the plain LP, LP + tail cuts and the optimum.

Instances: ``lpsched.generators.mcsf_synthetic(n, seed)`` (all arrivals 0, ``M ~ U[30,50]``,
``s ~ U[1,5]``, ``o ~ U[1, M-s]``): the ``exact_scaling`` sets (n = 10-18, seeds
``1000 + 100 n + k``, k = 0..3; the reference is the best objective of
``benchmarks/results/exact_scaling.csv``, proven optimal where ``best_obj == best_lb``)
and the first ``--count`` instances of the ``cpsat_proofs`` sets (n = 20 seeds 20000+,
n = 30 seeds 30000+; reference: the best objective over the rows of
``benchmarks/results/cpsat_proofs.csv``, best known, not proven).

Per instance, one process, one thread (HiGHS ``threads=1``): the plain time-indexed LP
(``solve_lp_relaxation(cuts=False)``), then
``lpsched.models.colgen.configuration_bound(inst, deadline=L)``, whose first round is
the LP with disjoint-tail cuts (``lp_tails``) and whose last LP value (``config``) is the
bound. Gaps are ``(reference - bound) / reference``. The 1-minute load average is
recorded per row. Rows are appended to ``benchmarks/results/colgen.csv`` as they finish;
``--report`` rewrites ``colgen.md`` from it.

Usage (from the repository root)::

    python benchmarks/bench_colgen.py --sizes 10 12 14 16 18 --time-limit 40
    python benchmarks/bench_colgen.py --sizes 20 30 --count 2 --time-limit 60
    python benchmarks/bench_colgen.py --report

Scale mode (issue 22: rounds per minute and gaps at n = 14-60, before/after a code change):
``--library NAME ... --tag TAG`` runs ``configuration_bound(load_instance(NAME), deadline=L)``
on library instances (reference: the library's proven optimum, else its best known
objective, from ``lpsched/instances/index.json``) and appends rows, tagged with the code
version, to ``benchmarks/results/colgen_scale.csv`` (no plain-LP solve: ``lp_tails`` is
the loop's own value once the tail rows converge, NaN if they did not within the limit).
Only ``configuration_bound`` and the library are used, so the same script measures an
older checkout (``PYTHONPATH=<old tree>``)::

    python benchmarks/bench_colgen.py --library mcsf-n20-s20000 mcsf-n40-s0 --tag after
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import appending_rows, machine  # noqa: E402

from lpsched.generators import mcsf_synthetic  # noqa: E402
from lpsched.models.colgen import configuration_bound  # noqa: E402
from lpsched.models.lp_relaxation import solve_lp_relaxation  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
OUT = RESULTS / "colgen"
SCALE = RESULTS / "colgen_scale"
EARLIER_AFTER = "after-d6bdaff"  # n >= 30 rows of the first "after" run (see scale_report)
SCALE_FIELDS = ["tag", "name", "n", "M", "reference", "proven", "lp_tails", "config",
                "gap_lp_tails", "gap_config", "bound", "bound_eq_ref", "rounds", "lp_solves",
                "config_cuts", "tail_cuts", "skipped_steps", "status", "time", "time_limit",
                "load1"]
FIELDS = ["n", "seed", "M", "reference", "proven", "lp", "lp_tails", "config", "gap_lp",
          "gap_lp_tails", "gap_config", "closed_vs_tails", "rounds", "config_cuts",
          "tail_cuts", "skipped_steps", "status", "time", "time_limit", "load1"]


def references() -> dict[tuple[int, int], tuple[int, bool]]:
    """``(n, seed) -> (best objective, proven)`` from the committed exact-solver results.

    Proven: ``best_lb >= best_obj`` in ``exact_scaling.csv``; the objective is the best
    of that file and every row of ``cpsat_proofs.csv`` (which also ran some n = 16-18).
    """
    ref: dict[tuple[int, int], tuple[int, bool]] = {}
    with (RESULTS / "exact_scaling.csv").open() as fh:
        for r in csv.DictReader(fh):
            obj = int(r["best_obj"])
            ref[(int(r["n"]), int(r["seed"]))] = (obj, float(r["best_lb"]) >= obj)
    with (RESULTS / "cpsat_proofs.csv").open() as fh:
        for r in csv.DictReader(fh):
            key = (int(r["n"]), int(r["seed"]))
            obj, proven = ref.get(key, (int(r["obj"]), False))
            ref[key] = (min(obj, int(r["obj"])), proven)
    return ref


def cases(sizes: list[int], count: int) -> list[tuple[int, int]]:
    out = []
    for n in sizes:
        base = 1000 + 100 * n if n < 20 else 1000 * n
        out += [(n, base + k) for k in range(count)]
    return out


def run_one(n: int, seed: int, limit: float, ref: tuple[int, bool]) -> dict:
    inst = mcsf_synthetic(n, seed)
    lp = solve_lp_relaxation(inst, cuts=False)
    t0 = time.perf_counter()
    cb = configuration_bound(inst, deadline=limit)
    obj, proven = ref

    def gap(v: float) -> float:
        return round((obj - v) / obj, 4)

    closed = (cb.value - cb.lp_tails) / (obj - cb.lp_tails) if obj > cb.lp_tails else 0.0
    return {"n": n, "seed": seed, "M": inst.memory, "reference": obj, "proven": proven,
            "lp": round(lp.value, 3), "lp_tails": round(cb.lp_tails, 3),
            "config": round(cb.value, 3), "gap_lp": gap(lp.value),
            "gap_lp_tails": gap(cb.lp_tails), "gap_config": gap(cb.value),
            "closed_vs_tails": round(closed, 3), "rounds": cb.rounds,
            "config_cuts": cb.config_cuts, "tail_cuts": cb.tail_cuts,
            "skipped_steps": cb.skipped_steps, "status": cb.status,
            "time": round(time.perf_counter() - t0, 1), "time_limit": limit,
            "load1": round(os.getloadavg()[0], 2)}


def library_reference(name: str) -> tuple[int, bool, int, int]:
    """``(reference, proven, n, M)`` of a library instance from the shipped index."""
    from lpsched.library import load_index

    for e in load_index()["instances"]:
        if e["name"] == name:
            proven = e["optimum"] is not None
            return (int(e["optimum"] if proven else e["best_known"]), proven, int(e["n"]),
                    int(e["memory"]))
    raise SystemExit(f"{name}: not in lpsched/instances/index.json")


def run_library(name: str, limit: float, tag: str) -> dict:
    """One scale-mode row: the configuration bound of a library instance within ``limit``."""
    from lpsched.library import load_instance

    obj, proven, n, memory = library_reference(name)
    inst = load_instance(name)
    load1 = round(os.getloadavg()[0], 2)
    t0 = time.perf_counter()
    cb = configuration_bound(inst, deadline=limit)
    took = time.perf_counter() - t0

    def gap(v: float) -> float:
        return round((obj - v) / obj, 4)

    return {"tag": tag, "name": name, "n": n, "M": memory, "reference": obj, "proven": proven,
            "lp_tails": round(cb.lp_tails, 3), "config": round(cb.value, 3),
            "gap_lp_tails": gap(cb.lp_tails), "gap_config": gap(cb.value), "bound": cb.bound,
            "bound_eq_ref": cb.bound is not None and cb.bound >= obj, "rounds": cb.rounds,
            "lp_solves": getattr(cb, "lp_solves", ""), "config_cuts": cb.config_cuts,
            "tail_cuts": cb.tail_cuts, "skipped_steps": cb.skipped_steps, "status": cb.status,
            "time": round(took, 1), "time_limit": limit, "load1": load1}


def scale_report() -> list[str]:
    """Markdown lines: per tag and size class, median gaps and rounds (``colgen_scale.csv``)."""
    path = SCALE.with_suffix(".csv")
    if not path.exists():
        return []
    with path.open() as fh:
        rows = list(csv.DictReader(fh))

    def size_class(n: int) -> str:
        return "40-60" if n >= 40 else str(n)

    lines = ["## Scaling the cut loop (issue 22): before / after, same instances, 60 s", "",
             "Library instances (`lpsched/instances`, reference = proven optimum or best known "
             "objective of `index.json`), `python benchmarks/bench_colgen.py --library ... --tag "
             "TAG --time-limit 60`, one process at a time, HiGHS threads=1. Tags: `before` = the "
             "code before issue 22 (commit b966c68, run with `PYTHONPATH` on that checkout) at "
             "about the load of the `after` run; `before-load7` = the same code while other "
             "jobs loaded the machine (load 5.8-9.4: not comparable); `after` = the final "
             "code (rows of instances it did not rerun: those of `after-d6bdaff`, whose "
             "loop at n >= 40 never left the tail phase that later commits did not touch); "
             "`after-<commit>` = intermediate versions (ablations, docs/exact.md). "
             "`rounds` = configuration-cut rounds (each: LP re-solve, tail and configuration "
             "separation) in the limit; `lp_tails` = NaN when the tail rows did not converge "
             "in the limit (then `gap LP+tails` is `-`). Load: column `load1` (2 cores shared).",
             "", "| tag | n | instances | median gap LP+tails | median gap config | "
             "median rounds | median LP solves | bound = reference |",
             "|---|---|---|---|---|---|---|---|"]
    # "after" = the final code; instances it did not rerun keep their row of an earlier
    # "after-<commit>" run (named in the text of colgen.md)
    rerun = {r["name"] for r in rows if r["tag"] == "after"}
    summary = rows + [{**r, "tag": "after"} for r in rows
                      if r["tag"] == EARLIER_AFTER and r["name"] not in rerun]
    keys = sorted({(r["tag"], size_class(int(r["n"]))) for r in summary},
                  key=lambda k: (int(k[1].split("-")[0]), k[0] != "before", k[0]))
    for tag, cls in keys:
        rs = [r for r in summary if r["tag"] == tag and size_class(int(r["n"])) == cls]

        def med(col: str, rs: list = rs) -> float:
            vals = [float(r[col]) for r in rs if r[col] not in ("nan", "")]
            return statistics.median(vals) if vals else math.nan

        def pct(v: float) -> str:
            return "-" if math.isnan(v) else f"{v:.1%}"

        solves = med("lp_solves")
        eq = sum(r["bound_eq_ref"] == "True" for r in rs)
        lines.append(f"| {tag} | {cls} | {len(rs)} | {pct(med('gap_lp_tails'))} | "
                     f"{pct(med('gap_config'))} | {med('rounds'):.0f} | "
                     f"{'-' if math.isnan(solves) else f'{solves:.0f}'} | {eq} |")
    lines += ["", "| " + " | ".join(SCALE_FIELDS) + " |", "|" + "---|" * len(SCALE_FIELDS)]
    lines += ["| " + " | ".join(r[c] for c in SCALE_FIELDS) + " |" for r in rows]
    return lines + [""]


def report() -> None:
    with OUT.with_suffix(".csv").open() as fh:
        rows = list(csv.DictReader(fh))
    ref = references()
    for r in rows:  # gaps against the current references (best known may have improved)
        obj, proven = ref[(int(r["n"]), int(r["seed"]))]
        r["reference"], r["proven"] = str(obj), str(proven)
        for col, gcol in (("lp", "gap_lp"), ("lp_tails", "gap_lp_tails"), ("config", "gap_config")):
            r[gcol] = f"{(obj - float(r[col])) / obj:.4f}"
        lt, cf = float(r["lp_tails"]), float(r["config"])
        r["closed_vs_tails"] = f"{(cf - lt) / (obj - lt):.3f}" if obj > lt else "nan"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    lines = ["# Configuration cuts vs the time-indexed LP (issue 12)", "",
             f"Machine: {machine('at report')}; commit {commit} (code of the run: see git log).",
             "Command: `python benchmarks/bench_colgen.py --sizes 10 12 14 16 18 --time-limit 40`"
             " and `--sizes 20 30 --count 2 --time-limit 60`, one process at a time, `nice -n 5`,"
             " HiGHS threads=1; the machine was shared (load per row, column load1).",
             "Gaps are `(reference - bound) / reference`; reference = proven optimum (proven="
             "True) or best known objective (n >= 20). `closed_vs_tails` is the share of the "
             "LP+tails gap closed by the configuration cuts within the time limit; `nan`/`-`: "
             "the tail-cut loop did not finish within the limit (excluded from the medians). "
             "`bound = reference`: `ceil(config - 1e-6)` equals the reference objective "
             "(the bound alone proves the optimum).", "",
             "| n | instances | median gap LP | median gap LP+tails | median gap config | "
             "median share of LP+tails gap closed | median rounds | bound = reference |",
             "|---|---|---|---|---|---|---|---|"]
    for n in sorted({int(r["n"]) for r in rows}):
        rs = [r for r in rows if int(r["n"]) == n]

        def med(col: str, rs: list = rs) -> float:
            vals = [float(r[col]) for r in rs if r[col] != "nan"]  # nan: tail loop unfinished
            return statistics.median(vals) if vals else math.nan

        def pct(v: float, digits: int = 1) -> str:
            return "-" if math.isnan(v) else f"{v:.{digits}%}"

        n_proven = sum(math.ceil(float(r["config"]) - 1e-6) >= int(r["reference"]) for r in rs)
        lines.append(f"| {n} | {len(rs)} | {pct(med('gap_lp'))} | {pct(med('gap_lp_tails'))} | "
                     f"{pct(med('gap_config'))} | {pct(med('closed_vs_tails'), 0)} | "
                     f"{med('rounds'):.0f} | {n_proven} |")
    lines += ["", "| " + " | ".join(FIELDS) + " |", "|" + "---|" * len(FIELDS)]
    lines += ["| " + " | ".join(r[c] for c in FIELDS) + " |" for r in rows]
    lines += [""] + scale_report()
    OUT.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT.with_suffix('.md')}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[10, 12, 14, 16, 18])
    ap.add_argument("--count", type=int, default=4)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--report", action="store_true")
    ap.add_argument("--library", nargs="*", default=None,
                    help="library instance names (scale mode, rows to colgen_scale.csv)")
    ap.add_argument("--tag", default="after", help="code version label of scale-mode rows")
    args = ap.parse_args(argv)
    if args.report:
        report()
        return 0
    if args.library:
        print(machine(), flush=True)
        with appending_rows(SCALE.with_suffix(".csv"), SCALE_FIELDS) as wr:
            for name in args.library:
                row = run_library(name, args.time_limit, args.tag)
                wr.writerow(row)
                print(row, flush=True)
        return 0
    ref = references()
    print(machine(), flush=True)
    with appending_rows(OUT.with_suffix(".csv"), FIELDS) as wr:
        for n, seed in cases(args.sizes, args.count):
            if (n, seed) not in ref:
                print(f"skip n={n} seed={seed}: no reference objective", flush=True)
                continue
            row = run_one(n, seed, args.time_limit, ref[(n, seed)])
            wr.writerow(row)
            print(row, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
