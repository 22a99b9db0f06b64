"""Time-indexed MILP (PuLP model, solved by HiGHS through highspy).

The reference formulation of DESIGN.md section 2 (Sousa & Wolsey 1992 style
time-indexed variables; for KV-cache scheduling see Jaillet et al. 2025):
``x[i,k] = 1`` iff request ``i`` starts at step ``k``,

    min  sum_i sum_k (k + o_i - a_i) x[i,k]
    s.t. sum_k x[i,k] = 1                                          for all i
         sum_i sum_{k=t-o_i}^{t-1} (s_i + t - k) x[i,k] <= M        for all steps t
         x binary

with ``k`` restricted to the provable start windows ``[a_i, u_i]`` of
:mod:`lpsched.models.windows` (the horizon argument is there and in
``formulations/time-indexed.md``). Valid strengthening applied:

* start fixing: starts after ``u_i = a_i + UB - LB(I \\ {i}) - o_i`` are never
  optimal and are not generated;
* implied memory rows are dropped (:mod:`lpsched.models.arrays`);
* symmetry breaking between identical requests ``i < j`` (same ``s, o, a``):
  ``sum_k k x[i,k] <= sum_k k x[j,k]`` (any schedule can be relabelled so that
  the earlier-listed twin starts first);
* warm start: the incumbent of the windows (best serial schedule or a
  user-supplied one) is handed to HiGHS with ``setSolution``.

Status, objective bound and gap are read from the highspy model after the
solve (``getModelStatus``, ``getInfo().mip_dual_bound``, ``mip_gap``), never from
PuLP's status, which maps a time-limited incumbent to "Optimal".
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
import pulp

from lpsched.instance import Instance
from lpsched.models._highs import enforce_deadline, new_highs, run_highs, status_name
from lpsched.models.arrays import TimeIndexedArrays, time_indexed_arrays
from lpsched.models.guard import DEFAULT_MAX_MODEL_BYTES, estimate_model_bytes, guarded_result
from lpsched.models.incumbent import solver_incumbent
from lpsched.models.windows import Windows, start_windows
from lpsched.options import OptionError
from lpsched.schedule import Result, Schedule, SolveStatus
from lpsched.stop import Deadline

__all__ = ["TimeIndexedModel", "build_time_indexed", "solve_milp", "highs_solver",
           "read_highs_outcome"]


@dataclass
class TimeIndexedModel:
    """The raw PuLP problem and its variables.

    ``x[(i, k)]`` is the binary start variable of request position ``i`` at step ``k``;
    ``memory_rows[t]`` the memory constraint of step ``t``; ``assign_rows[i]`` the
    assignment row of request ``i``; ``windows`` the start windows used.
    """

    problem: pulp.LpProblem
    x: dict[tuple[int, int], pulp.LpVariable]
    assign_rows: list[pulp.LpConstraint]
    memory_rows: dict[int, pulp.LpConstraint]
    windows: Windows
    arrays: TimeIndexedArrays
    instance: Instance

    def starts_from_values(self) -> np.ndarray:
        """Start vector from the variable values after a solve (argmax per request)."""
        n = self.instance.n
        best = np.full(n, -1.0)
        starts = np.zeros(n, dtype=np.int64)
        for (i, k), var in self.x.items():
            v = var.varValue if var.varValue is not None else 0.0
            if v > best[i]:
                best[i], starts[i] = v, k
        return starts

    def set_warm_start(self, starts: np.ndarray) -> None:
        """Give every variable an initial value from a start vector (``warmStart``)."""
        for (i, k), var in self.x.items():
            var.setInitialValue(1 if int(starts[i]) == k else 0)


def build_time_indexed(instance: Instance, *, windows: Windows | None = None,
                       relax: bool = False, symmetry_breaking: bool = True,
                       warm_start: bool = True) -> TimeIndexedModel:
    """Build the time-indexed MILP of ``instance`` as a ``pulp.LpProblem``.

    ``relax=True`` builds the LP relaxation (continuous ``0 <= x <= 1``).

    The default windows (:func:`~lpsched.models.windows.start_windows`) contain
    every optimum of the model *as built*. A side constraint can push the optimum
    later: then pass explicit windows, e.g.
    ``windows=horizon_windows(inst)`` (all starts up to ``max a + sum o - o_i``).

    Example: a side constraint (request ``r1`` must be done by step 20)::

        import pulp
        from lpsched.models.time_indexed import build_time_indexed, highs_solver
        from lpsched.models.windows import horizon_windows
        m = build_time_indexed(inst, windows=horizon_windows(inst))
        i = inst.index("r1")
        m.problem += pulp.lpSum((k + int(inst.decode[i])) * v
                                for (j, k), v in m.x.items() if j == i) <= 20, "r1_deadline"
        m.problem.solve(highs_solver(time_limit=10))
        starts = m.starts_from_values()
    """
    w = windows if windows is not None else start_windows(instance)
    arr = time_indexed_arrays(instance, w)
    prob = pulp.LpProblem(f"time_indexed_{_safe(instance.name)}", pulp.LpMinimize)
    cat = pulp.LpContinuous if relax else pulp.LpBinary
    ids = instance.ids
    xs: list[pulp.LpVariable] = []
    x: dict[tuple[int, int], pulp.LpVariable] = {}
    for j in range(arr.ncols):
        i, k = int(arr.req[j]), int(arr.start[j])
        v = _new_variable(prob, f"x_{_safe(ids[i])}_{k}", cat)
        xs.append(v)
        x[(i, k)] = v
    prob += pulp.LpAffineExpression(list(zip(xs, arr.cost.tolist()))), "total_completion_time"
    assign_rows = []
    eq = arr.A_eq
    for i in range(instance.n):
        cols = eq.indices[eq.indptr[i]:eq.indptr[i + 1]]
        con = pulp.LpConstraint(pulp.LpAffineExpression([(xs[c], 1.0) for c in cols]),
                                sense=pulp.LpConstraintEQ, rhs=1, name=f"assign_{_safe(ids[i])}")
        prob += con
        assign_rows.append(con)
    memory_rows = {}
    A = arr.A_mem
    for r, t in enumerate(arr.mem_steps.tolist()):
        lo, hi = A.indptr[r], A.indptr[r + 1]
        expr = pulp.LpAffineExpression(
            [(xs[c], v) for c, v in zip(A.indices[lo:hi].tolist(), A.data[lo:hi].tolist())])
        con = pulp.LpConstraint(expr, sense=pulp.LpConstraintLE, rhs=instance.memory,
                                name=f"memory_{t}")
        prob += con
        memory_rows[t] = con
    if symmetry_breaking:
        for i, j in _twin_pairs(instance):
            prob += (pulp.lpSum(k * x[(i, k)] for k in range(w.earliest[i], w.latest[i] + 1))
                     <= pulp.lpSum(k * x[(j, k)] for k in range(w.earliest[j], w.latest[j] + 1)),
                     f"twins_{_safe(ids[i])}_{_safe(ids[j])}")
    model = TimeIndexedModel(prob, x, assign_rows, memory_rows, w, arr, instance)
    if warm_start and np.all(w.incumbent <= w.latest):
        inc = w.incumbent.copy()
        if symmetry_breaking:
            inc = _relabel_twins(instance, inc)
        model.set_warm_start(inc)
    return model


def _new_variable(prob: pulp.LpProblem, name: str, cat: str) -> pulp.LpVariable:
    """A ``[0, 1]`` variable; ``LpProblem.add_variable`` (PuLP >= 3.3) or ``LpVariable``."""
    if hasattr(prob, "add_variable"):
        return prob.add_variable(name, lowBound=0, upBound=1, cat=cat)
    return pulp.LpVariable(name, lowBound=0, upBound=1, cat=cat)  # older PuLP


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in str(name))


def _twin_groups(instance: Instance) -> list[list[int]]:
    groups: dict[tuple[int, int, int], list[int]] = {}
    for i in range(instance.n):
        key = (int(instance.prefill[i]), int(instance.decode[i]), int(instance.arrival[i]))
        groups.setdefault(key, []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def _twin_pairs(instance: Instance) -> list[tuple[int, int]]:
    return [(g[k], g[k + 1]) for g in _twin_groups(instance) for k in range(len(g) - 1)]


def _relabel_twins(instance: Instance, starts: np.ndarray) -> np.ndarray:
    starts = starts.copy()
    for g in _twin_groups(instance):
        starts[g] = np.sort(starts[g])
    return starts


class _HiGHSWarm(pulp.HiGHS):
    """PuLP's HiGHS (highspy) interface plus a MIP start from the variables' initial values.

    PuLP 3.x keeps the ``highspy.Highs`` object on ``problem.solverModel``;
    we pass the warm start with ``setSolution`` just before ``run``.
    """

    def __init__(self, *args: Any, warmStart: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.warm = warmStart
        self.deadline: Deadline | None = None  # interrupt callbacks stop HiGHS there

    def callSolver(self, lp):  # noqa: N802 - PuLP API
        if self.warm and self.mip:
            values = [0.0] * len(lp.variables())
            given = False
            for var in lp.variables():
                if var.varValue is not None:
                    values[var.index] = float(var.varValue)
                    given = True
            if given:
                sol = highspy.HighsSolution()
                sol.col_value = values
                sol.value_valid = True
                lp.solverModel.setSolution(sol)
        if self.deadline is not None:
            enforce_deadline(lp.solverModel, self.deadline)
        lp.solverModel._lpsched_ran = run_highs(lp.solverModel)


def highs_solver(*, time_limit: float | None = None, threads: int = 1, msg: bool = False,
                 warm_start: bool = True, mip: bool = True, **options: Any) -> pulp.HiGHS:
    """A PuLP HiGHS solver object (highspy backend) with our defaults.

    ``options`` are HiGHS option names (e.g. ``mip_rel_gap=0``, ``random_seed=0``).
    """
    opts = {"mip_rel_gap": 0.0, "random_seed": 0}
    opts.update(options)
    new_highs()  # swallow HiGHS's one-time stdout banner before PuLP creates its model
    return _HiGHSWarm(mip=mip, msg=msg, timeLimit=time_limit, threads=threads,
                      warmStart=warm_start, **opts)


@dataclass(frozen=True)
class HighsOutcome:
    """What HiGHS itself says after a solve."""

    status: str  # highspy model status name, e.g. "kOptimal", "kTimeLimit"
    has_solution: bool
    objective: float | None
    dual_bound: float | None
    gap: float | None
    nodes: int


def read_highs_outcome(problem: pulp.LpProblem | highspy.Highs) -> HighsOutcome:
    """Read status, objective, MIP dual bound and gap from the highspy model.

    ``problem`` is a solved ``pulp.LpProblem`` (its ``solverModel``) or a ``highspy.Highs``.
    """
    h = problem if isinstance(problem, highspy.Highs) else problem.solverModel
    st = h.getModelStatus()
    info = h.getInfo()
    has = info.primal_solution_status == 2  # kSolutionStatusFeasible
    obj = float(info.objective_function_value) if has else None
    dual = float(info.mip_dual_bound)
    dual = dual if math.isfinite(dual) else None
    gap = float(info.mip_gap) if math.isfinite(info.mip_gap) else None
    return HighsOutcome(h.modelStatusToString(st), has, obj, dual, gap,
                        int(info.mip_node_count))


def _highs_mip(model_arrays: TimeIndexedArrays, instance: Instance, symmetry_breaking: bool,
               warm: np.ndarray, tail_families: int = 0) -> highspy.Highs:
    """The same MILP as :func:`build_time_indexed`, loaded straight into highspy."""
    from lpsched.models.lp_relaxation import _highs_from_arrays

    arr = model_arrays
    h = _highs_from_arrays(arr, integer=True)
    if symmetry_breaking:
        inf = highspy.kHighsInf
        for i, j in _twin_pairs(instance):
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


ISOLATE_NONZEROS = 1_000_000
"""Models with more memory-row non-zeros than this are solved in a child process
(:mod:`lpsched.models.highs_process`) when a time limit is set."""


@dataclass(frozen=True)
class MipRun:
    """What one MILP run returned (in this process or in the child of
    :mod:`lpsched.models.highs_process`).

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
    """Build the highspy MILP (:func:`_highs_mip`), run it and read what HiGHS says.

    ``options`` are HiGHS options; ``deadline`` is a :class:`~lpsched.stop.Deadline`:
    what is left of it goes to HiGHS's ``time_limit`` and the interrupt callbacks
    stop it there (:func:`lpsched.models._highs.enforce_deadline`). ``on_solution``
    gets ``(objective, starts)`` of every improving MIP solution, ``on_bound`` the
    (finite) MIP dual bound at every MIP interrupt check. ``stall`` (tests only)
    sleeps before the run, like a HiGHS phase that reports nothing.
    """
    t = time.perf_counter()
    arr = time_indexed_arrays(instance, windows)
    h = _highs_mip(arr, instance, symmetry_breaking, warm, tail_families)
    build = time.perf_counter() - t
    for k, v in options.items():
        h.setOptionValue(k, v)
    if deadline is not None and (deadline.limited or deadline.cancelled):
        h.setOptionValue("time_limit", deadline.solver_seconds())
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
    return MipRun(ran, why, status_name(h), out, starts, arr.ncols, int(arr.A_mem.shape[0]),
                  build)


