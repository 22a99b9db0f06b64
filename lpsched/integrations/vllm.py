"""lpsched's online policies as vLLM V1 scheduler classes.

Use::

    pip install "lpsched[vllm]"
    vllm serve MODEL --scheduler-cls lpsched.integrations.vllm.MCSFScheduler \\
        --additional-config '{"lpsched": {"predictor": "profile:azure_conv_2023"}}'

Each class extends vLLM's ``AsyncScheduler`` (``vllm/v1/core/sched/async_scheduler.py``;
extending it keeps ``vllm serve``'s overlap of scheduling with the GPU) and changes one
thing: **which waiting requests are offered for admission, and in which order**. vLLM
still does everything else (its running loop, token budget and chunked prefill, block
allocation, watermark, ``max_num_seqs``, preemption of the most recently admitted
running request, no admission in a step that preempted, stop at the first offered
request that does not fit). The offer comes from the policy object of lpsched's engine
(:mod:`lpsched.engine`), driven by :class:`lpsched.integrations.driver.PolicyDriver`:
one implementation of each rule for both drivers. The hook is the waiting queue object:
during one ``schedule()`` call the queue shows vLLM's waiting loop only the policy's
offer; the policy is asked lazily, when that loop first looks at the queue, which is
exactly when lpsched's engine would ask it (nothing preempted, budget and sequence slots
left). ``lpsched.engine.run_engine`` with :meth:`lpsched.engine.EngineLimits.vllm_v1`
makes the same decisions step for step (``benchmarks/results/peer_vllm_plugin.md``).

Options (``--additional-config '{"lpsched": {...}}'``, every key checked):

``policy``
    only for :class:`LpschedScheduler`: a name of
    :data:`lpsched.integrations.driver.DEPLOYABLE`;
``options``
    the policy's options (``lpsched algorithms NAME``);
``predictor``
    ``"profile:NAME"`` (default ``profile:azure_conv_2023``, a bundled trace profile:
    :class:`lpsched.integrations.predictor.ProfilePredictor`), ``"max_tokens"`` (the
    request's ``max_tokens``), or ``"module:function"`` (a callable taking vLLM's
    ``Request`` and returning the predicted number of output tokens);
``hint_key``
    name of the per-request hint in ``SamplingParams.extra_args`` (OpenAI API field
    ``vllm_xargs``), default ``"lpsched_output_len"``; a request that carries it is
    predicted by it.

Every prediction is capped at the request's ``max_tokens`` (a bound vLLM knows).

Supported vLLM versions: :data:`SUPPORTED_VLLM` (the hooks used: ``AsyncScheduler``,
``FCFSRequestQueue``, the waiting loop's ``bool``/``peek_request``/``pop_request`` calls,
``Request.num_output_placeholders``/``is_prefill_chunk``). Importing this module without
vLLM, or with another version, exits with a one-line message (set
``LPSCHED_VLLM_ANY_VERSION=1`` to try another version anyway).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from lpsched.integrations.driver import DEPLOYABLE, PolicyDriver
from lpsched.integrations.predictor import ProfilePredictor

#: vLLM versions this module is tested with (``benchmarks/peer_vllm_plugin.py``).
SUPPORTED_VLLM = ("0.33.0",)
HINT_KEY = "lpsched_output_len"
DEFAULT_PREDICTOR = "profile:azure_conv_2023"
_KEYS = ("policy", "options", "predictor", "hint_key")


def _check_vllm() -> str:
    """vLLM's version, or exit with one line when it is missing or not supported."""
    try:
        import vllm
    except ImportError:
        sys.exit("lpsched.integrations.vllm: vLLM is not installed; install it with "
                 f"`pip install \"lpsched[vllm]\"` (tested with vLLM {', '.join(SUPPORTED_VLLM)})")
    version = str(getattr(vllm, "__version__", "unknown"))
    if version not in SUPPORTED_VLLM and os.environ.get("LPSCHED_VLLM_ANY_VERSION") != "1":
        sys.exit(f"lpsched.integrations.vllm: vLLM {version} is not supported (tested: "
                 f"{', '.join(SUPPORTED_VLLM)}); set LPSCHED_VLLM_ANY_VERSION=1 to try it anyway")
    return version


VLLM_VERSION = _check_vllm()

from vllm.v1.core.sched.async_scheduler import AsyncScheduler  # noqa: E402
from vllm.v1.core.sched.request_queue import FCFSRequestQueue  # noqa: E402

