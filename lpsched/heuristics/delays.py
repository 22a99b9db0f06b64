"""Delay search: local search over a request order *and* release times (deliberate delays).

Why: in this problem starting a request as early as possible is not dominant. A
request started at ``p`` holds ``s + (t - p)`` tokens at step ``t`` until it
completes, so starting it later lowers its memory at every step it shares with
the others; a later start of one request can let several others start earlier.
The serial earliest-start decoder of :mod:`lpsched.heuristics.local_search`
never delays, and on the MC-SF family it misses proven optima that way: the
start order of a proven optimal schedule decodes to a worse one (n = 12, seed
2202: optimum 407, its own order decoded earliest-start 429).

Representation: an order of the requests and a release time ``r_i >= a_i`` per
request; the decoder places the requests in order, each at the earliest step
``>= r_i`` at which it fits next to those already placed (backfilling: it may
start before earlier-listed requests). Every schedule is representable (take the
order by start and ``r = p``: each request fits at its own start, and not before
its release), and every decoded schedule is memory-feasible by construction.

Moves, drawn at random (seeded): *delay* (``r_i = p_i + d``, ``d ~ U[1, 8]``),
*delay to an event* (``r_i`` = the completion step of a request completing
after ``p_i``, where memory frees), *undelay* (``r_i = a_i``), *swap* with a
position within 3, *insert* anywhere. A move is kept when the objective is not
worse (sideways moves cross plateaus); after ``max_stall`` moves without a
strict improvement the search restarts from the best schedule with a kick of
random moves (iterated local search), at most ``restarts`` times, then stops.
It also stops at the deadline (checked between moves and every
:data:`CHECK_EVERY` placed requests inside a decode, whose partial result is
then discarded) and after ``max_iters`` moves. A move decodes only from the
first position it changes, from a snapshot of the memory profile before that
position (kept for every position of the current list). Never returns worse than its input (the input is the
incumbent). Ours; the move set follows the shift moves of resource-constrained
project scheduling local search (e.g. Kolisch & Hartmann, EJOR 174, 2006).
"""

from __future__ import annotations

import numpy as np

from lpsched.check import check
from lpsched.heuristics.serial import DenseProfile
from lpsched.instance import Instance
from lpsched.stop import Deadline

__all__ = ["CHECK_EVERY", "DelaySearch", "delay_search"]

CHECK_EVERY = 16
MAX_DELAY = 8
NEAR = 3
KICK = 3


