"""The delay search (order + release times) and its use by local search."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched import library, solve
from lpsched.check import check
from lpsched.heuristics.delays import DelaySearch, delay_search
from lpsched.heuristics.serial import decode_order
from lpsched.schedule import sequential_starts
from lpsched.stop import Deadline
from tests.strategies import examples, instances


def _sequential(inst):
    return sequential_starts(inst, np.argsort(inst.decode, kind="stable"))


@settings(max_examples=examples(60))
@given(instances(min_n=1, max_n=7, max_memory=20, max_decode=8), st.integers(0, 3))
def test_delay_search_is_feasible_never_worse_and_never_below_the_optimum(brute_optimum, inst, seed):
    p0 = _sequential(inst)
    start = check(inst, p0).objective
    p, stats = delay_search(inst, p0, deadline=None, seed=seed, max_iters=300)
    rep = check(inst, p)
    assert rep.feasible
    assert rep.objective == stats["delay_objective"] <= start
    if inst.n <= 4:
        opt, _ = brute_optimum(inst)
        assert rep.objective >= opt


@settings(max_examples=examples(60))
@given(instances(min_n=1, max_n=8, max_memory=25, max_decode=10))
def test_every_feasible_schedule_is_its_own_decode(inst):
    """The representation covers every schedule: order by start, releases = starts."""
    p0 = _sequential(inst)
    # a feasible schedule that is not earliest-start: delay the last-starting request
    last = int(np.argmax(p0))
    p1 = p0.copy()
    p1[last] += 3
    for p in (p0, p1) if check(inst, p1).feasible else (p0,):
        s = DelaySearch(inst, p, deadline=Deadline.coerce(None), seed=0, max_stall=1,
                        max_iters=None)
        assert np.array_equal(s.decode(s.order, s.rel), p)


def test_delays_reach_what_earliest_start_decoding_cannot():
    """On a proven instance the optimal order decoded earliest-start is worse than the
    optimum (starting early is not dominant); the delay search from that schedule gets
    below it and never below the proven optimum."""
    inst = library.load_instance("mcsf-n12-s2202")
    opt_starts = np.asarray(inst.metadata["schedule"]["starts"])
    opt = inst.metadata["optimum"]
    assert check(inst, opt_starts).objective == opt
    order = np.lexsort((inst.decode, opt_starts))
    early = decode_order(inst, order, order_preserving=False)
    early_obj = check(inst, early).objective
    assert early_obj > opt
    p, _ = delay_search(inst, early, deadline=20, seed=0)
    assert opt <= check(inst, p).objective < early_obj


def test_an_expired_deadline_returns_the_input():
    inst = library.load_instance("mcsf-n12-s2202")
    p0 = _sequential(inst)
    d = Deadline.coerce(10.0)
    d.cancel()
    p, stats = delay_search(inst, p0, deadline=d, seed=0)
    assert np.array_equal(p, p0) and stats["delay_stopped"] == "time_limit"


def test_local_search_with_and_without_delays():
    inst = library.load_instance("mcsf-n10-s2001")
    on = solve(inst, "local-search", time_limit=3, seed=0, delays=True)
    off = solve(inst, "local-search", time_limit=3, seed=0)
    assert "delay_objective" in on.stats and "delay_objective" not in off.stats
    assert on.objective >= inst.metadata["optimum"] and off.objective >= inst.metadata["optimum"]
    assert on.stats["delay_objective"] <= on.stats["delay_input_objective"]
