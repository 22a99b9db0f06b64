"""The ``vllm`` policy: vLLM's scheduling rule, in the one engine.

Sources (read for this module; public code of the vLLM project): vLLM 0.33.0's V1
scheduler, ``vllm/v1/core/sched/scheduler.py`` (``Scheduler.schedule``),
``vllm/v1/core/kv_cache_manager.py`` (``allocate_slots``), ``vllm/config/scheduler.py``
and ``vllm/engine/arg_utils.py`` (defaults); the V0 rule from ``vllm/core/scheduler.py``
and the V0 block managers (commit ``0054e1fa0f8a``).

What vLLM's scheduler does, and who does it here:

1. **Admission order** (the policy): the waiting queue in arrival order, preempted
   requests at its front (``waiting.prepend_request``; of several victims of one step the
   earliest admitted ends in front); the head is admitted first and nothing overtakes it
   (``break`` at the first request that does not fit). In a step where a request was
   preempted nothing is admitted (``if not preempted_reqs``). :meth:`VLLMPolicy.decide`
   hands the engine its queue lazily, in that order.
2. **Limits** (the engine, :mod:`lpsched.engine.limits`, for every policy): free blocks
   above the watermark (V1: ``int(watermark * num_blocks)`` with the null block counted,
   only while something runs; a request is admitted only if blocks for its whole prompt
   are free, ``scheduler_reserve_full_isl``), ``max_num_seqs``, the token budget with
   chunked prefill (running requests first, then admissions, the last cut to the budget).
3. **Preemption** (the engine's memory guard): when a running request needs a block that
   is not there, the most recently admitted running request (``self.running.pop()``) is
   preempted, repeatedly, and recomputed when resumed (prompt plus the tokens it generated).
4. **KV accounting** (the engine's ``kv_accounting="v1"``): V1 holds the ``s + j - 1``
   tokens computed so far in a request's ``j``-th step (``allocate_slots`` reserves
   computed + new tokens); the papers' model holds ``s + j``. Under ``"v1"`` the engine
   counts a memory prefill of ``s - 1`` (the prefill computed is still ``s``), which
   reproduces V1 decision for decision (``benchmarks/peer_vllm_compare.py`` against
   recordings of the real scheduler). ``solve`` keeps the papers' model (its schedule is
   checked on the given instance); ``run_engine``/``simulate`` with
   ``EngineLimits(kv_accounting="v1")`` and ``lpsched replay`` use V1's.

Defaults (:meth:`VLLMPolicy.engine_limits`, the engine's limits when the caller gives
none): ``variant="v1"``: vLLM 0.33.0's ``vllm serve`` defaults on an H100/H200
(``max_num_batched_tokens`` 8192, ``max_num_seqs`` 1024, chunked prefill, watermark 0)
with the synchronous scheduler (``lpsched replay`` adds ``vllm serve``'s asynchronous
scheduling, :mod:`lpsched.engine.limits`);
``variant="v0"``: the V0 rule (watermark 0.01 of ``M // b``, 256 sequences, a budget of
``max(2048, longest request)`` prefill tokens, no chunking, a prompt longer than the
budget admitted alone). The block size is the instance's. The rule uses no predicted
lengths; ``predictions`` change nothing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from lpsched.engine.limits import EngineLimits
from lpsched.heuristics.baselines import policy_spec, run_policy
from lpsched.instance import Instance
from lpsched.options import param
from lpsched.schedule import Result
from lpsched.simulate import BasePolicy, SimState
from lpsched.stop import Deadline

__all__ = ["ALGORITHMS", "VLLMParams", "VLLMPolicy", "solve_vllm", "vllm_limits"]


@dataclass(frozen=True)
class VLLMParams:
    """The options of the ``vllm`` policy: vLLM's engine limits (module docstring)."""

    variant: str = param("v1", "str", "whose defaults: 'v1' (vllm serve on an H100/H200: "
                         "budget 8192 tokens with chunked prefill, 1024 sequences, watermark "
                         "0) or 'v0' (watermark 0.01, 256 sequences, budget max(2048, "
                         "longest request) prefill tokens)", choices=("v1", "v0"))
    watermark: float | None = param(None, "float", "fraction of the KV blocks kept free at "
                                    "admission (default: the variant's)", minimum=0, maximum=1)
    max_num_seqs: int | None = param(None, "int", "most running requests (default: the "
                                     "variant's)", minimum=1)
    max_num_batched_tokens: int | None = param(None, "int", "token budget of a step (default: "
                                               "the variant's)", minimum=1)

_FAR = 1 << 62


def vllm_limits(instance: Instance, variant: str = "v1", *, watermark: float | None = None,
                max_num_seqs: int | None = None, max_num_batched_tokens: int | None = None,
                kv_accounting: str | None = None) -> EngineLimits:
    """The engine limits of vLLM's ``variant`` (module docstring) for ``instance``'s block
    size, with any given setting overriding the default."""
    if variant not in ("v1", "v0"):
        raise ValueError(f"vllm: variant must be 'v1' or 'v0', got {variant!r}")
    if variant == "v1":
        lim = EngineLimits.vllm_v1(block_size=instance.block_size, kv_accounting="papers",
                                   async_scheduling=False)
    else:
        lim = EngineLimits.vllm_v0(int(instance.peak.max()), block_size=instance.block_size)
    over: dict[str, Any] = {k: v for k, v in (
        ("watermark", watermark), ("max_num_seqs", max_num_seqs),
        ("max_num_batched_tokens", max_num_batched_tokens),
        ("kv_accounting", kv_accounting)) if v is not None}
    if variant == "v1" and "max_num_batched_tokens" in over and "max_num_seqs" not in over:
        over["max_num_seqs"] = min(lim.max_num_seqs, over["max_num_batched_tokens"])
    return replace(lim, **over) if over else lim


