"""Benchmark: do policies differ under one engine? Mean E2EL of fcfs, mc-sf and vllm.

The issue behind ``lpsched/engine``: with the old replay only ``vllm`` had a token budget,
so ``mc-sf`` prefilled every arrived request in one step and looked 1.6x slower than
``vllm`` on the Azure code trace, an artefact of the engine rather than of the policy.
Here every policy runs under the same default engine (vLLM V1's ``vllm serve`` limits on
an H100: blocks of 16, a budget of 8192 tokens a step with chunked prefill, 1024
sequences, watermark 0, V1's KV accounting, async scheduling) with Llama-3-8B on one H100 (467,291 KV
tokens: memory does not bind). Usage (traces are third-party data, not in the repository)::

    python benchmarks/bench_engine_fairness.py TRACE [TRACE ...] [--num-prompts 3085]

Writes ``benchmarks/results/engine_fairness.md`` and ``engine_fairness.csv``.
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

from lpsched.serving.replay import load_workload, replay

OUT = Path(__file__).resolve().parent / "results"
ALGOS = ("fcfs", "mc-sf", "vllm")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("traces", nargs="+", type=Path)
    ap.add_argument("--num-prompts", type=int, default=3085)
    ap.add_argument("--out", type=Path, default=OUT / "engine_fairness")
    a = ap.parse_args(argv)
    rows = []
    load = os.getloadavg()
    for path in a.traces:
        w = load_workload(str(path), num_prompts=a.num_prompts)
        for algo in ALGOS:
            t = time.perf_counter()
            m = replay(w, algo, gpu="h100", model="llama3-8b").metrics
            rows.append({"trace": path.name, "requests": w.n,
                         "mean_prefill": round(float(w.prefill.mean()), 1),
                         "mean_decode": round(float(w.decode.mean()), 1), "algo": algo,
                         "mean_e2el_s": round(m["mean_e2el_ms"] / 1e3, 4),
                         "p99_e2el_s": round(m["p99_e2el_ms"] / 1e3, 4),
                         "mean_ttft_s": round(m["mean_ttft_ms"] / 1e3, 4),
                         "mean_tpot_ms": round(m["mean_tpot_ms"], 3),
                         "preemptions": m["preemptions"], "memory": m["memory"],
                         "tensor_parallel": m["tensor_parallel"],
                         "replay_s": round(time.perf_counter() - t, 2)})
            print(rows[-1], flush=True)
    spread = {}
    for tr in {r["trace"] for r in rows}:
        e = [r["mean_e2el_s"] for r in rows if r["trace"] == tr]
        spread[tr] = 100.0 * (max(e) / min(e) - 1.0)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with open(a.out.with_suffix(".csv"), "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    cols = ["trace", "requests", "mean_prefill", "mean_decode", "algo", "mean_e2el_s",
            "p99_e2el_s", "mean_ttft_s", "mean_tpot_ms", "preemptions"]
    table = "\n".join(["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
                      + ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows])
    a.out.with_suffix(".md").write_text(
        "# fcfs, mc-sf and vllm under one engine\n\n"
        "Llama-3-8B on one H100 (M = 467,291 KV tokens: memory does not bind), the first "
        f"{a.num_prompts} requests of each trace with their own arrival times, every policy "
        "under the default engine of `lpsched replay` (vLLM V1's `vllm serve` limits: "
        "blocks of 16, 8192 tokens a step with chunked prefill, 1024 sequences, watermark "
        "0, V1's KV accounting, asynchronous scheduling).\n\n"
        + "".join(f"* `{tr}`: mean E2EL spread (max / min - 1) **{sp:.1f}%**\n"
                  for tr, sp in sorted(spread.items()))
        + f"\nLoad average (1, 5, 15 min) at the start: {tuple(round(x, 2) for x in load)}.\n"
        "Traces: the Azure LLM inference conversation trace 2023 and the code trace 2023 "
        "as processed by Vidur (`microsoft/vidur`, `data/processed_traces/"
        "splitwise_code.csv`, MIT), read from paths outside the repository.\n\n"
        f"Command: `python benchmarks/bench_engine_fairness.py TRACES --num-prompts "
        f"{a.num_prompts}`\n\n" + table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