def mip_starts(arr: TimeIndexedArrays, x: np.ndarray) -> np.ndarray:
    """Start vector of a 0/1 solution ``x`` of the time-indexed columns of ``arr``."""
    starts = np.zeros(arr.instance.n, dtype=np.int64)
    for i in range(arr.instance.n):
        lo, hi = arr.col_offset[i], arr.col_offset[i + 1]
        starts[i] = arr.start[lo + int(np.argmax(x[lo:hi]))]
    return starts


STALL_FOR_TESTS = 0.0
"""Seconds the MILP child process sleeps before solving (tests of the hard deadline only)."""


def solve_milp(instance: Instance, *, deadline: Deadline | None = None, seed: int | None = None,
               threads: int = 1, incumbent: Any = None, symmetry_breaking: bool = True,
               engine: str = "highspy", msg: bool = False, tail_families: int = 0,
               warm_start: str = "local-search", warm_start_time: float | None = None,
               isolate: bool | None = None, max_model_bytes: float = DEFAULT_MAX_MODEL_BYTES,
               **highs_options: Any) -> Result:
    """Solve the time-indexed MILP with HiGHS; registry entry ``milp``.

    Options: ``threads`` (HiGHS threads, default 1 for reproducibility),
    ``seed`` (HiGHS ``random_seed``, default 0), ``incumbent`` (a feasible start
    vector: horizon and MIP start), ``warm_start`` (how to get one when no
    ``incumbent`` is given: ``"local-search"``, default, or ``"serial"``; see
    :func:`lpsched.models.incumbent.warm_start`), ``warm_start_time`` (its seconds,
    part of the time limit; default 10% of it, at most 10 s), ``isolate`` (solve in
    a child process that is killed at the hard deadline,
    :mod:`lpsched.models.highs_process`; default: when there is a time limit and the
    model has more than ``ISOLATE_NONZEROS`` memory non-zeros, where HiGHS was seen
    to overrun its limit), ``symmetry_breaking``, ``engine``
    (``"highspy"``: load the sparse model straight into highspy, fast;
    ``"pulp"``: build the :func:`build_time_indexed` PuLP problem and solve it
    through PuLP's HiGHS interface - the same model, slower to load),
    ``msg`` (solver log), ``tail_families`` (engine highspy: add the disjoint-tail
    clique rows of :mod:`lpsched.models.tails` for that many families; valid
    inequalities, default 0), ``max_model_bytes`` (the memory guard: a model
    estimated larger is not built, :func:`estimate_model_bytes`), and any HiGHS
    option by name. HiGHS ``presolve`` is ``"off"`` by default: on this model it
    removes nothing, and it runs without an interrupt callback, so with it on a 60 s
    limit ran 94-205 s on the n = 40-60 synthetic family (pass ``presolve="on"`` to
    restore it).

    ``lower_bound`` is the larger of HiGHS's MIP dual bound (rounded up:
    objectives are integers) and the combinatorial bound; status ``optimal``
    only when HiGHS reports ``kOptimal`` with zero gap.
    """
    from lpsched.models.combinatorial import combined_bound
    from lpsched.models.highs_process import run_mip_in_child

    deadline = Deadline.coerce(deadline)
    limited = deadline.limited
    t0 = time.perf_counter()
    incumbent, ws_stats = solver_incumbent(instance, incumbent, warm_start, deadline,
                                          warm_start_time, seed)
    w = start_windows(instance, incumbent)
    warm = _relabel_twins(instance, w.incumbent) if symmetry_breaking else w.incumbent
    opts = {"mip_rel_gap": 0.0, "random_seed": 0 if seed is None else int(seed),
            "presolve": "off"}
    opts.update(highs_options)
    nnz = int((w.sizes * instance.decode).sum())
    est = estimate_model_bytes(int(w.sizes.sum()), nnz, engine)
    comb = float(combined_bound(instance))
    if est > max_model_bytes:
        return guarded_result("milp", instance, w.incumbent, comb, est, max_model_bytes, t0,
                              {"memory_nonzeros": nnz, "columns": int(w.sizes.sum()),
                               **ws_stats})
    if isolate is None:
        isolate = engine == "highspy" and limited and nnz > ISOLATE_NONZEROS
    if isolate and (engine != "highspy" or not limited):
        raise OptionError("milp: isolate=True needs engine='highspy' and a time limit")
    search = deadline.for_search()
    if engine == "pulp":
        model = build_time_indexed(instance, windows=w, symmetry_breaking=symmetry_breaking)
        build_time = time.perf_counter() - t0
        solver = highs_solver(time_limit=search.solver_seconds(), threads=threads, msg=msg,
                              **opts)
        solver.deadline = search
        model.problem.solve(solver)
        h = model.problem.solverModel
        ran, why = h._lpsched_ran
        out = read_highs_outcome(h)
        run = MipRun(ran, why, status_name(h), out,
                     model.starts_from_values() if out.has_solution else None,
                     model.arrays.ncols, int(model.arrays.A_mem.shape[0]))
    elif isolate:
        prep = time.perf_counter() - t0
        run = run_mip_in_child(instance, w, warm, symmetry_breaking=symmetry_breaking,
                               tail_families=tail_families,
                               options={"output_flag": bool(msg), "threads": int(threads),
                                        **opts},
                               deadline=deadline, stall=STALL_FOR_TESTS)
        build_time = prep + (run.build_seconds or 0.0)
    else:
        prep = time.perf_counter() - t0
        run = run_mip_model(instance, w, warm, symmetry_breaking=symmetry_breaking,
                            tail_families=tail_families,
                            options={"output_flag": bool(msg), "threads": int(threads), **opts},
                            deadline=search)
        build_time = prep + run.build_seconds
    out = run.outcome
    runtime = time.perf_counter() - t0
    dual = out.dual_bound if out is not None else run.reported_dual_bound
    if dual is not None and not math.isfinite(dual):
        dual = None
    stats = {"highs_status": out.status if out is not None else run.model_status,
             "mip_gap": out.gap if out is not None else None, "mip_dual_bound": dual,
             "nodes": out.nodes if out is not None else None,
             "columns": run.columns if run.columns is not None else int(w.sizes.sum()),
             "memory_rows": run.memory_rows, "memory_nonzeros": nnz,
             "model_bytes_estimate": int(est),
             "horizon": w.horizon, "upper_bound_initial": w.upper_bound,
             "build_time": round(build_time, 4), "engine": engine,
             "isolated": bool(isolate), **ws_stats}
    st = run.model_status
    if not run.ran:
        return Result("milp", SolveStatus.ERROR, runtime=runtime, stats=stats, message=run.why)
    lb = comb if dual is None else max(comb, float(math.ceil(dual - 1e-6)))
    starts = run.starts
    if starts is None:
        if st == "kInfeasible":
            return Result("milp", SolveStatus.ERROR, runtime=runtime, stats=stats,
                          message="HiGHS reported the model infeasible although the "
                                  "incumbent lies inside it")
        starts = w.incumbent
        msg_ = "" if st == "killed" else \
            f"HiGHS {stats['highs_status']} without a solution; returning the incumbent"
    else:
        msg_ = ""
    obj = int((starts + instance.decode - instance.arrival).sum())
    lb = min(lb, float(obj))
    gap = None if out is None else out.gap
    if st == "kOptimal" and (lb >= obj or (gap is not None and gap <= 1e-9)):
        status, lb = SolveStatus.OPTIMAL, float(obj)
    elif st in ("kTimeLimit", "kInterrupt", "killed"):
        status = SolveStatus.TIME_LIMIT
        if st == "kInterrupt":
            msg_ = (msg_ + "; " if msg_ else "") + "HiGHS stopped by the wall-clock deadline"
        if st == "killed":
            got = [w_ for w_, v in (("solution", run.starts), ("dual bound", dual))
                   if v is not None]
            msg_ = ("HiGHS did not stop at the time limit; its process was killed after "
                    f"{runtime:.1f} s; " + (f"using the last {' and '.join(got)} it reported"
                                           if got else "it had reported no solution and no "
                                           "bound: warm start and combinatorial bound"))
    elif lb >= obj:
        status = SolveStatus.OPTIMAL
    else:
        status = SolveStatus.TIME_LIMIT
        msg_ = (msg_ + "; " if msg_ else "") + f"HiGHS stopped: {stats['highs_status']}"
    return Result("milp", status, obj, lb, runtime, Schedule(instance, starts), message=msg_,
                  stats=stats)
