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
snapshot of the memory profile (snapshots every ``n/32`` groups), so a move late
in the list costs little.

The input schedule is the incumbent: the result is the input unless a decoded
list is strictly better, so local search never returns something worse than its
input (tested).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from lpsched.check import check
from lpsched.heuristics.serial import DenseProfile, decode_groups, group_fits_alone
from lpsched.instance import Instance
from lpsched.options import OptionError
from lpsched.schedule import Result, Schedule, SolveStatus
from lpsched.stop import Deadline

__all__ = ["improve", "solve_local_search"]

DEFAULT_TIME = 2.0
CHECK_EVERY = 8  # groups decoded between two deadline checks inside one evaluation


class _OutOfTime(Exception):
    """The deadline passed inside an evaluation (the evaluation is discarded)."""


class _Decoder:
    """Decodes group lists with profile snapshots for incremental re-evaluation."""

    def __init__(self, instance: Instance, backfill: bool):
        self.inst = instance
        self.backfill = backfill
        # without backfill: list scheduling with release dates (a request not yet
        # arrived blocks nobody; serial.py), the queue discipline when offline
        self.release = not backfill and not instance.offline
        self.maxo = int(instance.decode.max())
        self.step = max(1, instance.n // 32)
        self.snaps: dict[int, tuple[np.ndarray, np.ndarray, int]] = {}
        self.groups_decoded = 0

    def decode(self, groups: list[list[int]], first: int = 0,
               stop: Callable[[], bool] | None = None
               ) -> tuple[np.ndarray | None, int, dict]:
        """Decode from the last snapshot at or before ``first``; returns the starts, the
        snapshot position used and the new snapshots (to :meth:`commit` if kept).

        ``stop`` (e.g. "the deadline has passed") is asked before every ``CHECK_EVERY``
        groups; when it says yes the evaluation is abandoned and the starts are
        ``None`` (nothing is committed, the incumbent is untouched). So a deadline
        is overrun by at most the decoding of ``CHECK_EVERY`` groups, not of a whole
        list. ``groups_decoded`` counts the groups placed (all calls).
        """
        inst = self.inst
        k0 = (first // self.step) * self.step
        while k0 > 0 and k0 not in self.snaps:
            k0 -= self.step
        prof = DenseProfile(inst.memory, self.maxo, 0)
        if k0 > 0:
            mem, starts, t = self.snaps[k0]
            prof.mem = mem.copy()
            starts = starts.copy()
        else:
            starts = np.full(inst.n, -1, dtype=np.int64)
            t = 0
        snaps = {}
        k = k0
        while k < len(groups):
            end = min(len(groups), (k // self.step + 1) * self.step)
            while k < end:
                if stop is not None and stop():
                    return None, k0, {}
                b = min(end, k + CHECK_EVERY)
                decode_groups(inst, groups[k:b], order_preserving=not self.backfill,
                              profile=prof, starts=starts, release_aware=self.release,
                              floor=0 if self.backfill or self.release else t)
                self.groups_decoded += b - k
                if not self.backfill:
                    t = int(starts[groups[b - 1][0]])
                k = b
            if k < len(groups) and k % self.step == 0:
                snaps[k] = (prof.mem.copy(), starts.copy(), t)
        return starts, k0, snaps

    def commit(self, k0: int, snaps: dict) -> None:
        for k in [k for k in self.snaps if k > k0]:
            del self.snaps[k]
        self.snaps.update(snaps)


def _objective(inst: Instance, starts: np.ndarray) -> int:
    return int((starts + inst.decode - inst.arrival).sum())


def improve(instance: Instance, starts: Sequence[int] | np.ndarray, *,
            deadline: Deadline | float | None = DEFAULT_TIME, max_iters: int | None = None,
            seed: int | None = 0, backfill: bool = True,
            groups: Sequence[Sequence[int]] | None = None, restarts: int = 20,
            kick: int = 3) -> tuple[np.ndarray, dict]:
    """Improve a feasible schedule; returns ``(starts, stats)``, never worse than the input.

    ``groups`` optionally gives the initial batch list (default: one group per
    request, in order of the input start steps). Stops at ``deadline`` (a
    :class:`~lpsched.stop.Deadline` or seconds) or after ``max_iters`` moves
    (whichever comes first; at least one must be set),
    or at a local optimum once ``restarts`` kicks (``kick`` random swaps/inserts applied
    to the best list, then local search again) have been spent.

    The deadline is checked between moves *and inside every evaluation* (every
    ``CHECK_EVERY`` decoded groups, :meth:`_Decoder.decode`): an evaluation cut by
    it is discarded (``stats["aborted_evaluation"]``), so one slow move cannot
    overrun the limit by more than the decoding of a few groups (tests give the
    deadline a fake clock). ``stats["evaluations"]`` counts the
    completed evaluations (decoded lists), ``stats["groups_decoded"]`` the groups
    placed by the decoder in all of them.
    """
    deadline = Deadline.coerce(deadline)
    if not deadline.limited and max_iters is None:
        raise ValueError("local search needs a time limit or max_iters")
    inst = instance
    p0 = np.asarray(starts, dtype=np.int64)
    rep = check(inst, p0)
    if not rep.feasible:
        raise ValueError(f"local search needs a feasible input schedule: {rep.reason()}")
    best_starts, best_obj = p0.copy(), rep.objective
    input_obj = best_obj
    if groups is None:
        order = np.lexsort((np.arange(inst.n), inst.decode, p0))
        cur = [[int(i)] for i in order]
    else:
        cur = [list(map(int, g)) for g in groups]
    dec = _Decoder(inst, backfill)
    evaluations = 0

    past_deadline = deadline.expired

    def evaluate(groups: list[list[int]], first: int):
        nonlocal evaluations
        cand, k0, snaps = dec.decode(groups, first, past_deadline)
        if cand is None:
            raise _OutOfTime
        evaluations += 1
        return cand, k0, snaps

    restarts_done = 0
    rng = np.random.default_rng(seed)
    S, D = inst.prefill, inst.decode
    it = accepted = improved = scans = 0
    counts = {"swap": 0, "insert": 0, "merge": 0, "split": 0}
    stall = 0
    aborted = False
    cur_obj = best_obj
    best_groups = cur

    def apply(cur: list[list[int]], mv: tuple[str, int, int]):
        name, i, j = mv
        if name == "swap":
            new = cur.copy()
            new[i], new[j] = new[j], new[i]
            return new, min(i, j)
        if name == "insert":
            new = cur.copy()
            new.insert(j, new.pop(i))
            return new, min(i, j)
        if name == "merge":
            merged = cur[i] + cur[i + 1]
            gi = np.asarray(merged)
            if not group_fits_alone(inst.memory, S[gi], D[gi]):
                return None
            return cur[:i] + [merged] + cur[i + 2:], i
        g = sorted(cur[i], key=lambda r: (int(D[r]), r))  # split at cut j
        return cur[:i] + [g[:j], g[j:]] + cur[i + 1:], i

    def out_of_budget() -> bool:
        return (max_iters is not None and it >= max_iters) or past_deadline()

    def _search() -> str:
        """The search loop; returns why it stopped (raises _OutOfTime inside an evaluation)."""
        nonlocal cur, cur_obj, best_starts, best_obj, best_groups, restarts_done
        nonlocal it, accepted, improved, scans, stall
        cur_starts, k0, snaps = evaluate(cur, 0)
        dec.commit(k0, snaps)
        cur_obj = _objective(inst, cur_starts)
        best_groups = cur
        if cur_obj < best_obj:
            best_starts, best_obj = cur_starts.copy(), cur_obj
        while True:
            if out_of_budget():
                return "time_limit" if past_deadline() else "max_iters"
            G = len(cur)
            if stall >= max(20, 2 * G):
                # systematic pass over the whole neighbourhood: stop at a local optimum
                scans += 1
                found = complete = False
                for mv in _neighbourhood(cur):
                    if out_of_budget():
                        break
                    res = apply(cur, mv)
                    if res is None:
                        continue
                    it += 1
                    new, first = res
                    cand, k0, snaps = evaluate(new, first)
                    obj = _objective(inst, cand)
                    if obj < cur_obj:
                        found = True
                        accepted += 1
                        counts[mv[0]] += 1
                        cur, cur_obj = new, obj
                        dec.commit(k0, snaps)
                        if obj < best_obj:
                            improved += 1
                            best_starts, best_obj, best_groups = cand.copy(), obj, cur
                        break
                else:
                    complete = True
                if complete and not found:
                    if restarts_done >= restarts:
                        return "local_optimum"
                    # iterated local search: kick the best list with random swaps/inserts
                    restarts_done += 1
                    cur = list(best_groups)
                    for _ in range(kick):
                        G = len(cur)
                        if G < 2:
                            break
                        i, j = (int(x) for x in rng.choice(G, 2, replace=False))
                        cur, _f = apply(cur, ("swap" if rng.random() < 0.5 else "insert", i, j))
                    cur_starts, k0, snaps = evaluate(cur, 0)
                    dec.commit(k0, snaps)
                    cur_obj = _objective(inst, cur_starts)
                    it += 1
                    if cur_obj < best_obj:
                        best_starts, best_obj, best_groups = cur_starts.copy(), cur_obj, cur
                stall = 0
                continue
            it += 1
            move = int(rng.choice(4, p=(0.4, 0.4, 0.1, 0.1)))
            i = int(rng.integers(G))
            if rng.random() < 0.5:
                j = int(np.clip(i + rng.integers(-NEAR, NEAR + 1), 0, G - 1))
            else:
                j = int(rng.integers(G))
            res = None
            if move == 0 and i != j:
                res, name = apply(cur, ("swap", i, j)), "swap"
            elif move == 1 and i != j:
                res, name = apply(cur, ("insert", i, j)), "insert"
            elif move == 2 and i + 1 < G:
                res, name = apply(cur, ("merge", i, 0)), "merge"
            elif move == 3 and len(cur[i]) >= 2:
                res, name = apply(cur, ("split", i, int(rng.integers(1, len(cur[i]))))), "split"
            if res is None:
                stall += 1
                continue
            new, first = res
            cand, k0, snaps = evaluate(new, first)
            obj = _objective(inst, cand)
            stall = 0 if obj < cur_obj else stall + 1
            if obj <= cur_obj:
                accepted += 1
                counts[name] += 1
                cur, cur_obj = new, obj
                dec.commit(k0, snaps)
                if obj < best_obj:
                    improved += 1
                    best_starts, best_obj, best_groups = cand.copy(), obj, cur
    try:
        stopped = _search()
    except _OutOfTime:
        stopped, aborted = "time_limit", True
    stats = {"iterations": it, "accepted": accepted, "improvements": improved,
             "accepted_moves": counts, "input_objective": input_obj, "objective": best_obj,
             "backfill": backfill, "stopped": stopped, "neighbourhood_scans": scans,
             "restarts": restarts_done, "evaluations": evaluations,
             "aborted_evaluation": aborted, "groups_decoded": dec.groups_decoded}
    return best_starts, stats


NEAR = 8  # the "near" second position of swap/insert moves: within +-NEAR


def _neighbourhood(cur: list[list[int]]):
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


def solve_local_search(instance: Instance, *, deadline: Deadline | None = None,
                       seed: int | None = None, init: str = "auto",
                       start: Sequence[int] | np.ndarray | Schedule | None = None,
                       max_iters: int | None = None, backfill: bool | None = None,
                       restarts: int = 20) -> Result:
    """Local search from ``start`` (a feasible schedule) or from the best schedule of the
    registered algorithms named in ``init`` (comma-separated; default ``"auto"``:
    sorted-f-cont, mc-sf and, up to 2,000 requests, sf).

    Without a time limit and without ``max_iters`` the search gets 2 s. ``backfill``
    defaults to True up to 300 requests and False above (a backfilling decode
    scans from each request's arrival, ``O(n * makespan)`` on large backlogs, so a
    single move can take seconds; the queue-order decode is amortised
    ``O(makespan + sum o)``). The deadline is also checked inside each move's
    evaluation (:func:`improve`), so a slow move is cut off, not finished. The
    initial heuristics share the first half of the budget; one that does not finish
    in its share is drained (the others still count), and the search uses the rest.
    Status ``time_limit`` when the deadline stopped the search.
    """
    t0 = time.perf_counter()
    deadline = Deadline.coerce(deadline)
    if start is None:
        from lpsched import registry
        names = [x.strip() for x in init.split(",") if x.strip()]
        if init == "auto":
            names = ["sorted-f-cont", "mc-sf"] + (["sf"] if instance.n <= 2000 else [])
        if not names:
            raise OptionError("local-search: option 'init' names no algorithm")
        if "local-search" in names:
            raise OptionError("local-search: option 'init' cannot name local-search itself")
        best = None
        first_half = deadline.share(0.5)
        for k, name in enumerate(names):
            base = registry.run(name, instance, deadline=first_half.share(1.0 / (len(names) - k)),
                                seed=seed)
            if base.schedule is None:
                continue
            if best is None or base.objective < best[1]:
                best = (name, base.objective, base.schedule.starts)
        if best is None:
            raise OptionError(f"local-search: no initial algorithm in {init!r} gave a schedule")
        init, _, p0 = best
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
    starts, stats = improve(instance, p0, deadline=budget, max_iters=max_iters,
                            seed=0 if seed is None else seed, backfill=backfill,
                            restarts=restarts)
    stats["init"] = init
    stopped = stats["stopped"] == "time_limit" and deadline.limited
    return Result(algorithm="local-search",
                  status=SolveStatus.TIME_LIMIT if stopped else SolveStatus.FEASIBLE,
                  objective=stats["objective"], lower_bound=None,
                  runtime=time.perf_counter() - t0, schedule=Schedule(instance, starts),
                  stats=stats)
