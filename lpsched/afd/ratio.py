"""Closed-form and searched optimal A/F ratios of an rA-1F bundle.

Seed model (Song et al., *Theoretically Optimal Attention/FFN Ratios in
Disaggregated LLM Serving*; docs/design.md section 3).  With pipelined stages a decode
step of the bundle lasts

    tau(r) = max(t_A, t_C, t_F(r B)),  t_A = a_A T_bar + b_A,  t_C = a_C B + b_C,
    t_F(N) = a_F N + b_F,

and the throughput per instance (``r`` attention + 1 FFN devices) is
``Thr(r) = r B / ((r + 1) tau(r))``.  ``Thr`` is increasing while the FFN is not the
bottleneck (``r <= r_0 = max(r_A, r_C)``); on the FFN branch
``d/dr [r / ((r+1)(a r + b))] ∝ b - a r^2`` (``a = a_F B``, ``b = b_F``), so it peaks
at ``r_peak = sqrt(b_F / (a_F B))``.  Hence ``Thr`` is unimodal with maximiser

    r* = max(r_A, r_C, r_peak),   r_A = (t_A - b_F)/(a_F B),  r_C = (t_C - b_F)/(a_F B),

and the best integer ratio is ``floor(r*)`` or ``ceil(r*)`` (at least 1).  The term that
attains the max names the regime: attention-bound (``r_A``), communication-bound
(``r_C``) or FFN-bound (``r_peak``: the FFN's fixed cost is worth amortising beyond
the point where it becomes the bottleneck).

Beyond the seed model:

* barrier-aware: the FFN waits for the slowest of ``r`` attention instances, whose
  token loads are approximately independent Gaussians ``N(B theta, B Var(L))``
  (:class:`~lpsched.afd.workload.LoadStats`); as ``t_A`` is increasing in ``T``,
  ``E[max_i t_A(T_i)] = E[t_A(M_r)]`` with ``M_r`` the maximum of ``r`` Gaussians,
  computed by quadrature against the density ``r phi(z) Phi(z)^(r-1)`` (valid for
  real ``r``).  Then ``tau`` depends on ``r`` through the attention term too and the
  optimum is found by search;
* any fitted model (roofline ``max(b, a x)`` kernels), where no closed form exists:
  the same throughput maximised by search over integer ``r`` (and a fine grid of real
  ``r`` for the continuous optimum).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from scipy.integrate import trapezoid
from scipy.stats import norm

from lpsched.afd.timing import StepTimeModel
from lpsched.afd.workload import LoadStats

__all__ = ["SeedCoefficients", "ClosedForm", "closed_form", "seed_throughput",
           "brute_force_integer", "expected_max_normal", "barrier_attention_time", "expected_max",
           "model_throughput", "search_ratio", "size_bundle"]

_Z = np.linspace(-9.0, 9.0, 3601)
_PHI = norm.pdf(_Z)
_CDF = norm.cdf(_Z)


@dataclass(frozen=True)
class SeedCoefficients:
    """Linear stage-time coefficients (any consistent time unit)."""

    a_A: float
    b_A: float
    a_C: float
    b_C: float
    a_F: float
    b_F: float

    def __post_init__(self) -> None:
        if not self.a_F > 0:
            raise ValueError(f"a_F must be > 0 for an optimal ratio to exist, got {self.a_F}")
        if self.b_F < 0:
            raise ValueError(f"b_F must be >= 0, got {self.b_F}")

    @classmethod
    def from_dict(cls, d: dict) -> SeedCoefficients:
        return cls(*(float(d[k]) for k in ("a_A", "b_A", "a_C", "b_C", "a_F", "b_F")))

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("a_A", "b_A", "a_C", "b_C", "a_F", "b_F")}


def seed_tau(c: SeedCoefficients, r, B: float, T_bar: float):
    r = np.asarray(r, dtype=float)
    return np.maximum.reduce([np.full(r.shape, c.a_A * T_bar + c.b_A),
                              np.full(r.shape, c.a_C * B + c.b_C), c.a_F * r * B + c.b_F])


def seed_throughput(c: SeedCoefficients, r, B: float, T_bar: float):
    """``Thr(r) = r B / ((r+1) tau(r))``: tokens per time unit per device."""
    r = np.asarray(r, dtype=float)
    return r * B / ((r + 1) * seed_tau(c, r, B, T_bar))


@dataclass(frozen=True)
class ClosedForm:
    r_A: float
    r_C: float
    r_peak: float
    r_star: float
    r_int: int
    regime: str
    tau: float  # step time at r_int
    throughput: float  # per instance at r_int (tokens per time unit)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _best_integer(thr, r_star: float) -> int:
    lo = max(1, math.floor(r_star))
    cands = sorted({lo, max(1, math.ceil(r_star))})
    vals = [float(thr(r)) for r in cands]
    return cands[int(np.argmax(vals))]  # first max: the smaller r on ties


def closed_form(c: SeedCoefficients, B: float, T_bar: float) -> ClosedForm:
    """``r* = max(r_A, r_C, r_peak)`` and the best integer ratio of the seed model."""
    if B <= 0:
        raise ValueError(f"batch size B must be > 0, got {B}")
    if T_bar < 0:
        raise ValueError(f"T_bar must be >= 0, got {T_bar}")
    tA = c.a_A * T_bar + c.b_A
    tC = c.a_C * B + c.b_C
    r_A = (tA - c.b_F) / (c.a_F * B)
    r_C = (tC - c.b_F) / (c.a_F * B)
    r_peak = math.sqrt(c.b_F / (c.a_F * B))
    terms = {"attention-bound": r_A, "communication-bound": r_C, "FFN-bound": r_peak}
    regime = max(terms, key=lambda k: terms[k])
    r_star = terms[regime]
    r_int = _best_integer(lambda r: seed_throughput(c, r, B, T_bar), r_star)
    tau = float(seed_tau(c, r_int, B, T_bar))
    return ClosedForm(r_A, r_C, r_peak, r_star, r_int, regime, tau,
                      float(seed_throughput(c, r_int, B, T_bar)))


def brute_force_integer(thr, r_max: int) -> int:
    """The integer ``r`` in ``1..r_max`` maximising ``thr(r)`` (smallest on ties);
    ``thr`` may be vectorised (called once with all ``r``) or scalar."""
    rs = np.arange(1, r_max + 1)
    try:
        vals = np.asarray(thr(rs), dtype=float)
        if vals.shape != rs.shape:
            raise TypeError
    except (TypeError, ValueError):
        vals = np.array([float(thr(int(r))) for r in rs])
    return int(rs[int(np.argmax(vals))])


def expected_max_normal(r: float) -> float:
    """``E[max of r iid N(0,1)]`` (real ``r >= 1``; 0 for r = 1)."""
    if r < 1:
        raise ValueError("r must be >= 1")
    dens = r * _PHI * _CDF ** (r - 1)
    return float(trapezoid(_Z * dens, _Z))


class AttentionTimes(Protocol):
    """What :func:`barrier_attention_time` reads of a step-time model: a
    :class:`~lpsched.afd.timing.StepTimeModel` or an xA-yF
    :class:`~lpsched.afd.topology.BundleModel`."""

    def t_A(self, T: Any, B: Any) -> np.ndarray: ...


def barrier_attention_time(model: AttentionTimes, B: int, stats: LoadStats, r: float,
                           T_bar: float | None = None) -> float:
    """``E[max_i t_A(T_i, B)]`` over ``r`` instances with Gaussian loads
    ``T_i ~ N(T_bar, B Var(L))`` (``T_bar = B theta`` by default), truncated at 0."""
    mu, sd = stats.instance_load(B)
    if T_bar is not None:
        mu = T_bar
    return expected_max(lambda T: model.t_A(T, B), mu, sd, r)


def expected_max(fn, mu: float, sd: float, n: float) -> float:
    """``E[fn(M_n)]`` with ``M_n`` the maximum of ``n`` iid ``N(mu, sd^2)`` variables
    truncated at 0, for a non-decreasing vectorised ``fn`` (then ``max_i fn(X_i) =
    fn(max_i X_i)``).  Quadrature against the density ``n phi(z) Phi(z)^(n-1)`` of the
    maximum in standard units on ``z in [-9, 9]`` (valid for real ``n >= 1``).  Used for
    the barrier over attention instances and over the FFN devices of a randomly routed
    expert-parallel stage (:mod:`lpsched.afd.topology`)."""
    dens = n * _PHI * _CDF ** (n - 1)
    return float(trapezoid(fn(np.maximum(mu + sd * _Z, 0.0)) * dens, _Z))


def model_throughput(model: StepTimeModel, r, B: int, T_bar: float,
                     stats: LoadStats | None = None) -> np.ndarray:
    """Per-instance throughput (tokens per ms-per-layer) of any fitted model:
    ``r B / ((r+1) max(t_A, t_C(B), t_F(rB)))`` with ``t_A`` at the mean load, or the
    barrier-aware expected maximum when ``stats`` is given."""
    rr = np.atleast_1d(np.asarray(r, dtype=float))
    if stats is None:
        tA = np.full(rr.shape, float(model.t_A(T_bar, B)))
    else:
        tA = np.array([barrier_attention_time(model, B, stats, x, T_bar) for x in rr])
    tau = np.maximum.reduce([tA, np.full(rr.shape, float(model.t_C(B))), model.t_F(rr * B)])
    out = rr * B / ((rr + 1) * tau)
    return out if np.ndim(r) else out[0]


@dataclass(frozen=True)
class SearchResult:
    r_best: int
    r_continuous: float
    throughput: float
    curve: dict = field(default_factory=dict)  # r -> throughput


def search_ratio(model: StepTimeModel, B: int, T_bar: float, stats: LoadStats | None = None,
                 r_max: int = 64) -> SearchResult:
    """Best integer ``r`` in ``1..r_max`` (and the continuous maximiser on a 0.01 grid)
    of :func:`model_throughput`."""
    rs = np.arange(1, r_max + 1)
    thr = model_throughput(model, rs, B, T_bar, stats)
    k = int(np.argmax(thr))
    grid = np.arange(1.0, r_max + 1e-9, 0.01)
    if stats is None:
        gthr = model_throughput(model, grid, B, T_bar)
    else:  # the barrier term is smooth in r: interpolate it from a coarse grid
        coarse = np.unique(np.concatenate([np.arange(1.0, r_max + 1e-9, 0.25), [float(r_max)]]))
        tA = np.interp(grid, coarse,
                       [barrier_attention_time(model, B, stats, x, T_bar) for x in coarse])
        tau = np.maximum.reduce([tA, np.full(grid.shape, float(model.t_C(B))),
                                 model.t_F(grid * B)])
        gthr = grid * B / ((grid + 1) * tau)
    return SearchResult(int(rs[k]), float(grid[int(np.argmax(gthr))]), float(thr[k]),
                        {int(r): float(v) for r, v in zip(rs, thr)})


def size_bundle(model: StepTimeModel, workload, B: int = 256, horizon: int | None = None,
                r_max: int = 64) -> dict:
    """Everything ``lpsched afd size`` reports: the seed closed form on the model's
    linear coefficients, the barrier-aware search, and the search on the full fitted
    model (roofline if chosen).  Throughputs are converted to tokens/s per device."""
    if B < 1:
        raise ValueError(f"batch size B must be >= 1, got {B}")
    stats = workload.stats()
    T_bar = workload.T_bar(B, horizon)
    coefs = model.coefficients(B)
    c = SeedCoefficients.from_dict(coefs)
    cf = closed_form(c, B, T_bar)
    per_s = 1e3 / model.n_layers  # tokens per (ms per layer) -> tokens/s
    barrier = search_ratio(model, B, T_bar, stats, r_max)
    plain = search_ratio(model, B, T_bar, None, r_max)
    return {
        "B": B, "T_bar": T_bar, "theta": stats.theta, "theta_std": stats.std,
        "horizon": horizon, "workload": workload.describe(),
        "r_star": cf.r_star, "r_int": cf.r_int, "regime": cf.regime,
        "r_A": cf.r_A, "r_C": cf.r_C, "r_peak": cf.r_peak,
        "throughput_per_instance": cf.throughput * per_s,
        "step_ms_per_layer": cf.tau,
        "coefficients": coefs,
        "r_max": r_max,
        "barrier": {"r_star": barrier.r_continuous, "r_int": barrier.r_best,
                    "at_r_max": barrier.r_best == r_max,
                    "throughput_per_instance": barrier.throughput * per_s,
                    "expected_max_z": expected_max_normal(max(1, barrier.r_best))},
        "model_search": {"kind": model.kind, "r_star": plain.r_continuous,
                         "r_int": plain.r_best, "at_r_max": plain.r_best == r_max,
                         "throughput_per_instance": plain.throughput * per_s},
        "step_model": model.describe(),
        "throughput_unit": "tokens/s per device",
    }
