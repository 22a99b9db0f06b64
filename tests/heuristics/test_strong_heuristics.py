"""Sorted-F (batch, continuous), the exact DP, local search, adversarial families."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched import registry
from lpsched.adversarial import FAMILIES, sf_trap, size_trap
from lpsched.check import check
from lpsched.generators import mcsf_synthetic, random_instance
from lpsched.heuristics.batches import _exact_batch, f_metric, form_batches
from lpsched.heuristics.local_search import improve
from lpsched.heuristics.serial import decode_groups, decode_order
from lpsched.instance import Instance, Request
from lpsched.options import UnsupportedInstance
from lpsched.schedule import sequential_starts
from lpsched.solve import solve
from lpsched.stop import Deadline
from tests.fakeclock import FakeClock
from tests.oracle import naive_feasible
from tests.strategies import examples, instances

SETTINGS = settings(max_examples=examples(60))

try:  # the event simulator (online policies) may not be in this tree yet
    import lpsched.simulate  # noqa: F401
    HAVE_SIM = True
except ImportError:  # pragma: no cover
    HAVE_SIM = False


# -- hand-checked example ----------------------------------------------------------------------
def _example() -> Instance:
    return Instance(10, [Request("a", 1, 2), Request("b", 1, 2), Request("c", 6, 1),
                         Request("d", 0, 4)], name="hand")


def test_sorted_f_batches_by_hand():
    inst = _example()
    batches = form_batches(inst)
    ids = [[inst.ids[k] for k in b] for b in batches]
    # round 1: best candidate is {c, a} (theta=0 prefix, F = 3/4); {a, b, d} has F = 8/9
    # round 2: {b, d}, F = 6/4
    assert ids == [["c", "a"], ["b", "d"]]
    assert [f_metric(inst.decode, b) for b in batches] == [0.75, 1.5]
    res = solve(inst, "sorted-f")
    assert res.schedule.as_mapping() == {"a": 0, "b": 2, "c": 0, "d": 2}
    assert res.objective == 13
    cont = solve(inst, "sorted-f-cont")
    # c, a at 0 (memory 9 in step 1); b does not fit at 0 (11 > 10) but at 1; d at 1
    assert cont.schedule.as_mapping() == {"a": 0, "b": 1, "c": 0, "d": 1}
    assert cont.objective == 11


def test_exact_batches_is_the_paper_rule_on_the_example():
    inst = _example()
    b = _exact_batch(np.arange(4), inst.peak, inst.decode, inst.memory)
    assert f_metric(inst.decode, b) == 0.75


def _brute_min_f(inst: Instance) -> float:
    best = np.inf
    for k in range(1, inst.n + 1):
        for X in itertools.combinations(range(inst.n), k):
            if inst.peak[list(X)].sum() <= inst.memory:
                best = min(best, f_metric(inst.decode, X))
    return best


@SETTINGS
@given(instances(max_n=7, arrivals=False))
def test_exact_batch_minimises_f(inst):
    b = _exact_batch(np.arange(inst.n), inst.peak, inst.decode, inst.memory)
    assert inst.peak[b].sum() <= inst.memory
    assert f_metric(inst.decode, b) == pytest.approx(_brute_min_f(inst))


@SETTINGS
@given(st.integers(0, 10**6), st.integers(1, 9), st.integers(5, 40))
def test_prefix_candidates_exact_when_prompts_equal(seed, n, memory):
    # with equal prompts the min-F batch is a prefix of the decode order (module docstring)
    rng = np.random.default_rng(seed)
    s = int(rng.integers(0, memory // 2))
    o = rng.integers(1, memory - s + 1, size=n)
    inst = Instance.from_arrays(memory, [s] * n, o)
    first = min(form_batches(inst), key=lambda b: f_metric(inst.decode, b))
    assert f_metric(inst.decode, first) == pytest.approx(_brute_min_f(inst))


# -- feasibility on random instances ----------------------------------------------------------
@SETTINGS
@given(instances(max_n=12, max_memory=40, max_decode=15))
def test_sorted_f_feasible(feasible, inst):
    names = ["sorted-f", "sorted-f-cont"] if HAVE_SIM or inst.offline else ["sorted-f"]
    if HAVE_SIM:
        names += ["sorted-f-online"]
    for name in names:
        res = solve(inst, name)
        assert res.status.value == "feasible", res.message
        assert check(inst, res.schedule).feasible
    for ex in (False, True):
        batches = form_batches(inst, exact_batches=ex)
        flat = np.sort(np.concatenate(batches))
        assert np.array_equal(flat, np.arange(inst.n))  # a partition
        for b in batches:
            assert inst.peak[b].sum() <= inst.memory
    p = solve(inst, "sorted-f-cont", backfill=True, clairvoyant=True).schedule.starts
    assert feasible(inst, p)


@SETTINGS
@given(instances(max_n=10, max_memory=30, max_decode=10), st.integers(0, 2**31 - 1),
       st.booleans())
def test_serial_decoder_earliest_and_feasible(feasible, inst, seed, order_preserving):
    order = np.random.default_rng(seed).permutation(inst.n)
    p = decode_order(inst, order, order_preserving=order_preserving)
    assert feasible(inst, p)
    # earliest: starting the last request of the order one step earlier is infeasible
    last = int(order[-1])
    lo = int(inst.arrival[last])
    if order_preserving and inst.n > 1:
        lo = max(lo, int(p[order[-2]]))
    if p[last] > lo:
        q = p.copy()
        q[last] -= 1
        assert not feasible(inst, q)


@SETTINGS
@given(instances(min_n=2, max_n=12, max_memory=40, max_decode=20), st.integers(0, 2**31 - 1))
def test_earliest_start_three_ways(inst, seed):
    from lpsched.heuristics.serial import DenseProfile

    rng = np.random.default_rng(seed)
    prof = DenseProfile(inst.memory, int(inst.decode.max()))
    for i in rng.permutation(inst.n).tolist():
        s, o = int(inst.prefill[i]), int(inst.decode[i])
        t0 = int(rng.integers(0, 30))
        p = prof.earliest(s, o, t0)
        assert p == prof.earliest_jump(s, o, t0) == prof.earliest_blocks(s, o, t0)
        assert prof.fits(s, o, p) and (p == t0 or not prof.fits(s, o, p - 1))
        prof.add(s, o, p)


@SETTINGS
@given(instances(max_n=8, max_memory=30, max_decode=10), st.integers(0, 2**31 - 1))
def test_group_decoder_feasible(inst, seed):
    rng = np.random.default_rng(seed)
    order = rng.permutation(inst.n).tolist()
    groups = [[i] for i in order]
    p = decode_groups(inst, groups)
    assert check(inst, p).feasible


# -- local search --------------------------------------------------------------------------
@SETTINGS
@given(instances(max_n=10, max_memory=30, max_decode=10), st.integers(0, 2**31 - 1),
       st.booleans())
def test_local_search_never_worse(inst, seed, backfill):
    rng = np.random.default_rng(seed)
    for p0 in (sequential_starts(inst, rng.permutation(inst.n)),
               solve(inst, "sorted-f").schedule.starts):
        obj0 = check(inst, p0).objective
        p, stats = improve(inst, p0, deadline=None, max_iters=40, seed=seed, backfill=backfill)
        rep = check(inst, p)
        assert rep.feasible
        assert rep.objective <= obj0
        assert stats["objective"] == rep.objective


def test_local_search_improves_sorted_f_cont_and_is_deterministic():
    inst = mcsf_synthetic(30, 3)
    base = solve(inst, "sorted-f-cont").objective
    r1 = solve(inst, "local-search", max_iters=300, seed=1, init="sorted-f-cont")
    r2 = solve(inst, "local-search", max_iters=300, seed=1, init="sorted-f-cont")
    assert r1.objective <= base
    assert r1.objective == r2.objective
    assert r1.stats["input_objective"] == base


def test_local_search_refuses_infeasible_input():
    inst = _example()
    with pytest.raises(ValueError, match="feasible input"):
        improve(inst, [0, 0, 0, 0], max_iters=5)


# -- exact DP --------------------------------------------------------------------------------
@settings(max_examples=examples(40))
@given(instances(max_n=4, max_memory=10, max_decode=4, max_arrival=3))
def test_dp_equals_brute_force(brute_optimum, inst):
    res = solve(inst, "dp")
    assert res.status.value == "optimal"
    opt, _ = brute_optimum(inst)
    assert res.objective == opt
    assert check(inst, res.schedule).objective == opt


def test_dp_limits_are_reported():
    inst = mcsf_synthetic(12, 0)
    res = solve(inst, "dp", max_states=1000)
    assert res.status.value == "time_limit" and "max_states" in res.message
    assert res.lower_bound is None and res.stats["fallback"] == "mc-sf"
    assert res.objective == solve(inst, "mc-sf").objective and check(inst, res.schedule).feasible
    with pytest.raises(UnsupportedInstance, match="n <= 16"):
        solve(mcsf_synthetic(17, 0), "dp")


def test_dp_equals_milp_on_tiny_instances():
    if "milp" not in registry.algorithm_names():
        pytest.skip("the time-indexed MILP is not registered in this tree")
    for seed in range(8):
        inst = random_instance(4, 9, seed, max_decode=4, max_arrival=2 if seed % 2 else 0)
        dp = solve(inst, "dp")
        milp = solve(inst, "milp", time_limit=30)
        assert milp.status.value == "optimal"
        assert dp.objective == milp.objective, inst


# -- adversarial families ----------------------------------------------------------------------
def _sf_order_objective(inst: Instance, key: np.ndarray) -> int:
    p = decode_order(inst, np.lexsort((np.arange(inst.n), key)))
    return int((p + inst.decode).sum())


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_adversarial_upper_bound_schedule_is_feasible_and_sorted_f_attains_it(family):
    gen, ub = FAMILIES[family]
    for M in (16, 64, 256):
        inst = gen(M)
        assert solve(inst, "sorted-f").objective == ub(M)
        assert solve(inst, "sorted-f-cont").objective == ub(M)


def test_adversarial_ratios_grow_with_memory():
    sf_ratio, size_ratio = [], []
    for M in (64, 256, 1024, 4096):
        a = sf_trap(M)
        sf_ratio.append(_sf_order_objective(a, a.decode) / a.metadata["upper_bound"])
        b = size_trap(M)
        size_ratio.append(_sf_order_objective(b, b.peak) / b.metadata["upper_bound"])
    for r in (sf_ratio, size_ratio):
        assert all(y > 1.6 * x for x, y in zip(r, r[1:])), r  # ~ sqrt(M): x2 per 4x in M
    assert sf_ratio[-1] > 20 and size_ratio[-1] > 30


def test_adversarial_against_registered_baselines():
    if "mc-sf" not in registry.algorithm_names():
        pytest.skip("baselines not registered")
    try:
        registry.get("mc-sf").load()
    except ImportError:
        pytest.skip("baselines module not in this tree")
    prev = 0.0
    for M in (64, 256, 1024):
        inst = sf_trap(M)
        ref = solve(inst, "sorted-f").objective
        ratios = {a: solve(inst, a).objective / ref for a in ("fcfs", "sf", "mc-sf")}
        assert min(ratios.values()) > prev
        prev = min(ratios.values())
    assert prev > 5


def test_adversarial_refuses_bad_memory():
    with pytest.raises(ValueError, match="memory"):
        sf_trap(2)


# -- LP-guided -------------------------------------------------------------------------------
LP_SETTINGS = settings(max_examples=examples(15))


@LP_SETTINGS
@given(instances(max_n=7, max_memory=25, max_decode=8))
def test_lp_guided_feasible(inst):
    objs = {}
    for name in ("sorted-lp", "lp-swap", "lp-horizon"):
        res = solve(inst, name, window=4) if name == "lp-horizon" else solve(inst, name)
        assert res.status.value == "feasible", res.message
        assert check(inst, res.schedule).feasible
        objs[name] = res.objective
    assert objs["lp-swap"] <= objs["sorted-lp"]  # swaps are kept only when they improve
    if HAVE_SIM:
        res = solve(inst, "sorted-lp-online", window=4)
        assert check(inst, res.schedule).feasible


def test_ordering_lp_width_one_is_the_time_indexed_relaxation():
    lpmod = pytest.importorskip("lpsched.models.lp_relaxation")
    arrays = pytest.importorskip("lpsched.models.arrays")
    windows = pytest.importorskip("lpsched.models.windows")
    from lpsched.heuristics.ordering_lp import ordering_lp

    for seed in range(3):
        inst = mcsf_synthetic(8, seed)
        mine = ordering_lp(inst, width=1, engine="own")
        shared = ordering_lp(inst, width=1)  # delegates to lpsched.models.lp_relaxation
        assert shared.value == pytest.approx(mine.value, rel=1e-7, abs=1e-6)
        T = mine.horizon
        o, a = inst.decode, inst.arrival
        w = windows.Windows(earliest=a.copy(), latest=np.maximum(T - o, a), upper_bound=0,
                            incumbent=np.zeros(inst.n, dtype=np.int64), horizon=T)
        theirs = lpmod.solve_lp_arrays(arrays.time_indexed_arrays(inst, w), cuts=False)
        assert mine.value == pytest.approx(theirs.value, rel=1e-7, abs=1e-6)
        assert np.allclose(mine.mean_start, theirs.mean_start, atol=1e-5) or \
            mine.value == pytest.approx(theirs.value)  # alternative optima may differ


def test_sorted_lp_hand_example():
    inst = _example()
    res = solve(inst, "sorted-lp")
    assert res.objective <= solve(inst, "sorted-f").objective
    assert res.stats["lp_status"] == "optimal" and res.stats["lp_width"] == 1


@pytest.mark.parametrize("name", ["tiny-1", "tiny-2", "tiny-3", "tiny-4"])
def test_local_search_stops_at_a_local_optimum(name):
    from lpsched.library import load_instance

    inst = load_instance(name)
    res = solve(inst, "local-search", time_limit=60)
    assert res.stats["stopped"] == "local_optimum"
    assert res.stats["iterations"] < 5000  # 20 kicks of a few moves each, not 60 s of them
    assert res.stats["restarts"] == 20
    assert res.objective == inst.metadata["optimum"]  # these tiny cases are easy


def test_local_search_reports_why_it_stopped():
    inst = mcsf_synthetic(40, 1)
    res = solve(inst, "local-search", max_iters=5)
    assert res.stats["stopped"] == "max_iters" and res.stats["iterations"] == 5


# -- release dates: no unforced idling in the order decoders (issue 4, azure-online) ----------
@SETTINGS
@given(instances(min_n=2, max_n=10, max_memory=30, max_decode=10, arrivals=True),
       st.integers(0, 2**31 - 1))
def test_release_aware_decoder_rule_and_earliest(inst, seed):
    order = np.random.default_rng(seed).permutation(inst.n)
    p = decode_order(inst, order, release_aware=True)
    a = inst.arrival
    assert naive_feasible(inst.memory, inst.prefill.tolist(), inst.decode.tolist(),
                          a.tolist(), p.tolist())
    rank = np.empty(inst.n, dtype=np.int64)
    rank[order] = np.arange(inst.n)

    def rule_ok(q, j):  # j starts after every earlier-listed request arrived by then
        return all(q[k] <= q[j] for k in range(inst.n) if rank[k] < rank[j] and a[k] <= q[j])

    assert all(rule_ok(p, j) for j in range(inst.n))
    # earliest: the last request one step earlier breaks memory or the rule
    last = int(order[-1])
    if p[last] > a[last]:
        q = p.copy()
        q[last] -= 1
        assert not rule_ok(q, last) or not naive_feasible(
            inst.memory, inst.prefill.tolist(), inst.decode.tolist(), a.tolist(), q.tolist())
    # offline it is the queue discipline
    off = Instance.from_arrays(inst.memory, inst.prefill, inst.decode)
    assert np.array_equal(decode_order(off, order, release_aware=True), decode_order(off, order))


@SETTINGS
@given(instances(max_n=10, max_memory=30, max_decode=10, arrivals=True),
       st.integers(0, 2**31 - 1))
def test_release_aware_decoder_never_idles_without_memory_pressure(inst, seed):
    """With memory for everything, every request starts at its arrival whatever the order
    (the old queue discipline made a later-arriving request block earlier ones)."""
    big = Instance.from_arrays(int(inst.peak.sum()) + 1, inst.prefill, inst.decode, inst.arrival)
    order = np.random.default_rng(seed).permutation(big.n)
    assert np.array_equal(decode_order(big, order, release_aware=True), big.arrival)
    groups = [[int(i)] for i in order]
    assert np.array_equal(decode_groups(big, groups, release_aware=True), big.arrival)


def test_lp_guided_do_not_idle_on_arrivals():
    """Regression (azure-online, sorted-lp/lp-swap 74-82% above best): the LP completion
    order lists the late short request r1 first; the old queue-discipline decoder then
    held r0 (arrived at 0, memory free) until r1's start at 5: objective 26, not 21."""
    inst = Instance(100, [Request("r0", 1, 20, 0), Request("r1", 1, 1, 5)])
    for name in ("sorted-lp", "lp-swap", "lp-horizon"):
        res = solve(inst, name)
        assert res.schedule.starts.tolist() == [0, 5], name
        assert res.objective == 21, name
    old = decode_order(inst, [1, 0])  # the strict queue discipline, kept as an option
    assert old.tolist() == [5, 5]


