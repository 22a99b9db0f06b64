"""WAIT and Nested WAIT (Ao, Luo, Simchi-Levi, Wang 2025, arXiv 2504.11320).

Their guarantee is asymptotic (throughput against the fluid benchmark under stationary
arrivals, heavy traffic); no finite-instance ratio follows, so these tests check the
rules themselves: every output passes the checker; WAIT starts a request of a type
only when ``threshold`` of that type wait or nothing runs; with exact lengths WAIT never
overflows; Nested WAIT keeps its safety buffer when its assumed lengths are upper
bounds; its segments re-classify requests that outlive a boundary.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lpsched import solve
from lpsched.check import check
from lpsched.heuristics.fluid_wait import WaitPolicy
from lpsched.instance import Instance
from lpsched.simulate import simulate
from tests.strategies import examples, instances


def _typed_instance(draw, n_max=12):
    """Few types (s, o) so that thresholds matter; random arrivals."""
    types = draw(st.lists(st.tuples(st.integers(0, 4), st.integers(1, 6)), min_size=1,
                          max_size=3))
    n = draw(st.integers(1, n_max))
    picks = [types[draw(st.integers(0, len(types) - 1))] for _ in range(n)]
    M = draw(st.integers(max(s + o for s, o in picks), 40))
    a = draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))
    return Instance.from_arrays(M, [s for s, _ in picks], [o for _, o in picks], a)


@settings(max_examples=examples(80))
@given(data=st.data(), threshold=st.integers(1, 4))
def test_wait_admits_a_type_only_at_its_threshold_or_when_idle(data, threshold):
    inst = _typed_instance(data.draw)
    res = solve(inst, "wait", threshold=threshold)
    sched = res.schedule
    assert check(inst, sched).feasible and res.stats["evictions"] == 0
    p, c, a = sched.starts, sched.completions, inst.arrival
    key = list(zip(inst.prefill.tolist(), inst.decode.tolist()))
    for k in range(inst.n):
        t = int(p[k])
        running = np.any((p < t) & (c > t))
        if not running:
            continue  # idle: the oldest type is admitted whatever its count
        same = [j for j in range(inst.n) if key[j] == key[k]]
        waiting = sum(1 for j in same if a[j] <= t and p[j] >= t)
        assert waiting >= threshold, (k, t, waiting)


@settings(max_examples=examples(60))
@given(inst=instances(max_n=8, max_memory=60, max_decode=30),
       threshold=st.integers(1, 3), first=st.integers(1, 8),
       buffer=st.sampled_from([0.0, 0.05, 0.2]))
def test_nested_wait_is_feasible(inst, threshold, first, buffer):
    pol = WaitPolicy(threshold, first, buffer)
    sim = simulate(inst, pol)
    assert check(inst, sim.schedule).feasible
    res = solve(inst, "nested-wait", threshold=threshold, first_segment=first, buffer=buffer)
    assert np.array_equal(res.schedule.starts, sim.schedule.starts)


@settings(max_examples=examples(60))
@given(inst=instances(max_n=8, max_memory=60, max_decode=12),
       buffer=st.sampled_from([0.05, 0.1, 0.3]))
def test_nested_wait_keeps_its_safety_buffer(inst, buffer):
    """When the first segment covers every true length (the assumed lengths are then
    upper bounds) and every request fits the buffered budget alone, memory never
    exceeds ``M - floor(buffer M)``: each admission was planned against that budget."""
    budget = inst.memory - int(np.floor(buffer * inst.memory))
    first = int(inst.decode.max())
    assume(np.all(inst.prefill + np.minimum(first, inst.memory - inst.prefill) <= budget))
    res = solve(inst, "nested-wait", first_segment=first, buffer=buffer)
    assert check(inst, res.schedule).peak_memory <= budget
    assert res.stats["evictions"] == 0


@settings(max_examples=examples(40))
@given(inst=instances(max_n=8, max_memory=40, max_decode=12))
def test_wait_with_exact_lengths_never_overflows(inst):
    res = solve(inst, "wait", threshold=2)
    assert check(inst, res.schedule).feasible and res.stats["evictions"] == 0


def test_worked_example_threshold_holds_a_type_back():
    """M = 20: a (2, 3) at 0 starts alone (idle). b (2, 3) and c (1, 1) arrive at 1: with
    threshold 2 neither type has two waiting while a runs; at 3 the system is idle, the
    oldest type (b's) starts, c waits again until b ends at 6. With threshold 1 both start
    at 1."""
    inst = Instance.from_arrays(20, [2, 2, 1], [3, 3, 1], [0, 1, 1])
    assert solve(inst, "wait", threshold=2).schedule.starts.tolist() == [0, 3, 6]
    assert solve(inst, "wait", threshold=1).schedule.starts.tolist() == [0, 1, 1]


def test_nested_wait_reclassifies_requests_past_a_boundary():
    """Unknown lengths: all assumed to end at the first boundary 2; a request that runs
    past it is assumed to end at 4, then 8 (doubling segments). With M = 12 and six
    requests s = 1, o = 5 the rule admits on the segment-1 assumption and the guard
    preempts when the later segments grow; the result is feasible."""
    inst = Instance.from_arrays(12, [1] * 6, [5] * 6)
    res = solve(inst, "nested-wait", first_segment=2, buffer=0.0)
    assert check(inst, res.schedule).feasible
    assert res.stats["evictions"] > 0
    calm = solve(inst, "nested-wait", first_segment=8, buffer=0.0)
    assert calm.stats["evictions"] == 0


@pytest.mark.parametrize("algo", ["wait", "nested-wait"])
def test_every_request_starts_on_a_finite_instance(algo):
    """A last group below the threshold is admitted once the system is idle."""
    inst = Instance.from_arrays(10, [1, 1, 2], [2, 2, 3], [0, 5, 9])
    res = solve(inst, algo, threshold=5)
    assert check(inst, res.schedule).feasible and res.status.value == "feasible"


@settings(max_examples=examples(60))
@given(data=st.data(), threshold=st.integers(1, 3), nested=st.booleans(),
       noise=st.sampled_from([None, 0.5]))
def test_skipping_idle_steps_is_exact(data, threshold, nested, noise):
    """next_decision only skips steps where the rule provably starts nothing: the same
    schedule as calling it every step (exact and noisy predictions)."""
    inst = _typed_instance(data.draw)
    algo, kw = ("nested-wait", {"first_segment": 2}) if nested else ("wait", {})
    runs = [solve(inst, algo, threshold=threshold, prediction_noise=noise, skip_idle=skip,
                  **kw).schedule for skip in (True, False)]
    assert runs[0] == runs[1]
