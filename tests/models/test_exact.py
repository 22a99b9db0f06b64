"""Exact models and bounds: cross-checked against an independent oracle on tiny instances."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings

from lpsched.check import check
from lpsched.generators import mcsf_synthetic, random_instance
from lpsched.instance import Instance, InstanceError, Request
from lpsched.models.bounds import bucket_bound, lower_bound
from lpsched.models.combinatorial import (
    area_bound,
    combined_bound,
    combined_bound_without_each,
    decode_bound,
    fractional_bound,
    mean_busy_bound,
    srpt_fluid_sum,
)
from lpsched.models.cpsat import build_cpsat, solve_cpsat
from lpsched.models.highs_mip import read_highs_outcome
from lpsched.models.incumbent import best_serial_schedule, warm_start, warm_start_budget
from lpsched.models.lp_relaxation import solve_lp_relaxation
from lpsched.models.tails import tail_bound, tail_families
from lpsched.models.time_indexed import build_time_indexed, highs_solver
from lpsched.models.windows import horizon_windows, start_windows
from lpsched.schedule import SolveStatus
from lpsched.solve import solve
from lpsched.stop import Deadline
from tests.oracle import brute_force_optimum
from tests.oracle_bb import bb_optimum
from tests.strategies import examples, instances, start_cases

TINY = dict(max_n=4, max_memory=12, max_decode=5, max_arrival=5)


@settings(max_examples=examples(40))
@given(instances(**TINY))
def test_milp_cpsat_oracle_and_bounds_agree(optimum, inst):
    """MILP optimum == CP-SAT optimum == oracle; every bound <= optimum; schedules checked
    (the default run's budget; the ``slow`` variant below draws 200 other instances)."""
    _milp_cpsat_oracle_and_bounds_agree(optimum, inst)


@pytest.mark.slow
@settings(max_examples=examples(200))
@given(instances(**TINY))
def test_milp_cpsat_oracle_and_bounds_agree_more(optimum, inst):
    _milp_cpsat_oracle_and_bounds_agree(optimum, inst)


def _milp_cpsat_oracle_and_bounds_agree(optimum, inst):
    opt, opt_starts = optimum(inst)
    milp = solve(inst, "milp", time_limit=30)
    cps = solve(inst, "cpsat", time_limit=30)
    for res in (milp, cps):
        assert res.status == SolveStatus.OPTIMAL, res.message
        assert check(inst, res.schedule).feasible
        assert res.objective == opt
        assert res.lower_bound == opt
    bounds = {
        "decode": decode_bound(inst), "area": area_bound(inst), "combined": combined_bound(inst),
        "tail": tail_bound(inst),
        "lp": solve_lp_relaxation(inst, cuts=False).value,
        "lp_cuts": solve_lp_relaxation(inst, cuts=True).value,
        "bucket1": bucket_bound(inst, width=1).value,
        "bucket3": bucket_bound(inst, width=3).value,
        "best": lower_bound(inst, "best").value,
    }
    for name, b in bounds.items():
        assert b <= opt + 1e-6, f"{name} bound {b} exceeds the optimum {opt}"
    # the horizon argument: the oracle's optimal schedule lies inside the start windows
    w = start_windows(inst)
    p = np.asarray(opt_starts)
    assert np.all(p >= w.earliest) and np.all(p <= w.latest)
    assert (p + inst.decode).max() <= w.horizon


@settings(max_examples=examples(60))
@given(instances(**TINY))
def test_both_cpsat_formulations_match_the_oracle(optimum, inst):
    """The default ``events`` formulation and the ``cumulative`` one are both exact."""
    opt = optimum(inst)[0]
    for formulation in ("events", "cumulative"):
        res = solve(inst, "cpsat", time_limit=30, formulation=formulation)
        assert res.status == SolveStatus.OPTIMAL, (formulation, res.message)
        assert res.objective == opt and check(inst, res.schedule).feasible


def test_events_formulation_refuses_infeasible_starts():
    """Fix the starts of a schedule in the events model: feasible iff the checker says so."""
    from ortools.sat.python import cp_model

    seen = {True: 0, False: 0}
    for k, inst, p in start_cases(120, seed=7):
        m = build_cpsat(inst, windows=horizon_windows(inst, 40), hint=False,
                        symmetry_breaking=False)
        for v, pi in zip(m.start, p.tolist()):
            m.model.add(v == pi)
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        feasible = solver.Solve(m.model) == cp_model.OPTIMAL
        assert feasible == check(inst, p).feasible, (k, p.tolist())
        seen[feasible] += 1
    assert seen[True] > 10 and seen[False] > 10  # both outcomes exercised


def test_cpsat_formulation_name_is_validated():
    inst = random_instance(3, 10, 0, max_decode=4)
    with pytest.raises(ValueError, match="formulation must be one of events, cumulative"):
        build_cpsat(inst, formulation="bogus")


def test_fast_oracle_matches_brute_force():
    for seed in range(25):
        inst = random_instance(3, 9, seed, max_decode=4, max_arrival=3 if seed % 2 else 0)
        args = (inst.memory, inst.prefill.tolist(), inst.decode.tolist(), inst.arrival.tolist())
        assert bb_optimum(*args)[0] == brute_force_optimum(*args)[0]


def test_every_optimal_schedule_is_inside_the_windows(optimum):
    """Enumerate ALL optimal schedules of small instances: each lies in the windows."""
    import itertools

    from tests.oracle import naive_feasible, sequential_objective

    for seed in range(12):
        inst = random_instance(3, 8, seed, max_decode=4, max_arrival=2 if seed % 2 else 0)
        s, o, a = inst.prefill.tolist(), inst.decode.tolist(), inst.arrival.tolist()
        ub = sequential_objective(s, o, a)
        opt = optimum(inst)[0]
        w = start_windows(inst)
        for p in itertools.product(*[range(ai, ai + ub - oi + 1) for ai, oi in zip(a, o)]):
            if sum(pi + oi - ai for pi, oi, ai in zip(p, o, a)) == opt and \
                    naive_feasible(inst.memory, s, o, a, p):
                assert np.all(np.asarray(p) <= w.latest), (seed, p, w.latest)


def test_bucket_width_one_is_the_lp_relaxation():
    for seed in range(8):
        inst = random_instance(5, 14, seed, max_decode=6, max_arrival=4 if seed % 2 else 0)
        lp = solve_lp_relaxation(inst, cuts=False)
        b = bucket_bound(inst, width=1)
        assert b.details["lp_value"] == pytest.approx(lp.value, abs=1e-6)


def test_combinatorial_bounds_hand_examples():
    inst = Instance(6, [Request("a", 1, 2), Request("b", 1, 2)])
    assert decode_bound(inst) == 4
    # areas 1*2+3 = 5 each; ceil(5/6) + ceil(10/6) = 1 + 2
    assert area_bound(inst) == 3
    assert combined_bound(inst) == 4
    # SRPT: two jobs of 1 unit released at 0 -> completions 1, 2
    assert srpt_fluid_sum(np.array([3, 3]), np.array([0, 0]), 3.0) == pytest.approx(3.0)
    # preemption: long job at 0, short job at 1 -> short done at 2, long at 4
    assert srpt_fluid_sum(np.array([3, 1]), np.array([0, 1]), 1.0) == pytest.approx(6.0)
    rest = combined_bound_without_each(inst)
    assert rest.tolist() == [combined_bound(inst.subset([1])), combined_bound(inst.subset([0]))]


def test_tail_families_are_disjoint_in_optimal_schedules(optimum):
    """The disjoint-tail lemma, checked on oracle optima and on every heuristic schedule."""
    for seed in range(40):
        inst = random_instance(4, 12, seed, max_decode=5, max_arrival=3 if seed % 3 == 0 else 0)
        opt, starts = optimum(inst)
        schedules = [np.asarray(starts), best_serial_schedule(inst)[0]]
        for p in schedules:
            for f in tail_families(inst):
                lo = p[f.members] + f.delta
                hi = p[f.members] + inst.decode[f.members]
                order = np.argsort(lo)
                assert np.all(lo[order][1:] >= hi[order][:-1])


def test_time_limited_solves_report_time_limit_with_checked_schedule_and_bound():
    inst = mcsf_synthetic(30, 7)
    for algo in ("milp", "cpsat"):
        res = solve(inst, algo, time_limit=2)
        assert res.status == SolveStatus.TIME_LIMIT
        assert res.schedule is not None and check(inst, res.schedule).feasible
        assert res.lower_bound is not None and res.lower_bound < res.objective
        assert res.lower_bound >= combined_bound(inst)


def test_request_that_cannot_fit_is_refused_before_any_solver(tmp_path, monkeypatch, capsys):
    import json

    import lpsched.models.cpsat as cps
    import lpsched.models.time_indexed as ti
    from lpsched.cli import main

    called = []
    monkeypatch.setattr(ti, "solve_milp", lambda *a, **k: called.append(1))
    monkeypatch.setattr(cps, "solve_cpsat", lambda *a, **k: called.append(1))
    with pytest.raises(InstanceError, match="big.*exceeds memory 10"):
        Instance(10, [Request("ok", 1, 2), Request("big", 4, 7)])
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"name": "bad", "memory": 10, "requests": [
        {"id": "ok", "prefill": 1, "decode": 2}, {"id": "big", "prefill": 4, "decode": 7}]}))
    for algo in ("milp", "cpsat"):
        assert main(["solve", str(path), "--algo", algo]) == 2
        err = capsys.readouterr().err
        assert "big" in err and "exceeds memory" in err and err.count("\n") == 1
    assert called == []


