"""Request-length workloads for AFD sizing and the load statistics the theory needs.

A workload is a joint distribution of prefill length ``P >= 0`` and decode length
``D >= 1`` (integers).  Each attention slot serves one request at a time and is
replenished at once when it finishes (continuous replenishment), so the slot is a
renewal process.  Convention used everywhere in :mod:`lpsched.afd`: a request that
starts in a slot at step ``s`` occupies it during steps ``s, ..., s+D-1`` and holds
``P + (t - s)`` KV tokens during step ``t`` (its prompt plus the tokens decoded so
far).  Over its life it contributes ``sum_{j=0}^{D-1} (P+j) = D*P + D(D-1)/2``
token-steps.

Statistics (Song et al., *Theoretically Optimal Attention/FFN Ratios in
Disaggregated LLM Serving*, renewal-reward argument):

* steady-state mean load per slot (renewal-reward theorem)
  ``theta = E[D*P + D(D-1)/2] / E[D]``;
* its variance ``Var(L) = E[sum_{j<D} (P+j)^2] / E[D] - theta^2`` with
  ``sum_{j<D} (P+j)^2 = D P^2 + P D(D-1) + (D-1) D (2D-1) / 6``: the load of a slot
  observed at a random step (length-biased request, uniform age);
* the finite-horizon mean ``T_bar(H)`` from a fresh start (all slots start a new
  request at step 0), computed exactly from the discrete renewal equation.

For geometric ``D`` with mean ``mu_D`` independent of ``P``,
``theta = mu_P + mu_D - 1`` (the seed model's ``T_bar -> B(mu_P + mu_D)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lpsched.traces import read_trace_columns

__all__ = [
    "Marginal", "Fixed", "Geometric", "UniformInt", "LogNormalInt", "EmpiricalMarginal",
    "Workload", "IndependentWorkload", "JointWorkload", "LoadStats",
    "geometric_workload", "paper_base_workload", "trace_workload", "bundled_trace_workload",
    "read_trace_lengths", "TRACE_PROFILES", "load_stats",
]


# --------------------------------------------------------------------------- marginals


class Marginal:
    """A distribution over non-negative integers with exact raw moments."""

    name: str = "marginal"

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def moment(self, k: int) -> float:  # pragma: no cover
        """``E[X^k]`` for k = 0..4."""
        raise NotImplementedError

    def support(self, tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        """Values and probabilities (tail mass below ``tol`` dropped and renormalised)."""
        raise NotImplementedError

    @property
    def mean(self) -> float:
        return self.moment(1)

    def describe(self) -> dict:
        return {"kind": self.name, "mean": self.mean}


@dataclass(frozen=True)
class Fixed(Marginal):
    value: int
    name = "fixed"

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError(f"fixed length must be >= 0, got {self.value}")

    def sample(self, n, rng):
        return np.full(n, int(self.value), dtype=np.int64)

    def moment(self, k):
        return float(self.value) ** k

    def support(self, tol=1e-12):
        return np.array([self.value], dtype=np.int64), np.array([1.0])


@dataclass(frozen=True)
class Geometric(Marginal):
    """Geometric on ``{low, low+1, ...}`` with the given mean (``low`` = 1 for decode)."""

    mean_value: float
    low: int = 1
    name = "geometric"

    def __post_init__(self) -> None:
        if not self.mean_value >= self.low + 0.0 or not np.isfinite(self.mean_value):
            raise ValueError(f"geometric mean must be >= {self.low}, got {self.mean_value}")

    @property
    def p(self) -> float:
        return 1.0 / (self.mean_value - self.low + 1.0)

    def sample(self, n, rng):
        return rng.geometric(self.p, size=n).astype(np.int64) + (self.low - 1)

    def moment(self, k):
        # moments of G on {1,2,...}: E[G]=1/p, E[G^2]=(2-p)/p^2, E[G^3]=(6-6p+p^2)/p^3,
        # E[G^4]=(24-36p+14p^2-p^3)/p^4; then shift by low-1 binomially.
        p = self.p
        g = [1.0, 1 / p, (2 - p) / p**2, (6 - 6 * p + p * p) / p**3,
             (24 - 36 * p + 14 * p * p - p**3) / p**4]
        c = float(self.low - 1)
        from math import comb
        return float(sum(comb(k, j) * g[j] * c ** (k - j) for j in range(k + 1)))

    def support(self, tol=1e-12):
        p = self.p
        kmax = int(np.ceil(np.log(tol) / np.log1p(-p))) + 1 if p < 1 else 1
        x = np.arange(1, kmax + 1)
        pr = p * (1 - p) ** (x - 1)
        return (x + self.low - 1).astype(np.int64), pr / pr.sum()

    def describe(self):
        return {"kind": self.name, "mean": self.mean_value, "low": self.low}


def _moments_from(values: np.ndarray, probs: np.ndarray, k: int) -> float:
    return float(np.dot(probs, values.astype(float) ** k))


@dataclass(frozen=True)
class UniformInt(Marginal):
    low: int
    high: int  # inclusive
    name = "uniform"

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.high:
            raise ValueError(f"uniform needs 0 <= low <= high, got {self.low}..{self.high}")

    def sample(self, n, rng):
        return rng.integers(self.low, self.high + 1, size=n, dtype=np.int64)

    def support(self, tol=1e-12):
        x = np.arange(self.low, self.high + 1, dtype=np.int64)
        return x, np.full(x.size, 1.0 / x.size)

    def moment(self, k):
        return _moments_from(*self.support(), k)

    def describe(self):
        return {"kind": self.name, "low": self.low, "high": self.high, "mean": self.mean}


class EmpiricalMarginal(Marginal):
    """Uniform over a finite list of values (a sample or a quantile table)."""

    name = "empirical"

    def __init__(self, values) -> None:
        v = np.asarray(values, dtype=np.int64).ravel()
        if v.size == 0 or (v < 0).any():
            raise ValueError("empirical lengths must be a non-empty list of integers >= 0")
        self.values = v

    def sample(self, n, rng):
        return self.values[rng.integers(0, self.values.size, size=n)]

    def support(self, tol=1e-12):
        x, c = np.unique(self.values, return_counts=True)
        return x, c / c.sum()

    def moment(self, k):
        return float(np.mean(self.values.astype(float) ** k))


class LogNormalInt(EmpiricalMarginal):
    """Rounded log-normal with the given mean and coefficient of variation, represented
    exactly by ``q`` equal-probability quantile points (so moments are exact for it)."""

    name = "lognormal"

    def __init__(self, mean: float, cv: float, low: int = 1, q: int = 2000) -> None:
        from scipy.stats import norm
        if mean <= 0 or cv <= 0:
            raise ValueError("lognormal needs mean > 0 and cv > 0")
        s2 = np.log1p(cv * cv)
        mu = np.log(mean) - s2 / 2
        u = (np.arange(q) + 0.5) / q
        vals = np.maximum(low, np.rint(np.exp(mu + np.sqrt(s2) * norm.ppf(u))))
        super().__init__(vals)
        self.mean_target, self.cv = mean, cv

    def describe(self):
        return {"kind": self.name, "mean": self.mean, "cv": self.cv}


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class LoadStats:
    """Per-slot KV-token load statistics (see module docstring)."""

    mean_prefill: float
    mean_decode: float
    theta: float  # steady-state mean load per slot
    var: float  # steady-state variance of the load of one slot

    @property
    def std(self) -> float:
        return float(np.sqrt(max(self.var, 0.0)))

    def instance_load(self, batch: int) -> tuple[float, float]:
        """Mean and std of the token load ``T`` of one attention instance with ``batch``
        independent slots (sum of ``batch`` stationary slot loads)."""
        return batch * self.theta, float(np.sqrt(batch * max(self.var, 0.0)))

    def to_dict(self) -> dict:
        return {"mean_prefill": self.mean_prefill, "mean_decode": self.mean_decode,
                "theta": self.theta, "var": self.var, "std": self.std}


def load_stats(e: dict[str, float]) -> LoadStats:
    """LoadStats from the mixed moments ``E[P^a D^b]`` keyed ``"a,b"``."""
    ed = e["0,1"]
    if not ed >= 1:
        raise ValueError("E[D] must be >= 1")
    # E[D P + D(D-1)/2]
    num1 = e["1,1"] + (e["0,2"] - e["0,1"]) / 2
    theta = num1 / ed
    # E[D P^2 + P D(D-1) + (D-1)D(2D-1)/6];  (D-1)D(2D-1) = 2D^3 - 3D^2 + D
    num2 = e["2,1"] + e["1,2"] - e["1,1"] + (2 * e["0,3"] - 3 * e["0,2"] + e["0,1"]) / 6
    var = num2 / ed - theta * theta
    return LoadStats(e["1,0"], ed, float(theta), float(var))


_KEYS = ("1,0", "0,1", "1,1", "0,2", "2,1", "1,2", "0,3")


class Workload:
    """Joint (prefill, decode) distribution.  Subclasses: :class:`IndependentWorkload`,
    :class:`JointWorkload`."""

    name: str = "workload"

    def sample(self, n: int, rng: np.random.Generator | int | None = None
               ) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def mixed_moment(self, a: int, b: int) -> float:  # pragma: no cover
        """``E[P^a D^b]``."""
        raise NotImplementedError

    def survival_terms(self, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``f[k] = P(D=k)``, ``S[j] = P(D>j)`` and ``EPS[j] = E[P 1{D>j}]`` for
        ``k, j = 0..horizon`` (used by :meth:`finite_horizon_load`)."""  # pragma: no cover
        raise NotImplementedError

    def stats(self) -> LoadStats:
        """Steady-state load statistics (exact for the distribution)."""
        return load_stats({k: self.mixed_moment(*map(int, k.split(","))) for k in _KEYS})

    @property
    def theta(self) -> float:
        return self.stats().theta

    def finite_horizon_load(self, horizon: int) -> np.ndarray:
        """Exact mean load per slot ``E[L(t)]`` for ``t = 0..horizon-1`` from a fresh
        start (every slot starts a new request at step 0).

        Renewal equation: ``u(0) = 1``, ``u(t) = sum_{k=1}^{t} u(t-k) P(D=k)`` is the
        probability that a new request starts at step ``t``; a request started at
        ``s`` contributes ``g(t-s) = E[P 1{D>t-s}] + (t-s) P(D>t-s)``, so
        ``E[L(t)] = sum_{s<=t} u(s) g(t-s)``.
        """
        if horizon < 1:
            raise ValueError("horizon must be >= 1")
        f, surv, eps = self.survival_terms(horizon)
        u = np.zeros(horizon)
        u[0] = 1.0
        kmax = int(np.max(np.nonzero(f)[0])) if f.any() else 0
        fr = f[1:kmax + 1][::-1]  # f[kmax], ..., f[1]
        for t in range(1, horizon):
            lo = max(0, t - kmax)
            u[t] = np.dot(u[lo:t], fr[kmax - (t - lo):])
        j = np.arange(horizon)
        g = eps[:horizon] + j * surv[:horizon]
        from scipy.signal import fftconvolve
        return np.maximum(fftconvolve(u, g)[:horizon], 0.0)

    def T_bar(self, batch: int, horizon: int | None = None) -> float:
        """Mean token load of an attention instance with ``batch`` slots: steady state
        ``batch * theta`` (``horizon=None``) or averaged over the first ``horizon`` steps
        from a fresh start."""
        if batch < 1:
            raise ValueError(f"batch size must be >= 1, got {batch}")
        if horizon is None:
            return batch * self.theta
        return float(batch * self.finite_horizon_load(horizon).mean())

    def describe(self) -> dict:  # pragma: no cover
        return {"name": self.name}


