"""The one event simulator: a policy decides, step by step, which requests to start.

Time model (``docs/design.md``). A request started at step ``p`` runs in steps
``p+1 .. p+o`` and holds ``s + (t - p)`` KV tokens in step ``t``; ``p >= a``.

Decision times
--------------
At a *decision time* ``t`` (an integer, the boundary before step ``t+1``) the
simulator, in this order,

1. retires the requests that truly completed (``p + o <= t``) and tells the policy
   (:meth:`Policy.on_finish`);
2. reveals the requests that arrived (``a <= t``) and tells the policy
   (:meth:`Policy.on_arrival`); future arrivals are invisible (online); an
   offline backlog is the case where every ``a = 0``;
3. runs the *memory guard* (below);
4. if some request waits, calls :meth:`Policy.decide`, which returns the waiting
   requests to start at ``t`` (they occupy memory from step ``t+1`` on).

The policy sees a :class:`SimState`: the running requests with their starts
(hence their current memory ``s + t - p``) and *predicted* decode lengths
``o_hat``, the waiting requests, and the free memory of step ``t+1``. It never
sees true decode lengths: it learns that a request finished when it finishes.
The first decision time is the first arrival (nothing is visible before).

Which decision times are visited (exactness of skipping)
--------------------------------------------------------
Every step where a request waits is, semantically, a decision time. To be fast
the simulator jumps over steps where the policy provably would start nothing:
after a call at ``t`` it jumps to the earliest of: the next arrival, the next true
completion, the next memory-guard step, and :meth:`Policy.next_decision` (default
``t + 1``, i.e. call every step). A policy may only return a later step when it
can prove it would start nothing before it *as long as no arrival, completion or
eviction happens* (the look-ahead policies of :mod:`lpsched.heuristics.baselines`
compute the earliest step at which their first candidate, or with backfilling
any request not dominated by another waiting one, fits;
``simulate(..., skip_idle=False)`` calls every step and the tests check that
both give the same schedule). With no request waiting, the
simulator jumps to the next arrival or guard step; completions in between are
reported to the policy at the next decision time (it could not act on them).

Memory guard (prediction errors)
--------------------------------
The policy must keep the *next* step feasible: starts that make the known
memory of step ``t+1`` exceed ``M`` are an error (:class:`SimulationError`);
that memory does not depend on any decode length. Under-predicted lengths can
still make memory grow past ``M`` later. Before every step ``t+1`` the guard
computes the true memory ``m(t+1)``; while it exceeds ``M`` it evicts the running
request that started *most recently* (ties: the one started later within the
same decision) back to the waiting queue. An evicted request loses its KV cache
and later restarts from scratch (no preemption with resume). The oldest running
request is never evicted (alone it holds at most ``s + o <= M``), so every
request eventually completes. Evictions, the decode steps and the KV token-steps
held by evicted runs (``sum s*d + d(d+1)/2`` for a run of ``d`` steps) are
counted. The schedule records each request's *final* (successful) start; because
actual usage never exceeds ``M`` (evicted runs included) it passes
:func:`lpsched.check.check`.

Paged memory
------------
With ``instance.block_size = b > 1`` a policy that does not declare
``block_aware = True`` is run on the padded instance of :mod:`lpsched.paging`
(prefill ``s + b - 1``, ``b = 1``; conservative, refused when a padded request does
not fit alone) and its schedule re-attached to the paged instance
(``stats["block_model"] = "padded"``).

Timed mode
----------
:func:`timed_latencies` maps a finished schedule to wall-clock latencies with a
step-time model applied to the batch that runs in each step.
"""

from __future__ import annotations

import dataclasses
import heapq
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lpsched.check import _Profile, memory_profile
from lpsched.instance import Instance, InstanceError, integer_column
from lpsched.paging import padded_instance
from lpsched.schedule import Schedule
from lpsched.stop import Deadline

__all__ = [
    "BasePolicy",
    "Policy",
    "SimState",
    "SimulationError",
    "SimulationResult",
    "TimedLatencies",
    "noisy_predictions",
    "simulate",
    "timed_latencies",
    "validate_predictions",
]


class SimulationError(RuntimeError):
    """A policy broke the simulator's protocol (bad start, memory overflow, stall)."""


