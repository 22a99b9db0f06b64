"""Benchmark: CP-SAT variants for proofs at n = 20-30 on the MC-SF synthetic family (issue 12).

Instances: ``lpsched.generators.mcsf_synthetic(n, seed)`` (all arrivals 0, ``M ~ U[30,50]``,
``s ~ U[1,5]``, ``o ~ U[1, M-s]``), n = 20 (seeds 20000-20007) and n = 30 (seeds
30000-30007) by default (``--sizes``, ``--count``), or explicit ``--cases N:SEED``
(the committed run also used the n = 16 and 18 instances of ``exact_scaling``, seeds
2600-2603 and 2800-2803, where proofs happen). Every variant runs
``solve(inst, "cpsat", time_limit=L, seed=0, ...)`` on the same instances, one solve at a
time (the machine has 2 cores, shared), variants interleaved per instance so that they
see similar load, and appends one row per solve to ``benchmarks/results/cpsat_proofs.csv``;
``--report`` rewrites ``cpsat_proofs.md`` from that CSV (per variant and n: proven count,
median time to proof, median final gap ``(obj - lb) / obj``) with a consistency check
across variants (no bound above any objective, every claimed optimum the best objective).
``--cases 14:2400 16:2600 --out benchmarks/results/cpsat_proofs_screen`` was the
screening run.

Variants (``VARIANTS``): ``base-1w`` / ``base-2w`` (the default ``cpsat`` with 1 / 2 CP-SAT
workers); ``ramp-*`` (option ``ramp_pieces=4``), ``ramp8-1w`` (8), ``rampfull-*``
(``ramp_pieces=10000``: one piece per decode token, the exact staircase) add the redundant
lower-staircase cumulative of ``formulations/cpsat.md``; ``ramp-lin2-1w`` with
``linearization_level=2``.

Usage (from the repository root)::

    python benchmarks/bench_cpsat_proofs.py --variant base-1w --time-limit 60
    python benchmarks/bench_cpsat_proofs.py --variant base-2w ramp-1w ramp-2w
    python benchmarks/bench_cpsat_proofs.py --report
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import appending_rows, cpu_model, load_average, machine  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "cpsat_proofs"
VARIANTS: dict[str, dict] = {
    "base-1w": {"threads": 1},
    "base-2w": {"threads": 2},
    "ramp-1w": {"threads": 1, "ramp_pieces": 4},
    "ramp-2w": {"threads": 2, "ramp_pieces": 4},
    "ramp8-1w": {"threads": 1, "ramp_pieces": 8},
    "rampfull-2w": {"threads": 2, "ramp_pieces": 10_000},
    "rampfull-1w": {"threads": 1, "ramp_pieces": 10_000},
    "ramp-lin2-1w": {"threads": 1, "ramp_pieces": 4, "linearization_level": 2},
}
COLS = ["variant", "n", "seed", "M", "time_limit", "status", "obj", "lb", "gap", "time",
        "ws_obj", "branches", "conflicts", "load1"]


def run_one(n: int, seed: int, variant: str, time_limit: float) -> dict:
    from lpsched.generators import mcsf_synthetic
    from lpsched.solve import solve

    inst = mcsf_synthetic(n, seed)
    load1 = os.getloadavg()[0]
    t = time.perf_counter()
    r = solve(inst, "cpsat", time_limit=time_limit, seed=0, **VARIANTS[variant])
    wall = time.perf_counter() - t
    obj, lb = r.objective, r.lower_bound
    return {"variant": variant, "n": n, "seed": seed, "M": inst.memory, "time_limit": time_limit,
            "status": r.status.value, "obj": obj, "lb": lb,
            "gap": round((obj - lb) / obj, 4), "time": round(wall, 2),
            "ws_obj": r.stats.get("warm_start_objective", ""),
            "branches": r.stats.get("branches", ""), "conflicts": r.stats.get("conflicts", ""),
            "load1": round(load1, 2)}


def run(variants: list[str], cases: list[tuple[int, int]], time_limit: float,
        out: Path) -> None:
    """Every variant on every case, interleaved per instance (so they see similar load)."""
    print(machine(), flush=True)
    with appending_rows(out.with_suffix(".csv"), COLS) as wr:
        for n, seed in cases:
            for variant in variants:
                row = run_one(n, seed, variant, time_limit)
                wr.writerow(row)
                print(row, flush=True)
    print(load_average("at end"), flush=True)


def report(out: Path) -> None:
    rows = list(csv.DictReader(out.with_suffix(".csv").open()))
    keys = sorted({(r["variant"], int(r["n"])) for r in rows}, key=lambda k: (k[1], k[0]))
    lines = ["# CP-SAT variants for proofs (MC-SF synthetic family, issue 12)", "",
             "Script: `benchmarks/bench_cpsat_proofs.py` (instances, variants and usage in its "
             f"docstring). Machine: cpus={os.cpu_count()}, CPU: {cpu_model()}, OR-Tools "
             f"{_ortools_version()}; time limit "
             f"{', '.join(sorted({r['time_limit'] for r in rows}))} s per solve. "
             "One instance at a time on a 2-core machine shared with other jobs "
             "(column `load1` of the CSV: 1-minute load average when each instance started). "
             "Gap = (objective - lower bound) / objective; the lower bound is the larger of "
             "CP-SAT's bound and the combinatorial bound. `obj / best obj`: the variant's "
             "objective over the best objective any variant found on the same instance.", "",
             "| variant | n | instances | proven | median time to proof (s) | median gap | "
             "mean gap | obj / best obj (mean, max) | improved on warm start | median load1 |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    best = {}
    for r in rows:
        key = (r["n"], r["seed"])
        best[key] = min(best.get(key, float("inf")), float(r["obj"]))
    for v, n in keys:
        rs = [r for r in rows if r["variant"] == v and int(r["n"]) == n]
        proved = [float(r["time"]) for r in rs if r["status"] == "optimal"]
        gaps = [float(r["gap"]) for r in rs]
        tp = f"{statistics.median(proved):.1f}" if proved else "-"
        ratio = [float(r["obj"]) / best[(r["n"], r["seed"])] for r in rs]
        better = sum(1 for r in rs if r["ws_obj"] and float(r["obj"]) < float(r["ws_obj"]))
        lines.append(f"| {v} | {n} | {len(rs)} | {len(proved)} | {tp} | "
                     f"{100 * statistics.median(gaps):.1f}% | {100 * statistics.mean(gaps):.1f}% | "
                     f"{statistics.mean(ratio):.4f}, {max(ratio):.4f} | {better}/{len(rs)} | "
                     f"{statistics.median(float(r['load1']) for r in rs):.1f} |")
    lines += ["", *consistency(rows), "", f"Per instance: `{out.name}.csv`."]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _ortools_version() -> str:
    import ortools

    return ortools.__version__


def consistency(rows: list[dict]) -> list[str]:
    """Cross-check of the variants: on every instance, no lower bound above any schedule's
    objective, and every ``optimal`` objective equal to the best objective found."""
    by: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        by.setdefault((r["n"], r["seed"]), []).append(r)
    bad, proved = [], 0
    for key, rs in by.items():
        best = min(float(r["obj"]) for r in rs)
        if max(float(r["lb"]) for r in rs) > best:
            bad.append(f"{key}: a lower bound exceeds the best objective {best}")
        for r in rs:
            if r["status"] == "optimal":
                proved += 1
                if float(r["obj"]) != best:
                    bad.append(f"{key}: {r['variant']} claims {r['obj']} optimal, best is {best}")
    head = (f"Consistency over {len(by)} instances ({proved} optimality claims): every lower "
            "bound <= every objective, every claimed optimum equal to the best objective: ")
    return [head + ("yes." if not bad else "NO:"), *bad]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", nargs="+", choices=sorted(VARIANTS),
                    help="one or more variants, run interleaved per instance")
    ap.add_argument("--sizes", type=int, nargs="+", default=[20, 30])
    ap.add_argument("--count", type=int, default=8)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--cases", nargs="+", metavar="N:SEED",
                    help="explicit instances instead of --sizes/--count")
    ap.add_argument("--out", type=Path, default=OUT, help="results path without suffix")
    ap.add_argument("--report", action="store_true")
    args = ap.parse_args()
    if args.cases:
        cases = [(int(c.split(":")[0]), int(c.split(":")[1])) for c in args.cases]
    else:
        cases = [(n, 1000 * n + k) for n in args.sizes for k in range(args.count)]
    if args.report:
        report(args.out)
    elif args.variant:
        run(args.variant, cases, args.time_limit, args.out)
    else:
        ap.error("give --variant or --report")


if __name__ == "__main__":
    main()
