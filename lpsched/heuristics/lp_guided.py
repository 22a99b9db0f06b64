"""LP-guided schedulers: Sorted-LP, LP-Swap and a receding-horizon LP scheduler.

Source: the LP-based variants of M. Wang, Y. Ye, Z. Zhou, "LLM Serving
Optimization with Variable Prefill and Decode Lengths" (arXiv:2508.06133):
solve an LP relaxation of the time-indexed model (DESIGN.md section 2), order
the requests by their fractional start or completion times ("Sorted-LP"), then
improve the order by pairwise swaps ("LP-Swap"); plus a receding-horizon
variant that re-solves a small model over a window of the next requests.

The ordering LP (:func:`ordering_lp`). Start windows ``[a_i, T - o_i]`` with
``T`` the makespan of a feasible schedule (default: continuous Sorted-F), cut
into buckets of ``w`` steps so that the model has at most ``max_columns``
columns; ``y[i,b]`` is the fraction of request ``i`` starting in bucket ``b``:

    min  sum_{i,b} (k_ib + o_i - a_i) y[i,b]
    s.t. sum_b y[i,b] = 1                                   for all i
         sum_{i,b} E_ib(c) y[i,b] <= w M                     for every step bucket c
         y >= 0

with ``k_ib`` the first start step of the bucket and ``E_ib(c)`` the least
memory area (token-steps) that ``i`` started anywhere in bucket ``b`` puts in
the ``w`` steps of bucket ``c`` (the area is unimodal in the start, so the least
value is at a bucket end). With ``w = 1`` this *is* the time-indexed LP
relaxation of :mod:`lpsched.models.lp_relaxation` restricted to these windows
(tested), and then that module's LP is the one solved. Coarser buckets use the
builder here because the bucket relaxation of :mod:`lpsched.models.bounds` returns
only its value, not the fractional solution an ordering needs, and the models'
default windows (:func:`lpsched.models.windows.start_windows`) cost
``O(n * horizon * o)`` to build, too much for trace backlogs. Because the horizon ``T`` comes
from a heuristic, the LP value is a lower bound only for schedules of makespan
``<= T``, so it is **not** reported as a lower bound; the proven bounds live in
:mod:`lpsched.models.bounds`. The fractional mean start of ``i`` is
``sum_b y[i,b] (k_ib + (w - 1) / 2)`` and its fractional completion that plus
``o_i``.

Schedulers (the order is turned into start steps by the serial earliest-start
decoder, :mod:`lpsched.heuristics.serial`, so every schedule is memory-feasible
by construction and then verified by the checker):

* ``sorted-lp``: order by fractional completion (``key="completion"``, default)
  or start (``key="start"``), ties by decode length;
* ``lp-swap``: the Sorted-LP order, then passes of adjacent pairwise swaps, a
  swap kept when it strictly lowers the decoded objective, until a pass finds
  none or the time budget ends (never worse than Sorted-LP);
* ``lp-horizon`` (receding horizon): walk the Sorted-F order; solve the
  ordering LP of the next ``window`` unscheduled requests (as a backlog of their
  own), commit the first ``commit`` of them in LP order, slide, repeat. Each LP
  is small, so this scales to instances whose full LP does not fit.

Arrivals: offline the release dates are known in advance (windows start at
``a_i``). The online versions are simulator policies
(:mod:`lpsched.heuristics.online`): they re-solve the LP over the requests that
have arrived and wait.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

from lpsched.heuristics.local_search import _Decoder
from lpsched.heuristics.serial import decode_order
from lpsched.heuristics.sorted_f import batch_order, form_batches
from lpsched.instance import Instance
from lpsched.models._highs import new_highs, run_highs
from lpsched.options import OptionError
from lpsched.schedule import Result, Schedule, SolveStatus
from lpsched.stop import Deadline

__all__ = ["OrderingLP", "adjacent_swaps", "ordering_lp", "solve_lp_horizon", "solve_lp_swap",
           "solve_sorted_lp"]

DEFAULT_MAX_COLUMNS = 20_000


@dataclass(frozen=True)
class OrderingLP:
    """Solution of the ordering LP: fractional mean start/completion per request."""

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


def ordering_lp(instance: Instance, *, horizon: int | None = None,
                max_columns: int = DEFAULT_MAX_COLUMNS, width: int | None = None,
                time_limit: float | None = None, solver: str = "choose",
                engine: str = "models") -> OrderingLP:
    """Solve the bucketed ordering LP of the module docstring (HiGHS, 1 thread).

    With width 1 and ``engine="models"`` the time-indexed LP relaxation of
    :mod:`lpsched.models.lp_relaxation` is solved on these windows (one LP in the
    package, without its tail cuts: they cost minutes here); ``engine="own"``
    forces the bucketed builder below (identical model at width 1, tested).
    """
    t0 = time.perf_counter()
    s, o, a = instance.prefill, instance.decode, instance.arrival
    n, M = instance.n, instance.memory
    if horizon is None:
        horizon = int((decode_order(instance, batch_order(form_batches(instance)),
                                    release_aware=True) + o).max())
    latest = np.maximum(horizon - o, a)
    sizes = latest - a + 1
    if width is None:
        width = max(1, math.ceil(int(sizes.sum()) / max_columns))
    w = int(width)
    if w == 1 and engine == "models":
        shared = _shared_time_indexed_lp(instance, latest, horizon, time_limit, t0)
        if shared is not None:
            return shared
    costs, rows, cols, vals, req, rep = [], [], [], [], [], []
    col = 0
    for i in range(n):
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
    A_mem = sp.csr_matrix((v, (np.searchsorted(used, r), c)), shape=(used.size, col))
    A_eq = sp.csr_matrix((np.ones(col), (req_a, np.arange(col))), shape=(n, col))
    A = sp.vstack([A_eq, A_mem]).tocsr()
    h = new_highs()
    h.setOptionValue("threads", 1)
    h.setOptionValue("solver", solver)
    if time_limit is not None:
        h.setOptionValue("time_limit", float(max(time_limit, 0.01)))
    inf = highspy.kHighsInf
    h.addVars(col, np.zeros(col), np.full(col, inf))
    h.changeColsCost(col, np.arange(col, dtype=np.int32), cost)
    m = used.size
    h.addRows(n + m, np.concatenate([np.ones(n), np.full(m, -inf)]),
              np.concatenate([np.ones(n), np.full(m, float(w * M))]), A.nnz,
              A.indptr[:-1].astype(np.int32), A.indices.astype(np.int32), A.data)
    ran, _ = run_highs(h)
    ok = ran and h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    if not ok:
        nan = np.full(n, np.nan)
        return OrderingLP(h.modelStatusToString(h.getModelStatus()), math.nan, w, horizon, col,
                          nan, nan, time.perf_counter() - t0)
    y = np.asarray(h.getSolution().col_value)
    ms = np.bincount(req_a, weights=y * rep_a, minlength=n)
    return OrderingLP("optimal", float(h.getInfo().objective_function_value), w, horizon, col,
                      ms, ms + o, time.perf_counter() - t0)


def _shared_time_indexed_lp(instance: Instance, latest: np.ndarray, horizon: int,
                            time_limit: float | None, t0: float) -> OrderingLP | None:
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
    lp = solve_lp_arrays(arr, time_limit=time_limit, cuts=False)
    return OrderingLP(lp.status, lp.value, 1, int(horizon), arr.ncols, lp.mean_start,
                      lp.mean_completion, time.perf_counter() - t0)


def lp_order(instance: Instance, lp: OrderingLP, key: str = "completion") -> np.ndarray:
    """Request positions by ascending fractional completion (or start); ties by ``o``, id."""
    if key not in ("completion", "start"):
        raise ValueError(f"key must be 'completion' or 'start', got {key!r}")
    val = lp.mean_completion if key == "completion" else lp.mean_start
    val = np.round(val, 6)  # LP noise must not break decode-length ties
    return np.lexsort((np.arange(instance.n), instance.decode, val))


def _fallback_order(instance: Instance) -> np.ndarray:
    return batch_order(form_batches(instance))


def _lp_or_fallback(instance: Instance, max_columns: int, deadline: Deadline,
                    key: str) -> tuple[np.ndarray, dict]:
    lp = ordering_lp(instance, max_columns=max_columns, time_limit=deadline.solver_seconds())
    stats = {"lp_status": lp.status, "lp_width": lp.width, "lp_columns": lp.columns,
             "lp_horizon": lp.horizon, "lp_time": round(lp.runtime, 4)}
    if lp.status != "optimal":
        stats["order"] = "sorted-f (LP not solved)"
        return _fallback_order(instance), stats
    return lp_order(instance, lp, key), stats


def _objective(inst: Instance, p: np.ndarray) -> int:
    return int((p + inst.decode - inst.arrival).sum())


def solve_sorted_lp(instance: Instance, *, deadline: Deadline | None = None,
                    seed: int | None = None, key: str = "completion",
                    max_columns: int = DEFAULT_MAX_COLUMNS, backfill: bool = False) -> Result:
    """Sorted-LP: order by the ordering LP's fractional completion, decode earliest-start.

    With a time limit the LP gets 80% of it; an LP that does not finish gives the
    Sorted-F order instead (``stats["order"]``) and status ``time_limit``.
    """
    t0 = time.perf_counter()
    deadline = Deadline.coerce(deadline)
    order, stats = _lp_or_fallback(instance, max_columns, deadline.share(0.8), key)
    p = decode_order(instance, order, order_preserving=not backfill, release_aware=True)
    stats.update(key=key, backfill=backfill)
    status = SolveStatus.FEASIBLE if stats["lp_status"] == "optimal" else SolveStatus.TIME_LIMIT
    return Result("sorted-lp", status, _objective(instance, p), None,
                  time.perf_counter() - t0, Schedule(instance, p), stats=stats)


def adjacent_swaps(instance: Instance, order: np.ndarray, *, backfill: bool,
                   deadline: Deadline | None = None, max_passes: int = 50
                   ) -> tuple[np.ndarray, np.ndarray, int, dict]:
    """Passes of adjacent pairwise swaps over ``order``, a swap kept when it strictly
    lowers the decoded objective (serial earliest-start decoder, incremental from
    profile snapshots). Stops when a full pass finds no improving swap, after
    ``max_passes`` passes, or at ``deadline`` (a :class:`~lpsched.stop.Deadline`,
    checked also inside each swap's evaluation; ``None`` or no limit: deterministic).
    Never worse than ``order`` decoded.

    Returns ``(order, starts, objective, stats)`` with stats ``passes``, ``swaps``,
    ``start_objective`` and ``converged``; the LP-Swap step of both the offline
    scheduler and the online policy (:mod:`lpsched.heuristics.online`).
    """
    groups = [[int(i)] for i in order]
    dec = _Decoder(instance, backfill)
    p, k0, snaps = dec.decode(groups, 0)
    dec.commit(k0, snaps)
    obj = _objective(instance, p)
    start_obj = obj
    passes = swaps = 0
    improved = True

    deadline = Deadline.coerce(deadline)
    out_of_time = deadline.expired
    stop = out_of_time if deadline.limited or deadline.cancelled else None
    while improved and passes < max_passes and not out_of_time():
        improved = False
        passes += 1
        for k in range(len(groups) - 1):
            if out_of_time():
                break
            groups[k], groups[k + 1] = groups[k + 1], groups[k]
            q, k0, snaps = dec.decode(groups, k, stop)  # None: cut by the deadline
            if q is None:
                groups[k], groups[k + 1] = groups[k + 1], groups[k]
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
    return out, p, obj, {"passes": passes, "swaps": swaps, "start_objective": start_obj,
                         "converged": not improved}


def solve_lp_swap(instance: Instance, *, deadline: Deadline | None = None,
                  seed: int | None = None, key: str = "completion",
                  max_columns: int = DEFAULT_MAX_COLUMNS, backfill: bool = False,
                  max_passes: int = 50, swap_time: float = 2.0) -> Result:
    """LP-Swap: the Sorted-LP order, then adjacent pairwise swaps kept when they improve.

    The deadline bounds the whole run (the LP gets at most 60% of it); without a
    time limit the LP runs to optimality and the swap passes get ``swap_time``
    seconds (default 2). The passes stop early when a full pass finds no improving
    swap or after ``max_passes`` (:func:`adjacent_swaps`).
    """
    t0 = time.perf_counter()
    deadline = Deadline.coerce(deadline)
    order, stats = _lp_or_fallback(instance, max_columns, deadline.share(0.6), key)
    swaps = deadline.for_search() if deadline.limited else deadline.share(at_most=swap_time)
    _, p, obj, sw = adjacent_swaps(instance, order, backfill=backfill, deadline=swaps,
                                   max_passes=max_passes)
    stats.update(key=key, backfill=backfill, passes=sw["passes"], swaps=sw["swaps"],
                 sorted_lp_objective=sw["start_objective"], converged=sw["converged"])
    stopped = stats["lp_status"] != "optimal" or (deadline.limited and deadline.expired())
    return Result("lp-swap", SolveStatus.TIME_LIMIT if stopped else SolveStatus.FEASIBLE, obj,
                  None, time.perf_counter() - t0, Schedule(instance, p), stats=stats)


def solve_lp_horizon(instance: Instance, *, deadline: Deadline | None = None,
                     seed: int | None = None, window: int = 40, commit: int | None = None,
                     key: str = "completion", max_columns: int = 4_000,
                     backfill: bool = False) -> Result:
    """Receding-horizon LP scheduler (module docstring); ``commit`` defaults to ``window // 2``.

    When the deadline expires, the requests not yet committed keep the Sorted-F
    order (``stats["lp_skipped_requests"]``, status ``time_limit``).
    """
    t0 = time.perf_counter()
    deadline = Deadline.coerce(deadline)
    search = deadline.for_search()
    commit = max(1, window // 2) if commit is None else int(commit)
    if not 1 <= commit <= window:
        raise OptionError(f"lp-horizon: option 'commit' must be in 1..window, got {commit}")
    base = batch_order(form_batches(instance)).tolist()
    order: list[int] = []
    pending = base
    solves = fallbacks = 0
    while pending and not search.expired():
        win = pending[:window]
        if len(win) == 1:
            order.extend(win)
            pending = pending[1:]
            continue
        sub = instance.subset(np.asarray(win))
        lp = ordering_lp(sub, max_columns=max_columns, time_limit=search.solver_seconds())
        solves += 1
        if lp.status == "optimal":
            local = lp_order(sub, lp, key)
        else:
            fallbacks += 1
            local = np.arange(len(win))
        ranked = [win[int(k)] for k in local]
        take = ranked[:commit] if len(pending) > window else ranked
        order.extend(take)
        taken = set(take)
        pending = [i for i in pending if i not in taken]
    skipped = len(pending)
    order.extend(pending)
    p = decode_order(instance, np.asarray(order), order_preserving=not backfill,
                     release_aware=True)
    return Result("lp-horizon", SolveStatus.TIME_LIMIT if skipped else SolveStatus.FEASIBLE,
                  _objective(instance, p), None, time.perf_counter() - t0, Schedule(instance, p),
                  stats={"window": window, "commit": commit, "lp_solves": solves,
                         "lp_fallbacks": fallbacks, "key": key, "backfill": backfill,
                         "lp_skipped_requests": skipped})
