"""Issue 12 (trace backlogs): the mean-busy-time bound and the Smith-area heuristic.

The bound is checked against the independent branch-and-bound oracle (never above the
optimum) and against a plain-Python rational reference; the decoder's ``lookback`` against
a plain per-step scan.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched.check import check
from lpsched.heuristics.serial import decode_order
from lpsched.heuristics.smith_area import area_order
from lpsched.instance import Instance
from lpsched.models.bounds import lower_bound
from lpsched.models.combinatorial import combined_bound, fractional_bound, mean_busy_bound
from lpsched.solve import solve
from tests.oracle import naive_feasible
from tests.strategies import examples, instances

TINY = dict(max_n=5, max_memory=14, max_decode=5, arrivals=False)


def reference_mean_busy(M: int, prefill: list[int], decode: list[int]) -> Fraction:
    """The mean-busy-time bound by explicit sums (no code of the package)."""
    jobs = []
    for s, o in zip(prefill, decode):
        area = sum(s + d for d in range(1, o + 1))
        moment = sum(d * (s + d) for d in range(1, o + 1))
        jobs.append((area, o, moment))
    jobs.sort(key=lambda j: (j[0], j[1]))

    def fill(x: int) -> int:  # earliest filling of x tokens, at most M per step
        total, t = 0, 1
        while x > 0:
            u = min(M, x)
            total, x, t = total + t * u, x - u, t + 1
        return total

    value, cum_area, cum_moment = Fraction(0), 0, 0
    for k, (area, _, moment) in enumerate(jobs):
        cum_area += area
        cum_moment += moment
        nxt = Fraction(1, jobs[k + 1][0]) if k + 1 < len(jobs) else Fraction(0)
        value += (Fraction(1, area) - nxt) * max(fill(cum_area), cum_moment)
    return value + sum(o - Fraction(m, a) for a, o, m in jobs)


def test_mean_busy_hand_case(optimum):
    """M = 7, (s, o) = (1, 4), (2, 2), (6, 1): areas 14, 7, 7, first moments 40, 11, 7.

    Order (6,1), (2,2), (1,4); g(7) = 7, g(14) = 21, g(28) = 70; L = 7, 21, 70;
    busy = 21/14 + 70/14 = 13/2; sum o - sum moment/area = 7 - 38/7; total 113/14.
    The optimum is 9 ((6,1) at 0, both others at 1), the combined bound only 7.
    """
    inst = Instance.from_arrays(7, [1, 2, 6], [4, 2, 1])
    assert abs(mean_busy_bound(inst) - 113 / 14) < 1e-12
    assert reference_mean_busy(7, [1, 2, 6], [4, 2, 1]) == Fraction(113, 14)
    assert combined_bound(inst) == 7
    assert lower_bound(inst, "combinatorial").value == 9 == optimum(inst)[0]
    assert lower_bound(inst, "combinatorial").details["mean_busy"] == 9


@settings(max_examples=examples(300))
@given(instances(**TINY))
def test_mean_busy_bound_never_above_the_optimum(optimum, inst):
    opt = optimum(inst)[0]
    mb = mean_busy_bound(inst)
    assert mb <= opt + 1e-9
    assert lower_bound(inst, "combinatorial").value <= opt
    assert abs(mb - float(reference_mean_busy(inst.memory, inst.prefill.tolist(),
                                              inst.decode.tolist()))) < 1e-9


@settings(max_examples=examples(120))
@given(instances(**TINY), st.integers(1, 4), st.integers(1, 3))
def test_rounding_lengths_down_never_raises_the_optimum_or_the_bound(optimum, inst, qs, qo):
    """OPT(rounded down) <= OPT: the same starts stay feasible with no larger completions."""
    s = qs * (inst.prefill // qs)
    o = np.maximum(1, qo * (inst.decode // qo))
    rounded = Instance.from_arrays(inst.memory, s, o)
    opt = optimum(inst)[0]
    assert optimum(rounded)[0] <= opt
    assert fractional_bound(mean_busy_bound(rounded)) <= opt


def test_mean_busy_bound_with_arrivals_is_the_decode_bound():
    inst = Instance.from_arrays(10, [3, 4], [2, 5], [0, 3])
    assert mean_busy_bound(inst) == 7.0


def _reference_lookback_decode(inst: Instance, order, lookback: int) -> list[int]:
    """Each request at the smallest ``p >= max(0, latest start - lookback)`` that keeps
    every step within ``M`` (plain scan, offline)."""
    s, o = inst.prefill.tolist(), inst.decode.tolist()
    starts = [None] * inst.n
    latest = 0
    for i in order:
        p = max(0, latest - lookback)
        while True:
            placed = [k for k in range(inst.n) if starts[k] is not None] + [i]
            trial = {k: (starts[k] if k != i else p) for k in placed}
            if naive_feasible(inst.memory, [s[k] for k in placed], [o[k] for k in placed],
                              [0] * len(placed), [trial[k] for k in placed]):
                break
            p += 1
        starts[i] = p
        latest = max(latest, p)
    return starts


@settings(max_examples=examples(150))
@given(instances(max_n=6, max_memory=20, max_decode=6, arrivals=False), st.integers(0, 8))
def test_lookback_decode_matches_a_plain_scan(inst, lookback):
    order = area_order(inst)
    got = decode_order(inst, order, lookback=lookback)
    assert got.tolist() == _reference_lookback_decode(inst, order.tolist(), lookback)


@settings(max_examples=examples(60))
@given(instances(max_n=8, max_memory=30, max_decode=8, arrivals=False))
def test_lookback_spans_queue_order_to_backfill(inst):
    order = area_order(inst)
    assert (decode_order(inst, order, lookback=0) == decode_order(inst, order)).all()
    full = decode_order(inst, order, order_preserving=False)
    assert (decode_order(inst, order, lookback=10 ** 6) == full).all()


@settings(max_examples=examples(100))
@given(instances(max_n=8, max_memory=30, max_decode=8), st.integers(0, 20))
def test_smith_area_schedules_pass_the_checker(inst, lookback):
    res = solve(inst, "smith-area", lookback=lookback)
    assert check(inst, res.schedule).feasible
    assert res.objective == int((res.schedule.starts + inst.decode - inst.arrival).sum())
    assert res.objective >= lower_bound(inst, "combinatorial").value


def test_best_bound_on_a_long_backlog_honours_its_time_limit():
    """The serial schedules behind the start windows and the bucket-LP build are cut by
    ``time_limit`` (they used to take minutes at 1,000-10,000 trace requests)."""
    import time

    from lpsched.generators import random_instance

    inst = random_instance(3000, 16384, 3, max_decode=400, max_prefill=4000)
    t = time.perf_counter()
    b = lower_bound(inst, "best", time_limit=2.0)
    assert time.perf_counter() - t < 2.0 + 1.0
    assert b.value >= lower_bound(inst, "combinatorial").value
