"""The engine's model of vLLM V1's ``AsyncScheduler`` (``EngineLimits.async_scheduling``) and
V1's "no admission in a step that preempted" (``admit_after_preemption=False``): against
the naive V1 model of ``tests/oracle_vllm_v1.py`` in its asynchronous mode on random paged
instances, against the committed recordings of the real ``AsyncScheduler``, and the
:class:`~lpsched.engine.padded.PaddedView` that lets a token-planning policy run on a
paged engine."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpsched.check import check
from lpsched.engine import EngineLimits, run_engine
from lpsched.engine.padded import PaddedView
from lpsched.heuristics.vllm import VLLMPolicy
from lpsched.instance import Instance, InstanceError
from lpsched.registry import make_policy
from tests.bench_scripts import BENCHMARKS, load_script
from tests.oracle_vllm_v1 import V1Limits, V1Oracle
from tests.strategies import paged_instances

RECORDINGS = BENCHMARKS / "results" / "peer_vllm"


def decisions(res, n: int) -> list[tuple[int, list[int], int]]:
    """Per request (first admission, preemption steps, completion) in vLLM's step numbers."""
    pre: dict[int, list[int]] = {k: [] for k in range(n)}
    for pos, t in res.preemption_events.tolist():
        pre[pos].append(t + 1)
    first, done = (res.first_admit + 1).tolist(), res.schedule.completions.tolist()
    return [(first[k], pre[k], done[k]) for k in range(n)]


@pytest.mark.parametrize("flag", ["async_scheduling", "admit_after_preemption"])
def test_the_new_flags_are_validated_and_described(flag):
    with pytest.raises(ValueError, match=flag):
        EngineLimits(**{flag: 1})
    exact = EngineLimits.vllm_v1_exact(block_size=8)
    assert exact.describe()["async_scheduling"] is True
    assert exact.describe()["admit_after_preemption"] is False
    assert EngineLimits.vllm_v1().async_scheduling is False  # replay's default is unchanged


def test_a_finished_request_holds_its_blocks_one_step_more():
    """Three blocks of 4: a (prompt 4, 2 outputs) holds 4 then 5 tokens (2 blocks in step 2);
    b (prompt 8, 2 blocks) fits only when a's blocks are free: step 3 synchronously, step 4
    with asynchronous scheduling (a's last token is in flight in step 3)."""
    inst = Instance.from_arrays(12, [4, 8], [2, 1], [0, 1], block_size=4)
    sync = EngineLimits.vllm_v1(block_size=4, max_num_seqs=4, max_num_batched_tokens=8)
    for limits, first_b in ((sync, 3), (EngineLimits.vllm_v1_exact(
            block_size=4, max_num_seqs=4, max_num_batched_tokens=8), 4)):
        res = run_engine(inst, VLLMPolicy(), limits=limits)
        assert decisions(res, 2) == [(1, [], 2), (first_b, [], first_b)]
        assert check(res.schedule.instance, res.schedule).feasible


def _async_recordings() -> list[str]:
    if not RECORDINGS.is_dir():
        return []
    return sorted(p.stem for p in RECORDINGS.glob("*_async.json") if "_plus" not in p.stem)


@pytest.mark.skipif(not _async_recordings(),
                    reason="no committed recordings in benchmarks/results/peer_vllm")
@pytest.mark.parametrize("name", _async_recordings())
def test_engine_reproduces_the_real_async_scheduler(name):
    """Every recording of vLLM 0.33.0's ``AsyncScheduler`` with prompt = lpsched prefill (nine
    workloads: backlogs, arrivals, heavy preemption, binding budgets, ``vllm serve``'s
    defaults): every first admission, preemption and completion step."""
    path = RECORDINGS / f"{name}.json"
    pv = load_script("peer_vllm")
    rec = pv.expand(json.loads(path.read_text()))
    inst, s = pv.instance_of(rec), rec["settings"]
    limits = EngineLimits.vllm_v1_exact(
        block_size=s["block_size"], max_num_seqs=s["max_num_seqs"],
        max_num_batched_tokens=s["max_num_batched_tokens"], watermark=s["watermark"])
    res = run_engine(inst, VLLMPolicy(), limits=limits)
    assert decisions(res, inst.n) == [(r["first_scheduled"], r["preempted"], r["finished"])
                                      for r in rec["requests"]]


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_async_vllm_equals_the_async_v1_oracle_on_random_instances(data):
    """The ``vllm`` policy under :meth:`EngineLimits.vllm_v1_exact` decides as the naive
    asynchronous V1 model: random paged instances, chunked prefill, watermarks, small
    budgets and sequence limits; with and without skipping idle decision times."""
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
    try:
        inst = Instance.from_arrays(M, P, outs, A, block_size=b)
    except InstanceError:
        return  # a request that does not fit in blocks
    lim = EngineLimits.vllm_v1_exact(block_size=b, max_num_seqs=seqs,
                                     max_num_batched_tokens=budget, watermark=wm)
    ref = V1Oracle(P, outs, A, V1Limits(b, blocks, seqs, budget, lim.watermark_blocks(M),
                                     asynchronous=True)).run(100_000)
    want = [(ref.first[k], ref.preempted[k], ref.finished[k]) for k in range(n)]
    for skip in (True, False):
        res = run_engine(inst, VLLMPolicy(), limits=lim, skip_idle=skip)
        assert decisions(res, n) == want


@settings(max_examples=80, deadline=None, derandomize=True)
@given(inst=paged_instances(max_block=4, max_n=7, max_memory=48, max_decode=8))
def test_padded_view_runs_a_token_policy_on_real_blocks(inst):
    """A token-planning policy wrapped in :class:`PaddedView` runs on the paged engine (its
    schedule is checked on the paged instance); at block size 1 it is the policy itself."""
    b = inst.block_size
    if np.any(inst.prefill + inst.decode + b - 1 > inst.memory):
        return  # the padded model does not fit a request: PaddedView refuses it
    lim = EngineLimits(block_size=b)
    res = run_engine(inst, PaddedView(make_policy("mc-sf")), limits=lim)
    assert check(inst, res.schedule).feasible
    if b == 1:
        plain = run_engine(inst, "mc-sf", limits=lim)
        assert np.array_equal(res.schedule.starts, plain.schedule.starts)


def test_padded_view_refuses_a_block_aware_policy():
    with pytest.raises(ValueError, match="block-aware"):
        PaddedView(VLLMPolicy())