def test_milp_pulp_engine_equals_highspy_engine_and_oracle(optimum):
    for seed in range(4):
        inst = random_instance(4, 12, seed, max_decode=5, max_arrival=3 * (seed % 2))
        a = solve(inst, "milp", engine="pulp")
        b = solve(inst, "milp", engine="highspy")
        assert a.status == b.status == SolveStatus.OPTIMAL
        assert a.objective == b.objective == optimum(inst)[0]


def test_milp_bound_read_from_highs_not_pulp_status():
    """A time-limited PuLP solve: PuLP says 'Optimal', HiGHS says time limit with a gap."""
    import pulp

    inst = mcsf_synthetic(18, 3)
    m = build_time_indexed(inst)
    m.problem.solve(highs_solver(time_limit=0.5))
    out = read_highs_outcome(m.problem)
    assert pulp.LpStatus[m.problem.status] == "Optimal"  # PuLP's misleading mapping
    assert out.status == "Time limit reached"
    assert out.gap is None or out.gap > 0


def test_time_indexed_builder_with_side_constraint():
    import pulp

    inst = Instance(8, [Request("a", 2, 3), Request("b", 1, 4), Request("c", 0, 2)])
    base = solve(inst, "milp")
    m = build_time_indexed(inst, windows=horizon_windows(inst))
    i = inst.index("b")
    # side constraint: b must not start before step 3
    m.problem += pulp.lpSum(v for (j, k), v in m.x.items() if j == i and k < 3) == 0, "b_late"
    m.problem.solve(highs_solver())
    out = read_highs_outcome(m.problem)
    assert out.status == "Optimal"
    p = m.starts_from_values()
    assert p[i] >= 3 and check(inst, p).feasible
    assert out.objective >= base.objective


