"""Time-indexed MILP (PuLP model, solved by HiGHS through highspy).

The reference formulation (``formulations/time-indexed.md``; Sousa & Wolsey 1992 style
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
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
import pulp

from lpsched.instance import Instance
from lpsched.models._highs import enforce_deadline, new_highs, run_highs, status_name
from lpsched.models.arrays import TimeIndexedArrays, time_indexed_arrays
from lpsched.models.exact_specs import MilpParams
from lpsched.models.guard import (
    BuildStopped,
    Refusal,
    estimate_build_seconds,
    estimate_model_bytes,
    memory_refusal,
    smallest_time_indexed_size,
    stop_latency_refusal,
    time_indexed_size,
    time_refusal,
)
from lpsched.models.highs_mip import MipRun, read_highs_outcome, run_mip_model
from lpsched.models.highs_process import CHILD_START_SECONDS, MipChild
from lpsched.models.stages import ExactSolve
from lpsched.models.symmetry import relabel_twins, twin_pairs
from lpsched.models.windows import Windows, start_windows
from lpsched.options import OptionError
from lpsched.schedule import Result, Schedule, SolveStatus
from lpsched.stop import Deadline

__all__ = ["ISOLATE_NONZEROS", "TimeIndexedModel", "build_time_indexed", "highs_solver",
           "solve_milp"]



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
                       warm_start: bool = True, deadline: Deadline | None = None,
                       progress: Any = None) -> TimeIndexedModel:
    """Build the time-indexed MILP of ``instance`` as a ``pulp.LpProblem``.

    ``relax=True`` builds the LP relaxation (continuous ``0 <= x <= 1``).
    ``deadline`` (checked every 256 columns and rows) stops the build with
    :class:`~lpsched.models.guard.BuildStopped`; ``progress(done, total)`` is called
    as the memory rows are added (e.g. for a progress line on stderr).

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

    def check(k: int) -> None:
        if deadline is not None and k % 256 == 0 and deadline.expired():
            raise BuildStopped(f"the time-indexed model build stopped at the deadline ({k} done)")

    for j in range(arr.ncols):
        check(j)
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
        check(r)
        if progress is not None and r % 1024 == 0:
            progress(r, arr.mem_steps.size)
        lo, hi = A.indptr[r], A.indptr[r + 1]
        expr = pulp.LpAffineExpression(
            [(xs[c], v) for c, v in zip(A.indices[lo:hi].tolist(), A.data[lo:hi].tolist())])
        con = pulp.LpConstraint(expr, sense=pulp.LpConstraintLE, rhs=instance.memory,
                                name=f"memory_{t}")
        prob += con
        memory_rows[t] = con
    if symmetry_breaking:
        for i, j in twin_pairs(instance):
            prob += (pulp.lpSum(k * x[(i, k)] for k in range(w.earliest[i], w.latest[i] + 1))
                     <= pulp.lpSum(k * x[(j, k)] for k in range(w.earliest[j], w.latest[j] + 1)),
                     f"twins_{_safe(ids[i])}_{_safe(ids[j])}")
    model = TimeIndexedModel(prob, x, assign_rows, memory_rows, w, arr, instance)
    if warm_start and np.all(w.incumbent <= w.latest):
        inc = w.incumbent.copy()
        if symmetry_breaking:
            inc = relabel_twins(instance, inc)
        model.set_warm_start(inc)
    return model


def _new_variable(prob: pulp.LpProblem, name: str, cat: str) -> pulp.LpVariable:
    """A ``[0, 1]`` variable; ``LpProblem.add_variable`` (PuLP >= 3.3) or ``LpVariable``."""
    if hasattr(prob, "add_variable"):
        return prob.add_variable(name, lowBound=0, upBound=1, cat=cat)
    return pulp.LpVariable(name, lowBound=0, upBound=1, cat=cat)  # older PuLP


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in str(name))


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


ISOLATE_NONZEROS = 50_000
"""Models with more memory-row non-zeros than this are solved in a child process
(:mod:`lpsched.models.highs_process`). In this process HiGHS answered its interrupt
callback up to 0.5 s late on a 160,000 non-zero model and 1-4 s late on 1.5 million
(phases before the root LP's first iteration call no callback); the child is killed
at the hard deadline instead, and on Ctrl-C at once."""