class SimState:
    """What a policy may see at a decision time (read it, do not modify it).

    Attributes
    ----------
    t
        The decision time; requests started now occupy memory from step ``t+1``.
    memory
        The budget ``M``.
    prefill, arrival
        Instance columns (read-only arrays, indexed by request position).
    predicted
        Predicted decode lengths ``o_hat`` (the truth when no prediction was given).
    running
        ``{position: start step}`` of the requests running in step ``t+1``.
    waiting
        Positions of the arrived requests not running and not finished.
    """

    __slots__ = ("t", "memory", "prefill", "arrival", "predicted", "running", "waiting",
                 "_wsum", "_n_run", "instance")

    def __init__(self, instance: Instance, predicted: np.ndarray):
        self.instance = instance
        self.t = 0
        self.memory = instance.memory
        self.prefill = instance.prefill
        self.arrival = instance.arrival
        self.predicted = predicted
        self.running: dict[int, int] = {}
        self.waiting: set[int] = set()
        self._wsum = 0  # sum over running of (s - p)
        self._n_run = 0

    @property
    def memory_next(self) -> int:
        """KV tokens the running requests hold in step ``t+1`` (exact, no prediction)."""
        return self._wsum + (self.t + 1) * self._n_run

    @property
    def free_next(self) -> int:
        """``M - memory_next``: what requests started now may use in step ``t+1``."""
        return self.memory - self.memory_next

    def memory_now(self, pos: int) -> int:
        """KV tokens running request ``pos`` holds in step ``t``."""
        return int(self.prefill[pos]) + self.t - self.running[pos]

    def predicted_remaining(self, pos: int) -> int:
        """Predicted decode steps left for running ``pos``, at least 1 (it has not finished)."""
        return max(self.running[pos] + int(self.predicted[pos]) - self.t, 1)


class Policy:
    """The policy protocol (duck-typed; :class:`BasePolicy` gives defaults).

    ``reset(state)`` once before the run; ``on_arrival``, ``on_finish``, ``on_evict``
    with lists of positions; ``decide(state) -> positions to start now``;
    ``next_decision(state) -> step`` (see the module docstring).
    """

    name: str = "policy"

    def reset(self, state: SimState) -> None: ...
    def on_arrival(self, state: SimState, positions: list[int]) -> None: ...
    def on_finish(self, state: SimState, positions: list[int]) -> None: ...
    def on_evict(self, state: SimState, positions: list[int]) -> None: ...
    def decide(self, state: SimState) -> Sequence[int]: ...
    def next_decision(self, state: SimState) -> int: ...


class BasePolicy(Policy):
    """No-op hooks; ``next_decision`` asks to be called at every step."""

    def reset(self, state: SimState) -> None:
        pass

    def on_arrival(self, state: SimState, positions: list[int]) -> None:
        pass

    def on_finish(self, state: SimState, positions: list[int]) -> None:
        pass

    def on_evict(self, state: SimState, positions: list[int]) -> None:
        pass

    def decide(self, state: SimState) -> Sequence[int]:  # pragma: no cover - abstract
        raise NotImplementedError

    def next_decision(self, state: SimState) -> int:
        return state.t + 1


@dataclass(frozen=True)
class SimulationResult:
    """Outcome of :func:`simulate`.

    ``schedule`` holds each request's final (successful) start. ``evicted_runs`` is
    an ``(k, 3)`` int array of evicted runs ``(position, start, steps run)``;
    ``wasted_tokens`` the KV token-steps they held, ``wasted_steps`` their decode
    steps. ``policy_calls`` counts :meth:`Policy.decide` calls, ``decision_times``
    the decision times visited, ``steps`` the makespan.
    """

    schedule: Schedule
    evictions: int
    wasted_tokens: int
    wasted_steps: int
    policy_calls: int
    decision_times: int
    steps: int
    runtime: float
    evicted_runs: np.ndarray = field(repr=False)
    drained: int = 0
    drain_step: int | None = None
    padded: bool = False

    def stats(self) -> dict[str, Any]:
        """Figures for :attr:`lpsched.schedule.Result.stats`."""
        return {"evictions": self.evictions, "evicted_requests": int(
            np.unique(self.evicted_runs[:, 0]).size), "wasted_tokens": self.wasted_tokens,
            "wasted_steps": self.wasted_steps, "policy_calls": self.policy_calls,
            "decision_times": self.decision_times, "steps": self.steps,
            "simulation_s": round(self.runtime, 6), **({
                "drained": self.drained, "drain_step": self.drain_step,
                "fallback": "deadline: the rest ran one at a time in arrival order"}
                if self.drain_step is not None else {}),
            **({"block_model": "padded"} if self.padded else {})}


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


