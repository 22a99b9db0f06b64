"""CP-SAT models (OR-Tools): completion events (default) or a cumulative of staircase intervals.

Both formulations (full statement and proofs: ``formulations/cpsat.md``) share one
integer start ``p_i`` per request, in its provable start window ``[a_i, u_i]``
(:mod:`lpsched.models.windows`), and the completion ``c_i = p_i + o_i``.
``P_i = s_i + o_i`` is the memory request ``i`` holds in its completion step.

``formulation="events"`` (default):

* (E1) for every pair ``i < j``, with ``delta_ij = max(0, M - P_i - s_j)``:
  ``c_i <= p_j + delta_ij  OR  c_j <= p_i + delta_ji`` (one Boolean). Valid: if
  ``c_i <= c_j`` and ``j`` runs in step ``c_i``, memory there is at least
  ``P_i + s_j + (c_i - p_j) <= M``.
* (E2) for every ``j``: ``sum_{i != j} [p_i < c_j <= c_i] (s_i + c_j - p_i) <= M - P_j``
  with reified "``i`` runs in step ``c_j``" Booleans; pairs with
  ``P_j + s_i + 1 > M`` need no term, (E1) already keeps ``i`` out of step ``c_j``.

Memory only peaks at completion steps (``formulations/cpsat.md``), so (E2) is exact and
(E1) is redundant, a disjunctive structure with pair-specific tails on which
CP-SAT's propagation is strong.

``formulation="cumulative"``: in step ``t`` a running request holds
``s_i + (t - p_i)`` tokens. Indexing steps by their left time point
``tau = t - 1``, that ramp is the sum of fixed-size intervals, all ending at
``c_i``: ``[p_i, c_i)`` with demand ``s_i`` (the prompt) and, for ``d = 1..o_i``,
``[p_i + d - 1, c_i)`` with demand 1 (the ``d``-th output token). One
``AddCumulative(intervals, demands, M)`` then states memory feasibility exactly,
with ``sum_i (o_i + 1)`` intervals; redundant ``NoOverlap`` constraints over the
disjoint tails of :mod:`lpsched.models.tails` are added (``tail_families``).

Option ``ramp_pieces=K`` (either formulation) adds a redundant ``AddCumulative`` over
lower staircases of the ramps, ``K + 1`` intervals per request at most
(:func:`ramp_breakpoints`; measured without benefit, ``docs/exact.md``).

Objective ``min sum_i (p_i + o_i - a_i)``. Strengthening: identical requests
(same ``s, o, a``) are ordered ``p_i <= p_j`` (symmetry breaking; any schedule can
be relabelled), and the incumbent is given as a solution hint.

Deterministic by default: ``num_workers=1`` and ``random_seed=0``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from lpsched.check import check
from lpsched.instance import Instance
from lpsched.models.exact_specs import CpsatParams
from lpsched.models.guard import (
    CPSAT_BUILD_SECONDS,
    CPSAT_BYTES,
    CPSAT_STOP_SECONDS,
    BuildStopped,
    cpsat_ramp_size,
    cpsat_size,
    estimate_build_seconds,
    estimate_cpsat_bytes,
    estimate_cpsat_stop_seconds,
    memory_refusal,
    time_refusal,
)
from lpsched.models.stages import ExactSolve
from lpsched.models.symmetry import relabel_twins, twin_groups
from lpsched.models.windows import Windows, start_windows
from lpsched.options import OptionError, Passthrough
from lpsched.paging import require_unpaged
from lpsched.schedule import Result, Schedule, SolveStatus
from lpsched.stop import Deadline

__all__ = ["CPSAT_PARAMETERS", "CpsatModel", "FORMULATIONS", "build_cpsat", "ramp_breakpoints",
           "solve_cpsat"]

FORMULATIONS = ("events", "cumulative")



@dataclass
class CpsatModel:
    """The raw CP-SAT model and its variables.

    ``start[i]``/``end[i]`` are the start/completion IntVars of request ``i`` (aligned
    with ``instance.ids``); ``objective`` the linear expression minimised
    (``sum_i (c_i - a_i)``); ``windows`` the start windows used.
    """

    model: cp_model.CpModel
    start: list[cp_model.IntVar]
    end: list[cp_model.IntVar]
    objective: Any
    windows: Windows
    instance: Instance


def build_cpsat(instance: Instance, *, windows: Windows | None = None, hint: bool = True,
                symmetry_breaking: bool = True, tail_families: int | None = None,
                formulation: str = "events", ramp_pieces: int = 0,
                deadline: Deadline | None = None) -> CpsatModel:
    """Build the CP-SAT model of ``instance`` (see module docstring); a paged instance
    (``block_size > 1``) is refused (``UnsupportedInstance``).

    The ``events`` build is ``O(n^2)`` Python calls (about 85 us per pair, 5 s at n = 200):
    ``deadline`` (checked once per request) stops it with
    :class:`~lpsched.models.guard.BuildStopped`.

    ``formulation`` is ``"events"`` (default: pairwise overlap disjunctions and
    memory checked at completion steps) or ``"cumulative"`` (one cumulative of
    staircase intervals); both are exact. ``tail_families`` adds that many
    redundant disjoint-tail ``NoOverlap`` constraints (valid for both; default 8
    with ``cumulative`` and none with ``events``, where they did not help).

    ``ramp_pieces`` (``K >= 1``) adds a redundant ``AddCumulative`` over a lower
    staircase of every memory ramp with at most ``K + 1`` intervals per request
    (:func:`ramp_breakpoints`; valid for both formulations, ``formulations/cpsat.md``).

    The default windows contain every optimum of the model as built; with side
    constraints pass ``windows=horizon_windows(inst)`` (see
    :func:`lpsched.models.windows.horizon_windows`).

    Example: add a side constraint (request ``r1`` must finish by step 20) and solve::

        from ortools.sat.python import cp_model
        from lpsched.models.cpsat import build_cpsat
        from lpsched.models.windows import horizon_windows
        m = build_cpsat(inst, windows=horizon_windows(inst))
        m.model.add(m.end[inst.index("r1")] <= 20)
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        status = solver.Solve(m.model)
        starts = [solver.Value(v) for v in m.start]
    """
    require_unpaged(instance, "CP-SAT model")
    if formulation not in FORMULATIONS:
        raise ValueError(f"formulation must be one of {', '.join(FORMULATIONS)}, got {formulation!r}")
    if tail_families is None:
        tail_families = 8 if formulation == "cumulative" else 0
    w = windows if windows is not None else start_windows(instance)
    o, a = instance.decode, instance.arrival
    model = cp_model.CpModel()
    starts, ends = [], []
    for i in range(instance.n):
        oi = int(o[i])
        p = model.new_int_var(int(w.earliest[i]), int(w.latest[i]), f"p_{instance.ids[i]}")
        c = model.new_int_var(int(w.earliest[i]) + oi, int(w.latest[i]) + oi,
                            f"c_{instance.ids[i]}")
        model.add(c == p + oi)
        starts.append(p)
        ends.append(c)
    if formulation == "cumulative":
        _add_cumulative(model, instance, starts, deadline)
    else:
        _add_events(model, instance, starts, ends, deadline)
    if ramp_pieces:
        _add_lower_ramps(model, instance, starts, ramp_pieces, deadline)
    if tail_families:
        from lpsched.models.tails import tail_families as families

        for f in families(instance, max_families=tail_families):
            tails = [model.new_fixed_size_interval_var(starts[j] + int(d), int(o[j]) - int(d),
                                                   f"tail{f.theta}_{j}")
                     for j, d in zip(f.members.tolist(), f.delta.tolist())]
            model.add_no_overlap(tails)
    if symmetry_breaking:
        for members in twin_groups(instance):
            for i, j in zip(members, members[1:]):
                model.add(starts[i] <= starts[j])
    objective = sum(ends) - int(a.sum())
    model.minimize(objective)
    if hint and np.all(w.incumbent <= w.latest):
        # relabel the incumbent so that it respects the ordering
        inc = relabel_twins(instance, w.incumbent) if symmetry_breaking else w.incumbent
        for i in range(instance.n):
            model.add_hint(starts[i], int(inc[i]))
    return CpsatModel(model, starts, ends, objective, w, instance)


def _stop_at(deadline: Deadline | None, i: int) -> None:
    if deadline is not None and deadline.expired():
        raise BuildStopped(f"the CP-SAT model build stopped at the deadline (request {i})")


def _add_cumulative(model: cp_model.CpModel, instance: Instance, starts: list,
                    deadline: Deadline | None = None) -> None:
    """Memory as one cumulative of staircase intervals (exact; module docstring)."""
    s, o = instance.prefill, instance.decode
    intervals, demands = [], []
    for i in range(instance.n):
        _stop_at(deadline, i)
        si, oi = int(s[i]), int(o[i])
        if si > 0:
            intervals.append(model.new_fixed_size_interval_var(starts[i], oi, f"prompt_{i}"))
            demands.append(si)
        for d in range(1, oi + 1):
            intervals.append(model.new_fixed_size_interval_var(starts[i] + (d - 1), oi - d + 1,
                                                            f"tok_{i}_{d}"))
            demands.append(1)
    model.add_cumulative(intervals, demands, instance.memory)


def ramp_breakpoints(decode: int, pieces: int) -> list[int]:
    """Breakpoints ``1 = d_0 < d_1 < ... < d_K = o`` of the lower staircase of one ramp.

    At most ``pieces + 1`` distinct values, evenly spaced in ``[1, o]``; with
    ``pieces >= o - 1`` every ``d = 1..o`` (the exact staircase).

    >>> ramp_breakpoints(9, 4), ramp_breakpoints(3, 8), ramp_breakpoints(1, 4)
    ([1, 3, 5, 7, 9], [1, 2, 3], [1])
    """
    if decode < 1 or pieces < 1:
        raise ValueError(f"need decode >= 1 and pieces >= 1, got {decode}, {pieces}")
    k = min(pieces, decode - 1)
    return sorted({1 + (q * (decode - 1)) // k for q in range(k + 1)}) if k else [1]


def _add_lower_ramps(model: cp_model.CpModel, instance: Instance, starts: list, pieces: int,
                     deadline: Deadline | None = None) -> None:
    """Redundant cumulative of lower staircases (``formulations/cpsat.md``, "Lower ramps").

    With ``tau = t - 1``, request ``i`` holds ``s_i + tau + 1 - p_i`` tokens for
    ``p_i <= tau < c_i``, so at least ``s_i + d_k`` once ``tau >= p_i + d_k - 1``: the
    intervals ``[p_i, c_i)`` with demand ``s_i + 1`` and ``[p_i + d_k - 1, c_i)`` with
    demand ``d_k - d_{k-1}`` (``k >= 1``) sum to at most the true memory at every step,
    which is at most ``M``.
    """
    s, o = instance.prefill, instance.decode
    intervals, demands = [], []
    for i in range(instance.n):
        _stop_at(deadline, i)
        si, oi = int(s[i]), int(o[i])
        d = ramp_breakpoints(oi, pieces)
        intervals.append(model.new_fixed_size_interval_var(starts[i], oi, f"ramp_{i}_0"))
        demands.append(si + 1)
        for k in range(1, len(d)):
            intervals.append(model.new_fixed_size_interval_var(starts[i] + (d[k] - 1),
                                                           oi - d[k] + 1, f"ramp_{i}_{k}"))
            demands.append(d[k] - d[k - 1])
    model.add_cumulative(intervals, demands, instance.memory)


def _add_events(model: cp_model.CpModel, instance: Instance, starts: list, ends: list,
                deadline: Deadline | None = None) -> None:
    """Pairwise overlap disjunctions + memory at completion steps (exact; module docstring)."""
    s, P, M, n = instance.prefill, instance.peak, instance.memory, instance.n
    for i in range(n):
        _stop_at(deadline, i)
        for j in range(i + 1, n):
            d_ij = max(0, M - int(P[i]) - int(s[j]))
            d_ji = max(0, M - int(P[j]) - int(s[i]))
            first = model.new_bool_var(f"tailorder_{i}_{j}")
            model.add(ends[i] <= starts[j] + d_ij).only_enforce_if(first)
            model.add(ends[j] <= starts[i] + d_ji).only_enforce_if(first.negated())
    for j in range(n):
        _stop_at(deadline, j)
        room = M - int(P[j])
        terms = []
        for i in range(n):
            # i running in step c_j needs P_j + s_i + 1 <= M; otherwise the pair's
            # disjunction already keeps i out of step c_j (module docstring)
            if i == j or int(s[i]) + 1 > room:
                continue
            active = model.new_bool_var(f"active_{i}_at_c_{j}")
            before = model.new_bool_var(f"p_{i}_ge_c_{j}")
            done = model.new_bool_var(f"c_{i}_lt_c_{j}")
            model.add(starts[i] >= ends[j]).only_enforce_if(before)
            model.add(ends[i] < ends[j]).only_enforce_if(done)
            model.add_bool_or([active, before, done])
            held = model.new_int_var(0, room, f"mem_{i}_at_c_{j}")
            model.add(held >= int(s[i]) + ends[j] - starts[i]).only_enforce_if(active)
            terms.append(held)
        if terms:
            model.add(sum(terms) <= room)


def _is_cpsat_parameter(name: str) -> bool:
    from ortools.sat import sat_parameters_pb2

    return name in sat_parameters_pb2.SatParameters.DESCRIPTOR.fields_by_name


CPSAT_PARAMETERS = Passthrough("CP-SAT parameter", _is_cpsat_parameter,
                               "any CpSolverParameters field by name, e.g. "
                               "linearization_level=2")
"""CP-SAT parameters accepted by ``cpsat`` as extra keyword options (checked by name)."""


def _solve_stoppable(solver: cp_model.CpSolver, model: cp_model.CpModel,
                     deadline: Deadline) -> Any:
    """``solver.Solve(model)`` in a worker thread; this thread stops the search when
    ``deadline`` expires or is cancelled (Ctrl-C reaches Python only here, not while the
    solver holds the main thread)."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["status"] = solver.Solve(model)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    th = threading.Thread(target=work, name="cpsat-solve", daemon=True)
    th.start()
    stopped = False
    while th.is_alive():
        th.join(0.05)
        if not stopped and deadline.expired():
            solver.StopSearch()
            stopped = True
    if "error" in box:
        raise box["error"]
    return box["status"]


