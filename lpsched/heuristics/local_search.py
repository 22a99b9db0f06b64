"""Local search over start orders and batches; never returns worse than its input.

Source: the local-search variant of Sorted-F in M. Wang, Y. Ye, Z. Zhou, "LLM
Serving Optimization with Variable Prefill and Decode Lengths" (arXiv:2508.06133);
the moves and the decoder are ours.

Representation: an ordered list of *groups* (batches); the requests of a group
start together. A list is turned into a schedule by the serial earliest-start
decoder (:func:`lpsched.heuristics.serial.decode_groups`): each group, in
order, starts at the earliest step at which it fits next to everything already
placed (``backfill=True``, default: it may start before groups placed ahead of
it; ``backfill=False``: starts are non-decreasing along the list, and with
arrivals not before any earlier group that has arrived by then, i.e. list
scheduling with release dates, ``release_aware`` in the decoder). Every
decoded list is therefore memory-feasible by construction, and the final
schedule is verified by :func:`lpsched.check.check`.

Moves (drawn at random with a seed; the second position is near the first
with probability 1/2, otherwise anywhere):

* ``swap(i, j)``: exchange groups ``i`` and ``j``;
* ``insert(i, j)``: move group ``i`` to position ``j``;
* ``merge(i)``: join groups ``i`` and ``i+1`` into one batch (only when the
  merged batch fits in memory alone);
* ``split(i)``: cut a batch (its requests sorted by decode length) at a random
  point into two consecutive groups.

A random move is kept when the decoded objective is not worse than the current
one (sideways moves cross plateaus). After ``max(20, 2G)`` random moves without
a strict improvement (``G`` groups) a systematic pass tries every move of the
neighbourhood (swaps and inserts within 8 positions, all merges of neighbours,
all split points); the first strictly improving move is applied and the random
phase resumes; a complete pass without one is a *local optimum* and the search
is followed by up to ``restarts`` (default 20) *kicks* (iterated local search:
three random swaps/inserts applied to the best list, then search again); after
the last one the search stops (``stats["stopped"] == "local_optimum"``), so tiny
instances finish in milliseconds; otherwise it stops at the time limit or the
iteration cap. The best schedule seen is returned.
Incremental evaluation: decoding restarts at the first changed position from a
snapshot of the memory profile (snapshots every ``n/32`` groups,
:class:`lpsched.heuristics.serial.IncrementalDecoder`), so a move late in the
list costs little. The run itself is a :class:`LocalSearch` object: its state,
the four moves and the three phases (random move, systematic pass, kick) are
its methods.

The input schedule is the incumbent: the result is the input unless a decoded
list is strictly better, so local search never returns something worse than its
input (tested).

Time budget (:func:`solve_local_search`): the initial heuristics share the first
half of the deadline; once that half has passed, the ones not yet run are skipped
(the best schedule so far is the start). The search gets the rest and checks the
deadline between moves and inside every evaluation; a cancelled deadline
(Ctrl-C in :func:`lpsched.solve`) stops it at the next check with the best
schedule found.

:func:`adjacent_swaps`, the improvement step of LP-Swap, lives here too: passes of
adjacent pairwise swaps of an order, evaluated by the same incremental decoder.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from lpsched.check import check
from lpsched.heuristics.serial import (
    CHECK_EVERY,
    IncrementalDecoder,
    group_fits_alone,
    refuse_large_profile,
)
from lpsched.instance import Instance
from lpsched.options import OptionError, param
from lpsched.registry import AlgorithmSpec
from lpsched.schedule import Result, Schedule, SolveStatus
from lpsched.stop import Deadline

__all__ = ["CHECK_EVERY", "LocalSearch", "adjacent_swaps", "improve", "solve_local_search"]

DEFAULT_TIME = 2.0
LIST_SHARE = 0.5  # with delays: the list search's share of the search time
NEAR = 8  # the "near" second position of swap/insert moves: within +-NEAR

Groups = list[list[int]]
Move = tuple[str, int, int]


class _OutOfTime(Exception):
    """The deadline passed inside an evaluation (the evaluation is discarded)."""


def _objective(inst: Instance, starts: np.ndarray) -> int:
    return int((starts + inst.decode - inst.arrival).sum())


class LocalSearch:
    """The state and the moves of one run of :func:`improve` (module docstring).

    State: the current list ``cur`` (decoded objective ``cur_obj``, committed in
    the :class:`~lpsched.heuristics.serial.IncrementalDecoder` ``dec``), the best
    list and schedule seen, the random generator and the counters reported in
    :meth:`stats`. The moves (:meth:`swap`, :meth:`insert`, :meth:`merge`,
    :meth:`split`) build a candidate list and say where it first differs from
    ``cur``; :meth:`random_step`, :meth:`systematic_pass` and :meth:`kick` are the
    three phases; :meth:`run` alternates them until a stop.
    """

    def __init__(self, instance: Instance, groups: Groups, incumbent: np.ndarray,
                 incumbent_obj: int, *, deadline: Deadline, max_iters: int | None,
                 seed: int | None, backfill: bool, restarts: int, kick: int):
        self.inst = instance
        self.S, self.D = instance.prefill, instance.decode
        self.deadline = deadline
        self.max_iters = max_iters
        self.restarts = restarts
        self.kick_moves = kick
        self.rng = np.random.default_rng(seed)
        self.dec = IncrementalDecoder(instance, backfill)
        self.backfill = backfill
        self.cur = groups
        self.cur_obj = incumbent_obj
        self.best_starts, self.best_obj, self.best_groups = incumbent, incumbent_obj, groups
        self.input_obj = incumbent_obj
        self.it = self.accepted = self.improved = self.scans = 0
        self.stall = self.restarts_done = self.evaluations = 0
        self.counts = {"swap": 0, "insert": 0, "merge": 0, "split": 0}

    # -- moves: (candidate list, first changed position), or None when not applicable ------
    def swap(self, i: int, j: int) -> tuple[Groups, int]:
        """Exchange groups ``i`` and ``j``."""
        new = self.cur.copy()
        new[i], new[j] = new[j], new[i]
        return new, min(i, j)

    def insert(self, i: int, j: int) -> tuple[Groups, int]:
        """Move group ``i`` to position ``j``."""
        new = self.cur.copy()
        new.insert(j, new.pop(i))
        return new, min(i, j)

    def merge(self, i: int) -> tuple[Groups, int] | None:
        """Join groups ``i`` and ``i + 1`` (None unless the batch fits in memory alone)."""
        cur = self.cur
        merged = cur[i] + cur[i + 1]
        gi = np.asarray(merged)
        if not group_fits_alone(self.inst.memory, self.S[gi], self.D[gi]):
            return None
        return cur[:i] + [merged] + cur[i + 2:], i

    def split(self, i: int, cut: int) -> tuple[Groups, int]:
        """Cut group ``i`` (sorted by decode length, then position) before its ``cut``-th member."""
        cur = self.cur
        g = sorted(cur[i], key=lambda r: (int(self.D[r]), r))
        return cur[:i] + [g[:cut], g[cut:]] + cur[i + 1:], i

    def apply(self, move: Move) -> tuple[Groups, int] | None:
        name, i, j = move
        if name == "merge":
            return self.merge(i)
        return getattr(self, name)(i, j)

    # -- evaluation and acceptance -----------------------------------------------------------
    def out_of_budget(self) -> bool:
        return (self.max_iters is not None and self.it >= self.max_iters) or self.deadline.expired()

    def evaluate(self, groups: Groups, first: int) -> tuple[np.ndarray, int, dict]:
        """Decode ``groups`` from the snapshot before ``first``; raises :class:`_OutOfTime`
        when the deadline cut the decode."""
        cand, k0, snaps = self.dec.decode(groups, first, self.deadline.expired)
        if cand is None:
            raise _OutOfTime
        self.evaluations += 1
        return cand, k0, snaps

    def accept(self, name: str, new: Groups, obj: int, cand: np.ndarray, k0: int,
               snaps: dict) -> None:
        """Make ``new`` the current list; record it as the best when strictly better."""
        self.accepted += 1
        self.counts[name] += 1
        self.cur, self.cur_obj = new, obj
        self.dec.commit(k0, snaps)
        if obj < self.best_obj:
            self.improved += 1
            self.best_starts, self.best_obj, self.best_groups = cand.copy(), obj, new

    def restart_from(self, groups: Groups) -> None:
        """Decode ``groups`` from scratch as the current list (no move counted as accepted)."""
        cand, k0, snaps = self.evaluate(groups, 0)
        self.cur = groups
        self.dec.commit(k0, snaps)
        self.cur_obj = _objective(self.inst, cand)
        if self.cur_obj < self.best_obj:
            self.best_starts, self.best_obj, self.best_groups = cand.copy(), self.cur_obj, groups

    # -- phases ------------------------------------------------------------------------------
    def random_step(self) -> None:
        """One random move (type by probabilities 0.4/0.4/0.1/0.1), kept unless worse."""
        rng, cur = self.rng, self.cur
        G = len(cur)
        self.it += 1
        move = int(rng.choice(4, p=(0.4, 0.4, 0.1, 0.1)))
        i = int(rng.integers(G))
        if rng.random() < 0.5:
            j = int(np.clip(i + rng.integers(-NEAR, NEAR + 1), 0, G - 1))
        else:
            j = int(rng.integers(G))
        res = None
        if move == 0 and i != j:
            res, name = self.swap(i, j), "swap"
        elif move == 1 and i != j:
            res, name = self.insert(i, j), "insert"
        elif move == 2 and i + 1 < G:
            res, name = self.merge(i), "merge"
        elif move == 3 and len(cur[i]) >= 2:
            res, name = self.split(i, int(rng.integers(1, len(cur[i])))), "split"
        if res is None:
            self.stall += 1
            return
        new, first = res
        cand, k0, snaps = self.evaluate(new, first)
        obj = _objective(self.inst, cand)
        self.stall = 0 if obj < self.cur_obj else self.stall + 1
        if obj <= self.cur_obj:
            self.accept(name, new, obj, cand, k0, snaps)

    def systematic_pass(self) -> bool | None:
        """Try the neighbourhood in order and apply the first strictly improving move.

        Returns True when one was found, False after a complete pass without one (a
        local optimum), None when the budget ran out during the pass.
        """
        self.scans += 1
        for mv in neighbourhood(self.cur):
            if self.out_of_budget():
                return None
            res = self.apply(mv)
            if res is None:
                continue
            self.it += 1
            new, first = res
            cand, k0, snaps = self.evaluate(new, first)
            obj = _objective(self.inst, cand)
            if obj < self.cur_obj:
                self.accept(mv[0], new, obj, cand, k0, snaps)
                return True
        return False

    def kick(self) -> None:
        """Iterated local search: ``kick`` random swaps/inserts applied to the best list,
        decoded as the new current list."""
        rng = self.rng
        self.restarts_done += 1
        self.cur = list(self.best_groups)
        for _ in range(self.kick_moves):
            G = len(self.cur)
            if G < 2:
                break
            i, j = (int(x) for x in rng.choice(G, 2, replace=False))
            res = self.apply(("swap" if rng.random() < 0.5 else "insert", i, j))
            if res is not None:  # a move that does not apply is skipped
                self.cur = res[0]
        self.restart_from(self.cur)
        self.it += 1

    def run(self) -> str:
        """Search until a stop; returns why (``time_limit``, ``max_iters`` or
        ``local_optimum``); raises :class:`_OutOfTime` when an evaluation was cut."""
        self.restart_from(self.cur)
        while True:
            if self.out_of_budget():
                return "time_limit" if self.deadline.expired() else "max_iters"
            if self.stall < max(20, 2 * len(self.cur)):
                self.random_step()
                continue
            found = self.systematic_pass()
            if found is False:
                if self.restarts_done >= self.restarts:
                    return "local_optimum"
                self.kick()
            self.stall = 0

    def stats(self, stopped: str, aborted: bool) -> dict:
        return {"iterations": self.it, "accepted": self.accepted, "improvements": self.improved,
                "accepted_moves": self.counts, "input_objective": self.input_obj,
                "objective": self.best_obj, "backfill": self.backfill, "stopped": stopped,
                "neighbourhood_scans": self.scans, "restarts": self.restarts_done,
                "evaluations": self.evaluations, "aborted_evaluation": aborted,
                "groups_decoded": self.dec.groups_decoded}


def improve(instance: Instance, starts: Sequence[int] | np.ndarray, *,
            deadline: Deadline | float | None = DEFAULT_TIME, max_iters: int | None = None,
            seed: int | None = 0, backfill: bool = True,
            groups: Sequence[Sequence[int]] | None = None, restarts: int = 20,
            kick: int = 3) -> tuple[np.ndarray, dict]:
    """Improve a feasible schedule; returns ``(starts, stats)``, never worse than the input.

    ``groups`` optionally gives the initial batch list (default: one group per
    request, in order of the input start steps). Stops at ``deadline`` (a
    :class:`~lpsched.stop.Deadline` or seconds; a cancelled deadline stops it at
    once) or after ``max_iters`` moves (whichever comes first; at least one must
    be set), or at a local optimum once ``restarts`` kicks (``kick`` random
    swaps/inserts applied to the best list, then local search again) have been
    spent.

    The deadline is checked between moves *and inside every evaluation* (every
    :data:`~lpsched.heuristics.serial.CHECK_EVERY` decoded groups,
    :meth:`~lpsched.heuristics.serial.IncrementalDecoder.decode`): an evaluation
    cut by it is discarded (``stats["aborted_evaluation"]``), so one slow move
    cannot overrun the limit by more than the decoding of a few groups (tests give
    the deadline a fake clock). ``stats["evaluations"]`` counts the completed
    evaluations (decoded lists), ``stats["groups_decoded"]`` the groups placed by
    the decoder in all of them.
    """
    deadline = Deadline.coerce(deadline)
    if not deadline.limited and max_iters is None:
        raise ValueError("local search needs a time limit or max_iters")
    inst = instance
    p0 = np.asarray(starts, dtype=np.int64)
    rep = check(inst, p0)
    if not rep.feasible:
        raise ValueError(f"local search needs a feasible input schedule: {rep.reason()}")
    if groups is None:
        order = np.lexsort((np.arange(inst.n), inst.decode, p0))
        cur = [[int(i)] for i in order]
    else:
        cur = [list(map(int, g)) for g in groups]
    search = LocalSearch(inst, cur, p0.copy(), rep.objective, deadline=deadline,
                         max_iters=max_iters, seed=seed, backfill=backfill, restarts=restarts,
                         kick=kick)
    try:
        stopped, aborted = search.run(), False
    except _OutOfTime:
        stopped, aborted = "time_limit", True
    return search.best_starts, search.stats(stopped, aborted)


def neighbourhood(cur: Groups) -> Iterator[Move]:
    """All moves of the systematic pass: swaps and inserts within +-NEAR positions,
    merges of neighbouring groups, every split point of every batch."""
    G = len(cur)
    for i in range(G):
        for j in range(i + 1, min(G, i + NEAR + 1)):
            yield ("swap", i, j)
    for i in range(G):
        for j in range(max(0, i - NEAR), min(G, i + NEAR + 1)):
            if j != i and j != i + 1:  # insert(i, i+1) is swap(i, i+1)
                yield ("insert", i, j)
    for i in range(G - 1):
        yield ("merge", i, 0)
    for i in range(G):
        for cut in range(1, len(cur[i])):
            yield ("split", i, cut)


def adjacent_swaps(instance: Instance, order: np.ndarray, *, backfill: bool,
                   deadline: Deadline | None = None, max_passes: int = 50
                   ) -> tuple[np.ndarray, np.ndarray | None, int | None, dict]:
    """Passes of adjacent pairwise swaps over ``order``, a swap kept when it strictly
    lowers the decoded objective (the serial earliest-start decoder, incremental from
    profile snapshots: :class:`~lpsched.heuristics.serial.IncrementalDecoder`).

    Stops when a full pass finds no improving swap, after ``max_passes`` passes, or
    at ``deadline`` (a :class:`~lpsched.stop.Deadline`, checked also inside every
    decode; ``None`` or no limit: deterministic). Never worse than ``order``
    decoded. The LP-Swap step of both the offline scheduler
    (:mod:`lpsched.heuristics.lp_guided`) and the online policy
    (:mod:`lpsched.heuristics.online`).

    Returns ``(order, starts, objective, stats)`` with stats ``passes``, ``swaps``,
    ``start_objective``, ``converged`` (a whole pass found no improving swap),
    ``cut`` (the deadline cut the passes) and ``decoded``. When the deadline cuts even
    the decode of ``order`` itself, ``order`` comes back unchanged with ``starts``
    and ``objective`` None (``stats["decoded"]`` False): the caller keeps its
    fallback.
    """
    deadline = Deadline.coerce(deadline)
    stop = deadline.expired if deadline.limited or deadline.cancelled else None
    groups = [[int(i)] for i in order]
    dec = IncrementalDecoder(instance, backfill)
    p, k0, snaps = dec.decode(groups, 0, stop)
    if p is None:
        return np.asarray(order, dtype=np.int64), None, None, {
            "passes": 0, "swaps": 0, "start_objective": None, "converged": False,
            "cut": True, "decoded": False}
    dec.commit(k0, snaps)
    obj = _objective(instance, p)
    start_obj = obj
    passes = swaps = 0
    improved, cut = True, False
    while improved and passes < max_passes and not cut:
        if deadline.expired():
            cut = True
            break
        improved = False
        passes += 1
        for k in range(len(groups) - 1):
            if deadline.expired():
                cut = True
                break
            groups[k], groups[k + 1] = groups[k + 1], groups[k]
            q, k0, snaps = dec.decode(groups, k, stop)  # None: cut by the deadline
            if q is None:
                groups[k], groups[k + 1] = groups[k + 1], groups[k]
                cut = True
                break
            qobj = _objective(instance, q)
            if qobj < obj:
                obj, p = qobj, q
                dec.commit(k0, snaps)
                swaps += 1
                improved = True
            else:
                groups[k], groups[k + 1] = groups[k + 1], groups[k]
    out = np.fromiter((g[0] for g in groups), dtype=np.int64, count=len(groups))
    # converged: a whole pass found no improving swap (a pass cut by the deadline proves
    # nothing, whatever it found so far)
    return out, p, obj, {"passes": passes, "swaps": swaps, "start_objective": start_obj,
                         "converged": not improved and not cut, "cut": cut,
                         "decoded": True}


@dataclass(frozen=True)
class LocalSearchParams:
    """The options of :func:`solve_local_search`."""

    init: str = param("auto", "str", "comma-separated algorithms whose best schedule is the "
                      "start ('auto': sorted-f-cont, smith-area, mc-sf, sf); they share the "
                      "first half of the time limit")
    start: Sequence[int] | np.ndarray | Schedule | None = param(
        None, "schedule", "a feasible start schedule (instead of init)")
    max_iters: int | None = param(None, "int", "stop after this many moves", minimum=0)
    backfill: bool | None = param(None, "bool", "decode with backfilling (default: up to 300 "
                                  "requests)")
    restarts: int = param(20, "int", "kicks of iterated local search after a local optimum",
                          minimum=0)
    delays: bool = param(False, "bool", "then search start delays too (order and release "
                         "times, lpsched.heuristics.delays; default off)")


def solve_local_search(instance: Instance, *, deadline: Deadline | None = None,
                       seed: int | None = None, init: str = LocalSearchParams.init,
                       start: Sequence[int] | np.ndarray | Schedule | None
                       = LocalSearchParams.start,
                       max_iters: int | None = LocalSearchParams.max_iters,
                       backfill: bool | None = LocalSearchParams.backfill,
                       restarts: int = LocalSearchParams.restarts,
                       delays: bool = LocalSearchParams.delays) -> Result:
    """Local search from ``start`` (a feasible schedule) or from the best schedule of the
    registered algorithms named in ``init`` (comma-separated; default ``"auto"``:
    sorted-f-cont, smith-area, mc-sf and, up to 2,000 requests, sf).

    Without a time limit and without ``max_iters`` the search gets 2 s. ``backfill``
    defaults to True up to 300 requests and False above (a backfilling decode
    scans from each request's arrival, ``O(n * makespan)`` on large backlogs, so a
    single move can take seconds; the queue-order decode is amortised
    ``O(makespan + sum o)``). The deadline is also checked inside each move's
    evaluation (:func:`improve`), so a slow move is cut off, not finished. The
    initial heuristics share the first half of the budget (each a share of what is
    left of it); one that does not finish in its share is drained, those not
    started when the half is over are skipped (``stats["init_skipped"]``), and the
    search uses the rest. With ``delays`` (default off: at 10 s on the MC-SF family,
    n = 10-60, it did not beat the list search alone, docs/exact.md) the list search
    gets ``LIST_SHARE`` (half) of what is left (all of it only when it does not reach
    a local optimum first) and the delay search of :mod:`lpsched.heuristics.delays`
    (order and release times, which can start a request later than it fits)
    continues from its best schedule with the rest. Status ``time_limit`` when the deadline
    (or, without one, the default 2 s) stopped the search or an initial heuristic.
    """
    t0 = time.perf_counter()
    refuse_large_profile("local-search", instance)
    deadline = Deadline.coerce(deadline)
    init_stopped = False
    init_stats: dict = {}
    if start is None:
        init, p0, init_stopped, init_stats = _best_initial(instance, init, deadline, seed)
    else:
        from lpsched.solve import as_schedule

        p0 = as_schedule(instance, start).starts
        rep = check(instance, p0)
        if not rep.feasible:
            raise OptionError(f"local-search: option 'start' is an infeasible schedule: "
                              f"{rep.reason()}")
        init = "given"
    budget = deadline.for_search()
    if not budget.limited and max_iters is None:
        budget = deadline.share(at_most=DEFAULT_TIME)
    if backfill is None:
        backfill = instance.n <= 300
    list_budget = budget.share(LIST_SHARE) if delays else budget
    starts, stats = improve(instance, p0, deadline=list_budget, max_iters=max_iters,
                            seed=0 if seed is None else seed, backfill=backfill,
                            restarts=restarts)
    if delays:
        from lpsched.heuristics.delays import delay_search

        starts, dstats = delay_search(instance, starts, deadline=budget,
                                      seed=0 if seed is None else seed, max_iters=max_iters)
        stats.update(dstats)
        stats["objective"] = dstats["delay_objective"]
        if stats["stopped"] != "time_limit":
            stats["stopped"] = dstats["delay_stopped"]
    stats["init"] = init
    stats.update(init_stats)
    # time_limit whenever a budget stopped the search: the call's deadline, or the default
    # DEFAULT_TIME without one (the search had not reached a local optimum either way)
    stopped = init_stopped or stats["stopped"] == "time_limit"
    return Result(algorithm="local-search",
                  status=SolveStatus.TIME_LIMIT if stopped else SolveStatus.FEASIBLE,
                  objective=stats["objective"], lower_bound=None,
                  runtime=time.perf_counter() - t0, schedule=Schedule(instance, starts),
                  stats=stats)


def _best_initial(instance: Instance, init: str, deadline: Deadline, seed: int | None
                  ) -> tuple[str, np.ndarray, bool, dict]:
    """The best schedule of the ``init`` algorithms in the first half of ``deadline``:
    ``(name, starts, stopped by the deadline, stats)``.

    Names are checked before any run. Each algorithm gets an equal share of what is
    left of the half; once the half has passed (or the deadline was cancelled) the
    ones not yet run are skipped (the run counts as stopped). An algorithm that fails
    is skipped too (its error in ``stats["init_errors"]``).
    """
    from lpsched import registry

    names = [x.strip() for x in init.split(",") if x.strip()]
    if init == "auto":
        names = (["sorted-f-cont", "smith-area", "mc-sf"]
                 + (["sf"] if instance.n <= 2000 else []))
    if not names:
        raise OptionError("local-search: option 'init' names no algorithm")
    if "local-search" in names:
        raise OptionError("local-search: option 'init' cannot name local-search itself")
    for name in names:
        registry.get(name)  # an unknown name is an input error, raised before any work
    best: tuple[str, int, np.ndarray, bool] | None = None
    skipped: list[str] = []
    errors: dict[str, str] = {}
    first_half = deadline.share(0.5)
    t0 = time.perf_counter()
    for k, name in enumerate(names):
        if best is not None and first_half.expired():
            skipped.append(name)
            continue
        try:
            base = registry.run(name, instance, deadline=first_half.share(1.0 / (len(names) - k)),
                                seed=seed)
        except Exception as exc:  # noqa: BLE001 - a failing start is skipped, not fatal
            errors[name] = f"{type(exc).__name__}: {exc}"
            continue
        if base.schedule is None or base.objective is None:
            continue
        if best is None or base.objective < best[1]:
            best = (name, base.objective, base.schedule.starts,
                    base.status is SolveStatus.TIME_LIMIT)
    if best is None:
        raise OptionError(f"local-search: no initial algorithm in {init!r} gave a schedule"
                          + (f" ({errors})" if errors else ""))
    stats: dict = {"init_seconds": round(time.perf_counter() - t0, 4)}
    if skipped:
        stats["init_skipped"] = skipped
    if errors:
        stats["init_errors"] = errors
    return best[0], best[2], best[3] or bool(skipped), stats


#: The registry's declaration of this module's algorithm (:mod:`lpsched.registry`).
ALGORITHMS = (
    AlgorithmSpec("local-search", solve_local_search, "improvement",
                  "Local search (swap/insert/batch merge/split) over the batch order, serial "
                  "earliest-start decoding; never worse than its start (default: best of "
                  "sorted-f-cont, smith-area, mc-sf, sf)",
                  "Wang, Ye, Zhou 2025 (local-search variant)", params=LocalSearchParams),
)