class DelaySearch:
    """State and moves of one run of :func:`delay_search` (module docstring)."""

    def __init__(self, instance: Instance, starts: np.ndarray, *, deadline: Deadline,
                 seed: int | None, max_stall: int, max_iters: int | None, restarts: int = 0):
        self.inst = instance
        self.S = instance.prefill.tolist()
        self.D = instance.decode.tolist()
        self.A = instance.arrival
        self.deadline, self.max_stall, self.max_iters = deadline, max_stall, max_iters
        self.rng = np.random.default_rng(seed)
        self.order = [int(i) for i in np.lexsort((instance.decode, starts))]
        self.rel = np.asarray(starts, dtype=np.int64).copy()  # decodes back to ``starts``
        self.cur = np.asarray(starts, dtype=np.int64).copy()
        self.cur_obj = self.objective(self.cur)
        self.snaps: dict[int, np.ndarray] | None = None  # profile before each position
        self.pending: dict[int, np.ndarray] = {}
        self.best, self.best_obj, self.input_obj = self.cur.copy(), self.cur_obj, self.cur_obj
        self.it = self.accepted = self.improved = self.stall = 0
        self.restarts, self.restarts_done = restarts, 0

    def objective(self, p: np.ndarray) -> int:
        return int((p + self.inst.decode - self.A).sum())

    def decode(self, order: list[int], rel: np.ndarray, first: int = 0) -> np.ndarray | None:
        """Earliest start ``>= r_i`` in ``order``; None when the deadline cut the decode.

        ``order[:first]`` and their releases must equal the committed ones
        (:meth:`commit`): decoding restarts from the profile snapshot before
        position ``first``. The snapshots of this decode wait in ``self.pending``.
        """
        snaps = self.snaps
        if first == 0 or snaps is None:
            first, prof = 0, DenseProfile(self.inst.memory, max(self.D))
            out = np.empty(self.inst.n, dtype=np.int64)
        else:
            prof = DenseProfile.restore(self.inst.memory, max(self.D), snaps[first])
            out = self.cur.copy()
        pending = {first: prof.snapshot()}
        for k in range(first, len(order)):
            if k % CHECK_EVERY == CHECK_EVERY - 1 and self.deadline.expired():
                return None
            i = order[k]
            p = prof.earliest(self.S[i], self.D[i], int(rel[i]))
            prof.add(self.S[i], self.D[i], p)
            out[i] = p
            pending[k + 1] = prof.snapshot()
        self.pending = pending
        return out

    def commit(self, order: list[int], rel: np.ndarray, p: np.ndarray) -> None:
        """Make the last decode current (its snapshots replace those from its start on)."""
        if self.snaps is None:
            self.snaps = {}
        self.snaps.update(self.pending)
        self.order, self.rel, self.cur, self.cur_obj = order, rel, p, self.objective(p)

    def propose(self) -> tuple[list[int], np.ndarray, int]:
        """A random neighbour ``(order, releases, first changed position)``."""
        rng, n = self.rng, self.inst.n
        order, rel = list(self.order), self.rel.copy()
        k = int(rng.integers(n))
        i, u = order[k], rng.random()
        if u < 0.2:
            rel[i] = self.cur[i] + int(rng.integers(1, MAX_DELAY + 1))
        elif u < 0.35:  # to a completion step of another request (memory frees there)
            ends = self.cur + self.inst.decode
            later = ends[ends > self.cur[i]]
            rel[i] = int(rng.choice(later)) if later.size else self.A[i]
        elif u < 0.5:
            rel[i] = self.A[i]
        elif u < 0.75:
            j = int(np.clip(k + rng.integers(-NEAR, NEAR + 1), 0, n - 1))
            order[k], order[j] = order[j], order[k]
            k = min(k, j)
        else:
            j = int(rng.integers(n))
            order.insert(j, order.pop(k))
            k = min(k, j)
        return order, rel, k

    def step(self) -> bool:
        """One move; False when the deadline cut its evaluation."""
        self.it += 1
        order, rel, first = self.propose()
        p = self.decode(order, rel, first)
        if p is None:
            return False
        obj = self.objective(p)
        self.stall = 0 if obj < self.best_obj else self.stall + 1
        if obj <= self.cur_obj:
            self.accepted += 1
            self.commit(order, rel, p)
            if obj < self.best_obj:
                self.improved += 1
                self.best, self.best_obj = p.copy(), obj
        return True

    def run(self) -> str:
        """Search until a stop; returns why."""
        if self.inst.n < 2:
            return "local_optimum"
        p = self.decode(self.order, self.rel)  # the input again, with its snapshots
        if p is None:
            return "time_limit"
        self.commit(self.order, self.rel, p)
        while True:
            if self.deadline.expired():
                return "time_limit"
            if self.max_iters is not None and self.it >= self.max_iters:
                return "max_iters"
            if self.stall >= self.max_stall:
                if self.restarts_done >= self.restarts:
                    return "local_optimum"
                self.kick()
            if not self.step():
                return "time_limit"

    def kick(self) -> None:
        """Iterated local search: back to the best schedule (its start order, releases =
        its starts), then ``KICK`` random moves accepted whatever their objective."""
        self.restarts_done += 1
        self.stall = 0
        self.order = [int(i) for i in np.lexsort((self.inst.decode, self.best))]
        self.rel, self.cur, self.cur_obj = self.best.copy(), self.best.copy(), self.best_obj
        self.snaps = None  # the snapshots belong to another list now
        for _ in range(KICK):
            order, rel, first = self.propose()
            p = self.decode(order, rel, first)
            if p is None:
                return
            self.commit(order, rel, p)

    def stats(self, stopped: str) -> dict:
        return {"delay_iterations": self.it, "delay_accepted": self.accepted,
                "delay_improvements": self.improved, "delay_input_objective": self.input_obj,
                "delay_objective": self.best_obj, "delay_stopped": stopped,
                "delay_restarts": self.restarts_done}


def delay_search(instance: Instance, starts: np.ndarray, *, deadline: Deadline | float | None,
                 seed: int | None = 0, max_stall: int | None = None,
                 max_iters: int | None = None, restarts: int = 10) -> tuple[np.ndarray, dict]:
    """Improve a feasible schedule by the delay search; ``(starts, stats)``, never worse.

    After ``max_stall`` (default ``max(100, 40 n)``) moves without a strict
    improvement the search restarts from the best schedule with a kick of
    :data:`KICK` random moves, at most ``restarts`` times, then stops;
    ``deadline`` (a :class:`~lpsched.stop.Deadline` or seconds) and ``max_iters``
    stop it too. The input must be feasible (``ValueError`` otherwise).
    """
    deadline = Deadline.coerce(deadline)
    p0 = np.asarray(starts, dtype=np.int64)
    rep = check(instance, p0)
    if not rep.feasible:
        raise ValueError(f"delay search needs a feasible input schedule: {rep.reason()}")
    stall = max(100, 40 * instance.n) if max_stall is None else max_stall
    search = DelaySearch(instance, p0, deadline=deadline, seed=seed, max_stall=stall,
                         max_iters=max_iters, restarts=restarts)
    stopped = search.run()
    return search.best, search.stats(stopped)
