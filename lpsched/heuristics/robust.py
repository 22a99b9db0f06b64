"""A_max and A_min: scheduling with interval predictions ``[l_i, u_i]`` of the decode length.

Chen, Ye, Zhou, *Adaptively Robust LLM Inference Optimization under Prediction
Uncertainty* (arXiv 2508.14544, 2025). Each request comes with an interval that
contains its decode length; the accuracy is ``alpha = l / u``
(:mod:`lpsched.predictions`). The paper's model: one worker with KV budget ``M``,
identical prompts ``s``, true lengths anywhere in ``[l, u]`` (adversarial), and jobs
may be *cancelled* when memory overflows: a cancelled job loses its progress and its
latency counts to the start of its final run plus ``o`` (``TEL = sum_t t |I_t| +
sum_i o_i``, ``I_t`` the jobs whose final run starts at ``t``). Both rules build on
MC-SF (Jaillet et al. 2025): scan the waiting requests by ascending estimated length
and admit each while the estimated memory at every future completion step fits ``M``
(the look-ahead test), stopping at the first misfit. ``docs/papers.md`` (section
"Chen, Ye, Zhou") lists what each rule rests on and every choice we made.

**A_max** (conservative): the estimate is the upper end ``u_i``. With correct intervals
the true memory never exceeds the estimated one, so nothing is ever evicted. Proven
(the paper's setting): competitive ratio against H-SF at most
``alpha^-1 (1 + alpha^-1) / 2`` (and at least ``alpha^-1 (1 + alpha^-1/2) / 2``),
:func:`a_max_ratio_bound`.

**A_min** (adaptive): the estimate ``l~_i`` starts at the lower end ``l_i`` and is
refined while the request runs: a request still running after ``e`` steps has length
at least ``e + 1``, so ``l~_i <- max(l~_i, e + 1)``. When the memory of the next step
would exceed ``M`` the running requests with the smallest ``l~`` are *cancelled*
(progress and memory discarded, they restart from scratch with their refined ``l~``;
:meth:`AMinPolicy.cancel`, the engine's cancel mode, :attr:`Schedule.restarts
<lpsched.schedule.Schedule.restarts>`). Proven: competitive ratio ``O(log(1/alpha))``
(the constant is not in the parts of the paper we could read).

Predictions. Interval options: ``lower`` and ``upper`` (one integer per request), or
``interval_accuracy`` (draw intervals of that ``alpha`` around the true lengths,
:func:`lpsched.predictions.interval_predictions`, seeded by ``interval_seed``, else the
solve's ``seed``). With neither, the simulator's point predictions (``predictions``,
``prediction_noise`` or the truth) are used as degenerate intervals ``[o_hat, o_hat]``,
which makes both rules MC-SF.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lpsched.heuristics.baselines import LookaheadPolicy, policy_spec, run_policy
from lpsched.instance import Instance
from lpsched.options import param
from lpsched.predictions import IntervalPredictions, resolve_intervals
from lpsched.schedule import Result
from lpsched.simulate import BasePolicy, SimState
from lpsched.stop import Deadline

__all__ = ["ALGORITHMS", "AMaxPolicy", "AMinPolicy", "IntervalParams", "a_max_ratio_bound",
           "solve_a_max", "solve_a_min"]


@dataclass(frozen=True)
class IntervalParams:
    """The interval predictions of A_max / A_min (Chen, Ye, Zhou 2025, arXiv 2508.14544)."""

    lower: Sequence[int] | None = param(None, "ints", "lower ends l of the predicted decode "
                                        "intervals, one per request (with upper)", minimum=1)
    upper: Sequence[int] | None = param(None, "ints", "upper ends u of the predicted decode "
                                        "intervals, one per request (with lower)", minimum=1)
    interval_accuracy: float | None = param(
        None, "float", "draw intervals of accuracy alpha = l/u around the true lengths "
        "(default: exact point predictions as [o_hat, o_hat])", minimum=1e-9, maximum=1)
    interval_seed: int | None = param(None, "int", "seed of the interval draw (default: the "
                                      "solve's seed, else 0)", minimum=0)


def a_max_ratio_bound(alpha: float) -> float:
    """The paper's upper bound on A_max's competitive ratio, ``alpha^-1 (1 + alpha^-1) / 2``.

    >>> a_max_ratio_bound(1.0), a_max_ratio_bound(0.5)
    (1.0, 3.0)
    """
    inv = 1.0 / float(alpha)
    return inv * (1.0 + inv) / 2.0


class _Override:
    """A read-only view of a :class:`SimState` with other predicted lengths (for reset)."""

    def __init__(self, state: SimState, predicted: np.ndarray):
        self.memory, self.prefill, self.arrival = state.memory, state.prefill, state.arrival
        self.limits = state.limits  # the engine's limits (async scheduling: async_lengths)
        self.predicted = predicted


def _intervals(state: SimState, prm: IntervalParams, seed: int | None) -> IntervalPredictions:
    """The policy's intervals: from its options, else ``[o_hat, o_hat]``."""
    if prm.lower is None and prm.interval_accuracy is None:
        o_hat = np.asarray(state.predicted, dtype=np.int64)
        return IntervalPredictions(o_hat, o_hat)
    s = prm.interval_seed if prm.interval_seed is not None else seed
    return resolve_intervals(state.instance, prm.lower, prm.upper, prm.interval_accuracy, s)


