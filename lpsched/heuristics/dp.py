"""Exact dynamic program over step states, for small instances.

State at the start of step ``t+1`` (i.e. at time ``t``): the set ``U`` of
requests not yet started and, for each running request ``i``, its progress
``e_i`` (tokens already decoded, ``0 <= e_i < o_i``). Requests neither in ``U``
nor running are done. Because

    sum_i (c_i - a_i) = sum_{t >= 0} |{i : a_i <= t < c_i}|,

each step costs the number of arrived, unfinished requests, and

    V(t, U, A) = |{i in U : a_i <= t}| + |A|
                 + min_{S subset of arrived U} V(t+1, U \\ S, advance(A + S)),

where ``S`` (requests started at ``t``) must satisfy the memory of step
``t+1``: ``sum_{i in A + S} (s_i + e_i + 1) <= M`` (``e_i = 0`` for ``S``), and
``advance`` adds one to every progress and drops the requests that complete
(``e_i + 1 = o_i``). ``V(., {}, {}) = 0``. The time ``t`` only matters until the
last arrival (it is capped at ``max a_i``). Two exact reductions:

* idling (``S`` empty) with nothing running and everything arrived is
  dominated (shift the rest of the schedule one step earlier), so it is not
  tried; with nothing running and nothing unstarted arrived, time jumps to the
  next arrival (those steps cost nothing);
* identical requests (same ``s, o, a``) are interchangeable, so they start in
  id order (symmetry breaking).

A state whose running set would exceed ``M`` on its own later (memory grows by
one per request per step) is a dead end (``V = inf``).

Complexity: every request is unstarted, running with progress ``0..o_i-1``, or
done, so there are at most ``(max_i a_i + 1) * prod_i (o_i + 2)`` states, each
with at most ``2^n`` start sets: ``O((a_max + 1) 2^n prod_i (o_i + 2))`` time and
the states in memory. In practice memory pruning keeps far fewer states, but
this is for tiny instances only (``n <= 8`` with short decodes); ``max_states``
guards against blow-up and the deadline is honoured (status ``time_limit``
with the MC-SF schedule it started from): it is checked every 512 new states
and every ``LEAF_CHECK_EVERY`` start sets tried, because a single state with 16
arrived requests already tries up to ``2^16`` of them.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np

from lpsched.instance import Instance
from lpsched.options import UnsupportedInstance, param
from lpsched.registry import AlgorithmSpec
from lpsched.schedule import Result, Schedule, SolveStatus
from lpsched.stop import Deadline

__all__ = ["ALGORITHMS", "MAX_N", "DpParams", "dp_optimum", "solve_dp"]


@dataclass(frozen=True)
class DpParams:
    """The option of :func:`solve_dp`."""

    max_states: int = param(2_000_000, "int", "stop (with the fallback schedule) after this "
                            "many memoised states", minimum=1)


class _Abort(Exception):
    pass


LEAF_CHECK_EVERY = 1024
"""Start sets tried between two deadline checks (besides the check per 512 new states)."""


def dp_optimum(instance: Instance, *, deadline: Deadline | None = None,
               max_states: int = DpParams.max_states) -> tuple[int, np.ndarray, int]:
    """``(optimum, starts, states)`` by the dynamic program (raises ``_Abort`` on limits)."""
    n = instance.n
    s = instance.prefill.tolist()
    o = instance.decode.tolist()
    a = instance.arrival.tolist()
    M = instance.memory
    amax = max(a)
    # symmetry: the identical request with the next smaller index, if any
    prev_twin = [-1] * n
    seen: dict[tuple[int, int, int], int] = {}
    for i in range(n):
        key = (s[i], o[i], a[i])
        if key in seen:
            prev_twin[i] = seen[key]
        seen[key] = i
    deadline = Deadline.coerce(deadline)
    memo: dict[tuple, tuple[float, int]] = {}

    def idle_jump(t: int, U: int, active: tuple) -> int:
        # nothing runs and nothing unstarted has arrived: the steps up to the next arrival
        # cost nothing and decide nothing (exact)
        if active:
            return t
        nxt = min(a[i] for i in range(n) if U >> i & 1)
        return max(t, nxt)
    leaves = 0  # start sets tried (one state expansion may try 2^n of them)

    def future_ok(active: tuple[tuple[int, int], ...]) -> bool:
        # memory of the running set alone at every later completion step (it peaks there)
        for i, ei in active:
            u = o[i] - ei  # steps until i completes (>= 1)
            tot = 0
            for j, ej in active:
                if o[j] - ej >= u:
                    tot += s[j] + ej + u
            if tot > M:
                return False
        return True

    def V(t: int, U: int, active: tuple[tuple[int, int], ...]) -> float:
        if U == 0 and not active:
            return 0
        t = idle_jump(t, U, active)
        key = (min(t, amax), U, active)
        hit = memo.get(key)
        if hit is not None:
            return hit[0]
        if len(memo) >= max_states or (len(memo) % 512 == 0 and deadline.expired()):
            raise _Abort("max_states" if len(memo) >= max_states else "time_limit")
        avail = [i for i in range(n) if U >> i & 1 and a[i] <= t]
        cost = len(avail) + len(active)
        base_mem = sum(s[i] + e + 1 for i, e in active)
        best, best_S = float("inf"), -1
        all_arrived = t >= amax

        def rec(k: int, S: int, mem: int) -> None:
            nonlocal best, best_S, leaves
            if k == len(avail):
                leaves += 1
                if leaves % LEAF_CHECK_EVERY == 0 and deadline.expired():
                    raise _Abort("time_limit")
                if S == 0 and not active and all_arrived:
                    return
                new = active + tuple((i, 0) for i in range(n) if S >> i & 1)
                if not future_ok(new):
                    return
                nxt = tuple(sorted((i, e + 1) for i, e in new if e + 1 < o[i]))
                v = V(t + 1, U & ~S, nxt)
                if v < best:
                    best, best_S = v, S
                return
            i = avail[k]
            rec(k + 1, S, mem)  # i waits
            tw = prev_twin[i]
            if tw >= 0 and (U >> tw & 1) and not (S >> tw & 1):
                return  # its identical twin with a smaller id has not started: not allowed
            if mem + s[i] + 1 <= M:
                rec(k + 1, S | (1 << i), mem + s[i] + 1)

        rec(0, 0, base_mem)
        val = cost + best
        memo[key] = (val, best_S)
        return val

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(old + recursion_depth(instance))
    try:
        opt = V(0, (1 << n) - 1, ())
    except RecursionError as exc:  # pragma: no cover - recursion_depth bounds the depth
        raise _Abort("recursion depth") from exc
    finally:
        sys.setrecursionlimit(old)
    if opt == float("inf"):  # cannot happen for valid instances (sequential is feasible)
        raise _Abort("no feasible schedule")
    # rebuild the start steps from the stored decisions
    starts = np.zeros(n, dtype=np.int64)
    t, U = 0, (1 << n) - 1
    active: tuple[tuple[int, int], ...] = ()
    while U or active:
        t = idle_jump(t, U, active)
        _, S = memo[(min(t, amax), U, active)]
        for i in range(n):
            if S >> i & 1:
                starts[i] = t
        new = active + tuple((i, 0) for i in range(n) if S >> i & 1)
        active = tuple(sorted((i, e + 1) for i, e in new if e + 1 < o[i]))
        U &= ~S
        t += 1
    return int(opt), starts, len(memo)


MAX_N = 16
"""Largest instance :func:`solve_dp` accepts (its state space is exponential in ``n``)."""

MAX_DEPTH = 400_000
"""Largest recursion depth (:func:`recursion_depth`) :func:`solve_dp` accepts."""


def recursion_depth(instance: Instance) -> int:
    """A bound on the recursion depth of :func:`dp_optimum`: at most ``n + 2`` frames per
    step (the state and its start-set enumeration) along a path of at most
    ``max a + sum o`` steps."""
    return (instance.n + 3) * (int(instance.arrival.max()) + int(instance.decode.sum()) + 2) \
        + 1000


def solve_dp(instance: Instance, *, deadline: Deadline | None = None, seed: int | None = None,
             max_states: int = DpParams.max_states) -> Result:
    """Exact step-state dynamic program (tiny instances); status ``optimal`` when it finishes.

    Refuses instances with more than :data:`MAX_N` requests at once
    (:class:`~lpsched.options.UnsupportedInstance`). Stopped by the deadline or by
    ``max_states``, it returns the MC-SF schedule it started from, with status
    ``time_limit`` and no bound.
    """
    t0 = time.perf_counter()
    if instance.n > MAX_N:
        raise UnsupportedInstance(f"dp: the dynamic program is for tiny instances (n <= {MAX_N}); "
                                  f"this one has n = {instance.n}")
    if recursion_depth(instance) > MAX_DEPTH:
        raise UnsupportedInstance(f"dp: the horizon (max arrival + sum of decode lengths) of "
                                  f"this instance is too long for the dynamic program "
                                  f"(recursion bound {recursion_depth(instance)} > {MAX_DEPTH})")
    deadline = Deadline.coerce(deadline)
    from lpsched.heuristics.baselines import solve_mc_sf

    fallback = solve_mc_sf(instance)
    try:
        opt, starts, states = dp_optimum(instance, deadline=deadline.for_search(),
                                         max_states=max_states)
    except _Abort as exc:
        return Result(algorithm="dp", status=SolveStatus.TIME_LIMIT,
                      runtime=time.perf_counter() - t0, schedule=fallback.schedule,
                      message=f"dp stopped: {exc} (state space too large for the budget); "
                              "returning the MC-SF schedule",
                      stats={"stopped": str(exc), "fallback": "mc-sf"})
    return Result(algorithm="dp", status=SolveStatus.OPTIMAL, objective=opt, lower_bound=opt,
                  runtime=time.perf_counter() - t0, schedule=Schedule(instance, starts),
                  stats={"states": states})


#: The registry's declaration of this module's algorithm (:mod:`lpsched.registry`).
ALGORITHMS = (
    AlgorithmSpec("dp", solve_dp, "exact",
                  "Exact dynamic program over step states (unstarted set, running progress); "
                  "tiny instances only (n <= 16)",
                  "Wang, Ye, Zhou 2025 (exact DP variant); state space ours", params=DpParams),
)
