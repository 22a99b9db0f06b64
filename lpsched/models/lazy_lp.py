"""The time-indexed LP relaxation without start windows: columns priced on demand.

Proof and measurements: ``formulations/trace_bounds.md`` (section "The time-indexed LP
by column generation"). The time-indexed LP (``lpsched.models.lp_relaxation``) needs a
column for every start in every request's window, and on traces the windows
(``UB - LB(rest)`` wide) make it far too large. Its Lagrangian dual needs none: for
per-step prices ``lambda_t >= 0`` on the memory rows of steps ``1..H`` and any feasible
schedule ``p``,

    sum_i (c_i - a_i) >= sum_i (c_i - a_i) + sum_{t<=H} lambda_t (sum_i m_i(t) - M)
                      >= sum_i min_{p >= a_i} f_i(p) - M sum_{t<=H} lambda_t,

    f_i(p) = p + o_i - a_i + sum_{d=1..o_i, p+d<=H} lambda_{p+d} (s_i + d),

because every bracket is at most 0 and request ``i``'s own term is ``f_i(p_i)``. For
``p >= H`` no priced step is touched and ``f_i(p) = p + o_i - a_i`` grows with ``p``, so the
minimum is over ``a_i <= p <= H``: with prefix sums of ``lambda_t`` and ``t lambda_t`` every
``f_i(p)`` costs ``O(1)`` (``(s_i - p)(Lambda(p+o_i) - Lambda(p)) + Theta(p+o_i) -
Theta(p)``, indices clipped at ``H``). Any ``lambda >= 0`` gives a valid bound; column
generation on the restricted master LP (convexity rows, memory rows ``t <= H``, columns
``(i, p)`` added when their reduced cost ``f_i(p) - mu_i`` is negative) supplies good
prices, and at convergence the bound is the LP optimum. ``H`` only decides which steps
are priced (validity holds for every ``H``); a good schedule's makespan prices every step
an optimal schedule is likely to use.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np

from lpsched.instance import Instance
from lpsched.models._highs import enforce_deadline, new_highs, run_highs, set_time_left
from lpsched.stop import Deadline

__all__ = ["LazyLP", "lagrangian_value", "lazy_lp_bound"]

#: Largest ``sum_i (H - a_i + 1)`` (priced starts a round) accepted by :func:`lazy_lp_bound`.
MAX_PRICED_STARTS = 6e7

#: Non-zeros of the master LP after which no column is added (about 0.5 GB in HiGHS).
MAX_MASTER_NONZEROS = 2e7


@dataclass(frozen=True)
class LazyLP:
    """``bound``: the best Lagrangian value seen (valid, fractional); ``lp_value`` the
    restricted master's last optimum (the LP optimum when ``converged``); ``rounds``,
    ``columns`` and the priced ``horizon``."""

    bound: float
    lp_value: float | None
    converged: bool
    rounds: int
    columns: int
    horizon: int


def _price(instance: Instance, lam: np.ndarray, horizon: int, deadline: float | None = None
           ) -> tuple[np.ndarray, np.ndarray] | None:
    """``(min_p f_i(p), argmin)`` for every request (module docstring); ``lam[t - 1]`` is
    the price of step ``t``. None when ``deadline`` passes first."""
    H = horizon
    Lc = np.concatenate([[0.0], np.cumsum(lam)])
    Tc = np.concatenate([[0.0], np.cumsum(lam * np.arange(1, H + 1))])
    s, o, a = instance.prefill, instance.decode, instance.arrival
    best = np.empty(instance.n)
    arg = np.empty(instance.n, dtype=np.int64)
    for i in range(instance.n):
        if deadline is not None and i % 256 == 255 and time.perf_counter() > deadline:
            return None
        ai, oi = int(a[i]), int(o[i])
        p = np.arange(min(ai, H), H + 1)
        hi = np.minimum(p + oi, H)
        f = (p + (oi - ai)) + (float(s[i]) - p) * (Lc[hi] - Lc[p]) + (Tc[hi] - Tc[p])
        k = int(np.argmin(f))
        best[i], arg[i] = f[k], max(ai, int(p[k]))
    return best, arg


def lagrangian_value(instance: Instance, lam: np.ndarray, horizon: int) -> float:
    """``sum_i min_p f_i(p) - M sum_t lambda_t`` for prices ``lam >= 0`` of steps
    ``1..horizon``: a lower bound on the optimal ``sum_i (c_i - a_i)`` (module docstring)."""
    lam = np.maximum(np.asarray(lam, dtype=float), 0.0)
    priced = _price(instance, lam, horizon)
    assert priced is not None  # no deadline
    return float(priced[0].sum() - instance.memory * lam.sum())


def _column(instance: Instance, i: int, p: int, horizon: int, width: int = 1
            ) -> tuple[float, np.ndarray, np.ndarray]:
    """Cost, row indices and values of the column "request ``i`` starts at ``p``" (row
    ``i`` is its convexity row, row ``n + b`` the memory summed over the steps
    ``b w + 1 .. (b + 1) w`` (``<= horizon``) of bucket ``b``, ``w = width``)."""
    s, o, a = int(instance.prefill[i]), int(instance.decode[i]), int(instance.arrival[i])
    t = np.arange(p + 1, min(p + o, horizon) + 1)
    mem = (s + t - p).astype(float)
    if width > 1 and t.size:
        b = (t - 1) // width
        first = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
        t, mem = b[first] + 1, np.add.reduceat(mem, first)
    rows = np.concatenate([[i], instance.n + t - 1])
    vals = np.concatenate([[1.0], mem])
    return float(p + o - a), rows, vals


def _add_columns(h: highspy.Highs, cols: list[tuple[float, np.ndarray, np.ndarray]]) -> None:
    costs = np.array([c for c, _, _ in cols])
    starts = np.cumsum([0] + [r.size for _, r, _ in cols[:-1]]).astype(np.int32)
    idx = np.concatenate([r for _, r, _ in cols]).astype(np.int32)
    val = np.concatenate([v for _, _, v in cols])
    h.addCols(len(cols), costs, np.zeros(len(cols)), np.full(len(cols), highspy.kHighsInf),
              idx.size, starts, idx, val)


def lazy_lp_bound(instance: Instance, horizon: int, *, starts: np.ndarray | None = None,
                  deadline: float | None = None, threads: int = 1, width: int = 1,
                  max_rounds: int = 10_000) -> LazyLP | None:
    """The time-indexed LP bound by column generation (module docstring) with the memory
    rows of steps ``1..horizon``; ``starts`` (optional) a feasible schedule whose columns
    seed the master. ``deadline`` is a :func:`time.perf_counter` instant: the best
    Lagrangian bound so far is returned when it passes, or when the master would pass
    :data:`MAX_MASTER_NONZEROS` non-zeros. None when the pricing would exceed
    :data:`MAX_PRICED_STARTS` starts a round (or no master was solved).

    ``width > 1`` sums the memory rows over buckets of ``width`` steps (capacity
    ``width M``, the last bucket its own steps times ``M``): fewer, shorter rows, a weaker
    LP; the prices are then constant over each bucket, which the Lagrangian bound allows
    like any other non-negative prices."""
    n, H, M = instance.n, int(horizon), float(instance.memory)
    if H < 1 or float(np.maximum(H - instance.arrival + 1, 1).sum()) > MAX_PRICED_STARTS:
        return None
    h = new_highs()
    h.setOptionValue("threads", int(threads))
    h.setOptionValue("presolve", "off")  # keep the basis: each round starts from the last
    if deadline is not None:
        enforce_deadline(h, Deadline(max(1e-3, deadline - time.perf_counter())))
    inf = highspy.kHighsInf
    w = max(1, int(width))
    nb = -(-H // w)
    steps = np.minimum(w, H - w * np.arange(nb)).astype(float)  # steps in each bucket
    h.addRows(n + nb, np.concatenate([np.ones(n), np.full(nb, -inf)]),
              np.concatenate([np.ones(n), steps * M]), 0,
              np.zeros(n + nb, dtype=np.int32), np.zeros(0, dtype=np.int32), np.zeros(0))
    seed = [_column(instance, i, max(H, int(instance.arrival[i])), H, w) for i in range(n)]
    if starts is not None:
        seed += [_column(instance, i, int(p), H, w) for i, p in enumerate(starts)]
    _add_columns(h, seed)
    best, lp_value, converged, rounds, columns = -np.inf, None, False, 0, len(seed)
    nonzeros = sum(r.size for _, r, _ in seed)
    while rounds < max_rounds:
        if deadline is not None:
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            set_time_left(h, left)
        ran, _ = run_highs(h)
        if not ran or h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            break
        rounds += 1
        lp_value = float(h.getInfo().objective_function_value)
        dual = np.asarray(h.getSolution().row_dual)
        lam = np.repeat(np.maximum(-dual[n:], 0.0), w)[:H]  # per step
        priced = _price(instance, lam, H, deadline)
        if priced is None:
            break  # the deadline passed while pricing
        fmin, arg = priced
        best = max(best, float(fmin.sum() - M * lam.sum()))
        new = np.flatnonzero(fmin - dual[:n] < -1e-9 * np.maximum(1.0, np.abs(fmin)))
        if new.size == 0:
            converged = True
            break
        cols = [_column(instance, int(i), int(arg[i]), H, w) for i in new]
        nonzeros += sum(r.size for _, r, _ in cols)
        if nonzeros > MAX_MASTER_NONZEROS:
            break  # memory guard: keep the best bound so far
        _add_columns(h, cols)
        columns += new.size
    if not np.isfinite(best):
        return None
    return LazyLP(best, lp_value, converged, rounds, columns, H)
