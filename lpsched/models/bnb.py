"""A problem-specific depth-first branch-and-bound over chronological start decisions.

Validity of every rule below: ``formulations/bnb.md``. In short:

* **Nodes.** A node is a decision time ``t`` with the set ``U`` of unstarted
  requests; every started request has a fixed start ``p_i`` and completion
  ``c_i = p_i + o_i``. The memory ``mem[tau]`` of the started requests in every step
  ``tau`` is known; the requests started later only add to it. A child chooses the
  set ``S`` of requests started at ``t`` (possibly empty) and jumps to the next time
  ``t'`` at which some request of ``U \\ S`` can start at all (``e_j`` below); the
  steps in between admit no start.
* **Earliest start** ``e_j``: the smallest ``p >= max(t, a_j)`` with
  ``mem[tau] + s_j + tau - p <= M`` for ``tau = p+1..p+o_j``. Later starts only add
  memory, so ``p_j >= e_j`` in every completion of the node.
* **Node bound** ``h + sum_running (c_i - t) + B(U)``, where
  ``h = sum_done (c_i - a_i) + sum_unfinished (t - a_i)`` and ``B(U)`` bounds
  ``sum_{j in U} (c_j - t)``: the ``k``-th smallest completion in ``U`` is at least
  the ``k``-th smallest ``e_j + o_j`` and at least the first step ``T_k`` at which
  the free memory ``sum_{tau=t+1..T_k} (M - mem[tau])`` covers the ``k`` smallest
  areas ``A_j = s_j o_j + o_j(o_j+1)/2`` of ``U`` (Smith's rule against the
  time-varying capacity left by the started requests).
* **Dominance** (each holds for some optimal schedule, so the search keeps one):
  no idle step with nothing running when everything has arrived; no request that
  could start one step earlier with everything else fixed (every optimal schedule is
  *semi-active*: checked once the steps the shift touches are all known); identical
  requests (same ``s, o, a``) start in id order; a *transposition table* of
  ``(U, progress of the running requests)`` (and ``t`` before the last arrival) with
  the smallest ``h`` seen: a later visit with ``h`` at least as large is pruned.
* **Order**: in every node the requests that can start are tried "start first",
  shortest decode first (the greedy dive), so good schedules come early; the incumbent
  starts from the warm start (:func:`lpsched.models.incumbent.solver_incumbent`).

Not a registered algorithm: at 60 s it proves the optimum at n = 10 on 2 of 4
instances and none at n >= 16, fewer than CP-SAT (``benchmarks/results/bnb.md``,
``docs/exact.md``); its root bound (:func:`root_bound`) is part of
``lower_bound(..., "combinatorial")`` for ``n <=`` :data:`ROOT_BOUND_MAX_N`.

The search checks the deadline every :data:`CHECK_EVERY` nodes; the transposition
table stops growing at ``max_table`` entries (the memory guard: about 250 bytes an
entry). Status ``optimal`` only when the search finished.
"""

from __future__ import annotations

import sys
import time
from bisect import bisect_left
from typing import Any

import numpy as np

from lpsched.check import check
from lpsched.instance import Instance
from lpsched.models.combinatorial import combined_bound
from lpsched.models.guard import DEFAULT_MAX_MODEL_BYTES, guarded_result, memory_refusal
from lpsched.models.incumbent import solver_incumbent
from lpsched.options import OptionError
from lpsched.schedule import Result, Schedule, SolveStatus, sequential_starts
from lpsched.stop import Deadline

__all__ = ["ROOT_BOUND_MAX_N", "BranchAndBound", "root_bound", "solve_bnb"]

CHECK_EVERY = 256
"""Nodes (and start sets tried) between two deadline checks."""

DEFAULT_MAX_TABLE = 1_000_000
"""Default size cap of the transposition table (entries)."""

