"""Benchmark: ``replay`` in seconds against the step simulation of the same rule, one run.

Both sides run the one engine (:mod:`lpsched.engine`) with the ``vllm`` policy under the
same limits (vLLM V1's ``vllm serve`` defaults on an H100: blocks of 16 tokens, a budget
of 8192 tokens a step with chunked prefill, 1024 sequences, watermark 0, V1's KV
accounting, asynchronous scheduling) on the whole trace, with ``M`` = the KV tokens of
Llama-3-70B on 2 x H100:

* **steps**: :func:`lpsched.engine.run_engine` with the unit clock and the checker on its
  schedule (what ``solve`` does) on the trace read by :func:`lpsched.instance.read_trace`
  (arrivals in steps of 25 ms, every step one unit);
* **replay**: :func:`lpsched.serving.replay.replay` (arrivals in seconds, each step as
  long as the step-time model says; metrics, per-request times and the checker included).

Reading the trace and building the step-time model are outside both timings (the model
is built once before: its first build fits the calibration). The two alternate,
``--repeats`` times each, so both see the same machine load; the ratio is of the fastest
runs. Usage (the trace is third-party data, not in the repository)::

    python benchmarks/bench_replay_speed.py PATH/azure_conv_2023.csv [--repeats 3]

Writes ``benchmarks/results/replay_speed.md`` and ``replay_speed.csv``.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import time
from pathlib import Path

from lpsched.check import check
from lpsched.engine import EngineLimits, run_engine
from lpsched.heuristics.vllm import VLLMPolicy
from lpsched.instance import read_trace
from lpsched.serving.replay import load_workload, replay
from lpsched.serving.steptime import build_step_time, kv_capacity

OUT = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("trace", type=Path)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=OUT / "replay_speed")
    a = ap.parse_args(argv)
    gpu, model, tp = "h100", "llama3-70b", 2
    memory = kv_capacity(gpu, model, tp)
    t0 = time.perf_counter()
    build_step_time(gpu, model, tp)
    setup = time.perf_counter() - t0
    inst = read_trace(a.trace, memory, block_size=16)
    w = load_workload(str(a.trace))
    rows = []
    load_before = os.getloadavg()
    for rep in range(a.repeats):
        t = time.perf_counter()
        res = run_engine(inst, VLLMPolicy(), limits=EngineLimits.vllm_v1())
        assert check(res.schedule.instance, res.schedule).feasible
        steps_s = time.perf_counter() - t
        t = time.perf_counter()
        rr = replay(w, "vllm", gpu=gpu, model=model, tensor_parallel=tp)
        replay_s = time.perf_counter() - t
        rows.append({"repeat": rep + 1, "requests": inst.n, "steps_wall_s": round(steps_s, 3),
                     "steps_engine_s": round(res.runtime, 6),
                     "replay_wall_s": round(replay_s, 3),
                     "replay_engine_s": rr.metrics["engine_s"],
                     "ratio_wall": round(replay_s / steps_s, 3),
                     "steps_decision_times": res.decision_times,
                     "replay_decision_times": rr.simulation.decision_times,
                     "replay_steps": rr.metrics["steps"],
                     "mean_e2el_s": round(rr.metrics["mean_e2el_ms"] / 1e3, 3),
                     "preemptions": rr.metrics["preemptions"]})
        print(rows[-1], flush=True)
    load_after = os.getloadavg()
    best_steps = min(r["steps_wall_s"] for r in rows)
    best_replay = min(r["replay_wall_s"] for r in rows)
    ratio = best_replay / best_steps
    eng = min(r["replay_engine_s"] for r in rows) / min(r["steps_engine_s"] for r in rows)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with open(a.out.with_suffix(".csv"), "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    cols = list(rows[0])
    table = "\n".join(["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
                      + ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows])
    a.out.with_suffix(".md").write_text(
        "# `replay` in seconds against the step simulation of the same rule\n\n"
        f"Trace: `{a.trace.name}` ({inst.n} requests), `vllm` policy, vLLM V1 limits "
        f"(block 16, budget 8192 with chunked prefill, 1024 sequences, watermark 0, V1 KV "
        f"accounting, asynchronous scheduling), {model} on {tp} x {gpu.upper()} "
        f"(M = {memory} KV tokens). "
        f"{a.repeats} alternating repeats.\n\n"
        f"**Ratio (fastest replay / fastest step simulation): {ratio:.2f}** "
        f"(engine loops only: {eng:.2f}). Step-time model built once before the runs "
        f"({setup:.2f} s, not counted).\n\n"
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average (1, 5, 15 min) before "
        f"{tuple(round(x, 2) for x in load_before)}, after "
        f"{tuple(round(x, 2) for x in load_after)} (a shared machine: the ratio is "
        "measured side by side, absolute times are not comparable across runs).\n\n"
        f"Command: `python benchmarks/bench_replay_speed.py PATH/{a.trace.name} "
        f"--repeats {a.repeats}`\n\n" + table + "\n")
    print(f"ratio {ratio:.2f} (engine {eng:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
