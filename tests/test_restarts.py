"""Restarts that discard progress (Schedule.restarts) and interval predictions (lpsched.predictions).

A killed attempt ``(q, e)`` held ``s + (t - q)`` in steps ``q+1 .. q+e`` and is then
lost; the checker must count that memory and that start, the schedule file must carry
it, and malformed attempts are refused naming the request and the rule.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched.check import check, memory_profile
from lpsched.errors import InstanceError
from lpsched.instance import Instance, Request
from lpsched.predictions import interval_predictions, validate_intervals
from lpsched.schedule import Result, Schedule, ScheduleError, SolveStatus, read_schedule
from tests.strategies import examples, instances

INST = Instance(10, [Request("a", 2, 4), Request("b", 1, 3, arrival=1)], name="restart")


def naive_memory_with_attempts(inst, starts, restarts):
    """Memory per step by direct summation over final runs and killed attempts."""
    pieces = [(int(inst.prefill[k]), int(inst.decode[k]), int(starts[k])) for k in range(inst.n)]
    pieces += [(int(inst.prefill[k]), e, q) for k, tries in restarts.items() for q, e in tries]
    end = max(p + o for _s, o, p in pieces)
    return [sum(s + t - p for s, o, p in pieces if p < t <= p + o) for t in range(1, end + 1)]


def test_a_killed_attempt_holds_memory_while_it_runs():
    # final runs alone fit (a: 3..6, 4+...; b: 1..3), the attempt of a at 0..3 overlaps b
    sched = Schedule(INST, [3, 1], restarts={0: [(0, 3)]})
    rep = check(INST, sched)
    assert rep.feasible
    assert rep.objective == (3 + 4) + (4 - 1)
    tight = INST.replace(memory=7)
    assert check(tight, Schedule(tight, [3, 1])).feasible  # without the attempt: fits
    bad = check(tight, Schedule(tight, [3, 1], restarts={0: [(0, 3)]}))
    assert not bad.feasible and bad.violation.step == 3  # a's attempt 5 + b's 4 at step 3


def test_a_killed_attempt_before_the_arrival_is_refused():
    rep = check(INST, Schedule(INST, [0, 2], restarts={1: [(0, 2)]}))
    assert not rep.feasible
    assert rep.arrival_violation.request == "b" and rep.arrival_violation.start == 0


@pytest.mark.parametrize("restarts,words", [
    ({0: [(0, 4)]}, "runs 4 steps (must be 1 .. o - 1 = 3"),
    ({0: [(0, 0)]}, "runs 0 steps"),
    ({0: [(0, 2), (1, 1)]}, "attempt 2 starts at 1, before attempt 1 ends at 2"),
    ({0: [(1, 3)]}, "ends at 4, after its final start 3"),
    ({0: [(0, 1.5)]}, "integer pairs"),
])
def test_malformed_restarts_name_the_request_and_the_rule(restarts, words):
    with pytest.raises(ScheduleError, match="request 'a'") as err:
        Schedule(INST, [3, 1], restarts=restarts)
    assert words in str(err.value)


def test_restarts_round_trip_through_the_schedule_file(tmp_path):
    sched = Schedule(INST, [3, 1], restarts={0: [(0, 1), (1, 2)]})
    res = Result("gsa", SolveStatus.FEASIBLE, sched.objective, schedule=sched)
    path = tmp_path / "s.json"
    res.write(path)
    assert json.loads(path.read_text())["restarts"] == {"a": [[0, 1], [1, 2]]}
    back = read_schedule(path, INST)
    assert back == sched and back.restarts == sched.restarts
    path.write_text(json.dumps({"starts": {"a": 3, "b": 1}, "restarts": {"zz": [[0, 1]]}}))
    with pytest.raises(InstanceError, match="request 'zz'"):
        read_schedule(path, INST)


@settings(max_examples=examples(60))
@given(inst=instances(max_n=4, max_memory=25, max_decode=8), data=st.data())
def test_checker_memory_counts_every_attempt(inst, data):
    """Random attempts before each final start: the checker's profile equals the naive sum."""
    starts, restarts = [], {}
    for k in range(inst.n):
        t, tries = int(inst.arrival[k]), []
        o = int(inst.decode[k])
        for _ in range(data.draw(st.integers(0, 2)) if o > 1 else 0):
            t += data.draw(st.integers(0, 2))
            e = data.draw(st.integers(1, o - 1))
            tries.append((t, e))
            t += e
        starts.append(t + data.draw(st.integers(0, 2)))
        if tries:
            restarts[k] = tries
    sched = Schedule(inst, starts, restarts=restarts)
    naive = naive_memory_with_attempts(inst, starts, restarts)
    steps, mem = memory_profile(inst, sched)
    assert mem.tolist() == naive[:len(mem)] and steps[-1] == len(naive)
    assert check(inst, sched).feasible == (max(naive) <= inst.memory)


# -- interval predictions ---------------------------------------------------------------------
def test_interval_validation_refuses_bad_data_naming_the_request():
    with pytest.raises(InstanceError, match="request 'b': interval lower end 5 exceeds"):
        validate_intervals(INST, [1, 5], [4, 2])
    with pytest.raises(InstanceError, match="request 'a': interval lower end must be >= 1"):
        validate_intervals(INST, [0, 1], [4, 2])
    with pytest.raises(InstanceError, match="must be an integer"):
        validate_intervals(INST, [1.5, 1], [4, 2])
    with pytest.raises(InstanceError, match="2 pairs"):
        validate_intervals(INST, [[1, 2, 3]])
    with pytest.raises(InstanceError, match="list of 2"):
        validate_intervals(INST, [1], [2])
    iv = validate_intervals(INST, [[2, 8], [3, 3]])
    assert iv.as_pairs() == [[2, 8], [3, 3]] and iv.accuracy == 0.25


@settings(max_examples=examples(60))
@given(inst=instances(max_n=8, max_memory=200, max_decode=150),
       alpha=st.floats(0.05, 1.0), seed=st.integers(0, 5))
def test_generated_intervals_contain_the_truth_at_the_asked_accuracy(inst, alpha, seed):
    iv = interval_predictions(inst, alpha, seed)
    assert iv.contains(inst.decode).all()
    assert (iv.upper <= inst.memory - inst.prefill).all()
    # before rounding l/u = alpha; l > A - 1 and u < A / alpha + 1 (A the unrounded l)
    # give l/u > alpha l / (l + 1 + alpha)
    assert np.all(iv.lower / iv.upper >= alpha * iv.lower / (iv.lower + 1 + alpha) - 1e-12)
    again = interval_predictions(inst, alpha, seed)
    assert np.array_equal(again.lower, iv.lower) and np.array_equal(again.upper, iv.upper)
    exact = interval_predictions(inst, 1.0, seed)
    assert np.array_equal(exact.lower, inst.decode) and np.array_equal(exact.upper, inst.decode)


def test_interval_accuracy_must_be_in_0_1():
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        interval_predictions(INST, 0.0)
