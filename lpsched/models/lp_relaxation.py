"""LP relaxation of the time-indexed model, solved directly with highspy.

The relaxation replaces ``x[i,k] in {0,1}`` by ``0 <= x[i,k] <= 1`` in the model of
:mod:`lpsched.models.arrays` (``formulations/lp-relaxation.md``, restricted to the provable
start windows of :mod:`lpsched.models.windows`). Every optimal schedule is a 0/1
point of it, so its optimum is a lower bound on the optimal total completion
time; because the objective of any schedule is an integer, ``ceil(LP - 1e-6)``
is a lower bound too.

For LP-guided heuristics the fractional solution is exposed per request:

* ``mean_start[i] = sum_k k * x[i,k]`` - the fractional mean start step;
* ``mean_completion[i] = mean_start[i] + o_i`` - the fractional completion
  time (``sum_k (k + o_i) x[i,k]``), e.g. to sort requests ("Sorted-LP",
  Wang, Ye & Zhou 2025) or to seed a list schedule;
* ``x`` - the fractional start distribution as ``{(i, k): value}`` for
  values above ``1e-9``.

Example
-------
>>> from lpsched.instance import Instance, Request
>>> from lpsched.models.lp_relaxation import solve_lp_relaxation
>>> inst = Instance(6, [Request("a", 1, 2), Request("b", 1, 2), Request("c", 2, 3)])
>>> lp = solve_lp_relaxation(inst)
>>> lp.status, round(lp.value, 3) <= 12, lp.mean_completion.shape
('optimal', True, (3,))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import highspy
import numpy as np
import scipy.sparse as sp

from lpsched.instance import Instance
from lpsched.models._highs import new_highs, run_highs, set_time_left
from lpsched.models.arrays import TimeIndexedArrays, time_indexed_arrays
from lpsched.models.windows import Windows

__all__ = ["LPRelaxation", "solve_lp_relaxation", "solve_lp_arrays"]


@dataclass(frozen=True)
class LPRelaxation:
    """Solution of the time-indexed LP relaxation.

    ``value`` is the LP optimum (a valid lower bound only when ``status`` is
    ``"optimal"``); ``bound`` is ``ceil(value - 1e-6)`` (or the dual bound for a
    time-limited solve: None). ``mean_start``/``mean_completion`` are the
    fractional per-request start/completion times ``sum_k k x[i,k]`` and
    ``sum_k (k + o_i) x[i,k]``, aligned with ``instance.ids``.
    """

    status: str
    value: float
    bound: int | None
    mean_start: np.ndarray
    mean_completion: np.ndarray
    x: dict[tuple[int, int], float]
    runtime: float
    ncols: int
    nrows: int
    upper_bound: int
    cut_rows: list = field(default_factory=list, repr=False)
    cut_rounds: int = 0

    @property
    def lower_bound(self) -> int | None:
        return self.bound


def _highs_from_arrays(arr: TimeIndexedArrays, *, integer: bool) -> highspy.Highs:
    h = new_highs()
    ncols = arr.ncols
    inf = highspy.kHighsInf
    h.addVars(ncols, np.zeros(ncols), np.ones(ncols))
    h.changeColsCost(ncols, np.arange(ncols, dtype=np.int32), arr.cost)
    A = sp.vstack([arr.A_eq, arr.A_mem]).tocsr()
    n = arr.A_eq.shape[0]
    m = arr.A_mem.shape[0]
    lower = np.concatenate([np.ones(n), np.full(m, -inf)])
    upper = np.concatenate([np.ones(n), np.full(m, float(arr.instance.memory))])
    h.addRows(n + m, lower, upper, A.nnz, A.indptr[:-1].astype(np.int32),
              A.indices.astype(np.int32), A.data)
    if integer:
        h.changeColsIntegrality(ncols, np.arange(ncols, dtype=np.int32),
                                np.full(ncols, highspy.HighsVarType.kInteger))
    return h


def solve_lp_arrays(arr: TimeIndexedArrays, *, time_limit: float | None = None,
                    threads: int = 1, cuts: bool = True, cut_rounds: int = 20) -> LPRelaxation:
    """Solve the LP relaxation of prebuilt arrays (see :func:`solve_lp_relaxation`)."""
    import time

    from lpsched.models.tails import separate_tail_rows, tail_families

    t0 = time.perf_counter()
    h = _highs_from_arrays(arr, integer=False)
    h.setOptionValue("threads", int(threads))
    if time_limit is not None:
        from lpsched.models._highs import enforce_deadline
        from lpsched.stop import Deadline

        enforce_deadline(h, Deadline(max(1e-3, time_limit - (time.perf_counter() - t0))))
    n = arr.instance.n
    families = tail_families(arr.instance) if cuts else []
    added: list[np.ndarray] = []
    rounds = 0
    # the last LP solved to optimality (with the cuts of its rounds): still a valid
    # bound if a later, larger LP is stopped by the time limit
    last: tuple[np.ndarray, float, int, int] | None = None
    while True:
        if time_limit is not None:
            left = time_limit - (time.perf_counter() - t0)
            if left <= 0:
                break
            set_time_left(h, left)
        run_highs(h)
        status = h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            break
        xv = np.asarray(h.getSolution().col_value)
        last = (xv, float(h.getInfo().objective_function_value), rounds, len(added))
        if not families or rounds >= cut_rounds:
            break
        new_rows = separate_tail_rows(arr, families, xv)
        if not new_rows:
            break
        rounds += 1
        for cols in new_rows:
            h.addRow(-highspy.kHighsInf, 1.0, cols.size, cols.astype(np.int32),
                     np.ones(cols.size))
        added.extend(new_rows)
    if last is None:
        status = h.getModelStatus()
        nan = np.full(n, np.nan)
        stopped = status in (highspy.HighsModelStatus.kTimeLimit,
                             highspy.HighsModelStatus.kInterrupt)
        return LPRelaxation("time_limit" if stopped else "error", math.nan, None, nan, nan, {},
                            time.perf_counter() - t0, arr.ncols, arr.A_mem.shape[0] + n,
                            arr.windows.upper_bound, added, rounds)
    xv, value, rounds, kept = last
    added = added[:kept]
    mean_start = np.bincount(arr.req, weights=xv * arr.start, minlength=n)
    mean_completion = mean_start + arr.instance.decode
    nz = np.flatnonzero(xv > 1e-9)
    x = {(int(arr.req[j]), int(arr.start[j])): float(xv[j]) for j in nz}
    return LPRelaxation("optimal", value, int(math.ceil(value - 1e-6)), mean_start,
                        mean_completion, x, time.perf_counter() - t0, arr.ncols,
                        arr.A_mem.shape[0] + n + len(added), arr.windows.upper_bound, added,
                        rounds)


def solve_lp_relaxation(instance: Instance, *, windows: Windows | None = None,
                        time_limit: float | None = None, threads: int = 1, cuts: bool = True,
                        cut_rounds: int = 20) -> LPRelaxation:
    """Solve the LP relaxation of the time-indexed model of ``instance``.

    Returns an :class:`LPRelaxation` with the LP value (lower bound), and the
    fractional mean start/completion time of every request for LP-guided
    heuristics. ``windows`` defaults to the provable start windows.

    With ``cuts=True`` (default) the relaxation is strengthened by up to
    ``cut_rounds`` rounds of separating the disjoint-tail clique rows of
    :mod:`lpsched.models.tails` (valid for every feasible schedule, so the
    value stays a lower bound); ``cuts=False`` gives the plain LP of
    ``formulations/lp-relaxation.md``. The added rows are in ``cut_rows`` (column-index arrays, each a
    row ``sum x <= 1``).

    With ``time_limit`` the cut loop stops at the deadline and returns the last LP
    solved to optimality (with the cuts of the rounds before it: still a valid
    bound); the status is ``"time_limit"`` (value NaN) only if not even the first
    LP finished.
    """
    return solve_lp_arrays(time_indexed_arrays(instance, windows), time_limit=time_limit,
                           threads=threads, cuts=cuts, cut_rounds=cut_rounds)