def simulate(
    instance: Instance,
    policy: Policy | str,
    *,
    predictions: Iterable[int] | np.ndarray | None = None,
    skip_idle: bool = True,
    deadline: Deadline | None = None,
    options: Mapping[str, Any] | None = None,
) -> SimulationResult:
    """Run ``policy`` on ``instance`` (see the module docstring for the semantics).

    Parameters
    ----------
    instance
        The instance; requests become visible at their arrival step.
    policy
        A :class:`Policy` (fresh state is set by its ``reset``), or the name of a
        registered algorithm of kind ``policy`` (``lpsched algorithms``), e.g.
        ``"mc-sf"``: a fresh policy is built from its declared ``options``.
    predictions
        Predicted decode lengths shown to the policy (default: the true ones).
        The simulator itself always uses the true lengths.
    skip_idle
        Jump over steps where the policy declares (``next_decision``) that it
        would start nothing. ``False`` calls the policy at every step with a
        waiting request (slow; for testing the exactness of skipping).
    deadline
        A :class:`~lpsched.stop.Deadline`. When it expires at a decision time
        ``t`` the run is *drained* (:func:`_drain`): the running requests go on,
        the others run one at a time in arrival order after them;
        ``SimulationResult.drained`` counts those requests.
    options
        With a policy name: its options (e.g. ``{"window": 8}`` for
        ``sorted-lp-online``), checked against its declaration; predictions and
        ``skip_idle`` are this function's own arguments.

    Returns
    -------
    SimulationResult

    Cost: ``O(log n)`` heap work per start/completion plus the policy's own work
    per decision time; no per-step loop over all requests.

    Examples
    --------
    >>> from lpsched.instance import Instance, Request
    >>> from lpsched.heuristics.baselines import mc_sf
    >>> inst = Instance(10, [Request("r0", 5, 5), Request("r1", 2, 2)])
    >>> res = simulate(inst, mc_sf())
    >>> res.schedule.starts.tolist(), res.evictions
    ([1, 0], 0)
    >>> simulate(inst, "mc-sf").schedule.starts.tolist()
    [1, 0]

    A policy of your own only needs ``decide`` (this one looks at the next step
    only, so the memory guard has to evict; it is called at every step):

    >>> class NextStepGreedy(BasePolicy):
    ...     name = "next-step-greedy"
    ...     def decide(self, state):
    ...         out, free = [], state.free_next
    ...         for pos in sorted(state.waiting):
    ...             need = int(state.prefill[pos]) + 1
    ...             if need <= free:
    ...                 out.append(pos)
    ...                 free -= need
    ...         return out
    >>> res = simulate(inst, NextStepGreedy())
    >>> res.schedule.starts.tolist(), res.evictions, res.wasted_tokens
    ([0, 5], 2, 6)
    """
    if isinstance(policy, str):
        from lpsched.registry import make_policy

        policy = make_policy(policy, options or {})
    elif options:
        raise TypeError("simulate: options apply to a policy given by name")
    if instance.block_size == 1 or getattr(policy, "block_aware", False):
        return _Run(instance, policy, predictions, skip_idle, deadline).run()
    res = _Run(padded_instance(instance, policy.name), policy, predictions, skip_idle,
               deadline).run()
    return dataclasses.replace(res, schedule=Schedule(instance, res.schedule.starts,
                                                      res.schedule.runs), padded=True)


