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
computes the true memory ``m(t+1)``; while it exceeds ``M`` it *preempts* the
running request that started (or resumed) *most recently* (ties: the one started
later within the same decision) back to the waiting queue. A preempted request
keeps its progress: its current segment ends, ``state.done[pos]`` records the
``D`` decode steps done, and when a policy starts it again it *resumes* (vLLM's
recompute preemption): its cache of ``s + D`` tokens is rebuilt at once (counted in
``recomputed_tokens``), it holds ``s + D + (u - t)`` in step ``u`` and runs the
``o - D`` steps left. In ``state.running`` it has the *virtual start* ``t - D``, so
every formula of a fresh request (memory ``s + u - start``, completion
``start + o``) still holds. A policy that does not know the progress treats the
resume like a fresh start of ``s + 1`` tokens; when the true memory of step ``t+1``
would then exceed ``M`` the simulator puts such resumes back (latest first,
``on_evict``; counted in ``deferred_resumes``), and raises :class:`SimulationError`
only if the policy's *fresh* starts alone overflow. The oldest running request is
never preempted (alone it holds at most ``s + o <= M``), so every request
eventually completes. The schedule records each request's first start and the
segments of every preempted request (:attr:`lpsched.schedule.Schedule.runs`); as
actual usage never exceeds ``M`` it passes :func:`lpsched.check.check`, which
verifies every segment.

Re-prediction: a running request that has outlived its predicted length is
re-predicted by doubling (:func:`lpsched.heuristics.lookahead.repredicted`: the
prediction doubled until it exceeds the steps run, capped at ``M - s``), in
``SimState.predicted_remaining`` and in the look-ahead profile of the policies,
instead of being assumed to end in the next step (which let a policy admit against
memory that was not going to free, and the guard evict and re-admit the same
request over and over). With exact predictions nothing is re-predicted.

Paged memory
------------
With ``instance.block_size = b > 1`` a policy that does not declare
``block_aware = True`` is run on the padded instance of :mod:`lpsched.paging`
(prefill ``s + b - 1``, ``b = 1``; conservative, refused when a padded request does
not fit alone) and its schedule re-attached to the paged instance
(``stats["block_model"] = "padded"``).

A policy may ask the guard to clear further: if it has a method
``clear_to(state) -> int`` (a memory target ``<= M``), an overflow of ``M``
preempts, in the same most-recent-first order, until the true memory of step
``t+1`` is at most that target or one request is left (the beta-clearing rule of
:mod:`lpsched.heuristics.protection`).