class AMaxPolicy(LookaheadPolicy):
    """A_max: the MC-SF rule on the upper ends ``u_i`` (module docstring)."""

    def __init__(self, params: IntervalParams | None = None, seed: int | None = None):
        super().__init__("decode", backfill=False, name="a-max")
        self.params = params or IntervalParams()
        self.seed = seed

    def reset(self, state: SimState) -> None:
        self.intervals = _intervals(state, self.params, self.seed)
        super().reset(_Override(state, self.intervals.upper))  # type: ignore[arg-type]


class AMinPolicy(BasePolicy):
    """A_min: MC-SF on lower ends refined as requests outlive them; on an overflow the
    requests with the smallest estimates are cancelled (module docstring).

    State: the estimate ``l~_i`` (starts at ``l_i``, capped at ``M - s_i``). At decision
    time ``t`` every running request ``j`` has run ``e = t - p_j`` steps and runs in step
    ``t+1`` (it has not completed), so its length is at least ``e + 1``:
    ``l~_j <- max(l~_j, e + 1)``; its estimated completion is ``p_j + l~_j``.

    *Overflow* (:meth:`cancel`): when the true memory of step ``t+1`` (known at ``t``:
    ``sum (s_j + t + 1 - p_j)`` over the running requests, no length needed) exceeds
    ``M``, cancel running requests in ascending ``l~`` (ties: least progress, then
    position) until it fits: their progress and memory are discarded, they wait again
    with their refined ``l~`` and restart from scratch (:attr:`Schedule.restarts`).

    *Admission* (:meth:`decide`): waiting requests are scanned by ascending ``l~``
    (ties: arrival, position); a candidate (a fresh run: ``p = t``) is admitted if the
    estimated memory ``sum (s_j + u - p_j)`` over the running, admitted and candidate
    requests still to complete at ``u`` stays ``<= M`` at every estimated completion
    step ``u > t``; stop at the first misfit. When nothing runs the first candidate always
    starts.

    >>> from lpsched.instance import Instance, Request
    >>> inst = Instance(12, [Request("a", 1, 6), Request("b", 1, 2), Request("c", 1, 2)])
    >>> res = solve_a_min(inst, lower=[1, 1, 1], upper=[8, 8, 8])
    >>> res.schedule.starts.tolist(), res.objective, res.stats["evictions"]
    ([0, 0, 0], 10, 0)
    """

    name = "a-min"

    def __init__(self, params: IntervalParams | None = None, seed: int | None = None):
        self.params = params or IntervalParams()
        self.seed = seed

    def reset(self, state: SimState) -> None:
        self.intervals = _intervals(state, self.params, self.seed)
        cap = state.memory - state.prefill
        self._est = np.minimum(self.intervals.lower, cap).astype(np.int64).tolist()
        self._cap = cap.tolist()
        self._s = state.prefill.tolist()
        self._arr = state.arrival.tolist()
        self._waiting: list[tuple[int, int, int]] = []  # (l~, arrival, position), sorted
        self._kept: set[int] = set()  # resumed by the engine's guard with kept progress
        self._t_refined = -1

    def on_arrival(self, state: SimState, positions: list[int]) -> None:
        for pos in positions:
            bisect.insort(self._waiting, self._key(int(pos)))

    def _key(self, pos: int) -> tuple[int, int, int]:
        return self._est[pos], self._arr[pos], pos

    def on_evict(self, state: SimState, positions: list[int]) -> None:
        for pos in positions:
            pos = int(pos)
            if pos in state.done:  # preempted by the engine's guard (not by A_min)
                self._kept.add(pos)
            bisect.insort(self._waiting, self._key(pos))  # its estimate only changes here

    def on_finish(self, state: SimState, positions: list[int]) -> None:
        self._kept.difference_update(positions)

    def _refine(self, state: SimState) -> None:
        """``l~_j <- max(l~_j, t - p_j + 1)`` for every running ``j`` (once per ``t``)."""
        t, est, cap = state.t, self._est, self._cap
        if self._t_refined == t:
            return
        self._t_refined = t
        for pos, p in state.running.items():
            if t - p >= est[pos]:
                est[pos] = min(t - p + 1, cap[pos])

    def cancel(self, state: SimState) -> list[int]:
        """The requests cancelled at ``t``: ascending ``l~`` until step ``t+1`` fits."""
        over = state.memory_next - state.memory
        if over <= 0:
            return []
        self._refine(state)
        t, est = state.t, self._est
        order = sorted((est[pos], t - p, pos) for pos, p in state.running.items()
                       if pos not in self._kept)
        victims: list[int] = []
        for _e, ran, pos in order:
            if over <= 0:
                break
            victims.append(pos)
            over -= self._s[pos] + ran + 1  # what it would hold in step t+1
        return victims

    def next_decision(self, state: SimState) -> int:
        """The next step when something waits (the estimates move every step); else
        none: :meth:`cancel` acts only on an overflow, where the engine stops anyway."""
        return state.t + 1 if state.waiting else _NEVER

    def decide(self, state: SimState) -> list[int]:
        t, M = state.t, state.memory
        self._refine(state)
        est = self._est
        w = [self._s[pos] - p for pos, p in state.running.items()]
        c = [p + max(est[pos], t - p + 1) for pos, p in state.running.items()]
        chosen: list[int] = []
        for _e, _a, pos in self._waiting:
            done = state.done.get(pos, 0)  # > 0 only after a guard preemption
            p = t - done
            end = p + max(est[pos], done + 1)
            if (state.running or chosen) and not _fits(w + [self._s[pos] - p], c + [end], t, M):
                break
            w.append(self._s[pos] - p)
            c.append(end)
            chosen.append(pos)
        del self._waiting[:len(chosen)]  # a prefix of the sorted waiting list
        return chosen


