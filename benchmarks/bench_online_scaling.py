"""Benchmark: scaling of the online policies and the simulator, old code against new in one run.

The *old* implementation is the package at a baseline commit (default ``5fc565c``,
before the incremental Sorted-F queue), extracted with ``git archive`` into a
temporary folder and run from there; the *new* one is this working tree. Every
run is a separate Python process (``solve`` or ``simulate`` on the same instance,
wall and CPU time of that call, the schedule checked by :func:`lpsched.check.check`),
old and new of one cell back to back, so both see the same machine load.

Sections (``--sections``):

* ``sorted-f``: ``sorted-f-cont`` (with arrivals: the online Sorted-F policy) on
  the first ``n`` requests of the trace with its arrivals, for each ``M``, no
  time limit; ``sorted-f-online`` is the same policy (new code, objective shown
  to agree); ``sorted-f`` (batch-synchronous, release-aware batches);
* ``lp``: ``sorted-lp-online`` and ``lp-swap-online`` at a time limit on the first
  200 and 1,000 requests (``M = 16384``), with MC-SF's objective for reference;
* ``simulator``: MC-SF on the full trace and on a 100,000-request sample with
  trace-rate arrivals (``lpsched.workloads.sample_instance``, seed 1).

Usage (from the repository root; the trace is third-party data, not in the repo)::

    python benchmarks/bench_online_scaling.py PATH/azure_conv_2023.csv
    python benchmarks/bench_online_scaling.py TRACE --sizes 1000 2000 --memory 16384 --sections sorted-f

Writes ``benchmarks/results/online_scaling.md`` and ``online_scaling.csv``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FULL = 19366  # requests in the Azure conversation trace


# -- one run (child process) ------------------------------------------------------------------
def _child(spec: dict) -> dict:
    """Run one cell in this process (old or new package, whichever ``lpsched`` imports)."""
    from lpsched import solve
    from lpsched.check import check
    from lpsched.instance import read_trace
    from lpsched.simulate import simulate

    if spec["instance"] == "sample":
        from lpsched.workloads import sample_instance

        inst = sample_instance("azure_conv_2023", spec["n"], spec["memory"], 1,
                               arrivals="trace-rate", too_large="resample")
    else:
        inst = read_trace(spec["trace"], memory=spec["memory"], limit=spec["n"])
    from lpsched import registry

    if spec["algo"].startswith("simulate:"):
        from lpsched.heuristics.baselines import mc_sf

        w, c = time.perf_counter(), time.process_time()
        sim = simulate(inst, mc_sf())
        wall, cpu = time.perf_counter() - w, time.process_time() - c
        sched, status, stats = sim.schedule, "feasible", sim.stats()
    else:
        registry.get(spec["algo"]).load()  # imports outside the timed call, old and new alike
        if "lp" in spec["algo"]:
            import lpsched.heuristics.lp_guided  # noqa: F401
        w, c = time.perf_counter(), time.process_time()
        res = solve(inst, spec["algo"], time_limit=spec.get("limit"))
        wall, cpu = time.perf_counter() - w, time.process_time() - c
        sched, status, stats = res.schedule, res.status.value, res.stats
    rep = check(inst, sched)
    keep = ("lp_solves", "lp_cached", "lp_skipped", "drained", "policy_calls", "batches_formed",
            "order_recomputes")
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "objective": int(rep.objective),
            "feasible": bool(rep.feasible), "status": status,
            "stats": {k: stats[k] for k in keep if k in stats}}


def run_cell(spec: dict, pythonpath: str | None, timeout: float) -> dict:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                             cwd=tempfile.gettempdir() if pythonpath else str(ROOT))
    except subprocess.TimeoutExpired:
        return {"wall_s": f"> {timeout:.0f}", "cpu_s": "", "objective": "", "feasible": "",
                "status": "timeout", "stats": {}}
    if out.returncode != 0:
        return {"wall_s": "", "cpu_s": "", "objective": "", "feasible": "", "status": "error: "
                + out.stderr.strip().splitlines()[-1][:120], "stats": {}}
    return json.loads(out.stdout.strip().splitlines()[-1])


def extract_baseline(commit: str, into: Path) -> Path:
    """``git archive COMMIT lpsched`` unpacked into ``into``; returns the folder to put on
    PYTHONPATH."""
    tar = into / "old.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(tar), commit, "lpsched"],
                   check=True)
    with tarfile.open(tar) as tf:
        tf.extractall(into / "old")
    return into / "old"


# -- the sections ----------------------------------------------------------------------------
def cells(args) -> list[dict]:
    out = []
    if "sorted-f" in args.sections:
        for M in args.memory:
            for n in args.sizes:
                for algo in ("sorted-f-cont", "sorted-f-online", "sorted-f"):
                    out.append({"section": "sorted-f", "algo": algo, "memory": M, "n": n,
                                "instance": "trace", "old": algo != "sorted-f-online"})
    if "lp" in args.sections:
        for n in (200, 1000):
            for algo in ("sorted-lp-online", "lp-swap-online", "mc-sf"):
                out.append({"section": "lp", "algo": algo, "memory": 16384, "n": n,
                            "instance": "trace", "limit": args.lp_limit, "old": algo != "mc-sf"})
    if "simulator" in args.sections:
        out.append({"section": "simulator", "algo": "simulate:mc-sf", "memory": 16384, "n": FULL,
                    "instance": "trace", "old": True})
        for M in (16384, 65536):
            out.append({"section": "simulator", "algo": "simulate:mc-sf", "memory": M,
                        "n": 100_000, "instance": "sample", "old": True})
    return out


def ratio(a, b, digits: int = 2) -> str:
    try:
        return f"{float(a) / float(b):.{digits}f}"
    except (TypeError, ValueError, ZeroDivisionError):
        return ""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("trace", nargs="?", help="the Azure conversation trace CSV (Vidur layout)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000, 8000, FULL])
    ap.add_argument("--memory", type=int, nargs="+", default=[16384, 65536])
    ap.add_argument("--sections", nargs="+", default=["sorted-f", "lp", "simulator"],
                    choices=["sorted-f", "lp", "simulator"])
    ap.add_argument("--lp-limit", type=float, default=5.0, help="time limit of the LP policies")
    ap.add_argument("--baseline", default="5fc565c", help="commit of the old implementation")
    ap.add_argument("--old-timeout", type=float, default=3600.0, help="seconds per old run")
    ap.add_argument("--out", default=str(RESULTS / "online_scaling"))
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return 0
    if not args.trace:
        ap.error("the trace path is required")
    start = machine("at start")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        old_path = str(extract_baseline(args.baseline, Path(tmp)))
        for spec in cells(args):
            spec = {**spec, "trace": str(Path(args.trace).resolve())}
            new = run_cell(spec, None, args.old_timeout)
            old = run_cell(spec, old_path, args.old_timeout) if spec["old"] else {}
            row = {"section": spec["section"], "algorithm": spec["algo"].replace("simulate:", ""),
                   "M": spec["memory"], "n": spec["n"], "limit_s": spec.get("limit", ""),
                   "old_wall_s": old.get("wall_s", ""), "new_wall_s": new["wall_s"],
                   "old_cpu_s": old.get("cpu_s", ""), "new_cpu_s": new["cpu_s"],
                   "cpu_old_over_new": ratio(old.get("cpu_s"), new["cpu_s"]),
                   "old_objective": old.get("objective", ""), "new_objective": new["objective"],
                   "obj_new_over_old": ratio(new["objective"], old.get("objective"), 4),
                   "old_status": old.get("status", ""), "new_status": new["status"],
                   "checked": all(r.get("feasible", True) is True for r in (old, new) if r),
                   "new_stats": json.dumps(new["stats"], sort_keys=True)}
            rows.append(row)
            print(" ".join(f"{k}={v}" for k, v in row.items() if k != "new_stats"), flush=True)
    end = machine("at end")
    write(Path(args.out), rows, [start, end], args)
    return 0


def write(out: Path, rows: list[dict], machines: list[str], args) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.with_suffix(".csv").open("w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    lines = ["# Online policies and simulator: old against new, one run", "",
             f"Machine: {machines[0]}; {machines[1].split('CPU: ')[-1].split(', ', 1)[-1]}.",
             "Other jobs shared the 2 cores during the run: compare the old/new ratios of one "
             "row (measured back to back), not absolute times across rows. CPU time is the "
             "fairer figure under load.", "",
             f"Old: the package at commit `{args.baseline}` (git archive); new: this tree. "
             "Trace: the Azure conversation trace with its arrivals (0.025 s steps), first `n` "
             "requests; `sample`: 100,000 requests drawn from its profile with trace-rate "
             "arrivals. No time limit unless `limit_s` is given. Every schedule verified by "
             "the checker (`checked`).", ""]
    cols = [c for c in rows[0] if c not in ("section", "new_stats")]
    for section in dict.fromkeys(r["section"] for r in rows):
        lines += [f"## {section}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows
                  if r["section"] == section]
        lines.append("")
    out.with_suffix(".md").write_text("\n".join(lines))
    print(f"wrote {out.with_suffix('.md')} and {out.with_suffix('.csv')}")


if __name__ == "__main__":
    raise SystemExit(main())
