"""The redundant lower-staircase cumulative of ``cpsat`` (option ``ramp_pieces``).

Validity (``formulations/cpsat.md``, "Lower ramps"): the constraint never removes a
feasible schedule; with one piece per decode token it is the exact staircase, so it
alone accepts exactly the feasible schedules; and ``cpsat`` with it returns the DP's
optimum (an independent exact algorithm) on random small instances.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from ortools.sat.python import cp_model

from lpsched.check import check
from lpsched.generators import mcsf_synthetic, random_instance
from lpsched.models.cpsat import _add_lower_ramps, build_cpsat, ramp_breakpoints
from lpsched.models.windows import horizon_windows
from lpsched.options import OptionError
from lpsched.schedule import SolveStatus
from lpsched.solve import solve
from tests.strategies import examples, instances, start_cases


def _ramps_accept(inst, p, pieces: int) -> bool:
    """Only the lower-ramp cumulative (no other memory constraint), starts fixed to ``p``."""
    model = cp_model.CpModel()
    starts = [model.NewConstant(int(x)) for x in p]
    _add_lower_ramps(model, inst, starts, pieces)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    return solver.Solve(model) == cp_model.OPTIMAL


def test_breakpoints_are_increasing_from_one_to_the_decode_length():
    for o in range(1, 40):
        for k in range(1, 10):
            d = ramp_breakpoints(o, k)
            assert d[0] == 1 and d[-1] == o and len(d) <= k + 1
            assert all(x < y for x, y in zip(d, d[1:]))
        assert ramp_breakpoints(o, o) == list(range(1, o + 1))
    with pytest.raises(ValueError):
        ramp_breakpoints(3, 0)


def test_lower_ramps_never_cut_a_feasible_schedule_and_full_ramps_are_exact():
    seen = {True: 0, False: 0}
    for k, inst, p in start_cases(150, seed=11):
        feasible = check(inst, p).feasible
        seen[feasible] += 1
        assert _ramps_accept(inst, p, 99) == feasible, (k, p.tolist())  # exact staircase
        for pieces in (1, 2, 3):
            if feasible:
                assert _ramps_accept(inst, p, pieces), (k, pieces, p.tolist())
    assert seen[True] > 10 and seen[False] > 10


def test_events_model_with_ramps_accepts_exactly_the_feasible_schedules():
    rng = np.random.default_rng(5)
    for k in range(80):
        inst = random_instance(4, 12, k, max_decode=6)
        p = inst.arrival + rng.integers(0, 8, size=inst.n)
        m = build_cpsat(inst, windows=horizon_windows(inst, 40), hint=False,
                        symmetry_breaking=False, ramp_pieces=2)
        for v, pi in zip(m.start, p.tolist()):
            m.model.add(v == pi)
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        assert (solver.Solve(m.model) == cp_model.OPTIMAL) == check(inst, p).feasible


@settings(max_examples=examples(40))
@given(instances(max_n=6, max_memory=16, max_decode=8))
def test_cpsat_with_ramps_matches_the_dp(inst):
    dp = solve(inst, "dp", time_limit=30)
    assert dp.status == SolveStatus.OPTIMAL
    for pieces in (1, 4):
        res = solve(inst, "cpsat", time_limit=30, ramp_pieces=pieces, warm_start="serial")
        assert res.status == SolveStatus.OPTIMAL, res.message
        assert res.objective == dp.objective and res.lower_bound == dp.objective
        assert check(inst, res.schedule).feasible


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(6))
def test_cpsat_with_ramps_matches_the_dp_on_the_mcsf_family(seed):
    """n = 6 instances of the benchmark family (the DP does not finish n = 8 in 60 s):
    both exact algorithms agree."""
    inst = mcsf_synthetic(6, 600 + seed)
    dp = solve(inst, "dp", time_limit=60)
    res = solve(inst, "cpsat", time_limit=60, ramp_pieces=10_000)
    assert dp.status == res.status == SolveStatus.OPTIMAL
    assert res.objective == dp.objective and check(inst, res.schedule).feasible


def test_ramp_pieces_is_validated():
    inst = random_instance(3, 10, 0, max_decode=4)
    with pytest.raises(OptionError, match="ramp_pieces"):
        solve(inst, "cpsat", time_limit=1, ramp_pieces=-1)


def test_ramp_intervals_are_counted_by_the_memory_guard():
    """The guard prices the ramp intervals: a cap between the two estimates refuses only
    the model with ramps (and then returns the warm start, checked)."""
    from lpsched.models.guard import cpsat_ramp_size, estimate_cpsat_bytes

    inst = mcsf_synthetic(12, 3)
    w = horizon_windows(inst)
    with_ramps = len(build_cpsat(inst, windows=w, ramp_pieces=10_000).model.Proto().constraints)
    without = len(build_cpsat(inst, windows=w).model.Proto().constraints)
    built = with_ramps - without - 1  # the intervals, less the one cumulative
    assert cpsat_ramp_size(inst, 10_000) == built == int(inst.decode.sum())  # o_i per request
    assert cpsat_ramp_size(inst, 0) == 0
    base = estimate_cpsat_bytes(inst)
    cap = base + 1000.0 * cpsat_ramp_size(inst, 10_000)
    plain = solve(inst, "cpsat", time_limit=5, max_model_bytes=cap, warm_start="serial")
    ramps = solve(inst, "cpsat", time_limit=5, max_model_bytes=cap, warm_start="serial",
                  ramp_pieces=10_000)
    assert plain.stats.get("refused") is None
    assert ramps.stats["refused"] == "memory" and check(inst, ramps.schedule).feasible
