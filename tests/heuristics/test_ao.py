"""WAIT and Nested WAIT (Ao, Luo, Simchi-Levi, Wang 2025, arXiv 2504.11320).

Their guarantee is asymptotic (throughput against the fluid benchmark under stationary
arrivals, heavy traffic); no finite-instance ratio follows. These tests check: the
thresholds are the formulas of the authors' code (exact rational oracles); every output
passes the checker; WAIT starts at most ``n_j`` requests of type ``j`` per step and no more
than its budget ``floor(L_j)`` runs at once, so its memory stays within ``sum_j n_j A_j``;
Nested WAIT admits at most ``n^(1)`` per step and keeps its buffer when its assumed
lengths are exact; and the asymptotic claim where it is cheap to see: WAIT reaches the
fluid rate exactly when the fluid thresholds are integers, and its throughput under
overload approaches the fluid benchmark as the memory grows (slow).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched import solve
from lpsched.check import check
from lpsched.fluid import areas, fluid_benchmark, instance_mix
from lpsched.heuristics.fluid_wait import WaitPolicy, fluid_total_limit, nested_segments, wait_thresholds
from lpsched.instance import Instance
from lpsched.simulate import simulate
from tests.strategies import examples, instances


def _typed_instance(draw, n_max=12, m_max=60):
    """Few types (s, o) so that thresholds matter; random arrivals."""
    types = draw(st.lists(st.tuples(st.integers(0, 4), st.integers(1, 6)), min_size=1,
                          max_size=3))
    n = draw(st.integers(1, n_max))
    picks = [types[draw(st.integers(0, len(types) - 1))] for _ in range(n)]
    M = draw(st.integers(max(s + o for s, o in picks), m_max))
    a = draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))
    return Instance.from_arrays(M, [s for s, _ in picks], [o for _, o in picks], a)


# -- the formulas ------------------------------------------------------------------------------
_mix = st.lists(st.tuples(st.integers(0, 50), st.integers(1, 60), st.integers(1, 40)),
                min_size=1, max_size=6, unique_by=lambda t: (t[0], t[1]))


@settings(max_examples=examples(100))
@given(mix=_mix, L=st.integers(1, 5000))
def test_wait_thresholds_are_the_papers_formula(mix, L):
    """n_j = max(1, floor(L lambda_j / sum_k lambda_k o_k)), L_j = L lambda_j o_j / sum lambda o
    (authors' calculate_booking_limits), against exact fractions. Integer inputs keep the
    exact value at least 1 / sum(lambda o) >= 1e-5 from an integer, far above the 1e-9
    the float code adds before flooring; the budgets pass through a few float
    operations: rel 1e-12."""
    _s, o, lam = (list(x) for x in zip(*mix))
    budget, n = wait_thresholds(o, lam, L)
    tot = sum(Fraction(a * b) for a, b in zip(lam, o))
    for j in range(len(o)):
        assert n[j] == max(1, math.floor(Fraction(L * lam[j]) / tot))
        assert budget[j] == pytest.approx(float(Fraction(L * lam[j] * o[j]) / tot), rel=1e-12)


@settings(max_examples=examples(100))
@given(mix=_mix, L=st.integers(1, 5000))
def test_nested_segments_are_the_papers_formula(mix, L):
    """Boundaries at the distinct decode lengths; Lambda_i = rates still decoding past
    d_{i-1}; n^(i) = ceil(L Lambda_i / sum_k c_k Lambda_k) (authors'
    calculate_nested_booking_limits, per-stage ceil(L_i / c_i)), exact fractions."""
    _s, o, lam = (list(x) for x in zip(*mix))
    seg = nested_segments(o, lam, L)
    ends = sorted(set(o))
    assert seg.ends.tolist() == ends
    prev = [0, *ends[:-1]]
    mass = [sum(r for r, d in zip(lam, o) if d > p) for p in prev]
    tot = sum(Fraction((e - p) * m) for e, p, m in zip(ends, prev, mass))
    assert seg.mass.tolist() == [float(m) for m in mass]
    for i in range(len(ends)):
        assert seg.per_stage[i] == max(1, math.ceil(Fraction(L * mass[i]) / tot))


def test_worked_example_thresholds():
    """Types (s, o, lambda) = (2, 4, 2), (3, 1, 1), M = 100. A = 18, 4; sum lambda A = 40,
    sum lambda o = 9: the memory-binding fluid batch L = 100 * 9 / 40 = 22.5; budgets
    L_j = 22.5 * (8, 1) / 9 = (20, 2.5); n_j = floor(22.5 * (2, 1) / 9) = (5, 2); the
    equilibrium memory sum n_j A_j = 90 + 8 = 98 <= 100. Nested WAIT with the same mix:
    segments end at 1 and 4, Lambda = (3, 2), c = (1, 3), sum c Lambda = 9:
    n^(1) = ceil(22.5 * 3 / 9) = 8, n^(2) = ceil(22.5 * 2 / 9) = 5."""
    L = fluid_total_limit([2, 3], [4, 1], [2, 1], 100)
    assert L == pytest.approx(22.5, rel=1e-15)  # 900 / 40: two float products and a quotient
    budget, n = wait_thresholds([4, 1], [2, 1], L)
    assert n.tolist() == [5, 2] and budget.tolist() == pytest.approx([20.0, 2.5], rel=1e-12)
    assert int(n @ areas([2, 3], [4, 1])) == 98
    seg = nested_segments([4, 1], [2, 1], L)
    assert seg.ends.tolist() == [1, 4] and seg.per_stage.tolist() == [8, 5]


def test_policy_uses_the_instance_mix():
    """The policy's thresholds are the formula applied to the instance's type shares."""
    inst = Instance.from_arrays(100, [2, 2, 3], [4, 4, 1], [0, 1, 2])  # shares 2/3, 1/3
    pol = WaitPolicy()
    simulate(inst, pol)
    assert pol.total_limit_used == pytest.approx(22.5, rel=1e-12)
    assert pol.n.tolist() == [5, 2]  # types sorted: (2, 4), (3, 1)


# -- the rules on instances --------------------------------------------------------------------
def _starts_by_step(inst, sched, key):
    out: dict[tuple[int, object], int] = {}
    for k in range(inst.n):
        out[(int(sched.starts[k]), key[k])] = out.get((int(sched.starts[k]), key[k]), 0) + 1
    return out


@settings(max_examples=examples(80))
@given(data=st.data(), launch=st.sampled_from(["any", "all"]))
def test_wait_starts_at_most_n_j_per_step_and_keeps_its_memory(data, launch):
    """At most n_j starts of type j per step (the one drained request when the system is
    idle aside), so each stage of type j holds at most n_j requests and the peak memory
    is at most sum_j n_j A_j; no type runs more than max(floor(L_j), n_j) requests after a
    launch."""
    inst = _typed_instance(data.draw)
    pol = WaitPolicy(launch=launch)
    sim = simulate(inst, pol)
    sched = sim.schedule
    assert check(inst, sched).feasible and sim.evictions == 0
    s_t, o_t, _p = instance_mix(inst)
    ty = {(int(a), int(b)): j for j, (a, b) in enumerate(zip(s_t, o_t))}
    key = [ty[(int(a), int(b))] for a, b in zip(inst.prefill, inst.decode)]
    p, c = sched.starts, sched.completions
    for (t, j), count in _starts_by_step(inst, sched, key).items():
        idle = not np.any((p < t) & (c > t))
        assert count <= (1 if idle and count == 1 else pol.n[j]), (t, j, count)
        if not idle and launch == "any":
            running = sum(1 for k in range(inst.n) if key[k] == j and p[k] <= t < c[k])
            assert running <= max(int(pol.budget[j]), int(pol.n[j])), (t, j, running)
    bound = int(sum(pol.n[j] * areas([s_t[j]], [o_t[j]])[0] for j in set(key)))
    assert check(inst, sched).peak_memory <= bound


@settings(max_examples=examples(60))
@given(data=st.data(), threshold=st.integers(1, 4))
def test_constant_threshold_option(data, threshold):
    """``threshold``: every type admits at most that many per step, and only once that
    many wait (or nothing runs, or another type launches)."""
    inst = _typed_instance(data.draw)
    res = solve(inst, "wait", threshold=threshold)
    assert check(inst, res.schedule).feasible and res.stats["evictions"] == 0
    key = list(zip(inst.prefill.tolist(), inst.decode.tolist()))
    assert max(_starts_by_step(inst, res.schedule, key).values()) <= threshold


@settings(max_examples=examples(60))
@given(inst=instances(max_n=10, max_memory=60, max_decode=30),
       buffer=st.sampled_from([0.0, 0.05, 0.2]), noise=st.sampled_from([None, 0.5]))
def test_every_output_is_feasible(inst, buffer, noise):
    for algo, kw in (("nested-wait", {"buffer": buffer}), ("wait", {"launch": "all"}),
                     ("wait", {})):
        res = solve(inst, algo, prediction_noise=noise, seed=3, **kw)
        assert check(inst, res.schedule).feasible, (algo, kw)


@settings(max_examples=examples(60))
@given(data=st.data())
def test_nested_wait_admits_at_most_n1_per_step(data):
    inst = _typed_instance(data.draw)
    pol = WaitPolicy(nested=True, buffer=0.0)
    sched = simulate(inst, pol).schedule
    assert check(inst, sched).feasible
    p, c = sched.starts, sched.completions
    for (t, _k), count in _starts_by_step(inst, sched, [0] * inst.n).items():
        idle = not np.any((p < t) & (c > t))
        assert count <= (1 if idle and count == 1 else pol.n[0])


@settings(max_examples=examples(60))
@given(inst=instances(max_n=8, max_memory=60, max_decode=12),
       buffer=st.sampled_from([0.05, 0.1, 0.3]))
def test_nested_wait_keeps_its_safety_buffer_when_lengths_are_one_segment(inst, buffer):
    """With one decode length, Nested WAIT's assumed length d_1 is exact: every admission
    is planned against M - floor(buffer M), so memory never exceeds it (when each request
    fits that budget alone)."""
    o = int(inst.decode.min())  # every request still fits M alone
    inst = Instance.from_arrays(inst.memory, inst.prefill, [o] * inst.n, inst.arrival)
    budget = inst.memory - int(np.floor(buffer * inst.memory))
    if not np.all(inst.prefill + o <= budget):
        return
    res = solve(inst, "nested-wait", buffer=buffer)
    assert check(inst, res.schedule).peak_memory <= budget
    assert res.stats["evictions"] == 0


def test_worked_example_threshold_holds_a_type_back():
    """M = 20: a (2, 3) at 0 starts alone (idle). b (2, 3) and c (1, 1) arrive at 1: with
    threshold 2 neither type has two waiting while a runs; at 3 the system is idle and
    the idle flush starts every type up to its cap (b and c). With threshold 1 both start
    at 1."""
    inst = Instance.from_arrays(20, [2, 2, 1], [3, 3, 1], [0, 1, 1])
    assert solve(inst, "wait", threshold=2).schedule.starts.tolist() == [0, 3, 3]
    assert solve(inst, "wait", threshold=1).schedule.starts.tolist() == [0, 1, 1]


def test_nested_wait_unknown_lengths_overflow_goes_to_the_guard():
    """Lengths 2 and 9 (M = 30): segment 1 ends at 2, so every request is assumed to end
    at 2 and admitted on that assumption; the long ones outlive it, the guard preempts,
    and the result is feasible."""
    inst = Instance.from_arrays(30, [1] * 8, [2, 9] * 4)
    res = solve(inst, "nested-wait", buffer=0.0)
    assert check(inst, res.schedule).feasible


@pytest.mark.parametrize("algo", ["wait", "nested-wait"])
def test_every_request_starts_on_a_finite_instance(algo):
    """A last group below the threshold is admitted once the system is idle."""
    inst = Instance.from_arrays(10, [1, 1, 2], [2, 2, 3], [0, 5, 9])
    res = solve(inst, algo, threshold=5)
    assert check(inst, res.schedule).feasible and res.status.value == "feasible"


@settings(max_examples=examples(60))
@given(data=st.data(), nested=st.booleans(), launch=st.sampled_from(["any", "all"]),
       noise=st.sampled_from([None, 0.5]))
def test_skipping_idle_steps_is_exact(data, nested, launch, noise):
    """next_decision only skips steps where the rule provably starts nothing: the same
    schedule as calling it every step (exact and noisy predictions)."""
    inst = _typed_instance(data.draw)
    algo, kw = ("nested-wait", {}) if nested else ("wait", {"launch": launch})
    runs = [solve(inst, algo, prediction_noise=noise, skip_idle=skip, seed=1,
                  **kw).schedule for skip in (True, False)]
    assert runs[0] == runs[1]


# -- the asymptotic claim ----------------------------------------------------------------------
def test_wait_attains_the_fluid_rate_when_thresholds_are_integral():
    """One type (s, o) = (1, 3), A = 9, M = 90: the fluid rate is M / A = 10 per step and
    n = floor(90 / 9) = 10. Overloaded by 20 per step, WAIT starts exactly 10 per step and
    completes 10 per step from step 3 on: the fluid benchmark, attained."""
    n = 600
    inst = Instance.from_arrays(90, [1] * n, [3] * n, np.arange(n) // 20)
    assert fluid_benchmark(inst).max_rate == pytest.approx(10.0, rel=1e-12)
    c = solve(inst, "wait").schedule.completions
    for T in (10, 30, 50):
        assert int((c <= T).sum()) == 10 * (T - 2)


def _heavy_traffic(M, types, steps):
    """A backlog at time 0 (every type always has requests waiting), types interleaved
    0, 1, 0, 1, 0 (shares 0.6 / 0.4), enough for ``steps`` steps at the fluid rate."""
    pattern = (0, 1, 0, 1, 0)
    mean_area = (3 * areas(*types[0])[()] + 2 * areas(*types[1])[()]) / 5
    n = int(1.3 * steps * M / mean_area)
    pick = [pattern[k % 5] for k in range(n)]
    return Instance.from_arrays(M, [types[k][0] for k in pick], [types[k][1] for k in pick],
                                [0] * n)


def _steady_completions(inst, steps):
    """Completions per type in each step of the window ``(o_max, steps]``."""
    c = solve(inst, "wait").schedule.completions
    lo = int(inst.decode.max())
    out = []
    for o in np.unique(inst.decode):
        mine = c[inst.decode == o]
        out.append(np.bincount(mine[(mine > lo) & (mine <= steps)] - lo - 1,
                               minlength=steps - lo))
    return out


@pytest.mark.parametrize("M", [8000, pytest.param(32000, marks=pytest.mark.slow)])
def test_wait_runs_at_its_fluid_thresholds_in_heavy_traffic(M):
    """Types (20, 10) and (20, 40), shares 0.6 / 0.4, all waiting: after warm-up WAIT
    completes exactly n_j requests of type j in every step, n_j = floor(M p_j / E[A]), so
    it uses sum_j n_j A_j of the memory per step, between M - sum_j A_j (the rounding) and
    M: its throughput tends to the fluid benchmark as M grows (0.77 of it at M = 8000,
    0.94 at 32000)."""
    types = [(20, 10), (20, 40)]
    steps = 150
    inst = _heavy_traffic(M, types, steps)
    pol = WaitPolicy()
    simulate(inst, pol)
    per_step = _steady_completions(inst, steps)
    for j in range(2):
        assert per_step[j].tolist() == [int(pol.n[j])] * len(per_step[j])
    used = sum(int(pol.n[j]) * int(areas([types[j][0]], [types[j][1]])[0]) for j in range(2))
    a_sum = int(areas([20, 20], [10, 40]).sum())
    assert M - a_sum <= used <= M


