"""Benchmark: exact solvers on the MC-SF paper's synthetic family (hindsight optimum setting).

Family (Jaillet et al. 2025, via ``lpsched.generators.mcsf_synthetic``): all arrivals
at 0, ``M ~ U[30,50]``, ``s_i ~ U[1,5]``, ``o_i ~ U[1, M - s_i]``.

Two parts, both written to ``benchmarks/results/``:

* ``exact_synthetic`` (the issue's table): ``n`` from 40 to 60 over the seeds. For each
  instance: the root LP bound (plain time-indexed LP relaxation), the root LP with
  rounds of disjoint-tail cuts (stopped at the time limit: the last LP solved counts),
  the best combinatorial bound, then MILP (HiGHS) and CP-SAT with the
  same time limit each. Both solvers start from the default warm start (local search for
  10% of the time limit, :func:`lpsched.models.incumbent.warm_start`; its objective is
  reported). Baseline in the same run: the best serial schedule (ratios objective /
  serial). ``--reuse-lp`` copies the two LP columns from the committed CSV instead of
  recomputing them (they do not depend on the solvers).
* ``exact_scaling``: the same family at small ``n`` (default 10..20), several seeds per
  ``n``, to show up to which size the solvers prove optimality within the limit, and
  how far the root LPs are from the proven optima as ``n`` grows.

Every job (one LP, one solver run) is single-threaded and two jobs run at a time, one per
core of the 2-core machine (``--jobs``); each solver thus gets one core for its whole
time limit.

Usage (from the repository root)::

    python benchmarks/bench_exact_synthetic.py --part table --instances 20 --time-limit 60
    python benchmarks/bench_exact_synthetic.py --part scaling --sizes 10 12 14 16 18 20 --seeds 5
    python benchmarks/bench_exact_synthetic.py --part table --report   # rebuild .md from .csv
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import load_average, machine  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SOLVERS = ("milp", "cpsat")


def n_of(k: int, count: int) -> int:
    return 40 + round(k * 20 / max(1, count - 1))


def job(kind: str, n: int, seed: int, time_limit: float) -> dict:
    """One single-threaded piece of work on ``mcsf_synthetic(n, seed)``."""
    from lpsched.generators import mcsf_synthetic
    from lpsched.models.lp_relaxation import solve_lp_relaxation
    from lpsched.solve import solve

    inst = mcsf_synthetic(n, seed)
    t = time.perf_counter()
    if kind in ("lp", "lp_tails"):
        cuts = kind == "lp_tails"
        lp = solve_lp_relaxation(inst, cuts=cuts, threads=1, time_limit=time_limit if cuts else None)
        out = {f"{kind}": round(lp.value, 3), f"{kind}_time": round(time.perf_counter() - t, 2),
               "serial_ub": lp.upper_bound}
        if cuts:
            out["lp_tails_rounds"] = lp.cut_rounds
        return out
    res = solve(inst, kind, time_limit=time_limit, seed=0, threads=1)
    return {f"{kind}_status": str(res.status), f"{kind}_obj": res.objective,
            f"{kind}_lb": res.lower_bound, f"{kind}_time": round(res.runtime, 2),
            f"{kind}_ws_obj": res.stats.get("warm_start_objective"),
            f"{kind}_ws_from": res.stats.get("warm_start_from")}


def run(args: argparse.Namespace) -> None:
    from lpsched.generators import mcsf_synthetic
    from lpsched.models.combinatorial import combined_bound

    if args.part == "table":
        cases = [(n_of(k, args.instances), args.seed0 + k) for k in range(args.instances)]
        kinds = SOLVERS if args.reuse_lp else ("lp", "lp_tails", *SOLVERS)
    else:
        cases = [(n, 1000 + 100 * n + k) for n in args.sizes for k in range(args.seeds)]
        kinds = ("lp", "lp_tails", *SOLVERS)
    old = {}
    if args.reuse_lp:
        with (RESULTS / "exact_synthetic.csv").open() as f:
            old = {(int(r["n"]), int(r["seed"])): r for r in csv.DictReader(f)}
    rows = {}
    for n, seed in cases:
        inst = mcsf_synthetic(n, seed)
        rows[(n, seed)] = {"seed": seed, "n": n, "M": inst.memory, "comb_lb": combined_bound(inst)}
        if args.reuse_lp:
            prev = old[(n, seed)]
            rows[(n, seed)].update({k: _f(prev[k]) for k in ("lp", "lp_time", "serial_ub",
                                                             "lp_tails", "lp_tails_time",
                                                             "lp_tails_rounds")})
            rows[(n, seed)]["serial_ub"] = int(rows[(n, seed)]["serial_ub"])
    started = machine()
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futs = {pool.submit(job, k, n, s, args.time_limit): (n, s) for (n, s) in cases
                for k in kinds}
        for i, (fut, case) in enumerate(futs.items(), 1):
            rows[case].update(fut.result())
            print(f"[{i}/{len(futs)} {time.perf_counter() - t0:.0f} s] {rows[case]}", flush=True)
    out = []
    for r in rows.values():
        objs = [r[f"{a}_obj"] for a in SOLVERS if r.get(f"{a}_obj") is not None]
        lbs = [r[f"{a}_lb"] for a in SOLVERS if r.get(f"{a}_lb") is not None]
        lbs += [r["comb_lb"]] + [math.ceil(r[k] - 1e-6) for k in ("lp", "lp_tails") if k in r]
        r["best_obj"] = min(objs)
        r["best_lb"] = max(lbs)
        out.append(r)
    path = RESULTS / f"{'exact_synthetic' if args.part == 'table' else 'exact_scaling'}.csv"
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, list(out[0]))
        w.writeheader()
        w.writerows(out)
    (path.with_suffix(".meta")).write_text(
        f"{started}; {load_average('at end')}; "
        f"wall {time.perf_counter() - t0:.0f} s\n")
    report(args)


def _f(x):
    return None if x in ("", None, "None") else float(x)


def _median(xs, fmt="{:.1f}"):
    return fmt.format(statistics.median(xs)) if xs else "-"


def _solver_summary(rows: list[dict]) -> list[str]:
    lines = ["| solver | proven optimal | median time to proof (s) | median final gap | "
             "median obj / serial baseline | max runtime (s) |", "|---|---|---|---|---|---|"]
    for a in SOLVERS:
        opt = [r for r in rows if r[f"{a}_status"] == "optimal"]
        gaps = [(_f(r[f"{a}_obj"]) - _f(r[f"{a}_lb"])) / _f(r[f"{a}_obj"]) for r in rows]
        ratio = [_f(r[f"{a}_obj"]) / _f(r["serial_ub"]) for r in rows if r.get("serial_ub")]
        lines.append(f"| {a} | {len(opt)}/{len(rows)} | "
                     f"{_median([_f(r[f'{a}_time']) for r in opt])} | "
                     f"{100 * statistics.median(gaps):.1f}% | {_median(ratio, '{:.3f}')} | "
                     f"{max(_f(r[f'{a}_time']) for r in rows):.1f} |")
    if all(r.get(f"{a}_ws_obj") not in (None, "", "None") for a in SOLVERS for r in rows):
        ws = [_f(r["cpsat_ws_obj"]) / _f(r["serial_ub"]) for r in rows]
        better = {a: sum(_f(r[f"{a}_obj"]) < _f(r[f"{a}_ws_obj"]) for r in rows) for a in SOLVERS}
        lines += ["", f"Warm start (local search for 10% of the limit, run by each solver "
                  f"itself; it stops at its time budget, so the two runs can differ): "
                  f"median objective / serial "
                  f"{_median(ws, '{:.3f}')} (min {min(ws):.3f}). The solver improved on its "
                  f"own warm start on "
                  + ", ".join(f"{better[a]}/{len(rows)} ({a})" for a in SOLVERS) + "."]
    return lines


def report(args: argparse.Namespace) -> None:
    name = "exact_synthetic" if args.part == "table" else "exact_scaling"
    path = RESULTS / f"{name}.csv"
    with path.open() as f:
        rows = list(csv.DictReader(f))
    meta = path.with_suffix(".meta")
    mline = meta.read_text().strip() if meta.exists() else machine()
    common = [f"Machine: {mline}.",
              f"Time limit {args.time_limit:g} s per solver per instance. Every solver run and LP "
              f"is single-threaded (HiGHS `threads=1`, CP-SAT `num_workers=1`, seed 0) and "
              f"{args.jobs} such jobs run at a time on the 2 cores. CP-SAT uses the default "
              "`events` formulation (formulations/cpsat.md); the MILP is the time-indexed "
              "model with HiGHS (formulations/time-indexed.md).",
              "Family: `lpsched.generators.mcsf_synthetic(n, seed)` (all arrivals 0, M~U[30,50], "
              "s~U[1,5], o~U[1,M-s]).",
              "Gaps are `(objective - lower bound) / objective`; a solver's lower bound is the "
              "larger of its own dual bound and the combinatorial bound."]
    if args.part == "scaling":
        lines = ["# Exact solvers on the MC-SF synthetic family: scaling in n", "", *common, "",
                 "Root LP gaps are to the proven optimum, over the instances proven optimal "
                 "(the plain time-indexed LP, and with disjoint-tail cuts).", "",
                 "| n | instances | milp proven | cpsat proven | either proven | "
                 "median cpsat time to proof (s) | median best-bound gap | "
                 "median root LP gap to optimum | median root LP+tails gap to optimum |",
                 "|---|---|---|---|---|---|---|---|---|"]
        for n in sorted({int(r["n"]) for r in rows}):
            rs = [r for r in rows if int(r["n"]) == n]
            pm = sum(r["milp_status"] == "optimal" for r in rs)
            pc = sum(r["cpsat_status"] == "optimal" for r in rs)
            pe = sum(r["milp_status"] == "optimal" or r["cpsat_status"] == "optimal" for r in rs)
            tc = [_f(r["cpsat_time"]) for r in rs if r["cpsat_status"] == "optimal"]
            gap = [(_f(r["best_obj"]) - _f(r["best_lb"])) / _f(r["best_obj"]) for r in rs]
            prov = [r for r in rs if "optimal" in (r["milp_status"], r["cpsat_status"])]
            lpg = [100 * (1 - _f(r["lp"]) / _f(r["best_obj"])) for r in prov if r.get("lp")]
            lptg = [100 * (1 - _f(r["lp_tails"]) / _f(r["best_obj"])) for r in prov
                    if r.get("lp_tails")]
            lines.append(f"| {n} | {len(rs)} | {pm} | {pc} | {pe} | {_median(tc)} | "
                         f"{100 * statistics.median(gap):.1f}% | {_median(lpg, '{:.1f}%')} | "
                         f"{_median(lptg, '{:.1f}%')} |")
        lines += ["", *_solver_summary(rows), "", "| " + " | ".join(rows[0]) + " |",
                  "|" + "---|" * len(rows[0])]
        lines += ["| " + " | ".join(str(r[c]) for c in rows[0]) + " |" for r in rows]
    else:
        lp_gap = [(_f(r["best_obj"]) - _f(r["lp"])) / _f(r["best_obj"]) for r in rows]
        lpt_gap = [(_f(r["best_obj"]) - _f(r["lp_tails"])) / _f(r["best_obj"]) for r in rows]
        comb_gap = [(_f(r["best_obj"]) - _f(r["comb_lb"])) / _f(r["best_obj"]) for r in rows]
        best_gap = [(_f(r["best_obj"]) - _f(r["best_lb"])) / _f(r["best_obj"]) for r in rows]
        proven = [r for r in rows if "optimal" in (r["milp_status"], r["cpsat_status"])]
        lines = ["# Exact solvers on the MC-SF synthetic family (n = 40..60)", "", *common,
                 "`best_obj` is the best objective either solver found: the optimum only when "
                 "one proved it, so LP gaps measured against it *overstate* the gap to the "
                 "optimum by at most the (unknown) distance of best_obj to the optimum.", "",
                 f"Instances: {len(rows)}, n = {min(int(r['n']) for r in rows)}.."
                 f"{max(int(r['n']) for r in rows)}. Proven optimal by either solver: "
                 f"{len(proven)}/{len(rows)} (goal: 90%).", "", *_solver_summary(rows), "",
                 f"Root LP bound (plain time-indexed LP) gap to best objective: median "
                 f"{100 * statistics.median(lp_gap):.1f}% (min {100 * min(lp_gap):.1f}%, max "
                 f"{100 * max(lp_gap):.1f}%); median time "
                 f"{_median([_f(r['lp_time']) for r in rows])} s.",
                 f"Root LP with disjoint-tail cuts (rounds until the time limit; median "
                 f"{_median([_f(r['lp_tails_rounds']) for r in rows], '{:.0f}')} rounds): median gap "
                 f"{100 * statistics.median(lpt_gap):.1f}% (min {100 * min(lpt_gap):.1f}%, max "
                 f"{100 * max(lpt_gap):.1f}%); median time "
                 f"{_median([_f(r['lp_tails_time']) for r in rows])} s.",
                 f"Combinatorial bound gap: median {100 * statistics.median(comb_gap):.1f}%. "
                 f"Best bound of all (LPs, combinatorial, both solvers): median "
                 f"{100 * statistics.median(best_gap):.1f}%.", "",
                 "| seed | n | M | serial UB | CP-SAT's warm start | comb LB | root LP | root LP+tails | "
                 "MILP status | MILP obj | MILP LB | MILP s | CP-SAT status | CP-SAT obj | "
                 "CP-SAT LB | CP-SAT s |",
                 "|" + "---|" * 16]
        if args.reuse_lp:
            lines[len(common) + 3:len(common) + 3] = [
                "The two root-LP columns (values and times) are copied from the previous run "
                "of this benchmark (`--reuse-lp`): they do not depend on the solvers."]
        for r in rows:
            lines.append("| " + " | ".join(str(r.get(c, "-")) for c in (
                "seed", "n", "M", "serial_ub", "cpsat_ws_obj", "comb_lb", "lp", "lp_tails",
                "milp_status",
                "milp_obj", "milp_lb", "milp_time", "cpsat_status", "cpsat_obj", "cpsat_lb",
                "cpsat_time")) + " |")
    path.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(path.with_suffix(".md").read_text())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=("table", "scaling"), default="table")
    p.add_argument("--instances", type=int, default=20, help="table: number of instances")
    p.add_argument("--seed0", type=int, default=0, help="table: first seed")
    p.add_argument("--sizes", type=int, nargs="+", default=[10, 12, 14, 16, 18, 20],
                   help="scaling: the values of n")
    p.add_argument("--seeds", type=int, default=5, help="scaling: instances per n")
    p.add_argument("--time-limit", type=float, default=60.0)
    p.add_argument("--jobs", type=int, default=2, help="single-threaded jobs run at a time")
    p.add_argument("--report", action="store_true", help="only rebuild the markdown")
    p.add_argument("--reuse-lp", action="store_true",
                   help="table: copy the LP columns from the committed CSV (not recomputed)")
    args = p.parse_args()
    os.environ.setdefault("PYTHONHASHSEED", "0")
    if args.report:
        report(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
