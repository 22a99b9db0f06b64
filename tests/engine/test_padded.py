""":class:`lpsched.engine.padded.PaddedView`: a token-planning policy on the paged engine (the
policy plans on the padded model, the engine counts real blocks, as vLLM does when the policy
is plugged into its scheduler)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from lpsched.check import check
from lpsched.engine import EngineLimits, run_engine
from lpsched.engine.padded import PaddedView
from lpsched.heuristics.vllm import VLLMPolicy
from lpsched.instance import Instance
from lpsched.registry import make_policy
from tests.strategies import paged_instances


@settings(max_examples=80, deadline=None, derandomize=True)
@given(inst=paged_instances(max_block=4, max_n=7, max_memory=48, max_decode=8))
def test_padded_view_runs_a_token_policy_on_real_blocks(inst):
    """The schedule is checked on the paged instance; at block size 1 the view is the
    policy itself."""
    b = inst.block_size
    if np.any(inst.prefill + inst.decode + b - 1 > inst.memory):
        return  # the padded model does not fit a request: PaddedView refuses it
    lim = EngineLimits(block_size=b)
    for name in ("mc-sf", "sorted-f-online"):
        res = run_engine(inst, PaddedView(make_policy(name)), limits=lim)
        assert check(inst, res.schedule).feasible
        if b == 1:
            plain = run_engine(inst, name, limits=lim)
            assert np.array_equal(res.schedule.starts, plain.schedule.starts)


def test_padded_view_refuses_a_block_aware_policy():
    with pytest.raises(ValueError, match="block-aware"):
        PaddedView(VLLMPolicy())


def test_padded_view_passes_the_policys_stats_on():
    view = PaddedView(make_policy("sorted-f-online"))
    res = run_engine(Instance.from_arrays(32, [3, 5, 2], [4, 2, 6], block_size=4), view,
                     limits=EngineLimits(block_size=4))
    assert res.schedule.completions.max() > 0
    assert "order_recomputes" in view.stats()
