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
``x*[i,k] > 0`` and the starts near them (the set ``U``), enumerate the
lifetime configurations within ``U`` and solve the separation LP

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
import scipy.sparse as sp

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
_CACHE_SIZE = 50_000  # enumerations kept across rounds


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


def _incidence(leaves: list[list[int]], m: int) -> sp.csr_matrix:
    """The configurations of at least two pairs as rows of a 0/1 matrix over the ``m`` pairs."""
    big = [c for c in leaves if len(c) >= 2]
    ptr = np.concatenate(([0], np.cumsum([len(c) for c in big]))).astype(np.int64)
    ind = np.concatenate([np.asarray(c) for c in big]).astype(np.int32) if big \
        else np.zeros(0, dtype=np.int32)
    return sp.csr_matrix((np.ones(ind.size), ind, ptr), shape=(len(big), m))


def _separation_lp(z: np.ndarray, B: sp.csr_matrix, lift: float = 1e-3) -> np.ndarray:
    """``argmax a.z + lift * sum(a)`` s.t. ``B a <= 1``, ``0 <= a <= 1`` (HiGHS).

    The small ``lift`` term gives positive coefficients to pairs where they cost
    nothing, so the cut is as strong as possible among the optimal ones.
    """
    m = z.size
    h = new_highs()
    h.setOptionValue("threads", 1)
    h.addVars(m, np.zeros(m), np.ones(m))
    h.changeColsCost(m, np.arange(m, dtype=np.int32), -(z + lift))
    if B.shape[0]:
        h.addRows(B.shape[0], np.full(B.shape[0], -highspy.kHighsInf), np.ones(B.shape[0]),
                  B.nnz, B.indptr[:-1].astype(np.int32), B.indices.astype(np.int32), B.data)
    run_highs(h)
    return np.maximum(np.asarray(h.getSolution().col_value), 0.0)


def separate_configuration_cuts(arr: TimeIndexedArrays, x: np.ndarray, *, tol: float = 1e-4,
                                cap: int = 5_000, widen: int = 3,
                                deadline: Deadline | None = None,
                                cache: dict | None = None):
    """Configuration cuts violated by the LP point ``x`` (module docstring).

    The pairs of step ``t`` are the support of ``x`` running in ``t`` plus (``widen``)
    the starts within ``widen`` steps of a support start of the same request, whose
    coefficients make the cut harder to dodge by shifting a start; when their
    enumeration exceeds ``cap`` sets, the support alone is tried. Returns
    ``(cuts, skipped)``: ``cuts`` a list of ``(columns, coefficients)``, each a valid
    row ``sum a_e x_e <= 1``, at most one per step; ``skipped`` the number of steps
    where even the support exceeded ``cap`` (no cut there). ``cache`` (a dict kept
    across rounds) memoises the enumeration per set of pairs.
    """
    o = arr.instance.decode
    support = np.flatnonzero(x > _SUPPORT)
    wide = _widened(arr, support, widen) if widen else support
    cache = {} if cache is None else cache
    last = int((arr.start[support] + o[arr.req[support]]).max()) if support.size else 0
    cuts, skipped = [], 0
    for t in range(1, last + 1):
        if deadline is not None and deadline.expired():
            break
        cut, ok = None, False
        for nz in ((wide, support) if widen else (support,)):
            k = arr.start[nz]
            cols = nz[(k < t) & (t <= k + o[arr.req[nz]])]
            if x[cols].sum() <= 1 + tol:  # a combination of singletons: inside the hull
                ok = True
                break
            B = _enumerated(arr, cols, cap, cache)
            if B is not None:
                cut, ok = _step_cut(x[cols], cols, B, tol), True
                break
        skipped += not ok
        if cut is not None:
            cuts.append(cut)
    return cuts, skipped


def _enumerated(arr: TimeIndexedArrays, cols: np.ndarray, cap: int,
                cache: dict) -> sp.csr_matrix | None:
    """The configuration incidence of the pairs ``cols`` (memoised), None above ``cap``."""
    key = cols.tobytes()
    if key not in cache:
        if len(cache) >= _CACHE_SIZE:
            cache.clear()
        pairs = list(zip(arr.req[cols].tolist(), arr.start[cols].tolist()))
        leaves = lifetime_configurations(arr.instance, pairs, cap)
        cache[key] = None if leaves is None else _incidence(leaves, cols.size)
    return cache[key]


def _step_cut(z: np.ndarray, cols: np.ndarray, B: sp.csr_matrix, tol: float):
    """The separation LP's cut ``(columns, coefficients)`` if it is violated by ``z``."""
    a = _separation_lp(z, B)
    # exact validity whatever the LP tolerances: every configuration is a subset of a
    # leaf (a row of B) or a singleton
    scale = max(1.0, float((B @ a).max()) if B.shape[0] else 1.0, float(a.max()))
    a = a / scale
    if float(a @ z) <= 1 + tol:
        return None
    keep = a > 1e-9
    return cols[keep], a[keep]


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
    LP value with only disjoint-tail cuts (NaN if that loop did not finish);
    ``rounds`` the configuration-cut rounds, ``skipped_steps`` the steps (summed
    over rounds) whose enumeration exceeded the cap; ``status`` as in
    :func:`configuration_bound`.
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
        # no HiGHS time_limit (its clock accumulates over the runs of one object): the
        # interrupt callbacks of enforce_deadline stop a run at the deadline
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
                        threads: int = 1, cap: int = 5_000, widen: int = 3,
                        arrays: TimeIndexedArrays | None = None) -> ConfigurationBound:
    """Lower bound: the time-indexed LP with tail and configuration cuts (module docstring).

    Each round solves the LP, separates disjoint-tail rows until none is violated,
    then configuration cuts; it stops when none is violated, after ``max_rounds``
    or at the ``deadline`` (a :class:`~lpsched.stop.Deadline` or seconds). The
    value returned is that of the last LP solved to optimality, which is a lower
    bound whatever the number of cuts added before it. Status ``"optimal"``: no cut
    is violated (the LP with all configuration cuts is reached); ``"capped"``: none
    among the steps enumerated, but some steps exceeded ``cap``; ``"time_limit"``:
    stopped by the deadline or ``max_rounds``. ``bound`` is None only if not even
    the first LP finished (status ``"time_limit"``, or ``"error"`` if HiGHS failed).
    """
    t0 = time.perf_counter()
    dl = Deadline.coerce(deadline)
    arr = arrays if arrays is not None else time_indexed_arrays(instance, windows)
    loop = _CutLoop(arr, dl, threads)
    cache: dict = {}
    value, lp_tails, rounds, skipped = math.nan, math.nan, 0, 0
    converged = stalled = False
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
                                               deadline=dl, cache=cache)
        skipped += sk
        if not cuts:
            # no violated cut among the steps that were enumerated: the configuration LP
            # is reached only if no step was skipped (above ``cap``)
            converged = not dl.expired() and sk == 0
            stalled = sk > 0
            break
        loop.add_rows(cuts)
        loop.config_cuts += len(cuts)
        rounds += 1
    bound = None if math.isnan(value) else int(math.ceil(value - 1e-6))
    status = ("optimal" if converged else "capped" if stalled
              else "time_limit" if bound is not None or dl.expired() else "error")
    return ConfigurationBound(bound, value, lp_tails, rounds, loop.config_cuts, loop.tail_cuts,
                              skipped, converged, time.perf_counter() - t0, status)