def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


class IndependentWorkload(Workload):
    """``P`` and ``D`` independent with the given marginals."""

    def __init__(self, prefill: Marginal, decode: Marginal, name: str = "independent") -> None:
        dv, _ = decode.support()
        if dv.min() < 1:
            raise ValueError("decode lengths must be >= 1")
        self.prefill, self.decode, self.name = prefill, decode, name

    def sample(self, n, rng=None):
        g = _rng(rng)
        return self.prefill.sample(n, g), self.decode.sample(n, g)

    def mixed_moment(self, a, b):
        return self.prefill.moment(a) * self.decode.moment(b)

    def survival_terms(self, horizon):
        x, p = self.decode.support()
        f = np.zeros(horizon + 1)
        keep = x <= horizon
        np.add.at(f, x[keep], p[keep])
        surv = 1.0 - np.cumsum(f)  # P(D > j), tail beyond horizon included
        return f, surv, self.prefill.mean * surv

    def describe(self):
        return {"name": self.name, "prefill": self.prefill.describe(),
                "decode": self.decode.describe(), **self.stats().to_dict()}


class JointWorkload(Workload):
    """The exact empirical joint distribution of ``(prefill[i], decode[i])`` pairs
    (a trace, or a large sample of a profile): moments, survival terms and sampling
    all use the pairs themselves, so the prefill-decode dependence is kept."""

    def __init__(self, prefill, decode, name: str = "empirical") -> None:
        p = np.asarray(prefill, dtype=np.int64).ravel()
        d = np.asarray(decode, dtype=np.int64).ravel()
        if p.shape != d.shape or p.size == 0:
            raise ValueError("prefill and decode must be equal-length non-empty arrays")
        if (p < 0).any() or (d < 1).any():
            raise ValueError("need prefill >= 0 and decode >= 1 for every request")
        self.P, self.D, self.name = p, d, name

    @classmethod
    def from_pairs(cls, prefill, decode, name: str = "empirical") -> JointWorkload:
        return cls(prefill, decode, name)

    def sample(self, n, rng=None):
        idx = _rng(rng).integers(0, self.P.size, size=n)
        return self.P[idx], self.D[idx]

    def mixed_moment(self, a, b):
        return float(np.mean(self.P.astype(float) ** a * self.D.astype(float) ** b))

    def survival_terms(self, horizon):
        keep = self.D <= horizon
        w = 1.0 / self.D.size
        f = np.bincount(self.D[keep], minlength=horizon + 1)[:horizon + 1] * w
        eps_f = np.bincount(self.D[keep], weights=self.P[keep].astype(float),
                            minlength=horizon + 1)[:horizon + 1] * w  # E[P 1{D=k}]
        surv = np.maximum(1.0 - np.cumsum(f), 0.0)
        eps = np.maximum(self.mixed_moment(1, 0) - np.cumsum(eps_f), 0.0)
        return f, surv, eps

    def describe(self):
        return {"name": self.name, "requests": int(self.P.size), **self.stats().to_dict()}