class VLLMPolicy(BasePolicy):
    """vLLM's admission order (module docstring): FCFS, preempted requests in front, no
    admission in a step that preempted; the engine applies vLLM's limits.

    Parameters
    ----------
    watermark, max_num_seqs, max_num_batched_tokens, kv_accounting
        Engine settings this policy asks for when the caller gives no limits (None:
        the ``variant``'s default).
    variant
        ``"v1"`` (default) or ``"v0"``: whose defaults (module docstring).
    """

    name = "vllm"
    block_aware = True

    def __init__(self, watermark: float | None = VLLMParams.watermark,
                 max_num_seqs: int | None = VLLMParams.max_num_seqs,
                 max_num_batched_tokens: int | None = VLLMParams.max_num_batched_tokens,
                 variant: str = VLLMParams.variant, kv_accounting: str | None = None):
        if variant not in ("v1", "v0"):
            raise ValueError(f"vllm: variant must be 'v1' or 'v0', got {variant!r}")
        self.variant = variant
        self.watermark = watermark
        self.max_num_seqs = max_num_seqs
        self.max_num_batched_tokens = max_num_batched_tokens
        self.kv_accounting = kv_accounting

    def engine_limits(self, instance: Instance) -> EngineLimits:
        """The limits this policy runs under when the caller gives none."""
        return vllm_limits(instance, self.variant, watermark=self.watermark,
                           max_num_seqs=self.max_num_seqs,
                           max_num_batched_tokens=self.max_num_batched_tokens,
                           kv_accounting=self.kv_accounting)

    def reset(self, state: SimState) -> None:
        self._queue: deque[int] = deque()
        self._preempted_at = -1

    def on_arrival(self, state: SimState, positions: list[int]) -> None:
        self._queue.extend(positions)  # the engine reveals them in arrival order

    def on_evict(self, state: SimState, positions: list[int]) -> None:
        for pos in positions:  # latest victim first: the earliest admitted ends in front
            self._queue.appendleft(pos)
        self._preempted_at = state.t

    def on_refuse(self, state: SimState, positions: list[int]) -> None:
        for pos in reversed(positions):  # back to the front, in queue order
            self._queue.appendleft(pos)

    def decide(self, state: SimState) -> Iterator[int]:
        if state.t == self._preempted_at:
            return iter(())
        return self._heads()

    def _heads(self) -> Iterator[int]:
        queue = self._queue
        while queue:
            yield queue.popleft()

    def next_decision(self, state: SimState) -> int:
        """Without a completion, an arrival or a preemption the free blocks only shrink
        and the running count stays, so a head the engine refused still does not fit:
        call again at the next such event (the engine visits them, and the next step
        itself when the token budget stopped an admission); next step after a preemption."""
        if state.t == self._preempted_at:
            return state.t + 1
        return _FAR


def solve_vllm(instance: Instance, *, deadline: Deadline | None = None, seed: int | None = None,
               watermark: float | None = VLLMParams.watermark,
               max_num_seqs: int | None = VLLMParams.max_num_seqs,
               max_num_batched_tokens: int | None = VLLMParams.max_num_batched_tokens,
               variant: str = VLLMParams.variant, **simulation: Any) -> Result:
    """Registry entry: run :class:`VLLMPolicy` in the engine under vLLM's limits for
    ``variant`` (block size from the instance); status ``feasible`` (``time_limit`` when
    drained), no lower bound. The papers' KV accounting (the schedule is checked on
    ``instance``); vLLM V1's is an engine option (:func:`lpsched.engine.run_engine`,
    ``EngineLimits(kv_accounting="v1")``), whose schedule is on the memory instance.
    ``simulation``: :class:`~lpsched.heuristics.baselines.SimulationParams`."""
    policy = VLLMPolicy(watermark, max_num_seqs, max_num_batched_tokens, variant)
    return run_policy(instance, policy, deadline=deadline, seed=seed, **simulation)


#: The registry's declaration of this module's algorithm (:mod:`lpsched.registry`).
ALGORITHMS = (
    policy_spec("vllm", solve_vllm, VLLMPolicy,
                "vLLM's scheduling rule: arrival-order admission under vLLM's engine limits "
                "(free KV blocks above a watermark, max_num_seqs, a token budget with "
                "chunked prefill); when a block is missing, preempt the most recently "
                "admitted request (front of the queue, recompute)",
                "vLLM 0.33.0, vllm/v1/core/sched/scheduler.py, vllm/v1/core/"
                "kv_cache_manager.py, vllm/engine/arg_utils.py (V1); vllm/core/scheduler.py "
                "(V0, commit 0054e1fa0f8a); lpsched/heuristics/vllm.py", VLLMParams),
)
