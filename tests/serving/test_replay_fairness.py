"""Every policy is costed alike: the same batches take the same seconds, whatever the policy.

A policy that is not block-aware plans on the padded instance (prefill + b - 1,
:mod:`lpsched.paging`), which only makes its memory test conservative: the tokens its
requests compute and the KV cache their decode steps read are the real ones. So when
``fcfs`` (padded) and ``vllm`` (block-aware) make the same decisions, their clocks agree.
"""

from __future__ import annotations

import numpy as np
import pytest

from lpsched.serving.replay import load_workload, replay


@pytest.mark.parametrize("block_size", [1, 16])
def test_same_batches_same_seconds(block_size):
    # ample memory (Llama-3-8B on an H200) and a light load: both admit every request
    # on arrival, in arrival order, so the batches are the same
    w = load_workload("azure_conv_2023", num_prompts=40, rate=4.0, seed=5)
    a = replay(w, "fcfs", gpu="h200", model="llama3-8b", block_size=block_size)
    b = replay(w, "vllm", gpu="h200", model="llama3-8b", block_size=block_size)
    assert np.array_equal(a.simulation.schedule.starts, b.simulation.schedule.starts)
    assert a.metrics["preemptions"] == b.metrics["preemptions"] == 0
    assert a.timeline.clock.size == b.timeline.clock.size
    # the same step-time model on the same work, summed in the same order: equal to
    # rounding (1e-12 relative)
    assert np.allclose(a.timeline.step_seconds, b.timeline.step_seconds, rtol=1e-12, atol=0)
    assert a.metrics["mean_tpot_ms"] == pytest.approx(b.metrics["mean_tpot_ms"], rel=1e-12)