__all__ = ["FCFSScheduler", "LpschedScheduler", "MCSFScheduler", "SFScheduler",
           "SUPPORTED_VLLM", "SizeFirstScheduler", "SortedFScheduler", "VLLMScheduler"]


class _OfferQueue(FCFSRequestQueue):
    """vLLM's FCFS waiting deque; while *armed* (one ``schedule()`` call) its waiting loop
    sees only the policy's offer, asked for on the loop's first look. ``len()`` and
    iteration stay the whole queue (vLLM's request counts use them)."""

    def __init__(self, items: Any, scheduler: LpschedScheduler):
        super().__init__(items)
        self._sched = scheduler
        self._armed = False
        self._offer: Iterator[str] | None = None
        self._buf: deque[Any] = deque()

    def arm(self) -> None:
        self._armed, self._offer = True, None
        self._buf.clear()

    def disarm(self) -> None:
        self._armed, self._offer = False, None
        self._buf.clear()

    def _fill(self) -> bool:
        if self._offer is None:
            s = self._sched
            if not len(self) or not s._lpsched.waiting_known():
                return False
            running = len(s.running) + getattr(s, "num_waiting_for_streaming_input", 0)
            if running >= s.max_num_active_reqs:
                return False  # vLLM breaks before peeking; the engine would not ask
            self._offer = s._lpsched.offer()
        if not self._buf:
            rid = next(self._offer, None)
            if rid is not None:
                self._buf.append(self._sched.requests[rid])
        return bool(self._buf)

    def __bool__(self) -> bool:
        if not self._armed:
            return len(self) > 0
        return self._fill()

    def peek_request(self) -> Any:
        if not self._armed:
            return super().peek_request()
        if not self._fill():
            raise IndexError("lpsched: nothing offered")
        return self._buf[0]

    def pop_request(self) -> Any:
        if not self._armed:
            return super().pop_request()
        if not self._fill():
            raise IndexError("lpsched: nothing offered")
        req = self._buf.popleft()
        self.remove(req)
        return req


def _load_callable(spec: str) -> Callable[[Any], Any]:
    module, _, name = spec.partition(":")
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ValueError(f"lpsched: predictor {spec!r}: cannot load it ({exc})") from None
    if not callable(fn):
        raise ValueError(f"lpsched: predictor {spec!r} is not callable")
    return fn


def _predictor(spec: Any) -> Callable[[Any], Any]:
    """The predictor of the ``predictor`` option (module docstring)."""
    if not isinstance(spec, str):
        raise ValueError(f"lpsched: predictor must be a string, got {spec!r}")
    if spec == "max_tokens":
        return lambda req: req.max_tokens
    if spec.startswith("profile:"):
        prof = ProfilePredictor(spec.split(":", 1)[1])
        return lambda req: prof(req.num_prompt_tokens)
    if ":" in spec:
        return _load_callable(spec)
    raise ValueError(f"lpsched: predictor {spec!r}: expected 'max_tokens', 'profile:NAME' "
                     "or 'module:function'")


