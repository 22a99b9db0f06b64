"""Replay a request trace through an online policy, in seconds, and report it.

:func:`load_workload` reads the requests: a trace CSV (:func:`lpsched.traces.
read_trace_columns`, its own arrival times) or a bundled workload profile
(:mod:`lpsched.workloads`: sampled lengths, inter-arrival seconds drawn from the
profile's table), or Poisson arrivals at ``rate`` requests/s for either.

:func:`replay` sets up the deployment (GPU, model, tensor-parallel size ``N``: by default
the fewest GPUs that hold the weights and leave a KV cache for the largest request;
``M`` = the KV tokens left after the weights unless given) and runs the policy in the one
engine (:func:`lpsched.engine.run_engine`) with a clock in seconds
(:class:`lpsched.engine.clock.StepTimeClock` over the step-time model of
:mod:`lpsched.serving.steptime`): each iteration reveals the requests whose arrival time
has passed, the policy admits, the engine forms the batch under its limits and the step
lasts what the model says. One pass, no fixed point: arrivals are the trace's own times,
TTFT and E2EL are measured from them. The schedule (in engine iterations) is verified by
the one checker; the figures are vLLM's serving-benchmark ones
(:mod:`lpsched.serving.metrics`).

Engine limits: vLLM V1's for ``vllm serve`` on an H100/H200 by default
(:meth:`lpsched.engine.limits.EngineLimits.vllm_v1`: blocks of 16 tokens, a budget of
8192 tokens a step with chunked prefill, 1024 sequences, watermark 0, V1's KV
accounting, asynchronous scheduling), the same for every policy; each is a keyword (and a
CLI flag).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lpsched.check import check
from lpsched.engine import EngineLimits, StepTimeClock, run_engine
from lpsched.engine.records import SimulationResult, noisy_predictions
from lpsched.instance import Instance, InstanceError
from lpsched.serving.metrics import serving_metrics
from lpsched.serving.steptime import build_step_time, default_tensor_parallel, kv_capacity
from lpsched.serving.timeline import Timeline

__all__ = ["Workload", "ReplayResult", "engine_limits", "load_workload", "poisson_arrivals",
           "replay", "write_per_request"]

#: Policy options that are engine settings: replay takes them as its own arguments.
_ENGINE_OPTIONS = ("variant", "watermark", "max_num_seqs", "max_num_batched_tokens",
                   "kv_accounting")


@dataclass(frozen=True)
class Workload:
    """Requests with arrival times in seconds (``arrival_s[0]`` is the first, at 0)."""

    name: str
    ids: list[str]
    prefill: np.ndarray
    decode: np.ndarray
    arrival_s: np.ndarray
    arrivals: str  # "trace", "profile" or "poisson rate=R"

    @property
    def n(self) -> int:
        return len(self.ids)


def poisson_arrivals(n: int, rate: float, seed: int | None) -> np.ndarray:
    """Arrival seconds of a Poisson process at ``rate`` req/s, the first at 0 (as vLLM's
    benchmark sends its first request at once)."""
    if not (isinstance(rate, (int, float)) and np.isfinite(rate) and rate > 0):
        raise ValueError(f"--rate must be a number > 0 requests/s, got {rate!r}")
    gaps = np.random.default_rng(0 if seed is None else seed).exponential(1.0 / rate, n)
    return np.concatenate(([0.0], np.cumsum(gaps[1:])))


def load_workload(trace: str, *, num_prompts: int | None = None, rate: float | None = None,
                  seed: int | None = None) -> Workload:
    """A trace CSV path or a bundled profile name (module docstring)."""
    from lpsched.traces import read_trace_columns
    from lpsched.workloads import load_profile, profile_names

    if num_prompts is not None and num_prompts < 1:
        raise ValueError(f"--num-prompts must be >= 1, got {num_prompts}")
    path = Path(trace)
    if path.exists():
        cols = read_trace_columns(path, limit=num_prompts, times=rate is None)
        if cols.n == 0:
            raise InstanceError("the trace has no requests", source=str(path))
        if rate is None and cols.times is None:
            raise InstanceError("the trace has no arrival times (no arrived_at / TIMESTAMP "
                                "column): give --rate R for Poisson arrivals", source=str(path))
        if rate is not None:
            times = poisson_arrivals(cols.n, rate, seed)
        else:
            assert cols.times is not None
            times = cols.times - cols.times.min()
        if rate is None and np.any(np.diff(times) < 0):
            raise InstanceError("arrival times must not decrease from row to row",
                                source=str(path))
        return Workload(path.stem, list(cols.ids), cols.prefill, cols.decode, times,
                        "trace" if rate is None else f"poisson rate={rate:g}")
    if trace not in profile_names():
        raise ValueError(f"{trace}: no such trace file or bundled profile (profiles: "
                         f"{', '.join(profile_names())})")
    prof = load_profile(trace)
    n = 1000 if num_prompts is None else int(num_prompts)
    rng = np.random.default_rng(0 if seed is None else seed)
    s, o = prof.sample(n, rng)
    if rate is None:
        if prof.interarrival_quantiles is None:
            raise ValueError(f"profile {trace} has no arrival times: give --rate R")
        gaps = prof.sample_interarrival(n, rng)
        times, how = np.concatenate(([0.0], np.cumsum(gaps[1:]))), "profile"
    else:
        times, how = poisson_arrivals(n, rate, seed), f"poisson rate={rate:g}"
    return Workload(trace, [str(k + 1) for k in range(n)], s, o, times, how)


@dataclass(frozen=True)
class ReplayResult:
    """Metrics (vLLM keys plus ours), the instance as the engine counted it (arrival =
    the iteration at which each request was revealed), the engine's result, the timeline
    (seconds; ``arrival`` = the true arrival times) and the workload."""

    metrics: dict[str, Any]
    instance: Instance
    simulation: SimulationResult
    timeline: Timeline
    workload: Workload

    def per_request(self) -> dict[str, np.ndarray | list[str]]:
        """One entry per request: id, arrival_s, first_token_s, finish_s, output_tokens,
        preemptions (the columns of ``replay --per-request``)."""
        tl, sim = self.timeline, self.simulation
        pre = np.bincount(sim.preemption_events[:, 0], minlength=self.instance.n) \
            if sim.preemption_events is not None else np.zeros(self.instance.n, np.int64)
        return {"id": list(self.workload.ids), "arrival_s": tl.arrival,
                "first_token_s": tl.arrival + tl.ttft, "finish_s": tl.arrival + tl.e2el,
                "output_tokens": self.instance.decode, "preemptions": pre}


def write_per_request(res: ReplayResult, path: str | Path) -> None:
    """Write :meth:`ReplayResult.per_request` as CSV (seconds with microsecond digits),
    atomically (:func:`lpsched.paths.atomic_open`)."""
    import csv

    from lpsched.paths import atomic_open

    cols = res.per_request()
    with atomic_open(path, "w", newline="", what="per-request CSV") as fh:
        w = csv.writer(fh)
        w.writerow(list(cols))
        for k in range(res.instance.n):
            w.writerow([cols["id"][k], f"{cols['arrival_s'][k]:.6f}",
                        f"{cols['first_token_s'][k]:.6f}", f"{cols['finish_s'][k]:.6f}",
                        int(cols["output_tokens"][k]), int(cols["preemptions"][k])])


def engine_limits(*, block_size: int | None = None, max_num_seqs: int | None = None,
                  max_num_batched_tokens: int | None = None, chunked_prefill: bool | None = None,
                  watermark: float | None = None, kv_accounting: str | None = None,
                  async_scheduling: bool | None = None) -> EngineLimits:
    """vLLM V1's ``vllm serve`` limits on an H100/H200 with the given ones replaced (a
    budget below the default ``max_num_seqs`` lowers it to the budget, as vLLM requires)."""
    over: dict[str, Any] = {k: v for k, v in (
        ("block_size", block_size), ("max_num_seqs", max_num_seqs),
        ("max_num_batched_tokens", max_num_batched_tokens), ("chunked_prefill", chunked_prefill),
        ("watermark", watermark), ("kv_accounting", kv_accounting),
        ("async_scheduling", async_scheduling)) if v is not None}
    base = EngineLimits.vllm_v1()
    if "max_num_batched_tokens" in over and "max_num_seqs" not in over:
        over["max_num_seqs"] = min(int(base.max_num_seqs or 1), over["max_num_batched_tokens"])
    return EngineLimits.vllm_v1(**over)


def _timeline(sim: SimulationResult, inst: Instance, arrival_s: np.ndarray) -> Timeline:
    """Per-request TTFT, E2EL and the pooled inter-token latencies from the engine's clock.

    Token ``k`` of a run ``(p, d)`` reaches the user at the end of step ``p + k``. The gaps
    inside runs are step durations: step ``u`` contributes its duration once per run that
    emits a token other than its first in ``u`` (``O(runs + steps)``, no per-token loop);
    a resumed run adds the gap from the last token before its preemption to its first.
    """
    clock, step_s = sim.clock, sim.step_seconds
    if clock is None or step_s is None:
        raise ValueError("the timeline needs a timed run (a StepTimeClock)")
    sched = sim.schedule
    o = inst.decode
    first = clock[sched.starts + 1]
    last = clock[sched.completions]
    steps = clock.size - 1
    plain = np.ones(inst.n, dtype=bool)
    plain[list(sched.runs)] = False
    idx = np.flatnonzero(plain)
    seg = [(k, p, d) for k, segs in sched.runs.items() for p, d in segs]
    arr = np.asarray(seg, dtype=np.int64).reshape(-1, 3)
    p_a = np.concatenate([sched.starts[idx], arr[:, 1]])
    d_a = np.concatenate([o[idx], arr[:, 2]])
    many = d_a >= 2
    cnt = (np.bincount(p_a[many] + 2, minlength=steps + 2)[:steps + 2]
           - np.bincount(p_a[many] + d_a[many] + 1, minlength=steps + 2)[:steps + 2])
    per_step = np.cumsum(cnt)[1:steps + 1]  # runs emitting a non-first token in step u
    itl = np.repeat(step_s, per_step)
    if arr.size:
        order = np.lexsort((arr[:, 1], arr[:, 0]))
        k, p, d = arr[order, 0], arr[order, 1], arr[order, 2]
        nxt = k[1:] == k[:-1]
        gaps = clock[p[1:][nxt] + 1] - clock[p[:-1][nxt] + d[:-1][nxt]]
        itl = np.concatenate([itl, gaps])
    return Timeline(clock=clock, step_seconds=step_s, arrival=arrival_s,
                    ttft=first - arrival_s, e2el=last - arrival_s, itl=itl,
                    steps=int(sim.steps))


def replay(w: Workload, algorithm: str, *, gpu: str = "h100", model: str = "llama3-70b",
           tensor_parallel: int | None = None, memory: int | None = None,
           block_size: int | None = None, chunk_tokens: int | None = None,
           limits: EngineLimits | None = None, options: dict | None = None,
           prediction_noise: float | None = None, predictions: np.ndarray | None = None,
           time_limit: float | None = None, seed: int | None = None) -> ReplayResult:
    """Replay ``w`` with the registered policy ``algorithm`` (module docstring).

    ``limits`` are the engine's (default :func:`engine_limits`: vLLM V1's); ``block_size``
    and ``chunk_tokens`` (the token budget of a step, chunked prefill) replace theirs.
    ``options`` are the policy's declared options (engine settings such as
    ``max_num_seqs`` are refused there: they are ``limits``); ``prediction_noise``
    (sigma) shows it log-normal predictions ``o exp(sigma Z)`` drawn from ``seed``
    (:func:`lpsched.engine.records.noisy_predictions`), or ``predictions`` gives the
    predicted decode lengths (one per request of ``w``); default the true lengths.
    ``time_limit`` (seconds) bounds the run (a :class:`~lpsched.stop.Deadline`): when it
    expires the rest is drained (:mod:`lpsched.engine.drain`), ``metrics["drained"]``
    counts the requests placed by the drain and ``metrics["status"]`` is ``"drained"``.
    """
    from lpsched import registry
    from lpsched.stop import Deadline

    spec = registry.get(algorithm)
    if spec.kind != "policy" or not spec.policy:
        names = ", ".join(s.name for s in registry.specs() if s.kind == "policy" and s.policy)
        raise ValueError(f"replay needs an online policy, {spec.name!r} is not one; "
                         f"policies: {names}")
    bad = sorted(k for k in (options or {}) if k in _ENGINE_OPTIONS)
    if bad:
        raise ValueError(f"replay: {', '.join(bad)}: engine settings are replay's own "
                         "(--block-size, --max-num-seqs, --max-num-batched-tokens, "
                         "--watermark, --kv-accounting), the same for every policy")
    if block_size is not None and (isinstance(block_size, bool) or int(block_size) != block_size
                                   or block_size < 1):
        raise ValueError(f"--block-size must be an integer >= 1, got {block_size}")
    if predictions is not None and prediction_noise is not None:
        raise ValueError("give prediction_noise or predictions, not both")
    if chunk_tokens is not None and chunk_tokens < 1:
        raise ValueError(f"--chunked-prefill must be >= 1 tokens per step, got {chunk_tokens}")
    lim = limits if limits is not None else engine_limits()
    if block_size is not None:
        lim = dataclasses.replace(lim, block_size=int(block_size))
    if chunk_tokens is not None:
        lim = dataclasses.replace(
            lim, max_num_batched_tokens=int(chunk_tokens), chunked_prefill=True,
            max_num_seqs=min(lim.max_num_seqs or int(chunk_tokens), int(chunk_tokens)))
    need = int((w.prefill + w.decode).max())
    n_gpu = default_tensor_parallel(gpu, model, need) if tensor_parallel is None \
        else int(tensor_parallel)
    stm = build_step_time(gpu, model, n_gpu)
    if memory is None:
        memory = kv_capacity(gpu, model, n_gpu)
        if memory < 1:
            raise ValueError(f"{model} does not fit on {n_gpu} x {gpu}: its weights need more "
                             "than 90% of the device memory; raise --tensor-parallel")
    idle = float(stm.step_seconds(1, 1, 2, 1))
    inst = Instance.from_arrays(int(memory), w.prefill, w.decode, np.zeros(w.n, np.int64),
                                ids=w.ids, name=w.name, source=w.name, block_size=lim.block_size)
    pred = predictions if prediction_noise is None else noisy_predictions(
        inst, prediction_noise, seed)
    sim = run_engine(inst, algorithm, limits=lim, options=options or {}, predictions=pred,
                     deadline=None if time_limit is None else Deadline(time_limit),
                     clock=StepTimeClock(stm.step_seconds, idle), arrival_s=w.arrival_s)
    mem_inst = sim.schedule.instance
    report = check(mem_inst, sim.schedule)
    if not report.feasible:  # pragma: no cover - the engine guarantees feasibility
        raise RuntimeError(f"{algorithm}: the engine's schedule fails the checker: "
                           f"{report.reason()}")
    tl = _timeline(sim, inst, np.asarray(w.arrival_s, dtype=np.float64))
    m: dict[str, Any] = dict(serving_metrics(inst, tl))
    m.update({"preemptions": int(sim.evictions), "resumes": int(sim.resumes),
              "recomputed_tokens": int(sim.recomputed_tokens), "algorithm": spec.name,
              "gpu": gpu, "model": model, "tensor_parallel": n_gpu, "memory": int(memory),
              **lim.describe(), "chunked_prefill": lim.max_num_batched_tokens
              if lim.chunked_prefill else None,
              "arrivals": w.arrivals, "prediction_noise": prediction_noise,
              "steps": int(sim.steps), "drained": int(sim.drained),
              "status": "drained" if sim.drain_step is not None else "ok",
              "time_limit": time_limit, "arrival_error_ms": 0.0,
              "idle_step_ms": idle * 1e3, "engine_s": round(sim.runtime, 6),
              "schedule_checked": True})
    return ReplayResult(m, mem_inst, sim, tl, w)