class _Run:
    """One simulation, phase by phase (the numbered steps of the module docstring).

    :meth:`run` visits decision times ``t``: :meth:`retire` (true completions),
    :meth:`reveal` (arrivals), :meth:`guard` (memory guard for step ``t+1``),
    :meth:`decide` (the policy starts requests), :meth:`next_time` (the next
    decision time, or None when every request has finished); when the deadline
    has expired at a decision time, :meth:`drain` finishes the run without the
    policy. :meth:`result` retires the last completions and builds the
    :class:`SimulationResult`.
    """

    def __init__(self, instance: Instance, policy: Policy,
                 predictions: Iterable[int] | np.ndarray | None, skip_idle: bool,
                 deadline: Deadline | None):
        self.t0 = time.perf_counter()
        self.instance = instance
        self.policy = policy
        self.skip_idle = skip_idle
        self.deadline = deadline
        n = self.n = instance.n
        self.M = instance.memory
        pred = instance.decode if predictions is None else validate_predictions(instance,
                                                                                  predictions)
        self.state = SimState(instance, pred)
        policy.reset(self.state)
        self.s = instance.prefill.tolist()
        self.o = instance.decode.tolist()
        arr_order = np.lexsort((np.arange(n), instance.arrival))
        self.arr_times = instance.arrival[arr_order].tolist()
        self.arr_pos = arr_order.tolist()
        self.ptr = 0  # arrivals revealed: arr_pos[:ptr]
        self.starts = [-1] * n
        self.run_id = [0] * n  # incremented on every start: tells stale heap entries apart
        self.completions: list[tuple[int, int, int]] = []  # (true completion, pos, run id)
        self.lifo: list[tuple[int, int]] = []  # (pos, run id) in start order
        self.evicted_runs: list[tuple[int, int, int]] = []
        self.wasted_tokens = self.wasted_steps = 0
        self.calls = self.visits = 0
        self.drained = 0
        self.drain_step: int | None = None

    # -- the phases --------------------------------------------------------------------------
    def retire(self, t: int) -> None:
        """1. Retire the requests that truly completed by ``t``; tell the policy."""
        completions, run_id = self.completions, self.run_id
        state = self.state
        running = state.running
        finished = []
        while completions and completions[0][0] <= t:
            _c, pos, rid = heapq.heappop(completions)
            if run_id[pos] != rid or pos not in running:
                continue  # stale: that run was evicted
            p = running.pop(pos)
            state._wsum -= self.s[pos] - p
            state._n_run -= 1
            finished.append(pos)
        if finished:
            self.policy.on_finish(state, finished)

    def reveal(self, t: int) -> None:
        """2. Reveal the requests that arrived by ``t``; tell the policy."""
        ptr, n, times = self.ptr, self.n, self.arr_times
        if ptr < n and times[ptr] <= t:
            k = ptr
            while k < n and times[k] <= t:
                k += 1
            new = self.arr_pos[ptr:k]
            self.ptr = k
            self.state.waiting.update(new)
            self.policy.on_arrival(self.state, new)

    def guard(self, t: int) -> None:
        """3. While the true memory of step ``t+1`` exceeds ``M``, evict the most recent start."""
        state = self.state
        if state._wsum + (t + 1) * state._n_run <= self.M:
            return
        running, run_id, s = state.running, self.run_id, self.s
        victims = []
        while state._wsum + (t + 1) * state._n_run > self.M:
            pos, rid = self.lifo.pop()
            if run_id[pos] != rid or pos not in running:
                continue
            p = running.pop(pos)
            state._wsum -= s[pos] - p
            state._n_run -= 1
            d = t - p
            self.wasted_steps += d
            self.wasted_tokens += s[pos] * d + d * (d + 1) // 2
            self.evicted_runs.append((pos, p, d))
            self.starts[pos] = -1
            run_id[pos] += 1  # its completion entry becomes stale
            victims.append(pos)
        state.waiting.update(victims)
        self.policy.on_evict(state, victims)

    def decide(self, t: int) -> None:
        """4. If some request waits, the policy starts some of them at ``t`` (checked)."""
        state = self.state
        waiting, running = state.waiting, state.running
        if not waiting:
            return
        self.calls += 1
        policy = self.policy
        chosen = policy.decide(state)
        if not len(chosen):
            if not running and self.ptr >= self.n:
                raise SimulationError(
                    f"policy {policy.name!r} stalled at step {t}: {len(waiting)} requests wait, "
                    "nothing runs and nothing will arrive")
            return
        run_id, s, o = self.run_id, self.s, self.o
        for pos in chosen:
            pos = int(pos)
            if pos not in waiting:
                raise SimulationError(
                    f"policy {policy.name!r} started request position {pos} at step {t}, "
                    f"but it {self._why_not_waiting(pos, t)}")
            waiting.discard(pos)
            running[pos] = t
            self.starts[pos] = t
            run_id[pos] += 1
            state._wsum += s[pos] - t
            state._n_run += 1
            heapq.heappush(self.completions, (t + o[pos], pos, run_id[pos]))
            self.lifo.append((pos, run_id[pos]))
        if state._wsum + (t + 1) * state._n_run > self.M:
            raise SimulationError(
                f"policy {policy.name!r} started requests at step {t} whose memory in step "
                f"{t + 1} is {state._wsum + (t + 1) * state._n_run} > M = {self.M}")

    def _why_not_waiting(self, pos: int, t: int) -> str:
        if pos in self.state.running:
            return "is running"
        if 0 <= pos < self.n and self.instance.arrival[pos] > t:
            return "has not arrived"
        return "is not waiting"

    def next_time(self, t: int) -> int | None:
        """5. The next decision time after ``t`` (module docstring), None when all is done."""
        state = self.state
        waiting, completions = state.waiting, self.completions
        more = self.ptr < self.n
        if not state.running and not waiting and not more:
            return None
        nxt = self.arr_times[self.ptr] if more else None
        if state._n_run:
            # first step t' with W + N t' > M; the guard acts at decision t' - 1
            guard = (self.M - state._wsum) // state._n_run
            nxt = guard if nxt is None else min(nxt, guard)
        if waiting:
            want = self.policy.next_decision(state) if self.skip_idle else t + 1
            want = max(int(want), t + 1)
            if completions:
                want = min(want, completions[0][0])
            nxt = want if nxt is None else min(nxt, want)
        elif completions and nxt is None:
            nxt = completions[0][0]
        return max(nxt, t + 1)

    def drain(self, t: int) -> None:
        """The deadline expired at ``t``: finish without the policy (:func:`_drain`)."""
        self.drain_step = t
        ev_before = len(self.evicted_runs)
        self.drained, wasted = _drain(self.instance, t, self.starts, self.state.running,
                                      self.lifo, self.run_id, self.evicted_runs)
        self.wasted_tokens += wasted[0]
        self.wasted_steps += wasted[1]
        victims = [int(r[0]) for r in self.evicted_runs[ev_before:]]
        if victims:
            self.policy.on_evict(self.state, victims)
        self.completions = []

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> SimulationResult:
        deadline = self.deadline
        t: int | None = self.arr_times[0]
        while t is not None:
            self.visits += 1
            self.state.t = t
            if deadline is not None and deadline.expired():
                self.drain(t)
                break
            self.retire(t)
            self.reveal(t)
            self.guard(t)
            self.decide(t)
            t = self.next_time(t)
        return self.result()

    def result(self) -> SimulationResult:
        """Retire the last completions (tell the policy) and build the result."""
        running, run_id = self.state.running, self.run_id
        finished = []
        while self.completions:
            _c, pos, rid = heapq.heappop(self.completions)
            if run_id[pos] == rid and pos in running:
                running.pop(pos)
                finished.append(pos)
        if finished:
            self.policy.on_finish(self.state, finished)
        p_final = np.asarray(self.starts, dtype=np.int64)
        ev = np.asarray(self.evicted_runs, dtype=np.int64).reshape(-1, 3)
        return SimulationResult(
            schedule=Schedule(self.instance, p_final), evictions=len(self.evicted_runs),
            wasted_tokens=self.wasted_tokens, wasted_steps=self.wasted_steps,
            policy_calls=self.calls, decision_times=self.visits,
            steps=int((p_final + self.instance.decode).max()),
            runtime=time.perf_counter() - self.t0, evicted_runs=ev, drained=self.drained,
            drain_step=self.drain_step)