SEARCH_BYTES_PER_STEP = 16.0
"""Bytes per step of the search's per-step memory list and its companions (as
:func:`lpsched.models.bound_sizes.root_bytes`), for the guard of :func:`solve_bnb`."""


class _Abort(Exception):
    pass


class BranchAndBound:
    """One search on ``instance`` with incumbent ``starts`` (a feasible start vector).

    :meth:`run` searches until it finishes (``self.finished``) or ``deadline`` expires;
    ``best_obj`` / ``best_starts`` hold the best schedule found, ``root_lb`` the node
    bound of the root and ``nodes`` the nodes entered.
    """

    def __init__(self, instance: Instance, starts: np.ndarray, *,
                 deadline: Deadline | None = None, max_table: int = DEFAULT_MAX_TABLE,
                 table: bool = True, semi_active: bool = True, tails: bool = True,
                 horizon: int | None = None):
        self.tails = tails
        self.n, self.M = instance.n, instance.memory
        self.s = instance.prefill.tolist()
        self.o = instance.decode.tolist()
        self.a = instance.arrival.tolist()
        self.A = instance.area.tolist()
        self.peak = instance.peak.tolist()
        self.amax = max(self.a)
        self.best_starts = np.asarray(starts, dtype=np.int64).copy()
        self.best_obj = int((self.best_starts + instance.decode - instance.arrival).sum())
        if horizon is None:  # every start of a node below the incumbent, and its window
            horizon = self.best_obj + self.amax + 2 * max(self.o) + 2
        self.mem = [0] * (horizon + 1)
        self.start = [-1] * self.n
        self.deadline = Deadline.coerce(deadline)
        self.max_table, self.use_table, self.semi_active = max_table, table, semi_active
        self.table: dict[tuple, int] = {}
        self.nodes, self.pruned_table, self.pruned_shift, self.improvements = 0, 0, 0, 0
        self.children = 0
        self.root_lb: int | None = None
        self.profile: dict[int, list[int]] = {}
        """Per number of unstarted requests: nodes bounded, nodes cut by the bound, and
        the sum of ``incumbent - bound`` over the others."""
        self.finished = False
        self.by_area = sorted(range(self.n), key=lambda j: (self.A[j], j))
        self.area_rank = [0] * self.n
        for k, j in enumerate(self.by_area):
            self.area_rank[j] = k
        self.branch_order = sorted(range(self.n), key=lambda j: (self.o[j], self.s[j],
                                                                 self.a[j], j))
        self.twin = self._twins()

    def _twins(self) -> list[int]:
        """The identical request (same ``s, o, a``) with the next smaller id, or -1."""
        out = [-1] * self.n
        seen: dict[tuple[int, int, int], int] = {}
        for i in range(self.n):
            key = (self.s[i], self.o[i], self.a[i])
            out[i] = seen.get(key, -1)
            seen[key] = i
        return out

    # -- memory profile -------------------------------------------------------------------------
    def add(self, j: int, t: int, sign: int) -> None:
        mem, s = self.mem, self.s[j]
        for d in range(1, self.o[j] + 1):
            mem[t + d] += sign * (s + d)
        self.start[j] = t if sign > 0 else -1

    def earliest(self, j: int, p: int, ends: list[int]) -> int:
        """``e_j``: the earliest start ``>= max(p, a_j)`` under the current memory.

        ``ends`` are the completion steps, ascending, of the started requests that run
        after the current decision time ``t <= p``. From ``t + 1`` on, every started
        request runs in a prefix of the steps, so ``mem[tau] + tau`` increases between two
        completion steps: the limit ``mem[tau] + s_j + tau - p <= M`` over the window
        ``p+1..p+o_j`` holds everywhere once it holds at the completion steps inside the
        window and at its last step ``p + o_j``. A violated step ``tau`` stays violated
        for every start below ``min(tau, mem[tau] + tau - M + s_j)``; a violated last
        step for every start whose last step is in the same segment.
        """
        mem, o, cap = self.mem, self.o[j], self.M - self.s[j]
        p = max(p, self.a[j])
        while True:
            q, lim, moved = p + o, cap + p, False
            for c in ends:
                if c > q:
                    break
                if c > p and mem[c] + c > lim:
                    p, moved = min(c, mem[c] + c - cap), True
                    break
            if moved:
                continue
            if mem[q] + o <= cap:
                return p
            p = next(c for c in ends if c >= q) - o + 1

    def ends_after(self, t: int) -> list[int]:
        """Completion steps ``> t`` of the started requests, ascending, distinct."""
        return sorted({self.start[i] + self.o[i] for i in range(self.n)
                       if self.start[i] >= 0 and self.start[i] + self.o[i] > t})

    # -- bound ----------------------------------------------------------------------------------
    def node_bound(self, t: int, U: int, e: dict[int, int], fixed: int) -> int:
        """``fixed + B(U)`` (module docstring): ``fixed`` is the cost of the started
        requests and of ``U`` up to ``t``; ``B`` is the larger of the rank bound of ``U``
        (per rank the larger of the earliest completion and the area step ``T_k``) and,
        with ``tails``, the split bounds of :meth:`tail_split`."""
        if not U:
            return fixed
        cum = self.free_prefix(t)
        members = [j for j in self.by_area if U >> j & 1]
        best = self.rank_bound(t, members, e, cum)
        if self.tails and len(members) >= 2:
            best = max(best, self.tail_split(t, members, e, cum))
        return fixed + best

    def free_prefix(self, t: int) -> list[int]:
        """``cum[k] = sum_{tau=t+1..t+k} (M - mem[tau])`` up to the last step with
        memory in use (from there on every step has ``M`` free)."""
        mem, M = self.mem, self.M
        cum, tot, tau = [0], 0, t + 1
        while mem[tau]:
            tot += M - mem[tau]
            cum.append(tot)
            tau += 1
        return cum

    def area_step(self, t: int, need: int, cum: list[int]) -> int:
        """The first step ``T`` with ``sum_{tau=t+1..T}`` of the free memory ``>= need``."""
        if need <= cum[-1]:
            return t + bisect_left(cum, need)
        return t + len(cum) - 1 + -(-(need - cum[-1]) // self.M)

    def rank_values(self, t: int, members: list[int], e: dict[int, int],
                    cum: list[int]) -> list[int]:
        """Per rank ``k`` the bound ``max(T_k, E_(k))`` on the ``k``-th smallest completion
        of ``members`` (listed by area, ascending): ``T_k`` the area step of the ``k``
        smallest areas, ``E_(k)`` the ``k``-th smallest earliest completion ``e_j + o_j``."""
        o, A = self.o, self.A
        ends = sorted(e[j] + o[j] for j in members)
        out, need = [], 0
        for k, j in enumerate(members):
            need += A[j]
            out.append(max(self.area_step(t, need, cum), ends[k]))
        return out

    def rank_bound(self, t: int, members: list[int], e: dict[int, int],
                   cum: list[int]) -> int:
        """``sum_k max(T_k, E_(k)) - t`` over ``members`` (:meth:`rank_values`)."""
        return sum(self.rank_values(t, members, e, cum)) - t * len(members)

    def tail_values(self, t: int, group: list[int], e: dict[int, int],
                    cum: list[int]) -> tuple[list[int], list[int]]:
        """Per rank bounds on the completions of the members of ``group`` with a non-empty
        disjoint tail, and the members without one.

        The tails ``[p_j + delta_j, c_j)`` with
        ``delta_j = max(0, M - min_{i in group, i != j} P_i - s_j)`` are pairwise disjoint
        (``lpsched.models.tails``) and start at ``e_j + delta_j >= r = min (e_j +
        delta_j)`` or later, so the ``k``-th smallest completion is at least ``r`` plus
        the ``k`` shortest tails, and at least the rank bound of the members with a
        tail (:meth:`rank_values`).
        """
        s, o, M, P = self.s, self.o, self.M, self.peak
        low = sorted(P[j] for j in group)[:2]
        tails, rel, keep, drop = [], None, [], []
        for j in group:
            d = max(0, M - (low[1] if P[j] == low[0] else low[0]) - s[j])
            if d < o[j]:
                keep.append(j)
                tails.append(o[j] - d)
                r = e[j] + d
                rel = r if rel is None or r < rel else rel
            else:
                drop.append(j)
        if len(keep) < 2:
            return [], group
        tails.sort()
        keep.sort(key=self.area_rank.__getitem__)
        out, run = [], rel
        for k, v in enumerate(self.rank_values(t, keep, e, cum)):
            run += tails[k]
            out.append(max(run, v))
        return out, drop

    def tail_split(self, t: int, members: list[int], e: dict[int, int],
                   cum: list[int]) -> int:
        """The best over thresholds ``theta`` of the *merged* bound: with
        ``B = {j in U : P_j >= theta}``, the per-rank values of the tails of ``B``
        (:meth:`tail_values`) and of the rank bound of the others, sorted together,
        each raised to the area step ``T_k`` of all of ``U`` at its rank.

        Valid: the completions of ``U`` sorted are the merge of those of the two parts,
        each part's ``k``-th is at least its ``k``-th value, and the ``k``-th overall is at
        least ``T_k``; among all merges the sorted one minimises
        ``sum_k max(value_k, T_k)`` (exchange argument, ``formulations/bnb.md``).
        """
        P = self.peak
        area = self.rank_values(t, members, e, cum)  # >= T_k at every rank
        best = 0
        for theta in sorted({P[j] for j in members}, reverse=True):
            B = [j for j in members if P[j] >= theta]
            if len(B) < 2:
                continue
            vals, drop = self.tail_values(t, B, e, cum)
            if not vals:
                continue
            rest = [j for j in members if P[j] < theta] + drop
            rest.sort(key=self.area_rank.__getitem__)
            merged = sorted(vals + (self.rank_values(t, rest, e, cum) if rest else []))
            best = max(best, sum(max(v, w) for v, w in zip(merged, area)))
        return best - t * len(members) if best else 0

    # -- search ---------------------------------------------------------------------------------
    def fixed_cost(self, t: int, U: int) -> tuple[int, int, list[int]]:
        """``(h, sum_running (c_i - t), running)`` at time ``t``."""
        h = run_rest = 0
        running = []
        for i in range(self.n):
            if U >> i & 1:
                h += t - self.a[i]
                continue
            c = self.start[i] + self.o[i]
            if c <= t:
                h += c - self.a[i]
            else:
                h += t - self.a[i]
                run_rest += c - t
                running.append(i)
        return h, run_rest, running

    def run(self) -> None:
        U = (1 << self.n) - 1
        e = {j: self.earliest(j, 0, []) for j in range(self.n)}
        t = min(e.values())
        h, rest, _ = self.fixed_cost(t, U)
        self.root_lb = self.node_bound(t, U, e, h + rest)
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, (self.n + 4) * (len(self.mem) + 2) + 1000))
        try:
            self.node(t, U, e)
            self.finished = True
        except _Abort:
            pass
        finally:
            sys.setrecursionlimit(old)

    def node(self, t: int, U: int, e: dict[int, int]) -> None:
        self.nodes += 1
        if self.nodes % CHECK_EVERY == 0 and self.deadline.expired():
            raise _Abort
        h, rest, running = self.fixed_cost(t, U)
        if self.use_table:
            key = (t if t < self.amax else -1, U, *[(i, t - self.start[i]) for i in running])
            seen = self.table.get(key)
            if seen is not None and seen <= h:
                self.pruned_table += 1
                return
            if seen is not None or len(self.table) < self.max_table:
                self.table[key] = h
        lb = self.node_bound(t, U, e, h + rest)
        row = self.profile.setdefault(len(e), [0, 0, 0])
        row[0] += 1
        if lb >= self.best_obj:
            row[1] += 1
            return
        row[2] += self.best_obj - lb
        avail = [j for j in self.branch_order if U >> j & 1 and e[j] == t]
        idle_ok = bool(running) or any(self.a[j] > t for j in e)
        self.enumerate(t, U, e, avail, 0, 0, idle_ok, self.ends_after(t))

    def enumerate(self, t: int, U: int, e: dict[int, int], avail: list[int], k: int,
                  S: int, idle_ok: bool, ends: list[int]) -> None:
        """Every start set ``S`` of ``avail[k:]`` (start-first), then its child;
        ``ends`` are the completion steps after ``t`` with ``S`` started."""
        if k == len(avail):
            if S or idle_ok:
                self.child(t, U, e, S, ends)
            return
        j = avail[k]
        tw = self.twin[j]
        if (tw < 0 or not U >> tw & 1 or S >> tw & 1) and self.earliest(j, t, ends) == t:
            self.add(j, t, 1)
            c = t + self.o[j]
            try:
                self.enumerate(t, U, e, avail, k + 1, S | 1 << j, True,
                               ends if c in ends else sorted(ends + [c]))
            finally:
                self.add(j, t, -1)
        self.enumerate(t, U, e, avail, k + 1, S, idle_ok, ends)

    def child(self, t: int, U: int, e: dict[int, int], S: int, ends: list[int]) -> None:
        self.children += 1  # one node may enumerate many start sets: check here too
        if self.children % CHECK_EVERY == 0 and self.deadline.expired():
            raise _Abort
        U2 = U & ~S
        if not U2:
            self.leaf()
            return
        if self.semi_active and self.shiftable(t, t + 1, U2):  # before the e_j: cheaper
            self.pruned_shift += 1
            return
        ends = [c for c in ends if c > t + 1]
        e2 = {j: self.earliest(j, max(t + 1, ej), ends) for j, ej in e.items() if U2 >> j & 1}
        t2 = min(e2.values())
        if self.semi_active and t2 > t + 1 and self.shiftable(t + 1, t2, U2):
            self.pruned_shift += 1
            return
        self.node(t2, U2, e2)

    def shiftable(self, t: int, t2: int, U2: int) -> bool:
        """Some started request, all of whose steps ``p_i..c_i - 1`` are known by ``t2``
        and were not all known at the parent, could start one step earlier."""
        mem, M = self.mem, self.M
        for i in range(self.n):
            p = self.start[i]
            if U2 >> i & 1 or p <= self.a[i]:
                continue
            last = p + self.o[i] - 1
            if last > t2 or (last <= t and p != t):
                continue
            if mem[p] + self.s[i] + 1 <= M and all(mem[tau] < M for tau in range(p + 1,
                                                                                 last + 1)):
                return True
        return False

    def leaf(self) -> None:
        obj = sum(self.start[i] + self.o[i] - self.a[i] for i in range(self.n))
        if obj < self.best_obj:
            self.best_obj = obj
            self.best_starts = np.array(self.start, dtype=np.int64)
            self.improvements += 1


