"""The shared checker: hand-computed cases and agreement with a naive per-step scan."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched.check import check, memory_at, memory_profile
from lpsched.instance import Instance, Request
from lpsched.schedule import Schedule
from tests.oracle import naive_memory
from tests.strategies import examples, instances


def make(memory, rows):
    return Instance(memory, [Request(f"r{k}", s, o, a) for k, (s, o, a) in enumerate(rows)])


def test_feasible_hand_case_metrics():
    # r0: s=2,o=3 starts 0 -> steps 1..3 memory 3,4,5; r1: s=1,o=2 starts 1 -> steps 2..3: 2,3
    inst = make(8, [(2, 3, 0), (1, 2, 1)])
    rep = check(inst, [0, 1])
    assert rep.feasible
    assert rep.violation is None
    assert rep.objective == 3 + (3 - 1)  # c0=3, c1=3 arrived at 1
    assert rep.makespan == 3
    assert rep.peak_memory == 8 and rep.peak_step == 3
    # memory 3, 6, 8 over 3 steps
    assert rep.mean_utilisation == pytest.approx((3 + 6 + 8) / (8 * 3))
    assert rep.latency["mean"] == pytest.approx(2.5)
    assert rep.latency["p50"] == pytest.approx(2.5)


def test_violation_exactly_at_a_completion_step():
    # Same schedule, budget 7: steps use 3, 6, 8 -> first violation at step 3 = c0 = c1.
    inst = make(7, [(2, 3, 0), (1, 2, 1)])
    rep = check(inst, [0, 1])
    assert not rep.feasible
    assert (rep.violation.step, rep.violation.memory, rep.violation.excess) == (3, 8, 1)
    assert rep.arrival_violation is None


def test_violation_between_completion_steps():
    # r0: s=0,o=10 from step 1 (memory t). r1: s=5,o=1 completes at 1 -> memory 1+6 = 7 at step 1.
    # r2: s=3,o=6 starts 4 -> steps 5..10 memory 4..9; with r0 (t) the total 5+4=9, 6+5=11, ...
    # Budget 12: step 5: 9, step 6: 11, step 7: 13 > 12 -> first violation at step 7,
    # strictly between completion steps 1 and 10.
    inst = make(20, [(0, 10, 0), (5, 1, 0), (3, 6, 0)]).replace(memory=12)
    rep = check(inst, [0, 0, 4])
    assert not rep.feasible
    assert rep.violation.step == 7
    assert rep.violation.memory == 13 and rep.violation.excess == 1
    assert 7 not in set((np.array([0, 0, 4]) + inst.decode).tolist())


def test_arrival_violation_reported():
    inst = make(10, [(1, 2, 0), (1, 2, 3)])
    rep = check(inst, [0, 2])
    assert not rep.feasible
    assert rep.arrival_violation.request == "r1"
    assert "before its arrival" in rep.reason()


def test_schedule_must_match_instance():
    inst = make(10, [(1, 2, 0)])
    with pytest.raises(ValueError):
        check(inst, [0, 1])
    with pytest.raises(ValueError):
        check(inst, [0.5])


def test_memory_profile_and_memory_at_agree_with_hand_values():
    inst = make(8, [(2, 3, 0), (1, 2, 1)])
    steps, mem = memory_profile(inst, [0, 1])
    assert steps.tolist() == [1, 2, 3]
    assert mem.tolist() == [3, 6, 8]
    assert memory_at(inst, [0, 1], [0, 1, 2, 3, 4]).tolist() == [0, 3, 6, 8, 0]


@settings(max_examples=examples(600))
@given(data=st.data())
def test_fast_checker_agrees_with_naive_scan(data):
    inst = data.draw(instances(max_n=7, max_memory=25, max_decode=10))
    starts = [int(a) + data.draw(st.integers(0, 12)) for a in inst.arrival]
    starts = [max(0, p) for p in starts]
    naive = naive_memory(inst.prefill.tolist(), inst.decode.tolist(), starts)
    rep = check(inst, Schedule(inst, starts))
    over = [t for t, m in sorted(naive.items()) if m > inst.memory]
    if over:
        assert rep.violation is not None
        assert rep.violation.step == over[0]
        assert rep.violation.memory == naive[over[0]]
        assert rep.violation.excess == naive[over[0]] - inst.memory
    else:
        assert rep.violation is None
    assert rep.feasible == (not over)
    assert rep.peak_memory == max(naive.values())
    assert naive[rep.peak_step] == rep.peak_memory
    assert rep.makespan == max(naive)
    assert rep.objective == sum(p + o - a for p, o, a in zip(starts, inst.decode, inst.arrival))
    assert rep.mean_utilisation == pytest.approx(sum(naive.values()) / (inst.memory * max(naive)))
    steps, mem = memory_profile(inst, starts)
    assert dict(zip(steps.tolist(), mem.tolist())) == naive


def test_chunk_steps_before_a_start_are_not_in_the_schedule():
    """The documented limit of check() (module docstring): with chunked prefill the engine
    holds a partial prompt in steps ``q+1 .. p`` before the start ``p``; the schedule
    format has no field for them, so the checker counts nothing for a request before its
    start. Request ``a`` (prompt 40, budget 16 tokens a step) is admitted at 0 and starts
    at 2: its 16 and 32 computed tokens of steps 1-2 are absent from ``m``."""
    from lpsched.engine import EngineLimits
    from lpsched.simulate import simulate

    inst = Instance(100, [Request("a", 40, 3), Request("b", 5, 6)])
    res = simulate(inst, "fcfs", limits=EngineLimits(max_num_seqs=4, max_num_batched_tokens=16,
                                                     chunked_prefill=True))
    sched = res.schedule
    assert res.first_admit.tolist() == [0, 2] and sched.starts.tolist() == [2, 2]
    assert sched.runs == {} and sched.restarts == {}
    steps, mem = memory_profile(sched.instance, sched)
    assert mem[:2].tolist() == [0, 0]  # steps 1-2: only a's chunks, which a schedule cannot hold
    assert mem[2] == (40 + 1) + (5 + 1) and check(sched.instance, sched).feasible
