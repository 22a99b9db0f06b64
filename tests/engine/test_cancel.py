"""The engine's cancel mode: a policy may kill running requests, discarding their progress.

A cancelled run of ``e >= 1`` steps from ``q`` becomes the attempt ``(q, e)`` of
:attr:`lpsched.schedule.Schedule.restarts`; the request waits again and its next start is
a fresh run (prefill ``s``, all ``o`` decode steps). The one checker verifies the
result: the attempts' memory is counted in the steps they ran (tests/test_restarts.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched.check import check
from lpsched.engine import BasePolicy, SimulationError, run_engine
from lpsched.instance import Instance
from tests.strategies import examples, instances


class _Greedy(BasePolicy):
    """FCFS admission of whatever fits now (``s + 1`` in step ``t+1``); the guard keeps
    later steps feasible."""

    name = "greedy-test"

    def decide(self, state):
        free = state.free_next
        chosen = []
        for pos in sorted(state.waiting, key=lambda k: (int(state.arrival[k]), k)):
            need = int(state.prefill[pos]) + 1
            if need > free:
                break
            chosen.append(pos)
            free -= need
        return chosen


class _CancelAt(_Greedy):
    """Cancels the listed ``(step, position)`` pairs when they are running."""

    name = "cancel-at-test"

    def __init__(self, plan):
        self.plan = set(plan)

    def cancel(self, state):
        return [pos for pos in sorted(state.running) if (state.t, pos) in self.plan]


class _RandomCancel(_Greedy):
    """Cancels each running request with probability ``q`` at every decision time
    (seeded), never the oldest one (so the run terminates)."""

    name = "random-cancel-test"

    def __init__(self, q, seed):
        self.q, self.rng = q, np.random.default_rng(seed)
        self.kept = set()  # preempted by the guard: resumed with progress, not cancellable

    def on_evict(self, state, positions):
        self.kept.update(pos for pos in positions if pos in state.done)

    def cancel(self, state):
        if len(state.running) < 2:
            return []
        oldest = min(state.running, key=lambda k: (state.running[k], k))
        return [pos for pos in sorted(state.running)
                if pos != oldest and pos not in self.kept and self.rng.random() < self.q]


def test_a_cancelled_run_is_an_attempt_and_the_request_restarts_from_scratch():
    inst = Instance.from_arrays(50, [2, 3], [5, 4])
    res = run_engine(inst, _CancelAt({(2, 0)}), skip_idle=False)
    sched = res.schedule
    # a started at 0, ran 2 steps, was killed at 2 and restarted at 2 (fits): 2 + 5 = 7
    assert sched.restarts == {0: ((0, 2),)}
    assert sched.starts.tolist() == [2, 0]
    assert sched.completions.tolist() == [7, 4]
    assert (res.cancellations, res.cancelled_steps, res.evictions, res.resumes) == (1, 2, 0, 0)
    assert res.stats()["cancellations"] == 1
    rep = check(inst, sched)
    assert rep.feasible and rep.objective == 7 + 4


def test_a_cancelled_attempt_still_held_memory_while_it_ran():
    """The killed attempt is checked as memory: its peak ``s + e`` counts at step ``e``."""
    inst = Instance.from_arrays(50, [10, 0], [6, 3])
    res = run_engine(inst, _CancelAt({(3, 0)}), skip_idle=False)
    assert res.schedule.restarts == {0: ((0, 3),)}
    rep = check(inst, res.schedule)
    assert rep.feasible and rep.peak_memory == max(10 + 3 + 3, 10 + 6)


def test_cancelling_a_request_that_is_not_running_is_refused():
    class Bad(_Greedy):
        name = "bad-cancel"

        def cancel(self, state):
            return [1] if state.t == 1 else []

    inst = Instance.from_arrays(5, [2, 2], [3, 3])  # b waits: only a fits
    with pytest.raises(SimulationError, match="cancelled request position 1 at step 1, "
                                              "but it is not running"):
        run_engine(inst, Bad(), skip_idle=False)


def test_cancelling_a_run_that_kept_its_progress_is_refused():
    """A guard preemption keeps the progress (segments of ``runs``); discarding it later
    is not representable (an attempt holds ``s + (t - q)``), so it is refused."""
    class Late(_RandomCancel):
        name = "late-cancel"

        def cancel(self, state):
            return [pos for pos in state.running if pos in self.kept]

    inst = Instance.from_arrays(6, [1, 1], [4, 5])  # both start; the guard preempts b at 2
    with pytest.raises(SimulationError, match="resumed with kept progress"):
        run_engine(inst, Late(0.0, 0), skip_idle=False)


def test_policies_without_cancel_have_no_restarts():
    inst = Instance.from_arrays(12, [2] * 5, [4, 5, 3, 6, 2])
    res = run_engine(inst, _Greedy(), skip_idle=False)
    assert res.cancellations == 0 and not res.schedule.restarts
    assert "cancellations" not in res.stats()


@settings(max_examples=examples(80))
@given(inst=instances(max_n=8, max_memory=50, max_decode=12),
       q=st.sampled_from([0.1, 0.3, 0.6]), seed=st.integers(0, 5),
       skip=st.booleans())
def test_random_cancellations_give_checked_schedules(inst, q, seed, skip):
    res = run_engine(inst, _RandomCancel(q, seed), skip_idle=skip)
    sched = res.schedule
    rep = check(inst, sched)
    assert rep.feasible, rep.violation
    assert rep.objective == int((sched.completions - inst.arrival).sum())
    assert res.cancelled_steps == sum(e for tries in sched.restarts.values() for _q, e in tries)
    assert res.cancellations >= len(sched.restarts)
    for k, tries in sched.restarts.items():  # every attempt before the final start
        assert tries[-1][0] + tries[-1][1] <= sched.starts[k]
