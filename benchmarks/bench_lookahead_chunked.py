"""Benchmark: the look-ahead policies under vLLM V1's limits, before and after the fix.

The look-ahead policies (``fcfs``, ``mc-sf``, ``sf``; :class:`lpsched.heuristics.
baselines.LookaheadPolicy`) plan with the papers' memory model. Under vLLM V1's limits
the engine's guard preempted them: (i) with asynchronous scheduling a finished request
still holds its blocks one step (counted now by default, ``async_aware``); (ii) with
chunked prefill a request admitted at ``q`` starts decoding only after its last chunk
(predicted with ``chunk_aware``, off by default). Three rules, same process (class
attributes): ``old`` (neither), ``default`` (i), ``chunked`` (i and ii):

* the library set ``azure-online`` in the step model, under the papers' limits
  (:data:`~lpsched.engine.limits.PAPERS`) and under vLLM V1's
  (:meth:`~lpsched.engine.limits.EngineLimits.vllm_v1` with ``block_size=1``, the
  instances' own, everything else V1's: 8192 tokens a step, chunked prefill, 1024
  sequences, V1's KV accounting, asynchronous scheduling); exact predictions;
* ``lpsched replay`` with its defaults (Llama-3-70B on H100s, V1 limits, blocks of 16) on
  the first ``--num-prompts`` requests of a trace, and the same with ``--memory`` KV tokens
  so that memory binds.

Usage (the trace is third-party data, not in the repository)::

    python benchmarks/bench_lookahead_chunked.py TRACE [--num-prompts 1000] [--memory 65536]

Writes ``benchmarks/results/lookahead_chunked.md`` and ``.csv``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, write_results  # noqa: E402

from lpsched.check import check
from lpsched.engine import EngineLimits, run_engine
from lpsched.engine.limits import PAPERS
from lpsched.heuristics.baselines import LookaheadPolicy
from lpsched.library import load_set
from lpsched.registry import make_policy
from lpsched.serving.replay import load_workload, replay

OUT = Path(__file__).resolve().parent / "results"
ALGOS = ("fcfs", "mc-sf", "sf")
#: (label, async_aware, chunk_aware): the papers' count, the default, chunked starts too
RULES = (("old", False, False), ("default", True, False), ("chunked", True, True))


def _set_rule(async_aware: bool, chunk_aware: bool) -> None:
    LookaheadPolicy.async_aware = async_aware
    LookaheadPolicy.chunk_aware = chunk_aware


def _step_rows(set_name: str) -> list[dict]:
    rows = []
    v1 = EngineLimits.vllm_v1(block_size=1)
    for inst in load_set(set_name):
        for lim_name, lim in (("papers", PAPERS), ("v1", v1)):
            for algo in ALGOS:
                for rule, aa, ca in RULES:
                    _set_rule(aa, ca)
                    t0 = time.perf_counter()
                    res = run_engine(inst, make_policy(algo, {}), limits=lim)
                    dt = time.perf_counter() - t0
                    sched = res.schedule
                    assert check(sched.instance, sched).feasible, (inst.name, algo, rule)
                    lat = sched.completions - sched.instance.arrival
                    rows.append({"workload": inst.name, "limits": lim_name, "algo": algo,
                                 "rule": rule, "preemptions": res.evictions,
                                 "mean_latency": round(float(np.mean(lat)), 2),
                                 "policy_calls": res.policy_calls,
                                 "runtime_s": round(dt, 3)})
                    print(rows[-1], flush=True)
    return rows


def _replay_rows(trace: Path, num_prompts: int, memory: int | None) -> list[dict]:
    rows = []
    w = load_workload(str(trace), num_prompts=num_prompts)
    tag = f"{trace.name}[:{num_prompts}]" + (f" M={memory}" if memory else " (defaults)")
    replay(w, ALGOS[0], memory=memory)  # warm-up (step-time tables, imports), not timed
    for algo in ALGOS:
        for rule, aa, ca in RULES:
            _set_rule(aa, ca)
            t0 = time.perf_counter()
            r = replay(w, algo, memory=memory)
            dt = time.perf_counter() - t0
            m = r.metrics
            rows.append({"workload": tag, "limits": "v1 (replay)", "algo": algo, "rule": rule,
                         "preemptions": m["preemptions"],
                         "mean_latency": round(m["mean_e2el_ms"] / 1e3, 4),
                         "policy_calls": int(r.simulation.policy_calls),
                         "runtime_s": round(dt, 3)})
            print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("trace", type=Path)
    ap.add_argument("--num-prompts", type=int, default=1000)
    ap.add_argument("--memory", type=int, default=65536)
    ap.add_argument("--set", default="azure-online")
    ap.add_argument("--out", type=Path, default=OUT / "lookahead_chunked")
    a = ap.parse_args(argv)
    load = machine()
    try:
        rows = _step_rows(a.set)
        rows += _replay_rows(a.trace, a.num_prompts, None)
        rows += _replay_rows(a.trace, a.num_prompts, a.memory)
    finally:
        _set_rule(True, False)
    summary = []
    for rule, _aa, _ca in RULES:
        sel = [r for r in rows if r["rule"] == rule and r["limits"] != "papers"]
        pap = sum(r["preemptions"] for r in rows if r["rule"] == rule and r["limits"] == "papers")
        summary.append(f"* `{rule}`, V1 rows: {sum(r['preemptions'] for r in sel)} preemptions "
                       f"in all, runtime {sum(r['runtime_s'] for r in sel):.2f} s in all; "
                       f"papers' rows: {pap} preemptions")
    text = (
        "# Look-ahead policies under vLLM V1's limits: old rule vs new\n\n"
        "`old`: the papers' memory model (an admitted request decodes from its admission "
        "step, and frees its memory when its last token is computed); `default`: a request "
        "holds its memory one step more under asynchronous scheduling "
        "(`LookaheadPolicy.async_aware`, the default now); `chunked`: also the start the "
        "engine gives a request whose prompt is cut into chunks "
        "(`LookaheadPolicy.chunk_aware`, opt-in). Exact predictions. Step-model rows: "
        f"library set `{a.set}`, mean latency = mean (completion - arrival) in steps, under "
        "the papers' limits and vLLM V1's (block size 1, the instances' own). Replay rows: "
        "`lpsched replay` defaults (Llama-3-70B, H100s, V1 limits, blocks of 16), mean "
        "latency = mean E2EL in seconds, at the deployment's KV budget and at `--memory`. "
        "`runtime_s`: wall time of the run (policy + engine; replay: with the metrics), "
        "the three rules in the same process.\n\n"
        f"Machine: {load}; 2 cores shared with other jobs: compare runtimes within a "
        "group of rows only.\n\n"
        f"Command: `python benchmarks/bench_lookahead_chunked.py TRACE --num-prompts "
        f"{a.num_prompts} --memory {a.memory}` (TRACE: the Azure LLM inference conversation "
        "trace 2023, as processed by Vidur, read from a path outside the repository).\n\n")
    write_results(a.out, rows, [*text.rstrip().split("\n"), "", *summary])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

