"""Peer benchmark: lpsched's ``vllm`` policy against the real vLLM V1 scheduler, decision by decision.

Two subcommands:

``record`` (run it in a virtual environment with vLLM; never a dependency of lpsched)
    builds vLLM's synchronous V1 ``Scheduler`` on the CPU and steps it with fabricated model
    outputs (:mod:`peer_vllm_driver`) through the workloads below, and writes one JSON
    recording per workload and vLLM prompt offset into ``OUT``::

        /path/to/vllm-venv/bin/python benchmarks/peer_vllm.py record TRACE OUT

    ``TRACE`` is the Azure LLM inference conversation trace in Vidur's layout
    (``arrived_at,num_prefill_tokens,num_decode_tokens``); only its first 300 rows are read.

``compare`` (run it in lpsched's environment) reads the recordings, runs lpsched's ``vllm``
    policy on the same instances (:func:`lpsched_decisions`, the one adapter to lpsched) and
    writes the per-workload agreement to ``benchmarks/results/peer_vllm.md`` and ``.csv``::

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from peer_vllm_driver import FORMAT, Settings, Workload  # noqa: E402

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
    return Decisions({r["id"]: int(r["first_scheduled"]) for r in reqs},
                     {r["id"]: tuple(int(t) for t in r["preempted"]) for r in reqs},
                     {r["id"]: int(r["finished"]) for r in reqs})


def instance_of(rec: Mapping[str, Any]):
    """The lpsched instance of a recording: lpsched's prefill (the vLLM prompt minus the
    offset), decode, arrival, ``M = usable_blocks * block_size``, the same block size."""
    from lpsched.instance import Instance

    s, reqs = rec["settings"], rec["requests"]
    return Instance.from_arrays(int(s["usable_blocks"]) * int(s["block_size"]),
                                [r["prefill"] for r in reqs], [r["decode"] for r in reqs],
                                [r["arrival"] for r in reqs], ids=[r["id"] for r in reqs],
                                name=rec["workload"], block_size=int(s["block_size"]))


def v1_options(rec: Mapping[str, Any]) -> dict[str, Any]:
    """The ``vllm`` policy's options set to the recording's V1 settings."""
    s = rec["settings"]
    return {"watermark": float(s["watermark"]), "max_num_seqs": int(s["max_num_seqs"]),
            "max_num_batched_tokens": int(s["max_num_batched_tokens"])}


def lpsched_decisions(instance, options: Mapping[str, Any]) -> Decisions:
    """THE adapter to lpsched: run its ``vllm`` policy on ``instance`` and express the
    schedule in engine steps (start ``p`` -> first admission ``p + 1``; a segment
    ``(p, d)`` followed by another -> preemption at ``p + d + 1``; completion ``p + o``).

    Today: ``lpsched.simulate.simulate(instance, "vllm", options=...)``; after the engine
    rewrite only this function changes.
    """
    from lpsched.simulate import simulate

    sched = simulate(instance, "vllm", options=dict(options)).schedule
    ids = instance.ids
    starts, done = sched.starts.tolist(), sched.completions.tolist()
    runs = sched.runs
    pre = {rid: tuple(p + d + 1 for p, d in runs[k][:-1]) if k in runs else ()
           for k, rid in enumerate(ids)}
    return Decisions({rid: int(starts[k]) + 1 for k, rid in enumerate(ids)}, pre,
                     {rid: int(done[k]) for k, rid in enumerate(ids)})


def agreement(peer: Decisions, ours: Decisions, arrival: Mapping[str, int]) -> dict[str, Any]:
    """Share of requests whose first admission, preemption steps (hence victims) and
    completion step agree; mean |completion difference|; preemption counts; objectives
    ``sum (completion - arrival)``."""
    ids = list(peer.finished)
    if set(ids) != set(ours.finished):
        raise ValueError("the two decision sets name different requests")
    n = len(ids)

    def share(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
        return round(100.0 * sum(a[r] == b[r] for r in ids) / n, 1)

    obj_peer = sum(peer.finished[r] - arrival[r] for r in ids)
    obj_ours = sum(ours.finished[r] - arrival[r] for r in ids)
    return {"n": n, "first_admission_pct": share(peer.first, ours.first),
            "preemptions_pct": share(peer.preempted, ours.preempted),
            "completion_pct": share(peer.finished, ours.finished),
            "mean_abs_completion_diff": round(sum(abs(peer.finished[r] - ours.finished[r])
                                                  for r in ids) / n, 2),
            "vllm_preemptions": sum(len(peer.preempted[r]) for r in ids),
            "lpsched_preemptions": sum(len(ours.preempted[r]) for r in ids),
            "vllm_objective": obj_peer, "lpsched_objective": obj_ours,
            "objective_diff_pct": round(100.0 * (obj_ours - obj_peer) / obj_peer, 3)}


def _seqs_256(rec: Mapping[str, Any]) -> dict[str, Any] | None:
    """V1's settings with 256 sequences; None where vLLM would refuse it (its
    ``SchedulerConfig`` needs ``max_num_batched_tokens >= max_num_seqs``)."""
    opts = v1_options(rec)
    return opts | {"max_num_seqs": 256} if opts["max_num_batched_tokens"] >= 256 else None


def _without_budget(rec: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in v1_options(rec).items() if k != "max_num_batched_tokens"}


#: lpsched option sets: today's defaults, the recording's V1 settings, and the V1 settings
#: with one of today's defaults put back (on the ``s+1`` recordings, to isolate each cause).
CONFIGS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any] | None]] = {
    "defaults": lambda rec: {},
    "v1-settings": v1_options,
    "v1 but watermark 0.01": lambda rec: v1_options(rec) | {"watermark": 0.01},
    "v1 but max_num_seqs 256": _seqs_256,
    "v1 but default budget": _without_budget}
ISOLATING = ("v1 but watermark 0.01", "v1 but max_num_seqs 256", "v1 but default budget")


def compare_one(rec: Mapping[str, Any], config: str) -> dict[str, Any]:
    """One row: a recording against lpsched's ``vllm`` policy with ``config``'s options."""
    if rec.get("format") != FORMAT:
        raise ValueError(f"recording {rec.get('workload')!r}: format {rec.get('format')!r}, "
                         f"expected {FORMAT!r}")
    inst = instance_of(rec)
    opts = CONFIGS[config](rec)
    if opts is None:
        raise ValueError(f"recording {rec['workload']!r}: option set {config!r} does not apply")
    arrival = {r["id"]: int(r["arrival"]) for r in rec["requests"]}
    s = rec["settings"]
    offset = rec["prompt_offset"]
    row = {"workload": rec["workload"],
           "vllm_scheduler": "async" if s.get("async_scheduling") else "sync",
           "vllm_prompt": f"s+{offset}" if offset else "s", "lpsched_options": config,
           "budget": s["max_num_batched_tokens"], "blocks": s["usable_blocks"],
           "block_size": s["block_size"]}
    row.update(agreement(recorded_decisions(rec), lpsched_decisions(inst, opts), arrival))
    return row


def load_recordings(folder: Path) -> list[dict[str, Any]]:
    paths = sorted(folder.glob("*.json"))
    if not paths:
        _fail(f"{folder}: no recordings (*.json); run `record` first")
    return [expand(json.loads(p.read_text())) for p in paths]


def compare(folder: Path, out: Path) -> list[dict[str, Any]]:
    from common import machine, write_results

    recs = load_recordings(folder)
    rows = [compare_one(rec, cfg) for rec in recs for cfg in CONFIGS
            if CONFIGS[cfg](rec) is not None and (
                cfg not in ISOLATING
                or (rec["prompt_offset"] == 1 and not rec["settings"]["async_scheduling"]))]
    versions = sorted({rec["vllm_version"] for rec in recs})
    preamble = [
        "# lpsched `vllm` policy against the real vLLM V1 scheduler",
        "",
        f"Recordings of vLLM {', '.join(versions)} (`benchmarks/peer_vllm.py record`; V1 "
        "`Scheduler` (sync) and `AsyncScheduler` (async), CPU, fabricated model outputs; "
        "format in `benchmarks/results/peer_vllm/`, slim copies) compared with today's "
        "`lpsched.simulate.simulate(instance, \"vllm\", options=...)` by "
        "`benchmarks/peer_vllm.py compare`.",
        f"Machine: {machine()}.",
        "",
        "Columns: `vllm_prompt` is the vLLM prompt length for lpsched prefill `s`; "
        "`lpsched_options` `defaults` = the policy's defaults (watermark 0.01, "
        "`max_num_seqs` 256, budget `max(2048, max s+o)`), `v1-settings` = the recording's "
        "watermark, `max_num_seqs` and `max_num_batched_tokens`; `*_pct` = share of requests "
        "whose first admission step / list of preemption steps / completion step agree.",
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
    c = sub.add_parser("compare", help="compare recordings with lpsched's vllm policy")
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