def solve_cpsat(instance: Instance, params: CpsatParams | None = None, *,
                deadline: Deadline | None = None, seed: int | None = None,
                **options: Any) -> Result:
    """Solve with CP-SAT; registry entry ``cpsat``.

    The options are the fields of ``params``
    (:class:`~lpsched.models.exact_specs.CpsatParams`, default its defaults), each of which
    may also be given by keyword (the registry's way; a keyword overrides ``params``); any
    other keyword is a ``CpSolverParameters`` field. Options: ``threads`` (CP-SAT
    ``num_workers``, default 1 for determinism), ``seed`` (``random_seed``, default 0),
    ``incumbent`` (a feasible start vector used for the horizon and as hint), ``warm_start``
    and ``warm_start_time`` (how to get one when no ``incumbent`` is given, as for
    :func:`lpsched.models.time_indexed.solve_milp`: local search for 10% of the time limit
    by default), ``symmetry_breaking``, ``formulation`` (``"events"``, default, or
    ``"cumulative"``), ``tail_families`` (redundant disjoint-tail ``NoOverlap`` families;
    default 8 for ``cumulative``, 0 for ``events``), ``ramp_pieces`` (a redundant cumulative
    of lower memory staircases with that many pieces per request; 0, the default, adds
    none), ``log``, ``max_model_bytes`` (the memory guard: a model estimated larger,
    :func:`lpsched.models.guard.estimate_cpsat_bytes`, is not built and the warm start is
    returned), and any other ``CpSolverParameters`` field by name (e.g.
    ``linearization_level=2``). The stages are those of :mod:`lpsched.models.stages`; the
    memory estimate depends on the instance only, so a model above ``max_model_bytes`` is
    refused before the warm start (which then gets the whole time). A model whose estimated
    build time plus the time CP-SAT takes to return once stopped
    (:data:`lpsched.models.guard.CPSAT_STOP_SECONDS`, up to 3 s for large models) exceeds
    half the time left is not built either; the build itself stops at the deadline; the
    search runs in a worker thread stopped by ``StopSearch`` that much before the deadline,
    or when the deadline is cancelled (Ctrl-C). The lower bound is the larger of CP-SAT's
    ``BestObjectiveBound`` and the combinatorial bound; status ``optimal`` only when CP-SAT
    proves it.
    """
    prm, solver_params = CpsatParams.split(options, params)
    ramp_pieces, formulation = prm.ramp_pieces, prm.formulation
    if int(ramp_pieces) != ramp_pieces or ramp_pieces < 0:
        raise OptionError(f"cpsat: ramp_pieces must be an integer >= 0, got {ramp_pieces!r}")
    if formulation not in FORMULATIONS:
        raise OptionError(f"cpsat: formulation must be one of {', '.join(FORMULATIONS)}, "
                          f"got {formulation!r}")
    return _CpsatSolve(instance, deadline, seed, prm, solver_params).run()


