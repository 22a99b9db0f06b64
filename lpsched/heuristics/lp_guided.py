"""LP-guided schedulers: Sorted-LP, LP-Swap and a receding-horizon LP scheduler.

Source: the LP-based variants of M. Wang, Y. Ye, Z. Zhou, "LLM Serving
Optimization with Variable Prefill and Decode Lengths" (arXiv:2508.06133):
solve an LP relaxation of the time-indexed model (the ordering LP,
:mod:`lpsched.heuristics.ordering_lp`), order the requests by their fractional
start or completion times ("Sorted-LP"), then improve the order by pairwise swaps
("LP-Swap"); plus a receding-horizon variant that re-solves a small LP over a
window of the next requests.

Schedulers (the order is turned into start steps by the serial earliest-start
decoder, :mod:`lpsched.heuristics.serial`, so every schedule is memory-feasible
by construction and then verified by the checker):

* ``sorted-lp``: order by fractional completion (``key="completion"``, default)
  or start (``key="start"``), ties by decode length;
* ``lp-swap``: the Sorted-LP order, then passes of adjacent pairwise swaps
  (:func:`lpsched.heuristics.local_search.adjacent_swaps`), a swap kept when it
  strictly lowers the decoded objective, until a pass finds none or the time
  budget ends (never worse than Sorted-LP);
* ``lp-horizon`` (receding horizon): walk the Sorted-F order; solve the
  ordering LP of the next ``window`` unscheduled requests (as a backlog of their
  own), commit the first ``commit`` of them in LP order, slide, repeat. Each LP
  is small, so this scales to instances whose full LP does not fit.

Time budget. Every stage takes its part of the one deadline. ``sorted-lp`` and
``lp-swap`` first decode the Sorted-F order (the *fallback* schedule, whose
makespan is also the LP's horizon) within the deadline; the LP gets its share
less room for decoding its order (1.5 times what the fallback decode took); a
decode cut by the deadline is completed in packed batches
(:func:`lpsched.heuristics.serial.decode_order_within`). When the LP or the
decode of its order does not finish, the result is the better of the fallback
and the partial decode, with status ``time_limit`` (``stats["order"]`` says
which). ``lp-horizon`` decodes each committed window as it goes and stops
solving window LPs while there is time to decode the rest (estimated from the
decoding so far); the rest keeps the Sorted-F order.

Arrivals: offline the release dates are known in advance (windows start at
``a_i``; decoding is release-aware). The online versions are simulator
policies (:mod:`lpsched.heuristics.online`): they re-solve the LP over the
requests that have arrived and wait.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from lpsched.heuristics.local_search import adjacent_swaps
from lpsched.heuristics.ordering_lp import DEFAULT_MAX_COLUMNS, lp_order, ordering_lp
from lpsched.heuristics.serial import (
    SerialDecoder,
    decode_order_within,
    objective_of,
    refuse_large_profile,
)
from lpsched.heuristics.sorted_f import batch_order, form_batches
from lpsched.instance import Instance
from lpsched.options import OptionError, param
from lpsched.registry import AlgorithmSpec
from lpsched.schedule import Result, Schedule, SolveStatus
from lpsched.stop import Deadline

__all__ = ["ALGORITHMS", "LpHorizonParams", "LpOrderParams", "LpSwapParams", "solve_lp_horizon",
           "solve_lp_swap", "solve_sorted_lp"]

_COLUMNS = ("int", "columns of the ordering LP (sets the bucket width)")


@dataclass(frozen=True)
class LpOrderParams:
    """The options of the LP order (Sorted-LP, :func:`solve_sorted_lp`)."""

    key: str = param("completion", "str", "order by fractional completion or start",
                     choices=("completion", "start"))
    max_columns: int = param(DEFAULT_MAX_COLUMNS, *_COLUMNS, minimum=1)
    backfill: bool = param(False, "bool", "let a later request start before an earlier one "
                           "when it fits")


@dataclass(frozen=True)
class LpSwapParams(LpOrderParams):
    """The options of LP-Swap (:func:`solve_lp_swap`)."""

    max_passes: int = param(50, "int", "passes of adjacent swaps", minimum=0)
    swap_time: float = param(2.0, "float", "seconds for the swaps without a time limit",
                             minimum=0)


@dataclass(frozen=True)
class _Window:
    """The window of the receding horizon (first in its options)."""

    window: int = param(40, "int", "requests per window LP", minimum=1)
    commit: int | None = param(None, "int", "requests committed per window (default "
                               "window // 2)", minimum=1)


@dataclass(frozen=True)
class LpHorizonParams(LpOrderParams, _Window):
    """The options of the receding horizon (:func:`solve_lp_horizon`): the window, then
    the LP order's (smaller LPs: 4,000 columns)."""

    max_columns: int = param(4_000, *_COLUMNS, minimum=1)

