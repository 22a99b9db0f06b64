"""The fluid benchmark of Ao, Luo, Simchi-Levi, Wang (arXiv 2504.11320) in our model.

What the paper states [paper: abstract and first page; its body could not be read here,
see ``docs/papers.md``]: a fluid model of the system under stochastic arrivals of several
request types "characterizes equilibrium batch composition, memory requirement, and
stability region", with iteration times linear in the batch; WAIT and Nested WAIT
approximate the fluid benchmark asymptotically. The equations below are ours, written for
our step model, and agree with the authors' public code (``Luoxiaogan/vidur_or``:
thresholds proportional to ``lambda_j`` in every stage, ``calculate_total_limit.py``).

Fluid model. Requests of type ``j`` (prefill ``s_j``, decode ``o_j``) arrive at rate
``lambda_j`` per unit of time; each passes through the decode stages ``k = 1 .. o_j``, one
per iteration, holding ``s_j + k`` KV tokens in stage ``k`` (our step model: the prefill
is computed in the first step, so a request has ``o_j`` stages; Vidur, where the authors
ran, counts ``o_j + 1``). In equilibrium every stage of type ``j`` holds the same mass
``n_j = lambda_j tau`` of requests, ``tau`` the duration of an iteration, so the running
batch holds ``B = tau sum_j lambda_j o_j`` requests and

    K = tau sum_j lambda_j A_j,     A_j = s_j o_j + o_j (o_j + 1) / 2,

KV tokens (``A_j`` is the memory *area* of a request: token-steps). With linear
iteration times ``tau = d_0 + d_1 B + d_2 K`` (``d_1, d_2`` per request and per KV token;
our step model is ``d_0 = 1, d_1 = d_2 = 0``: one step per iteration) the equilibrium is

    tau = d_0 / (1 - d_1 sum_j lambda_j o_j - d_2 sum_j lambda_j A_j),

and it exists, with memory ``K <= M``, iff the denominator is positive and ``K <= M``:
iff every rate may be multiplied by ``theta* = M / (d_0 sum lambda A + M (d_1 sum lambda o
+ d_2 sum lambda A)) >= 1`` (:func:`fluid_equilibrium`). The *fluid benchmark* is the
largest throughput a mix sustains, ``theta* sum_j lambda_j`` completions per unit of time;
for one total rate ``lambda`` and shares ``p_j``: ``lambda* = M / E[A]`` requests per step in
the step model (:func:`fluid_benchmark`).

What it bounds, precisely: the long-run **throughput** (completions per unit of time)
of any policy under a stationary arrival process with that mix; above ``lambda*`` the
queue grows without bound whatever the policy, below it the paper's WAIT / Nested
WAIT approach the fluid equilibrium (heavy traffic). It is not a bound on one
instance's total latency. The finite-instance statement behind it, valid for every
feasible schedule: the requests completed by step ``T`` satisfy
``sum A_i <= M T`` (their memory areas lie in steps ``1 .. T``, each step holding at most
``M``); ``lpsched.models.combinatorial``'s area bound is the latency bound built on it.

For an instance, :func:`fluid_benchmark` takes the empirical rate ``n / (a_max - a_min + 1)``
(arrivals per step over the arrival span) and the instance's mix
(:func:`instance_mix`), and reports the load ``rho = lambda E[A] / M``; ``rho > 1`` means
the instance is overloaded in the fluid sense (its backlog grows over the arrival span
under any policy).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from lpsched.instance import Instance

__all__ = ["FluidBenchmark", "FluidEquilibrium", "areas", "fluid_benchmark", "fluid_equilibrium",
           "instance_mix"]


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


@dataclass(frozen=True)
class FluidEquilibrium:
    """The fluid equilibrium of a multi-type arrival process (Ao et al. §3; module
    docstring): type ``j`` (prefill ``s_j``, decode ``o_j``) arrives at rate ``lambda_j``.

    Attributes
    ----------
    stage_mass
        ``n_j = lambda_j tau``: requests of type ``j`` in each of its ``o_j`` decode
        stages (a float array aligned with the types).
    iteration
        ``tau``; ``inf`` when the time constraint binds (no equilibrium).
    batch, memory
        ``B = sum_j n_j o_j`` running requests, ``K = sum_j n_j A_j`` KV tokens.
    throughput
        Completions per unit of time, ``sum_j lambda_j`` when stable, else the most the
        mix sustains, ``theta* sum_j lambda_j``.
    max_scale
        ``theta*``: the largest factor by which every rate can be multiplied and the
        equilibrium still exists with ``K <= M``.
    stable
        ``max_scale >= 1``.
    """

    stage_mass: np.ndarray
    iteration: float
    batch: float
    memory: float
    throughput: float
    max_scale: float
    stable: bool


def areas(prefill: np.ndarray, decode: np.ndarray) -> np.ndarray:
    """Memory areas ``A = s o + o (o + 1) / 2`` (token-steps of one request in our step
    model: it holds ``s + k`` tokens in its ``k``-th decode step, ``k = 1 .. o``)."""
    s = np.asarray(prefill, dtype=np.int64)
    o = np.asarray(decode, dtype=np.int64)
    return s * o + o * (o + 1) // 2


def instance_mix(instance: Instance, decode: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The request types of ``instance`` and their shares: distinct pairs ``(s_j, o_j)``
    (``decode`` replaces the true lengths, e.g. by predictions), sorted, and
    ``p_j = (requests of type j) / n``. The rates ``lambda_j = lambda p_j`` follow from
    any total rate ``lambda``.

    >>> from lpsched.instance import Instance
    >>> s, o, p = instance_mix(Instance.from_arrays(50, [2, 2, 3], [4, 4, 1], [0, 1, 2]))
    >>> s.tolist(), o.tolist(), p.tolist()
    ([2, 3], [4, 1], [0.6666666666666666, 0.3333333333333333])
    """
    o_col = instance.decode if decode is None else np.asarray(decode, dtype=np.int64)
    pairs = np.stack([instance.prefill.astype(np.int64), o_col.astype(np.int64)], axis=1)
    uniq, counts = np.unique(pairs, axis=0, return_counts=True)
    return uniq[:, 0].copy(), uniq[:, 1].copy(), counts / counts.sum()


