"""The look-ahead policies under chunked prefill and asynchronous scheduling: counting the
step a finished request still holds (``LookaheadPolicy.async_aware``, default) and starting
an admitted request at the step the engine will give it (``chunk_aware``), the engine's
memory guard never preempts with exact predictions."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched.check import check
from lpsched.engine import EngineLimits, run_engine
from lpsched.engine.limits import PAPERS
from lpsched.heuristics.baselines import LookaheadPolicy
from lpsched.instance import Instance
from tests.strategies import examples

POLICIES = ("fcfs", "mc-sf", "sf", "size-first")


def _hand_case() -> tuple[Instance, EngineLimits]:
    """A (s=1, o=10) and K (s=6, o=2) at 0, M = 11, 4 tokens a step, 2 sequences."""
    inst = Instance.from_arrays(11, [1, 6], [10, 2], [0, 0], name="hand")
    return inst, EngineLimits(chunked_prefill=True, max_num_batched_tokens=4, max_num_seqs=2)


def test_hand_case_old_rule_preempts(monkeypatch):
    # FCFS at 0: A computes 1 token, K its first chunk of 3 (budget 4); the old rule
    # registers K as decoding from 0: peak A(2) + K(6 + 2) = 11 <= M at step 2, so it
    # admits. The engine computes K's last 3 tokens in step 2 (decision 1: 4 - 1 decode),
    # K decodes in steps 2-3: step 3 holds A 1 + 3 and K 6 + 2, 12 > 11: the guard
    # preempts K at decision 2 after one decode step.
    inst, lim = _hand_case()
    res = run_engine(inst, "fcfs", limits=lim)
    assert res.evictions == 1
    assert res.preemption_events.tolist() == [[1, 2]]
    assert check(res.schedule.instance, res.schedule).feasible


def test_hand_case_new_rule_waits(monkeypatch):
    # The new rule tests K at its start x = 1 (chunks 3 then 3): step 3 would hold 12 > 11,
    # and while A runs every start of K is chunked (3 tokens left after A's decode) and
    # too late, so K is admitted when A completes (10): chunk 4 in step 11, the last 2 in
    # step 12 (decision 11), it decodes in steps 12-13.
    monkeypatch.setattr(LookaheadPolicy, "chunk_aware", True)
    inst, lim = _hand_case()
    res = run_engine(inst, "fcfs", limits=lim)
    assert res.evictions == 0
    assert res.schedule.starts.tolist() == [0, 11]
    assert res.first_admit.tolist() == [0, 10]
    assert res.schedule.completions.tolist() == [10, 13]
    assert check(res.schedule.instance, res.schedule).feasible


@st.composite
def _cases(draw):
    """An instance the padded model can plan (``s >= 1`` for V1's accounting) and chunked
    limits with a small budget (so prompts are cut), in either accounting, sync or async."""
    b = draw(st.integers(1, 4))
    memory = draw(st.integers(3 * b, 48))
    cap = (memory // b) * b - (b - 1)  # the padded peak s + o + b - 1 must fit
    n = draw(st.integers(1, 7))
    s = [draw(st.integers(1, cap - 1)) for _ in range(n)]
    o = [draw(st.integers(1, min(12, cap - si))) for si in s]
    a = [draw(st.integers(0, 8)) for _ in range(n)]
    inst = Instance.from_arrays(memory, s, o, a, name="hyp-chunk", block_size=b)
    budget = draw(st.integers(2, 12))
    lim = EngineLimits(block_size=b, chunked_prefill=True, max_num_batched_tokens=budget,
                       max_num_seqs=draw(st.integers(1, budget)),
                       kv_accounting=draw(st.sampled_from(["papers", "v1"])),
                       async_scheduling=draw(st.booleans()))
    return inst, lim


@settings(max_examples=examples(120), deadline=None)
@given(_cases(), st.sampled_from(POLICIES))
def test_exact_predictions_never_trigger_the_guard(case, algo):
    inst, lim = case
    LookaheadPolicy.chunk_aware = True
    try:
        res = run_engine(inst, algo, limits=lim)
        slow = run_engine(inst, algo, limits=lim, skip_idle=False)
    finally:
        LookaheadPolicy.chunk_aware = False
    sched = res.schedule
    assert check(sched.instance, sched).feasible
    assert res.evictions == 0, res.preemption_events.tolist()
    assert np.array_equal(slow.schedule.starts, sched.starts)  # skipping stays exact


@settings(max_examples=examples(120), deadline=None)
@given(_cases(), st.sampled_from(POLICIES))
def test_default_rule_preempts_only_after_a_cut_admission(case, algo):
    # the default (asynchronous scheduling counted, starts at admission): the guard can
    # only act in a run where some prompt was cut, i.e. admitted before its start
    inst, lim = case
    res = run_engine(inst, algo, limits=lim)
    sched = res.schedule
    assert check(sched.instance, sched).feasible
    if res.evictions:
        assert bool(np.any(res.first_admit < sched.starts)), res.preemption_events.tolist()


@settings(max_examples=examples(40), deadline=None)
@given(_cases(), st.sampled_from(POLICIES))
def test_without_chunked_prefill_nothing_changes(case, algo):
    # the papers' engine and a budget without chunking: the old and the new rule agree
    inst, _lim = case
    for limits in (replace(PAPERS, block_size=inst.block_size),
                   EngineLimits(block_size=inst.block_size, max_num_batched_tokens=8,
                                max_num_seqs=3)):
        LookaheadPolicy.chunk_aware = True
        try:
            new = run_engine(inst, algo, limits=limits)
        finally:
            LookaheadPolicy.chunk_aware = False
        LookaheadPolicy.async_aware = False
        try:
            old = run_engine(inst, algo, limits=limits)
        finally:
            LookaheadPolicy.async_aware = True
        assert np.array_equal(new.schedule.starts, old.schedule.starts)
        assert new.evictions == old.evictions
        assert check(new.schedule.instance, new.schedule).feasible


@pytest.mark.parametrize("algo", POLICIES)
def test_vllm_v1_defaults_on_a_dense_instance(monkeypatch, algo):
    # V1's own limits (8192 tokens, 1024 sequences, async) with prompts longer than the
    # budget: no preemption with chunked starts predicted
    monkeypatch.setattr(LookaheadPolicy, "chunk_aware", True)
    rng = np.random.default_rng(7)
    n = 40
    s = rng.integers(2000, 20000, size=n)
    o = rng.integers(1, 400, size=n)
    inst = Instance.from_arrays(65536, s.tolist(), o.tolist(), np.sort(rng.integers(0, 200, n)),
                                name="dense", block_size=16)
    res = run_engine(inst, algo, limits=EngineLimits.vllm_v1())
    assert res.evictions == 0
    assert check(res.schedule.instance, res.schedule).feasible


@st.composite
def _async_cases(draw):
    """Paged instances under asynchronous scheduling without chunked prefill (a finished
    request holds its blocks one step more), either KV accounting."""
    b = draw(st.integers(1, 4))
    memory = draw(st.integers(3 * b, 48))
    cap = (memory // b) * b - (b - 1)
    n = draw(st.integers(1, 7))
    s = [draw(st.integers(1, cap - 1)) for _ in range(n)]
    o = [draw(st.integers(1, min(12, cap - si))) for si in s]
    a = [draw(st.integers(0, 8)) for _ in range(n)]
    inst = Instance.from_arrays(memory, s, o, a, name="hyp-async", block_size=b)
    lim = EngineLimits(block_size=b, async_scheduling=True,
                       kv_accounting=draw(st.sampled_from(["papers", "v1"])))
    return inst, lim


@settings(max_examples=examples(80), deadline=None)
@given(_async_cases(), st.sampled_from(
    (*POLICIES, "a-max", "wait", "nested-wait", "sorted-f-online")))
def test_every_lookahead_rule_counts_the_async_step(case, algo):
    # every rule planning with a look-ahead profile uses async_lengths: with exact lengths
    # (nested-wait: lengths unknown, so only feasibility) the guard never acts
    inst, lim = case
    res = run_engine(inst, algo, limits=lim)
    sched = res.schedule
    assert check(sched.instance, sched).feasible
    if algo != "nested-wait":
        assert res.evictions == 0, res.preemption_events.tolist()
