"""Peer benchmark: lpsched's ``vllm`` policy against the real vLLM V1 scheduler, decision by decision.

Two subcommands:

``record`` (run it in a virtual environment with vLLM; never a dependency of lpsched)
    builds vLLM's synchronous V1 ``Scheduler`` on the CPU and steps it with fabricated model
    outputs (:mod:`peer_vllm_driver`) through the workloads below, and writes one JSON
    recording per workload and vLLM prompt offset into ``OUT``::

        /path/to/vllm-venv/bin/python benchmarks/peer_vllm.py record TRACE OUT

    ``TRACE`` is the Azure LLM inference conversation trace in Vidur's layout
    (``arrived_at,num_prefill_tokens,num_decode_tokens``); only its first 300 rows are read.

``compare`` (run it in lpsched's environment) replays the recordings, slim or full layout,
    through lpsched's engine (:func:`engine_setup` and :func:`lpsched_decisions`, the one
    adapter: ``lpsched.engine.run_engine`` with the ``vllm`` policy, each recording's V1
    limits, V1's KV accounting on the recorded prompt, the recorded sync or async
    scheduler) and writes the per-recording agreement to
    ``benchmarks/results/peer_vllm.md`` and ``.csv``::

        python benchmarks/peer_vllm.py compare benchmarks/results/peer_vllm

Step model shared by both sides (README of the recordings): vLLM engine step ``t`` (the
``t``-th ``schedule()``, from 1) is lpsched's step ``t``; a request first scheduled in step
``t`` has lpsched start ``p = t - 1``; a request preempted in the ``schedule()`` of step ``t``
(it does not run in ``t``) ends an lpsched segment ``(p, d)`` with ``p + d = t - 1``; the
completion step is the step that sampled its last token, ``p + o`` in lpsched.

Workloads (the requests' columns are stored in each recording, so ``compare`` needs no trace):

* ``backlog``: 200 requests, prefill and decode uniform on [16, 512] (``random.Random(0)``),
  all at step 0; 1,000 blocks of 16;
* ``conv_arrivals``: the first 300 requests of the conversation trace, arrival step
  ``floor((t - t_first) / 0.025 s)`` (``lpsched.read_trace``'s mapping); 1,000 blocks of 16;
* ``conv_backlog``: the same requests, all at step 0;
* ``preemption``: 100 requests uniform on [16, 512] (``random.Random(1)``) in 65 blocks of 16;
* ``budget2048``: ``backlog`` with ``max_num_batched_tokens = 2048`` (binding; V1 schedules a
  partial prefill chunk in what remains of the budget);
* ``conv_budget2048``: ``conv_arrivals`` with ``max_num_batched_tokens = 2048`` (prompts up to
  4,107 tokens: prefills span several steps);
* ``backlog_serve``, ``conv_serve``: ``backlog`` and ``conv_arrivals`` with ``vllm serve``'s
  defaults on an H100/H200-class GPU (``max_num_batched_tokens`` 8,192, ``max_num_seqs``
  1,024): every setting at V1's default;
* ``tiny``: 16 requests uniform on [4, 28] (``random.Random(2)``) in 8 blocks of 8 (a small
  recording for the tests).

Settings not named: V1's defaults (``SchedulerConfig`` of vLLM 0.33.0): watermark 0.0, FCFS,
chunked prefill on, ``long_prefill_token_threshold`` 0, ``scheduler_reserve_full_isl`` on,
no prefix caching; ``max_num_seqs`` 1,024 (``vllm serve`` on an H100/H200-class GPU) and
``max_num_batched_tokens`` the KV size in tokens (it cannot bind: a step schedules at most
one token per KV slot) unless the workload binds it. Each workload is recorded with vLLM
prompts equal to lpsched's prefill (offset 0) and one token longer (offset 1, which makes
V1's KV accounting equal to lpsched's ``s + (t - p)``), with the synchronous ``Scheduler``
and (``--modes sync async``) with the ``AsyncScheduler`` that ``vllm serve`` uses by default.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from peer_vllm_driver import FORMAT, Settings, Workload  # noqa: E402

if TYPE_CHECKING:  # lpsched is imported where it is used: `record` runs in vLLM's venv
    from lpsched.engine import EngineLimits
    from lpsched.instance import Instance

RESULTS = Path(__file__).resolve().parent / "results"
RECORDINGS = RESULTS / "peer_vllm"
STEP_SECONDS = 0.025  # lpsched.instance.DEFAULT_STEP_SECONDS
SERVE_MAX_NUM_SEQS = 1024  # vllm/engine/arg_utils.py get_batch_defaults, H100/H200 class
SERVE_BUDGET = 8192  # the same, max_num_batched_tokens of `vllm serve`
TRACE_ROWS = 300
SLIM_FORMAT = FORMAT.replace("/", "-slim/")


# ----------------------------------------------------------------------------- workloads

def _fail(message: str) -> NoReturn:
    """Bad input or environment: one line on stderr, exit status 2."""
    print(message, file=sys.stderr)
    raise SystemExit(2)


def _uniform(n: int, lo: int, hi: int, seed: int) -> tuple[list[int], list[int]]:
    rng = random.Random(seed)
    s = [rng.randint(lo, hi) for _ in range(n)]
    o = [rng.randint(lo, hi) for _ in range(n)]
    return s, o


def _settings(blocks: int, block_size: int = 16, *, budget: int | None = None,
              max_num_seqs: int = SERVE_MAX_NUM_SEQS) -> Settings:
    return Settings(block_size=block_size, usable_blocks=blocks, max_num_seqs=max_num_seqs,
                    max_num_batched_tokens=budget or max(blocks * block_size, max_num_seqs))


def trace_rows(path: str | Path, limit: int = TRACE_ROWS,
               step_seconds: float = STEP_SECONDS) -> tuple[list[str], list[int], list[int], list[int]]:
    """The first ``limit`` rows of a Vidur-layout trace: ids (1-based data row, as
    ``lpsched.read_trace``), prefill, decode and arrival steps ``floor((t - t_min) / step)``."""
    with open(path, newline="") as fh:
        rd = csv.DictReader(fh)
        need = {"arrived_at", "num_prefill_tokens", "num_decode_tokens"}
        if not need <= set(rd.fieldnames or ()):
            _fail(f"{path}: expected columns {sorted(need)}")
        rows = [r for _, r in zip(range(limit), rd)]
    if not rows:
        _fail(f"{path}: no data rows")
    t, s, o = [], [], []
    for k, r in enumerate(rows):
        try:
            t.append(float(r["arrived_at"]))
            s.append(int(r["num_prefill_tokens"]))
            o.append(int(r["num_decode_tokens"]))
        except (TypeError, ValueError):
            _fail(f"{path}: request {k + 1}: arrived_at must be a number and the token counts "
                  f"integers, got {dict(r)}")
    t0 = min(t)
    arrival = [math.floor((x - t0) / step_seconds + 1e-9) for x in t]
    return [str(k + 1) for k in range(len(rows))], s, o, arrival


def workloads(trace: str | Path | None) -> list[Workload]:
    """Every workload of the module docstring (the trace ones only when ``trace`` is given)."""
    out = []
    s, o = _uniform(200, 16, 512, 0)
    ids = [f"r{k}" for k in range(200)]
    out.append(Workload("backlog", "200 requests, prefill and decode U[16,512] (seed 0), backlog, "
                        "1,000 blocks of 16", ids, s, o, [0] * 200, _settings(1000)))
    out.append(Workload("budget2048", "backlog with max_num_batched_tokens = 2048", ids, s, o,
                        [0] * 200, _settings(1000, budget=2048)))
    out.append(Workload("backlog_serve", "backlog with vllm serve's H100/H200 defaults "
                        "(max_num_batched_tokens 8192, max_num_seqs 1024)", ids, s, o,
                        [0] * 200, _settings(1000, budget=SERVE_BUDGET)))
    s, o = _uniform(100, 16, 512, 1)
    out.append(Workload("preemption", "100 requests, prefill and decode U[16,512] (seed 1), "
                        "backlog, 65 blocks of 16", [f"r{k}" for k in range(100)], s, o,
                        [0] * 100, _settings(65)))
    s, o = _uniform(16, 4, 28, 2)
    out.append(Workload("tiny", "16 requests, prefill and decode U[4,28] (seed 2), backlog, "
                        "8 blocks of 8", [f"r{k}" for k in range(16)], s, o, [0] * 16,
                        _settings(8, 8, max_num_seqs=16)))
    if trace is not None:
        ids, s, o, a = trace_rows(trace)
        n = len(ids)
        out.append(Workload("conv_arrivals", f"first {n} requests of the conversation trace, "
                            f"arrival step floor((t - t0) / {STEP_SECONDS} s), 1,000 blocks of 16",
                            ids, s, o, a, _settings(1000)))
        out.append(Workload("conv_backlog", f"first {n} requests of the conversation trace, "
                            "backlog, 1,000 blocks of 16", ids, s, o, [0] * n, _settings(1000)))
        out.append(Workload("conv_budget2048", "conv_arrivals with max_num_batched_tokens = 2048",
                            ids, s, o, a, _settings(1000, budget=2048)))
        out.append(Workload("conv_serve", "conv_arrivals with vllm serve's H100/H200 defaults "
                            "(max_num_batched_tokens 8192, max_num_seqs 1024)", ids, s, o, a,
                            _settings(1000, budget=SERVE_BUDGET)))
    return out


def recording_name(workload: str, offset: int, asynchronous: bool = False) -> str:
    return (workload + (f"_plus{offset}" if offset else "")
            + ("_async" if asynchronous else ""))


def slim(rec: Mapping[str, Any]) -> dict[str, Any]:
    """The committed copy of a recording: the requests as columns (one list per field), and of
    the steps only ``scheduled_tokens``, run-length encoded as ``[[value, count], ...]``.
    :func:`expand` restores the full layout (without the other step columns)."""
    reqs = rec["requests"]
    runs: list[list[int]] = []
    for v in rec["steps"]["scheduled_tokens"]:
        if runs and runs[-1][0] == v:
            runs[-1][1] += 1
        else:
            runs.append([v, 1])
    return dict(rec) | {"format": SLIM_FORMAT, "steps": {"scheduled_tokens_rle": runs},
                        "requests": {k: [r[k] for r in reqs] for k in reqs[0]}}


def expand(rec: Mapping[str, Any]) -> dict[str, Any]:
    """A recording in the full layout (:data:`FORMAT`), from either layout."""
    if rec.get("format") != SLIM_FORMAT:
        return dict(rec)
    cols = rec["requests"]
    n = len(cols["id"])
    tokens = [v for v, c in rec["steps"]["scheduled_tokens_rle"] for _ in range(c)]
    return dict(rec) | {"format": FORMAT, "steps": {"scheduled_tokens": tokens},
                        "requests": [{k: cols[k][i] for k in cols} for i in range(n)]}


def _write(path: Path, rec: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rec, separators=(",", ":")) + "\n")


def record(trace: str, out: Path, only: list[str] | None, slim_out: Path | None,
           modes: list[str]) -> None:
    """Run every workload through vLLM (offsets 0 and 1; the synchronous and/or the
    asynchronous scheduler) and write ``OUT/<name>.json`` (and the slim copy to
    ``slim_out/<name>.json``)."""
    import peer_vllm_driver as driver

    try:
        import vllm  # noqa: F401
    except ImportError:
        _fail("peer_vllm.py record: vLLM is not importable here; run it with the Python of a "
              "virtual environment with `pip install vllm==0.33.0`")
    for w in workloads(trace):
        if only and w.name not in only:
            continue
        for offset, mode in ((o, m) for m in modes for o in (0, 1)):
            rec = driver.run(replace(w, prompt_offset=offset), asynchronous=mode == "async")
            name = recording_name(w.name, offset, mode == "async")
            path = out / f"{name}.json"
            _write(path, rec)
            if slim_out is not None:
                _write(slim_out / f"{name}.json", slim(rec))
            pre = sum(len(r["preempted"]) for r in rec["requests"])
            print(f"{name}: {rec['num_steps']} steps, {pre} preemptions, "
                  f"{rec['wall_seconds']} s -> {path}", flush=True)


# ----------------------------------------------------------------------------- compare

@dataclass(frozen=True)
class Decisions:
    """Per request id: first admission step, preemption steps, completion step (engine steps
    numbered from 1, as in the recordings)."""

    first: Mapping[str, int]
    preempted: Mapping[str, tuple[int, ...]]
    finished: Mapping[str, int]


def recorded_decisions(rec: Mapping[str, Any]) -> Decisions:
    reqs = rec["requests"]
    return Decisions({str(r["id"]): int(r["first_scheduled"]) for r in reqs},
                     {str(r["id"]): tuple(int(t) for t in r["preempted"]) for r in reqs},
                     {str(r["id"]): int(r["finished"]) for r in reqs})


def instance_of(rec: Mapping[str, Any]) -> Instance:
    """The lpsched instance of a recording (either layout): prefill = vLLM's prompt (the
    recorded ``prompt``, which is lpsched's ``prefill`` plus the recording's offset), decode,
    arrival step, ``M = usable_blocks * block_size``, the recording's block size."""
    from lpsched.instance import Instance

    if rec.get("format") not in (FORMAT, SLIM_FORMAT):
        raise ValueError(f"recording {rec.get('workload')!r}: format {rec.get('format')!r}, "
                         f"expected {FORMAT!r} or {SLIM_FORMAT!r}")
    rec = expand(rec)
    st, reqs = rec["settings"], rec["requests"]
    b = int(st["block_size"])
    return Instance.from_arrays(
        int(st["usable_blocks"]) * b, [int(r["prompt"]) for r in reqs],
        [int(r["decode"]) for r in reqs], [int(r["arrival"]) for r in reqs],
        ids=[str(r["id"]) for r in reqs], name=rec["workload"], block_size=b)