STALL_FOR_TESTS = 0.0
"""Seconds the MILP child process sleeps before solving (tests of the hard deadline only)."""


def solve_milp(instance: Instance, params: MilpParams | None = None, *,
               deadline: Deadline | None = None, seed: int | None = None,
               **options: Any) -> Result:
    """Solve the time-indexed MILP with HiGHS; registry entry ``milp``.

    The options are the fields of ``params``
    (:class:`~lpsched.models.exact_specs.MilpParams`, default its defaults), each of which
    may also be given by keyword (the registry's way; a keyword overrides ``params``); any
    other keyword is a HiGHS option. Options: ``threads`` (HiGHS threads, default 1 for
    reproducibility), ``seed`` (HiGHS ``random_seed``, default 0), ``incumbent`` (a feasible
    start vector: horizon and MIP start), ``warm_start`` (how to get one when no
    ``incumbent`` is given: ``"local-search"``, default, or ``"serial"``; see
    :func:`lpsched.models.incumbent.warm_start`), ``warm_start_time`` (its seconds, part of
    the time limit; default 10% of it, at most 10 s), ``isolate`` (solve in a child process
    that is killed at the hard deadline, or at once on Ctrl-C,
    :mod:`lpsched.models.highs_process`; default: when the model has more than
    :data:`ISOLATE_NONZEROS` memory non-zeros, where HiGHS in this process answers the
    deadline too late; with ``isolate=False`` or ``engine="pulp"`` and a time limit, a model
    that could overrun is not solved, :func:`lpsched.models.guard.stop_latency_refusal`),
    ``symmetry_breaking``, ``engine`` (``"highspy"``: load the sparse model straight into
    highspy, fast; ``"pulp"``: build the :func:`build_time_indexed` PuLP problem and solve
    it through PuLP's HiGHS interface - the same model, slower to load), ``msg`` (solver
    log), ``tail_families`` (engine highspy: add the disjoint-tail clique rows of
    :mod:`lpsched.models.tails` for that many families; valid inequalities, default 0),
    ``max_model_bytes`` (the memory guard: a model estimated larger is not built,
    :func:`lpsched.models.guard.estimate_model_bytes`), and any HiGHS option by name. HiGHS
    ``presolve`` is ``"off"`` by default: on this model it removes nothing, and it runs
    without an interrupt callback, so with it on a 60 s limit ran 94-205 s on the n = 40-60
    synthetic family (pass ``presolve="on"`` to restore it). The feasibility-jump heuristic
    is off too (``mip_heuristic_run_feasibility_jump=False``): the warm start is already a
    MIP start, and the heuristic runs before the root LP without calling back, 1.5 s on a
    520,000 non-zero model, so it alone overran short limits.

    Stages, each within its share of the one ``deadline``
    (:class:`~lpsched.stop.Deadline`): the combinatorial bounds; the memory guard on
    the smallest model any warm start can give (above ``max_model_bytes`` the whole
    time goes to the warm start and the model is never built); the warm start; the
    start windows; the guard on the model of those windows (memory, and a build time
    above half the time left, :mod:`lpsched.models.guard`; then local search improves
    the warm start for the rest of the time); the build and the HiGHS run (stopped
    by its interrupt callbacks at the deadline, or, in the child process, killed
    :func:`~lpsched.models.highs_process.grace_seconds` after it); the result.
    Cancelling the deadline (Ctrl-C) stops every stage the same way.

    ``lower_bound`` is the larger of HiGHS's MIP dual bound (rounded up:
    objectives are integers) and the combinatorial bound; status ``optimal``
    only when HiGHS reports ``kOptimal`` with zero gap.
    """
    opts = {"mip_rel_gap": 0.0, "random_seed": 0 if seed is None else int(seed),
            "presolve": "off", "mip_heuristic_run_feasibility_jump": False}
    prm, highs_options = MilpParams.split(options, params)
    opts.update(highs_options)
    return _MilpSolve(instance, deadline, seed, prm, opts).run()


