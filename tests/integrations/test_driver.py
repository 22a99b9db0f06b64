"""An engine policy driven from a serving scheduler's state decides as lpsched's engine.

No vLLM needed: the scheduler is the naive V1 model of ``tests/oracle_vllm_v1.py`` with the
plugin's hook (:class:`tests.integrations.oracle_plugin.DrivenOracle`), and the engine runs
the same policy under :meth:`EngineLimits.vllm_v1` (asynchronous V1, no admission
in a step that preempted) with the padded view for token-planning policies. Every first
admission, preemption and completion step must agree, on random paged instances with
random limits and noisy predictions.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lpsched.engine import EngineLimits, run_engine
from lpsched.engine.padded import PaddedView
from lpsched.errors import InstanceError
from lpsched.instance import Instance
from lpsched.integrations.driver import DEPLOYABLE, PolicyDriver
from lpsched.registry import make_policy
from tests.integrations.oracle_plugin import DrivenOracle
from tests.oracle_vllm_v1 import V1Limits
from tests.strategies import paged_instances


def engine_decisions(inst: Instance, name: str, limits: EngineLimits, pred) -> list[tuple]:
    """Per request (first admission step, preemption steps, completion step), vLLM's step
    numbering (the engine's decision time + 1)."""
    policy = make_policy(name)
    if not policy.block_aware and inst.block_size > 1:
        policy = PaddedView(policy)
    res = run_engine(inst, policy, limits=limits, predictions=pred, skip_idle=False)
    pre: dict[int, list[int]] = {k: [] for k in range(inst.n)}
    for pos, t in res.preemption_events.tolist():
        pre[pos].append(t + 1)
    first, done = (res.first_admit + 1).tolist(), res.schedule.completions.tolist()
    return [(first[k], pre[k], done[k]) for k in range(inst.n)]


def plugin_decisions(inst: Instance, name: str, lim: V1Limits, limits: EngineLimits,
                     pred) -> list[tuple]:
    driver = PolicyDriver(name, blocks=lim.blocks, block_size=lim.block_size, limits=limits)
    got = DrivenOracle(inst.prefill.tolist(), inst.decode.tolist(), inst.arrival.tolist(), lim,
                       driver, pred).run()
    return [(got.first[k], got.preempted[k], got.finished[k]) for k in range(inst.n)]


@st.composite
def cases(draw):
    base = draw(paged_instances(max_block=4, max_n=8, max_memory=64, max_decode=14))
    b = base.block_size
    blocks = base.memory // b
    # requests listed in arrival order (as in a trace): the engine breaks the policies' ties
    # by position, a serving scheduler by arrival order
    order = np.argsort(base.arrival, kind="stable")
    try:  # vLLM prompts P = s + 1 hold s + j tokens in their j-th step: the same memory
        inst = Instance.from_arrays(blocks * b, base.prefill[order] + 1, base.decode[order],
                                    base.arrival[order], name="hyp-v1", block_size=b)
    except InstanceError:
        assume(False)
    budget = draw(st.sampled_from([blocks * b, max(4, blocks * b // 2), 8]))
    seqs = draw(st.integers(1, min(budget, 8)))
    wm = draw(st.sampled_from([0.0, 0.0, 0.1]))
    noise = draw(st.sampled_from([None, 0.5]))
    rng = np.random.default_rng(draw(st.integers(0, 99)))
    o = inst.decode
    pred = o if noise is None else np.maximum(1, np.rint(o * np.exp(noise * rng.standard_normal(
        inst.n)))).astype(np.int64)
    return inst, budget, seqs, wm, pred


@pytest.mark.parametrize("name", DEPLOYABLE)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(case=cases())
def test_driven_v1_model_decides_as_the_engine(name, case):
    inst, budget, seqs, wm, pred = case
    b = inst.block_size
    blocks = inst.memory // b
    if not make_policy(name).block_aware:  # the padded model must fit every request
        assume(bool(np.all(inst.prefill - 1 + inst.decode + b - 1 <= inst.memory)))
    limits = EngineLimits.vllm_v1(block_size=b, max_num_seqs=seqs,
                                        max_num_batched_tokens=budget, watermark=wm)
    lim = V1Limits(b, blocks, seqs, budget, limits.watermark_blocks(inst.memory),
                   asynchronous=True)
    assert plugin_decisions(inst, name, lim, limits, pred) \
        == engine_decisions(inst, name, limits, pred)


def test_driver_refuses_a_policy_it_cannot_deploy():
    with pytest.raises(ValueError, match="cannot be deployed"):
        PolicyDriver("milp", blocks=4, block_size=4)


def test_driver_refuses_bad_predictions_and_repeated_ids():
    d = PolicyDriver("mc-sf", blocks=4, block_size=4)
    with pytest.raises(ValueError, match="predicted output length"):
        d.arrive("a", 3, 0)
    d.arrive("a", 3, 2)
    with pytest.raises(ValueError, match="added twice"):
        d.arrive("a", 3, 2)


def test_a_withdrawn_waiting_request_is_never_offered():
    d = PolicyDriver("mc-sf", blocks=8, block_size=4)
    for rid, p, o in (("a", 20, 5), ("b", 4, 1), ("c", 4, 2)):
        d.arrive(rid, p, o)
    d.begin({}, ["a", "b", "c"])
    assert list(d.offer()) == ["b", "c"]  # shortest predicted first; a does not fit
    d.end({"b": (0, True), "c": (0, True)}, [])
    d.begin({"b": 1, "c": 1}, ["a"])  # c withdrawn? no: a waits
    d.end({}, [])
    d.begin({"b": 2}, [])  # a withdrawn (aborted), c finished
    assert not d.waiting_known()


def test_requests_the_policy_never_saw_are_left_to_the_scheduler():
    """A request withdrawn before any step, and one the scheduler admitted past the waiting
    queue (vLLM's KV-connector queue), are not in the policy's view and cause no error."""
    d = PolicyDriver("sf", blocks=8, block_size=4)
    d.arrive("gone", 4, 2)
    d.arrive("a", 4, 2)
    d.begin({}, ["a"])
    assert list(d.offer()) == ["a"]
    d.end({"a": (0, True), "other": (0, True)}, [])
    d.begin({"a": 1, "other": 1}, [])
    d.end({}, [])
    assert not d.waiting_known()
