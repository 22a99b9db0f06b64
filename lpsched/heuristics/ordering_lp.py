"""The ordering LP: fractional start and completion times that order the requests.

Source: the LP-based schedulers of M. Wang, Y. Ye, Z. Zhou, "LLM Serving
Optimization with Variable Prefill and Decode Lengths" (arXiv:2508.06133) order
the requests by the fractional completion times of an LP relaxation of the
time-indexed model; this module builds and solves that LP. The schedulers that
use it are in :mod:`lpsched.heuristics.lp_guided` (offline) and
:mod:`lpsched.heuristics.online` (online policies).

The LP (:func:`ordering_lp`). Start windows ``[a_i, T - o_i]`` with ``T`` the
makespan of a feasible schedule (default: continuous Sorted-F, queue discipline
with release dates), cut into buckets of ``w`` steps so that the model has at
most ``max_columns`` columns; ``y[i,b]`` is the fraction of request ``i``
starting in bucket ``b``:

    min  sum_{i,b} (k_ib + o_i - a_i) y[i,b]
    s.t. sum_b y[i,b] = 1                                   for all i
         sum_{i,b} E_ib(c) y[i,b] <= w M                     for every step bucket c
         y >= 0

with ``k_ib`` the first start step of the bucket and ``E_ib(c)`` the least
memory area (token-steps) that ``i`` started anywhere in bucket ``b`` puts in
the ``w`` steps of bucket ``c`` (the area is unimodal in the start, so the least
value is at a bucket end: :func:`_area_min`). With ``w = 1`` this *is* the
time-indexed LP relaxation of :mod:`lpsched.models.lp_relaxation` restricted to
these windows (tested), and then that module's LP is the one solved. Coarser
buckets use the builder here because the bucket relaxation of
:mod:`lpsched.models.bounds` returns only its value, not the fractional solution
an ordering needs, and the models' default windows
(:func:`lpsched.models.windows.start_windows`) cost ``O(n * horizon * o)`` to
build, too much for trace backlogs. Because the horizon ``T`` comes from a
heuristic, the LP value is a lower bound only for schedules of makespan ``<= T``,
so it is **not** reported as a lower bound; the proven bounds live in
:mod:`lpsched.models.bounds`. The fractional mean start of ``i`` is
``sum_b y[i,b] (k_ib + (w - 1) / 2)`` and its fractional completion that plus
``o_i``; :func:`lp_order` sorts by either.

Time budget. :func:`ordering_lp` takes a :class:`~lpsched.stop.Deadline`: the
default horizon is decoded within it (a cut decode still gives a feasible
schedule, so a valid horizon), the model build checks it every
``BUILD_CHECK_EVERY`` requests, and HiGHS gets it both as its ``time_limit`` and
through interrupt callbacks (:func:`lpsched.models._highs.enforce_deadline`: HiGHS
does not check its own limit everywhere). A stopped LP has status
``"time_limit"`` and NaN times; the callers then keep their fallback order.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import highspy
import numpy as np

from lpsched.heuristics.serial import decode_order_within, profile_fits
from lpsched.heuristics.sorted_f import batch_order, form_batches
from lpsched.instance import Instance
from lpsched.models._highs import enforce_deadline, new_highs, run_highs
from lpsched.stop import Deadline

__all__ = ["DEFAULT_MAX_COLUMNS", "OrderingLP", "lp_order", "ordering_lp", "sorted_f_horizon"]

DEFAULT_MAX_COLUMNS = 20_000
BUILD_CHECK_EVERY = 256  # requests added to the model between two deadline checks


@dataclass(frozen=True)
class OrderingLP:
    """Solution of the ordering LP: fractional mean start/completion per request.

    ``status`` is ``"optimal"``, ``"time_limit"`` (stopped by the deadline, in the
    build or in HiGHS), ``"memory"`` (the default horizon's decode would need a profile
    above :data:`~lpsched.heuristics.serial.MAX_SERIAL_BYTES`: nothing was built) or
    HiGHS's model status text; the times are NaN unless optimal.
    """

    status: str
    value: float
    width: int
    horizon: int
    columns: int
    mean_start: np.ndarray
    mean_completion: np.ndarray
    runtime: float


def _area_min(s: int, o: int, kl: np.ndarray, kh: np.ndarray, lo: np.ndarray,
              hi: np.ndarray) -> np.ndarray:
    """``min(E(kl), E(kh))``: least area in steps ``[lo, hi]`` of a start in ``[kl, kh]``."""
    def area(k):
        a = np.maximum(k + 1, lo)
        b = np.minimum(k + o, hi)
        cnt = np.maximum(b - a + 1, 0)
        return cnt * (s - k) + (a + b) * cnt // 2
    return np.minimum(area(kl), area(kh))


def sorted_f_horizon(instance: Instance, deadline: Deadline | None = None) -> int:
    """Makespan of the Sorted-F order decoded earliest-start (queue discipline with release
    dates), within ``deadline`` (a cut decode completes in packed batches: still feasible)."""
    order = batch_order(form_batches(instance))
    p, _ = decode_order_within(instance, order, deadline, release_aware=True)
    return int((p + instance.decode).max())


def _stopped(instance: Instance, status: str, width: int, horizon: int, columns: int,
             t0: float) -> OrderingLP:
    nan = np.full(instance.n, np.nan)
    return OrderingLP(status, math.nan, width, horizon, columns, nan, nan,
                      time.perf_counter() - t0)


def ordering_lp(instance: Instance, *, horizon: int | None = None,
                max_columns: int = DEFAULT_MAX_COLUMNS, width: int | None = None,
                deadline: Deadline | None = None, solver: str = "choose",
                engine: str = "models", time_limit: float | None = None) -> OrderingLP:
    """Solve the bucketed ordering LP of the module docstring (HiGHS, 1 thread).

    ``horizon`` defaults to :func:`sorted_f_horizon`; ``width`` to the least bucket
    width that keeps the model within ``max_columns`` columns. With width 1 and
    ``engine="models"`` the time-indexed LP relaxation of
    :mod:`lpsched.models.lp_relaxation` is solved on these windows (one LP in the
    package, without its tail cuts: they cost minutes here); ``engine="own"``
    forces the bucketed builder below (identical model at width 1, tested).

    ``deadline`` (None: no limit) bounds the whole call (module docstring).
    ``time_limit`` (seconds) is the former way to say the same, used only when no
    ``deadline`` is given.
    """
    t0 = time.perf_counter()
    if deadline is None and time_limit is not None:
        deadline = Deadline(max(float(time_limit), 1e-3))
    o, a = instance.decode, instance.arrival
    n, M = instance.n, instance.memory
    if horizon is None:
        if not profile_fits(instance):  # its decode would not fit in memory
            return _stopped(instance, "memory", 1, 0, 0, t0)
        horizon = sorted_f_horizon(instance, deadline)
    latest = np.maximum(horizon - o, a)
    sizes = latest - a + 1
    if width is None:
        width = max(1, math.ceil(int(sizes.sum()) / max_columns))
    w = int(width)
    if deadline is not None and deadline.expired():
        return _stopped(instance, "time_limit", w, horizon, 0, t0)
    if w == 1 and engine == "models":
        shared = _shared_time_indexed_lp(instance, latest, horizon, deadline, t0)
        if shared is not None:
            return shared
    built = _build(instance, latest, w, deadline)
    if built is None:
        return _stopped(instance, "time_limit", w, horizon, 0, t0)
    cost, A, m, req_a, rep_a = built
    col = cost.size
    h = new_highs()
    h.setOptionValue("threads", 1)
    h.setOptionValue("solver", solver)
    if deadline is not None:
        seconds = deadline.solver_seconds()
        if seconds is not None:
            h.setOptionValue("time_limit", float(seconds))
        enforce_deadline(h, deadline)
    inf = highspy.kHighsInf
    h.addVars(col, np.zeros(col), np.full(col, inf))
    h.changeColsCost(col, np.arange(col, dtype=np.int32), cost)
    h.addRows(n + m, np.concatenate([np.ones(n), np.full(m, -inf)]),
              np.concatenate([np.ones(n), np.full(m, float(w * M))]), A.nnz,
              A.indptr[:-1].astype(np.int32), A.indices.astype(np.int32), A.data)
    ran, _ = run_highs(h)
    if not (ran and h.getModelStatus() == highspy.HighsModelStatus.kOptimal):
        status = h.modelStatusToString(h.getModelStatus())
        if deadline is not None and deadline.expired():
            status = "time_limit"
        return _stopped(instance, status, w, horizon, col, t0)
    y = np.asarray(h.getSolution().col_value)
    ms = np.bincount(req_a, weights=y * rep_a, minlength=n)
    return OrderingLP("optimal", float(h.getInfo().objective_function_value), w, horizon, col,
                      ms, ms + o, time.perf_counter() - t0)


def _build(instance: Instance, latest: np.ndarray, w: int, deadline: Deadline | None):
    """The bucketed model's ``(cost, A, memory rows, request of column, representative start
    of column)``, or None when ``deadline`` expired during the build."""
    s, o, a = instance.prefill, instance.decode, instance.arrival
    n = instance.n
    costs, rows, cols, vals, req, rep = [], [], [], [], [], []
    col = 0
    for i in range(n):
        if deadline is not None and i % BUILD_CHECK_EVERY == 0 and deadline.expired():
            return None
        si, oi, ai, li = int(s[i]), int(o[i]), int(a[i]), int(latest[i])
        b = np.arange(ai // w, li // w + 1, dtype=np.int64)
        kl = np.maximum(b * w, ai)
        kh = np.minimum(b * w + w - 1, li)
        nb = b.size
        c_first = kl // w
        c_last = (kh + oi - 1) // w
        span = int((c_last - c_first).max()) + 1
        cs = c_first[:, None] + np.arange(span)[None, :]
        valid = cs <= c_last[:, None]
        e = _area_min(si, oi, kl[:, None], kh[:, None], cs * w + 1, cs * w + w)
        keep = valid & (e > 0)
        rr, cc = np.nonzero(keep)
        rows.append(cs[rr, cc])
        cols.append(col + rr)
        vals.append(e[rr, cc])
        costs.append(kl + oi - ai)
        req.append(np.full(nb, i))
        rep.append(kl + (kh - kl) / 2.0)
        col += nb
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    v = np.concatenate(vals).astype(float)
    req_a = np.concatenate(req)
    rep_a = np.concatenate(rep)
    cost = np.concatenate(costs).astype(float)
    used = np.unique(r)
    A = _csr(np.concatenate([req_a, n + np.searchsorted(used, r)]),
             np.concatenate([np.arange(col), c]), np.concatenate([np.ones(col), v]),
             n + used.size)
    return cost, A, used.size, req_a, rep_a


@dataclass(frozen=True)
class _CSR:
    """A sparse matrix by rows, as HiGHS's ``addRows`` takes it."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray

    @property
    def nnz(self) -> int:
        return int(self.data.size)


