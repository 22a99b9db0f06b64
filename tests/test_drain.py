"""The simulator's drain at the deadline: packed batches with exact lengths, one at a time
otherwise; always a verified schedule (checked against a plain reference)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched.check import check
from lpsched.instance import Instance
from lpsched.simulate import _packed_starts, noisy_predictions, simulate
from lpsched.stop import Deadline
from tests.fakeclock import FakeClock
from tests.strategies import examples


def _reference_pack(instance: Instance, order: list[int], t0: int) -> dict[int, int]:
    """Plain Python: at t, take arrived requests in order while their peaks fit in M."""
    s, o, a, M = (instance.prefill.tolist(), instance.decode.tolist(),
                  instance.arrival.tolist(), instance.memory)
    starts, j, t = {}, 0, t0
    while j < len(order):
        t = max(t, a[order[j]])
        batch, used = [], 0
        while j < len(order) and a[order[j]] <= t and (not batch or used + s[order[j]]
                                                       + o[order[j]] <= M):
            used += s[order[j]] + o[order[j]]
            batch.append(order[j])
            j += 1
        for k in batch:
            starts[k] = t
        t += max(o[k] for k in batch)
    return starts


@st.composite
def instances(draw, max_n=25):
    n = draw(st.integers(1, max_n))
    M = draw(st.integers(8, 60))
    s = draw(st.lists(st.integers(1, M // 2), min_size=n, max_size=n))
    o = [draw(st.integers(1, M - si)) for si in s]
    a = sorted(draw(st.lists(st.integers(0, 40), min_size=n, max_size=n)))
    return Instance.from_arrays(M, np.array(s), np.array(o), np.array(a))


@settings(max_examples=examples(150))
@given(instances(), st.integers(0, 30))
def test_packed_starts_match_plain_reference(inst, t0):
    order = np.lexsort((np.arange(inst.n), inst.arrival)).astype(np.int64)
    begin = _packed_starts(inst.peak[order], inst.arrival[order], inst.decode[order],
                           inst.memory, t0)
    ref = _reference_pack(inst, order.tolist(), t0)
    assert begin.tolist() == [ref[k] for k in order.tolist()]
    assert (begin >= inst.arrival[order]).all()


@settings(max_examples=examples(80))
@given(instances(), st.integers(1, 12), st.sampled_from(["mc-sf", "fcfs", "sorted-f-online"]),
       st.booleans())
def test_drained_runs_are_feasible(inst, ticks, policy, noisy):
    pred = noisy_predictions(inst, 0.5, seed=1) if noisy else None
    res = simulate(inst, policy, predictions=pred, deadline=Deadline(ticks, clock=FakeClock()))
    rep = check(inst, res.schedule)
    assert rep.feasible, rep
    if res.drain_step is not None:
        assert (res.schedule.starts >= 0).all()


def test_packed_drain_beats_one_at_a_time():
    rng = np.random.default_rng(0)
    n, M = 400, 1000
    s, o = rng.integers(1, 50, n), rng.integers(1, 100, n)
    inst = Instance.from_arrays(M, s, o, np.zeros(n, dtype=np.int64))
    exact = simulate(inst, "mc-sf", deadline=Deadline(3, clock=FakeClock()))
    assert exact.drained > 300
    assert check(inst, exact.schedule).feasible
    one_by_one = int(o.sum())  # the makespan of running everything one at a time
    assert int((exact.schedule.starts + o).max()) < one_by_one / 5