# -- online LP-Swap -------------------------------------------------------------------------
@LP_SETTINGS
@given(instances(max_n=8, max_memory=25, max_decode=8, arrivals=True),
       st.sampled_from([None, 0.5]), st.integers(0, 3))
def test_lp_swap_online_feasible_with_arrivals(inst, noise, seed):
    opts = {} if noise is None else {"prediction_noise": noise}
    res = solve(inst, "lp-swap-online", seed=seed, window=4, **opts)
    assert res.status.value == "feasible", res.message
    rep = check(inst, res.schedule)
    assert rep.feasible and rep.objective == res.objective
    assert np.all(res.schedule.starts >= inst.arrival)
    assert res.stats["swaps"] >= 0 and res.stats["lp_solves"] >= 0
    if noise is None:
        assert res.stats["evictions"] == 0


@SETTINGS
@given(instances(max_n=9, max_memory=30, max_decode=10), st.integers(0, 2**31 - 1),
       st.booleans())
def test_adjacent_swaps_never_worse(inst, seed, backfill):
    from lpsched.heuristics.local_search import adjacent_swaps

    order = np.random.default_rng(seed).permutation(inst.n)
    out, p, obj, stats = adjacent_swaps(inst, order, backfill=backfill)
    assert sorted(out.tolist()) == list(range(inst.n))
    rep = check(inst, p)
    assert rep.feasible and rep.objective == obj <= stats["start_objective"]
    assert stats["swaps"] == 0 or obj < stats["start_objective"]