Deadline (drain)
----------------
With a ``deadline`` that expires at a decision time ``t`` the policy is not
called again: the running requests go on (the guard's preemption rule applied
to their true memory), and the rest (preempted ones resume with their progress)
start after them in arrival order, in packed batches of arrived requests whose
peaks (in blocks) fit in ``M`` together when the policy saw the true lengths,
else one at a time (:meth:`_Run.drain`). Always feasible;
``SimulationResult.drained`` and ``drain_step`` record it.

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
from lpsched.heuristics.lookahead import repredicted
from lpsched.instance import Instance, InstanceError, integer_column
from lpsched.paging import padded_instance
from lpsched.schedule import Schedule, one_at_a_time
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
    block_size
        The KV block size ``b`` the simulator counts memory in (1 unless the policy is
        block-aware and the instance is paged; module docstring).
    prefill, arrival
        Instance columns (read-only arrays, indexed by request position).
    predicted
        Predicted decode lengths ``o_hat`` (the truth when no prediction was given).
    running
        ``{position: start step}`` of the requests running in step ``t+1``. For a
        resumed request this is its *virtual start* ``p_k - D`` (``D`` decode steps done
        before its current segment ``k``): it holds ``s + t - start`` tokens in step ``t``
        and completes at ``start + o``, exactly as a request started then.
    waiting
        Positions of the arrived requests not running and not finished.
    done
        ``{position: D}`` for the waiting requests that were preempted with ``D`` decode
        steps done: resumed at ``t`` such a request holds ``s + D + 1`` tokens in step
        ``t+1`` (its cache is recomputed) and runs ``o - D`` more steps.
    """

    __slots__ = ("t", "memory", "block_size", "prefill", "arrival", "predicted", "running",
                 "waiting", "done", "_wsum", "_n_run", "_res", "instance")

    def __init__(self, instance: Instance, predicted: np.ndarray):
        self.instance = instance
        self.t = 0
        self.memory = instance.memory
        self.block_size = instance.block_size
        self.prefill = instance.prefill
        self.arrival = instance.arrival
        self.predicted = predicted
        self.running: dict[int, int] = {}
        self.waiting: set[int] = set()
        self.done: dict[int, int] = {}
        self._wsum = 0  # sum over running of (s - p)
        self._n_run = 0
        self._res = [0] * self.block_size  # running requests by (p - s) mod b (b > 1)

    def _add(self, pos: int, start: int) -> None:
        self.running[pos] = start
        w = int(self.prefill[pos]) - start
        self._wsum += w
        self._n_run += 1
        if self.block_size > 1:
            self._res[-w % self.block_size] += 1

    def _remove(self, pos: int) -> int:
        start = self.running.pop(pos)
        w = int(self.prefill[pos]) - start
        self._wsum -= w
        self._n_run -= 1
        if self.block_size > 1:
            self._res[-w % self.block_size] -= 1
        return start

    def memory_in(self, u: int) -> int:
        """KV memory of the running set in step ``u >= t+1`` if none of them finished:
        ``sum (s + u - start)``, each rounded up to blocks (``O(b)``)."""
        lin = self._wsum + u * self._n_run
        b = self.block_size
        if b == 1:
            return lin
        return lin + sum(c * ((r - u) % b) for r, c in enumerate(self._res) if c)

    @property
    def memory_next(self) -> int:
        """KV tokens the running requests hold in step ``t+1`` (exact, no prediction)."""
        return self.memory_in(self.t + 1)

    @property
    def free_next(self) -> int:
        """``M - memory_next``: what requests started now may use in step ``t+1``."""
        return self.memory - self.memory_next

    def memory_now(self, pos: int) -> int:
        """KV tokens running request ``pos`` holds in step ``t`` (before block rounding)."""
        return int(self.prefill[pos]) + self.t - self.running[pos]

    def predicted_remaining(self, pos: int) -> int:
        """Predicted decode steps left for running ``pos`` (at least 1: it has not finished);
        past its prediction it is re-predicted
        (:func:`lpsched.heuristics.lookahead.repredicted`, cap ``M - s``)."""
        p, o_hat = self.running[pos], int(self.predicted[pos])
        cap = self.memory - int(self.prefill[pos])
        return p + repredicted(min(o_hat, cap), self.t - p, cap) - self.t


class Policy:
    """The policy protocol (duck-typed; :class:`BasePolicy` gives defaults).

    ``bind_deadline(deadline)`` (optional) once before the run, with the run's deadline
    (:class:`~lpsched.stop.Deadline`, unlimited when none was given): a policy with
    expensive work per decision budgets it from there; ``reset(state)`` once before the
    run; ``on_arrival``, ``on_finish``, ``on_evict``
    (preempted, or a resume deferred: back to waiting) and ``on_resume`` (a preempted
    request started again: ``state.running`` holds its virtual start) with lists of
    positions; ``decide(state) -> positions to start now``; ``next_decision(state) ->
    step`` (see the module docstring). A policy with ``block_aware = True`` sees paged
    memory itself (``state.block_size``, ``state.memory_next``); any other is run on the
    padded instance.
    """

    name: str = "policy"
    block_aware: bool = False

    def reset(self, state: SimState) -> None: ...
    def on_arrival(self, state: SimState, positions: list[int]) -> None: ...
    def on_finish(self, state: SimState, positions: list[int]) -> None: ...
    def on_evict(self, state: SimState, positions: list[int]) -> None: ...
    def on_resume(self, state: SimState, positions: list[int]) -> None: ...
    def decide(self, state: SimState) -> Sequence[int]: ...
    def next_decision(self, state: SimState) -> int: ...


class BasePolicy(Policy):
    """No-op hooks; ``next_decision`` asks to be called at every step."""

    def bind_deadline(self, deadline: Deadline) -> None:
        pass

    def reset(self, state: SimState) -> None:
        pass

    def on_arrival(self, state: SimState, positions: list[int]) -> None:
        pass

    def on_finish(self, state: SimState, positions: list[int]) -> None:
        pass

    def on_evict(self, state: SimState, positions: list[int]) -> None:
        pass

    def on_resume(self, state: SimState, positions: list[int]) -> None:
        pass

    def decide(self, state: SimState) -> Sequence[int]:  # pragma: no cover - abstract
        raise NotImplementedError

    def next_decision(self, state: SimState) -> int:
        return state.t + 1


@dataclass(frozen=True)
class SimulationResult:
    """Outcome of :func:`simulate`.

    ``schedule`` holds each request's first start and, for preempted requests, its
    segments (:attr:`lpsched.schedule.Schedule.runs`). ``evictions`` counts the
    preemptions (memory guard and drain); ``evicted_runs`` is an ``(k, 3)`` int array of
    the preempted segments ``(position, segment start, steps run)``; ``resumes`` the
    restarts of preempted requests, ``recomputed_tokens`` the KV tokens rebuilt at
    them (``s + D`` each), ``deferred_resumes`` the resumes the simulator put back
    because the next step would not fit (module docstring). ``policy_calls`` counts
    :meth:`Policy.decide` calls, ``decision_times`` the decision times visited,
    ``steps`` the makespan.
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

    def stats(self) -> dict[str, Any]:
        """Figures for :attr:`lpsched.schedule.Result.stats`."""
        return {"evictions": self.evictions, "preemptions": self.evictions,
                "evicted_requests": int(np.unique(self.evicted_runs[:, 0]).size),
                "resumes": self.resumes, "recomputed_tokens": self.recomputed_tokens,
                "deferred_resumes": self.deferred_resumes, "policy_calls": self.policy_calls,
                "decision_times": self.decision_times, "steps": self.steps,
                "simulation_s": round(self.runtime, 6), **({
                    "drained": self.drained, "drain_step": self.drain_step,
                    "fallback": "deadline: the rest ran after the running requests, in arrival "
                                 "order (packed batches with exact lengths, else one at a "
                                 "time)"}
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
        the others run after them in arrival order (packed batches when the
        lengths are exact, else one at a time);
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
    only, so the memory guard has to preempt: r1 after one step, resumed at 5 once
    r0 has finished, with its 2 + 1 tokens recomputed; its resume at 1 is deferred):

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
    >>> res.schedule.starts.tolist(), dict(res.schedule.runs), res.recomputed_tokens
    ([0, 0], {1: ((0, 1), (5, 1))}, 3)
    """
    if isinstance(policy, str):
        from lpsched.registry import make_policy

        policy = make_policy(policy, options or {})
    elif options:
        raise TypeError("simulate: options apply to a policy given by name")
    bind = getattr(policy, "bind_deadline", None)
    if bind is not None:
        bind(Deadline.coerce(deadline))
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
    :class:`SimulationResult`. Segments: ``prog[pos]`` decode steps done before the
    current segment, which started at ``seg_start[pos]``; ``segments[pos]`` the
    finished segments of a preempted request.
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
        self.exact_lengths = bool(np.array_equal(pred, instance.decode))  # for the drain
        policy.reset(self.state)
        self.s = instance.prefill.tolist()
        self.o = instance.decode.tolist()
        arr_order = np.lexsort((np.arange(n), instance.arrival))
        self.arr_times = instance.arrival[arr_order].tolist()
        self.arr_pos = arr_order.tolist()
        self.ptr = 0  # arrivals revealed: arr_pos[:ptr]
        self.starts = [-1] * n
        self.prog = [0] * n
        self.seg_start = [-1] * n
        self.segments: dict[int, list[tuple[int, int]]] = {}
        self.run_id = [0] * n  # incremented on every start: tells stale heap entries apart
        self.completions: list[tuple[int, int, int]] = []  # (true completion, pos, run id)
        self.lifo: list[tuple[int, int]] = []  # (pos, run id) in start order
        self.evicted_runs: list[tuple[int, int, int]] = []
        self.recomputed = self.resumes = self.deferred = 0
        self.calls = self.visits = 0
        self.drained = 0
        self.drain_step: int | None = None
        self.clear_to = getattr(policy, "clear_to", None)

    # -- starting and preempting ---------------------------------------------------------------
    def start(self, pos: int, t: int) -> None:
        """Start (or resume, with its progress kept) ``pos`` at ``t``."""
        done = self.prog[pos]
        if self.starts[pos] < 0:
            self.starts[pos] = t
        if done:
            self.state.done.pop(pos, None)
            self.recomputed += self.s[pos] + done  # its cache is rebuilt
            self.resumes += 1
        self.seg_start[pos] = t
        self.run_id[pos] += 1
        self.state._add(pos, t - done)  # virtual start: holds s + done + (u - t) in step u
        heapq.heappush(self.completions, (t - done + self.o[pos], pos, self.run_id[pos]))
        self.lifo.append((pos, self.run_id[pos]))

    def preempt(self, pos: int, t: int) -> None:
        """Stop running ``pos`` at ``t`` (its segment ends); it keeps its progress."""
        self.state._remove(pos)
        p = self.seg_start[pos]
        d = t - p
        self.run_id[pos] += 1  # its completion entry becomes stale
        if d == 0:  # started at t and put back: no segment, no recompute
            if self.prog[pos]:
                self.recomputed -= self.s[pos] + self.prog[pos]
                self.resumes -= 1
                self.state.done[pos] = self.prog[pos]
            else:
                self.starts[pos] = -1
            return
        self.segments.setdefault(pos, []).append((p, d))
        self.evicted_runs.append((pos, p, d))
        self.prog[pos] += d
        self.state.done[pos] = self.prog[pos]

    def _live(self, pos: int, rid: int) -> bool:
        return self.run_id[pos] == rid and pos in self.state.running

    # -- the phases --------------------------------------------------------------------------
    def retire(self, t: int) -> None:
        """1. Retire the requests that truly completed by ``t``; tell the policy."""
        completions = self.completions
        finished = []
        while completions and completions[0][0] <= t:
            _c, pos, rid = heapq.heappop(completions)
            if not self._live(pos, rid):
                continue  # stale: that run was preempted
            self.state._remove(pos)
            finished.append(pos)
        if finished:
            self.policy.on_finish(self.state, finished)

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
        """3. While the true memory of step ``t+1`` exceeds ``M`` (then the policy's
        ``clear_to`` target, if any, keeping one request), preempt the most recent start
        (it keeps its progress and waits to be resumed)."""
        state = self.state
        if state.memory_in(t + 1) <= self.M:
            return
        target = self.M if self.clear_to is None else min(self.M, int(self.clear_to(state)))
        victims = []
        while state.memory_in(t + 1) > self.M or (
                state._n_run > 1 and state.memory_in(t + 1) > target):
            pos, rid = self.lifo.pop()
            if not self._live(pos, rid):
                continue
            self.preempt(pos, t)
            victims.append(pos)
        state.waiting.update(victims)
        self.policy.on_evict(state, victims)

    def decide(self, t: int) -> None:
        """4. If some request waits, the policy starts some of them at ``t`` (checked)."""
        state = self.state
        waiting = state.waiting
        if not waiting:
            return
        self.calls += 1
        policy = self.policy
        chosen = [int(pos) for pos in policy.decide(state)]
        if not chosen:
            if not state.running and self.ptr >= self.n:
                raise SimulationError(
                    f"policy {policy.name!r} stalled at step {t}: {len(waiting)} requests wait, "
                    "nothing runs and nothing will arrive")
            return
        for pos in chosen:
            if pos not in waiting:
                raise SimulationError(
                    f"policy {policy.name!r} started request position {pos} at step {t}, "
                    f"but it {self._why_not_waiting(pos, t)}")
            waiting.discard(pos)
            self.start(pos, t)
        resumed = self._defer_resumes(t, [pos for pos in chosen if self.prog[pos]])
        if state.memory_in(t + 1) > self.M:
            raise SimulationError(
                f"policy {policy.name!r} started requests at step {t} whose memory in step "
                f"{t + 1} is {state.memory_in(t + 1)} > M = {self.M}")
        if resumed:
            policy.on_resume(state, resumed)

    def _defer_resumes(self, t: int, resumed: list[int]) -> list[int]:
        """Put back (latest first) the resumes of this decision while step ``t+1`` would
        not fit: a policy may not know that a resumed request holds ``s + D + 1``."""
        state = self.state
        deferred = []
        while resumed and state.memory_in(t + 1) > self.M:
            pos = resumed.pop()
            self.preempt(pos, t)
            state.waiting.add(pos)
            deferred.append(pos)
        if deferred:
            self.deferred += len(deferred)
            self.policy.on_evict(state, deferred)
        return resumed

    def _why_not_waiting(self, pos: int, t: int) -> str:
        if pos in self.state.running:
            return "is running"
        if 0 <= pos < self.n and self.instance.arrival[pos] > t:
            return "has not arrived"
        return "is not waiting"

    def _guard_step(self) -> int:
        """The last decision time before the running set's memory can exceed ``M``
        (exact for ``b = 1``; with blocks, from the bound ``+ N (b - 1)``: earlier)."""
        state = self.state
        room = self.M - state._wsum - state._n_run * (state.block_size - 1)
        return room // state._n_run

    def next_time(self, t: int) -> int | None:
        """5. The next decision time after ``t`` (module docstring), None when all is done."""
        state = self.state
        waiting, completions = state.waiting, self.completions
        more = self.ptr < self.n
        if not state.running and not waiting and not more:
            return None
        nxt = self.arr_times[self.ptr] if more else None
        if state._n_run:
            guard = self._guard_step()
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
        """The deadline expired at ``t``: finish without the policy.

        The running requests continue; while their true memory would exceed ``M`` at one
        of their completion steps, the most recently started one is preempted (as the
        guard would). Every other unfinished request then runs after them in arrival
        order (a preempted one resumes with its progress): with exact lengths in causal
        packed batches (:func:`_packed_starts`), else each alone when the previous one has
        completed (:func:`lpsched.schedule.one_at_a_time`); never before its arrival. Always feasible:
        a batch's peaks fit in ``M`` together, and every request fits alone.
        """
        self.drain_step = t
        ev_before = len(self.evicted_runs)
        state = self.state
        live = [(pos, rid) for pos, rid in self.lifo if self._live(pos, rid)
                and state.running[pos] + self.o[pos] > t]
        s, o = self.instance.prefill, self.instance.decode
        while live:
            pos_arr = np.fromiter((p for p, _ in live), dtype=np.int64, count=len(live))
            q = np.fromiter((state.running[p] for p, _ in live), dtype=np.int64, count=len(live))
            prof = _Profile(s[pos_arr], o[pos_arr], q, state.block_size)
            if prof(q + o[pos_arr]).max() <= self.M:  # memory peaks at completion steps
                break
            self.preempt(live.pop()[0], t)
        free = max([t] + [state.running[p] + self.o[p] for p, _ in live])
        rest = [k for k in range(self.n) if k not in state.running and self._unfinished(k)]
        rest.sort(key=lambda k: (int(self.instance.arrival[k]), k))
        order = np.asarray(rest, dtype=np.int64)
        left = self.instance.decode[order] - np.asarray([self.prog[k] for k in rest],
                                                         dtype=np.int64)
        if self.exact_lengths:
            begin = _packed_starts(self.instance.peak[order], self.instance.arrival[order],
                                   left, self.M, free)
        else:
            begin = one_at_a_time(self.instance.arrival[order], left, free)
        for k, p in zip(rest, begin.tolist()):
            self.start(k, p)
        self.drained = len(rest)
        victims = [int(r[0]) for r in self.evicted_runs[ev_before:]]
        if victims:
            self.policy.on_evict(state, victims)
        self.completions = []
        state.running.clear()

    def _unfinished(self, k: int) -> bool:
        return self.starts[k] < 0 or k in self.state.done

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
        finished = []
        while self.completions:
            _c, pos, rid = heapq.heappop(self.completions)
            if self._live(pos, rid):
                self.state._remove(pos)
                finished.append(pos)
        if finished:
            self.policy.on_finish(self.state, finished)
        runs = {pos: segs + [(self.seg_start[pos], self.o[pos] - self.prog[pos])]
                for pos, segs in self.segments.items()}
        sched = Schedule(self.instance, np.asarray(self.starts, dtype=np.int64), runs)
        ev = np.asarray(self.evicted_runs, dtype=np.int64).reshape(-1, 3)
        return SimulationResult(
            schedule=sched, evictions=len(self.evicted_runs),
            recomputed_tokens=self.recomputed, resumes=self.resumes,
            policy_calls=self.calls, decision_times=self.visits,
            steps=int(sched.completions.max()), runtime=time.perf_counter() - self.t0,
            evicted_runs=ev, deferred_resumes=self.deferred, drained=self.drained,
            drain_step=self.drain_step)


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
