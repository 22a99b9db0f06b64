"""Issue 22 item 2: the mean-busy-time bound with release dates.

Checked against the independent branch-and-bound oracle (never above the optimum, with
and without arrivals), against a plain-Python rational reference of the same formula,
against the bounds it must dominate (decode; offline it stays below the discrete-step
form), and against every verified schedule on random instances.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpsched.generators import random_instance
from lpsched.instance import Instance
from lpsched.models.bounds import lower_bound
from lpsched.models.combinatorial import decode_bound, fractional_bound, mean_busy_bound
from lpsched.models.release_bounds import (
    _prefix_grid,
    profile_busy_bound,
    ramp_prefix_moments,
    release_busy_bound,
)
from lpsched.solve import solve
from tests.oracle_bb import bb_optimum
from tests.strategies import instances

SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def _opt(inst: Instance) -> int:
    return bb_optimum(inst.memory, inst.prefill.tolist(), inst.decode.tolist(),
                      inst.arrival.tolist())[0]


def reference_release_busy(M: int, prefill, decode, arrival) -> Fraction:
    """The bound by explicit rational sums (no code of the package): for each prefix of
    the requests by (area, decode), the earliest fluid processing of its areas after their
    arrivals on a machine of speed M (first moment in continuous time), or the requests'
    own ramps from their arrivals, whichever is larger; Abel-summed with weights 1/area."""
    jobs = []
    for s, o, a in zip(prefill, decode, arrival):
        area = sum(s + d for d in range(1, o + 1))
        moment = sum(d * (s + d) for d in range(1, o + 1))
        jobs.append((area, o, moment, a))
    jobs.sort(key=lambda j: (j[0], j[1]))
    value = Fraction(0)
    for k in range(len(jobs)):
        prefix = sorted(jobs[: k + 1], key=lambda j: j[3])
        t, first = Fraction(0), Fraction(0)
        for area, _, _, a in prefix:  # work-conserving machine, release order
            t = max(t, Fraction(a))
            first += area * (t + Fraction(area, 2 * M))
            t += Fraction(area, M)
        floor = sum(area * (a - Fraction(1, 2)) + moment for area, _, moment, a in jobs[: k + 1])
        nxt = Fraction(1, jobs[k + 1][0]) if k + 1 < len(jobs) else Fraction(0)
        value += (Fraction(1, jobs[k][0]) - nxt) * max(first, floor)
    return (value + Fraction(len(jobs), 2)
            + sum(o - Fraction(m, area) - a for area, o, m, a in jobs))


def reference_ramp_moments(M: int, prefill, decode, arrival, order) -> list[int]:
    """``R_k`` by a plain step-by-step queue (no code of the package): the requests
    ``order[:k]`` release ``s + d`` tokens of work in step ``a + d``; each step serves
    ``min(M, backlog)``; ``R_k`` is the served work's first moment less sum A_j a_j."""
    out = []
    for k in range(1, len(order) + 1):
        jobs = [(prefill[j], decode[j], arrival[j]) for j in order[:k]]
        horizon = max(a + o for _, o, a in jobs) + sum(s * o + o * (o + 1) // 2
                                                      for s, o, _ in jobs) // M + 2
        backlog, moment = 0, 0
        for t in range(1, horizon + 1):
            backlog += sum(s + t - a for s, o, a in jobs if a < t <= a + o)
            served = min(M, backlog)
            moment += t * served
            backlog -= served
        assert backlog == 0
        out.append(moment - sum((s * o + o * (o + 1) // 2) * a for s, o, a in jobs))
    return out


@settings(max_examples=300, **SETTINGS)
@given(instances(max_n=5, max_memory=14, max_decode=5, arrivals=None, max_arrival=8))
def test_release_busy_bound_never_above_the_optimum(inst):
    rb = release_busy_bound(inst)
    assert rb <= _opt(inst) + 1e-9
    plain = release_busy_bound(inst, ramps=False)
    assert plain <= rb + 1e-9  # the ramp-limited fluid only adds a lower bound per prefix
    order = np.lexsort((inst.decode, inst.area))
    R = ramp_prefix_moments(inst, order)
    assert R is not None
    assert R.tolist() == reference_ramp_moments(inst.memory, inst.prefill.tolist(),
                                                inst.decode.tolist(), inst.arrival.tolist(),
                                                order.tolist())
    rb = plain
    ref = reference_release_busy(inst.memory, inst.prefill.tolist(), inst.decode.tolist(),
                                 inst.arrival.tolist())
    assert abs(rb - float(ref)) < 1e-9 * max(1.0, abs(float(ref)))  # float sums vs exact
    assert fractional_bound(rb) >= decode_bound(inst)  # F alone is the decode bound
    if inst.offline:  # continuous time loses r (1 - r/M) / 2 per prefix to the discrete form
        assert rb <= mean_busy_bound(inst) + 1e-9
    assert lower_bound(inst, "combinatorial").value <= _opt(inst)


def test_release_busy_hand_case():
    """M = 4: request (s, o, a) = (1, 2, 0) has area 5, first moment 1*2 + 2*3 = 8;
    (1, 1, 1) has area 2, first moment 2. Sorted by area: (1,1,1) then (1,2,0).
    G_1 = 2 (1 + 2/8) = 5/2; F_1 = 2 (1 - 1/2) + 2 = 3; L_1 = 3.
    G_2: release order (1,2,0) processed on [0, 5/4], (1,1,1) on [5/4, 7/4]:
    5 (0 + 5/8) + 2 (5/4 + 1/4) = 25/8 + 3 = 49/8; F_2 = 3 + 5 (-1/2) + 8 = 17/2; L_2 = 17/2.
    Busy: (1/2 - 1/5) 3 + (1/5) 17/2 = 9/10 + 17/10 = 13/5. Plus n/2 = 1 and
    sum (o - beta - a) = (1 - 1 - 1) + (2 - 8/5 - 0) = -3/5: total 3 (the decode bound).
    The optimum is 4: started at their arrivals both run in step 2 (3 + 2 > 4)."""
    inst = Instance.from_arrays(4, [1, 1], [2, 1], [0, 1])
    assert reference_release_busy(4, [1, 1], [2, 1], [0, 1]) == Fraction(3)
    # exact in binary: small integers and halves
    assert abs(release_busy_bound(inst, ramps=False) - 3.0) < 1e-12
    # ramps: (1,1,1) serves 2 in step 2 (R_1 = 4 - 2 = 2, F_1 = 2); with (1,2,0) step 1
    # serves 2, step 2 serves 3 + 2 = 5 > M = 4, one token waits for step 3:
    # 2 + 2*4 + 3*1 = 13, less 2*1: R_2 = 11 > F_2 = 10. Busy: (1/2 - 1/5) 2 + 11/5 = 2.8,
    # plus sum (o - beta) = 0 + 2/5: 3.2, so the bound is 4 = the optimum.
    assert abs(release_busy_bound(inst) - 3.2) < 1e-12
    assert _opt(inst) == 4 == fractional_bound(release_busy_bound(inst))


def test_release_busy_beats_the_area_and_decode_bounds_under_load():
    """A burst: eight equal requests at once, then eight more 5 steps later; memory for
    two at a time. The SRPT area bound lets a request finish A/M steps after it starts;
    the ramp floors keep the real duration."""
    s, o = [6] * 16, [6] * 16
    a = [0] * 8 + [5] * 8
    inst = Instance.from_arrays(24, s, o, a)
    lb = lower_bound(inst, "combinatorial")
    assert lb.details["source"] == "release_busy"
    assert lb.value > max(lb.details["area"], lb.details["decode"])
    res = solve(inst, "local-search", time_limit=2)
    assert lb.value <= res.objective


@settings(max_examples=25, **SETTINGS)
@given(st.integers(0, 10**6), st.integers(30, 120))
def test_release_busy_never_above_a_verified_schedule(seed, n):
    inst = random_instance(n, 400, seed, max_decode=60, max_prefill=150, max_arrival=3 * n)
    res = solve(inst, "sorted-f-cont")  # checked by solve()
    assert fractional_bound(release_busy_bound(inst)) <= res.objective


def test_a_grid_of_prefixes_stays_valid_and_close():
    """Above the work budget G is computed on a grid (taken from the largest computed
    prefix below): never above the full computation, and close to it."""
    inst = random_instance(300, 2000, 3, max_decode=80, max_prefill=600, max_arrival=2000)
    full = release_busy_bound(inst)
    grid = release_busy_bound(inst, work=3000.0)
    assert _prefix_grid(300, 3000.0).size < 300
    assert grid <= full + 1e-6 * abs(full)
    assert grid >= decode_bound(inst)
    assert grid >= 0.9 * full  # 20 prefixes of 300
    assert np.all(np.diff(_prefix_grid(10**5, 4e7)) > 0)


@settings(max_examples=200, **SETTINGS)
@given(instances(max_n=5, max_memory=14, max_decode=5, arrivals=None, max_arrival=8),
       st.integers(1, 6), st.integers(0, 2))
def test_profile_bound_of_a_dual_feasible_function_never_above_the_optimum(inst, k, alpha):
    """Any per-step profile with a valid capacity gives a valid bound
    (formulations/trace_bounds.md, "Dual feasible functions"): here
    ``alpha (s + d) + phi_k(s + d)`` with ``phi_k(x) = ceil((k + 1) x / M) - 1`` and
    capacity ``alpha M + k``, written out step by step; requests charged nothing keep
    their decode floor."""
    M = inst.memory
    area, first, charged = [], [], []
    for s, o in zip(inst.prefill.tolist(), inst.decode.tolist()):
        prof = [alpha * (s + d) + (-(-(k + 1) * (s + d) // M) - 1) for d in range(1, o + 1)]
        area.append(sum(prof))
        first.append(sum(d * m for d, m in zip(range(1, o + 1), prof)))
        charged.append(area[-1] > 0)
    mask = np.array(charged)
    value = float(inst.decode[~mask].sum())
    if mask.any():
        value += profile_busy_bound(inst.arrival[mask], np.array(area, dtype=np.int64)[mask],
                                    np.array(first, dtype=float)[mask],
                                    inst.decode[mask].astype(float), alpha * M + k)
    assert fractional_bound(value) <= _opt(inst)
    if alpha == 1 and k == 1 and not (-(-2 * (inst.prefill + inst.decode)) // M > 1).any():
        # phi_1 is 0 everywhere (all peaks <= M/2): the memory bound at capacity M + 1
        assert value <= release_busy_bound(inst, ramps=False) + 1e-9