def test_cpsat_builder_with_side_constraint_and_determinism():
    from ortools.sat.python import cp_model

    inst = random_instance(5, 14, 3, max_decode=6)
    m = build_cpsat(inst, windows=horizon_windows(inst))
    m.model.add(m.end[0] <= m.start[1])  # r0 must finish before r1 starts
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    assert solver.Solve(m.model) == cp_model.OPTIMAL
    p = np.array([solver.Value(v) for v in m.start])
    assert p[0] + inst.decode[0] <= p[1] and check(inst, p).feasible
    r1 = solve_cpsat(inst, seed=3)
    r2 = solve_cpsat(inst, seed=3)
    assert r1.objective == r2.objective and np.array_equal(r1.schedule.starts, r2.schedule.starts)


def test_time_limited_cut_loop_returns_the_last_solved_lp(monkeypatch):
    """Deadline hit during separation: the plain LP (solved before) is returned, cuts dropped."""
    import time

    import lpsched.models.tails as tails

    inst = mcsf_synthetic(8, 1)
    plain = solve_lp_relaxation(inst, cuts=False)
    full = solve_lp_relaxation(inst, cuts=True)
    assert full.cut_rounds >= 1 and full.value > plain.value + 1e-6  # cuts matter here
    real = tails.separate_tail_rows

    def slow(*args, **kwargs):
        time.sleep(1.2)
        return real(*args, **kwargs)

    monkeypatch.setattr(tails, "separate_tail_rows", slow)
    lp = solve_lp_relaxation(inst, cuts=True, time_limit=1.0)
    assert lp.status == "optimal" and lp.cut_rounds == 0 and lp.cut_rows == []
    assert lp.value == pytest.approx(plain.value, abs=1e-6)