def test_lp_swap_online_swaps_and_differs_from_sorted_lp_online():
    from lpsched.generators import random_instance

    inst = random_instance(16, 40, 3, max_arrival=30)
    a = solve(inst, "sorted-lp-online", window=8)
    b = solve(inst, "lp-swap-online", window=8)
    assert b.stats["swaps"] > 0
    assert b.stats["lp_solves"] == a.stats["lp_solves"]
    assert check(inst, b.schedule).feasible


# -- local search: the deadline is checked inside move evaluation ---------------------------
@pytest.mark.parametrize("backfill,ticks", [(True, 450), (False, 3000)])
def test_local_search_deadline_inside_evaluation_fake_clock(backfill, ticks):
    from lpsched.heuristics.local_search import CHECK_EVERY

    inst = mcsf_synthetic(3000, 0)
    p0 = sequential_starts(inst, np.arange(inst.n))
    obj0 = check(inst, p0).objective
    # 5 ticks: the very first decode (3000 groups) must be cut after <= 5 checks
    clock = FakeClock()
    p, st = improve(inst, p0, deadline=Deadline(5, clock=clock), seed=0, backfill=backfill)
    assert st["stopped"] == "time_limit" and st["aborted_evaluation"]
    assert st["evaluations"] == 0 and st["groups_decoded"] <= 5 * CHECK_EVERY
    assert np.array_equal(p, p0) and st["objective"] == obj0  # the input is returned
    # a larger budget: the work per tick stays bounded (a whole list per tick before)
    clock = FakeClock()
    p, st = improve(inst, p0, deadline=Deadline(ticks, clock=clock), seed=0,
                    backfill=backfill)
    assert st["stopped"] == "time_limit"
    assert st["groups_decoded"] <= CHECK_EVERY * clock.calls
    assert clock.calls <= ticks + 3  # nothing runs on past the limit
    rep = check(inst, p)
    assert rep.feasible and rep.objective == st["objective"] <= obj0
    assert st["evaluations"] >= 1


def test_local_search_real_deadline_on_a_large_instance():
    """n=3000, backfill decode (slow moves): stops by the deadline, inside an evaluation
    or between moves, and still returns the best schedule found (never the worse)."""
    inst = mcsf_synthetic(3000, 1)
    res = solve(inst, "local-search", time_limit=0.3, backfill=True)
    assert res.stats["stopped"] == "time_limit"
    assert res.objective <= res.stats["input_objective"]
    assert check(inst, res.schedule).objective == res.objective
