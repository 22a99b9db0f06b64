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
from lpsched.models._highs import enforce_deadline, new_highs, run_highs, set_time_left
from lpsched.models.arrays import TimeIndexedArrays, time_indexed_arrays
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
    """Level-by-level (vectorised) enumeration of the lifetime configurations within a set of pairs.

    A node is a set ``S`` of pairs (a row of a boolean matrix) with its *level
    memories*: for every member ``q`` the left side of (1) at its completion
    ``c_q``. The children of ``S`` are ``S + {e}`` for the pairs ``e > max(S)``
    compatible with every member (two pairs are compatible when they are different
    requests and satisfy (1) as a pair) such that (1) still holds: adding ``e``
    adds ``D[e, q] = s_e + c_q - k_e`` to the level of every member with
    ``c_q <= c_e`` and opens the level ``c_e`` at ``P_e + sum_q G[e, q]``, with
    ``G[e, q] = s_q + c_e - k_q`` for the members with ``c_q >= c_e``. All children
    of one depth are formed at once with numpy. A node without children is a
    *leaf*; every lifetime configuration ``C`` is a subset of a leaf (follow the
    members of ``C`` in increasing order: each prefix is a configuration, since (1)
    is monotone under removing members, so it is a node; the last one is a leaf
    or has a child, and so on).
    """

    def __init__(self, memory: int, prefill: np.ndarray, decode: np.ndarray,
                 pairs: list[tuple[int, int]], cap: int) -> None:
        self.M, self.cap = memory, cap
        req = np.asarray([i for i, _ in pairs], dtype=np.int64)
        k = np.asarray([kk for _, kk in pairs], dtype=np.int64)
        s, o = prefill[req], decode[req]
        c = k + o
        first = c[:, None] <= c[None, :]  # first[e, f]: c_e <= c_f
        # D[e, q]: what e adds at q's completion (c_q <= c_e); G[e, q]: what q adds at c_e
        self.D = np.where(first.T, s[:, None] + c[None, :] - k[:, None], 0)
        self.G = np.where(first, s[None, :] + c[:, None] - k[None, :], 0)
        at_e = (s + o)[:, None] + self.G  # pair (e, q) at c_e, when c_e <= c_q
        need = np.where(first, at_e, at_e.T)  # the pair's peak: at the first completion
        later = np.arange(len(pairs))[None, :] > np.arange(len(pairs))[:, None]
        self.compat = (need <= memory) & (req[:, None] != req[None, :]) & later
        self.peak = s + o
        self.count = 0

    def run(self) -> np.ndarray | None:
        """The leaves as rows of a boolean matrix (``m`` columns), or None above ``cap`` nodes."""
        m = self.peak.size
        ok = self.peak <= self.M
        member = np.zeros((int(ok.sum()), m), dtype=bool)
        idx = np.flatnonzero(ok)
        member[np.arange(idx.size), idx] = True
        mems = np.where(member, self.peak[None, :], 0)
        cand = self.compat[idx]
        leaves = []
        self.count = 1 + idx.size
        while member.shape[0]:
            node, e = np.nonzero(cand)
            new = mems[node] + np.where(member[node], self.D[e], 0)
            own = self.peak[e] + np.where(member[node], self.G[e], 0).sum(axis=1)
            fits = (new.max(axis=1) <= self.M) & (own <= self.M)
            grown = np.zeros(member.shape[0], dtype=bool)
            grown[node[fits]] = True
            leaves.append(member[~grown])
            node, e = node[fits], e[fits]
            self.count += node.size
            if self.count > self.cap:
                return None
            new = new[fits]
            new[np.arange(node.size), e] = own[fits]
            member = member[node]
            member[np.arange(node.size), e] = True
            cand = cand[node] & self.compat[e]
            mems = new
        return np.concatenate(leaves) if leaves else np.zeros((0, m), dtype=bool)