def engine_setup(rec: Mapping[str, Any]) -> tuple[Instance, EngineLimits]:
    """The instance (:func:`instance_of`) and engine limits of a recording (either layout).

    Limits: the recording's block size, ``max_num_seqs``, ``max_num_batched_tokens``,
    chunked prefill and watermark (counted V1's way, on ``num_blocks`` with the null
    block), V1's KV accounting (the engine counts the ``s + j - 1`` computed tokens of a
    prompt of ``s``), the synchronous or asynchronous scheduler as recorded. Settings
    outside the engine's model (a long-prefill threshold, ``scheduler_reserve_full_isl``
    off, prefix caching, a policy other than FCFS) are refused with ``ValueError``.
    """
    from lpsched.engine import EngineLimits

    inst = instance_of(rec)
    st = rec["settings"]
    if (int(st.get("long_prefill_token_threshold", 0)) or not st.get(
            "scheduler_reserve_full_isl", True) or st.get("enable_prefix_caching")
            or st.get("policy", "fcfs") != "fcfs"):
        raise ValueError(f"recording {rec['workload']!r}: settings outside the engine's model "
                         "(long_prefill_token_threshold 0, scheduler_reserve_full_isl on, no "
                         f"prefix caching, fcfs): {dict(st)}")
    lim = EngineLimits(block_size=inst.block_size, max_num_seqs=int(st["max_num_seqs"]),
                       max_num_batched_tokens=int(st["max_num_batched_tokens"]),
                       chunked_prefill=bool(st["enable_chunked_prefill"]),
                       watermark=float(st["watermark"]), watermark_rule="v1",
                       kv_accounting="v1", async_scheduling=bool(st.get("async_scheduling")))
    return inst, lim