_NEVER = 1 << 60


def _fits(w: list[int], c: list[int], t: int, M: int) -> bool:
    """Is ``sum_{j: c_j >= u} (w_j + u) <= M`` at every estimated completion ``u > t``?
    (memory peaks at completion steps; ``w_j = s_j - p_j``)."""
    ca = np.asarray(c, dtype=np.int64)
    wa = np.asarray(w, dtype=np.int64)
    us = np.unique(ca[ca > t])
    order = np.argsort(-ca, kind="stable")
    cs, ws = ca[order], np.cumsum(wa[order])
    k = np.searchsorted(-cs, -us, side="right")  # how many have c_j >= u
    return bool(np.all(ws[k - 1] + k * us <= M))


def _run(instance: Instance, policy: BasePolicy, deadline: Deadline | None, seed: int | None,
         sim: dict[str, Any]) -> Result:
    res = run_policy(instance, policy, deadline=deadline, seed=seed, **sim)
    iv = policy.intervals  # type: ignore[attr-defined]
    stats = dict(res.stats)
    stats.update({"interval_accuracy": round(iv.accuracy, 6),
                  "outside_interval": int((~iv.contains(instance.decode)).sum())})
    return Result(algorithm=policy.name, status=res.status, objective=res.objective,
                  runtime=res.runtime, schedule=res.schedule, stats=stats, message=res.message)


def _registry_entry(make: type[AMaxPolicy] | type[AMinPolicy], label: str):
    """The registry function ``solve_<rule>`` of a policy class (one signature for both)."""

    def entry(instance: Instance, *, deadline: Deadline | None = None, seed: int | None = None,
              lower: Sequence[int] | None = IntervalParams.lower,
              upper: Sequence[int] | None = IntervalParams.upper,
              interval_accuracy: float | None = IntervalParams.interval_accuracy,
              interval_seed: int | None = IntervalParams.interval_seed,
              **sim: Any) -> Result:
        prm = IntervalParams(lower, upper, interval_accuracy, interval_seed)
        return _run(instance, make(prm, seed), deadline, seed, sim)

    entry.__name__ = entry.__qualname__ = f"solve_{label.lower()}"
    entry.__doc__ = (f"Registry entry: simulate {label}; options: the fields of "
                     ":class:`IntervalParams` and the simulation's "
                     "(:class:`~lpsched.heuristics.baselines.SimulationParams`).")
    return entry


solve_a_max = _registry_entry(AMaxPolicy, "A_max")
solve_a_min = _registry_entry(AMinPolicy, "A_min")


def a_max(**options: Any) -> AMaxPolicy:
    """Policy factory for the registry (``replay``, ``simulate(name)``)."""
    return AMaxPolicy(IntervalParams(**options))


def a_min(**options: Any) -> AMinPolicy:
    """Policy factory for the registry (``replay``, ``simulate(name)``)."""
    return AMinPolicy(IntervalParams(**options))


#: The registry's declarations of this module's algorithms (:mod:`lpsched.registry`).
ALGORITHMS = (
    policy_spec("a-max", solve_a_max, a_max,
                "A_max: MC-SF on the upper ends u of interval predictions [l, u] "
                "(conservative: never overflows with correct intervals)",
                "Chen, Ye, Zhou, Adaptively Robust LLM Inference Optimization under "
                "Prediction Uncertainty, arXiv:2508.14544, 2025", IntervalParams),
    policy_spec("a-min", solve_a_min, a_min,
                "A_min: MC-SF on the lower ends l, each refined as a request outlives "
                "it; on an overflow the smallest estimates are cancelled (progress lost, "
                "restart from scratch; log-scale competitive)",
                "Chen, Ye, Zhou 2025 (arXiv:2508.14544)", IntervalParams),
)
