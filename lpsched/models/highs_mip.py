"""The time-indexed MILP in highspy: build, run, read (one module for both solve paths).

:func:`run_mip_model` is the whole MILP run of ``milp`` with ``engine="highspy"``:
the sparse model of :mod:`lpsched.models.arrays` loaded straight into a
``highspy.Highs`` (:func:`highs_mip_model`: assignment and memory rows, the
symmetry-breaking rows of :mod:`lpsched.models.symmetry`, optional disjoint-tail
clique rows of :mod:`lpsched.models.tails`, the warm start as MIP start), run
until the :class:`~lpsched.stop.Deadline` (HiGHS's ``time_limit`` plus the
interrupt callbacks of :func:`lpsched.models._highs.enforce_deadline`), and read
back as a :class:`MipRun`. The same function runs in this process
(:func:`lpsched.models.time_indexed.solve_milp`) and in the child process of
:mod:`lpsched.models.highs_process`, which streams the callbacks' solutions and
bounds to the parent.

Status, objective bound and gap come from HiGHS itself (:func:`read_highs_outcome`:
``getModelStatus``, ``getInfo().mip_dual_bound``, ``mip_gap``), also for a model
solved through PuLP, whose own status maps a time-limited incumbent to "Optimal".
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np

from lpsched.instance import Instance
from lpsched.models._highs import enforce_deadline, run_highs, status_name
from lpsched.models.arrays import TimeIndexedArrays, time_indexed_arrays
from lpsched.models.lp_relaxation import _highs_from_arrays
from lpsched.models.symmetry import twin_pairs
from lpsched.models.windows import Windows
from lpsched.stop import Deadline

__all__ = ["HighsOutcome", "MipRun", "highs_mip_model", "mip_starts", "read_highs_outcome",
           "run_mip_model"]


@dataclass(frozen=True)
class HighsOutcome:
    """What HiGHS itself says after a solve."""

    status: str  # highspy model status text, e.g. "Optimal", "Time limit reached"
    has_solution: bool
    objective: float | None
    dual_bound: float | None
    gap: float | None
    nodes: int


def read_highs_outcome(problem: Any) -> HighsOutcome:
    """Read status, objective, MIP dual bound and gap from the highspy model.

    ``problem`` is a ``highspy.Highs`` or a solved ``pulp.LpProblem`` (its
    ``solverModel``). An infinite dual bound (HiGHS reports ``-inf`` before it has
    one) is read as None.
    """
    h = problem if isinstance(problem, highspy.Highs) else problem.solverModel
    st = h.getModelStatus()
    info = h.getInfo()
    has = info.primal_solution_status == 2  # kSolutionStatusFeasible
    obj = float(info.objective_function_value) if has else None
    raw_dual = float(info.mip_dual_bound)
    dual = raw_dual if math.isfinite(raw_dual) else None
    gap = float(info.mip_gap) if math.isfinite(info.mip_gap) else None
    return HighsOutcome(h.modelStatusToString(st), has, obj, dual, gap,
                        int(info.mip_node_count))


def highs_mip_model(arr: TimeIndexedArrays, instance: Instance, symmetry_breaking: bool,
                    warm: np.ndarray, tail_families: int = 0) -> highspy.Highs:
    """The MILP of :func:`lpsched.models.time_indexed.build_time_indexed`, loaded straight
    into highspy, with ``warm`` (a start vector inside the windows) as MIP start."""
    h = _highs_from_arrays(arr, integer=True)
    if symmetry_breaking:
        inf = highspy.kHighsInf
        for i, j in twin_pairs(instance):
            ci = np.arange(arr.col_offset[i], arr.col_offset[i + 1])
            cj = np.arange(arr.col_offset[j], arr.col_offset[j + 1])
            idx = np.concatenate([ci, cj]).astype(np.int32)
            val = np.concatenate([arr.start[ci], -arr.start[cj]]).astype(float)
            h.addRow(-inf, 0.0, idx.size, idx, val)
    if tail_families:
        from lpsched.models.tails import tail_families as families
        from lpsched.models.tails import tail_rows

        for f in families(instance, max_families=tail_families):
            _, indptr, indices = tail_rows(arr, f)
            m = indptr.size - 1
            if m:
                h.addRows(m, np.full(m, -highspy.kHighsInf), np.ones(m), indices.size,
                          indptr[:-1].astype(np.int32), indices.astype(np.int32),
                          np.ones(indices.size))
    cols = np.array([arr.column(i, int(k)) for i, k in enumerate(warm)], dtype=np.int64)
    values = np.zeros(arr.ncols)
    values[cols] = 1.0
    sol = highspy.HighsSolution()
    sol.col_value = values.tolist()
    sol.value_valid = True
    h.setSolution(sol)
    return h


@dataclass(frozen=True)
class MipRun:
    """What one MILP run returned (in this process, in the child of
    :mod:`lpsched.models.highs_process`, or through PuLP).

    ``model_status`` is the HiGHS model status name (``"kOptimal"``,
    ``"kTimeLimit"``, ``"kInterrupt"``, ...) or ``"killed"`` when the child process
    was killed at the hard deadline; then ``outcome`` is ``None`` and ``starts`` /
    ``reported_dual_bound`` are the last solution and dual bound the child reported.
    ``build_seconds`` is the time spent building the highspy model.
    """

    ran: bool
    why: str
    model_status: str
    outcome: HighsOutcome | None
    starts: np.ndarray | None
    columns: int | None
    memory_rows: int | None
    build_seconds: float | None = None
    reported_dual_bound: float | None = None


def run_mip_model(instance: Instance, windows: Windows, warm: np.ndarray, *,
                  symmetry_breaking: bool, tail_families: int, options: dict[str, Any],
                  deadline: Deadline | None,
                  on_solution: Callable[[float, np.ndarray], None] | None = None,
                  on_bound: Callable[[float], None] | None = None,
                  stall: float = 0.0) -> MipRun:
    """Build the highspy MILP (:func:`highs_mip_model`), run it and read what HiGHS says.

    ``options`` are HiGHS options; ``deadline`` is a :class:`~lpsched.stop.Deadline`:
    what is left of it after the build goes to HiGHS's ``time_limit`` and the
    interrupt callbacks stop it there (:func:`lpsched.models._highs.enforce_deadline`);
    a deadline that expired during the build skips the run (model status
    ``"kInterrupt"``, no solution). ``on_solution`` gets ``(objective, starts)`` of
    every improving MIP solution, ``on_bound`` the (finite) MIP dual bound at every
    MIP interrupt check. ``stall`` (tests only) sleeps before the run, like a HiGHS
    phase that reports nothing.
    """
    t = time.perf_counter()
    arr = time_indexed_arrays(instance, windows)
    h = highs_mip_model(arr, instance, symmetry_breaking, warm, tail_families)
    build = time.perf_counter() - t
    nrows = int(arr.A_mem.shape[0])
    if deadline is not None and deadline.expired():
        return MipRun(True, "the deadline expired during the model build", "kInterrupt", None,
                      None, arr.ncols, nrows, build)
    for k, v in options.items():
        h.setOptionValue(k, v)
    secs = deadline.solver_seconds() if deadline is not None else None
    if deadline is not None and secs is not None:  # limited or cancelled
        h.setOptionValue("time_limit", secs)
        enforce_deadline(h, deadline)
    if on_solution is not None:
        h.cbMipImprovingSolution.subscribe(lambda e: on_solution(
            float(e.data_out.objective_function_value),
            mip_starts(arr, np.asarray(e.data_out.mip_solution))))
    if on_bound is not None:
        def bound(e) -> None:
            value = float(e.data_out.mip_dual_bound)
            if math.isfinite(value):
                on_bound(value)
        h.cbMipInterrupt.subscribe(bound)
    if stall:
        time.sleep(stall)
    ran, why = run_highs(h)
    out = read_highs_outcome(h)
    starts = mip_starts(arr, np.asarray(h.getSolution().col_value)) if out.has_solution else None
    return MipRun(ran, why, status_name(h), out, starts, arr.ncols, nrows, build)


def mip_starts(arr: TimeIndexedArrays, x: np.ndarray) -> np.ndarray:
    """Start vector of a 0/1 solution ``x`` of the time-indexed columns of ``arr``."""
    starts = np.zeros(arr.instance.n, dtype=np.int64)
    for i in range(arr.instance.n):
        lo, hi = arr.col_offset[i], arr.col_offset[i + 1]
        starts[i] = arr.start[lo + int(np.argmax(x[lo:hi]))]
    return starts
