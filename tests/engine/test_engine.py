"""The engine: limits, chunked prefill, vLLM V1 recordings, the clock in seconds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpsched.check import check
from lpsched.engine import EngineLimits, StepTimeClock, UnitClock, run_engine
from lpsched.heuristics.vllm import VLLMPolicy
from lpsched.instance import Instance, InstanceError
from tests.bench_scripts import load_script
from tests.strategies import paged_instances

DATA = Path(__file__).resolve().parent / "data"


@pytest.mark.parametrize("bad, match", [
    ({"block_size": 0}, "block_size"), ({"max_num_seqs": 0}, "max_num_seqs"),
    ({"watermark": 1.0}, "watermark"), ({"watermark_rule": "v2"}, "watermark_rule"),
    ({"kv_accounting": "x"}, "kv_accounting"), ({"chunked_prefill": True}, "needs max_num"),
    ({"chunked_prefill": True, "max_num_batched_tokens": 8, "max_num_seqs": 9}, "<="),
    ({"max_num_batched_tokens": 1.5}, "max_num_batched_tokens"),
])
def test_limits_are_validated(bad, match):
    with pytest.raises(ValueError, match=match):
        EngineLimits(**bad)


def test_v1_defaults_and_watermark_counts():
    """vLLM 0.33.0 `vllm serve` on an H100/H200; V1 counts the watermark on num_blocks
    with the null block (M // b + 1), V0 on M // b."""
    v1 = EngineLimits.vllm_v1()
    assert (v1.block_size, v1.max_num_batched_tokens, v1.max_num_seqs, v1.chunked_prefill,
            v1.watermark, v1.kv_accounting, v1.async_scheduling) == (
        16, 8192, 1024, True, 0.0, "v1", True)
    lim = EngineLimits(block_size=16, watermark=0.01, watermark_rule="v1")
    assert lim.watermark_blocks(16 * 999) == 10  # int(0.01 * 1000)
    assert EngineLimits(block_size=16, watermark=0.01, watermark_rule="v0") \
        .watermark_blocks(16 * 999) == 9
    v0 = EngineLimits.vllm_v0(3000)
    assert (v0.max_num_batched_tokens, v0.max_num_seqs, v0.chunked_prefill) == (3000, 256, False)


def test_v1_accounting_needs_a_prompt_token():
    inst = Instance.from_arrays(10, [0, 2], [2, 2])
    with pytest.raises(InstanceError, match="at least one"):
        run_engine(inst, "fcfs", limits=EngineLimits(kv_accounting="v1"))


RECORDINGS = json.loads((DATA / "vllm_v1_recordings.json").read_text())


@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_vllm_matches_recordings_of_the_real_v1_scheduler(name):
    """Recordings of vLLM 0.33.0's V1 scheduler, synchronous and (``_async``) vllm serve's
    AsyncScheduler (synthetic workloads; a chunked budget in ``budget2048``, heavy
    preemption in ``preemption``): every first admission, every preemption step and every
    completion step agree."""
    cmp = load_script("engine_vs_vllm")
    row = cmp.compare(RECORDINGS[name], name)
    assert row["checker"] == "feasible"
    assert (row["first_admission_pct"], row["preemptions_pct"], row["completion_pct"]) == \
        (100.0, 100.0, 100.0)


LIMITS = st.builds(
    lambda chunk, budget, seqs, wm, acc: EngineLimits(
        max_num_seqs=min(seqs, budget) if chunk else seqs, max_num_batched_tokens=budget,
        chunked_prefill=chunk, watermark=wm, kv_accounting=acc),
    st.booleans(), st.integers(1, 12), st.integers(1, 6), st.sampled_from([0.0, 0.1]),
    st.sampled_from(["papers", "v1"]))


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(inst=paged_instances(max_block=4, max_n=7, max_memory=40, max_decode=8, max_arrival=6),
       lim=LIMITS, algo=st.sampled_from(["fcfs", "mc-sf", "vllm", "sf"]))
def test_every_policy_runs_under_the_limits(inst, lim, algo):
    """Any policy, any limits: every request completes, admissions come before starts,
    the schedule passes the checker on the memory instance, and no more than
    ``max_num_seqs`` requests are admitted in any step."""
    import dataclasses

    if lim.kv_accounting == "v1" and np.any(inst.prefill < 1):
        lim = dataclasses.replace(lim, kv_accounting="papers")  # V1 needs a prompt token
    lim = dataclasses.replace(lim, block_size=inst.block_size)
    try:
        res = run_engine(inst, algo, limits=lim)
    except Exception as exc:  # the padded model may refuse a request (paging rule)
        assert "padded" in str(exc), exc
        return
    sched = res.schedule
    assert check(sched.instance, sched).feasible
    assert np.all(res.first_admit <= sched.starts) and np.all(sched.starts >= inst.arrival)
    # admitted requests per step: from first admission to completion, minus preempted gaps
    c = sched.completions
    T = int(c.max()) + 2
    cnt = np.zeros(T + 1, dtype=np.int64)
    np.add.at(cnt, res.first_admit + 1, 1)
    np.add.at(cnt, c + 1, -1)
    for segs in sched.runs.values():
        for (p, d), (q, _e) in zip(segs, segs[1:]):
            cnt[p + d + 1] -= 1  # preempted after its segment, admitted again by q
            cnt[q + 1] += 1
    admitted = np.cumsum(cnt)
    if lim.max_num_seqs is not None and not lim.chunked_prefill:
        assert admitted.max() <= lim.max_num_seqs


def _unit_seconds(rows, kv, sq, out):
    return np.where(np.asarray(rows) > 0, 1.0, 0.0) + 0 * np.asarray(kv, dtype=float)


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(inst=paged_instances(max_block=4, max_n=6, max_memory=40, max_decode=8, max_arrival=8),
       algo=st.sampled_from(["fcfs", "mc-sf", "vllm"]), chunk=st.booleans(),
       lazy=st.booleans())
def test_timed_engine_with_unit_steps_is_the_step_model(inst, algo, chunk, lazy):
    """The same loop: with every step lasting one second, arrivals in seconds equal to
    the arrival steps and an idle jump instead of idle steps, every request gets its
    first token at ``p + 1`` and finishes at ``p + o`` (seconds = steps of the step
    model; the step indices differ only by the idle steps the timed run skips)."""
    lim = EngineLimits(block_size=inst.block_size, max_num_seqs=4 if chunk else None,
                       max_num_batched_tokens=6 if chunk else None, chunked_prefill=chunk)
    try:
        unit = run_engine(inst, algo, limits=lim, clock=UnitClock())
    except Exception as exc:
        assert "padded" in str(exc), exc
        return
    timed = run_engine(inst, algo, limits=lim, clock=StepTimeClock(_unit_seconds, 1.0, lazy),
                       arrival_s=inst.arrival.astype(float))
    ct = timed.clock
    assert np.array_equal(ct[timed.schedule.completions], unit.schedule.completions)
    assert np.array_equal(ct[timed.schedule.starts + 1], unit.schedule.starts + 1)
    assert check(timed.schedule.instance, timed.schedule).feasible


def test_lazy_clock_gives_the_same_times():
    """Deferring the costing (bounds from tables) changes when steps are costed, not
    their times: the clocks agree to float rounding (sums in another order: 1e-9 s)."""
    from lpsched.serving.replay import load_workload
    from lpsched.serving.steptime import build_step_time

    w = load_workload("azure_conv_2023", num_prompts=300, rate=8.0, seed=4)
    stm = build_step_time("h100", "llama3-8b", 1)
    inst = Instance.from_arrays(12000, w.prefill, w.decode, np.zeros(w.n, np.int64),
                                block_size=16)
    lim = EngineLimits.vllm_v1(max_num_batched_tokens=2048, max_num_seqs=64)
    runs = [run_engine(inst, VLLMPolicy(), limits=lim, arrival_s=w.arrival_s,
                       clock=StepTimeClock(stm.step_seconds, 0.005, lazy)) for lazy in (1, 0)]
    assert np.array_equal(runs[0].schedule.starts, runs[1].schedule.starts)
    assert runs[0].evictions == runs[1].evictions > 0
    assert np.allclose(runs[0].clock, runs[1].clock, rtol=0, atol=1e-9)


def _coupled_seconds(rows, kv, sq, out):
    """A monotone step-time model that is not separable (rows x KV): the clock must use
    its bound tables and call the model, not the separable tables."""
    rows, kv, sq, out = (np.asarray(x, dtype=float) for x in (rows, kv, sq, out))
    return np.where(rows > 0, 1e-3 + 1e-6 * rows * np.log1p(kv) + 1e-9 * sq + 1e-5 * out, 0.0)


@pytest.mark.parametrize("model", ["steptime", "coupled"])
def test_clock_modes_give_the_same_times(model):
    """Separable tables (the step-time model), deferred costing with bounds (a coupled
    model) and costing every interval at once agree to float rounding (1e-9 s: the same
    durations summed in another order)."""
    from lpsched.engine.clock import StepTimeClock as Clock
    from lpsched.serving.replay import load_workload
    from lpsched.serving.steptime import build_step_time

    w = load_workload("azure_conv_2023", num_prompts=200, rate=8.0, seed=6)
    f = build_step_time("h100", "llama3-8b", 1).step_seconds if model == "steptime" \
        else _coupled_seconds
    inst = Instance.from_arrays(12000, w.prefill, w.decode, np.zeros(w.n, np.int64),
                                block_size=16)
    lim = EngineLimits.vllm_v1(max_num_batched_tokens=2048, max_num_seqs=64)
    clocks = [Clock(f, 0.005, lazy) for lazy in (True, False)]
    runs = [run_engine(inst, VLLMPolicy(), limits=lim, arrival_s=w.arrival_s, clock=c)
            for c in clocks]
    assert (clocks[0].sep is not None) == (model == "steptime")
    assert (clocks[0].bounds is not None) == (model == "coupled")
    assert np.array_equal(runs[0].schedule.starts, runs[1].schedule.starts)
    assert np.allclose(runs[0].clock, runs[1].clock, rtol=0, atol=1e-9)


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_vllm_equals_the_v1_oracle_on_random_instances(data):
    """The ``vllm`` policy with V1's accounting and limits against ``tests/oracle_vllm_v1``
    (a from-scratch model of vLLM 0.33.0's V1 schedulers, sync and async, that reproduces the
    recordings; it comes with the peer harness and this test runs where it is present):
    every first admission, preemption step and completion on random paged instances with
    chunked prefill, watermarks and small budgets."""
    orc = pytest.importorskip("tests.oracle_vllm_v1")
    b = data.draw(st.sampled_from([1, 2, 4, 8]))
    blocks = data.draw(st.integers(2, 20))
    M = b * blocks
    n = data.draw(st.integers(1, 10))
    P = [data.draw(st.integers(1, M - 1)) for _ in range(n)]
    outs = [data.draw(st.integers(1, min(12, M - p))) for p in P]
    A = [data.draw(st.integers(0, 10)) for _ in range(n)]
    budget = data.draw(st.integers(1, 40))
    seqs = data.draw(st.integers(1, min(8, budget)))
    wm = data.draw(st.sampled_from([0.0, 0.1, 0.3]))
    asy = data.draw(st.booleans())
    try:
        inst = Instance.from_arrays(M, P, outs, A, block_size=b)
    except InstanceError:
        return  # a request that does not fit in blocks
    lim = EngineLimits(block_size=b, max_num_seqs=seqs, max_num_batched_tokens=budget,
                       chunked_prefill=True, watermark=wm, kv_accounting="v1",
                       async_scheduling=asy)
    ref = orc.V1Oracle(P, outs, A, orc.V1Limits(b, blocks, seqs, budget, lim.watermark_blocks(M),
                                                asynchronous=asy)).run(100_000)
    res = run_engine(inst, VLLMPolicy(), limits=lim)
    pre: dict[int, list[int]] = {k: [] for k in range(n)}
    for pos, t in res.preemption_events.tolist():
        pre[pos].append(t + 1)
    assert (res.first_admit + 1).tolist() == [ref.first[k] for k in range(n)]
    assert res.schedule.completions.tolist() == [ref.finished[k] for k in range(n)]
    assert pre == {k: list(ref.preempted[k]) for k in range(n)}


def test_a_policy_may_preempt():
    """``preempt(state)``: the engine gives up the named running requests before the
    admissions (recompute, progress kept), tells ``on_evict`` and records the events."""
    from lpsched.engine import BasePolicy

    class Rotate(BasePolicy):
        """Admit in position order; every third step give up the latest running one."""

        name = "rotate"

        def decide(self, state):
            return sorted(state.waiting)

        def preempt(self, state):
            if state.t % 3 == 2 and len(state.running) > 1:
                return [max(state.running, key=state.running.get)]
            return []

    inst = Instance.from_arrays(40, [3, 2, 4, 1], [6, 5, 4, 7], [0, 0, 1, 2])
    res = run_engine(inst, Rotate())
    assert res.evictions > 0 and res.resumes > 0
    assert res.preemption_events.shape == (res.evictions, 2)
    assert check(inst, res.schedule).feasible
    assert np.all(res.schedule.completions >= inst.arrival + inst.decode)
