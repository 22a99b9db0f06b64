"""The ``vllm`` policy against a plain step-by-step re-implementation of vLLM's rule.

``plain_vllm`` is written from the rule in ``lpsched/heuristics/vllm.py``'s docstring
(itself read from vLLM's scheduler), with no simulator: it walks every step, keeps the
running list in admission order and each request's generated-token count, and rounds
every request's tokens up to blocks itself.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched import solve
from lpsched.check import check
from lpsched.heuristics.vllm import VLLMPolicy
from lpsched.instance import Instance, Request
from lpsched.simulate import simulate
from tests.strategies import examples, paged_instances


def plain_vllm(inst: Instance, watermark=0.01, max_num_seqs=256, max_num_batched_tokens=None):
    """Starts and segments of vLLM's rule, one step at a time."""
    b, M, n = inst.block_size, inst.memory, inst.n
    s, o, a = inst.prefill.tolist(), inst.decode.tolist(), inst.arrival.tolist()
    blocks_total = M // b
    wm = int(watermark * blocks_total)
    budget = max_num_batched_tokens or max(2048, max(x + y for x, y in zip(s, o)))
    gen = [0] * n  # decode steps done
    seg_start = [None] * n
    segs = {k: [] for k in range(n)}
    running: list[int] = []  # admission order
    queue: deque[int] = deque()
    arrivals = sorted(range(n), key=lambda k: (a[k], k))
    done_count, t, nxt = 0, 0, 0

    def blocks(k, extra):
        return math.ceil((s[k] + gen[k] + extra) / b)

    while done_count < n:
        for k in [k for k in running if gen[k] == o[k]]:
            running.remove(k)
            segs[k].append((seg_start[k], t - seg_start[k]))
            done_count += 1
        while nxt < n and a[arrivals[nxt]] <= t:
            queue.append(arrivals[nxt])
            nxt += 1
        preempted = False
        while sum(blocks(k, 1) for k in running) > blocks_total:
            k = running.pop()
            segs[k].append((seg_start[k], t - seg_start[k]))
            queue.appendleft(k)
            preempted = True
        if not preempted:
            free = blocks_total - sum(blocks(k, 1) for k in running)
            tokens, first = 0, True
            while queue and len(running) < max_num_seqs:
                k = queue[0]
                need = blocks(k, 1)
                lone = first and not running
                if free - need < wm and not (lone and need <= free):
                    break
                if tokens + s[k] + gen[k] > budget and not first:
                    break
                queue.popleft()
                running.append(k)
                seg_start[k] = t
                free -= need
                tokens += s[k] + gen[k]
                first = False
        for k in running:
            gen[k] += 1
        t += 1
    starts = [segs[k][0][0] for k in range(n)]
    runs = {k: tuple(v) for k, v in segs.items() if len(v) > 1}
    return starts, runs


OPTIONS = st.fixed_dictionaries({
    "watermark": st.sampled_from([0.0, 0.01, 0.2]),
    "max_num_seqs": st.sampled_from([1, 2, 256]),
    "max_num_batched_tokens": st.sampled_from([None, 1, 20]),
})


@settings(max_examples=examples(300))
@given(inst=paged_instances(max_block=6, max_n=8, max_memory=40, max_decode=12, max_arrival=8),
       opts=OPTIONS, skip=st.booleans())
def test_vllm_matches_plain_step_by_step_rule(inst, opts, skip):
    """The V0 rule (``variant="v0"``: prefill-only budget, no chunking, watermark 0.01 of
    ``M // b`` by default); V1 is checked against recordings of the real scheduler."""
    res = simulate(inst, VLLMPolicy(variant="v0", **opts), skip_idle=skip)
    starts, runs = plain_vllm(inst, **opts)
    assert res.schedule.starts.tolist() == starts
    assert dict(res.schedule.runs) == runs
    assert check(inst, res.schedule).feasible


