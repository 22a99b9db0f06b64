"""The chronological branch-and-bound (``lpsched.models.bnb``) against the oracles and the DP.

* on random tiny instances (hypothesis, offline and online) it finishes with status
  ``optimal`` and the optimum of the independent branch-and-bound oracle
  (``tests/oracle_bb.py``), with every dominance rule on and with each switched off;
* its schedule passes the shared checker and its root bound is at most the optimum;
* on small instances with short decodes it agrees with the step-state DP;
* stopped by a deadline it returns a checked schedule with status ``time_limit`` and a
  bound at most the optimum.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched.check import check
from lpsched.generators import mcsf_synthetic, random_instance
from lpsched.heuristics.dp import dp_optimum
from lpsched.models.bnb import BranchAndBound, root_bound, solve_bnb
from lpsched.schedule import SolveStatus, sequential_starts
from lpsched.stop import Deadline
from tests.strategies import examples, instances


def _bnb(inst, **kw):
    return solve_bnb(inst, deadline=Deadline.none(), warm_start="serial", **kw)


@settings(max_examples=examples(300))
@given(instances(max_n=6, max_memory=14, max_decode=6),
       st.sampled_from([{}, {"table": False}, {"semi_active": False}]))
def test_bnb_equals_oracle(optimum, inst, switches):
    opt = optimum(inst)[0]
    res = _bnb(inst, **switches)
    assert res.status is SolveStatus.OPTIMAL
    rep = check(inst, res.schedule.starts)
    assert rep.feasible, rep.reason()
    assert rep.objective == res.objective == res.lower_bound == opt
    assert res.stats["root_bound"] <= opt
    assert root_bound(inst) <= opt


@settings(max_examples=examples(40))
@given(st.integers(5, 8), st.integers(8, 20), st.integers(0, 10**6), st.integers(0, 6))
def test_bnb_equals_dp(n, memory, seed, max_arrival):
    inst = random_instance(n, memory, seed, max_prefill=4, max_decode=5,
                           max_arrival=max_arrival)
    opt, _, _ = dp_optimum(inst)
    res = _bnb(inst)
    assert res.status is SolveStatus.OPTIMAL and res.objective == opt
    assert check(inst, res.schedule.starts).feasible


@pytest.mark.slow
def test_bnb_mcsf_small_matches_dp():
    """The MC-SF family at n = 6 (long decodes): the same optimum as the DP (about 85 s,
    nearly all of it the DP)."""
    for seed in (6000, 6001):
        inst = mcsf_synthetic(6, seed)
        opt, _, _ = dp_optimum(inst)
        res = _bnb(inst)
        assert res.status is SolveStatus.OPTIMAL and res.objective == opt


@pytest.mark.parametrize("n, seed", [(14, 2403), (30, 30007)])
def test_bnb_deadline_returns_checked_schedule(n, seed):
    inst = mcsf_synthetic(n, seed)
    t0 = time.perf_counter()
    res = solve_bnb(inst, deadline=Deadline(0.5), warm_start="serial")
    assert time.perf_counter() - t0 < 0.5 + 3.0  # the contract test's CI slack
    assert res.status is SolveStatus.TIME_LIMIT
    assert check(inst, res.schedule.starts).feasible
    assert res.lower_bound <= res.objective
    assert res.stats["nodes"] > 0


def test_bnb_improves_a_poor_incumbent(optimum):
    """Started from the sequential schedule, the search itself finds the optimum."""
    inst = random_instance(6, 12, 3, max_prefill=3, max_decode=5)
    seq = sequential_starts(inst, np.arange(inst.n))
    bb = BranchAndBound(inst, seq)
    bb.run()
    assert bb.finished and bb.best_obj == optimum(inst)[0]
    assert check(inst, bb.best_starts).feasible


@settings(max_examples=examples(200))
@given(instances(max_n=12, max_memory=40, max_decode=30, arrivals=False))
def test_root_bound_dominates_combined_and_tail_offline(inst):
    """formulations/bnb.md: offline the root bound is at least the combined bound and the
    disjoint-tail bound (its merge keeps both)."""
    from lpsched.models.combinatorial import combined_bound
    from lpsched.models.tails import tail_bound

    rb = root_bound(inst)
    assert rb >= combined_bound(inst)
    assert rb >= tail_bound(inst)


@pytest.mark.parametrize("decode,arrival", [(10**11, 0), (10**4, 10**12)])
def test_bnb_refuses_a_search_list_too_long(decode, arrival):
    """The search's per-step list spans the incumbent's objective (terabytes near the
    integer cap): it is sized first, and the warm start comes back with the estimate,
    status ``time_limit`` and a valid bound, instead of a ``MemoryError``."""
    from lpsched import Instance

    inst = Instance.from_arrays(4 * decode + 40, [10, 10, 10], [decode] * 3, [0, arrival, 0])
    res = solve_bnb(inst, deadline=Deadline(5))
    assert res.status is SolveStatus.TIME_LIMIT
    assert "model not built: estimated" in res.message and "TB" in res.message
    assert res.stats["refused"] == "memory" and res.stats["model_built"] is False
    rep = check(inst, res.schedule.starts)
    assert rep.feasible and rep.objective == res.objective
    assert res.lower_bound <= res.objective


def test_bnb_guard_cap_is_an_option():
    """Just above the estimate the search runs (and proves the optimum); just below it
    does not."""
    inst = random_instance(4, 12, 0, max_decode=3)
    starts = sequential_starts(inst, np.arange(inst.n))
    steps = int((starts + inst.decode - inst.arrival).sum()) + int(inst.arrival.max()) \
        + 2 * int(inst.decode.max()) + 3
    res = solve_bnb(inst, deadline=Deadline.none(), incumbent=starts,
                    max_model_bytes=16 * steps)
    assert res.status is SolveStatus.OPTIMAL
    res = solve_bnb(inst, deadline=Deadline.none(), incumbent=starts,
                    max_model_bytes=16 * steps - 1)
    assert res.status is SolveStatus.TIME_LIMIT and res.stats["refused"] == "memory"