class _CpsatSolve(ExactSolve):
    """One run of :func:`solve_cpsat`; :meth:`run` calls the stages in order."""

    def __init__(self, instance: Instance, deadline: Deadline | None, seed: int | None,
                 params: CpsatParams, solver_params: dict[str, Any]):
        super().__init__("cpsat", instance, deadline, seed, params)
        self.tail_families, self.formulation = params.tail_families, params.formulation
        self.log, self.ramp_pieces = params.log, params.ramp_pieces
        self.params = solver_params
        self.stats["formulation"] = params.formulation

    def run(self) -> Result:
        self.bounds()
        size = cpsat_size(self.instance, self.formulation)
        ramp = cpsat_ramp_size(self.instance, self.ramp_pieces)
        est = estimate_cpsat_bytes(self.instance, self.formulation) \
            + CPSAT_BYTES["cumulative"][0] * ramp
        self.stats.update(model_size=size, model_bytes_estimate=int(est))
        if ramp:
            self.stats["ramp_intervals"] = ramp
        refusal = memory_refusal(est, self.max_model_bytes)
        if refusal is not None:
            return self.refuse_early(refusal)
        self.warm()
        self.windows()
        secs = estimate_build_seconds(f"cpsat-{self.formulation}", size) \
            + CPSAT_BUILD_SECONDS["cumulative"] * ramp
        stop = estimate_cpsat_stop_seconds(size, self.formulation) \
            + CPSAT_STOP_SECONDS["cumulative"] * ramp
        self.stats.update(build_seconds_estimate=round(secs, 3), stop_seconds_estimate=round(stop, 3))
        refusal = time_refusal(secs + stop, self.search)
        if refusal is not None:
            return self.refuse(refusal)
        t = time.perf_counter()
        try:
            m = build_cpsat(self.instance, windows=self.built_windows,
                            symmetry_breaking=self.symmetry_breaking,
                            tail_families=self.tail_families, formulation=self.formulation,
                            ramp_pieces=self.ramp_pieces, deadline=self.search)
        except BuildStopped as exc:
            return self.fallback(f"{exc}; returning the warm start")
        self.stats["build_time"] = round(time.perf_counter() - t, 4)
        # stop early by the time CP-SAT takes to return once stopped
        search = self.search.share(at_most=max(0.0, self.search.remaining() - stop)) \
            if self.search.limited else self.search
        solver = self.solver(search)
        st = _solve_stoppable(solver, m.model, search)
        return self.result(solver, st, m)

    def solver(self, search: Deadline) -> cp_model.CpSolver:
        """A CP-SAT solver with our parameters, limited to what is left of ``search``."""
        solver = cp_model.CpSolver()
        prm = solver.parameters
        prm.num_workers = int(self.threads)
        prm.random_seed = 0 if self.seed is None else int(self.seed)
        prm.log_search_progress = bool(self.log)
        secs = search.solver_seconds() if search.limited else None
        if secs is not None:  # the warm start and the model build count against it
            prm.max_time_in_seconds = secs
        for k, v in self.params.items():
            try:
                setattr(prm, k, v)
            except (TypeError, ValueError) as exc:
                raise OptionError(f"cpsat: CP-SAT parameter {k!r} does not accept {v!r}: {exc}"
                                  ) from None
        return solver

    def fallback(self, message: str) -> Result:
        """The warm start with the combinatorial bound (status ``time_limit``)."""
        inc = self.best_starts()
        rep = check(self.instance, inc)
        return Result("cpsat", SolveStatus.TIME_LIMIT, rep.objective,
                      min(self.comb, rep.objective), time.perf_counter() - self.t0,
                      Schedule(self.instance, inc), message=message, stats=self.stats)

    def result(self, solver: cp_model.CpSolver, st: Any, m: CpsatModel) -> Result:
        """The :class:`~lpsched.schedule.Result` of the search."""
        self.stats.update(branches=solver.NumBranches(), conflicts=solver.NumConflicts(),
                          wall_time=solver.WallTime())
        if st in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            starts = np.array([solver.Value(v) for v in m.start], dtype=np.int64)
            obj = int(round(solver.ObjectiveValue()))
            bound = max(float(np.ceil(solver.BestObjectiveBound() - 1e-6)), self.comb)
            status = SolveStatus.OPTIMAL if st == cp_model.OPTIMAL else SolveStatus.TIME_LIMIT
            return Result("cpsat", status, obj, min(bound, obj), time.perf_counter() - self.t0,
                          Schedule(self.instance, starts), stats=self.stats)
        if st == cp_model.INFEASIBLE:  # impossible: the incumbent is inside the windows
            return Result("cpsat", SolveStatus.ERROR, runtime=time.perf_counter() - self.t0,
                          message="CP-SAT reported the model infeasible although the incumbent "
                                  "lies inside it", stats=self.stats)
        # no solution found within the limit: fall back to the incumbent (always feasible)
        return self.fallback(f"CP-SAT status {solver.StatusName(st)}; returning the warm-start "
                             "incumbent")
