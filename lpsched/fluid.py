"""The fluid benchmark of Ao, Luo, Simchi-Levi, Wang (arXiv 2504.11320) in our model.

Fluid model. Requests of type ``j`` (prefill ``s_j``, decode ``o_j``) arrive at rate
``lambda_j`` per unit of time; each one passes through the decode stages ``k = 1 .. o_j``,
one per iteration, holding ``s_j + k`` KV tokens in stage ``k``. In equilibrium every
stage of type ``j`` holds the same mass ``n_j = lambda_j tau`` of requests, ``tau`` the
duration of an iteration, so the running batch holds ``B = tau sum_j lambda_j o_j``
requests and

    K = tau sum_j lambda_j A_j,     A_j = s_j o_j + o_j (o_j + 1) / 2,

KV tokens (``A_j`` is the memory *area* of a request: token-steps). With linear
iteration times ``tau = d_0 + d_1 B + d_2 K`` (``d_1, d_2`` per request and per KV token;
our step model is ``d_0 = 1, d_1 = d_2 = 0``: one step per iteration) the equilibrium is

    tau = d_0 / (1 - d_1 sum_j lambda_j o_j - d_2 sum_j lambda_j A_j),

and it exists, with memory ``K <= M``, iff the denominator is positive and
``K <= M``. The *fluid benchmark*: the largest throughput a mix can sustain, found by
scaling the rates until memory or time binds; in steps, ``lambda* = M / E[A]``
requests per step.

What it bounds, precisely: the long-run **throughput** (completions per unit of time)
of any policy under a stationary arrival process with that mix; above ``lambda*`` the
queue grows without bound whatever the policy, below it the paper's WAIT / Nested
WAIT approach the fluid equilibrium (heavy traffic). It is not a bound on one
instance's total latency. The finite-instance statement behind it, valid for every
feasible schedule: the requests completed by step ``T`` satisfy
``sum A_i <= M T`` (their memory areas lie in steps ``1 .. T``, each step holding at most
``M``); ``lpsched.models.combinatorial``'s area bound is the latency bound built on it.

For an instance, :func:`fluid_benchmark` takes the empirical rate ``n / (a_max - a_min + 1)``
(arrivals per step over the arrival span) and the instance's mix, and reports the load
``rho = lambda E[A] / M``; ``rho > 1`` means the instance is overloaded in the fluid sense
(its backlog grows over the arrival span under any policy).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from lpsched.instance import Instance

__all__ = ["FluidBenchmark", "fluid_benchmark"]


@dataclass(frozen=True)
class FluidBenchmark:
    """The fluid equilibrium of an arrival rate and a request mix (module docstring).

    Attributes
    ----------
    arrival_rate
        ``lambda``, requests per unit of time (steps unless an iteration model is given).
    mean_area, mean_decode
        ``E[A]`` (token-steps per request) and ``E[o]`` over the mix.
    iteration
        ``tau``, the equilibrium iteration duration (1 step in the step model); ``inf``
        when the time constraint binds (no equilibrium).
    equilibrium_batch, equilibrium_memory
        ``B = lambda tau E[o]`` running requests and ``K = lambda tau E[A]`` KV tokens.
    max_rate
        ``lambda*``: the largest sustainable rate for this mix (memory or time binds).
    load
        ``lambda / lambda*``; ``stable`` is ``load <= 1``.
    """

    arrival_rate: float
    mean_area: float
    mean_decode: float
    iteration: float
    equilibrium_batch: float
    equilibrium_memory: float
    max_rate: float
    load: float
    stable: bool

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) and np.isfinite(v) else v)
                for k, v in asdict(self).items()}


def _rate_of(instance: Instance) -> float:
    a = instance.arrival
    span = int(a.max() - a.min()) + 1
    return instance.n / span


def fluid_benchmark(instance: Instance, arrival_rate: float | None = None,
                    iteration: tuple[float, float, float] = (1.0, 0.0, 0.0)) -> FluidBenchmark:
    """The fluid equilibrium of ``instance``'s mix at ``arrival_rate`` (default: the
    empirical rate over its arrival span), with iteration time ``d_0 + d_1 B + d_2 K``
    (``iteration = (d_0, d_1, d_2)``; default one step per iteration).

    >>> from lpsched.instance import Instance, Request
    >>> inst = Instance(100, [Request("a", 2, 4, arrival=0), Request("b", 2, 4, arrival=9)])
    >>> fb = fluid_benchmark(inst)          # 2 requests over 10 steps, A = 2*4 + 10 = 18
    >>> fb.arrival_rate, fb.mean_area, fb.equilibrium_memory, round(fb.max_rate, 4), fb.stable
    (0.2, 18.0, 3.6, 5.5556, True)
    >>> fluid_benchmark(inst, arrival_rate=10.0).load > 1
    True
    """
    d0, d1, d2 = (float(x) for x in iteration)
    if not (d0 > 0 and d1 >= 0 and d2 >= 0):
        raise ValueError(f"iteration time needs d_0 > 0 and d_1, d_2 >= 0, got {iteration!r}")
    lam = _rate_of(instance) if arrival_rate is None else float(arrival_rate)
    if not (np.isfinite(lam) and lam >= 0):
        raise ValueError(f"arrival_rate must be a finite number >= 0, got {arrival_rate!r}")
    s = instance.prefill.astype(np.float64)
    o = instance.decode.astype(np.float64)
    area = float(np.mean(s * o + o * (o + 1) / 2))
    dec = float(np.mean(o))
    M = float(instance.memory)
    # tau(lambda) = d0 / (1 - lambda (d1 E[o] + d2 E[A])); memory lambda tau E[A] <= M.
    slope = d1 * dec + d2 * area
    denom = 1.0 - lam * slope
    tau = d0 / denom if denom > 0 else float("inf")
    # largest rate: lambda tau E[A] = M  <=>  lambda (d0 E[A] + M slope) = M
    max_rate = M / (d0 * area + M * slope)
    return FluidBenchmark(
        arrival_rate=lam, mean_area=area, mean_decode=dec, iteration=tau,
        equilibrium_batch=lam * tau * dec, equilibrium_memory=lam * tau * area,
        max_rate=max_rate, load=lam / max_rate, stable=bool(lam <= max_rate))
