"""What a run of the engine produces: :class:`SimulationResult`, per-request times in
seconds, predictions, and :func:`timed_latencies` (a finished schedule under a step-time model).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lpsched.check import memory_profile
from lpsched.instance import Instance, InstanceError, integer_column
from lpsched.schedule import Schedule

__all__ = ["SimulationResult", "TimedLatencies", "noisy_predictions", "timed_latencies",
           "validate_predictions"]


@dataclass(frozen=True)
class SimulationResult:
    """Outcome of one engine run (:func:`lpsched.engine.run_engine`, ``simulate``).

    ``schedule`` holds each request's first start (in the papers' sense: the decision time
    before the step that emits its first token, so after the last chunk of a chunked
    prefill) and, for preempted requests, its segments
    (:attr:`lpsched.schedule.Schedule.runs`); ``schedule.instance`` is the instance as
    the engine counted memory (the memory prefill ``s - 1`` under V1's accounting, the
    padded instance for a policy that is not block-aware). ``evictions`` counts the
    preemptions (memory guard, the policy's own, drain, and of prefills in progress);
    ``evicted_runs`` is an ``(k, 3)`` int array of the preempted decode segments
    ``(position, segment start, steps run)``; ``preemption_events`` an ``(k, 2)`` array
    ``(position, decision time)`` of every preemption. ``resumes`` counts the restarts of
    preempted requests, ``recomputed_tokens`` the KV tokens rebuilt at them (``s + D``
    each), ``deferred_resumes`` the resumes the engine refused (the next step would not
    fit), ``refused`` every admission the engine refused (limits). ``first_admit`` is
    the decision time of each request's first admission (its first prefill chunk),
    ``arrival_steps`` the decision time at which each was revealed. ``policy_calls``
    counts :meth:`Policy.decide` calls, ``decision_times`` the decision times visited,
    ``steps`` the makespan. ``clock`` (timed runs): the time at every decision time
    ``0..steps`` (seconds; after an idle jump the next step starts later than the clock
    of its decision time), ``step_seconds`` the duration of each step ``1..steps``,
    ``arrival_s`` the true arrival times. ``cancellations`` counts the runs a policy
    killed (``cancel``: progress discarded; the attempts are in
    :attr:`Schedule.restarts <lpsched.schedule.Schedule.restarts>`), ``cancelled_steps``
    the decode steps they had run (wasted).
    """

    schedule: Schedule
    evictions: int
    recomputed_tokens: int
    resumes: int
    policy_calls: int
    decision_times: int
    steps: int
    runtime: float
    evicted_runs: np.ndarray = field(repr=False)
    deferred_resumes: int = 0
    drained: int = 0
    drain_step: int | None = None
    padded: bool = False
    refused: int = 0
    first_admit: np.ndarray | None = field(default=None, repr=False)
    arrival_steps: np.ndarray | None = field(default=None, repr=False)
    preemption_events: np.ndarray | None = field(default=None, repr=False)
    clock: np.ndarray | None = field(default=None, repr=False)
    arrival_s: np.ndarray | None = field(default=None, repr=False)
    step_seconds: np.ndarray | None = field(default=None, repr=False)
    limits: Any = None
    cancellations: int = 0
    cancelled_steps: int = 0

    def stats(self) -> dict[str, Any]:
        """Figures for :attr:`lpsched.schedule.Result.stats`."""
        return {"evictions": self.evictions, "preemptions": self.evictions,
                "evicted_requests": int(np.unique(self.evicted_runs[:, 0]).size),
                "resumes": self.resumes, "recomputed_tokens": self.recomputed_tokens,
                "deferred_resumes": self.deferred_resumes, "refused": self.refused,
                "policy_calls": self.policy_calls,
                "decision_times": self.decision_times, "steps": self.steps,
                "simulation_s": round(self.runtime, 6), **({
                    "drained": self.drained, "drain_step": self.drain_step,
                    "fallback": "deadline: the rest ran after the running requests, in arrival "
                                 "order (packed batches with exact lengths, else one at a "
                                 "time)"}
                    if self.drain_step is not None else {}),
                **({"block_model": "padded"} if self.padded else {}),
                **({"cancellations": self.cancellations,
                    "cancelled_steps": self.cancelled_steps} if self.cancellations else {})}


def validate_predictions(instance: Instance, predictions: Iterable[int] | np.ndarray) -> np.ndarray:
    """Predicted decode lengths as a read-only int64 array (each an integer >= 1)."""
    arr = np.asarray(predictions)
    if arr.ndim != 1 or arr.size != instance.n:
        raise InstanceError(f"predictions must be a list of {instance.n} decode lengths, "
                            f"got shape {arr.shape}")
    arr = integer_column(arr, "predicted decode length", ids=instance.ids)
    if np.any(arr < 1):
        k = int(np.flatnonzero(arr < 1)[0])
        raise InstanceError(f"predicted decode length must be >= 1, got {arr[k]}",
                            request=instance.ids[k])
    arr.setflags(write=False)
    return arr


def noisy_predictions(instance: Instance, sigma: float, seed: int | None = None) -> np.ndarray:
    """Predictions ``o_hat = max(1, round(o * exp(sigma * Z)))``, ``Z ~ N(0, 1)`` i.i.d.

    Multiplicative log-normal noise (median-unbiased: as many under- as
    over-predictions), seeded by ``seed`` (None means 0, so runs are reproducible).
    """
    if not (isinstance(sigma, (int, float)) and not isinstance(sigma, bool)) or not (
            np.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"prediction_noise must be a number >= 0, got {sigma!r}")
    rng = np.random.default_rng(0 if seed is None else seed)
    z = rng.standard_normal(instance.n)
    o_hat = np.maximum(1, np.rint(instance.decode * np.exp(sigma * z))).astype(np.int64)
    o_hat.setflags(write=False)
    return o_hat



# ---------------------------------------------------------------------------------------------
# Timed mode
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimedLatencies:
    """Wall-clock view of a schedule under a step-time model.

    ``clock[t]`` is the wall time (seconds) at the end of step ``t`` (``clock[0] = 0``);
    ``step_seconds[t-1]`` the duration of step ``t``; ``batch`` and ``kv_tokens`` the
    running count and KV tokens of each step ``1..makespan``. Per request:
    ``latency = clock[c] - clock[a]``, ``queueing = clock[p] - clock[a]`` and
    ``tpot = (clock[c] - clock[p]) / o`` (seconds per output token).
    """

    latency: np.ndarray
    queueing: np.ndarray
    tpot: np.ndarray
    step_seconds: np.ndarray
    clock: np.ndarray
    batch: np.ndarray
    kv_tokens: np.ndarray
    stats: dict[str, float]


def timed_latencies(
    instance: Instance,
    schedule: Schedule | Sequence[int] | np.ndarray,
    step_time: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> TimedLatencies:
    """Per-request latencies in seconds when step ``t`` lasts ``step_time(B_t, K_t)``.

    ``B_t`` is the number of requests running in step ``t`` and ``K_t = m(t)`` the
    KV tokens they hold (from :func:`lpsched.check.memory_profile`), for steps
    ``1..makespan``; ``step_time`` gets both as arrays and returns the durations
    (seconds, >= 0). A step with an empty batch gets ``step_time(0, 0)`` as well
    (for a model with an intercept that is the idle tick; return 0 there to
    compress idle time). Arrival steps stay as scheduled: the clock only turns
    steps into seconds; it does not re-run the policy.

    Examples
    --------
    A linear model ``10 ms + 1 ms per request + 0.1 ms per 1000 KV tokens``:

    >>> from lpsched.instance import Instance, Request
    >>> inst = Instance(10, [Request("a", 1, 2), Request("b", 1, 1)])
    >>> lin = lambda b, kv: 0.010 + 0.001 * b + 1e-7 * kv
    >>> res = timed_latencies(inst, [0, 0], lin)
    >>> res.latency.round(7).tolist()
    [0.0230007, 0.0120004]
    """
    sched = schedule if isinstance(schedule, Schedule) else Schedule(instance, schedule)
    p = sched.starts
    o = instance.decode
    a = instance.arrival
    steps, kv = memory_profile(instance, sched)  # steps 1..makespan
    makespan = int(steps[-1]) if steps.size else 0
    cnt = np.zeros(makespan + 2, dtype=np.int64)
    _held, run_steps, run_start = sched.pieces()  # segments of preempted runs
    np.add.at(cnt, run_start + 1, 1)
    np.add.at(cnt, run_start + run_steps + 1, -1)
    batch = np.cumsum(cnt)[1:makespan + 1]
    dur = np.asarray(step_time(batch, kv), dtype=np.float64)
    if dur.shape != batch.shape:
        dur = np.broadcast_to(dur, batch.shape).astype(np.float64)
    if not np.all(np.isfinite(dur)) or np.any(dur < 0):
        k = int(np.flatnonzero(~np.isfinite(dur) | (dur < 0))[0])
        raise ValueError(f"step_time returned {dur[k]!r} for step {k + 1} "
                         f"(batch {batch[k]}, kv {kv[k]}): durations must be finite and >= 0")
    clock = np.concatenate(([0.0], np.cumsum(dur)))
    c = sched.completions
    latency = clock[c] - clock[a]
    queueing = clock[p] - clock[a]
    tpot = (clock[c] - clock[p]) / o
    q = np.percentile(latency, [50, 90, 99])
    stats = {"mean": float(latency.mean()), "p50": float(q[0]), "p90": float(q[1]),
             "p99": float(q[2]), "max": float(latency.max()),
             "mean_queueing": float(queueing.mean()), "mean_tpot": float(tpot.mean()),
             "makespan_s": float(clock[-1])}
    return TimedLatencies(latency=latency, queueing=queueing, tpot=tpot, step_seconds=dur,
                          clock=clock, batch=batch, kv_tokens=kv, stats=stats)

