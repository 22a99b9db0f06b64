"""Incremental Sorted-F structures and the online policies against plain recomputes.

The references here sort and scan from scratch, in plain Python: the greedy min-F
batch of a set (every candidate order sorted, every prefix tried), the queue of
the online policies (that greedy re-run on the whole waiting set at every arrival
or eviction, in formation order), release-aware batches (the first greedy batch of
the arrived requests at each batch end), and an admission test by direct summation.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched import registry, solve
from lpsched.check import check
from lpsched.heuristics import batches as batches_mod
from lpsched.heuristics import lookahead as lookahead_mod
from lpsched.heuristics.batches import (
    DEFAULT_THETAS,
    BatchQueue,
    form_batches,
    release_aware_batches,
)
from lpsched.heuristics.online import (
    LPSwapPolicy,
    SortedFPolicy,
    SortedLPPolicy,
    run_order_policy,
)
from lpsched.instance import Instance
from lpsched.options import OptionError
from lpsched.simulate import BasePolicy, simulate
from lpsched.stop import Deadline
from tests.oracle import predicted_end
from tests.strategies import examples, instances

FAST = settings(max_examples=examples(120))


# -- plain references ---------------------------------------------------------------------------
def plain_batch(M, s, o, pool, thetas=DEFAULT_THETAS):
    """The least-F feasible prefix over the candidate orders of ``pool``, by decode length."""
    best_f, best = math.inf, None
    for th in thetas:
        order = sorted(pool, key=lambda i: (o[i] + th * s[i] if th < 1 else s[i] + o[i], i))
        cum = cumo = 0
        f_best, k_best = math.inf, 0
        for k, i in enumerate(order, 1):
            cum += s[i] + o[i]
            if cum > M:
                break
            cumo += o[i]
            if cumo / (k * k) < f_best:
                f_best, k_best = cumo / (k * k), k
        if f_best < best_f:
            best_f, best = f_best, order[:k_best]
    return sorted(best, key=lambda i: (o[i], i))


def plain_formation(M, s, o, members):
    """Greedy batches of ``members`` in formation order."""
    pool, out = set(members), []
    while pool:
        b = plain_batch(M, s, o, pool)
        out.append(b)
        pool.difference_update(b)
    return out


def lists(inst: Instance):
    return inst.memory, inst.prefill.tolist(), inst.decode.tolist()


@contextlib.contextmanager
def scan_kernel(kernel: str):
    """Run with one scan kernel of the batch queue (both give the same results)."""
    old = batches_mod._OrderView.VECTOR_K
    batches_mod._OrderView.VECTOR_K = 10**9 if kernel == "python" else 0
    try:
        yield
    finally:
        batches_mod._OrderView.VECTOR_K = old


KERNELS = pytest.mark.parametrize("kernel", ["python", "vector"])


# -- the batch queue ----------------------------------------------------------------------------
@st.composite
def queue_scripts(draw):
    inst = draw(instances(min_n=1, max_n=14, max_memory=40, max_decode=12))
    ops = draw(st.lists(st.tuples(st.sampled_from(["add", "pop", "read", "swap"]),
                                  st.integers(0, 2**16)), min_size=1, max_size=25))
    return inst, ops


@KERNELS
@FAST
@given(script=queue_scripts())
def test_batch_queue_is_the_greedy_of_its_set(script, kernel):
    """After every change the queue is what the plain greedy gives: re-run on the whole set
    after an addition, the old queue minus its head after starts, the given head after a
    re-ordering; reading it (forming batches) in between changes nothing."""
    inst, ops = script
    with scan_kernel(kernel):
        M, s, o = lists(inst)
        q = BatchQueue(M, inst.prefill, inst.decode)
        rng = np.random.default_rng(len(ops))
        outside = list(range(inst.n))
        ref: list[int] = []
        for op, x in ops:
            if op == "add" and outside:
                k = 1 + x % min(4, len(outside))
                new = [outside.pop(x % len(outside)) for _ in range(k) if outside]
                q.add(new)
                ref = [i for b in plain_formation(M, s, o, set(ref) | set(new)) for i in b]
            elif op == "pop" and ref:
                k = 1 + x % len(ref)
                assert q.head(k) == ref[:k]
                q.pop_front(k)
                ref = ref[k:]
            elif op == "swap" and len(ref) > 1:
                k = 2 + x % (len(ref) - 1)
                head = q.head(k)
                perm = [head[j] for j in rng.permutation(len(head))]
                q.replace_front(perm)
                ref[:k] = perm
            else:
                m = x % (len(ref) + 2)
                assert q.head(m) == ref[:m]
            assert len(q) == len(ref)
        assert list(q) == ref


@KERNELS
@FAST
@given(inst=instances(max_n=14, max_memory=40, max_decode=12))
def test_form_batches_is_the_plain_greedy_sorted_by_f(inst, kernel):
    M, s, o = lists(inst)
    plain = plain_formation(M, s, o, range(inst.n))
    fv = [sum(o[i] for i in b) / len(b) ** 2 for b in plain]
    want = [plain[j] for j in sorted(range(len(plain)), key=lambda j: fv[j])]  # stable
    with scan_kernel(kernel):
        assert [b.tolist() for b in form_batches(inst)] == want


@KERNELS
@FAST
@given(inst=instances(max_n=14, max_memory=40, max_decode=12, arrivals=True))
def test_release_aware_batches_is_the_plain_rule(inst, kernel):
    M, s, o = lists(inst)
    a = inst.arrival.tolist()
    left, t, want, starts = set(range(inst.n)), 0, [], []
    while left:
        avail = {i for i in left if a[i] <= t}
        if not avail:
            t = min(a[i] for i in left)
            continue
        b = plain_batch(M, s, o, avail)
        want.append(b)
        starts.append(t)
        t += max(o[i] for i in b)
        left.difference_update(b)
    with scan_kernel(kernel):
        got, got_starts = release_aware_batches(inst)
    assert [b.tolist() for b in got] == want and got_starts.tolist() == starts
    assert check(inst, solve(inst, "sorted-f").schedule).feasible


def test_batch_queue_refuses_misuse():
    q = BatchQueue(10, np.array([1, 1]), np.array([2, 2]))
    q.add([0])
    with pytest.raises(ValueError, match="already"):
        q.add([0])
    assert q.head(3) == [0]
    with pytest.raises(ValueError, match="only 1"):
        q.pop_front(2)
    with pytest.raises(ValueError, match="permutation"):
        q.replace_front([1])


def test_lookahead_builds_agree():
    """The list and numpy builds of the look-ahead arrays give the same values."""
    rng = np.random.default_rng(5)
    for _ in range(200):
        r = int(rng.integers(1, 40))
        e = rng.integers(1, 30, r).tolist()
        w = rng.integers(-20, 20, r).tolist()
        a = lookahead_mod._build(100, e, w)
        b = lookahead_mod._build_numpy(100, np.array(e), np.array(w))
        assert (a.e, a.sn, a.pm) == (b.e, b.sn, b.pm)
        # suffix sums are read at the first index of each completion value (and the end);
        # inside a run of equal completions their order is free
        firsts = [i for i in range(r + 1) if i in (0, r) or a.e[i - 1] != a.e[i]]
        assert [a.sw[i] for i in firsts] == [b.sw[i] for i in firsts]


# -- the online Sorted-F policy against a plain one ---------------------------------------------
class PlainSortedF(BasePolicy):
    """Re-run the greedy on the whole waiting set at every arrival or eviction (formation
    order), admit its head while each request fits by direct summation of the predicted
    memory over every step; stop at the first misfit. Called at every step."""

    def reset(self, state):
        self.o = [min(int(h), state.memory - int(s)) for h, s in zip(state.predicted,
                                                                      state.prefill)]
        self.s = state.prefill.tolist()
        self.queue = []

    def _reform(self, state):
        form = plain_formation(state.memory, self.s, self.o, state.waiting)
        self.queue = [i for b in form for i in b]

    def on_arrival(self, state, positions):
        self._reform(state)

    def on_evict(self, state, positions):
        self._reform(state)

    def decide(self, state):
        t, M, s, o = state.t, state.memory, self.s, self.o
        runs = [(s[j], p, predicted_end(p, o[j], t, M - s[j])) for j, p in state.running.items()]
        out = []
        for i in self.queue:
            cand = (s[i], t, t + o[i])
            if not all(sum(sj + u - pj for sj, pj, ej in runs + [cand] if pj < u <= ej) <= M
                       for u in range(t + 1, t + o[i] + 1)):
                break
            runs.append(cand)
            out.append(i)
        self.queue = self.queue[len(out):]
        return out


@settings(max_examples=examples(150))
@given(inst=instances(max_n=10, max_memory=35, max_decode=10),
       mode=st.integers(0, 2), k=st.integers(1, 4))
def test_sorted_f_policy_matches_plain_reference(inst, mode, k):
    o = inst.decode
    preds = None if mode == 0 else (np.maximum(1, o - k) if mode == 1 else o + k)
    ref = simulate(inst, PlainSortedF(), predictions=preds, skip_idle=False)
    fast = simulate(inst, SortedFPolicy(), predictions=preds)
    assert np.array_equal(fast.schedule.starts, ref.schedule.starts)
    assert np.array_equal(fast.evicted_runs, ref.evicted_runs)
    assert check(inst, fast.schedule).feasible


# -- deadlines --------------------------------------------------------------------------------
class FakeClock:
    """Advances ``tick`` seconds at every reading."""

    def __init__(self, tick: float):
        self.now, self.tick = 0.0, tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def _busy_instance(n=60, seed=3) -> Instance:
    rng = np.random.default_rng(seed)
    s = rng.integers(1, 30, n)
    o = rng.integers(1, 20, n)
    return Instance.from_arrays(100, s, o, np.sort(rng.integers(0, 80, n)))


@pytest.mark.parametrize("policy", [SortedFPolicy, lambda: SortedLPPolicy(window=4),
                                    lambda: LPSwapPolicy(window=4, swap_passes=1)])
def test_policy_under_a_fake_deadline_drains_with_a_verified_schedule(policy):
    inst = _busy_instance()
    res = run_order_policy(inst, policy(), Deadline(1.0, clock=FakeClock(0.05)), None, {})
    assert res.status.value == "time_limit"
    assert res.stats["drained"] > 0 and "fallback" in res.stats
    rep = check(inst, res.schedule)
    assert rep.feasible and rep.objective == res.objective
    if "lp_solves" in res.stats:  # the budget ran out: the window kept the Sorted-F order
        assert res.stats["lp_skipped"] > 0 and "lp_fallback" in res.stats


@pytest.mark.parametrize("algo", ["sorted-f-online", "sorted-lp-online", "lp-swap-online",
                                  "sorted-f-cont"])
def test_policy_with_a_tiny_real_limit(algo):
    inst = _busy_instance(120, seed=4)
    res = solve(inst, algo, time_limit=0.05)
    assert res.status.value in ("feasible", "time_limit")
    assert check(inst, res.schedule).feasible


def test_simulate_itself_budgets_the_lp_re_solves():
    """Called directly (as replay does), simulate() hands the policy its deadline: the
    re-solves stop at 90% of it instead of running until the drain cuts the run."""
    inst = _busy_instance()
    policy = SortedLPPolicy(window=4)
    sim = simulate(inst, policy, deadline=Deadline(1.0, clock=FakeClock(0.05)))
    assert policy.budget.limited
    assert policy.lp_skipped > 0
    assert check(inst, sim.schedule).feasible
    unlimited = SortedLPPolicy(window=4)
    simulate(_busy_instance(40, seed=5), unlimited)
    assert not unlimited.budget.limited and unlimited.lp_skipped == 0


def test_lp_policy_without_limit_never_skips_and_caches():
    inst = _busy_instance(40, seed=5)
    res = solve(inst, "sorted-lp-online", window=4)
    st_ = res.stats
    assert st_["lp_skipped"] == 0 and "lp_fallback" not in st_
    assert st_["lp_solves"] + st_["lp_cached"] >= 1
    assert check(inst, res.schedule).feasible


# -- simulate() by name -----------------------------------------------------------------------
POLICY_NAMES = [s.name for s in registry.specs() if s.kind == "policy"]


@settings(max_examples=examples(40))
@given(inst=instances(max_n=8, max_memory=30, max_decode=10),
       name=st.sampled_from(["fcfs", "sf", "size-first", "mc-sf", "sorted-f-online"]))
def test_simulate_by_name_equals_solve(inst, name):
    sim = simulate(inst, name)
    res = solve(inst, name)
    assert np.array_equal(sim.schedule.starts, res.schedule.starts)
    assert check(inst, sim.schedule).feasible


def test_every_policy_has_a_factory_and_options_reach_it():
    inst = _busy_instance(20)
    for name in POLICY_NAMES:
        assert registry.get(name).policy, name
        assert check(inst, simulate(inst, name).schedule).feasible
    pol = registry.make_policy("lp-swap-online", {"window": 3, "swap_passes": 0})
    assert (pol.window, pol.swap_passes) == (3, 0)
    res = simulate(inst, "sorted-lp-online", options={"window": 3})
    assert np.array_equal(res.schedule.starts,
                          solve(inst, "sorted-lp-online", window=3).schedule.starts)


def test_simulate_by_name_refuses_clearly():
    inst = _busy_instance(5)
    with pytest.raises(OptionError, match="'milp' is not a policy.*mc-sf"):
        simulate(inst, "milp")
    with pytest.raises(OptionError, match="'sorted-f-cont' is not a policy"):
        simulate(inst, "sorted-f-cont")
    with pytest.raises(KeyError, match="unknown algorithm 'mc_sf'"):
        simulate(inst, "mc_sf")
    with pytest.raises(OptionError, match="unknown option 'windw'"):
        simulate(inst, "sorted-lp-online", options={"windw": 3})
    with pytest.raises(OptionError, match="simulation, not policy"):
        simulate(inst, "mc-sf", options={"skip_idle": False})
    with pytest.raises(TypeError, match="by name"):
        simulate(inst, SortedFPolicy(), options={"window": 3})