class LpschedScheduler(AsyncScheduler):
    """vLLM's ``AsyncScheduler`` with an lpsched policy choosing the admissions (module
    docstring); the policy is ``additional_config["lpsched"]["policy"]`` here and fixed in
    the subclasses."""

    lpsched_policy: str | None = None

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        cfg = dict((self.vllm_config.additional_config or {}).get("lpsched", {}) or {})
        unknown = sorted(set(cfg) - set(_KEYS))
        if unknown:
            raise ValueError(f"lpsched: unknown option(s) {unknown} in additional_config"
                             f"['lpsched']; known: {list(_KEYS)}")
        name = self.lpsched_policy or cfg.get("policy")
        if self.lpsched_policy and cfg.get("policy") not in (None, self.lpsched_policy):
            raise ValueError(f"lpsched: {type(self).__name__} runs {self.lpsched_policy!r}; "
                             f"use LpschedScheduler to choose policy {cfg['policy']!r}")
        if name is None:
            raise ValueError("lpsched: LpschedScheduler needs additional_config['lpsched']"
                             f"['policy'], one of {', '.join(DEPLOYABLE)}")
        if self.scheduler_config.policy != "fcfs":
            raise ValueError("lpsched: the scheduler's --scheduling-policy must be 'fcfs' "
                             "(the lpsched policy decides the order)")
        if self.vllm_config.speculative_config is not None:
            raise ValueError("lpsched: speculative decoding is not supported (a step's output "
                             "placeholders then count draft tokens; docs/vllm.md)")
        if self.parallel_config.pipeline_parallel_size != 1:
            raise ValueError("lpsched: pipeline parallelism is not supported (more batches in "
                             "flight than the asynchronous model assumes; docs/vllm.md)")
        if len(self.kv_cache_config.kv_cache_groups) != 1:
            raise ValueError("lpsched: only models with one KV cache group (full attention) "
                             "are supported")
        self._hint_key = str(cfg.get("hint_key", HINT_KEY))
        self._predict = _predictor(cfg.get("predictor", DEFAULT_PREDICTOR))
        self._lpsched = PolicyDriver(name, cfg.get("options") or {},
                                     blocks=self.kv_cache_config.num_blocks - 1,
                                     block_size=self.block_size)
        self.waiting = _OfferQueue(self.waiting, self)  # type: ignore[has-type]

    # -- requests --------------------------------------------------------------------------
    def predicted_output_len(self, request: Any) -> int:
        """The per-request hint if present, else the predictor; capped at ``max_tokens``."""
        extra = getattr(request.sampling_params, "extra_args", None) or {}
        value = extra.get(self._hint_key)
        if value is None:
            value = self._predict(request)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 1:
            raise ValueError(f"lpsched: request {request.request_id}: predicted output length "
                             f"must be a number >= 1, got {value!r}")
        return max(1, min(int(round(value)), int(request.max_tokens)))

    def add_request(self, request: Any) -> None:
        new = request.request_id not in self.requests
        super().add_request(request)
        if new and request.request_id in self.requests:
            self._lpsched.arrive(request.request_id, request.num_prompt_tokens,
                                 self.predicted_output_len(request))

    # -- one step --------------------------------------------------------------------------
    def _lpsched_view(self) -> tuple[dict[str, int | None], list[str], list[str]]:
        """Running requests with their output tokens (None while prefilling in chunks), the
        waiting queue, and the running requests whose last token is in flight."""
        running: dict[str, int | None] = {}
        finishing = []
        for req in self.running:
            done = req.num_output_tokens + req.num_output_placeholders
            if req.is_finished():
                continue
            if done >= req.max_tokens:
                finishing.append(req.request_id)
            else:
                running[req.request_id] = None if (req.is_prefill_chunk or done == 0) else done
        return running, [req.request_id for req in self.waiting], finishing

    def schedule(self, *args: Any, **kwargs: Any) -> Any:
        drv = self._lpsched
        drv.begin(*self._lpsched_view())
        self.waiting.arm()
        try:
            out = super().schedule(*args, **kwargs)
        finally:
            self.waiting.disarm()
        admitted: dict[str, tuple[int, bool]] = {}
        for new in out.scheduled_new_reqs:
            admitted[new.req_id] = (0, not self.requests[new.req_id].is_prefill_chunk)
        cached = out.scheduled_cached_reqs
        for rid in getattr(cached, "resumed_req_ids", ()) or ():
            req = self.requests[rid]
            admitted[rid] = (req.num_output_tokens, not req.is_prefill_chunk)
        pre = out.preempted_req_ids or set()
        front = [r.request_id for r in self.waiting if r.request_id in pre]
        drv.end(admitted, list(reversed(front)))
        return out


class VLLMScheduler(LpschedScheduler):
    """lpsched's ``vllm`` policy (vLLM's own FCFS order, preempted requests first): the
    identity check of the plumbing; decides as vLLM's ``AsyncScheduler``."""

    lpsched_policy = "vllm"


class FCFSScheduler(LpschedScheduler):
    """lpsched's ``fcfs``: arrival order with MC-SF's look-ahead admission test (predicted
    memory at every future completion step), stop at the first misfit."""

    lpsched_policy = "fcfs"


class MCSFScheduler(LpschedScheduler):
    """MC-SF (Jaillet et al. 2025): shortest predicted output first, look-ahead admission,
    stop at the first misfit."""

    lpsched_policy = "mc-sf"


class SFScheduler(LpschedScheduler):
    """``sf``: shortest predicted output first, look-ahead admission, skips misfits."""

    lpsched_policy = "sf"


class SizeFirstScheduler(LpschedScheduler):
    """``size-first``: smallest prompt + predicted output first, look-ahead, skips misfits."""

    lpsched_policy = "size-first"


class SortedFScheduler(LpschedScheduler):
    """``sorted-f-online``: the online Sorted-F batch queue with look-ahead admission."""

    lpsched_policy = "sorted-f-online"