@dataclass(frozen=True)
class EngineRun:
    """lpsched's decisions on one instance, and the engine's wall time in seconds."""

    decisions: Decisions
    seconds: float


def lpsched_decisions(instance: Instance, limits: EngineLimits) -> EngineRun:
    """THE adapter to lpsched: :func:`lpsched.engine.run_engine` with the ``vllm`` policy
    under ``limits``, its schedule verified by :func:`lpsched.check.check` on the engine's
    memory instance, expressed in engine steps.

    Mapping: vLLM step ``t`` follows lpsched's decision time ``t - 1``; so first admission
    ``a`` -> first schedule ``a + 1``, a preemption at decision time ``t`` -> ``t + 1``,
    completion ``c`` -> ``c`` (the step that sampled the last token). Raises
    ``RuntimeError`` if the checker rejects the schedule.
    """
    from lpsched.check import check
    from lpsched.engine import run_engine
    from lpsched.heuristics.vllm import VLLMPolicy

    res = run_engine(instance, VLLMPolicy(), limits=limits)
    report = check(res.schedule.instance, res.schedule)
    if not report.feasible:
        raise RuntimeError(f"{instance.name}: the engine's schedule fails the checker: "
                           f"{report.reason()}")
    if res.preemption_events is None or res.first_admit is None:  # the engine records both
        raise RuntimeError(f"{instance.name}: the engine recorded no decision times")
    ids = instance.ids
    pre: dict[str, list[int]] = {rid: [] for rid in ids}
    for pos, t in res.preemption_events.tolist():
        pre[ids[pos]].append(int(t) + 1)
    first, done = res.first_admit.tolist(), res.schedule.completions.tolist()
    return EngineRun(Decisions({rid: int(first[k]) + 1 for k, rid in enumerate(ids)},
                               {rid: tuple(pre[rid]) for rid in ids},
                               {rid: int(done[k]) for k, rid in enumerate(ids)}),
                     float(res.runtime))