def test_lp_relaxation_exposes_fractional_completions():
    inst = random_instance(6, 15, 2, max_decode=6, max_arrival=3)
    lp = solve_lp_relaxation(inst)
    assert lp.status == "optimal"
    mass = np.zeros(inst.n)
    for (i, k), v in lp.x.items():
        mass[i] += v
        assert k >= inst.arrival[i]
    assert np.allclose(mass, 1.0)
    assert np.allclose(lp.mean_completion, lp.mean_start + inst.decode)
    assert np.all(lp.mean_start >= inst.arrival - 1e-9)
    # the LP objective is the sum of fractional latencies
    assert float((lp.mean_completion - inst.arrival).sum()) == pytest.approx(lp.value, rel=1e-6)


def test_warm_start_incumbent_is_used_and_never_worse():
    inst = mcsf_synthetic(12, 5)
    inc, ub = best_serial_schedule(inst)
    for algo in ("milp", "cpsat"):
        res = solve(inst, algo, time_limit=1, incumbent=inc)
        assert res.objective <= ub
        assert math.isfinite(res.lower_bound)


@settings(max_examples=examples(25))
@given(instances(max_n=14, max_memory=30, max_decode=12, max_arrival=8))
def test_local_search_warm_start_is_feasible_and_never_worse_than_serial(inst):
    _, serial_obj = best_serial_schedule(inst)
    starts, stats = warm_start(inst, "local-search", budget=0.2, seed=0)
    rep = check(inst, starts)
    assert rep.feasible, rep.reason()
    assert rep.objective == stats["warm_start_objective"] <= serial_obj
    assert stats["warm_start_from"] in ("serial", "local-search")
    if stats["warm_start_from"] == "local-search":
        assert rep.objective < serial_obj


def test_exact_solvers_start_from_the_local_search_warm_start():
    inst = mcsf_synthetic(30, 7)
    _, serial_obj = best_serial_schedule(inst)
    for algo in ("milp", "cpsat"):
        res = solve(inst, algo, time_limit=3)
        assert res.stats["warm_start"] == "local-search"
        # local search beats serial on this instance; the solver keeps at least that
        assert res.stats["warm_start_from"] == "local-search"
        assert res.objective <= res.stats["warm_start_objective"] < serial_obj
        assert res.stats["upper_bound_initial"] == res.stats["warm_start_objective"]
        off = solve(inst, algo, time_limit=3, warm_start="serial")
        assert off.stats["warm_start_from"] == "serial"
        assert off.stats["upper_bound_initial"] == serial_obj