#: room kept for decoding the LP's order: this times what the fallback decode took
DECODE_ROOM = 1.5
#: lp-horizon: least decode time per request assumed when keeping room for the rest (s)
DECODE_RATE = 1e-4


@dataclass(frozen=True)
class _Fallback:
    """The Sorted-F order decoded within the deadline (packed batches if cut)."""

    order: np.ndarray
    starts: np.ndarray
    objective: int
    complete: bool
    horizon: int
    decode_seconds: float


def _sorted_f_fallback(instance: Instance, deadline: Deadline) -> _Fallback:
    order = batch_order(form_batches(instance))
    t = time.perf_counter()
    p, k = decode_order_within(instance, order, deadline, release_aware=True)
    return _Fallback(order, p, objective_of(instance, p), k == instance.n,
                     int((p + instance.decode).max()), time.perf_counter() - t)


def _lp_stage(instance: Instance, fb: _Fallback, search: Deadline, fraction: float,
              max_columns: int, key: str) -> tuple[np.ndarray | None, dict]:
    """The LP order (None if the LP did not solve) within ``fraction`` of ``search``, less
    the room for decoding it; and the LP stats."""
    room = DECODE_ROOM * fb.decode_seconds + 0.01
    left = search.remaining()
    lp_deadline = search.share(fraction, at_most=max(0.0, left - room) if search.limited
                               else None)
    lp = ordering_lp(instance, horizon=fb.horizon, max_columns=max_columns, deadline=lp_deadline)
    stats = {"lp_status": lp.status, "lp_width": lp.width, "lp_columns": lp.columns,
             "lp_horizon": lp.horizon, "lp_time": round(lp.runtime, 4),
             "fallback_complete": fb.complete, "fallback_decode_time": round(fb.decode_seconds, 4)}
    if lp.status != "optimal":
        return None, stats
    return lp_order(instance, lp, key), stats


def _decode_or_fallback(instance: Instance, order: np.ndarray, fb: _Fallback,
                        search: Deadline, backfill: bool, stats: dict) -> tuple[np.ndarray, bool]:
    """``order`` decoded within ``search``; when cut, the better of that (packed) and the
    fallback. Returns ``(starts, complete)``."""
    p, k = decode_order_within(instance, order, search, order_preserving=not backfill,
                               release_aware=True)
    if k == instance.n:
        return p, True
    if objective_of(instance, p) < fb.objective:
        stats["order"] = f"LP order, decoded for {k} of {instance.n} requests, rest packed"
        return p, False
    stats["order"] = "sorted-f (LP order not decoded in time)"
    return fb.starts, False


def solve_sorted_lp(instance: Instance, *, deadline: Deadline | None = None,
                    seed: int | None = None, key: str = LpOrderParams.key,
                    max_columns: int = LpOrderParams.max_columns,
                    backfill: bool = LpOrderParams.backfill) -> Result:
    """Sorted-LP: order by the ordering LP's fractional completion, decode earliest-start.

    With a time limit the LP gets 80% of what is left after the fallback decode
    (less room for decoding its order); an LP that does not finish gives the
    Sorted-F order instead (``stats["order"]``) and status ``time_limit`` (module
    docstring).
    """
    t0 = time.perf_counter()
    refuse_large_profile("sorted-lp", instance)
    deadline = Deadline.coerce(deadline)
    search = deadline.for_search()
    fb = _sorted_f_fallback(instance, search)
    order, stats = _lp_stage(instance, fb, search, 0.8, max_columns, key)
    if order is None:
        stats["order"] = "sorted-f (LP not solved)"
        p, complete = fb.starts, False
    else:
        p, complete = _decode_or_fallback(instance, order, fb, search, backfill, stats)
    stats.update(key=key, backfill=backfill)
    status = SolveStatus.FEASIBLE if complete else SolveStatus.TIME_LIMIT
    return Result("sorted-lp", status, objective_of(instance, p), None,
                  time.perf_counter() - t0, Schedule(instance, p), stats=stats)


