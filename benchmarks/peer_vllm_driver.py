"""Drive vLLM V1's real scheduler step by step without a GPU and record its decisions.

This module runs inside a virtual environment that has vLLM (never a dependency of
``lpsched``); it needs only the standard library and vLLM, so it imports no ``lpsched``
module. :mod:`peer_vllm` (``record``) calls it; ``compare`` reads what it writes.

How the scheduler is built (read from vLLM 0.33.0, ``vllm/v1/core/sched/scheduler.py``,
``vllm/v1/engine/core.py`` and the way ``tests/v1/core/utils.py::create_scheduler`` builds
one; our own code): a config-only model directory (a minimal Hugging Face
``config.json``, no weights, no tokenizer), ``SchedulerConfig`` with the workload's
limits, ``CacheConfig`` without prefix caching, a ``KVCacheConfig`` of one full-attention
group with ``num_blocks`` blocks, and the synchronous ``Scheduler`` (FCFS).

The step loop (one *step* = one call of ``Scheduler.schedule()`` followed by one
``update_from_output``; steps are numbered 1, 2, ...):

1. before step ``t``, the requests whose arrival step is ``t - 1`` are added
   (``add_request``), in trace order: a request with arrival step ``a`` can run from
   step ``a + 1`` on, as a request with arrival ``a`` in ``lpsched``'s step model;
2. ``schedule()``; the requests it newly scheduled, the ones it preempted and the
   number of tokens it scheduled are recorded;
3. a fabricated ``ModelRunnerOutput``: one sampled token (id 1; ``ignore_eos``) for each
   scheduled request whose computed tokens reach its token count after this step (its
   prefill is complete), none for a partial prefill chunk; ``update_from_output`` then
   finishes a request when it has ``max_tokens`` outputs (its completion step is ``t``).

The loop ends when every request has finished; a step where nothing runs still counts
(time advances one step, as in the step model).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

FORMAT = "lpsched-peer-vllm/1"
SAMPLED_TOKEN = 1
VOCAB = 32000
STEP_COLUMNS = ("scheduled_tokens", "scheduled_requests", "new", "resumed", "preempted",
                "blocks_used", "running")


@dataclass(frozen=True)
class Settings:
    """The scheduler's limits for one recording (every value passed to vLLM).

    ``usable_blocks`` is the number of KV blocks requests can hold; vLLM's
    ``num_blocks`` is one more, because its block pool keeps one *null block*
    (``vllm/v1/core/block_pool.py``: ``self.null_block = self.free_block_queue.popleft()``).
    """

    block_size: int
    usable_blocks: int
    max_num_seqs: int
    max_num_batched_tokens: int
    watermark: float = 0.0
    long_prefill_token_threshold: int = 0
    enable_chunked_prefill: bool = True
    scheduler_reserve_full_isl: bool = True
    enable_prefix_caching: bool = False
    policy: str = "fcfs"

    @property
    def num_blocks(self) -> int:
        return self.usable_blocks + 1


@dataclass(frozen=True)
class Workload:
    """One instance for the peer: lengths in tokens, arrivals in steps."""

    name: str
    description: str
    ids: list[str]
    prefill: list[int]
    decode: list[int]
    arrival: list[int]
    settings: Settings
    prompt_offset: int = 0  # vLLM prompt = prefill + prompt_offset

    def __post_init__(self) -> None:
        n = len(self.ids)
        if not (len(self.prefill) == len(self.decode) == len(self.arrival) == n) or n == 0:
            raise ValueError(f"workload {self.name}: column lengths differ or are empty")
        for i in range(n):
            if self.prefill[i] + self.prompt_offset < 1 or self.decode[i] < 1 or self.arrival[i] < 0:
                raise ValueError(f"workload {self.name}: request {self.ids[i]}: need prompt >= 1, "
                                 f"decode >= 1, arrival >= 0")
            kv = self.settings.usable_blocks * self.settings.block_size
            if self.prefill[i] + self.prompt_offset + self.decode[i] > kv:
                raise ValueError(f"workload {self.name}: request {self.ids[i]}: prompt + decode "
                                 f"exceeds the {kv} KV tokens (it could never run alone)")


def _model_dir(root: Path, max_len: int) -> str:
    """A config-only Hugging Face model directory (a one-layer Llama, no weights)."""
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
           "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 4,
           "num_hidden_layers": 1, "vocab_size": VOCAB, "max_position_embeddings": max_len,
           "rms_norm_eps": 1e-5, "torch_dtype": "float16", "bos_token_id": 0, "eos_token_id": 2}
    (root / "config.json").write_text(json.dumps(cfg))
    return str(root)


def build_scheduler(settings: Settings, max_model_len: int, model_dir: str,
                    asynchronous: bool = False, scheduler_cls: Any = None,
                    additional_config: dict[str, Any] | None = None) -> Any:
    """vLLM's synchronous V1 ``Scheduler`` (``AsyncScheduler`` with ``asynchronous``), built
    on the CPU; ``scheduler_cls`` replaces the class (a plugin subclass of either);
    ``additional_config`` is ``VllmConfig.additional_config`` (``--additional-config``)."""
    import torch
    from vllm.config import CacheConfig, DeviceConfig, ModelConfig, SchedulerConfig, VllmConfig
    from vllm.v1.core.sched.async_scheduler import AsyncScheduler
    from vllm.v1.core.sched.scheduler import Scheduler
    from vllm.v1.kv_cache_interface import FullAttentionSpec, KVCacheConfig, KVCacheGroupSpec
    from vllm.v1.structured_output import StructuredOutputManager

    s = settings
    sched_cfg = SchedulerConfig(
        max_num_seqs=s.max_num_seqs, max_num_batched_tokens=s.max_num_batched_tokens,
        max_model_len=max_model_len, is_encoder_decoder=False,
        long_prefill_token_threshold=s.long_prefill_token_threshold,
        enable_chunked_prefill=s.enable_chunked_prefill, watermark=s.watermark,
        scheduler_reserve_full_isl=s.scheduler_reserve_full_isl, policy=s.policy,
        async_scheduling=asynchronous)
    model_cfg = ModelConfig(model=model_dir, skip_tokenizer_init=True, dtype="float16",
                            seed=0, max_model_len=max_model_len)
    cache_cfg = CacheConfig(block_size=s.block_size, enable_prefix_caching=s.enable_prefix_caching)
    vllm_cfg = VllmConfig(scheduler_config=sched_cfg, model_config=model_cfg,
                          cache_config=cache_cfg, device_config=DeviceConfig(device="cpu"),
                          additional_config=dict(additional_config or {}))
    kv_cfg = KVCacheConfig(num_blocks=s.num_blocks, kv_cache_tensors=[], kv_cache_groups=[
        KVCacheGroupSpec(["layer"], FullAttentionSpec(block_size=s.block_size, num_kv_heads=1,
                                                      head_size=1, dtype=torch.float32))])
    cache_cfg.num_gpu_blocks = s.num_blocks
    cls = scheduler_cls or (AsyncScheduler if asynchronous else Scheduler)
    return cls(vllm_config=vllm_cfg, kv_cache_config=kv_cfg,
               structured_output_manager=StructuredOutputManager(vllm_cfg),
               block_size=s.block_size, log_stats=False)


def _request(rid: str, prompt: int, decode: int, index: int) -> Any:
    from vllm.sampling_params import SamplingParams
    from vllm.v1.request import Request

    params = SamplingParams(max_tokens=decode, ignore_eos=True)
    token = 3 + index % (VOCAB - 3)  # distinct prompts (no prefix caching anyway)
    return Request(request_id=rid, prompt_token_ids=[token] * prompt, sampling_params=params,
                   pooling_params=None)


def _fabricated_output(sched: Any, out: Any) -> Any:
    """One sampled token per scheduled request whose prefill is complete after this step
    (``is_prefill_chunk`` is set by ``_update_after_schedule``)."""
    from vllm.v1.outputs import ModelRunnerOutput

    req_ids = list(out.num_scheduled_tokens)
    sampled = [[] if sched.requests[rid].is_prefill_chunk else [SAMPLED_TOKEN] for rid in req_ids]
    return ModelRunnerOutput(req_ids=req_ids, req_id_to_index={r: k for k, r in enumerate(req_ids)},
                             sampled_token_ids=sampled)


def _resumed_ids(out: Any) -> list[str]:
    cached = out.scheduled_cached_reqs
    if hasattr(cached, "resumed_req_ids"):
        return [rid for rid in cached.req_ids if rid in cached.resumed_req_ids]
    return [rid for rid, res in zip(cached.req_ids, cached.resumed_from_preemption) if res]


class _Recorder:
    """What the driver observes: per request first schedule, preemptions, partial chunks and
    finish step; per step the columns of :data:`STEP_COLUMNS`."""

    def __init__(self, ids: list[str], usable_blocks: int):
        self.first: dict[str, int] = {}
        self.preempted: dict[str, list[int]] = {rid: [] for rid in ids}
        self.chunks: dict[str, list[int]] = {rid: [] for rid in ids}
        self.finished: dict[str, int] = {}
        self.steps: list[list[int]] = []
        self._usable = usable_blocks

    def scheduled(self, t: int, sched: Any, out: Any) -> None:
        new = [r.req_id for r in out.scheduled_new_reqs]
        for rid in new:
            self.first.setdefault(rid, t)
        for rid in out.num_scheduled_tokens:
            if sched.requests[rid].is_prefill_chunk:
                self.chunks[rid].append(t)
        for rid in out.preempted_req_ids:
            self.preempted[rid].append(t)
        free = sched.kv_cache_manager.block_pool.get_num_free_blocks()
        self.steps.append([out.total_num_scheduled_tokens, len(out.num_scheduled_tokens), len(new),
                           len(_resumed_ids(out)), len(out.preempted_req_ids),
                           self._usable - free, len(sched.running)])

    def updated(self, t: int, engine_out: Any) -> None:
        for eco in engine_out.values():
            for o in eco.outputs:
                if o.finish_reason is not None:
                    self.finished[o.request_id] = t

    def decisions(self) -> dict[str, dict[str, Any]]:
        return {"first_scheduled": self.first, "preempted": self.preempted,
                "chunks": self.chunks, "finished": self.finished}


def run(workload: Workload, *, asynchronous: bool = False, max_steps: int = 10**6,
        scheduler_cls: Any = None, additional_config: dict[str, Any] | None = None
        ) -> dict[str, Any]:
    """Step vLLM's scheduler through ``workload``; return the recording (format: README of
    the recordings).

    ``asynchronous``: vLLM's ``AsyncScheduler`` driven as ``EngineCore.step_with_batch_queue``
    drives it (``vllm/v1/engine/core.py``, batch queue of 2): the outputs of step ``t`` are
    given to the scheduler after the ``schedule()`` of step ``t + 1``. ``scheduler_cls``: a
    subclass to drive instead (a scheduler plugin; pass ``asynchronous`` to match its base),
    ``additional_config`` its configuration (``VllmConfig.additional_config``).
    """
    w, s = workload, workload.settings
    n = len(w.ids)
    prompts = [p + w.prompt_offset for p in w.prefill]
    max_model_len = max(p + o for p, o in zip(prompts, w.decode)) + 1
    by_step: dict[int, list[int]] = {}
    for k in sorted(range(n), key=lambda k: (w.arrival[k], k)):
        by_step.setdefault(w.arrival[k] + 1, []).append(k)
    rec = _Recorder(list(w.ids), s.usable_blocks)
    pending: deque[tuple[int, Any, Any]] = deque()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        sched = build_scheduler(s, max_model_len, _model_dir(Path(tmp), max_model_len),
                                asynchronous, scheduler_cls, additional_config)
        t = 0
        while len(rec.finished) < n:
            t += 1
            if t > max_steps:
                raise RuntimeError(f"workload {w.name}: not finished after {max_steps} steps")
            for k in by_step.get(t, ()):
                sched.add_request(_request(w.ids[k], prompts[k], w.decode[k], k))
            out = sched.schedule()
            rec.scheduled(t, sched, out)
            pending.appendleft((t, out, _fabricated_output(sched, out)))
            if len(pending) == (2 if asynchronous else 1):
                tu, o, m = pending.pop()
                rec.updated(tu, sched.update_from_output(o, m))
    wall = time.perf_counter() - t0
    return _recording(w, prompts, max_model_len, rec, wall, sched)


def _recording(w: Workload, prompts: list[int], max_model_len: int, rec: _Recorder,
               wall: float, sched: Any) -> dict[str, Any]:
    import vllm

    s = w.settings
    settings = asdict(s) | {
        "num_blocks": s.num_blocks, "kv_tokens": s.usable_blocks * s.block_size,
        "watermark_blocks": sched.kv_cache_manager.watermark_blocks,
        "max_model_len": max_model_len,
        "scheduler": f"{type(sched).__module__}.{type(sched).__name__}",
        "async_scheduling": sched.scheduler_config.async_scheduling}
    reqs = [{"id": rid, "prefill": w.prefill[k], "decode": w.decode[k], "arrival": w.arrival[k],
             "prompt": prompts[k]} | {key: d[rid] for key, d in rec.decisions().items()}
            for k, rid in enumerate(w.ids)]
    columns = dict(zip(STEP_COLUMNS, (list(c) for c in zip(*rec.steps))))
    return {"format": FORMAT, "workload": w.name, "description": w.description,
            "vllm_version": vllm.__version__, "prompt_offset": w.prompt_offset,
            "settings": settings, "wall_seconds": round(wall, 3), "num_steps": len(rec.steps),
            "steps": columns, "requests": reqs}
