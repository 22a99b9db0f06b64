"""The engine's limits: one frozen, validated record that every policy runs under.

A policy decides the order of admissions; the engine (:mod:`lpsched.engine.loop`) admits
them in that order as far as these limits allow, and stops at the first one that does not
fit (vLLM's ``break``: no overtaking inside a step).

* ``block_size`` ``b``: KV memory is counted in blocks of ``b`` tokens (a request holding
  ``m`` tokens uses ``ceil(m / b)`` blocks); ``M // b`` blocks in all.
* ``max_num_seqs``: most requests admitted at once (decoding or prefilling).
* ``max_num_batched_tokens``: the token budget of one step. With ``chunked_prefill``
  (vLLM V1's rule, ``vllm/v1/core/sched/scheduler.py``, ``Scheduler.schedule``) the
  running decodes take one token each first, then the prefill in progress, then new and
  resumed prefills in the policy's order, the last one cut to the budget that remains
  (at most one prefill is ever partial). Without it (vLLM V0's rule) the budget counts
  the prefill tokens of the step's admissions only, and a prompt longer than the whole
  budget is admitted alone (vLLM would refuse it; every request must run here).
* ``watermark``: fraction of the blocks kept free at admission: admitted only while
  ``free_blocks - need >= watermark_blocks``. ``watermark_rule="v1"`` counts it on
  ``M // b + 1`` blocks (vLLM V1's block pool includes the null block), ``"v0"`` on
  ``M // b`` (V0's ``BlockSpaceManager``). Not applied when nothing runs (a request that
  fits alone is admitted) nor to running requests (they are preempted only when a block
  is missing).
* ``kv_accounting``: ``"papers"`` (the scheduling model: a request with prefill ``s``
  started at ``p`` holds ``s + (t - p)`` tokens in step ``t``) or ``"v1"`` (vLLM V1's: it
  holds the ``s + j - 1`` tokens computed so far in its ``j``-th step, i.e. the papers'
  model with a memory prefill of ``s - 1``; the prefill computed is still ``s`` tokens;
  needs ``s >= 1``).
* ``async_scheduling``: vLLM V1's ``AsyncScheduler`` (the default of ``vllm serve``): the
  schedule of step ``t+1`` is made before the output of step ``t`` is known, so a request
  whose last token is computed in step ``c`` still holds its blocks (and its seat) in step
  ``c+1`` without computing; it may even be the one preempted then (it still finishes).
  No admission in a step that preempted (V1's ``if not preempted_reqs``) is then the
  engine's rule. Off by default (the synchronous ``Scheduler``).

:data:`PAPERS` (no limit besides ``M``, token-exact, the papers' accounting) is the
default of ``simulate``/``solve``; :meth:`EngineLimits.vllm_v1` gives vLLM V1's online
server defaults (``lpsched replay``'s default) and :meth:`EngineLimits.vllm_v0` the V0
rule's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

__all__ = ["EngineLimits", "PAPERS", "V1_SERVER_DEFAULTS"]

#: vLLM 0.33.0, ``vllm/engine/arg_utils.py`` (``EngineArgs.get_batch_defaults``): on a GPU
#: with at least 70 GiB that is not an A100 (H100, H200), the OpenAI-compatible server
#: (``vllm serve``, ``UsageContext.OPENAI_API_SERVER``) gets ``max_num_batched_tokens``
#: 8192 and ``max_num_seqs`` 1024; chunked prefill is always on in V1
#: (``vllm/config/scheduler.py``: ``enable_chunked_prefill = True``); the block size of
#: the CUDA attention backends is 16; no watermark in V1 (0); ``vllm serve`` runs the
#: ``AsyncScheduler`` (``vllm/config/vllm.py``: async scheduling on when the executor
#: supports it).
V1_SERVER_DEFAULTS: dict[str, int | float | bool] = {
    "block_size": 16, "max_num_batched_tokens": 8192, "max_num_seqs": 1024,
    "chunked_prefill": True, "watermark": 0.0, "async_scheduling": True}


def _positive(name: str, value: object, *, none_ok: bool) -> None:
    if value is None and none_ok:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"engine limits: {name} must be an integer >= 1"
                         f"{' or None' if none_ok else ''}, got {value!r}")


@dataclass(frozen=True)
class EngineLimits:
    """The limits of the engine (module docstring); validated at construction."""

    block_size: int = 1
    max_num_seqs: int | None = None
    max_num_batched_tokens: int | None = None
    chunked_prefill: bool = False
    watermark: float = 0.0
    watermark_rule: Literal["v1", "v0"] = "v1"
    kv_accounting: Literal["papers", "v1"] = "papers"
    async_scheduling: bool = False

    def __post_init__(self) -> None:
        _positive("block_size", self.block_size, none_ok=False)
        _positive("max_num_seqs", self.max_num_seqs, none_ok=True)
        _positive("max_num_batched_tokens", self.max_num_batched_tokens, none_ok=True)
        if not isinstance(self.async_scheduling, bool):
            raise ValueError(f"engine limits: async_scheduling must be true or false, got "
                             f"{self.async_scheduling!r}")
        if not isinstance(self.chunked_prefill, bool):
            raise ValueError(f"engine limits: chunked_prefill must be true or false, got "
                             f"{self.chunked_prefill!r}")
        w = self.watermark
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 <= w < 1:
            raise ValueError(f"engine limits: watermark must be a fraction in [0, 1), got {w!r}")
        if self.watermark_rule not in ("v1", "v0"):
            raise ValueError(f"engine limits: watermark_rule must be 'v1' or 'v0', got "
                             f"{self.watermark_rule!r}")
        if self.kv_accounting not in ("papers", "v1"):
            raise ValueError(f"engine limits: kv_accounting must be 'papers' or 'v1', got "
                             f"{self.kv_accounting!r}")
        if self.chunked_prefill and self.max_num_batched_tokens is None:
            raise ValueError("engine limits: chunked_prefill needs max_num_batched_tokens")
        if self.chunked_prefill and (self.max_num_seqs is None or (
                self.max_num_batched_tokens is not None
                and self.max_num_seqs > self.max_num_batched_tokens)):
            # vLLM's SchedulerConfig.verify_max_model_len refuses it too: the decodes alone
            # could exhaust the budget.
            raise ValueError("engine limits: chunked prefill needs max_num_seqs <= "
                             f"max_num_batched_tokens, got {self.max_num_seqs} and "
                             f"{self.max_num_batched_tokens}")

    @classmethod
    def vllm_v1(cls, **overrides) -> EngineLimits:
        """vLLM V1's online-server defaults on an H100/H200 (:data:`V1_SERVER_DEFAULTS`),
        V1's KV accounting and watermark rule; ``overrides`` replace any field."""
        d = V1_SERVER_DEFAULTS
        base = cls(block_size=int(d["block_size"]), max_num_seqs=int(d["max_num_seqs"]),
                   max_num_batched_tokens=int(d["max_num_batched_tokens"]),
                   chunked_prefill=bool(d["chunked_prefill"]), watermark=float(d["watermark"]),
                   watermark_rule="v1", kv_accounting="v1",
                   async_scheduling=bool(d["async_scheduling"]))
        return replace(base, **overrides) if overrides else base

    @classmethod
    def vllm_v0(cls, longest_request: int, **overrides) -> EngineLimits:
        """The V0 rule's defaults (``vllm/core/scheduler.py``, block managers): block 16,
        watermark 0.01 of ``M // b``, 256 sequences, a budget of ``max(2048, longest
        request)`` prefill tokens, no chunked prefill, the papers' accounting."""
        base = cls(block_size=16, max_num_seqs=256,
                   max_num_batched_tokens=max(2048, int(longest_request)),
                   chunked_prefill=False, watermark=0.01, watermark_rule="v0",
                   kv_accounting="papers")
        return replace(base, **overrides) if overrides else base

    def watermark_blocks(self, memory: int) -> int:
        """Blocks kept free at admission for a budget of ``memory`` tokens."""
        blocks = memory // self.block_size + (1 if self.watermark_rule == "v1" else 0)
        return int(self.watermark * blocks)

    def describe(self) -> dict:
        """The limits as a plain dict (for reports)."""
        return {"block_size": self.block_size, "max_num_seqs": self.max_num_seqs,
                "max_num_batched_tokens": self.max_num_batched_tokens,
                "chunked_prefill": self.chunked_prefill, "watermark": self.watermark,
                "watermark_rule": self.watermark_rule, "kv_accounting": self.kv_accounting,
                "async_scheduling": self.async_scheduling}


#: The papers' engine: only the memory limit ``M``, token-exact, no budget.
PAPERS = EngineLimits()