# --------------------------------------------------------------------------- constructors


def geometric_workload(mean_prefill: float = 100.0, mean_decode: float = 500.0,
                       prefill: str = "fixed") -> IndependentWorkload:
    """Geometric decode lengths (the seed model).  ``prefill``: ``fixed`` (every prompt
    has ``mean_prefill`` tokens, rounded) or ``geometric`` (on ``{0, 1, ...}``)."""
    if mean_prefill < 0:
        raise ValueError(f"mean prefill must be >= 0, got {mean_prefill}")
    if prefill == "fixed":
        pm: Marginal = Fixed(int(round(mean_prefill)))
    elif prefill == "geometric":
        pm = Geometric(mean_prefill, low=0)
    else:
        raise ValueError(f"prefill distribution must be 'fixed' or 'geometric', got {prefill!r}")
    return IndependentWorkload(pm, Geometric(mean_decode, low=1),
                               name=f"geo-P{mean_prefill:g}-D{mean_decode:g}")


def paper_base_workload() -> IndependentWorkload:
    """The seed paper's base case: mean prefill 100, geometric decode with mean 500."""
    return geometric_workload(100, 500)


def read_trace_lengths(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(prefill, decode)`` columns of a trace CSV, read and checked by the package's one
    trace reader (:func:`lpsched.traces.read_trace_columns`)."""
    cols = read_trace_columns(path, times=False)
    return cols.prefill, cols.decode


def trace_workload(path: str | Path, name: str | None = None) -> JointWorkload:
    """Exact empirical joint workload of a trace CSV (read from a path you give)."""
    P, D = read_trace_lengths(path)
    return JointWorkload.from_pairs(P, D, name=name or Path(path).stem)


#: Aliases of the bundled trace profiles of :mod:`lpsched.workloads`.
TRACE_PROFILES = {"azure-conv": "azure_conv_2023", "arxiv-sum": "arxiv_summarization",
                  "azure_conv_2023": "azure_conv_2023",
                  "arxiv_summarization": "arxiv_summarization"}


def bundled_trace_workload(name: str, n: int = 200_000, seed: int = 0) -> JointWorkload:
    """A real-trace workload from the shipped profile of :mod:`lpsched.workloads`
    (marginal quantile tables + checkerboard copula, so the prefill-decode dependence
    that ``theta`` needs is kept: independent marginals would put arXiv's theta at
    3216 tokens instead of 2420).  Represented exactly by a fixed-seed sample of ``n``
    pairs from the profile, so its moments carry a small sampling error (theta within
    about 1% of the trace's for the default ``n``)."""
    if name not in TRACE_PROFILES and not str(name).endswith(".json"):
        raise ValueError(f"unknown trace profile {name!r}; available: "
                         f"{', '.join(sorted(set(TRACE_PROFILES)))} or a profile JSON path")
    key = TRACE_PROFILES.get(name, name)
    try:
        from lpsched.workloads import load_profile
    except ImportError:  # pragma: no cover - the profiles module ships with the package
        raise ValueError("trace profiles need lpsched.workloads; or give a trace CSV path") \
            from None
    try:
        prof = load_profile(key)
    except ValueError:
        raise ValueError(f"unknown trace profile {name!r}; available: "
                         f"{', '.join(sorted(set(TRACE_PROFILES)))}") from None
    P, D = prof.sample(n, np.random.default_rng(seed))
    return JointWorkload.from_pairs(P, D, name=key)
