"""Issue 22: the time-indexed LP by column generation (``lpsched.models.lazy_lp``).

The Lagrangian value is a valid bound for *any* non-negative prices (checked with
random prices against the exact oracle), the column generation's bound never exceeds
the optimum nor the windowed time-indexed LP (a restriction of the same LP with more
rows), equals its own master's value when it converges (LP duality), and stays below
verified schedules of larger random instances.
"""

from __future__ import annotations

import time

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpsched.generators import random_instance
from lpsched.instance import Instance
from lpsched.models.bounds import lower_bound
from lpsched.models.combinatorial import fractional_bound
from lpsched.models.lazy_lp import lagrangian_value, lazy_lp_bound
from lpsched.models.lp_relaxation import solve_lp_relaxation
from lpsched.solve import solve
from tests.oracle_bb import bb_optimum
from tests.strategies import instances

SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def _opt(inst: Instance) -> int:
    return bb_optimum(inst.memory, inst.prefill.tolist(), inst.decode.tolist(),
                      inst.arrival.tolist())[0]


def _makespan_and_starts(inst: Instance) -> tuple[int, np.ndarray]:
    st_ = solve(inst, "sorted-f-cont").schedule.starts
    return int((st_ + inst.decode).max()), st_


@settings(max_examples=150, **SETTINGS)
@given(instances(max_n=5, max_memory=14, max_decode=4, arrivals=None, max_arrival=8),
       st.integers(0, 10**6), st.integers(1, 30))
def test_any_prices_give_a_bound_below_the_optimum(inst, seed, horizon):
    lam = np.random.default_rng(seed).exponential(0.3, size=horizon)
    lam[np.random.default_rng(seed + 1).random(horizon) < 0.3] = 0.0
    assert fractional_bound(lagrangian_value(inst, lam, horizon)) <= _opt(inst)


@settings(max_examples=120, **SETTINGS)
@given(instances(max_n=5, max_memory=14, max_decode=4, arrivals=None, max_arrival=8))
def test_column_generation_below_the_optimum_and_the_windowed_lp(inst):
    H, starts = _makespan_and_starts(inst)
    lz = lazy_lp_bound(inst, H, starts=starts)
    assert lz is not None and lz.converged
    assert lz.lp_value is not None
    assert abs(lz.bound - lz.lp_value) <= 1e-6 * max(1.0, lz.lp_value)  # LP duality
    assert fractional_bound(lz.bound) <= _opt(inst)
    lp = solve_lp_relaxation(inst, cuts=False)  # starts in windows, every step priced
    assert lz.bound <= lp.value + 1e-6 * max(1.0, lp.value)


def test_deadline_returns_a_valid_bound_or_none():
    inst = random_instance(60, 300, 5, max_decode=20, max_prefill=200, max_arrival=400)
    H, starts = _makespan_and_starts(inst)
    res = solve(inst, "local-search", time_limit=1)
    lz = lazy_lp_bound(inst, H, starts=starts, deadline=time.perf_counter() + 0.5)
    assert lz is None or fractional_bound(lz.bound) <= res.objective
    assert lazy_lp_bound(inst, H, starts=starts, deadline=time.perf_counter() - 1) is None


@settings(max_examples=10, **SETTINGS)
@given(st.integers(0, 10**6), st.integers(40, 90))
def test_best_with_the_lazy_lp_never_above_a_verified_schedule(seed, n):
    # long arrivals spread: the windowed LP is too large, the lazy LP runs
    inst = random_instance(n, 400, seed, max_decode=20, max_prefill=300, max_arrival=8 * n)
    res = solve(inst, "sorted-f-cont")
    b = lower_bound(inst, "best", time_limit=4, max_columns=500)
    assert b.value <= res.objective
    assert "lazy_lp" in b.details or b.details.get("lp_status") == "refused"


@settings(max_examples=80, **SETTINGS)
@given(instances(max_n=5, max_memory=14, max_decode=4, arrivals=True, max_arrival=8),
       st.integers(2, 5))
def test_buckets_give_a_weaker_valid_bound(inst, width):
    """Rows summed over buckets of ``width`` steps: a relaxation of the one-step LP (each
    bucket row is a sum of step rows), so its converged value is at most that LP's, and
    its Lagrangian bound (bucket-constant prices) is still below the optimum."""
    H, starts = _makespan_and_starts(inst)
    fine = lazy_lp_bound(inst, H, starts=starts)
    coarse = lazy_lp_bound(inst, H, starts=starts, width=width)
    assert fine is not None and coarse is not None and coarse.converged
    assert coarse.bound <= fine.bound + 1e-6 * max(1.0, fine.bound)
    assert fractional_bound(coarse.bound) <= _opt(inst)
