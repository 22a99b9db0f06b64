"""The engine's fallback when its deadline expires: finish without the policy (the drain),
and the clock of the steps it adds."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING

import numpy as np

from lpsched.check import _Profile
from lpsched.schedule import Schedule, one_at_a_time

if TYPE_CHECKING:
    from lpsched.engine.loop import Engine

__all__ = ["drain", "timed_tail"]


def drain(run: Engine, t: int) -> None:
    """The deadline expired at ``t``: finish without the policy.

    The prefill in progress is put back; the running requests continue; while their true
    memory would exceed ``M`` at one of their completion steps, the most recently started
    one is preempted (as the guard would). Every other unfinished request then runs after
    them in arrival order (a preempted one resumes with its progress): with exact lengths
    in causal packed batches (:func:`_packed_starts`), else each alone when the previous
    one has completed (:func:`lpsched.schedule.one_at_a_time`); never before its arrival.
    Always feasible: a batch's peaks fit in ``M`` together, and every request fits alone.
    In a timed run a request that has not arrived yet is placed at the step it would reach
    if every step from now on lasted one idle tick (steps last at least that long, so it
    does not start before its arrival time).
    """
    run.drain_step = t
    state = run.state
    if run.tclock is not None:
        run.tclock.exact_now()
    victims = [run._drop_partial(t)] if run.partial >= 0 else []
    live = [(pos, rid) for pos, rid in run.lifo if run._live(pos, rid)
            and state.running[pos] + run.o[pos] > t]
    s, o = run.instance.prefill, run.instance.decode
    while live:
        pos_arr = np.fromiter((p for p, _ in live), dtype=np.int64, count=len(live))
        q = np.fromiter((state.running[p] for p, _ in live), dtype=np.int64, count=len(live))
        prof = _Profile(s[pos_arr], o[pos_arr], q, state.block_size)
        if prof(q + o[pos_arr]).max() <= run.M:  # memory peaks at completion steps
            break
        pos = live.pop()[0]
        run.preempt(pos, t)
        run.preempt_events.append((pos, t))
        victims.append(pos)
    free = max([t] + [state.running[p] + run.o[p] for p, _ in live])
    arrival = _drain_arrivals(run, t)
    rest = [k for k in range(run.n) if k not in state.running and _unfinished(run, k)]
    rest.sort(key=lambda k: (int(arrival[k]), k))
    order = np.asarray(rest, dtype=np.int64)
    left = run.instance.decode[order] - np.asarray([run.prog[k] for k in rest], dtype=np.int64)
    if run.exact_lengths:
        begin = _packed_starts(run.instance.peak[order], arrival[order], left, run.M, free)
    else:
        begin = one_at_a_time(arrival[order], left, free)
    for k, p in zip(rest, begin.tolist()):
        if run.first_admit[k] < 0:
            run.first_admit[k] = p
        run.start(k, p)
    run.drained = len(rest)
    if victims:
        run.policy.on_evict(state, victims)
    run.completions = []
    state.running.clear()


def _drain_arrivals(run: Engine, t: int) -> np.ndarray:
    """Arrival steps for the drain (timed runs: unrevealed requests by idle ticks)."""
    if run.tclock is None or run.arr_steps is None or run.arrival_s is None:
        return run.instance.arrival
    arr = run.arr_steps
    late = arr >= (1 << 60)
    if late.any():
        gap = (run.arrival_s[late] - run.tclock.now) / run.tclock.idle_s
        arr[late] = t + np.maximum(0, np.ceil(gap)).astype(np.int64)
    return arr


def _unfinished(run: Engine, k: int) -> bool:
    return run.starts[k] < 0 or k in run.state.done


def _packed_starts(peak: np.ndarray, arrival: np.ndarray, duration: np.ndarray, M: int,
                   t0: int) -> np.ndarray:
    """Start steps of requests given in arrival order, run in causal packed batches from ``t0``.

    At ``t`` (``t0``, then the end of each batch) the batch is the longest run of
    the next requests that have arrived by ``t`` and whose peaks sum to at most
    ``M`` (at least one request: every request fits alone); when the next request
    has not arrived, ``t`` jumps to its arrival. The batch ends at ``t`` plus its
    longest ``duration`` (decode steps left). Memory is at most the sum of the
    peaks, so every batch is feasible with nothing else running. ``O(n log n)``.
    """
    begin = np.zeros(peak.size, dtype=np.int64)
    cum = np.concatenate([[0], np.cumsum(peak)])
    j, t = 0, int(t0)
    while j < peak.size:
        t = max(t, int(arrival[j]))
        fit = int(np.searchsorted(cum, cum[j] + M, side="right")) - 1
        came = int(np.searchsorted(arrival, t, side="right"))
        k = max(j + 1, min(fit, came))
        begin[j:k] = t
        t += int(duration[j:k].max())
        j = k
    return begin


def timed_tail(run: Engine, sched: Schedule, steps: int) -> None:
    """Cost the steps after the last one the clock ran (the drain's), from the schedule's
    runs (:func:`lpsched.serving.timeline.step_record`; whole prefills, no chunking)."""
    clock = run.tclock
    if clock is None:
        return
    have = len(clock.ends) - 1
    if steps <= have:
        return
    from lpsched.serving.timeline import runs_of, step_record

    rec = step_record(sched.instance, runs_of(sched.instance, SimpleNamespace(schedule=sched)))
    sl = slice(have, steps)
    dur = np.asarray(clock.f(rec.rows[sl], rec.kv[sl], rec.prefill_sq[sl], rec.outputs[sl]),
                     dtype=np.float64)
    dur = np.where(rec.rows[sl] > 0, dur, clock.idle_s)
    clock.extend(dur)