def test_warm_start_options_are_validated(tmp_path, capsys):
    from lpsched.cli import main

    inst = mcsf_synthetic(6, 1)
    with pytest.raises(ValueError, match="option 'warm_start' must be one of"):
        solve(inst, "cpsat", time_limit=1, warm_start="greedy")
    with pytest.raises(ValueError, match="option 'warm_start_time' must be >= 0"):
        solve(inst, "milp", time_limit=1, warm_start_time=-1)

    def seconds(d):
        return round(d.remaining(), 1)
    assert seconds(warm_start_budget(Deadline(60.0))) == 6.0
    assert seconds(warm_start_budget(Deadline(1000.0))) == 10.0
    assert seconds(warm_start_budget(Deadline.none())) == 2.0
    assert seconds(warm_start_budget(Deadline(60.0), 0.0)) == 0.0
    path = tmp_path / "inst.json"
    from lpsched.instance import write_json
    write_json(inst, path)
    code = main(["solve", str(path), "--algo", "milp", "--time-limit", "1",
                 "--options", '{"warm_start": "greedy"}'])
    err = capsys.readouterr().err
    assert code == 2 and "option 'warm_start' must be one of" in err and "Traceback" not in err


def test_isolated_milp_matches_the_in_process_solve_and_the_oracle(optimum):
    for seed in (3, 4):
        inst = random_instance(5, 12, seed, max_decode=5, max_arrival=3)
        opt, _ = optimum(inst)
        inline = solve(inst, "milp", time_limit=30)
        child = solve(inst, "milp", time_limit=30, isolate=True)
        assert child.stats["isolated"] and not inline.stats["isolated"]
        for res in (inline, child):
            assert res.status == SolveStatus.OPTIMAL and res.objective == opt == res.lower_bound


def test_milp_child_that_overruns_is_killed_and_returns_the_warm_start(monkeypatch):
    """A HiGHS phase that reports nothing (simulated by a sleep in the child) is cut off
    at the hard deadline; without the kill this solve would take 120 s."""
    import lpsched.models.time_indexed as ti

    inst = mcsf_synthetic(12, 5)
    monkeypatch.setattr(ti, "STALL_FOR_TESTS", 120.0)
    # 2 s: at 1 s the build-time guard (child start ~0.6 s > half the time left) refuses
    res = solve(inst, "milp", time_limit=2, isolate=True)
    assert res.status == SolveStatus.TIME_LIMIT
    assert "killed" in res.message and "no solution and no bound" in res.message
    assert res.runtime < 2 + 1.0  # the contract: L + max(1 s, 5% of L)
    assert check(inst, res.schedule).feasible
    assert res.objective == res.stats["warm_start_objective"]
    assert res.lower_bound == combined_bound(inst)
    with pytest.raises(ValueError, match="isolate=True needs"):
        solve(inst, "milp", isolate=True, engine="pulp")


def assert_names_its_source(b):
    """The bound names the component whose value it returns (issue 19 item 5)."""
    src = b.details["source"]
    assert b.details.get("best_of", src) == src
    if src in ("lp", "bucket"):  # the LP value rounded up (1e-6: the solver's tolerance)
        assert b.value == math.ceil(b.details["lp_value"] - 1e-6)
    elif src != "config":
        assert b.details[src] == b.value


def test_best_bound_switches_to_buckets_for_large_models():
    inst = mcsf_synthetic(40, 11)
    ub = best_serial_schedule(inst)[1]
    b = lower_bound(inst, "best", max_columns=1000, bucket_columns=5000)
    assert_names_its_source(b)
    assert "width" in b.details and b.details["width"] > 1
    assert combined_bound(inst) <= b.value <= ub


def test_milp_after_a_user_pulp_highs_solve_with_other_threads(optimum):
    """HiGHS's global scheduler: a prior solve with default threads must not break ours."""
    import pulp

    from lpsched.library import load_instance

    prob = build_time_indexed(load_instance("tiny-3")).problem
    prob.solve(pulp.HiGHS(msg=False))
    inst = Instance(12, [Request("a", 8, 1)] + [Request(x, 1, 3) for x in "bcd"])
    res = solve(inst, "milp", time_limit=60)
    assert res.status == SolveStatus.OPTIMAL and res.objective == optimum(inst)[0]
    assert solve(inst, "milp", engine="pulp", threads=2).status == SolveStatus.OPTIMAL