ROOT_BOUND_MAX_N = 200
"""Largest ``n`` for which :func:`lpsched.models.bounds.lower_bound` adds :func:`root_bound`
(it costs ``O(d n log n)`` for ``d`` distinct peaks)."""


def root_bound(instance: Instance) -> int:
    """The node bound of the root (nothing started; ``formulations/bnb.md``): a lower bound
    on the optimum. Offline it is at least the combined bound and the disjoint-tail bound.
    """
    starts = sequential_starts(instance, np.argsort(instance.arrival, kind="stable"))
    bb = BranchAndBound(instance, starts, horizon=int(instance.arrival.max())
                        + 2 * int(instance.decode.max()) + 2)
    U = (1 << bb.n) - 1
    e = {j: bb.earliest(j, 0, []) for j in range(bb.n)}
    t = min(e.values())
    h, rest, _ = bb.fixed_cost(t, U)
    return bb.node_bound(t, U, e, h + rest)


def solve_bnb(instance: Instance, *, deadline: Deadline | None = None, seed: int | None = None,
              incumbent: Any = None, warm_start: str = "local-search",
              warm_start_time: float | None = None, max_table: int = DEFAULT_MAX_TABLE,
              table: bool = True, semi_active: bool = True, tails: bool = True,
              max_model_bytes: float = DEFAULT_MAX_MODEL_BYTES) -> Result:
    """Exact branch-and-bound over chronological start decisions; registry entry ``bnb``.

    The warm start (``incumbent``, ``warm_start``, ``warm_start_time`` as for ``cpsat``)
    gives the first incumbent; the search (module docstring, ``formulations/bnb.md``)
    runs until the deadline. Status ``optimal`` (bound = objective) only when the search
    finished; otherwise ``time_limit`` with the best schedule found and the larger of the
    root bound and the combinatorial bound. ``max_table`` caps the transposition table
    (entries, about 250 bytes each); ``table`` and ``semi_active`` switch those dominance
    rules off, ``tails`` the disjoint-tail split bound (for measurements).
    ``max_model_bytes``: the search keeps a list over every step below the incumbent
    (``objective + max a + 2 max o + 3`` steps, :data:`SEARCH_BYTES_PER_STEP` each);
    estimated above it, no search is made and the warm start is returned (status
    ``time_limit``, the combinatorial bound, the estimate in the message).
    """
    t0 = time.perf_counter()
    if int(max_table) != max_table or max_table < 0:
        raise OptionError(f"bnb: max_table must be an integer >= 0, got {max_table!r}")
    deadline = Deadline.coerce(deadline)
    search = deadline.for_search()
    starts, stats = solver_incumbent(instance, incumbent, warm_start, deadline,
                                     warm_start_time, seed)
    steps = float((starts + instance.decode - instance.arrival).sum()) \
        + float(instance.arrival.max()) + 2.0 * float(instance.decode.max()) + 3.0
    refusal = memory_refusal(SEARCH_BYTES_PER_STEP * steps, max_model_bytes)
    if refusal is not None:  # BranchAndBound's per-step list would not fit
        return guarded_result("bnb", instance, starts, combined_bound(instance), refusal, t0,
                              stats)
    bb = BranchAndBound(instance, starts, deadline=search, max_table=int(max_table),
                        table=table, semi_active=semi_active, tails=tails)
    t1 = time.perf_counter()
    bb.run()
    rep = check(instance, bb.best_starts)
    if not rep.feasible:  # pragma: no cover - every leaf is memory-checked
        raise RuntimeError(f"bnb: schedule infeasible: {rep.reason()}")
    obj = int(rep.objective)
    lb = obj if bb.finished else max(bb.root_lb or 0, combined_bound(instance))
    stats.update(nodes=bb.nodes, search_time=round(time.perf_counter() - t1, 4),
                 root_bound=bb.root_lb, table_entries=len(bb.table),
                 pruned_table=bb.pruned_table, pruned_shift=bb.pruned_shift,
                 improvements=bb.improvements,
                 profile={k: tuple(v) for k, v in sorted(bb.profile.items())})
    status = SolveStatus.OPTIMAL if bb.finished else SolveStatus.TIME_LIMIT
    msg = "" if bb.finished else f"bnb stopped by the deadline after {bb.nodes} nodes"
    return Result(algorithm="bnb", status=status, objective=obj, lower_bound=float(lb),
                  runtime=time.perf_counter() - t0, schedule=Schedule(instance, bb.best_starts),
                  message=msg, stats=stats)
