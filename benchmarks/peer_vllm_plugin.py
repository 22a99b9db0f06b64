"""lpsched's policies inside vLLM against the same policies in lpsched's engine, decision by decision.

For every workload of the vLLM peer benchmark (:mod:`peer_vllm`: ``backlog``, ``budget2048``,
``backlog_serve``, ``preemption``, ``tiny``, and with the conversation trace
``conv_arrivals``, ``conv_backlog``, ``conv_budget2048``, ``conv_serve``) and every scheduler
class of :mod:`lpsched.integrations.vllm`, this script

1. drives vLLM's ``AsyncScheduler`` subclass (the plugin) step by step on the CPU with
   fabricated model outputs (:func:`peer_vllm_driver.run`, as vLLM's own tests drive a
   scheduler; ``async`` mode: the outputs of step ``t`` reach the scheduler after the
   ``schedule()`` of step ``t + 1``, as ``vllm serve`` runs it), with exact output-length
   predictions (``predictor: "max_tokens"``; each request has ``max_tokens`` = its decode
   length and ``ignore_eos``);
2. runs the same policy in lpsched's engine (:func:`lpsched.engine.run_engine`) on the same
   instance with :meth:`lpsched.engine.EngineLimits.vllm_v1` (vLLM V1's accounting,
   asynchronous scheduling, no admission in a step that preempted) and the workload's
   limits, a token-planning policy through :class:`lpsched.engine.padded.PaddedView`;
3. compares, per request, the first admission step, the list of preemption steps and the
   completion step (vLLM step ``t`` = engine decision time ``t - 1``), and for the
   ``VLLMScheduler`` class also with vLLM's own ``AsyncScheduler`` (the identity check).

Run it in a virtual environment with vLLM (never a dependency of lpsched)::

    PYTHONPATH=. /path/to/vllm-venv/bin/python benchmarks/peer_vllm_plugin.py TRACE

``TRACE`` is the Azure conversation trace in Vidur's layout (first 300 rows); results go
to ``benchmarks/results/peer_vllm_plugin.md`` and ``.csv``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import peer_vllm as pv  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
CLASSES = {"vllm": "VLLMScheduler", "fcfs": "FCFSScheduler", "mc-sf": "MCSFScheduler",
           "sf": "SFScheduler", "size-first": "SizeFirstScheduler",
           "sorted-f-online": "SortedFScheduler"}
CONFIG = {"lpsched": {"predictor": "max_tokens"}}


def engine_decisions(rec: dict[str, Any], policy_name: str) -> pv.Decisions:
    """lpsched's engine running ``policy_name`` on the recording's instance and limits."""
    from lpsched.engine import EngineLimits, run_engine
    from lpsched.engine.padded import PaddedView
    from lpsched.registry import make_policy

    inst, s = pv.instance_of(rec), rec["settings"]
    limits = EngineLimits.vllm_v1(
        block_size=int(s["block_size"]), max_num_seqs=int(s["max_num_seqs"]),
        max_num_batched_tokens=int(s["max_num_batched_tokens"]), watermark=float(s["watermark"]))
    policy = make_policy(policy_name)
    if not policy.block_aware and inst.block_size > 1:
        policy = PaddedView(policy)
    res = run_engine(inst, policy, limits=limits, skip_idle=False)
    ids = inst.ids
    pre: dict[str, list[int]] = {rid: [] for rid in ids}
    for pos, t in res.preemption_events.tolist():
        pre[ids[pos]].append(t + 1)
    first, done = (res.first_admit + 1).tolist(), res.schedule.completions.tolist()
    return pv.Decisions({rid: first[k] for k, rid in enumerate(ids)},
                        {rid: tuple(v) for rid, v in pre.items()},
                        {rid: done[k] for k, rid in enumerate(ids)})


def _all_three(a: pv.Decisions, b: pv.Decisions) -> float:
    ids = list(a.finished)
    same = sum((a.first[r], tuple(a.preempted[r]), a.finished[r])
               == (b.first[r], tuple(b.preempted[r]), b.finished[r]) for r in ids)
    return round(100.0 * same / len(ids), 1)


def run_all(trace: str, only: list[str] | None, policies: list[str]) -> list[dict[str, Any]]:
    import peer_vllm_driver as driver

    import lpsched.integrations.vllm as plugin

    rows = []
    for w in pv.workloads(trace):
        if only and w.name not in only:
            continue
        own_rec = driver.run(w, asynchronous=True)
        own = pv.recorded_decisions(own_rec)
        for name in policies:
            cls = getattr(plugin, CLASSES[name])
            t0 = time.perf_counter()
            rec = driver.run(w, asynchronous=True, scheduler_cls=cls, additional_config=CONFIG)
            wall = time.perf_counter() - t0
            peer = pv.recorded_decisions(rec)
            ours = engine_decisions(rec, name)
            arrival = {r["id"]: int(r["arrival"]) for r in rec["requests"]}
            row = {"workload": w.name, "policy": name, "vllm_class": CLASSES[name],
                   "budget": w.settings.max_num_batched_tokens,
                   "blocks": w.settings.usable_blocks, "block_size": w.settings.block_size}
            row.update(pv.agreement(peer, ours, arrival))
            row["all_decisions_pct"] = _all_three(peer, ours)
            row["vs_vllm_fcfs_objective_pct"] = round(100.0 * (
                row["vllm_objective"] - sum(own.finished[r] - arrival[r] for r in arrival))
                / sum(own.finished[r] - arrival[r] for r in arrival), 2)
            row["identity_with_AsyncScheduler_pct"] = _all_three(peer, own) \
                if name == "vllm" else "-"
            row["vllm_wall_s"] = round(wall, 2)
            row["steps"] = rec["num_steps"]
            row["own_scheduler_wall_s"] = own_rec["wall_seconds"]
            row["plugin_ms_per_step"] = round(1000 * (rec["wall_seconds"]
                                                      - own_rec["wall_seconds"])
                                              / rec["num_steps"], 3)
            rows.append(row)
            print(f"{w.name:16s} {name:16s} all decisions {row['all_decisions_pct']:5.1f}% "
                  f"objective {row['vllm_objective']} ({row['vs_vllm_fcfs_objective_pct']:+.2f}% "
                  f"vs vLLM FCFS) {wall:.1f} s", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("trace", help="conversation trace CSV (Vidur layout)")
    ap.add_argument("--only", nargs="*", help="workload names (default: all)")
    ap.add_argument("--policies", nargs="*", default=list(CLASSES), choices=list(CLASSES))
    ap.add_argument("--out", type=Path, default=RESULTS / "peer_vllm_plugin")
    args = ap.parse_args(argv)
    try:
        import vllm
    except ImportError:
        pv._fail("peer_vllm_plugin.py: vLLM is not importable here; run it with the Python of "
                 "a virtual environment with `pip install vllm==0.33.0`")
    from common import machine, write_results

    start = machine()
    rows = run_all(args.trace, args.only, args.policies)
    preamble = [
        "# lpsched's policies inside vLLM against lpsched's engine, decision by decision",
        "",
        f"vLLM {vllm.__version__}: the scheduler classes of `lpsched.integrations.vllm` "
        "(subclasses of vLLM's `AsyncScheduler`) driven step by step on the CPU with "
        "fabricated model outputs (`benchmarks/peer_vllm_driver.py`, async mode as `vllm "
        "serve` runs it), exact length predictions (`predictor: max_tokens`), against "
        "`lpsched.engine.run_engine` with `EngineLimits.vllm_v1` and the same policy "
        "(`benchmarks/peer_vllm_plugin.py`). Workloads and settings: "
        "`benchmarks/peer_vllm.py` (vLLM prompt = lpsched prefill).",
        f"Machine: {start}; `vllm_wall_s` is the vLLM loop's time on it (shared, 2 cores).",
        "",
        "Columns: `*_pct` = share of requests whose first admission step / list of "
        "preemption steps / completion step agree, `all_decisions_pct` = all three at once; "
        "`vs_vllm_fcfs_objective_pct` = the plugin's total completion time (steps) against "
        "vLLM's own `AsyncScheduler` on the workload; `identity_with_AsyncScheduler_pct` "
        "(`vllm` only) = the plugin's decisions against vLLM's own scheduler's; "
        "`own_scheduler_wall_s` = vLLM's own `AsyncScheduler` loop on the workload, "
        "`plugin_ms_per_step` = (plugin loop - own loop) / steps: what the plugin adds to "
        "a scheduling step (the two loops also differ in their decisions, hence in "
        "batch sizes; shared machine, a rough figure).",
    ]
    write_results(args.out, rows, preamble)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