def lifetime_configurations(instance: Instance, pairs: list[tuple[int, int]],
                            cap: int = 20_000) -> list[list[int]] | None:
    """Leaf lifetime configurations of ``pairs`` (indices into ``pairs``; :class:`_Enumerator`).

    Every lifetime configuration within ``pairs`` is a subset of a returned one.
    Returns None when more than ``cap`` sets would be visited.
    """
    leaves = _Enumerator(int(instance.memory), instance.prefill, instance.decode, pairs,
                         cap).run()
    return None if leaves is None else [np.flatnonzero(r).tolist() for r in leaves]


def _incidence(leaves: np.ndarray) -> sp.csr_matrix:
    """The leaves of at least two pairs as rows of a 0/1 CSR matrix over the pairs."""
    return sp.csr_matrix(leaves[leaves.sum(axis=1) >= 2], dtype=float)


def _separation_lps(blocks: list[tuple[np.ndarray, sp.csr_matrix]], lift: float = 1e-3,
                    deadline: Deadline | None = None) -> list[np.ndarray]:
    """Per block ``(z, B)``: ``argmax a.z + lift * sum(a)`` s.t. ``B a <= 1``, ``0 <= a <= 1``.

    One small HiGHS LP per block (solving the blocks as one block-diagonal LP was
    measured 10x slower: the simplex does not exploit the blocks). The small
    ``lift`` term gives positive coefficients to pairs where they cost nothing, so
    the cut is as strong as possible among the optimal ones. Blocks not solved
    before ``deadline`` (or where HiGHS fails) get all zeros (no cut).
    """
    out = []
    for z, B in blocks:
        if deadline is not None and deadline.expired():
            out.append(np.zeros(z.size))
            continue
        m = z.size
        h = new_highs()
        h.setOptionValue("threads", 1)
        if deadline is not None and deadline.limited:
            enforce_deadline(h, deadline)
        h.addVars(m, np.zeros(m), np.ones(m))
        h.changeColsCost(m, np.arange(m, dtype=np.int32), -(z + lift))
        if B.shape[0]:
            h.addRows(B.shape[0], np.full(B.shape[0], -highspy.kHighsInf), np.ones(B.shape[0]),
                      B.nnz, B.indptr[:-1].astype(np.int32), B.indices.astype(np.int32), B.data)
        run_highs(h)
        a = np.maximum(np.asarray(h.getSolution().col_value), 0.0)
        ok = a.size == m and h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        out.append(a if ok else np.zeros(m))
    return out


def separate_configuration_cuts(arr: TimeIndexedArrays, x: np.ndarray, *, tol: float = 1e-4,
                                cap: int = 5_000, widen: int = 3,
                                deadline: Deadline | None = None,
                                cache: dict | None = None, budget: float | None = None):
    """Configuration cuts violated by the LP point ``x`` (module docstring).

    Only the steps where the support of ``x`` running there sums to more than
    ``1 + tol`` can hold a violated cut (otherwise ``x`` restricted to the step is a
    combination of singletons); they are visited by decreasing sum. The pairs of
    step ``t`` are the support of ``x`` running in ``t`` plus (``widen``) the starts
    within ``widen`` steps of a support start of the same request, whose
    coefficients make the cut harder to dodge by shifting a start; when their
    enumeration exceeds ``cap`` sets, the support alone is tried. The separation
    LPs of the visited steps are solved after the enumeration (:func:`_separation_lps`).
    ``budget`` (seconds) stops the enumeration early (the steps not visited count
    as skipped). Returns ``(cuts, skipped)``: ``cuts`` a list of ``(columns,
    coefficients)``, each a valid row ``sum a_e x_e <= 1``, at most one per step;
    ``skipped`` the number of steps not separated (enumeration above ``cap`` even
    on the support, or not reached within ``budget``/``deadline``). ``cache`` (a
    dict kept across rounds) memoises the enumeration per set of pairs.
    """
    t0 = time.perf_counter()
    o = arr.instance.decode
    support = np.flatnonzero(x > _SUPPORT)
    wide = _widened(arr, support, widen) if widen else support
    cache = {} if cache is None else cache
    load = _running_load(arr, support, x)
    steps = np.flatnonzero(load > 1 + tol)
    steps = steps[np.argsort(-load[steps], kind="stable")]
    blocks, skipped = [], 0
    for q, t in enumerate(steps.tolist()):
        if (deadline is not None and deadline.expired()) or \
                (budget is not None and time.perf_counter() - t0 > budget):
            skipped += steps.size - q
            break
        found = False
        for nz in ((wide, support) if widen else (support,)):
            k = arr.start[nz]
            cols = nz[(k < t) & (t <= k + o[arr.req[nz]])]
            B = _enumerated(arr, cols, cap, cache)
            if B is not None:
                blocks.append((cols, x[cols], B))
                found = True
                break
        skipped += not found
    if not blocks:
        return [], skipped
    coefs = _separation_lps([(z, B) for _, z, B in blocks], deadline=deadline)
    cuts = [_step_cut(z, cols, B, a, tol) for (cols, z, B), a in zip(blocks, coefs)]
    return [c for c in cuts if c is not None], skipped