def test_highs_that_did_not_run_is_an_error(monkeypatch):
    import lpsched.models.highs_mip as hm
    import lpsched.models.time_indexed as ti

    for mod, engine in ((hm, "highspy"), (ti, "pulp")):
        monkeypatch.setattr(mod, "run_highs", lambda h: (False, "HiGHS did not solve the model: test"))
        res = solve(random_instance(3, 10, 1, max_decode=4), "milp", time_limit=5, engine=engine)
        assert res.status == SolveStatus.ERROR and "did not solve" in res.message


def test_library_solves_are_silent_on_stdout():
    import subprocess
    import sys

    code = ("from lpsched import Instance, Request, solve\n"
            "inst = Instance(12, [Request('a', 8, 1), Request('b', 1, 3)])\n"
            "solve(inst, 'milp'); solve(inst, 'cpsat')\n"
            "from lpsched.models.bounds import lower_bound; lower_bound(inst, 'best')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=str(__import__("pathlib").Path(__file__).resolve().parents[2]))
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""


def test_lower_bound_on_long_requests_stays_fast_and_honours_time_limit():
    import time

    inst = random_instance(60, 65536, 1, max_decode=2000, max_prefill=8000)
    t = time.perf_counter()
    b = lower_bound(inst, "best", time_limit=10)
    assert time.perf_counter() - t < 30
    assert_names_its_source(b)
    assert b.value >= combined_bound(inst)
    with pytest.raises(ValueError, match="non-zeros"):
        lower_bound(inst, "lp")
    tiny_budget = lower_bound(inst, "best", time_limit=1e-6)
    assert tiny_budget.value == max(combined_bound(inst), tail_bound(inst),
                                    fractional_bound(mean_busy_bound(inst)))
    assert tiny_budget.details["lp_status"] == "time_limit"


def test_infeasible_incumbent_is_refused():
    inst = Instance(6, [Request("a", 1, 2), Request("b", 1, 2), Request("c", 3, 3)])
    with pytest.raises(ValueError, match="incumbent is infeasible"):
        solve(inst, "milp", incumbent=[0, 0, 0])


@settings(max_examples=examples(40))
@given(instances(max_n=6, max_memory=20, max_decode=6, max_arrival=6))
def test_memory_rows_kept_are_exactly_those_that_can_bind(inst):
    """``memory_steps`` (O(n + T) difference arrays) against the definition: row ``t`` is
    kept iff the largest coefficients of the requests in it sum to more than ``M``; and
    ``A_mem`` holds exactly the coefficients ``s_i + t - k`` of those rows."""
    from lpsched.models.arrays import time_indexed_arrays

    w = start_windows(inst)
    arr = time_indexed_arrays(inst, w)
    t = np.arange(w.horizon + 1)
    # coefficient of column j in step t: s_i + t - k for k < t <= k + o_i
    k, i = arr.start[:, None], arr.req[:, None]
    coef = np.where((k < t) & (t <= k + inst.decode[i]), inst.prefill[i] + t - k, 0)
    top = np.zeros((inst.n, t.size), dtype=np.int64)
    np.maximum.at(top, arr.req, coef)
    kept = np.flatnonzero(top.sum(axis=0) > inst.memory)
    kept = kept[kept >= 1]
    assert arr.mem_steps.tolist() == kept.tolist()
    assert np.array_equal(arr.A_mem.toarray(), coef[:, kept].T)


def test_set_time_left_counts_from_the_run_time_so_far():
    """HiGHS's time_limit is against the object's accumulated run time: a re-solve given
    the plain time left (less than that total) stops at once; set_time_left lets it run."""
    import highspy

    from lpsched.models._highs import set_time_left
    from lpsched.models.arrays import time_indexed_arrays
    from lpsched.models.lp_relaxation import _highs_from_arrays

    h = _highs_from_arrays(time_indexed_arrays(mcsf_synthetic(12, 2200)), integer=False)
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    spent = h.getRunTime()
    assert spent > 0
    h.clearSolver()
    h.setOptionValue("time_limit", 0.5 * spent)  # "half the first run left", the old way
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kTimeLimit
    h.clearSolver()
    set_time_left(h, 60.0)
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
