"""From a simulated schedule to a wall clock and the times at which tokens reach the user.

Runs (segments)
---------------
A *run* of request ``i`` is ``(start p, steps d, progress r)``: it occupies steps
``p+1 .. p+d``, holds ``s_i + r + (t - p)`` KV tokens in step ``t`` and emits output
tokens ``r+1 .. r+d`` (one per step). Its first step (re)fills the cache: ``P = s_i + r``
prompt rows (a start: ``r = 0``; a resume after a preemption with progress kept:
``r`` > 0). :func:`runs_of` reads them from a :class:`~lpsched.simulate.SimulationResult`:

* a request preempted and resumed: its segments ``schedule.runs[pos]``
  (``((p, d), ...)`` in order; progress = the steps of the earlier segments, so a
  resume refills ``s_i + r`` rows: vLLM's recompute);
* every other request: one run ``(p_i, o_i, 0)``.

Per step (:class:`StepRecord`): token rows (one per continuing run, ``max(P, 1)`` per
run whose fill is in this step), the KV tokens of the continuing runs (read by decode
attention), ``sum P (P + 1)`` of the fills (prefill attention), and the runs that emit.

Clock
-----
``clock[0] = 0`` and ``clock[t]`` is the end of step ``t``; a busy step lasts the
step-time model's seconds (:mod:`lpsched.serving.steptime`), a step with nothing
running lasts ``idle_seconds`` (the engine polls; this is also the resolution at which
arrivals are placed). Token ``k`` of a request reaches the user at the end of the first
step that emitted it (each token is emitted once: a resumed run continues where the
preempted one stopped).

Chunked prefill (``chunk_tokens = C``): each step takes the continuing runs' decode
rows first (a run whose fill is not complete does not decode) and then at most
``C - decode rows`` rows of the waiting fills, first come first served; a chunk of
rows ``u+1 .. u+c`` of a prefill costs the causal attention ``(u+c)(u+c+1) - u(u+1)``.
A run's tokens are delivered no earlier than the end of the step that completes its
fill; steps are appended after the schedule's last step while fills remain.
Approximation (stated): the schedule itself (from the simulator) is not re-timed, so a
run still ends in the step the simulator gave it; only the cost of the steps and the
delivery of its first tokens move (the KV of a run still filling is still counted as
read by decode attention).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from lpsched.instance import Instance
from lpsched.serving.steptime import StepTimeModel

__all__ = ["Runs", "StepRecord", "Timeline", "runs_of", "step_record", "build_timeline"]


@dataclass(frozen=True)
class Runs:
    """Runs of all requests (int64 arrays, sorted by request then start)."""

    pos: np.ndarray
    start: np.ndarray
    steps: np.ndarray
    progress: np.ndarray


def runs_of(instance: Instance, sim) -> Runs:
    """The runs of a simulation (module docstring)."""
    rows: list[tuple[int, int, int, int]] = []
    seg = sim.schedule.runs  # {position: ((p, d), ...)}: the preempted-and-resumed requests
    for k, parts in seg.items():
        done = 0
        for p, d in parts:
            rows.append((int(k), int(p), int(d), done))
            done += int(d)
    starts = sim.schedule.starts.tolist()
    for k, (p, o) in enumerate(zip(starts, instance.decode.tolist())):
        if k not in seg:
            rows.append((k, p, o, 0))
    arr = np.asarray(sorted(rows), dtype=np.int64).reshape(-1, 4)
    return Runs(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3])


@dataclass(frozen=True)
class StepRecord:
    """Per step ``1..T`` (index ``t-1``): work of the step and who emits."""

    rows: np.ndarray
    decode_rows: np.ndarray
    kv: np.ndarray
    prefill_sq: np.ndarray
    outputs: np.ndarray
    fill_rows: np.ndarray  # prompt rows of each run (aligned with Runs)


def step_record(instance: Instance, runs: Runs) -> StepRecord:
    """Aggregate the runs into per-step work (difference arrays, ``O(runs + T)``)."""
    s = instance.prefill[runs.pos] + runs.progress
    p, d = runs.start, runs.steps
    T = int((p + d).max()) if p.size else 0
    fill = np.maximum(s, 1)
    cnt = np.zeros(T + 2)
    coef = np.zeros(T + 2)  # sum of (s + r - p) over active runs
    np.add.at(cnt, p + 1, 1)
    np.add.at(cnt, p + d + 1, -1)
    np.add.at(coef, p + 1, s - p)
    np.add.at(coef, p + d + 1, -(s - p))
    active = np.cumsum(cnt)[1:T + 1]
    t = np.arange(1, T + 1)
    kv_all = np.cumsum(coef)[1:T + 1] + t * active
    nfill = np.bincount(p, minlength=T + 1)[:T]
    fill_rows = np.bincount(p, weights=fill, minlength=T + 1)[:T]
    fill_kv = np.bincount(p, weights=s + 1, minlength=T + 1)[:T]
    sq = np.bincount(p, weights=s * (s + 1.0), minlength=T + 1)[:T]
    dec = active - nfill
    return StepRecord(rows=dec + fill_rows, decode_rows=dec, kv=kv_all - fill_kv,
                      prefill_sq=sq, outputs=active, fill_rows=fill.astype(np.int64))


@dataclass(frozen=True)
class Timeline:
    """The clock and per-request delivery times (seconds)."""

    clock: np.ndarray
    step_seconds: np.ndarray
    arrival: np.ndarray  # clock at each request's arrival step
    ttft: np.ndarray
    e2el: np.ndarray
    itl: np.ndarray  # pooled inter-token latencies
    steps: int


def _chunked(rec: StepRecord, runs: Runs, model: StepTimeModel, chunk: int,
             idle: float) -> tuple[np.ndarray, np.ndarray]:
    """Step durations and fill-completion step of each run under a token budget."""
    T = rec.rows.size
    order = np.lexsort((np.arange(runs.start.size), runs.start))
    by_step: dict[int, list[int]] = {}
    for j in order.tolist():
        by_step.setdefault(int(runs.start[j]), []).append(j)
    done_at = np.zeros(runs.start.size, dtype=np.int64)
    end = (runs.start + runs.steps).tolist()
    queue: deque[list[int]] = deque()  # [run, rows done]
    dur: list[float] = []
    t = 0
    while t < T or queue:
        t += 1
        filling = sum(1 for j, _ in queue if t <= end[j])  # not decoding yet
        for j in by_step.get(t - 1, ()):
            queue.append([j, 0])
        dec = float(rec.decode_rows[t - 1]) - filling if t <= T else 0.0
        kv = float(rec.kv[t - 1]) if t <= T else 0.0
        out = float(rec.outputs[t - 1]) if t <= T else 0.0
        room, rows, sq = max(chunk - int(dec), 0), dec, 0.0
        while queue and room > 0:
            j, u = queue[0]
            c = min(room, int(rec.fill_rows[j]) - u)
            sq += (u + c) * (u + c + 1.0) - u * (u + 1.0)
            rows += c
            room -= c
            queue[0][1] = u + c
            if u + c >= rec.fill_rows[j]:
                done_at[j] = t
                queue.popleft()
        busy = rows > 0
        dur.append(float(model.step_seconds(rows, kv, sq, out)) if busy else idle)
    return np.asarray(dur), done_at


def build_timeline(instance: Instance, runs: Runs, model: StepTimeModel, *,
                   idle_seconds: float, chunk_tokens: int | None = None) -> Timeline:
    """Clock and delivery times (module docstring)."""
    rec = step_record(instance, runs)
    if chunk_tokens is None:
        dur = model.step_seconds(rec.rows, rec.kv, rec.prefill_sq, rec.outputs)
        dur = np.where(rec.outputs > 0, dur, idle_seconds)
        done_at = runs.start + 1
    else:
        dur, done_at = _chunked(rec, runs, model, int(chunk_tokens), idle_seconds)
    clock = np.concatenate(([0.0], np.cumsum(dur)))
    n = instance.n
    arrival = clock[instance.arrival]
    first = np.full(n, np.inf)
    last = np.zeros(n)
    itls: list[np.ndarray] = []
    delivered = np.zeros(n, dtype=np.int64)
    times: list[list[np.ndarray]] = [[] for _ in range(n)]
    for j in np.lexsort((runs.start, runs.pos)).tolist():
        k, p, d, r = (int(runs.pos[j]), int(runs.start[j]), int(runs.steps[j]),
                      int(runs.progress[j]))
        lo = max(int(delivered[k]), r) + 1  # first token this run delivers
        if lo > r + d:
            continue
        steps = p + np.arange(lo - r, d + 1)
        tt = np.maximum(clock[steps], clock[done_at[j]])
        times[k].append(tt)
        delivered[k] = max(int(delivered[k]), r + d)
    for k in range(n):
        tt = np.concatenate(times[k])
        first[k] = tt[0]
        last[k] = tt[-1]
        if tt.size > 1:
            itls.append(np.diff(tt))
    itl = np.concatenate(itls) if itls else np.zeros(0)
    return Timeline(clock=clock, step_seconds=np.asarray(dur), arrival=arrival,
                    ttft=first - arrival, e2el=last - arrival, itl=itl, steps=int(dur.size))
