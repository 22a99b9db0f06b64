"""Run algorithms over the bundled library sets and write a Markdown + CSV report.

Usage (from the repository root)::

    python benchmarks/bench_library.py --algos fcfs,sf,mc-sf,sorted-f-cont \\
        --sets tiny,mcsf-synthetic,azure-backlog,mix-backlog,azure-online \\
        --time-limit 20 --out benchmarks/results/library_bench

Uses :func:`lpsched.bench.run_bench` (every schedule checker-verified). Per set it
reports each algorithm's mean gap to the lower bound, mean excess over the best
known objective and, against the first algorithm as the baseline of the same run,
the mean ratio ``objective / baseline objective``. The machine (``nproc``,
CPU model, Python) is written into the report.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import machine  # noqa: E402

from lpsched import library  # noqa: E402
from lpsched.bench import run_bench, write_csv  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--algos", required=True, help="comma-separated; the first is the baseline")
    ap.add_argument("--sets", default=",".join(library.SETS), help="comma-separated set names")
    ap.add_argument("--time-limit", type=float, default=20.0)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--no-bound", action="store_true",
                    help="use only the library's stored bounds (no lpsched.models.bounds calls)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "library_bench"),
                    help="output path without suffix (.md and .csv are written)")
    args = ap.parse_args(argv)
    algos = args.algos.split(",")
    sets = args.sets.split(",")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    insts, set_of = [], {}
    for s in sets:
        for inst in library.load_set(s):
            insts.append(inst)
            set_of[inst.name] = s
    run = run_bench(insts, algos, time_limit=args.time_limit, jobs=args.jobs,
                    bound=not args.no_bound, bound_time_limit=args.time_limit)
    write_csv(run, out.with_suffix(".csv"))
    base = {r.instance: r.objective for r in run.rows if r.algorithm == algos[0]}
    lines = [f"# Library benchmark: {', '.join(algos)}", "",
             f"Machine: {machine()}. Time limit {args.time_limit:g} s per run, "
             f"{len(run.rows)} runs on {run.executor}. Bounds: "
             + ("the library's stored bounds only." if args.no_bound else
                "stored bounds and lpsched.models.bounds where it can add.") + "", "",
             "gap% = 100 (obj - LB) / obj (LB: best of instance metadata, bound function, solver "
             "bounds); vs best% = 100 (obj - best known) / best known; ratio = obj / "
             f"{algos[0]} obj on the same instance (baseline of the same run).", "",
             "| set | algorithm | runs | errors | mean gap % | mean vs best % | mean ratio to "
             f"{algos[0]} | wins | proven optimal | time s |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in sets:
        rows = [r for r in run.rows if set_of[r.instance] == s]
        best = {}
        for r in rows:
            if r.objective is not None:
                best[r.instance] = min(best.get(r.instance, r.objective), r.objective)
        for a in algos:
            mine = [r for r in rows if r.algorithm == a]
            gaps = [r.gap_pct for r in mine if r.gap_pct is not None]
            vs = [r.vs_best_pct for r in mine if r.vs_best_pct is not None]
            ratios = [r.objective / base[r.instance] for r in mine
                      if r.objective is not None and base.get(r.instance)]

            def mean(x):
                return f"{sum(x) / len(x):.2f}" if x else "-"

            lines.append(
                f"| {s} | {a} | {len(mine)} | {sum(r.status == 'error' for r in mine)} | "
                f"{mean(gaps)} | {mean(vs)} | {mean(ratios)} | "
                f"{sum(r.objective is not None and r.objective == best.get(r.instance) for r in mine)}"
                f" | {sum(r.objective is not None and r.lower_bound is not None and r.objective <= r.lower_bound for r in mine)}"  # noqa: E501
                f" | {sum(r.time_s for r in mine):.2f} |")
    errors = [r for r in run.rows if r.status == "error"]
    if errors:
        lines += ["", "Errors:", ""] + [f"- {r.instance} / {r.algorithm}: {r.message}"
                                        for r in errors]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
