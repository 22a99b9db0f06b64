"""benchmarks/bench_leaderboard.py: the prediction regimes it gives each rule and the
references its ratios are taken against (fast: no solver runs)."""

from __future__ import annotations

import numpy as np
import pytest

from lpsched.adversarial import interval_trap
from lpsched.instance import Instance
from tests.bench_scripts import load_script

lb = load_script("bench_leaderboard")


@pytest.fixture
def inst() -> Instance:
    rng = np.random.default_rng(3)
    s = rng.integers(1, 6, 30)
    return Instance.from_arrays(60, s, rng.integers(1, 50, 30))


def test_blind_rules_run_once(inst):
    for algo in lb.BLIND:
        assert lb._regime_options(inst, algo, "exact", 0, "k") == {}
        for reg in lb.REGIMES[1:]:
            assert lb._regime_options(inst, algo, reg, 0, "k") is None


def test_interval_regimes(inst):
    iv = lb._regime_options(inst, "a-min", "iv0.25", 7, "k")
    lo, hi = np.array(iv["lower"]), np.array(iv["upper"])
    assert np.all((lo <= inst.decode) & (inst.decode <= hi))
    mid = np.array(lb._regime_options(inst, "mc-sf", "iv0.25", 7, "k")["predictions"])
    # the point rules see the geometric midpoint of the same intervals (rounding: +-1)
    assert np.all((lo - 1 <= mid) & (mid <= hi + 1)) and np.all(mid >= 1)
    assert lb._regime_options(inst, "mc-sf", "ln0.5", 7, "k") == {"prediction_noise": 0.5,
                                                                   "seed": 7}


def test_interval_trap_gets_its_own_intervals():
    trap, lower, upper = interval_trap(8, 4)
    got = lb._regime_options(trap, "a-max", "exact", 0, "adv:interval-trap,8/4")
    assert got == {"lower": lower, "upper": upper}


def test_spread():
    assert lb._spread(list(range(10)), 3) == [0, 4, 9]  # linspace(0, 9, 3) rounded
    assert lb._spread([1, 2], 5) == [1, 2] and lb._spread([1], 0) == []


def _row(algo, obj, ev=""):
    return {"section": "adversarial", "group": "adversarial", "instance": "sf-trap-M64",
            "n": "40", "memory": "64", "algorithm": algo, "regime": "exact",
            "objective": str(obj), "evictions": ev}


def test_reference_ignores_preemptive_runs():
    from lpsched.adversarial import sf_trap_upper_bound

    ub = sf_trap_upper_bound(64)
    rows = [_row("a", ub + 10), _row("b", ub - 5, ev="3"), _row("c", ub - 1)]
    lb._add_refs(rows)
    # b evicted (resumed with progress: a relaxation) and is no reference; c is
    assert {r["ref"] for r in rows} == {ub - 1}
    assert rows[1]["ratio"] == pytest.approx((ub - 5) / (ub - 1), abs=1e-4)  # 4 decimals
