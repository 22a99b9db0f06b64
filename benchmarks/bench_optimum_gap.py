"""How far are the heuristics from the library's proven optima and best known figures?

Usage (from the repository root)::

    python benchmarks/bench_optimum_gap.py --sets mcsf-n10-20,mcsf-n20-30,mcsf-n40-60 \\
        --algos fcfs,sf,mc-sf,sorted-f,sorted-f-cont,local-search \\
        --time-limit 10 --out benchmarks/results/optimum_gap
    # variants of one algorithm: label=algorithm:option=value;option=value
    # (option "time": that variant's own time limit in seconds)
    python benchmarks/bench_optimum_gap.py --sets mcsf-n10-20 \\
        --algos "local-search,ls-long=local-search:restarts=2000" --time-limit 10

Every run goes through :func:`lpsched.solve` (the schedule is checked by the one
checker), seed 0, one run at a time. Per instance it records the objective, the
ratio to the library's proven optimum (``optimum``; only where one is proven),
to its best known objective (``best_known``, which may come from a solver run
with a longer limit, or be reached by this run) and the gap to its best lower
bound ``(obj - lower_bound) / obj``, with the 1-minute load average when the run
started. ``--merge-out`` writes the best schedule of this run per instance as a
merge CSV for ``benchmarks/build_library.py --merge`` (seed, n, best, by, starts).
The report groups instances by set and ``n``; ``ratio to <baseline>`` is the
mean of ``obj / obj(baseline)`` on the same instance in the same run (the
first algorithm unless ``--baseline``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import machine  # noqa: E402

from lpsched import library, registry  # noqa: E402
from lpsched.check import check  # noqa: E402
from lpsched.solve import solve  # noqa: E402

COLS = ["set", "instance", "n", "seed", "algorithm", "status", "objective", "optimum",
        "best_known", "lower_bound", "ratio_to_opt", "ratio_to_best", "gap_to_lb", "time_s",
        "load1"]


def parse_algos(text: str) -> list[tuple[str, str, dict]]:
    """``label=algorithm:opt=val;opt=val`` items -> (label, algorithm, options); values are
    read as JSON (``true``, ``200``) when they parse, else kept as text."""
    out = []
    for item in (x.strip() for x in text.split(",")):
        if not item:
            continue
        label, _, rest = item.partition("=") if "=" in item.split(":")[0] else ("", "", item)
        name, _, opts = rest.partition(":")
        spec = registry.get(name)  # unknown names fail before any run
        options = {}
        for kv in filter(None, opts.split(";")):
            k, _, v = kv.partition("=")
            try:  # JSON values (true, false, numbers), else the text
                options[k] = json.loads(v)
            except json.JSONDecodeError:
                options[k] = v
        out.append((label or name, spec.name, options))
    return out


def run_one(inst, set_name: str, label: str, algo: str, options: dict, time_limit: float):
    options = dict(options)
    time_limit = float(options.pop("time", time_limit))  # a per-algorithm time limit
    md = inst.metadata
    load1 = os.getloadavg()[0]
    t0 = time.perf_counter()
    res = solve(inst, algo, time_limit=time_limit, seed=0, **options)
    elapsed = time.perf_counter() - t0
    obj = res.objective if res.schedule is not None else None
    if obj is not None:
        assert check(inst, res.schedule).objective == obj
    opt, best, lb = md.get("optimum"), md["best_known"], md["lower_bound"]

    def r(x, y):
        return round(x / y, 5) if x is not None and y else None

    row = {"set": set_name, "instance": inst.name, "n": inst.n, "seed": md["seed"],
           "algorithm": label, "status": res.status.value, "objective": obj, "optimum": opt,
           "best_known": best, "lower_bound": lb, "ratio_to_opt": r(obj, opt),
           "ratio_to_best": r(obj, best),
           "gap_to_lb": round((obj - lb) / obj, 5) if obj else None,
           "time_s": round(elapsed, 3), "load1": round(load1, 2)}
    return row, (res.schedule.starts.tolist() if obj is not None else None)


def summary(rows: list[dict], labels: list[str], baseline: str) -> list[str]:
    base = {r["instance"]: r["objective"] for r in rows if r["algorithm"] == baseline}
    sizes: dict[str, set] = {}
    for r in rows:
        sizes.setdefault(r["set"], set()).add(r["n"])
    # a set with many sizes (one instance each) is one group, its n shown as a range
    size_of = {s: (None if len(ns) <= 6 else f"{min(ns)}-{max(ns)}") for s, ns in sizes.items()}
    rows = [{**r, "n": size_of[r["set"]] or r["n"]} for r in rows]
    groups = sorted({(r["set"], r["n"]) for r in rows}, key=lambda g: (str(g[1]), g[0]))
    lines = ["| set | n | algorithm | runs | proven | mean / opt | worst / opt | at opt | "
             f"mean / best known | worst / best known | mean gap to LB % | ratio to {baseline} "
             "| mean time s |", "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def fmt(xs, f=statistics.fmean, d=4):
        return f"{f(xs):.{d}f}" if xs else "-"

    for s, n in groups:
        for lab in labels:
            mine = [r for r in rows if r["set"] == s and r["n"] == n and r["algorithm"] == lab]
            to_opt = [r["ratio_to_opt"] for r in mine if r["ratio_to_opt"] is not None]
            to_best = [r["ratio_to_best"] for r in mine if r["ratio_to_best"] is not None]
            gaps = [100 * r["gap_to_lb"] for r in mine if r["gap_to_lb"] is not None]
            vs = [r["objective"] / base[r["instance"]] for r in mine
                  if r["objective"] and base.get(r["instance"])]
            lines.append(
                f"| {s} | {n} | {lab} | {len(mine)} | {len(to_opt)} | {fmt(to_opt)} | "
                f"{fmt(to_opt, max)} | {sum(x == 1 for x in to_opt)} | {fmt(to_best)} | "
                f"{fmt(to_best, max)} | {fmt(gaps, d=1)} | {fmt(vs)} | "
                f"{fmt([r['time_s'] for r in mine], d=2)} |")
    return lines


def pooled(rows: list[dict], labels: list[str], max_n: int) -> list[str]:
    """Against proven optima, pooled over all instances with n <= max_n."""
    lines = [f"| algorithm | proven instances (n <= {max_n}) | mean / opt | worst / opt | at opt |",
             "|---|---:|---:|---:|---:|"]
    for lab in labels:
        x = [r["ratio_to_opt"] for r in rows if r["algorithm"] == lab and r["n"] <= max_n
             and r["ratio_to_opt"] is not None]
        if x:
            lines.append(f"| {lab} | {len(x)} | {statistics.fmean(x):.4f} | {max(x):.4f} | "
                         f"{sum(v == 1 for v in x)} |")
    return lines


def write_rows(out: Path, rows: list[dict]) -> None:
    with out.with_suffix(".csv").open("w", newline="", encoding="utf-8") as fh:
        wr = csv.DictWriter(fh, fieldnames=COLS)
        wr.writeheader()
        wr.writerows(rows)


def write_merge(path: Path, best: dict, mach: str, commit: str) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        wr = csv.DictWriter(fh, fieldnames=["seed", "n", "best", "by", "starts", "time_limit",
                                            "machine", "source", "commit"])
        wr.writeheader()
        for (n, seed), (obj, label, starts, tl) in sorted(best.items()):
            wr.writerow({"seed": seed, "n": n, "best": obj, "by": f"{label} (seed 0)",
                         "starts": " ".join(map(str, starts)), "time_limit": tl,
                         "machine": mach, "source": "benchmarks/bench_optimum_gap.py "
                                                    f"(results: {path.name})",
                         "commit": commit})


def rescore(out: Path) -> tuple[list[dict], list[str], list[str]]:
    """Rows of ``out.csv`` with optimum, best known, bound and ratios from the current
    library (after its update), the run's labels in order and the old report's header."""
    with out.with_suffix(".csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        md = library.load_instance(r["instance"]).metadata
        obj = int(r["objective"]) if r["objective"] not in ("", "None") else None
        opt, best, lb = md.get("optimum"), md["best_known"], md["lower_bound"]
        r.update({"n": int(r["n"]), "objective": obj, "optimum": opt, "best_known": best,
                  "lower_bound": lb, "time_s": float(r["time_s"]),
                  "ratio_to_opt": round(obj / opt, 5) if obj and opt else None,
                  "ratio_to_best": round(obj / best, 5) if obj else None,
                  "gap_to_lb": round((obj - lb) / obj, 5) if obj else None})
    labels = list(dict.fromkeys(r["algorithm"] for r in rows))
    old = out.with_suffix(".md").read_text(encoding="utf-8").splitlines()
    header = [x for x in old[:old.index("| algorithm | proven instances (n <= 30) | mean / opt "
                                        "| worst / opt | at opt |")]
              if not x.startswith(("Rescored", "Ratios rescored"))]
    while header and not header[-1].strip():  # a rerun must not add blank lines
        header.pop()
    return rows, labels, [*header, ""]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="mcsf-n10-20,mcsf-n20-30,mcsf-n40-60")
    ap.add_argument("--algos", default="fcfs,sf,mc-sf,sorted-f,sorted-f-cont,local-search")
    ap.add_argument("--baseline", default=None, help="label of the ratio baseline")
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--max-n", type=int, default=None, help="only instances with n <= this")
    ap.add_argument("--proven-only", action="store_true",
                    help="only instances with a proven optimum")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "optimum_gap"))
    ap.add_argument("--merge-out", default=None, help="write the best schedules as a merge CSV")
    ap.add_argument("--title", default="Heuristics against the library's optima and bounds")
    ap.add_argument("--rescore", action="store_true",
                    help="no runs: recompute the ratios of --out.csv against the current "
                         "library (e.g. after merging this run's schedules) and rewrite --out.md")
    args = ap.parse_args(argv)
    if args.rescore:
        rows, labels, header = rescore(Path(args.out))
        lines = [*header, "Ratios rescored (`--rescore`) against the library as it is in "
                 "the same commit as this file (after merging this run's best schedules with "
                 "`build_library.py --no-runs --merge`).", "", *pooled(rows, labels, 30), "",
                 *summary(rows, labels, args.baseline or labels[0])]
        Path(args.out).with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
        write_rows(Path(args.out), rows)
        print("\n".join(lines))
        return 0
    algos = parse_algos(args.algos)
    labels = [a[0] for a in algos]
    baseline = args.baseline or labels[0]
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    mach0, t0 = machine(), time.time()
    rows, best = [], {}
    for set_name in args.sets.split(","):
        for inst in library.load_set(set_name):
            if args.max_n is not None and inst.n > args.max_n:
                continue
            if args.proven_only and inst.metadata.get("optimum") is None:
                continue
            for label, algo, options in algos:
                row, starts = run_one(inst, set_name, label, algo, options, args.time_limit)
                rows.append(row)
                print(",".join(str(row[c]) for c in COLS), flush=True)
                key = (inst.n, row["seed"])
                if starts is not None and (key not in best or row["objective"] < best[key][0]):
                    spec = algo + "".join(f" {k}={json.dumps(v)}" for k, v in options.items()
                                          if k != "time")
                    best[key] = (row["objective"], spec, starts,
                                 float(options.get("time", args.time_limit)))
    out = Path(args.out)
    write_rows(out, rows)
    if args.merge_out:
        write_merge(Path(args.merge_out), best, machine("at end"), commit)
    cmd = "python benchmarks/bench_optimum_gap.py " + " ".join(
        f'"{a}"' if (";" in a or " " in a) else a for a in (argv or sys.argv[1:]))
    lines = [f"# {args.title}", "",
             f"Machine: {mach0}; {machine('at end').split('CPU: ')[-1].split(', ', 1)[-1]}; "
             f"wall {time.time() - t0:.0f} s. Commit {commit}. Command: `{cmd}`.", "",
             f"Time limit {args.time_limit:g} s per run, seed 0, one run at a time (column "
             "`load1` of the CSV: 1-minute load average when each run started). Optima, best "
             "known objectives and lower bounds are the library's (`lpsched/instances/index.json`"
             ", provenance in each instance's `figures`; docs/library.md). `/ opt`: objective "
             "over the proven optimum (proven instances only); `/ best known`: over the best "
             "known objective; gap to LB: (objective - lower bound) / objective.", "",
             *pooled(rows, labels, 30), "", *summary(rows, labels, baseline)]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