def fluid_equilibrium(prefill, decode, rates, memory: float,
                      iteration: tuple[float, float, float] = (1.0, 0.0, 0.0)) -> FluidEquilibrium:
    """The fluid equilibrium of types ``(s_j, o_j)`` arriving at ``rates`` ``lambda_j``
    with iteration time ``tau = d_0 + d_1 B + d_2 K`` and KV budget ``M`` (module
    docstring): ``tau = d_0 / (1 - d_1 sum lambda_j o_j - d_2 sum lambda_j A_j)``,
    ``n_j = lambda_j tau``, ``theta* = M / (d_0 sum lambda A + M (d_1 sum lambda o + d_2 sum
    lambda A))``.

    >>> eq = fluid_equilibrium([2, 3], [4, 1], [0.2, 0.1], 100)   # A = 18, 4
    >>> eq.stage_mass.tolist(), eq.batch, eq.memory, round(eq.max_scale, 4)
    ([0.2, 0.1], 0.9, 4.0, 25.0)
    """
    d0, d1, d2 = (float(x) for x in iteration)
    if not (d0 > 0 and d1 >= 0 and d2 >= 0):
        raise ValueError(f"iteration time needs d_0 > 0 and d_1, d_2 >= 0, got {iteration!r}")
    lam = np.asarray(rates, dtype=np.float64)
    if lam.ndim != 1 or not np.all(np.isfinite(lam)) or np.any(lam < 0):
        raise ValueError(f"rates must be finite numbers >= 0, got {rates!r}")
    o = np.asarray(decode, dtype=np.float64)
    a = areas(prefill, decode).astype(np.float64)
    lo, la = float(lam @ o), float(lam @ a)
    denom = 1.0 - d1 * lo - d2 * la
    tau = d0 / denom if denom > 0 else float("inf")
    load = d0 * la + float(memory) * (d1 * lo + d2 * la)
    theta = float(memory) / load if load > 0 else float("inf")
    total = float(lam.sum())
    mass = lam * tau if np.isfinite(tau) else np.full(len(lam), np.inf)
    return FluidEquilibrium(
        stage_mass=mass, iteration=tau, batch=lo * tau, memory=la * tau,
        throughput=total * min(1.0, theta), max_scale=theta, stable=bool(theta >= 1.0))


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
