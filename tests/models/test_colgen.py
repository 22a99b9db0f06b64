"""Configuration cuts (lpsched.models.colgen): validity against the oracles, strength, deadline."""

from __future__ import annotations

import itertools
import json
import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched.generators import mcsf_synthetic
from lpsched.heuristics.dp import dp_optimum
from lpsched.instance import Instance, Request
from lpsched.models.bounds import lower_bound
from lpsched.models.colgen import (
    configuration_bound,
    lifetime_configurations,
    lifetime_feasible,
)
from lpsched.models.lp_relaxation import solve_lp_relaxation
from tests.oracle import naive_memory
from tests.oracle_bb import bb_optimum
from tests.strategies import examples, instances

TINY = dict(max_n=4, max_memory=12, max_decode=5, max_arrival=5)


@settings(max_examples=examples(60))
@given(instances(**TINY))
def test_configuration_bound_is_valid_and_at_least_the_lp(inst):
    """Never above the branch-and-bound optimum; never below the plain or tail-cut LP."""
    opt = bb_optimum(inst.memory, inst.prefill.tolist(), inst.decode.tolist(),
                     inst.arrival.tolist())[0]
    cb = configuration_bound(inst)
    assert cb.converged and cb.bound is not None
    assert cb.bound <= opt, f"configuration bound {cb.bound} exceeds the optimum {opt}"
    plain = solve_lp_relaxation(inst, cuts=False).value
    tails = solve_lp_relaxation(inst, cuts=True).value
    assert cb.value >= plain - 1e-6
    assert cb.value >= tails - 1e-6
    assert lower_bound(inst, "config").value <= opt


@pytest.mark.slow
@settings(max_examples=examples(10))
@given(st.integers(0, 10_000))
def test_configuration_bound_on_small_synthetic_instances(seed):
    """n = 4-5 of the MC-SF family (long decodes, as in the benchmark): below the DP optimum."""
    inst = mcsf_synthetic(4 + seed % 2, seed)
    opt = dp_optimum(inst)[0]
    cb = configuration_bound(inst, deadline=20)
    assert cb.bound is not None and cb.bound <= opt
    assert cb.value >= solve_lp_relaxation(inst, cuts=False).value - 1e-6


def test_hand_checked_case_beats_the_tail_cut_lp():
    """M = 6; a (s 0, o 2), b (s 0, o 3), c (s 2, o 2).

    Started together, the three hold 2 + 2 + 4 = 8 > 6 in step 2, so one of them
    waits; the optimum is 9 (a, b at 0, c at 2: completions 2 + 3 + 4). The
    tail-cut LP stops at 8; the configuration cuts reach 9.
    """
    inst = Instance(6, [Request("a", 0, 2), Request("b", 0, 3), Request("c", 2, 2)])
    mem = naive_memory([0, 0, 2], [2, 3, 2], [0, 0, 2])
    assert max(mem.values()) <= 6  # the schedule of the docstring is feasible: OPT <= 9
    assert bb_optimum(6, [0, 0, 2], [2, 3, 2])[0] == 9
    assert math.ceil(solve_lp_relaxation(inst).value - 1e-6) == 8
    cb = configuration_bound(inst)
    assert cb.converged and cb.config_cuts > 0
    assert cb.bound == 9


@settings(max_examples=examples(200))
@given(st.integers(4, 20), st.lists(st.tuples(st.integers(0, 3), st.integers(1, 6)),
                                   min_size=1, max_size=7),
       st.integers(0, 8))
def test_enumeration_matches_subset_brute_force(memory, raw, t):
    """Every lifetime-feasible subset (checked step by step) lies in a returned set, and
    every returned set is feasible; pairs all run in step ``t + 1``."""
    reqs = [(s, o) for s, o in raw if s + o <= memory]
    if not reqs:
        return
    inst = Instance(memory, [Request(str(i), s, o) for i, (s, o) in enumerate(reqs)])
    s, o = inst.prefill.tolist(), inst.decode.tolist()
    step = t + 1
    pairs = [(i, k) for i in range(len(reqs)) for k in range(max(0, step - o[i]), step)]
    pairs = pairs[:10]
    leaves = lifetime_configurations(inst, pairs)
    assert leaves is not None
    cover = [set(c) for c in leaves]
    for size in range(1, len(pairs) + 1):
        for sub in itertools.combinations(range(len(pairs)), size):
            chosen = [pairs[q] for q in sub]
            if len({i for i, _ in chosen}) < size:
                continue
            ss = [s[i] for i, _ in chosen]
            oo = [o[i] for i, _ in chosen]
            feasible = max(naive_memory(ss, oo, [k for _, k in chosen]).values()) <= memory
            assert feasible == lifetime_feasible(memory, s, o, chosen)
            if feasible:
                assert any(set(sub) <= c for c in cover), (chosen, leaves)
    for c in leaves:
        assert lifetime_feasible(memory, s, o, [pairs[q] for q in c])


