"""Benchmark: the simulator with MC-SF and the baselines on a full request trace.

The Azure conversation trace (19,366 requests; ``lpsched.read_trace``, online
arrivals, ``floor((t - t0) / step_seconds)`` with 0.025 s steps by default; and the
same requests as an offline backlog) at KV budget ``M`` (default 65536 tokens).
For each ``M``: MC-SF, FCFS, SF and size-first with exact decode lengths; MC-SF
with log-normal noisy predictions (``sigma = 0.3``, seed 0); and, as the speed
baseline in the same run, MC-SF with ``skip_idle=False`` (the policy called at
every step with a waiting request).
Every schedule is verified with :func:`lpsched.check.check`.

Columns: wall and CPU time of the whole ``solve`` (simulation + checker; CPU time is
the fairer figure when other jobs share the cores), total completion
time (objective, steps), mean and p99 latency (steps and seconds), evictions,
policy calls, decision times visited, objective / MC-SF objective, CPU time / MC-SF CPU time.

Usage (from the repository root; the trace is third-party data, not in the repo)::

    python benchmarks/bench_mcsf_trace.py /path/to/traces/azure_conv_2023.csv
    python benchmarks/bench_mcsf_trace.py TRACE --memory 65536 16384

Writes ``benchmarks/results/mcsf_trace.md`` and ``benchmarks/results/mcsf_trace.csv``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import machine, write_results  # noqa: E402

from lpsched.check import check  # noqa: E402
from lpsched.instance import read_trace  # noqa: E402
from lpsched.solve import solve  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"




RUNS = (
    ("mc-sf", "mc-sf", {}),
    ("fcfs", "fcfs", {}),
    ("sf", "sf", {}),
    ("size-first", "size-first", {}),
    ("mc-sf noise 0.3", "mc-sf", {"prediction_noise": 0.3}),
    ("mc-sf every step", "mc-sf", {"skip_idle": False}),
)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("trace", help="trace CSV path (e.g. azure_conv_2023.csv)")
    ap.add_argument("--memory", type=int, nargs="+", default=[65536], help="KV budget(s) M")
    ap.add_argument("--step-seconds", type=float, default=0.025)
    ap.add_argument("--modes", nargs="+", choices=["online", "offline"], default=["online", "offline"],
                    help="online: trace arrivals; offline: the whole trace as a backlog at step 0")
    ap.add_argument("--out", default=str(RESULTS / "mcsf_trace"),
                    help="output path without suffix (.md and .csv are written)")
    args = ap.parse_args(argv)

    warm = read_trace(args.trace, max(args.memory), step_seconds=args.step_seconds, limit=300)
    for _, algo, opts in RUNS:  # warm-up: imports and first-call costs stay out of the timings
        solve(warm, algo, seed=0, **opts)
    rows = []
    for mode, M in [(mode, M) for mode in args.modes for M in args.memory]:
        t0 = time.perf_counter()
        inst = read_trace(args.trace, M, step_seconds=args.step_seconds, offline=mode == "offline")
        t_read = time.perf_counter() - t0
        print(f"{inst.name} ({mode}): n={inst.n}, M={M}, read in {t_read:.2f} s", flush=True)
        base = {}
        for label, algo, opts in RUNS:
            t0, c0 = time.perf_counter(), time.process_time()
            res = solve(inst, algo, seed=0, **opts)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            rep = check(inst, res.schedule)
            if not rep.feasible:
                raise SystemExit(f"{label}: infeasible schedule: {rep.reason()}")
            if label == "mc-sf":
                base = {"obj": rep.objective, "cpu": cpu}
            st = res.stats
            row = {
                "trace": inst.name, "mode": mode, "n": inst.n, "M": M, "run": label,
                "time_s": round(wall, 3), "cpu_s": round(cpu, 3), "objective": rep.objective,
                "mean_latency_steps": round(rep.latency["mean"], 2),
                "p99_latency_steps": round(rep.latency["p99"], 1),
                "mean_latency_s": round(rep.latency["mean"] * args.step_seconds, 3),
                "makespan": rep.makespan, "evictions": st["evictions"],
                "recomputed_tokens": st["recomputed_tokens"], "policy_calls": st["policy_calls"],
                "decision_times": st["decision_times"], "checker": "feasible",
                "obj_vs_mcsf": round(rep.objective / base["obj"], 4),
                "cpu_vs_mcsf": round(cpu / base["cpu"], 2),
            }
            rows.append(row)
            print(row, flush=True)

    mems = " ".join(str(m) for m in args.memory)
    modes = " ".join(args.modes)
    lines = [
        "# Simulator + baseline policies on a full trace",
        "",
        f"Machine: {machine()}. Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        f"Command: `python benchmarks/bench_mcsf_trace.py {Path(args.trace).name} --memory {mems} "
        f"--step-seconds {args.step_seconds} --modes {modes}` (trace: Azure LLM inference trace, "
        "conversation service, via the Vidur project's processed traces; not shipped).",
        "",
        "`online`: trace arrivals (steps of the given length); `offline`: every request at "
        "step 0 (a backlog). Exact decode lengths unless noted; `time_s` / `cpu_s` = `lpsched.solve` "
        "wall / CPU time (simulation + checker verification); every schedule re-checked with "
        "`lpsched.check.check`. Baseline in the same run: `mc-sf every step` calls the policy at "
        "every step with a waiting request (`skip_idle=False`); `cpu_vs_mcsf` is the CPU-time ratio "
        "to `mc-sf` with idle skipping, `obj_vs_mcsf` the objective ratio. Latency = completion - "
        f"arrival step; seconds = steps x {args.step_seconds} s.",
    ]
    write_results(Path(args.out), rows, lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