def solve_lp_swap(instance: Instance, *, deadline: Deadline | None = None,
                  seed: int | None = None, key: str = LpSwapParams.key,
                  max_columns: int = LpSwapParams.max_columns,
                  backfill: bool = LpSwapParams.backfill,
                  max_passes: int = LpSwapParams.max_passes,
                  swap_time: float = LpSwapParams.swap_time) -> Result:
    """LP-Swap: the Sorted-LP order, then adjacent pairwise swaps kept when they improve.

    The deadline bounds the whole run (the LP gets at most 60% of what is left
    after the fallback decode); without a time limit the LP runs to optimality and
    the swap passes get ``swap_time`` seconds (default 2). The passes stop early
    when a full pass finds no improving swap or after ``max_passes``
    (:func:`lpsched.heuristics.local_search.adjacent_swaps`). When the LP does not
    solve, the swaps start from the Sorted-F order; when even the decode of the
    start order is cut, the result is the fallback schedule. The status is
    ``time_limit`` and ``stats["converged"]`` False whenever a stage stopped at its time
    budget; ``converged`` means a whole swap pass found no improving swap.
    """
    t0 = time.perf_counter()
    refuse_large_profile("lp-swap", instance)
    deadline = Deadline.coerce(deadline)
    search = deadline.for_search()
    fb = _sorted_f_fallback(instance, search)
    order, stats = _lp_stage(instance, fb, search, 0.6, max_columns, key)
    if order is None:
        stats["order"] = "sorted-f (LP not solved)"
        order = fb.order
    swaps = search if deadline.limited else deadline.share(at_most=swap_time)
    _, p, obj, sw = adjacent_swaps(instance, order, backfill=backfill, deadline=swaps,
                                   max_passes=max_passes)
    if p is None:
        stats["order"] = "sorted-f (start order not decoded in time)"
        p, obj = fb.starts, fb.objective
    stats.update(key=key, backfill=backfill, passes=sw["passes"], swaps=sw["swaps"],
                 sorted_lp_objective=sw["start_objective"], converged=sw["converged"],
                 swaps_cut=sw["cut"])
    # time_limit when any stage stopped at its budget: the LP, the decode of the start
    # order, or the swap passes (cut by the search deadline, which ends before the
    # call's own deadline, or by ``swap_time`` without one)
    stopped = (stats["lp_status"] != "optimal" or not sw["decoded"] or sw["cut"]
               or deadline.cancelled is not None)
    return Result("lp-swap", SolveStatus.TIME_LIMIT if stopped else SolveStatus.FEASIBLE, obj,
                  None, time.perf_counter() - t0, Schedule(instance, p), stats=stats)


class _Horizon:
    """The receding-horizon walk of :func:`solve_lp_horizon`: the committed order is
    decoded as it grows (:class:`~lpsched.heuristics.serial.SerialDecoder`), so the
    time per decoded request is known when deciding whether another window fits."""

    def __init__(self, instance: Instance, window: int, commit: int, key: str,
                 max_columns: int, backfill: bool):
        self.inst = instance
        self.window, self.commit, self.key, self.max_columns = window, commit, key, max_columns
        self.base = batch_order(form_batches(instance)).tolist()
        self.ptr = 0              # base[ptr:] not yet in any window
        self.head: list[int] = []  # window members not committed yet (base order)
        self.dec = SerialDecoder(instance, order_preserving=not backfill, release_aware=True)
        self.decode_seconds = 0.0
        self.solves = self.fallbacks = self.lp_cut = 0

    def left(self) -> int:
        return len(self.head) + len(self.base) - self.ptr

    def rest(self) -> list[int]:
        return self.head + self.base[self.ptr:]

    def room(self) -> float:
        """Seconds to keep for decoding the rest: ``DECODE_ROOM`` times the rate so far, at
        least ``DECODE_RATE`` per request (the first committed requests are short ones)."""
        placed = self.dec.placed
        rate = max(DECODE_RATE, self.decode_seconds / placed if placed else 0.0)
        return DECODE_ROOM * rate * self.left() + 0.01

    def commit_to(self, take: list[int]) -> None:
        t = time.perf_counter()
        self.dec.extend(take)
        self.decode_seconds += time.perf_counter() - t

    def step(self, search: Deadline) -> None:
        """One window: LP order of the next ``window`` requests, commit the first ones."""
        more = self.window - len(self.head)
        win = self.head + self.base[self.ptr: self.ptr + more]
        last = self.left() <= self.window
        self.ptr = min(len(self.base), self.ptr + more)
        if len(win) == 1:
            self.head = []
            self.commit_to(win)
            return
        sub = self.inst.subset(np.asarray(win))
        lp_deadline = search.share(at_most=max(0.0, search.remaining() - self.room()))
        lp = ordering_lp(sub, max_columns=self.max_columns, deadline=lp_deadline)
        self.solves += 1
        if lp.status == "optimal":
            local = lp_order(sub, lp, self.key)
        else:
            self.fallbacks += 1
            self.lp_cut += lp.status == "time_limit"
            local = np.arange(len(win))
        ranked = [win[int(k)] for k in local]
        take = ranked if last else ranked[: self.commit]
        taken = set(take)
        self.head = [i for i in win if i not in taken]
        self.commit_to(take)