def test_deadline_returns_a_valid_bound_in_time():
    inst = mcsf_synthetic(12, 2200)
    t0 = time.perf_counter()
    cb = configuration_bound(inst, deadline=1.5)
    assert time.perf_counter() - t0 < 1.5 + 1.0
    assert cb.bound is not None
    assert cb.bound >= math.ceil(solve_lp_relaxation(inst, cuts=False).value - 1e-6)
    b = lower_bound(inst, "config", time_limit=1.5)
    assert b.method == "config"
    assert b.value >= math.ceil(solve_lp_relaxation(inst, cuts=False).value - 1e-6)
    assert np.isfinite(b.details["lp_value"])


def test_cli_config_bound_proves_tiny_3(capsys, tiny3):
    """``lpsched bound --method config`` reaches the CP-SAT optimum of tiny-3 (the LP does not)."""
    from lpsched.cli import main
    from lpsched.solve import solve

    opt = solve(tiny3, "cpsat", time_limit=30).objective
    assert main(["bound", "tiny-3", "--method", "config", "--time-limit", "10", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "config" and out["lower_bound"] == opt
    assert math.ceil(out["lp_tails"] - 1e-6) < opt


@settings(max_examples=examples(40))
@given(instances(**TINY), st.integers(1, 3), st.sampled_from([None, 1]), st.integers(0, 2))
def test_restricted_master_and_row_management_stay_valid(inst, tail_rows, per_tau, purge):
    """The restricted master (column pricing, Lagrangian bound), capped tail rounds and
    slack-row deletion: never above the optimum, and the same LP where it converges.

    Converged runs reach an LP optimum over all columns with every cut satisfied, which
    is at least the plain LP (HiGHS tolerances: 1e-6 absolute on values of size <= 100).
    """
    opt = bb_optimum(inst.memory, inst.prefill.tolist(), inst.decode.tolist(),
                     inst.arrival.tolist())[0]
    cb = configuration_bound(inst, restrict=True, tail_rows=tail_rows, per_tau=per_tau,
                             purge_every=purge)
    assert cb.bound is not None and cb.bound <= opt
    if cb.converged:
        assert cb.value >= solve_lp_relaxation(inst, cuts=False).value - 1e-6


def test_lagrangian_bound_of_the_restricted_master_is_below_the_lp(monkeypatch):
    """Every pricing step's L(y) is at most the full LP optimum; at the end they agree
    (to 1e-6 relative: both are HiGHS optima of the same LP). The master starts from
    the incumbent's columns only (feasible), so pricing has work to do."""
    import lpsched.models.colgen as colgen
    from lpsched.models.arrays import time_indexed_arrays
    from lpsched.models.colgen import _CutLoop
    from lpsched.stop import Deadline

    inst = mcsf_synthetic(8, 11)
    arr = time_indexed_arrays(inst)
    monkeypatch.setattr(colgen, "_initial_columns", lambda a: np.flatnonzero(
        a.start == a.windows.incumbent[a.req]))
    full = solve_lp_relaxation(inst, cuts=False).value
    loop = _CutLoop(arr, Deadline.coerce(None), 1, 100, 1, restrict=True)
    for _ in range(50):
        v = loop.solve()
        assert v is not None
        lag, new = loop.price(max_new=5)
        assert lag <= full + 1e-6 * abs(full)
        if not new.size:
            break
        loop.add_columns(new)
    assert not new.size and loop.priced > 0
    assert v == pytest.approx(full, rel=1e-6) and lag == pytest.approx(full, rel=1e-6)


def test_tail_rows_per_tau_keeps_the_most_violated():
    from lpsched.models.arrays import time_indexed_arrays
    from lpsched.models.tails import separate_tail_rows, tail_families

    inst = mcsf_synthetic(10, 2000)
    arr = time_indexed_arrays(inst)
    lp = solve_lp_relaxation(inst, cuts=False)
    x = np.zeros(arr.ncols)
    for (i, k), v in lp.x.items():
        x[arr.column(i, k)] = v
    fams = tail_families(inst)
    every = separate_tail_rows(arr, fams, x)
    one = separate_tail_rows(arr, fams, x, per_tau=1)
    assert 0 < len(one) < len(every)
    assert all(x[c].sum() > 1 + 1e-6 for c in one)
