"""Replay a request trace through an online policy and report it in seconds.

:func:`load_workload` reads the requests: a trace CSV (:func:`lpsched.traces.
read_trace_columns`, its own arrival times) or a bundled workload profile
(:mod:`lpsched.workloads`: sampled lengths, inter-arrival seconds drawn from the
profile's table), or Poisson arrivals at ``rate`` requests/s for either.

:func:`replay` sets up the deployment (GPU, model, tensor-parallel size ``N``: by default
the fewest GPUs that hold the weights and leave a KV cache for the largest request;
``M`` = the KV tokens left after the weights unless given), runs the policy in the one
simulator (:func:`lpsched.simulate.simulate`), verifies the schedule with the shared
checker, maps steps to seconds (:mod:`lpsched.serving.timeline`) and computes vLLM's
serving-benchmark figures (:mod:`lpsched.serving.metrics`).

Arrivals in seconds, schedule in steps (the fixed point)
--------------------------------------------------------
The simulator needs arrival *steps*, and how long a step lasts depends on the schedule.
``replay`` iterates: start from steps of the idle tick (the step time of one request
with a one-token cache); simulate; build the clock; then place the arrivals on steps of
that run's mean step length; from then on place every arrival at the last step
boundary at or before its time on the previous run's clock (steps after the end of the
clock last one idle tick). Stop after ``iterations`` runs (default 10), when the arrival
steps no longer change, or when the mean gap between simulated and true arrival times
is at most half a mean step; keep the run whose clock puts the arrivals closest to
their true times. Latencies are measured from each request's arrival on the simulated clock;
``arrival_error_ms`` (mean absolute gap between the simulated and the true arrival
times) says how close the fixed point came, and is reported with the metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lpsched.check import check
from lpsched.instance import Instance, InstanceError
from lpsched.serving.metrics import serving_metrics
from lpsched.serving.steptime import build_step_time, default_tensor_parallel, kv_capacity
from lpsched.serving.timeline import Timeline, build_timeline, runs_of
from lpsched.simulate import noisy_predictions, simulate

__all__ = ["Workload", "ReplayResult", "load_workload", "poisson_arrivals", "replay"]


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
        times = (poisson_arrivals(cols.n, rate, seed) if rate is not None
                 else cols.times - cols.times.min())
        if rate is None and np.any(np.diff(cols.times) < 0):
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
    """Metrics (vLLM keys plus ours), the instance as simulated, the simulation, the clock."""

    metrics: dict[str, Any]
    instance: Instance
    simulation: Any
    timeline: Timeline


def _instance(w: Workload, memory: int, steps: np.ndarray, block_size: int) -> Instance:
    return Instance.from_arrays(memory, w.prefill, w.decode, steps, ids=w.ids, name=w.name,
                                source=w.name, block_size=block_size)


def _steps_on(clock: np.ndarray, times: np.ndarray, idle: float) -> np.ndarray:
    """The last step boundary at or before each time (idle ticks after the clock's end)."""
    t = np.searchsorted(clock, times, side="right") - 1
    late = times > clock[-1]
    t[late] = clock.size - 1 + np.floor((times[late] - clock[-1]) / idle).astype(np.int64)
    return t.astype(np.int64)


def replay(w: Workload, algorithm: str, *, gpu: str = "h100", model: str = "llama3-70b",
           tensor_parallel: int | None = None, memory: int | None = None,
           block_size: int = 1, chunk_tokens: int | None = None,
           options: dict | None = None, prediction_noise: float | None = None,
           predictions: np.ndarray | None = None, time_limit: float | None = None,
           seed: int | None = None, iterations: int = 10) -> ReplayResult:
    """Replay ``w`` with the registered policy ``algorithm`` (module docstring).

    ``options`` are the policy's declared options; ``prediction_noise`` (sigma) shows it
    log-normal predictions ``o exp(sigma Z)`` drawn from ``seed``
    (:func:`lpsched.simulate.noisy_predictions`), or ``predictions`` gives the predicted
    decode lengths (one per request of ``w``, e.g. from a fitted predictor); default the
    true lengths. ``time_limit`` (seconds) is the budget of *each* simulation run of the
    fixed point (a :class:`~lpsched.stop.Deadline`): when it expires the run is drained
    (:func:`lpsched.simulate.simulate`), and ``metrics["drained"]`` counts the requests
    the kept run placed by the drain instead of the policy (``metrics["status"]`` is then
    ``"drained"``, else ``"ok"``).
    """
    from lpsched import registry
    from lpsched.stop import Deadline

    spec = registry.get(algorithm)
    if spec.kind != "policy" or not spec.policy:
        names = ", ".join(s.name for s in registry.specs() if s.kind == "policy" and s.policy)
        raise ValueError(f"replay needs an online policy, {spec.name!r} is not one; "
                         f"policies: {names}")
    if isinstance(block_size, bool) or int(block_size) != block_size or block_size < 1:
        raise ValueError(f"--block-size must be an integer >= 1, got {block_size}")
    if predictions is not None and prediction_noise is not None:
        raise ValueError("give prediction_noise or predictions, not both")
    if chunk_tokens is not None and chunk_tokens < 1:
        raise ValueError(f"--chunked-prefill must be >= 1 tokens per step, got {chunk_tokens}")
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
    steps = np.floor(w.arrival_s / idle).astype(np.int64)
    best = None
    for it in range(max(int(iterations), 1)):
        inst = _instance(w, int(memory), steps, int(block_size))
        pred = predictions if prediction_noise is None else noisy_predictions(
            inst, prediction_noise, seed)
        sim = simulate(inst, algorithm, options=options or {}, predictions=pred,
                       deadline=None if time_limit is None else Deadline(time_limit))
        tl = build_timeline(inst, runs_of(inst, sim), stm, idle_seconds=idle,
                            chunk_tokens=chunk_tokens)
        err = float(np.mean(np.abs(tl.arrival - w.arrival_s)))
        if best is None or err < best[0]:
            best = (err, inst, sim, tl, it + 1)
        mean_step = float(tl.clock[-1]) / max(tl.steps, 1)
        if err <= 0.5 * mean_step:
            break
        if it == 0:  # the idle tick is far too short under load: restart from the mean step
            nxt = np.floor(w.arrival_s / mean_step).astype(np.int64)
        else:
            nxt = _steps_on(tl.clock, w.arrival_s, idle)
        if np.array_equal(nxt, steps):
            break
        steps = nxt
    err, inst, sim, tl, used = best
    report = check(inst, sim.schedule)
    if not report.feasible:  # pragma: no cover - the simulator guarantees feasibility
        raise RuntimeError(f"{algorithm}: the simulated schedule fails the checker: "
                           f"{report.message}")
    m = serving_metrics(inst, tl)
    stats = sim.stats()
    m.update({"preemptions": int(stats["preemptions"]), "resumes": int(sim.resumes),
              "recomputed_tokens": int(sim.recomputed_tokens), "algorithm": spec.name, "gpu": gpu,
              "model": model, "tensor_parallel": n_gpu, "memory": int(memory),
              "block_size": int(block_size), "chunked_prefill": chunk_tokens,
              "arrivals": w.arrivals, "prediction_noise": prediction_noise,
              "steps": int(tl.steps),
              "drained": int(sim.drained), "status": "drained" if sim.drain_step is not None
              else "ok", "time_limit": time_limit,
              "arrival_error_ms": err * 1e3, "fixed_point_iterations": used,
              "idle_step_ms": idle * 1e3, "schedule_checked": True})
    return ReplayResult(m, inst, sim, tl)
