"""The event simulator: protocol, memory guard, idle skipping, timed mode."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched.check import check
from lpsched.heuristics.baselines import fcfs, mc_sf, sf, size_first
from lpsched.instance import Instance, InstanceError, Request
from lpsched.simulate import (
    BasePolicy,
    SimulationError,
    noisy_predictions,
    simulate,
    timed_latencies,
)
from tests.oracle import naive_memory
from tests.strategies import examples, instances

POLICIES = {"fcfs": fcfs, "sf": sf, "size-first": size_first, "mc-sf": mc_sf}


class GreedyNextStep(BasePolicy):
    """Starts waiting requests (by position) while the *next* step has room.

    No look-ahead at all, so with long requests the memory guard must evict even
    with exact lengths: a test policy that exercises the guard.
    """

    name = "greedy-next-step"

    def decide(self, state):
        free = state.free_next
        out = []
        for pos in sorted(state.waiting):
            need = int(state.prefill[pos]) + 1
            if need <= free:
                out.append(pos)
                free -= need
        return out


def all_runs_memory(inst: Instance, res) -> dict[int, int]:
    """Actual memory per step over every segment of every request (naive sum): segment
    ``k`` of a preempted request holds ``s + D_k + (t - p_k)``."""
    pre, dec, st_ = [], [], []
    runs = res.schedule.runs
    for k in range(inst.n):
        segs = runs.get(k, ((int(res.schedule.starts[k]), int(inst.decode[k])),))
        done = 0
        for p, d in segs:
            pre.append(int(inst.prefill[k]) + done)
            dec.append(d)
            st_.append(p)
            done += d
    return naive_memory(pre, dec, st_)


def predictions_for(inst: Instance, mode: int, shift: int) -> np.ndarray | None:
    o = inst.decode
    if mode == 0:
        return None
    if mode == 1:  # under-prediction
        return np.maximum(1, o - shift)
    if mode == 2:  # over-prediction
        return o + shift
    return np.maximum(1, o + np.where(np.arange(inst.n) % 2 == 0, -shift, shift))


# -- properties ---------------------------------------------------------------------------------


@settings(max_examples=examples(250))
@given(inst=instances(max_n=7, max_memory=25, max_decode=10),
       policy=st.sampled_from(sorted(POLICIES) + ["greedy"]),
       mode=st.integers(0, 3), shift=st.integers(1, 6))
def test_actual_memory_never_exceeds_budget(inst, policy, mode, shift):
    pol = GreedyNextStep() if policy == "greedy" else POLICIES[policy]()
    res = simulate(inst, pol, predictions=predictions_for(inst, mode, shift))
    mem = all_runs_memory(inst, res)
    assert max(mem.values()) <= inst.memory
    rep = check(inst, res.schedule)
    assert rep.feasible, rep.reason()
    assert np.all(res.schedule.starts >= inst.arrival)
    runs = res.schedule.runs
    for pos, p, d in res.evicted_runs.tolist():  # preempted segments are in the runs
        assert p >= inst.arrival[pos] and d >= 1 and (p, d) in runs[pos][:-1]
    assert res.evictions == len(res.evicted_runs) == sum(len(v) - 1 for v in runs.values())
    recomputed = 0
    for pos, segs in runs.items():
        done = 0
        for k, (_p, d) in enumerate(segs):
            recomputed += (int(inst.prefill[pos]) + done) if k else 0
            done += d
    assert res.recomputed_tokens == recomputed and res.resumes == res.evictions
    if mode == 0 and policy != "greedy":
        assert res.evictions == 0  # exact lengths: look-ahead admission never overflows


@settings(max_examples=examples(250))
@given(inst=instances(max_n=7, max_memory=25, max_decode=10),
       policy=st.sampled_from(sorted(POLICIES)), mode=st.integers(0, 3), shift=st.integers(1, 6))
def test_skipping_idle_steps_is_exact(inst, policy, mode, shift):
    """Jumping with next_decision gives the very run of calling the policy every step."""
    preds = predictions_for(inst, mode, shift)
    fast = simulate(inst, POLICIES[policy](), predictions=preds)
    slow = simulate(inst, POLICIES[policy](), predictions=preds, skip_idle=False)
    assert np.array_equal(fast.schedule.starts, slow.schedule.starts)
    assert np.array_equal(fast.evicted_runs, slow.evicted_runs)
    assert fast.policy_calls <= slow.policy_calls


# -- hand-computed cases --------------------------------------------------------------------------


def test_guard_preempts_most_recent_and_resumes():
    """M=10, r0=(4,4), r1=(1,4), MC-SF told o_hat=(1,4) (r0 under-predicted).

    t=0: both start (predicted peaks 7 at step 1, 5 at step 4). True memory
    7, 9, 11 in steps 1-3, so at t=2 the guard preempts r1 (started after r0) after 2
    steps: segment (0, 2), progress kept. At t=2 r0 has outlived its prediction 1: it is
    re-predicted to 4 (1 doubled until > 2 steps run), so MC-SF sees step 4 holding
    8 + r1's 3 = 11 and waits. r0 ends at 4; r1 resumes at 4 holding 1 + 2 + 1 = 4 in
    step 5 (1 + 2 = 3 tokens recomputed) and ends at 6.
    """
    inst = Instance(10, [Request("r0", 4, 4), Request("r1", 1, 4)])
    res = simulate(inst, mc_sf(), predictions=[1, 4])
    assert res.schedule.starts.tolist() == [0, 0]
    assert res.schedule.runs == {1: ((0, 2), (4, 2))}
    assert res.evictions == 1 and res.evicted_runs.tolist() == [[1, 0, 2]]
    assert res.recomputed_tokens == 3 and res.resumes == 1
    assert res.schedule.completions.tolist() == [4, 6]
    assert check(inst, res.schedule).feasible


def test_online_requests_are_invisible_before_arrival():
    # r1 is short but arrives at 3: MC-SF cannot wait for it at t=0.
    inst = Instance(10, [Request("r0", 5, 5), Request("r1", 2, 2, arrival=3)])
    res = simulate(inst, mc_sf())
    # r0 at 0 (10 tokens in step 5). r1 at 3 or 4 would hold 4 or 3 tokens in step 5: > 10.
    assert res.schedule.starts.tolist() == [0, 5]


def test_protocol_errors():
    inst = Instance(10, [Request("r0", 5, 5), Request("r1", 2, 2, arrival=3)])

    class Early(BasePolicy):
        def decide(self, state):
            return [1]

    with pytest.raises(SimulationError, match="has not arrived"):
        simulate(inst, Early())

    class Overfill(BasePolicy):
        def decide(self, state):
            return sorted(state.waiting)

    big = Instance(10, [Request("a", 5, 2), Request("b", 5, 2)])
    # The engine owns the memory limit: an admission that does not fit the next step is
    # refused (handed back with on_refuse) and retried, never an overflow.
    over = simulate(big, Overfill())
    assert over.refused >= 1 and over.schedule.starts.tolist() == [0, 2]
    assert check(big, over.schedule).feasible

    class Idle(BasePolicy):
        def decide(self, state):
            return []

    with pytest.raises(SimulationError, match="stalled"):
        simulate(big, Idle())


def test_prediction_validation():
    inst = Instance(10, [Request("a", 1, 2), Request("b", 1, 2)])
    with pytest.raises(InstanceError, match="2 decode lengths"):
        simulate(inst, mc_sf(), predictions=[1])
    with pytest.raises(InstanceError, match="'b'.*>= 1"):
        simulate(inst, mc_sf(), predictions=[1, 0])
    with pytest.raises(InstanceError, match="'a'.*integer"):
        simulate(inst, mc_sf(), predictions=[1.5, 2])
    with pytest.raises(ValueError, match="prediction_noise"):
        noisy_predictions(inst, -1.0)


def test_noisy_predictions_are_seeded_and_at_least_one():
    inst = Instance(100, [Request(f"r{k}", 1, 1 + k % 7) for k in range(50)])
    a = noisy_predictions(inst, 0.8, seed=4)
    assert np.array_equal(a, noisy_predictions(inst, 0.8, seed=4))
    assert not np.array_equal(a, noisy_predictions(inst, 0.8, seed=5))
    assert a.min() >= 1
    assert np.array_equal(noisy_predictions(inst, 0.0, seed=1), inst.decode)


# -- timed mode ---------------------------------------------------------------------------------


def test_timed_latencies_two_requests():
    """a=(s1,o2), b=(s1,o1) both at 0: step 1 runs 2 requests with 2+2=4 tokens,
    step 2 runs a alone with 3 tokens. With 10 ms + 1 ms/request + 0.1 ms/token:
    step 1 = 10+2+0.4 = 12.4 ms, step 2 = 10+1+0.3 = 11.3 ms. Latency a = 23.7 ms,
    b = 12.4 ms. Starting b at 1 instead: step 1 (a alone, 2 tokens, 11.2 ms), step 2
    (a 3 + b 2 = 5 tokens, 12.5 ms): both end at step 2, latency 23.7 ms; b queued 11.2 ms."""
    inst = Instance(10, [Request("a", 1, 2), Request("b", 1, 1)])

    def lin(b, kv):
        return 0.010 + 0.001 * b + 0.0001 * kv

    res = timed_latencies(inst, [0, 0], lin)
    assert res.batch.tolist() == [2, 1] and res.kv_tokens.tolist() == [4, 3]
    assert res.latency == pytest.approx([0.0237, 0.0124])
    assert res.stats["mean"] == pytest.approx((0.0237 + 0.0124) / 2)
    assert res.tpot == pytest.approx([0.0237 / 2, 0.0124])
    res2 = timed_latencies(inst, [0, 1], lin)
    assert res2.latency == pytest.approx([0.0237, 0.0237])
    assert res2.queueing == pytest.approx([0.0, 0.0112])


def test_timed_latencies_rejects_bad_durations():
    inst = Instance(10, [Request("a", 1, 2)])
    with pytest.raises(ValueError, match="step 1"):
        timed_latencies(inst, [0], lambda b, kv: np.where(b > 0, -1.0, 0.0))


def test_guard_with_a_policy_without_look_ahead():
    """M=10, a=(1,8), b=(1,8), exact lengths, GreedyNextStep. Both start at 0 (2+2 in
    step 1); 2(1+t) > 10 first in step 5, so b is preempted at t=4 after 4 steps. The
    policy, which does not know b's progress, asks to resume it at t = 4, 5, 6 (it sees
    s + 1 = 2 <= free = 4, 3, 2), but b would hold 1 + 4 + 1 = 6 next to a's 6, 7, 8:
    each resume is deferred; at t = 7 one token is free. a ends at 8, b resumes (5 tokens
    recomputed) and ends at 12."""
    inst = Instance(10, [Request("a", 1, 8), Request("b", 1, 8)])
    res = simulate(inst, GreedyNextStep())
    assert res.evicted_runs.tolist() == [[1, 0, 4]]
    assert res.schedule.starts.tolist() == [0, 0]
    assert res.schedule.runs == {1: ((0, 4), (8, 4))}
    assert res.deferred_resumes == 3 and res.resumes == 1
    assert res.recomputed_tokens == 5


def test_state_seen_by_the_policy():
    """M=20, r0=(3,4) starts at 0 (FCFS), r1=(2,2,a2), predictions (2, 2): at t=2 the
    policy sees r0 running (started 0, 3+2=5 tokens in step 2; it has run its predicted
    2 steps, so it is re-predicted to 4 and has 2 predicted steps left), r1 waiting,
    next-step memory 3+3=6, free 14; it runs to step 4 (the truth)."""
    seen = {}

    class Spy(BasePolicy):
        def decide(self, state):
            if state.t == 2:
                seen.update(running=dict(state.running), waiting=set(state.waiting),
                            mem_now=state.memory_now(0), rem=state.predicted_remaining(0),
                            nxt=state.memory_next, free=state.free_next)
            return [p for p in sorted(state.waiting) if state.arrival[p] <= state.t][:1] \
                if state.free_next >= 10 else []

    inst = Instance(20, [Request("r0", 3, 4), Request("r1", 2, 2, 2)])
    res = simulate(inst, Spy(), predictions=[2, 2])
    assert seen == {"running": {0: 0}, "waiting": {1}, "mem_now": 5, "rem": 2, "nxt": 6,
                    "free": 14}
    assert res.schedule.starts.tolist() == [0, 2]


def test_fractional_prediction_is_refused_naming_the_request():
    from lpsched.instance import Instance, InstanceError
    from lpsched.simulate import validate_predictions

    inst = Instance.from_arrays(20, [1, 2], [3, 4])
    with pytest.raises(InstanceError, match="request 'r1'.*predicted decode length must be an integer"):
        validate_predictions(inst, [3, 2.5])
    assert validate_predictions(inst, [3.0, 4]).tolist() == [3, 4]