class _MilpSolve(ExactSolve):
    """One run of :func:`solve_milp`; :meth:`run` calls the stages in order."""

    def __init__(self, instance: Instance, deadline: Deadline | None, seed: int | None,
                 params: MilpParams, highs_options: dict[str, Any]):
        super().__init__("milp", instance, deadline, seed, params)
        self.engine, self.msg, self.tail_families = params.engine, params.msg, params.tail_families
        self.isolate, self.highs_options = params.isolate, highs_options
        self.child: MipChild | None = None
        self.stats["engine"] = params.engine

    def run(self) -> Result:
        if self.isolate and self.engine != "highspy":
            raise OptionError("milp: isolate=True needs engine='highspy'")
        self.bounds()
        columns, nnz = smallest_time_indexed_size(self.instance, self.lb_rest, int(self.comb))
        shortest = int((self.instance.arrival + self.instance.decode).max())  # horizon >= it
        refusal = memory_refusal(estimate_model_bytes(columns, nnz, self.engine, shortest),
                                 self.max_model_bytes)
        if refusal is not None:
            self.stats.update(columns=columns, memory_nonzeros=nnz, sized_by="smallest windows",
                              model_bytes_estimate=int(refusal.estimate))
            return self.refuse_early(refusal)
        try:
            self.start_child(nnz)
            self.warm()
            self.windows()
            refusal = self.guard()
            if refusal is not None:
                if self.child is not None:  # not needed: free it before the local search
                    self.child.close()
                    self.child = None
                return self.refuse(refusal)
            return self.result(self.solve_model())
        finally:
            if self.child is not None:
                self.child.close()

    def start_child(self, smallest_nnz: int) -> None:
        """Start the child process now when the model will (likely) be isolated, so that its
        imports overlap the warm start (it is killed unused otherwise)."""
        if self.engine == "highspy" and self.isolate is not False \
                and (self.isolate or smallest_nnz > ISOLATE_NONZEROS // 10):
            self.child = MipChild()

    def windows(self) -> Windows:
        """The start windows, the model's size and where it will run."""
        w = super().windows()
        self.warm_vec = relabel_twins(self.instance, w.incumbent) \
            if self.symmetry_breaking else w.incumbent
        self.columns, self.nnz = time_indexed_size(self.instance, w)
        self.horizon = int(w.horizon)
        if self.isolate is None:
            self.isolate = self.engine == "highspy" and self.nnz > ISOLATE_NONZEROS
        self.stats.update(columns=self.columns, memory_nonzeros=self.nnz,
                          isolated=bool(self.isolate))
        return w

    def guard(self) -> Refusal | None:
        """The memory and build-time guards (:mod:`lpsched.models.guard`) on this model."""
        est = estimate_model_bytes(self.columns, self.nnz, self.engine, self.horizon)
        secs = estimate_build_seconds(self.engine, self.nnz)
        if self.isolate:  # the child's imports, unless they overlapped the warm start
            secs += self.child.startup_left() if self.child is not None else CHILD_START_SECONDS
        self.stats.update(model_bytes_estimate=int(est), build_seconds_estimate=round(secs, 3))
        return memory_refusal(est, self.max_model_bytes) or time_refusal(secs, self.search) \
            or (None if self.isolate else stop_latency_refusal(self.nnz, self.deadline))

    def solve_model(self) -> MipRun:
        """Build and run the model: through PuLP, in the child process, or in this process."""
        opts = {"output_flag": bool(self.msg), "threads": int(self.threads), **self.highs_options}
        prep = time.perf_counter() - self.t0
        if self.engine == "pulp":
            return self._solve_pulp()
        if self.isolate:
            child, self.child = self.child or MipChild(), None  # solve() closes it
            run = child.solve(self.instance, self.built_windows, self.warm_vec,
                              symmetry_breaking=self.symmetry_breaking,
                              tail_families=self.tail_families, options=opts,
                              deadline=self.deadline, stall=STALL_FOR_TESTS)
        else:
            run = run_mip_model(self.instance, self.built_windows, self.warm_vec,
                                symmetry_breaking=self.symmetry_breaking,
                                tail_families=self.tail_families, options=opts,
                                deadline=self.search)
        self.stats["build_time"] = round(prep + (run.build_seconds or 0.0), 4)
        return run

    def _solve_pulp(self) -> MipRun:
        try:
            model = build_time_indexed(self.instance, windows=self.built_windows,
                                       symmetry_breaking=self.symmetry_breaking,
                                       deadline=self.search)
        except BuildStopped as exc:
            self.stats["build_time"] = round(time.perf_counter() - self.t0, 4)
            return MipRun(True, str(exc), "kInterrupt", None, None, self.columns, None)
        self.stats["build_time"] = round(time.perf_counter() - self.t0, 4)
        solver = highs_solver(time_limit=self.search.solver_seconds(), threads=self.threads,
                              msg=self.msg, **self.highs_options)
        solver.deadline = self.search
        model.problem.solve(solver)
        h = model.problem.solverModel
        ran, why = h._lpsched_ran
        out = read_highs_outcome(h)
        return MipRun(ran, why, status_name(h), out,
                      model.starts_from_values() if out.has_solution else None,
                      model.arrays.ncols, int(model.arrays.A_mem.shape[0]))

    def result(self, run: MipRun) -> Result:
        """The :class:`~lpsched.schedule.Result` of a run: status, bound and message."""
        out, st = run.outcome, run.model_status
        runtime = time.perf_counter() - self.t0
        dual = out.dual_bound if out is not None else run.reported_dual_bound
        if dual is not None and not math.isfinite(dual):
            dual = None
        stats = {**self.stats, "highs_status": out.status if out is not None else st,
                 "mip_gap": out.gap if out is not None else None, "mip_dual_bound": dual,
                 "nodes": out.nodes if out is not None else None,
                 "columns": run.columns if run.columns is not None else self.columns,
                 "memory_rows": run.memory_rows}
        if not run.ran:
            return Result("milp", SolveStatus.ERROR, runtime=runtime, stats=stats, message=run.why)
        if run.starts is None and st == "kInfeasible":
            return Result("milp", SolveStatus.ERROR, runtime=runtime, stats=stats,
                          message="HiGHS reported the model infeasible although the "
                                  "incumbent lies inside it")
        starts = run.starts if run.starts is not None else self.best_starts()
        obj = self.objective(starts)
        lb = self.comb if dual is None else max(self.comb, float(math.ceil(dual - 1e-6)))
        lb = min(lb, float(obj))
        gap = None if out is None else out.gap
        if st == "kOptimal" and (lb >= obj or (gap is not None and gap <= 1e-9)):
            status, lb, message = SolveStatus.OPTIMAL, float(obj), ""
        elif lb >= obj:
            status, message = SolveStatus.OPTIMAL, ""
        else:
            status, message = SolveStatus.TIME_LIMIT, self._message(run, stats, dual, runtime)
        return Result("milp", status, obj, lb, runtime, Schedule(self.instance, starts),
                      message=message, stats=stats)

    @staticmethod
    def _message(run: MipRun, stats: dict[str, Any], dual: float | None, runtime: float) -> str:
        st = run.model_status
        if st == "killed":
            got = [w for w, v in (("solution", run.starts), ("dual bound", dual)) if v is not None]
            return ("HiGHS did not stop at the time limit; its process was killed after "
                    f"{runtime:.1f} s; " + (f"using the last {' and '.join(got)} it reported"
                                           if got else "it had reported no solution and no "
                                           "bound: warm start and combinatorial bound"))
        if run.outcome is None:  # HiGHS never ran: the deadline expired during the build
            return f"{run.why or 'the deadline expired during the model build'}; returning " \
                   "the warm start"
        parts = []
        if run.starts is None:
            parts.append(f"HiGHS {stats['highs_status']} without a solution; returning the "
                         "incumbent")
        if st == "kInterrupt":
            parts.append("HiGHS stopped by the wall-clock deadline")
        elif st != "kTimeLimit":
            parts.append(f"HiGHS stopped: {stats['highs_status']}")
        return "; ".join(parts)