def _csr(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, nrows: int) -> _CSR:
    """Compressed rows of distinct ``(row, col)`` entries, columns ascending in each row."""
    order = np.lexsort((cols, rows))
    indptr = np.zeros(nrows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=nrows), out=indptr[1:])
    return _CSR(indptr, cols[order], vals[order])


def _shared_time_indexed_lp(instance: Instance, latest: np.ndarray, horizon: int,
                            deadline: Deadline | None, t0: float) -> OrderingLP | None:
    """The width-1 LP, solved by :func:`lpsched.models.lp_relaxation.solve_lp_arrays`."""
    try:
        from lpsched.models.arrays import time_indexed_arrays
        from lpsched.models.lp_relaxation import solve_lp_arrays
        from lpsched.models.windows import Windows
    except ImportError:  # pragma: no cover - the exact models are part of the package
        return None
    a = instance.arrival
    w = Windows(earliest=a.copy(), latest=latest.astype(np.int64), upper_bound=0,
                incumbent=np.zeros(instance.n, dtype=np.int64), horizon=int(horizon))
    arr = time_indexed_arrays(instance, w)
    seconds = None if deadline is None else deadline.solver_seconds(minimum=1e-3)
    lp = solve_lp_arrays(arr, time_limit=seconds, cuts=False)
    return OrderingLP(lp.status, lp.value, 1, int(horizon), arr.ncols, lp.mean_start,
                      lp.mean_completion, time.perf_counter() - t0)


def lp_order(instance: Instance, lp: OrderingLP, key: str = "completion") -> np.ndarray:
    """Request positions by ascending fractional completion (or start); ties by ``o``, id."""
    if key not in ("completion", "start"):
        raise ValueError(f"key must be 'completion' or 'start', got {key!r}")
    val = lp.mean_completion if key == "completion" else lp.mean_start
    val = np.round(val, 6)  # LP noise must not break decode-length ties
    return np.lexsort((np.arange(instance.n), instance.decode, val))