def test_vllm_by_hand():
    """M=32, b=8 (4 blocks), watermark 0: r0=(7,10) and r1=(6,4) need 1 block each in
    step 1: both admitted at 0. r2=(20, 3) arrives at 1 and needs ceil(21/8) = 3 blocks:
    at t=1 r0 (9 tokens: 2 blocks) and r1 (8: 1 block) leave 1 free; at t=4 r1 has ended
    and r0 (12 tokens) holds 2, leaving 2; r0 reaches 17 tokens (3 blocks) in step 10 and
    ends there, so r2 starts at 10. No preemption."""
    inst = Instance(32, [Request("r0", 7, 10), Request("r1", 6, 4),
                         Request("r2", 20, 3, arrival=1)], block_size=8)
    res = solve(inst, "vllm", watermark=0.0)
    assert res.schedule.starts.tolist() == [0, 0, 10]
    assert res.stats["evictions"] == 0


def test_vllm_preempts_latest_admitted_and_resumes_at_the_front():
    """M=16, b=4 (4 blocks). a=(3, 9) and c=(3, 9) admitted at 0 (1 block each at step
    1); each needs 2 blocks from step 2, 3 from step 6: 6 > 4 blocks in step 6, so c (the
    later admitted) is preempted at t=5 with 5 tokens done and put at the front; it
    resumes when a ends at 9, with its 3 + 5 tokens recomputed, ending at 13."""
    inst = Instance(16, [Request("a", 3, 9), Request("c", 3, 9)], block_size=4)
    res = simulate(inst, VLLMPolicy(watermark=0.0))
    assert res.schedule.runs == {1: ((0, 5), (9, 4))}
    assert res.recomputed_tokens == 8 and res.evictions == 1
    assert check(inst, res.schedule).feasible


def test_vllm_through_solve_is_verified_on_a_trace_like_instance():
    from lpsched.generators import random_instance

    base = random_instance(80, 400, 2, max_decode=80, max_arrival=300)
    inst = base.replace(memory=416, block_size=16)
    res = solve(inst, "vllm", time_limit=5)
    assert res.status.value == "feasible" and check(inst, res.schedule).feasible
    ref = solve(inst, "vllm", time_limit=5, prediction_noise=0.8, seed=1)
    assert np.array_equal(ref.schedule.starts, res.schedule.starts)  # lengths unused


@pytest.mark.parametrize("bad", [{"watermark": 1.5}, {"max_num_seqs": 0},
                                 {"max_num_batched_tokens": 0}])
def test_vllm_options_checked(bad):
    inst = Instance(16, [Request("a", 3, 9)])
    with pytest.raises(ValueError, match=next(iter(bad))):
        solve(inst, "vllm", **bad)


def test_preemption_relaxes_the_model():
    """M=2, r0=r1=(0, 2): without preemption they cannot overlap (2 + 2 > 2 in step 2), so
    the optimum is 2 + 4 = 6. vLLM runs both in step 1, preempts r1 (1 token kept) and
    resumes it at 2 (0 + 1 + 1 = 2 tokens in step 3): 2 + 3 = 5, checker-verified. The
    lower bounds of formulations/ are for schedules without preemption."""
    from tests.oracle_bb import bb_optimum

    inst = Instance.from_arrays(2, [0, 0], [2, 2])
    res = solve(inst, "vllm")
    assert res.schedule.runs == {1: ((0, 1), (2, 1))}
    assert res.objective == 5 and check(inst, res.schedule).feasible
    assert bb_optimum(2, [0, 0], [2, 2], [0, 0])[0] == 6


def test_preemptive_rows_get_no_gap_and_are_not_best_known():
    """M=2, r0=r1=(0, 2): vllm preempts and reaches 5, below the optimum 6 without
    preemption (metadata optimum): no gap, a note, and best known stays 6."""
    from lpsched import bench

    inst = Instance.from_arrays(2, [0, 0], [2, 2], name="pre",
                                metadata={"optimum": 6, "optimum_by": "hand"})
    run = bench.run_bench([inst], ["vllm", "fcfs"], jobs=1, bound=False, progress=False)
    rows = {r.algorithm: r for r in run.rows}
    assert rows["vllm"].objective == 5 and rows["vllm"].preempted == 1
    assert rows["vllm"].gap_pct is None and "without preemption" in rows["vllm"].message
    assert rows["fcfs"].preempted == 0 and rows["fcfs"].gap_pct == 0.0
    assert rows["fcfs"].best_known == 6
