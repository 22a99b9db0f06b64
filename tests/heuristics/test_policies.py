"""FCFS, SF, size-first and MC-SF: feasibility, hand-computed runs, the admission test."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched import solve
from lpsched.check import check
from lpsched.heuristics.baselines import fcfs, mc_sf, sf, size_first
from lpsched.heuristics.lookahead import LookaheadProfile
from lpsched.instance import Instance, Request
from lpsched.simulate import BasePolicy, simulate
from tests.oracle import predicted_end
from tests.strategies import examples, instances

ALGOS = ["fcfs", "sf", "size-first", "mc-sf"]
POLICY = {"fcfs": fcfs, "sf": sf, "size-first": size_first, "mc-sf": mc_sf}


# -- every policy, every setting: checker-feasible ------------------------------------------------


@settings(max_examples=examples(300))
@given(inst=instances(max_n=8, max_memory=40, max_decode=15),
       algo=st.sampled_from(ALGOS),
       noise=st.sampled_from([None, 0.3, 1.0]),
       seed=st.integers(0, 3))
def test_policies_feasible_offline_and_online(inst, algo, noise, seed):
    opts = {} if noise is None else {"prediction_noise": noise}
    res = solve(inst, algo, seed=seed, **opts)
    assert res.status.value == "feasible", res.message
    rep = check(inst, res.schedule)
    assert rep.feasible and rep.objective == res.objective
    assert np.all(res.schedule.starts >= inst.arrival)
    assert res.lower_bound is None
    if noise is None:
        assert res.stats["evictions"] == 0
    if algo == "fcfs":  # the first arrival finds nothing running and starts at once
        first = int(np.argmin(inst.arrival))
        assert res.schedule.starts[first] == inst.arrival[first]


@settings(max_examples=examples(200))
@given(inst=instances(max_n=8, max_memory=40, max_decode=15, arrivals=True),
       algo=st.sampled_from(ALGOS), under=st.booleans(), k=st.integers(1, 8))
def test_policies_feasible_with_biased_predictions(inst, algo, under, k):
    o = inst.decode
    preds = np.maximum(1, o - k) if under else o + k
    res = solve(inst, algo, predictions=preds.tolist())
    assert res.status.value == "feasible", res.message
    assert check(inst, res.schedule).feasible
    if not under:
        assert res.stats["evictions"] == 0  # over-prediction is only conservative


def test_fcfs_admits_in_arrival_order_when_alone():
    inst = Instance(20, [Request("r0", 1, 3, 4), Request("r1", 1, 3, 2)])
    assert solve(inst, "fcfs").schedule.starts.tolist() == [4, 2]


# -- hand-computed runs ---------------------------------------------------------------------------


def test_tiny3_hand_computed(tiny3):
    """tiny-3: M=12, r0=(8,1), r1..r3=(1,3), all at 0.

    MC-SF/SF/FCFS order r0, r1, r2, r3 (FCFS by position; r0 has the shortest
    decode). t=0: r0 (9 in step 1) fits; r1 adds 2 in step 1 (11) and ends at 3
    with 4: fits; r2 would make step 1 hold 13: misfit (SF also rejects r3, the
    same). t=1: r2 ends at 4: steps 3 (r1 4 + r2 3) and 4 (4) fit; r3 too (10,
    8). Starts (0,0,1,1), total 12 = the optimum. size-first orders by s+o: r1, r2,
    r3 (4) before r0 (9): t=0 all three fit (12 in step 3), r0 would need 6+9 in
    step 1, then 9+9, 12+9: it starts at 3 when they end: (3,0,0,0), total 13."""
    inst = tiny3
    for algo in ("mc-sf", "sf", "fcfs"):
        res = solve(inst, algo)
        assert res.schedule.starts.tolist() == [0, 0, 1, 1], algo
        assert res.objective == 12 == inst.metadata["optimum"]
    res = solve(inst, "size-first")
    assert res.schedule.starts.tolist() == [3, 0, 0, 0]
    assert res.objective == 13


def test_tiny4_online_hand_computed(tiny4):
    """tiny-4: M=9, r0=(4,2,a0), r1=(0,3,a0), r2=(2,2,a1), r3=(1,4,a3). MC-SF: t=0
    r0 (6 at its end) and r1 (r0 6 + r1 2 = 8 at step 2) start. t=1: r2 would add 3
    at step 2: 11 > 9. t=2: r0 gone; r2 with r1: 3+3=6 at step 3, 4 at 4: starts.
    t=3: r3 arrives; with r2 4+2=6 at step 4, 5 at 7: starts. Optimal (0,0,2,3)."""
    inst = tiny4
    res = solve(inst, "mc-sf")
    assert res.schedule.starts.tolist() == [0, 0, 2, 3]
    assert res.objective == inst.metadata["optimum"] == 12


def test_mcsf_beats_fcfs_when_order_matters():
    """M=10, r0=(5,5) listed first, r1=(2,2). FCFS starts r0 at 0; r1 then needs
    7+4 (start 0), 9+4 (start 3: its end collides with r0's 10), 10+3 (start 4) or
    more: it waits for r0 to end at 5. Total 5 + 7 = 12. MC-SF starts r1 first; r0
    at 0 would hold 7 + r1's 4 = 11 at step 2, so it starts at 1: step 2 holds
    4 + 6 = 10, and r0 ends at 6 with 10. Total 2 + 6 = 8."""
    inst = Instance(10, [Request("r0", 5, 5), Request("r1", 2, 2)])
    f = solve(inst, "fcfs")
    m = solve(inst, "mc-sf")
    assert f.schedule.starts.tolist() == [0, 5] and f.objective == 12
    assert m.schedule.starts.tolist() == [1, 0] and m.objective == 8


def test_sf_backfills_where_mcsf_stops():
    """M=10, r0=(6,1), r1=(5,2), r2=(0,3). By decode: r0, r1, r2. t=0: r0 fits (7);
    r1 would give 7+6=13 in step 1: misfit. MC-SF stops; SF skips r1 and starts r2
    (7+1=8 in step 1, 3 at its end). t=1: r1 fits in both (SF: r2 3 + r1 7 = 10
    at step 3); MC-SF also starts r2 at 1. MC-SF (0,1,1) total 8, SF (0,1,0) total
    7; size-first (s+o: r2 3, r0 7, r1 7) equals SF."""
    inst = Instance(10, [Request("r0", 6, 1), Request("r1", 5, 2), Request("r2", 0, 3)])
    assert solve(inst, "mc-sf").schedule.starts.tolist() == [0, 1, 1]
    assert solve(inst, "sf").schedule.starts.tolist() == [0, 1, 0]
    assert solve(inst, "size-first").schedule.starts.tolist() == [0, 1, 0]
    assert solve(inst, "fcfs").schedule.starts.tolist() == [0, 1, 1]


def test_options_and_stats(tiny3):
    inst = tiny3
    a = solve(inst, "mc-sf", prediction_noise=0.5, seed=3)
    b = solve(inst, "mc-sf", prediction_noise=0.5, seed=3)
    assert np.array_equal(a.schedule.starts, b.schedule.starts)
    assert a.stats["predictions"].startswith("lognormal sigma=0.5")
    for key in ("evictions", "preemptions", "recomputed_tokens", "policy_calls", "steps"):
        assert key in a.stats
    with pytest.raises(ValueError, match="unknown option"):
        solve(inst, "sf", threads=2)
    with pytest.raises(ValueError, match="not both"):
        solve(inst, "sf", predictions=[1, 1, 1, 1], prediction_noise=0.1)
    with pytest.raises(ValueError, match="prediction_noise"):
        solve(inst, "sf", prediction_noise="x")


# -- the look-ahead admission test against a direct summation -------------------------------------


@st.composite
def running_sets(draw):
    M = draw(st.integers(5, 60))
    t = draw(st.integers(0, 12))
    r = draw(st.integers(0, 6)) if t > 0 else 0  # running means started before t
    rows = []
    for k in range(r):
        p = draw(st.integers(0, t - 1))
        rows.append((k, draw(st.integers(0, 20)), p, draw(st.integers(1, 15))))
    s = draw(st.integers(0, M - 1))
    o = draw(st.integers(1, M - s))
    return M, t, rows, s, o


def _naive_fits(M, t, rows, s, o, x):
    """Predicted memory of running + candidate in every step of (x, x+o] <= M, with the
    running requests' predicted ends as seen at decision time t (a running request past
    its prediction re-predicted, ``predicted_end``)."""
    for u in range(x + 1, x + o + 1):
        m = s + u - x
        for _, sj, pj, oj in rows:
            e = predicted_end(pj, oj, t, M - sj)
            if pj < u <= e:
                m += sj + u - pj
        if m > M:
            return False
    return True


@settings(max_examples=examples(400))
@given(case=running_sets())
def test_lookahead_profile_matches_direct_sum(case):
    M, t, rows, s, o = case
    n = len(rows) + 1
    prefill = np.array([r[1] for r in rows] + [s], dtype=np.int64)
    ohat = np.array([r[3] for r in rows] + [o], dtype=np.int64)
    prof = LookaheadProfile(M, prefill, ohat)
    for k, _, p, _ in rows:
        prof.add(k, p)
    prof.prepare(t)
    assert prof.fits(s, o, t) == _naive_fits(M, t, rows, s, o, t)
    assert prof.fits_many(np.array([s]), np.array([o]), t)[0] == _naive_fits(M, t, rows, s, o, t)
    # earliest fit: valid until a running request reaches its (re-)predicted end
    later = [predicted_end(p, oj, t, M - sj) for _, sj, p, oj in rows]
    horizon = min(later) if later else 1 << 62
    cands = [(s, o), (max(0, s - 2), o + 1), (s // 2, max(1, o - 3)), (M - 1, 1)]
    cands = [(a, min(b, M - a)) for a, b in cands]
    wants = []
    for a, b in cands:
        want = next((x for x in range(t + 1, min(horizon, t + 200))
                     if _naive_fits(M, t, rows, a, b, x)), horizon)
        assert prof.earliest_fit(a, b, t) == want
        wants.append(want)
    got = prof.earliest_fit_many(np.array([c[0] for c in cands]),
                                 np.array([c[1] for c in cands]), t)
    assert got == min(wants)
    # after admitting the candidate (if it fits) the profile includes it
    if prof.fits(s, o, t):
        prof.add(n - 1, t)
        prof.prepare(t)
        rows2 = rows + [(n - 1, s, t, o)]
        for u in range(t + 1, t + 20):
            direct = sum(sj + u - pj for _, sj, pj, oj in rows2
                         if pj < u <= predicted_end(pj, oj, t, M - sj))
            assert int(prof.memory(u)) == direct


# -- the optimised policies against a plain reference implementation -----------------------------


class NaivePolicy(BasePolicy):
    """Reference: sort the waiting requests by the policy's key, test each candidate by
    summing the predicted memory over every step of its run (running requests seen as
    ending at their re-predicted end, ``predicted_end``), stop or skip at a misfit. No
    shortcuts."""

    def __init__(self, key, backfill):
        self.key, self.backfill = key, backfill

    def reset(self, state):
        self.ohat = [min(int(h), state.memory - int(s))
                     for h, s in zip(state.predicted, state.prefill)]

    def decide(self, state):
        t, M = state.t, state.memory
        s, a, oh = state.prefill, state.arrival, self.ohat

        def key(i):
            k = {"arrival": int(a[i]), "decode": oh[i], "size": int(s[i]) + oh[i]}[self.key]
            return (k, int(a[i]), i)

        runs = [(int(s[j]), p, predicted_end(p, oh[j], t, M - int(s[j])))
                for j, p in state.running.items()]
        out = []
        for i in sorted(state.waiting, key=key):
            cand = (int(s[i]), t, t + oh[i])
            ok = all(sum(sj + u - pj for sj, pj, ej in runs + [cand] if pj < u <= ej) <= M
                     for u in range(t + 1, t + oh[i] + 1))
            if ok:
                runs.append(cand)
                out.append(i)
            elif not self.backfill:
                break
        return out


@settings(max_examples=examples(250))
@given(inst=instances(max_n=9, max_memory=30, max_decode=10),
       algo=st.sampled_from(ALGOS), mode=st.integers(0, 2), k=st.integers(1, 5))
def test_policies_match_plain_reference(inst, algo, mode, k):
    key, backfill = {"fcfs": ("arrival", False), "sf": ("decode", True),
                     "size-first": ("size", True), "mc-sf": ("decode", False)}[algo]
    o = inst.decode
    preds = None if mode == 0 else (np.maximum(1, o - k) if mode == 1 else o + k)
    ref = simulate(inst, NaivePolicy(key, backfill), predictions=preds, skip_idle=False)
    fast = simulate(inst, POLICY[algo](), predictions=preds)
    assert np.array_equal(fast.schedule.starts, ref.schedule.starts)
    assert np.array_equal(fast.evicted_runs, ref.evicted_runs)


def test_backfill_ties_on_identical_requests():
    """M=12, x=(5,3,a0), a=(6,2,a1), b=(6,2,a0). size-first: keys all 8, order x, b, a.
    b cannot join x (6+7 > 12 in step 1, more later) until x ends at 3; then a and b
    are identical and both wait: the earlier arrival b goes first; a then needs
    7+7 > 12 at step 4 and starts when b ends at 5: (0, 5, 3). SF (decode keys 3, 2,
    2): b starts at 0 (8 at step 2), x would add 6 in step 1 (13); a arrives at 1, needs
    8+7 in step 2, starts at 2 when b ends; x needs a's 7 + 6 at step 3, 8 + 6 at 4,
    so it starts at 4: (4, 2, 0)."""
    inst = Instance(12, [Request("x", 5, 3), Request("a", 6, 2, 1), Request("b", 6, 2, 0)])
    for algo, key, want in (("size-first", "size", [0, 5, 3]), ("sf", "decode", [4, 2, 0])):
        got = solve(inst, algo).schedule.starts.tolist()
        assert got == want, algo
        ref = simulate(inst, NaivePolicy(key, True), skip_idle=False)
        assert ref.schedule.starts.tolist() == want


@st.composite
def tie_heavy(draw):
    """Few distinct lengths and arrivals, so equal keys and identical requests abound."""
    M = draw(st.integers(6, 14))
    n = draw(st.integers(2, 9))
    s = [draw(st.sampled_from([0, 2, 4])) for _ in range(n)]
    o = [draw(st.sampled_from([1, 2])) for _ in range(n)]
    a = [draw(st.sampled_from([0, 1])) for _ in range(n)]
    return Instance.from_arrays(M, s, o, a)


@settings(max_examples=examples(200))
@given(inst=tie_heavy(), algo=st.sampled_from(ALGOS))
def test_policies_match_reference_with_ties(inst, algo):
    key, backfill = {"fcfs": ("arrival", False), "sf": ("decode", True),
                     "size-first": ("size", True), "mc-sf": ("decode", False)}[algo]
    ref = simulate(inst, NaivePolicy(key, backfill), skip_idle=False)
    assert np.array_equal(solve(inst, algo).schedule.starts, ref.schedule.starts)


@settings(max_examples=examples(200))
@given(st.lists(st.integers(0, 20), min_size=1, max_size=40), st.data())
def test_record_tree_matches_plain_prefix_minima(values, data):
    """_RecordTree.records(lo, thr) = the members from rank lo on whose value is below thr
    and below every member before them, after random insertions and removals."""
    from lpsched.heuristics.baselines import _RecordTree

    tree = _RecordTree(np.asarray(values, dtype=np.int64))
    member = [False] * len(values)
    for _ in range(data.draw(st.integers(0, 60))):
        r = data.draw(st.integers(0, len(values) - 1))
        member[r] = data.draw(st.booleans())
        tree.set(r, member[r])
        lo = data.draw(st.integers(0, len(values)))
        thr = data.draw(st.integers(0, 25))
        plain, low = [], thr
        for k in range(lo, len(values)):
            if member[k] and values[k] < low:
                plain.append(k)
                low = values[k]
        assert tree.records(lo, thr) == plain