def agreement(peer: Decisions, ours: Decisions, arrival: Mapping[str, int]) -> dict[str, Any]:
    """Share of requests whose first admission, preemption steps (hence victims) and
    completion step agree; mean and largest |completion difference|; preemption counts;
    objectives ``sum (completion - arrival)``."""
    ids = list(peer.finished)
    if set(ids) != set(ours.finished):
        raise ValueError("the two decision sets name different requests")
    n = len(ids)

    def share(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
        return round(100.0 * sum(a[r] == b[r] for r in ids) / n, 1)

    diff = [abs(peer.finished[r] - ours.finished[r]) for r in ids]
    obj_peer = sum(peer.finished[r] - arrival[r] for r in ids)
    obj_ours = sum(ours.finished[r] - arrival[r] for r in ids)
    return {"n": n, "first_admission_pct": share(peer.first, ours.first),
            "preemptions_pct": share(peer.preempted, ours.preempted),
            "completion_pct": share(peer.finished, ours.finished),
            "mean_abs_completion_diff": round(sum(diff) / n, 2),
            "max_abs_completion_diff": max(diff),
            "vllm_preemptions": sum(len(peer.preempted[r]) for r in ids),
            "lpsched_preemptions": sum(len(ours.preempted[r]) for r in ids),
            "vllm_objective": obj_peer, "lpsched_objective": obj_ours,
            "objective_diff_pct": round(100.0 * (obj_ours - obj_peer) / obj_peer, 3)}


def compare_one(rec: Mapping[str, Any]) -> dict[str, Any]:
    """One row: a recording (either layout) against lpsched's engine (:func:`engine_setup`,
    :func:`lpsched_decisions`)."""
    from lpsched.engine import EngineLimits

    inst, lim = engine_setup(rec)
    rec = expand(rec)
    s = rec["settings"]
    offset = int(rec["prompt_offset"])
    run = lpsched_decisions(inst, lim)
    row = {"workload": rec["workload"], "vllm_scheduler": "async" if lim.async_scheduling
           else "sync", "vllm_prompt": f"s+{offset}" if offset else "s",
           "budget": lim.max_num_batched_tokens, "max_num_seqs": lim.max_num_seqs,
           "blocks": int(s["usable_blocks"]), "block_size": lim.block_size,
           "replay_defaults": "yes" if lim == EngineLimits.vllm_v1() else "no"}
    arrival = {str(r["id"]): int(r["arrival"]) for r in rec["requests"]}
    row.update(agreement(recorded_decisions(rec), run.decisions, arrival))
    row["vllm_seconds"] = round(float(rec.get("wall_seconds", float("nan"))), 1)
    row["lpsched_seconds"] = round(run.seconds, 3)
    return row


def load_recordings(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    """``(file name, recording)`` for every ``*.json`` in ``folder``, as stored (slim or
    full layout); a missing folder, no recordings or unreadable JSON is a one-line error."""
    paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not paths:
        _fail(f"{folder}: no recordings (*.json); run `record` first")
    out = []
    for p in paths:
        try:
            out.append((p.name, json.loads(p.read_text())))
        except (OSError, json.JSONDecodeError) as exc:
            _fail(f"{p}: not a readable JSON recording: {exc}")
    return out


WORKLOAD_ORDER = ("backlog", "conv_arrivals", "conv_backlog", "preemption", "budget2048",
                  "conv_budget2048", "backlog_serve", "conv_serve", "tiny")


def _order(row: Mapping[str, Any]) -> tuple:
    w = row["workload"]
    return (WORKLOAD_ORDER.index(w) if w in WORKLOAD_ORDER else len(WORKLOAD_ORDER), w,
            row["vllm_scheduler"] != "sync", row["vllm_prompt"])


def compare(folder: Path, out: Path) -> list[dict[str, Any]]:
    """Compare every recording in ``folder`` and write ``out.md`` and ``out.csv``."""
    from common import machine, write_results

    rows = []
    versions = set()
    for name, rec in load_recordings(folder):
        try:
            rows.append(compare_one(rec))
        except (KeyError, TypeError, ValueError) as exc:
            _fail(f"{folder / name}: {exc!s}" if not isinstance(exc, KeyError)
                  else f"{folder / name}: missing field {exc}")
        versions.add(str(rec.get("vllm_version", "?")))
    rows.sort(key=_order)
    every = all(r["first_admission_pct"] == r["preemptions_pct"] == r["completion_pct"] == 100.0
                for r in rows)
    preamble = [
        "# lpsched's engine against the real vLLM V1 scheduler",
        "",
        f"**vLLM {', '.join(sorted(versions))}.** Recordings of its V1 `Scheduler` (sync) and "
        "`AsyncScheduler` (async, the default of `vllm serve`), driven step by step on the CPU "
        "with fabricated model outputs (`benchmarks/peer_vllm.py record`; workloads, settings "
        "and format in `benchmarks/results/peer_vllm/README.md`), compared by "
        "`python benchmarks/peer_vllm.py compare benchmarks/results/peer_vllm` with "
        "`lpsched.engine.run_engine`: the `vllm` policy, each recording's V1 settings (block "
        "size, blocks, `max_num_seqs`, `max_num_batched_tokens`, chunked prefill, watermark "
        "0 counted V1's way), V1's KV accounting on the recorded prompt, the recorded "
        "scheduler. Every engine schedule passed `lpsched.check`.",
        f"Machine: {machine()}.",
        "",
        ("**Every first admission, preemption and completion agrees on every recording**"
         if every else "**Not every decision agrees: see the table**")
        + f" ({len(rows)} recordings).",
        "",
        "Columns: `vllm_prompt` `s` = vLLM's prompt is the workload's prefill, `s+1` = one "
        "token longer (the papers' accounting, kept as a second set of workloads); "
        "`replay_defaults` = the recording's settings are exactly "
        "`EngineLimits.vllm_v1()` (`lpsched replay`'s engine: `vllm serve` on an H100/H200); "
        "`*_pct` = share of requests whose first admission step / list of preemption steps "
        "(hence victims) / completion step agree; objectives are `sum (completion - "
        "arrival)` in steps; `vllm_seconds` = the real scheduler's step loop when recorded, "
        "`lpsched_seconds` = the engine here.",
    ]
    write_results(out, rows, preamble)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record", help="record vLLM V1's decisions (needs vLLM)")
    r.add_argument("trace", help="conversation trace CSV (Vidur layout)")
    r.add_argument("out", type=Path, help="folder for the recordings")
    r.add_argument("--only", nargs="*", help="workload names to record (default: all)")
    r.add_argument("--modes", nargs="+", choices=("sync", "async"), default=["sync"],
                   help="vLLM's Scheduler (sync, default) and/or AsyncScheduler (async)")
    r.add_argument("--slim-out", type=Path, help="also write slim copies (per-step tokens only) "
                   "here, e.g. benchmarks/results/peer_vllm")
    c = sub.add_parser("compare", help="replay recordings through lpsched's engine and compare")
    c.add_argument("recordings", type=Path, nargs="?", default=RECORDINGS)
    c.add_argument("--out", type=Path, default=RESULTS / "peer_vllm")
    args = ap.parse_args(argv)
    if args.cmd == "record":
        record(args.trace, args.out, args.only, args.slim_out, args.modes)
    else:
        compare(args.recordings, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
