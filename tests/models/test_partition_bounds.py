"""Issue 22: the burst partition bound (sum of bounds over the natural groups).

Superadditivity is checked with the exact oracle as the group bound (the sum of the
groups' optima is never above the whole instance's optimum), the grouping rule against a
plain-Python reference, and ``lower_bound(..., "best")`` with the partition against the
oracle and against verified schedules.
"""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpsched.generators import random_instance
from lpsched.instance import Instance
from lpsched.models.bounds import lower_bound
from lpsched.models.partition_bounds import burst_groups, partition_bound
from lpsched.solve import solve
from tests.oracle_bb import bb_optimum
from tests.strategies import instances

SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def _opt(inst: Instance) -> int:
    return bb_optimum(inst.memory, inst.prefill.tolist(), inst.decode.tolist(),
                      inst.arrival.tolist())[0]


def _exact(sub: Instance, _limit: float | None) -> tuple[int, str]:
    return _opt(sub), "exact"


def reference_groups(arrival, decode) -> list[list[int]]:
    """Requests by (arrival, index); a new group when the arrival is at least every
    earlier request's arrival plus decode."""
    order = sorted(range(len(arrival)), key=lambda i: (arrival[i], i))
    groups: list[list[int]] = []
    end = None
    for i in order:
        if end is None or arrival[i] >= end:
            groups.append([])
        groups[-1].append(i)
        end = arrival[i] + decode[i] if end is None else max(end, arrival[i] + decode[i])
    return groups


@settings(max_examples=200, **SETTINGS)
@given(instances(max_n=6, max_memory=14, max_decode=4, arrivals=True, max_arrival=14))
def test_sum_of_group_optima_never_above_the_optimum(inst):
    groups = [g.tolist() for g in burst_groups(inst)]
    assert groups == reference_groups(inst.arrival.tolist(), inst.decode.tolist())
    pb = partition_bound(inst, _exact, min_groups=1)
    assert pb is not None and pb.bounded == pb.groups == len(groups)
    opt = _opt(inst)
    assert pb.value <= opt
    assert lower_bound(inst, "best").value <= opt


def test_bursts_hand_case():
    """M = 6: two bursts of two requests (s, o) = (3, 2) at steps 0 and 10. Inside a burst
    only one runs at a time (3+1 + 3+2 > 6): latencies 2 and 4, so the optimum is 12.
    The partition bound is exact here; the single-machine area fluid is not."""
    inst = Instance.from_arrays(6, [3, 3, 3, 3], [2, 2, 2, 2], [0, 0, 10, 10])
    assert [g.tolist() for g in burst_groups(inst)] == [[0, 1], [2, 3]]
    assert partition_bound(inst, _exact).value == 12 == _opt(inst)
    b = lower_bound(inst, "best")
    assert b.value == 12 and b.details["partition"] == 12


def test_one_group_is_no_partition_and_the_deadline_keeps_it_valid():
    inst = Instance.from_arrays(6, [3, 3], [2, 2], [0, 1])
    assert partition_bound(inst, _exact) is None
    many = Instance.from_arrays(6, [3] * 6, [2] * 6, [0, 0, 10, 10, 20, 20])
    cut = partition_bound(many, _exact, deadline=time.perf_counter() - 1.0)
    assert cut is not None and cut.bounded == 0 and cut.value == 12  # decode sums only


@settings(max_examples=15, **SETTINGS)
@given(st.integers(0, 10**6), st.integers(30, 90))
def test_best_with_bursts_never_above_a_verified_schedule(seed, n):
    inst = random_instance(n, 300, seed, max_decode=20, max_prefill=200, max_arrival=20 * n)
    res = solve(inst, "sorted-f-cont")  # checked by solve()
    b = lower_bound(inst, "best", time_limit=5)
    assert b.value <= res.objective