def _drain(instance: Instance, t: int, starts: list[int], running: dict[int, int],
           lifo: list[tuple[int, int]], run_id: list[int],
           evicted_runs: list[tuple[int, int, int]]) -> tuple[int, tuple[int, int]]:
    """Finish a run stopped at decision time ``t`` (its deadline expired) without the policy.

    The running requests continue; while their true memory would exceed ``M`` at one of
    their completion steps, the most recently started one is evicted (as the memory guard
    would). Every request not running is then started one at a time, in arrival order,
    each when the previous one has completed and not before its arrival: always feasible
    (every request fits alone) and needs no decode length in advance. Fills ``starts`` in
    place; returns ``(requests drained, (wasted tokens, wasted steps))``.
    """
    s, o, a = instance.prefill, instance.decode, instance.arrival
    M = instance.memory
    live = [(pos, rid) for pos, rid in lifo
            if run_id[pos] == rid and pos in running and running[pos] + int(o[pos]) > t]
    wasted_tokens = wasted_steps = 0
    while live:
        pos_arr = np.fromiter((p for p, _ in live), dtype=np.int64, count=len(live))
        p_arr = np.fromiter((running[p] for p, _ in live), dtype=np.int64, count=len(live))
        # memory at each running request's completion step (memory peaks there)
        held = _Profile(s[pos_arr], o[pos_arr], p_arr)(p_arr + o[pos_arr])
        if held.max() <= M:
            break
        pos, _rid = live.pop()  # the most recently started
        p = running.pop(pos)
        d = t - p
        wasted_steps += d
        wasted_tokens += int(s[pos]) * d + d * (d + 1) // 2
        evicted_runs.append((pos, p, d))
        starts[pos] = -1
    free = max([t] + [running[p] + int(o[p]) for p, _ in live])
    rest = [k for k in range(instance.n) if starts[k] < 0]
    rest.sort(key=lambda k: (int(a[k]), k))
    for k in rest:
        free = max(free, int(a[k]))
        starts[k] = free
        free += int(o[k])
    return len(rest), (wasted_tokens, wasted_steps)


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