def _running_load(arr: TimeIndexedArrays, cols: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``load[t] = sum of x over the columns of cols running in step t`` (``k < t <= k + o``)."""
    k = arr.start[cols]
    end = k + arr.instance.decode[arr.req[cols]]
    size = int(end.max()) + 2 if cols.size else 2
    diff = np.zeros(size)
    np.add.at(diff, k + 1, x[cols])
    np.add.at(diff, end + 1, -x[cols])
    load = np.cumsum(diff)
    load[0] = 0.0
    return load


def _enumerated(arr: TimeIndexedArrays, cols: np.ndarray, cap: int,
                cache: dict) -> sp.csr_matrix | None:
    """The configuration incidence of the pairs ``cols`` (memoised), None above ``cap``."""
    key = cols.tobytes()
    if key not in cache:
        if len(cache) >= _CACHE_SIZE:
            cache.clear()
        pairs = list(zip(arr.req[cols].tolist(), arr.start[cols].tolist()))
        inst = arr.instance
        leaves = _Enumerator(int(inst.memory), inst.prefill, inst.decode, pairs, cap).run()
        cache[key] = None if leaves is None else _incidence(leaves)
    return cache[key]


def _step_cut(z: np.ndarray, cols: np.ndarray, B: sp.csr_matrix, a: np.ndarray, tol: float):
    """The cut ``(columns, coefficients)`` of separation solution ``a`` if it is violated by ``z``."""
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

    ``value`` is the largest optimum of the LPs solved (each the time-indexed LP
    plus valid rows), a lower bound on the optimum; ``bound = ceil(value - 1e-6)``;
    ``lp_tails`` the LP value with only disjoint-tail cuts (NaN if that loop did not
    finish); ``rounds`` the configuration-cut rounds, ``lp_solves`` the LP runs,
    ``skipped_steps`` the steps (summed over rounds) left without separation
    (enumeration above the cap, or the round's separation budget spent);
    ``dropped_rows`` the slack cut rows removed; ``status`` as in
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
    lp_solves: int = 0
    dropped_rows: int = 0


class _CutLoop:
    """The LP with tail rows and configuration rows added round by round.

    One HiGHS object holds the LP for the whole loop: rows are appended with
    ``addRows`` (the basis is kept, the new rows' slacks enter it as basic), so
    every re-solve is a warm dual simplex from the previous optimal basis.
    :meth:`purge` deletes cut rows whose slack is basic and positive (not binding;
    deleting them leaves the basis valid and the current point optimal).

    With ``restrict`` the HiGHS LP holds only some columns (a *restricted master*):
    at first the incumbent's starts and the starts within ``o_i`` of it or of the
    window's start; :meth:`price` computes the reduced costs of all columns from
    the row duals, adds the most negative ones, and returns the Lagrangian bound
    ``L(y) = b.y + sum_j min(0, c_j - (A^T y)_j)``, valid for the full LP (hence for
    ``OPT``) for any duals ``y`` with ``y <= 0`` on the ``<=`` rows (module
    :func:`configuration_bound`). The cut rows are kept over all columns, so a
    column added later gets its coefficients in them.
    """

    def __init__(self, arr: TimeIndexedArrays, deadline: Deadline, threads: int,
                 tail_rows: int, per_tau: int | None, restrict: bool) -> None:
        self.arr, self.deadline, self.tail_rows, self.per_tau = arr, deadline, tail_rows, per_tau
        n = arr.instance.n
        self.base = sp.vstack([arr.A_eq, arr.A_mem]).tocsc()
        self.n_eq, self.base_rows = n, int(self.base.shape[0])
        self.rhs = np.concatenate([np.ones(n), np.full(arr.A_mem.shape[0],
                                                       float(arr.instance.memory))])
        self.cols = _initial_columns(arr) if restrict else np.arange(arr.ncols)
        self.pos = np.full(arr.ncols, -1, dtype=np.int64)
        self.pos[self.cols] = np.arange(self.cols.size)
        self.h = _restricted_highs(arr, self.base, self.rhs, n, self.cols)
        self.h.setOptionValue("threads", int(threads))
        if deadline.limited:
            enforce_deadline(self.h, deadline)
        self.cuts: list[tuple[np.ndarray, np.ndarray]] = []  # rows base_rows.. over all columns
        self.families = tail_families(arr.instance)
        self.tail_cuts = self.config_cuts = self.solves = self.dropped = self.priced = 0
        self.last_solve = 0.0

    def solve(self) -> float | None:
        # the interrupt callbacks of enforce_deadline stop a run at the deadline; the
        # time_limit option (set_time_left: HiGHS's clock accumulates over the runs of
        # one object) is a second guard where the callbacks are not polled
        if self.deadline.limited:
            set_time_left(self.h, max(1e-3, self.deadline.remaining()))
        t0 = time.perf_counter()
        run_highs(self.h)
        self.solves += 1
        self.last_solve = time.perf_counter() - t0
        if self.h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        return float(self.h.getInfo().objective_function_value)

    def x(self) -> np.ndarray:
        """The LP point over all columns (zero on the columns not in the restricted LP)."""
        x = np.zeros(self.arr.ncols)
        x[self.cols] = np.asarray(self.h.getSolution().col_value)
        return x

    def price(self, max_new: int) -> tuple[float, np.ndarray]:
        """``(L(y), columns)``: the Lagrangian bound of the last solve's duals (class
        docstring) and the (at most ``max_new``) most negative reduced-cost columns
        not yet in the LP."""
        y = np.asarray(self.h.getSolution().row_dual, dtype=float)
        y[self.n_eq:] = np.minimum(y[self.n_eq:], 0.0)  # <= rows: the valid sign
        yb, yc = y[:self.base_rows], y[self.base_rows:]
        d = self.arr.cost - self.base.T @ yb
        if self.cuts:
            d -= self._cut_matrix().T @ yc
        bound = float(self.rhs @ yb + yc.sum() + np.minimum(d, 0.0).sum())
        neg = np.flatnonzero((d < -1e-7) & (self.pos < 0))
        if neg.size > max_new:
            neg = neg[np.argpartition(d[neg], max_new)[:max_new]]
        return bound, np.sort(neg)

    def add_columns(self, new: np.ndarray) -> None:
        """Add the columns ``new`` (all-column indices) with their base and cut entries."""
        A = self.base[:, new]
        if self.cuts:
            A = sp.vstack([A, self._cut_matrix().tocsc()[:, new]])
        A = sp.csc_matrix(A)
        self.h.addCols(int(new.size), self.arr.cost[new], np.zeros(new.size), np.ones(new.size),
                       A.nnz, A.indptr[:-1].astype(np.int32), A.indices.astype(np.int32),
                       A.data.astype(float))
        self.pos[new] = self.cols.size + np.arange(new.size)
        self.cols = np.concatenate([self.cols, new])
        self.priced += int(new.size)

    def _cut_matrix(self) -> sp.csr_matrix:
        ptr = np.concatenate(([0], np.cumsum([c.size for c, _ in self.cuts])))
        ind = np.concatenate([c for c, _ in self.cuts])
        val = np.concatenate([a for _, a in self.cuts]).astype(float)
        return sp.csr_matrix((val, ind, ptr), shape=(len(self.cuts), self.arr.ncols))

    def add_rows(self, rows: list[tuple[np.ndarray, np.ndarray]], purge: bool = False) -> None:
        """Append rows ``sum a_e x_e <= 1``; first :meth:`purge` the slack ones if asked."""
        if purge:
            self.purge()
        if not rows:
            return
        self.cuts += rows
        mapped = [(self.pos[c], a) for c, a in rows]
        mapped = [(p[p >= 0], a[p >= 0]) for p, a in mapped]
        ptr = np.concatenate(([0], np.cumsum([c.size for c, _ in mapped])))
        ind = np.concatenate([c for c, _ in mapped]).astype(np.int32)
        val = np.concatenate([a for _, a in mapped]).astype(float)
        inf = highspy.kHighsInf
        self.h.addRows(len(rows), np.full(len(rows), -inf), np.ones(len(rows)), ind.size,
                       ptr[:-1].astype(np.int32), ind, val)

    def tail_cuts_for(self, x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """The ``tail_rows`` most violated disjoint-tail rows at ``x``, as cut rows."""
        if not self.families:
            return []
        cuts = separate_tail_rows(self.arr, self.families, x, max_rows=self.tail_rows,
                                  per_tau=self.per_tau)
        return [(c, np.ones(c.size)) for c in cuts]

    def purge(self, slack: float = 1e-3) -> int:
        """Delete the cut rows with a basic slack above ``slack``; the number deleted.

        Reads the solution and basis of the last run, so it must come before any
        change of the model (HiGHS drops the solution when the model changes).
        """
        nrow = int(self.h.getNumRow())
        if nrow <= self.base_rows:
            return 0
        act = np.asarray(self.h.getSolution().row_value)[self.base_rows:]
        basic = np.asarray([st == highspy.HighsBasisStatus.kBasic
                            for st in self.h.getBasis().row_status[self.base_rows:]])
        drop = np.flatnonzero(basic & (act < 1.0 - slack))
        if drop.size:
            self.h.deleteRows(int(drop.size), (drop + self.base_rows).astype(np.int32))
            gone = set(drop.tolist())
            self.cuts = [c for q, c in enumerate(self.cuts) if q not in gone]
            self.dropped += int(drop.size)
        return int(drop.size)


def _initial_columns(arr: TimeIndexedArrays) -> np.ndarray:
    """Starts of the restricted master: per request, the incumbent's start and the starts
    within ``o_i`` of it or of the window's first start (the incumbent makes it feasible)."""
    w, o = arr.windows, arr.instance.decode
    i, k = arr.req, arr.start
    inc = w.incumbent[i]
    keep = (np.abs(k - inc) <= o[i]) | (k - w.earliest[i] <= o[i])
    return np.flatnonzero(keep)


def _restricted_highs(arr: TimeIndexedArrays, base: sp.csc_matrix, rhs: np.ndarray, n_eq: int,
                      cols: np.ndarray) -> highspy.Highs:
    """HiGHS LP of the time-indexed relaxation over the columns ``cols`` only."""
    h = new_highs()
    m = cols.size
    h.addVars(m, np.zeros(m), np.ones(m))
    h.changeColsCost(m, np.arange(m, dtype=np.int32), arr.cost[cols])
    A = base[:, cols].tocsr()
    lower = np.concatenate([np.ones(n_eq), np.full(A.shape[0] - n_eq, -highspy.kHighsInf)])
    h.addRows(A.shape[0], lower, rhs, A.nnz, A.indptr[:-1].astype(np.int32),
              A.indices.astype(np.int32), A.data.astype(float))
    return h


def _incumbent_inside(arr: TimeIndexedArrays) -> bool:
    w = arr.windows
    return bool(np.all((w.incumbent >= w.earliest) & (w.incumbent <= w.latest)))


def configuration_bound(instance: Instance, *, windows: Windows | None = None,
                        deadline: Deadline | float | None = None, max_rounds: int = 1000,
                        threads: int = 1, cap: int = 5_000, widen: int = 3,
                        arrays: TimeIndexedArrays | None = None, tail_rows: int = 100,
                        purge_every: int = 5, separation: float = 4.0,
                        per_tau: int | None = 1,
                        restrict: bool | None = None) -> ConfigurationBound:
    """Lower bound: the time-indexed LP with tail and configuration cuts (module docstring).

    Each round solves the LP (warm, on one HiGHS object: :class:`_CutLoop`; with
    ``restrict``, default: above 30,000 columns, over a restricted set of columns
    with pricing), adds the ``tail_rows`` most violated disjoint-tail rows (at most
    ``per_tau`` per time point) while any is violated, and then tail rows and
    configuration cuts together (with a deadline, their separation is limited to
    ``max(2 s, separation x`` the last LP solve time, a tenth of the time left``)``,
    the most loaded steps first, all steps before convergence is claimed); every
    ``purge_every`` solves the slack cut rows are deleted. It stops when no cut is
    violated, after ``max_rounds`` or at the ``deadline`` (a
    :class:`~lpsched.stop.Deadline` or seconds). The value returned is the largest
    lower bound met: the optimum of each LP over all columns (each the time-indexed
    LP plus valid rows, whatever rows were added or deleted before it) and the
    Lagrangian bound ``L(y)`` of each restricted LP's duals
    (``formulations/colgen.md`` §3). Status ``"optimal"``: no cut is violated (the
    LP with all configuration cuts is reached); ``"capped"``: none among the steps
    separated, but some steps were not (enumeration above ``cap``);
    ``"time_limit"``: stopped by the deadline or ``max_rounds``. ``bound`` is None
    only if not even the first LP finished (status
    ``"time_limit"``, or ``"error"`` if HiGHS failed).
    """
    t0 = time.perf_counter()
    dl = Deadline.coerce(deadline)
    arr = arrays if arrays is not None else time_indexed_arrays(instance, windows)
    if restrict is None:
        restrict = arr.ncols > 30_000
    if restrict and not _incumbent_inside(arr):
        restrict = False
    loop = _CutLoop(arr, dl, threads, tail_rows, per_tau, restrict)
    cache: dict = {}
    value, lp_tails, rounds, skipped, solved = -math.inf, math.nan, 0, 0, 0
    converged = stalled = False
    while rounds < max_rounds and not dl.expired():
        v = loop.solve()
        if v is None:
            break
        solved += 1
        lag, new = loop.price(max_new=max(2_000, 20 * instance.n))
        value = max(value, lag)
        if new.size:  # the restricted LP is not the LP yet: add columns, re-solve
            loop.add_columns(new)
            continue
        value = max(value, v)
        x = loop.x()
        tails = loop.tail_cuts_for(x)
        purge = bool(purge_every) and solved % purge_every == 0
        if tails and math.isnan(lp_tails):
            loop.add_rows(tails, purge=purge)
            loop.tail_cuts += len(tails)
            continue
        if math.isnan(lp_tails):
            lp_tails = v
        # after the first tail-converged LP: tail and configuration rows in the same round
        # separation time of a round: several LP solves, and a tenth of the time left
        budget: float | None = (max(2.0, separation * loop.last_solve, 0.1 * dl.remaining())
                                if dl.limited else None)
        while True:
            cuts, sk = separate_configuration_cuts(arr, x, cap=cap, widen=widen, deadline=dl,
                                                   cache=cache, budget=budget)
            if cuts or tails or not sk or budget is None or dl.expired():
                break
            budget = None  # none among the most loaded steps: separate them all
        skipped += sk
        if not cuts and not tails:
            # no violated cut among the steps that were separated: the configuration LP
            # is reached only if every step was (none above ``cap`` or past the budget)
            converged = not dl.expired() and sk == 0
            stalled = sk > 0
            break
        loop.add_rows(tails + cuts, purge=purge)
        loop.config_cuts += len(cuts)
        loop.tail_cuts += len(tails)
        rounds += 1
    value = math.nan if value == -math.inf else value
    bound = None if math.isnan(value) else int(math.ceil(value - 1e-6))
    status = ("optimal" if converged else "capped" if stalled
              else "time_limit" if bound is not None or dl.expired() else "error")
    return ConfigurationBound(bound, value, lp_tails, rounds, loop.config_cuts, loop.tail_cuts,
                              skipped, converged, time.perf_counter() - t0, status,
                              loop.solves, loop.dropped)
