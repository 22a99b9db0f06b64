"""CP-SAT model (OR-Tools): memory ramps as a cumulative of staircase intervals.

Formulation (ours). One integer start ``p_i`` per request, in its provable start
window ``[a_i, u_i]`` (:mod:`lpsched.models.windows`). In step ``t`` a running
request holds ``s_i + (t - p_i)`` tokens. Indexing steps by their left time point
``tau = t - 1``, that ramp is the sum of fixed-size intervals, all ending at the
completion ``c_i = p_i + o_i``:

* one interval ``[p_i, c_i)`` with demand ``s_i`` (the prompt), and
* for ``d = 1..o_i`` an interval ``[p_i + d - 1, c_i)`` with demand 1 (the ``d``-th
  output token, stored from the step it is produced until completion).

At time point ``tau`` (step ``t = tau + 1``) with ``p_i <= tau < c_i`` the active
demand is ``s_i + #{d : p_i + d - 1 <= tau} = s_i + (t - p_i)``, exactly the
memory of DESIGN.md section 2. So one ``AddCumulative(intervals, demands, M)``
states memory feasibility exactly; CP-SAT's timetable and energetic propagation
then reason about the ramps directly. Intervals of equal demand that share the
same end are merged where possible: the ``o_i`` unit intervals are kept as is
(they differ in start), which gives ``sum_i (o_i + 1)`` intervals.

Redundant constraints: for up to ``tail_families`` families of large-peak
requests, a ``NoOverlap`` of their disjoint tails (:mod:`lpsched.models.tails`).

Objective ``min sum_i (p_i + o_i - a_i)``. Strengthening: identical requests
(same ``s, o, a``) are ordered ``p_i <= p_j`` (symmetry breaking; any schedule can
be relabelled), and the incumbent is given as a solution hint.

Deterministic by default: ``num_workers=1`` and ``random_seed=0``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from lpsched.check import check
from lpsched.instance import Instance
from lpsched.models.combinatorial import combined_bound
from lpsched.models.windows import Windows, start_windows
from lpsched.schedule import Result, Schedule, SolveStatus

__all__ = ["CpsatModel", "build_cpsat", "solve_cpsat"]


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
                symmetry_breaking: bool = True, tail_families: int = 8) -> CpsatModel:
    """Build the CP-SAT model of ``instance`` (see module docstring).

    The default windows contain every optimum of the model as built; with side
    constraints pass ``windows=horizon_windows(inst)`` (see
    :func:`lpsched.models.windows.horizon_windows`).

    Example: add a side constraint (request ``r1`` must finish by step 20) and solve::

        from ortools.sat.python import cp_model
        from lpsched.models.cpsat import build_cpsat
        from lpsched.models.windows import horizon_windows
        m = build_cpsat(inst, windows=horizon_windows(inst))
        m.model.Add(m.end[inst.index("r1")] <= 20)
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        status = solver.Solve(m.model)
        starts = [solver.Value(v) for v in m.start]
    """
    w = windows if windows is not None else start_windows(instance)
    s, o, a = instance.prefill, instance.decode, instance.arrival
    model = cp_model.CpModel()
    starts, ends, intervals, demands = [], [], [], []
    for i in range(instance.n):
        si, oi = int(s[i]), int(o[i])
        p = model.NewIntVar(int(w.earliest[i]), int(w.latest[i]), f"p_{instance.ids[i]}")
        c = model.NewIntVar(int(w.earliest[i]) + oi, int(w.latest[i]) + oi,
                            f"c_{instance.ids[i]}")
        model.Add(c == p + oi)
        starts.append(p)
        ends.append(c)
        if si > 0:
            intervals.append(model.NewFixedSizeIntervalVar(p, oi, f"prompt_{i}"))
            demands.append(si)
        for d in range(1, oi + 1):
            intervals.append(model.NewFixedSizeIntervalVar(p + (d - 1), oi - d + 1,
                                                            f"tok_{i}_{d}"))
            demands.append(1)
    model.AddCumulative(intervals, demands, instance.memory)
    if tail_families:
        from lpsched.models.tails import tail_families as families

        for f in families(instance, max_families=tail_families):
            tails = [model.NewFixedSizeIntervalVar(starts[j] + int(d), int(o[j]) - int(d),
                                                   f"tail{f.theta}_{j}")
                     for j, d in zip(f.members.tolist(), f.delta.tolist())]
            model.AddNoOverlap(tails)
    if symmetry_breaking:
        groups: dict[tuple[int, int, int], list[int]] = {}
        for i in range(instance.n):
            groups.setdefault((int(s[i]), int(o[i]), int(a[i])), []).append(i)
        for members in groups.values():
            for i, j in zip(members, members[1:]):
                model.Add(starts[i] <= starts[j])
    objective = sum(ends) - int(a.sum())
    model.Minimize(objective)
    if hint and np.all(w.incumbent <= w.latest):
        inc = w.incumbent
        if symmetry_breaking:  # relabel the incumbent so that it respects the ordering
            inc = inc.copy()
            for members in groups.values():
                inc[members] = np.sort(inc[members])
        for i in range(instance.n):
            model.AddHint(starts[i], int(inc[i]))
    return CpsatModel(model, starts, ends, objective, w, instance)


def solve_cpsat(instance: Instance, *, time_limit: float | None = None, seed: int | None = None,
                threads: int = 1, incumbent: np.ndarray | None = None,
                symmetry_breaking: bool = True, tail_families: int = 8, log: bool = False,
                **params: Any) -> Result:
    """Solve with CP-SAT; registry entry ``cpsat``.

    Options: ``threads`` (CP-SAT ``num_workers``, default 1 for determinism),
    ``seed`` (``random_seed``, default 0), ``incumbent`` (a feasible start vector
    used for the horizon and as hint), ``symmetry_breaking``, ``log``, and any
    other ``CpSolverParameters`` field by name (e.g. ``linearization_level=2``).
    The lower bound is the larger of CP-SAT's ``BestObjectiveBound`` and the
    combinatorial bound; status ``optimal`` only when CP-SAT proves it.
    """
    t0 = time.perf_counter()
    w = start_windows(instance, incumbent)
    m = build_cpsat(instance, windows=w, symmetry_breaking=symmetry_breaking,
                    tail_families=tail_families)
    solver = cp_model.CpSolver()
    prm = solver.parameters
    prm.num_workers = int(threads)
    prm.random_seed = 0 if seed is None else int(seed)
    prm.log_search_progress = bool(log)
    if time_limit is not None:
        prm.max_time_in_seconds = float(time_limit)
    for k, v in params.items():
        setattr(prm, k, v)
    st = solver.Solve(m.model)
    comb = float(combined_bound(instance))
    runtime = time.perf_counter() - t0
    stats = {"branches": solver.NumBranches(), "conflicts": solver.NumConflicts(),
             "wall_time": solver.WallTime(), "upper_bound_initial": w.upper_bound,
             "horizon": w.horizon, "intervals": int(instance.decode.sum() + instance.n)}
    if st in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        starts = np.array([solver.Value(v) for v in m.start], dtype=np.int64)
        obj = int(round(solver.ObjectiveValue()))
        bound = max(float(np.ceil(solver.BestObjectiveBound() - 1e-6)), comb)
        status = SolveStatus.OPTIMAL if st == cp_model.OPTIMAL else SolveStatus.TIME_LIMIT
        return Result("cpsat", status, obj, min(bound, obj), runtime, Schedule(instance, starts),
                      stats=stats)
    if st == cp_model.INFEASIBLE:  # impossible: the incumbent is inside the windows
        return Result("cpsat", SolveStatus.ERROR, runtime=runtime,
                      message="CP-SAT reported the model infeasible although the incumbent "
                              "lies inside it", stats=stats)
    # no solution found within the limit: fall back to the incumbent (always feasible)
    inc = w.incumbent
    rep = check(instance, inc)
    return Result("cpsat", SolveStatus.TIME_LIMIT, rep.objective, min(comb, rep.objective), runtime,
                  Schedule(instance, inc), message=f"CP-SAT status {solver.StatusName(st)}; "
                  "returning the serial incumbent", stats=stats)
