"""Configuration cuts: the time-indexed LP strengthened by per-step lifetime configurations.

A *lifetime configuration* of step ``t`` is a set ``C`` of (request, start) pairs
``(i, k)``, at most one start per request, all running in step ``t``
(``k < t <= k + o_i``), whose requests fit in memory *over their whole lives*
when only they run: for every member ``j`` completing at ``c_j = k_j + o_j``,

    P_j + sum_{l in C, l != j, c_l >= c_j} (s_l + c_j - k_l) <= M.        (1)

(These checks suffice: every member runs in every step from ``t`` to its
completion, so between two completions the memory of ``C`` only grows; before
``t`` it is at most the memory in step ``t``, itself at most the memory at the
first completion.) The requests running in step ``t`` of a feasible schedule
form such a configuration, and so does every subset of it.

The configuration LP of step ``t`` asks that the vector ``(x[i,k])`` of the
pairs running in ``t`` lie in the convex hull of the (0/1 vectors of) lifetime
configurations of ``t``. We impose it by cutting planes: for a fractional LP
point ``x*`` and a step ``t``, take the pairs running in ``t`` with
``x*[i,k] > 0`` (the support ``U``), enumerate the lifetime configurations
within ``U`` and solve the separation LP

    max  sum_{e in U} a_e x*_e   s.t.  sum_{e in C} a_e <= 1  (every configuration C),  a >= 0.

If its value exceeds 1 the cut ``sum_{e in U} a_e x_e <= 1`` is violated by
``x*`` and valid for every feasible schedule (the pairs of ``U`` used by the
schedule form a configuration ``C``, so the left side is ``a(C) <= 1``). The
cut's coefficients are rescaled by ``max(1, max_C a(C))`` computed exactly over
the enumerated configurations, so LP tolerances cannot make it invalid.

These cuts imply the pairwise part of the disjoint-tail lemma
(:mod:`lpsched.models.tails`) at every step (two requests whose tails overlap
violate (1)), and unlike the per-step memory row they see the completion
peaks of requests that are running *now*. ``formulations/colgen.md`` gives the
argument and the measurements, including the per-step (single-step memory)
configuration LP, which is much weaker, and why its column generation was
dropped.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import highspy
import numpy as np

from lpsched.instance import Instance
from lpsched.models._highs import enforce_deadline, new_highs, run_highs
from lpsched.models.arrays import TimeIndexedArrays, time_indexed_arrays
from lpsched.models.lp_relaxation import _highs_from_arrays
from lpsched.models.tails import separate_tail_rows, tail_families
from lpsched.models.windows import Windows
from lpsched.stop import Deadline

__all__ = ["ConfigurationBound", "configuration_bound", "lifetime_configurations",
           "lifetime_feasible", "separate_configuration_cuts"]

_SUPPORT = 1e-6  # x*[i,k] above this is in the support of a step


def lifetime_feasible(memory: int, prefill, decode, pairs) -> bool:
    """Condition (1) of the module docstring for ``pairs`` = [(i, k), ...] (plain Python).

    ``prefill``/``decode`` are indexable by request; the pairs are assumed to run
    in a common step.
    """
    for i, k in pairs:
        c = k + decode[i]
        mem = sum(prefill[j] + c - kj for j, kj in pairs if kj + decode[j] >= c)
        if mem > memory:
            return False
    return True


class _Enumerator:
    """Depth-first enumeration of the lifetime configurations within a set of pairs.

    Candidates are kept as a bitset of the pairs compatible with every chosen one
    (two pairs are compatible when they are different requests and satisfy (1) as
    a pair); the memory of the current set at each member's completion (the left
    side of (1)) is kept incrementally: adding ``(i, k)`` adds ``s_i + c_j - k`` at
    every level ``c_j <= c_i`` and opens the level ``c_i``.
    """

    def __init__(self, memory: int, prefill: np.ndarray, decode: np.ndarray,
                 pairs: list[tuple[int, int]], cap: int) -> None:
        self.M, self.cap = memory, cap
        req = np.asarray([i for i, _ in pairs], dtype=np.int64)
        k = np.asarray([kk for _, kk in pairs], dtype=np.int64)
        s, o = prefill[req], decode[req]
        c = k + o
        # pair (e, f) with c_e <= c_f: memory at c_e is P_e + s_f + c_e - k_f
        first = c[:, None] <= c[None, :]
        at_e = (s + o)[:, None] + s[None, :] + c[:, None] - k[None, :]
        need = np.where(first, at_e, at_e.T)
        ok = (need <= memory) & (req[:, None] != req[None, :])
        self.compat = [sum(1 << int(f) for f in np.flatnonzero(row)) for row in ok]
        self.s, self.k, self.c = s.tolist(), k.tolist(), c.tolist()
        self.peak = (s + o).tolist()
        self.leaves: list[list[int]] = []
        self.count = 0

    def run(self) -> list[list[int]] | None:
        """The DFS leaves (every configuration is a subset of one), or None above ``cap``."""
        try:
            self._extend([], (1 << len(self.s)) - 1, [])
        except OverflowError:
            return None
        return self.leaves

    def _extend(self, chosen: list[int], cand: int, mems: list[int]) -> None:
        self.count += 1
        if self.count > self.cap:
            raise OverflowError
        grown = False
        while cand:
            low = cand & -cand
            e = low.bit_length() - 1
            cand ^= low
            new = self._add(chosen, mems, e)
            if new is None:
                continue
            grown = True
            self._extend(chosen + [e], cand & self.compat[e], new)
        if not grown and chosen:
            self.leaves.append(chosen)

    def _add(self, chosen: list[int], mems: list[int], e: int) -> list[int] | None:
        """Level memories after adding pair ``e``, or None if (1) fails."""
        se, ke, ce = self.s[e], self.k[e], self.c[e]
        own = self.peak[e]
        new = []
        for q, m in zip(chosen, mems):
            cq = self.c[q]
            if cq <= ce:
                m += se + cq - ke
                if m > self.M:
                    return None
            if cq >= ce:
                own += self.s[q] + ce - self.k[q]
            new.append(m)
        if own > self.M:
            return None
        new.append(own)
        return new


def lifetime_configurations(instance: Instance, pairs: list[tuple[int, int]],
                            cap: int = 20_000) -> list[list[int]] | None:
    """Maximal-in-DFS-order lifetime configurations of ``pairs`` (indices into ``pairs``).

    Every lifetime configuration within ``pairs`` is a subset of a returned one.
    Returns None when more than ``cap`` sets would be visited.
    """
    return _Enumerator(int(instance.memory), instance.prefill, instance.decode, pairs,
                       cap).run()


def _separation_lp(z: np.ndarray, leaves: list[list[int]], lift: float = 1e-3) -> np.ndarray:
    """``argmax a.z + lift * sum(a)`` s.t. ``a(C) <= 1`` for the ``leaves``, ``0 <= a <= 1``.

    The small ``lift`` term gives positive coefficients to pairs where they cost
    nothing (e.g. neighbouring starts outside the support), which makes the cut
    harder to dodge by shifting a start by a step.
    """
    m = z.size
    big = [c for c in leaves if len(c) >= 2]
    h = new_highs()
    h.setOptionValue("threads", 1)
    h.addVars(m, np.zeros(m), np.ones(m))
    h.changeColsCost(m, np.arange(m, dtype=np.int32), -(z + lift))
    if big:
        ptr = np.concatenate(([0], np.cumsum([len(c) for c in big])))
        ind = np.concatenate([np.asarray(c) for c in big]).astype(np.int32)
        h.addRows(len(big), np.full(len(big), -highspy.kHighsInf), np.ones(len(big)), ind.size,
                  ptr[:-1].astype(np.int32), ind, np.ones(ind.size))
    run_highs(h)
    return np.maximum(np.asarray(h.getSolution().col_value), 0.0)


def separate_configuration_cuts(arr: TimeIndexedArrays, x: np.ndarray, *, tol: float = 1e-4,
                                cap: int = 20_000, widen: int = 0,
                                deadline: Deadline | None = None):
    """Configuration cuts violated by the LP point ``x`` (module docstring).

    Returns ``(cuts, skipped)``: ``cuts`` a list of ``(columns, coefficients)``, each
    a valid row ``sum a_e x_e <= 1``, at most one per step; ``skipped`` the number
    of steps whose enumeration exceeded ``cap`` (no cut there).
    """
    inst = arr.instance
    o = inst.decode
    nz = np.flatnonzero(x > _SUPPORT)
    if widen:
        nz = _widened(arr, nz, widen)
    req, start = arr.req[nz], arr.start[nz]
    end = start + o[req]
    cuts, skipped = [], 0
    for t in range(1, int(end.max()) + 1 if nz.size else 1):
        if deadline is not None and deadline.expired():
            break
        on = (start < t) & (t <= end)
        cols = nz[on]
        z = x[cols]
        if z.sum() <= 1 + tol:  # z is a combination of singletons: inside the hull
            continue
        pairs = list(zip(arr.req[cols].tolist(), arr.start[cols].tolist()))
        leaves = lifetime_configurations(inst, pairs, cap)
        if leaves is None:
            skipped += 1
            continue
        a = _separation_lp(z, leaves)
        scale = max([1.0] + [float(a[c].sum()) for c in leaves])
        a = a / scale
        if float(a @ z) > 1 + tol:
            keep = a > 1e-9
            cuts.append((cols[keep], a[keep]))
    return cuts, skipped


def _widened(arr: TimeIndexedArrays, cols: np.ndarray, widen: int) -> np.ndarray:
    """``cols`` with the starts ``k - widen .. k + widen`` of the same request (in its window)."""
    i, k = arr.req[cols], arr.start[cols]
    e, u = arr.windows.earliest[i], arr.windows.latest[i]
    out = [cols]
    for d in range(-widen, widen + 1):
        kk = k + d
        ok = (kk >= e) & (kk <= u)
        out.append(arr.col_offset[i[ok]] + (kk[ok] - e[ok]))
    return np.unique(np.concatenate(out))


@dataclass(frozen=True)
class ConfigurationBound:
    """Outcome of :func:`configuration_bound`.

    ``value`` is the last LP optimum (with the cuts of the rounds before it), a
    lower bound on the optimum; ``bound = ceil(value - 1e-6)``; ``lp_tails`` the
    LP value with only disjoint-tail cuts (the first round).
    """

    bound: int | None
    value: float
    lp_tails: float
    rounds: int
    config_cuts: int
    tail_cuts: int
    skipped_steps: int
    converged: bool
    runtime: float
    status: str


class _CutLoop:
    """The LP with tail rows and configuration rows added round by round."""

    def __init__(self, arr: TimeIndexedArrays, deadline: Deadline, threads: int) -> None:
        self.arr, self.deadline = arr, deadline
        self.h = _highs_from_arrays(arr, integer=False)
        self.h.setOptionValue("threads", int(threads))
        if deadline.limited:
            enforce_deadline(self.h, deadline)
        self.families = tail_families(arr.instance)
        self.tail_cuts = self.config_cuts = 0

    def solve(self) -> float | None:
        if self.deadline.limited:
            self.h.setOptionValue("time_limit", max(1e-3, self.deadline.remaining()))
        run_highs(self.h)
        if self.h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        return float(self.h.getInfo().objective_function_value)

    def x(self) -> np.ndarray:
        return np.asarray(self.h.getSolution().col_value)

    def add_rows(self, rows: list[tuple[np.ndarray, np.ndarray]]) -> None:
        if not rows:
            return
        ptr = np.concatenate(([0], np.cumsum([c.size for c, _ in rows])))
        ind = np.concatenate([c for c, _ in rows]).astype(np.int32)
        val = np.concatenate([a for _, a in rows]).astype(float)
        inf = highspy.kHighsInf
        self.h.addRows(len(rows), np.full(len(rows), -inf), np.ones(len(rows)), ind.size,
                       ptr[:-1].astype(np.int32), ind, val)

    def tail_round(self) -> bool:
        cuts = separate_tail_rows(self.arr, self.families, self.x()) if self.families else []
        self.add_rows([(c, np.ones(c.size)) for c in cuts])
        self.tail_cuts += len(cuts)
        return bool(cuts)


def configuration_bound(instance: Instance, *, windows: Windows | None = None,
                        deadline: Deadline | float | None = None, max_rounds: int = 1000,
                        threads: int = 1, cap: int = 20_000, widen: int = 0,
                        arrays: TimeIndexedArrays | None = None) -> ConfigurationBound:
    """Lower bound: the time-indexed LP with tail and configuration cuts (module docstring).

    Each round solves the LP, separates disjoint-tail rows until none is violated,
    then configuration cuts; it stops when none is violated, after ``max_rounds``
    or at the ``deadline`` (a :class:`~lpsched.stop.Deadline` or seconds). The
    value returned is that of the last LP solved to optimality, which is a lower
    bound whatever the number of cuts added before it. ``bound`` is None (status
    ``"time_limit"``) only if not even the first LP finished.
    """
    t0 = time.perf_counter()
    dl = Deadline.coerce(deadline)
    arr = arrays if arrays is not None else time_indexed_arrays(instance, windows)
    loop = _CutLoop(arr, dl, threads)
    value, lp_tails, rounds, skipped, converged = math.nan, math.nan, 0, 0, False
    while rounds < max_rounds and not dl.expired():
        v = loop.solve()
        if v is None:
            break
        value = v
        if loop.tail_round():
            continue
        if math.isnan(lp_tails):
            lp_tails = v
        cuts, sk = separate_configuration_cuts(arr, loop.x(), cap=cap, widen=widen,
                                               deadline=dl)
        skipped += sk
        if not cuts:
            converged = not dl.expired()
            break
        loop.add_rows(cuts)
        loop.config_cuts += len(cuts)
        rounds += 1
    bound = None if math.isnan(value) else int(math.ceil(value - 1e-6))
    status = "optimal" if converged else ("time_limit" if bound is not None else "error")
    return ConfigurationBound(bound, value, lp_tails, rounds, loop.config_cuts, loop.tail_cuts,
                              skipped, converged, time.perf_counter() - t0, status)
