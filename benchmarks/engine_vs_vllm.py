"""Replay recordings of vLLM V1's real scheduler through lpsched's engine and compare decisions.

Usage::

    python benchmarks/engine_vs_vllm.py FOLDER [--out benchmarks/results/engine_vs_vllm]

``FOLDER`` holds recordings in the ``lpsched-peer-vllm/1`` format (written by
``benchmarks/peer_vllm.py record``: one JSON per workload with the engine settings and, per
request, the step of its first schedule, the steps whose ``schedule()`` preempted it and the
step that sampled its last token; steps numbered from 1). Each workload is run through
:func:`lpsched.engine.run_engine` with the ``vllm`` policy under the recording's settings
(block size, usable blocks x block size = ``M``, ``max_num_seqs``,
``max_num_batched_tokens``, chunked prefill, watermark counted V1's way, synchronous or
asynchronous scheduler) and V1's KV accounting on the recorded prompt. Mapping: vLLM step
``t`` is the step after lpsched's decision time ``t - 1``; so first schedule ``t`` = first
admission ``t - 1``, a preemption in step ``t`` = a preemption at decision time ``t - 1``,
finished ``t`` = completion ``t``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from lpsched.check import check
from lpsched.engine import EngineLimits, run_engine
from lpsched.heuristics.vllm import VLLMPolicy
from lpsched.instance import Instance


def load_recording(rec: dict, path: str = "recording") -> tuple[Instance, EngineLimits]:
    """The instance (prefill = vLLM's prompt) and the limits of a recording."""
    if rec.get("format") != "lpsched-peer-vllm/1":
        raise ValueError(f"{path}: not an lpsched-peer-vllm/1 recording")
    st = rec["settings"]
    reqs = rec["requests"]
    b = int(st["block_size"])
    inst = Instance.from_arrays(
        int(st["usable_blocks"]) * b, [r["prompt"] for r in reqs], [r["decode"] for r in reqs],
        [r["arrival"] for r in reqs], ids=[str(r["id"]) for r in reqs], name=rec["workload"],
        block_size=b)
    lim = EngineLimits(block_size=b, max_num_seqs=int(st["max_num_seqs"]),
                       max_num_batched_tokens=int(st["max_num_batched_tokens"]),
                       chunked_prefill=bool(st["enable_chunked_prefill"]),
                       watermark=float(st["watermark"]), watermark_rule="v1",
                       kv_accounting="v1", async_scheduling=bool(st.get("async_scheduling")))
    if int(st.get("long_prefill_token_threshold", 0)) or not st.get(
            "scheduler_reserve_full_isl", True) or st.get("enable_prefix_caching"):
        raise ValueError(f"{path}: settings outside the engine's model: {st}")
    return inst, lim


def compare(rec: dict, name: str = "recording") -> dict:
    """Agreement of one recording (percent of requests whose decisions match)."""
    inst, lim = load_recording(rec, name)
    res = run_engine(inst, VLLMPolicy(), limits=lim)
    report = check(res.schedule.instance, res.schedule)
    n = inst.n
    ev = res.preemption_events
    ours_pre: list[list[int]] = [[] for _ in range(n)]
    for pos, t in ev.tolist():
        ours_pre[pos].append(t + 1)
    comp = res.schedule.completions
    first = res.first_admit + 1
    same_first = same_pre = same_done = 0
    diff_done = []
    for k, r in enumerate(rec["requests"]):
        same_first += int(first[k]) == int(r["first_scheduled"])
        same_pre += ours_pre[k] == [int(x) for x in r["preempted"]]
        same_done += int(comp[k]) == int(r["finished"])
        diff_done.append(abs(int(comp[k]) - int(r["finished"])))
    st = rec["settings"]
    return {"workload": rec["workload"], "file": name,
            "scheduler": "async" if lim.async_scheduling else "sync",
            "prompt_offset": int(rec.get("prompt_offset", 0)), "requests": n,
            "blocks": int(st["usable_blocks"]), "block_size": int(st["block_size"]),
            "budget": int(st["max_num_batched_tokens"]), "max_num_seqs": int(st["max_num_seqs"]),
            "vllm_preemptions": sum(len(r["preempted"]) for r in rec["requests"]),
            "engine_preemptions": int(ev.shape[0]),
            "first_admission_pct": 100.0 * same_first / n,
            "preemptions_pct": 100.0 * same_pre / n,
            "completion_pct": 100.0 * same_done / n,
            "max_abs_completion_diff": int(max(diff_done)),
            "checker": "feasible" if report.feasible else report.message,
            "vllm_version": rec.get("vllm_version", "?"),
            "vllm_seconds": float(rec.get("wall_seconds", float("nan"))),
            "engine_seconds": float(res.runtime)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--out", type=Path, default=None,
                    help="write OUT.md and OUT.csv (e.g. benchmarks/results/engine_vs_vllm)")
    args = ap.parse_args(argv)
    files = sorted(p for p in args.folder.glob("*.json"))
    if not files:
        print(f"{args.folder}: no recordings", file=sys.stderr)
        return 2
    recs = [(p.name, json.loads(p.read_text())) for p in files]
    rows = [compare(r, n) for n, r in recs]
    cols = ["file", "scheduler", "requests", "blocks", "budget", "vllm_preemptions", "engine_preemptions",
            "first_admission_pct", "preemptions_pct", "completion_pct",
            "max_abs_completion_diff", "checker", "vllm_seconds", "engine_seconds"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(f"{r[c]:.1f}" if isinstance(r[c], float) else str(r[c])
                                       for c in cols) + " |")
    table = "\n".join(lines)
    print(table)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out.with_suffix(".csv"), "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        ok = all(r["first_admission_pct"] == r["preemptions_pct"] == r["completion_pct"] == 100
                 for r in rows)
        args.out.with_suffix(".md").write_text(
            "# lpsched's engine against vLLM V1's real scheduler\n\n"
            f"vLLM {rows[0]['vllm_version']} (V1 `Scheduler` and, `_async`, `AsyncScheduler`, "
            "the default of `vllm serve`; driven step by step with fabricated model outputs; "
            "recordings by `benchmarks/peer_vllm.py record`). "
            "lpsched: `run_engine` with the `vllm` policy, V1's KV accounting on the recorded "
            "prompt, the recording's limits. Percent of requests whose first admission, "
            "list of preemption steps, and completion step match exactly. "
            f"{'Every decision matches on every workload.' if ok else ''}\n\n"
            "Workloads (the recordings' own descriptions): "
            + "; ".join(f"`{n}`: {r.get('description', '')}" for n, r in recs
                        if not n.endswith(("_plus1.json", "_async.json")))
            + ". `_plus1`: every vLLM prompt one token longer (the papers' accounting).\n\n"
            + f"Command: `python benchmarks/engine_vs_vllm.py FOLDER --out {args.out}`\n\n"
            + table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