def solve_lp_horizon(instance: Instance, *, deadline: Deadline | None = None,
                     seed: int | None = None, window: int = LpHorizonParams.window,
                     commit: int | None = LpHorizonParams.commit,
                     key: str = LpHorizonParams.key,
                     max_columns: int = LpHorizonParams.max_columns,
                     backfill: bool = LpHorizonParams.backfill) -> Result:
    """Receding-horizon LP scheduler (module docstring); ``commit`` defaults to ``window // 2``.

    When the deadline is near (less left than the estimated time to decode the
    rest), the requests not yet committed keep the Sorted-F order
    (``stats["lp_skipped_requests"]``, status ``time_limit``); a final decode cut
    by the deadline is completed in packed batches (``stats["packed_requests"]``), and
    a window whose LP the deadline stopped keeps the Sorted-F order (``stats["lp_cut"]``):
    both give status ``time_limit`` too.
    """
    t0 = time.perf_counter()
    refuse_large_profile("lp-horizon", instance)
    deadline = Deadline.coerce(deadline)
    search = deadline.for_search()
    commit = max(1, window // 2) if commit is None else int(commit)
    if not 1 <= commit <= window:
        raise OptionError(f"lp-horizon: option 'commit' must be in 1..window, got {commit}")
    walk = _Horizon(instance, window, commit, key, max_columns, backfill)
    while walk.left() and not search.expired() and search.remaining() > walk.room():
        walk.step(search)
    rest = walk.rest()
    skipped = len(rest)
    placed = walk.dec.extend(rest, search)
    if placed < len(rest):
        walk.dec.pack_rest(rest[placed:])
    p = walk.dec.starts
    packed = len(rest) - placed
    stopped = bool(skipped or walk.lp_cut or packed)
    return Result("lp-horizon", SolveStatus.TIME_LIMIT if stopped else SolveStatus.FEASIBLE,
                  objective_of(instance, p), None, time.perf_counter() - t0,
                  Schedule(instance, p),
                  stats={"window": window, "commit": commit, "lp_solves": walk.solves,
                         "lp_fallbacks": walk.fallbacks, "lp_cut": walk.lp_cut, "key": key,
                         "backfill": backfill,
                         "lp_skipped_requests": skipped, "packed_requests": packed})


#: The registry's declarations of this module's algorithms (:mod:`lpsched.registry`).
ALGORITHMS = (
    AlgorithmSpec("sorted-lp", solve_sorted_lp, "lp-guided",
                  "Sorted-LP: order by fractional completion times of the (bucketed) "
                  "time-indexed LP relaxation, earliest-start decoding",
                  "Wang, Ye, Zhou 2025 (arXiv:2508.06133), LP-based scheduler",
                  params=LpOrderParams),
    AlgorithmSpec("lp-swap", solve_lp_swap, "lp-guided",
                  "LP-Swap: the Sorted-LP order improved by adjacent pairwise swaps",
                  "Wang, Ye, Zhou 2025 (arXiv:2508.06133)", params=LpSwapParams),
    AlgorithmSpec("lp-horizon", solve_lp_horizon, "lp-guided",
                  "Receding horizon: re-solve the ordering LP over a window of the next "
                  "requests (Sorted-F order), commit the first half, slide",
                  "Wang, Ye, Zhou 2025 (receding-horizon variant); windowing ours",
                  params=LpHorizonParams),
)
