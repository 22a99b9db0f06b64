"""Workload profiles derived from real request traces, and instances sampled from them.

A *workload profile* is a small, shippable summary of a request trace (the
traces themselves are third-party data and are not part of the package). It
holds, for the prefill length ``s`` and decode length ``o`` of a request (and,
when the trace has arrival times, the inter-arrival time in seconds):

* a quantile table ``Q(l)`` at ``levels`` ``l = 0, 0.001, ..., 1`` (1001 levels,
  ``numpy.quantile`` with linear interpolation, so ``Q(0)`` is the trace
  minimum and ``Q(1)`` its maximum);
* summary statistics (count, mean, std, min, max, p50, p90, p99);
* the dependence between ``s`` and ``o`` as an **empirical checkerboard
  copula**: the trace's pseudo-observations ``(u, v) = (rank(s)/n, rank(o)/n)``
  (ordinal ranks, ties broken by a fixed random permutation so every rank bin
  holds ``n/K`` rows) counted on a ``K x K`` grid of rank bins (``K = 50``).

Sampling (:meth:`WorkloadProfile.sample`): pick a grid cell ``(i, j)`` with
probability ``C[i, j] / n``, draw ``u ~ U[i/K, (i+1)/K)`` and
``v ~ U[j/K, (j+1)/K)``, and map them through the marginal quantile tables,
``s = round(Q_s(u))``, ``o = round(Q_o(v))`` (piecewise-linear interpolation
between table levels). Because every rank bin holds the same number of rows,
``u`` and ``v`` are uniform and the marginals follow the tables; the grid keeps
the joint structure at ``1/K`` resolution. This is the checkerboard copula of
Genest & Neslehova, "A primer on copulas for count data" (ASTIN Bull. 37, 2007)
and Cuberos, Masiello & Maume-Deschamps, "Copulas checkerboard approximation"
(2020). It was chosen over a Gaussian copula fitted to Spearman's rho because
on these traces the dependence is not Gaussian: on the Azure conversation trace
Spearman's rho is +0.07 but Pearson's r is -0.11, which a Gaussian copula with
the same Spearman rho turns into +0.06; the checkerboard table reproduces both
(the derivation script checks and records this, see ``dependence`` in the JSON).

Pairs with ``s + o`` above the largest total seen in the trace (the
summarisation trace never exceeds 4096 tokens, its model's context window) are
outside the trace's support: :meth:`WorkloadProfile.sample` keeps such a pair's
decode length and redraws its prefill from the copula column of its decode bin
until it fits (about 1% of draws on ``arxiv_summarization``, almost none on
``azure_conv_2023``). The decode marginal is unchanged; the prefill CDF moves
by less than 0.01 (tested).

Bundled profiles (``lpsched/data/profiles/*.json``, made by
``benchmarks/derive_profiles.py``; :func:`profile_names` lists them):

* ``azure_conv_2023``: Azure LLM inference trace 2023, conversation service
  (19,366 requests), as processed by the Vidur project (MIT licence);
* ``arxiv_summarization``: arXiv long-document summarisation requests
  (28,257 requests), as processed by the Vidur project (MIT licence).

Each JSON file carries its provenance (source file, public origin, licence,
row count, SHA-256 of the source file, date, script).
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from lpsched.errors import InstanceError
from lpsched.instance import DEFAULT_STEP_SECONDS, Instance
from lpsched.limits import path_text, read_json_file
from lpsched.traces import read_trace_columns

__all__ = [
    "FORMAT",
    "WorkloadProfile",
    "derive_profile",
    "load_profile",
    "profile_names",
    "sample_instance",
]

#: Format tag written into every profile JSON.
FORMAT = "lpsched-workload-profile/1"
#: Quantile levels used by the derivation: 0, 0.001, ..., 1.
N_LEVELS = 1001
#: Rank bins per axis of the checkerboard copula.
COPULA_BINS = 50
#: Redraw rounds before giving up on pairs outside the support / budget.
_MAX_REDRAW_ROUNDS = 1000


def _readonly(a: Any, dtype: Any = np.float64) -> np.ndarray:
    arr = np.array(a, dtype=dtype)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class WorkloadProfile:
    """A trace-derived workload profile (immutable; see the module docstring).

    Attributes
    ----------
    name
        Profile name (``"azure_conv_2023"``).
    levels
        Quantile levels, ``0..1`` (read-only float array).
    prefill_quantiles, decode_quantiles
        Token-length quantiles at ``levels``.
    interarrival_quantiles
        Inter-arrival seconds at ``levels``, or None when the trace has no times.
    mean_prefill, mean_decode
        Trace means (tokens).
    provenance
        Where the figures come from (source file, origin, licence, rows, sha256,
        date, script).
    stats
        Summary statistics per quantity (``{"prefill": {...}, "decode": {...},
        "interarrival_seconds": {...}}``).
    copula_counts
        ``K x K`` checkerboard-copula counts (rows: prefill rank bins, columns:
        decode rank bins).
    max_total
        Largest ``s + o`` in the trace; samples above it are redrawn.
    dependence
        Measured correlations of the trace and of a large profile sample.
    """

    name: str
    levels: np.ndarray
    prefill_quantiles: np.ndarray
    decode_quantiles: np.ndarray
    interarrival_quantiles: np.ndarray | None
    mean_prefill: float
    mean_decode: float
    provenance: Mapping[str, Any]
    stats: Mapping[str, Any] = field(default_factory=dict)
    copula_counts: np.ndarray | None = None
    max_total: int | None = None
    dependence: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for attr in ("levels", "prefill_quantiles", "decode_quantiles"):
            arr = np.asarray(getattr(self, attr), dtype=np.float64)
            if arr.shape != (len(self.levels),):
                raise ValueError(f"profile {self.name!r}: {attr} has shape {arr.shape}, "
                                 f"expected ({len(self.levels)},)")
            if np.any(np.diff(arr) < 0):
                raise ValueError(f"profile {self.name!r}: {attr} is not non-decreasing")
            object.__setattr__(self, attr, _readonly(arr))
        if self.levels[0] != 0.0 or self.levels[-1] != 1.0:
            raise ValueError(f"profile {self.name!r}: levels must run from 0 to 1")
        if self.interarrival_quantiles is not None:
            arr = np.asarray(self.interarrival_quantiles, dtype=np.float64)
            if arr.shape != self.levels.shape or np.any(np.diff(arr) < 0) or arr[0] < 0:
                raise ValueError(f"profile {self.name!r}: interarrival_quantiles must be "
                                 "non-negative, non-decreasing and aligned with levels")
            object.__setattr__(self, "interarrival_quantiles", _readonly(arr))
        if self.copula_counts is not None:
            c = np.asarray(self.copula_counts, dtype=np.int64)
            if c.ndim != 2 or c.shape[0] != c.shape[1] or np.any(c < 0) or c.sum() == 0:
                raise ValueError(f"profile {self.name!r}: copula_counts must be a square "
                                 "non-negative count table")
            object.__setattr__(self, "copula_counts", _readonly(c, np.int64))
        if self.decode_quantiles[0] < 1 or self.prefill_quantiles[0] < 0:
            raise ValueError(f"profile {self.name!r}: lengths must be prefill >= 0, decode >= 1")
        object.__setattr__(self, "provenance", dict(self.provenance))
        object.__setattr__(self, "stats", dict(self.stats))
        object.__setattr__(self, "dependence", dict(self.dependence))

    # -- sampling --------------------------------------------------------------------------
    @staticmethod
    def _cells(c: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` cells ``(prefill bin, decode bin)`` drawn from the copula count table ``c``."""
        k = c.shape[0]
        cell = rng.choice(k * k, size=n, p=(c / c.sum()).ravel())
        return np.divmod(cell, k)

    @staticmethod
    def _prefill_in_column(c: np.ndarray, j: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Prefill rank positions ``u`` drawn from the copula table ``c`` conditional on
        decode bins ``j``."""
        k = c.shape[0]
        cum = np.cumsum(c, axis=0)  # per column
        col_tot = cum[-1]
        r = rng.random(j.size) * col_tot[j]
        i = np.empty(j.size, dtype=np.int64)
        for col in np.unique(j):
            sel = np.flatnonzero(j == col)
            i[sel] = np.searchsorted(cum[:, col], r[sel], side="right")
        return (np.minimum(i, k - 1) + rng.random(j.size)) / k

    def _prefill(self, u: np.ndarray) -> np.ndarray:
        return np.rint(np.interp(u, self.levels, self.prefill_quantiles)).astype(np.int64)

    def _decode(self, v: np.ndarray) -> np.ndarray:
        return np.maximum(np.rint(np.interp(v, self.levels, self.decode_quantiles)), 1
                          ).astype(np.int64)

    def sample(self, n: int, rng: np.random.Generator | int | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` (prefill, decode) pairs as int64 arrays (see the module docstring).

        ``rng`` is a :class:`numpy.random.Generator` (or a seed). A pair with
        ``s + o > max_total`` (outside the trace's support) keeps its decode
        length and redraws its prefill from the copula column of that decode
        bin until it fits (the decode marginal is unchanged; this mimics the
        trace, where long outputs come with prompts short enough to fit the
        context window).
        """
        n = _check_count(n)
        rng = np.random.default_rng(rng)
        c = self.copula_counts
        if c is None:  # independence
            return self._prefill(rng.random(n)), self._decode(rng.random(n))
        k = c.shape[0]
        i, j = self._cells(c, n, rng)
        s = self._prefill((i + rng.random(n)) / k)
        o = self._decode((j + rng.random(n)) / k)
        if self.max_total is not None:
            bad = np.flatnonzero(s + o > self.max_total)
            for _ in range(_MAX_REDRAW_ROUNDS):
                if bad.size == 0:
                    break
                s[bad] = self._prefill(self._prefill_in_column(c, j[bad], rng))
                bad = bad[s[bad] + o[bad] > self.max_total]
            else:  # pragma: no cover - needs a corrupt profile
                raise RuntimeError(f"profile {self.name!r}: cannot draw pairs within s+o <= "
                                   f"{self.max_total}")
        return s, o

    def sample_interarrival(self, n: int, rng: np.random.Generator | int | None = None
                            ) -> np.ndarray:
        """Draw ``n`` i.i.d. inter-arrival times (seconds, float64) from the quantile table.

        The draws are independent: the trace's burstiness beyond the marginal
        gap distribution (autocorrelation of gaps) is not reproduced.
        """
        if self.interarrival_quantiles is None:
            raise ValueError(f"profile {self.name!r} has no inter-arrival times (its trace "
                             "has no arrival column); use arrivals='poisson' with rate=...")
        n = _check_count(n, allow_zero=True)
        rng = np.random.default_rng(rng)
        return np.interp(rng.random(n), self.levels, self.interarrival_quantiles)

    @property
    def mean_interarrival(self) -> float | None:
        """Mean inter-arrival time of the trace (seconds), or None."""
        st = self.stats.get("interarrival_seconds")
        return None if not st else float(st["mean"])

    # -- IO --------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "profile") -> WorkloadProfile:
        """Build a profile from its JSON form (the files under ``lpsched/data/profiles``)."""
        if not isinstance(data, Mapping):
            raise InstanceError("not a workload profile (top level must be a JSON object)",
                                source=source)
        if data.get("format") != FORMAT:
            raise ValueError(f"{source}: not a workload profile (format {data.get('format')!r}, "
                             f"expected {FORMAT!r})")
        try:
            ia = data.get("interarrival_seconds")
            dep = data["dependence"]
            return cls(
                name=data["name"],
                levels=data["levels"],
                prefill_quantiles=data["prefill"]["quantiles"],
                decode_quantiles=data["decode"]["quantiles"],
                interarrival_quantiles=None if ia is None else ia["quantiles"],
                mean_prefill=float(data["prefill"]["stats"]["mean"]),
                mean_decode=float(data["decode"]["stats"]["mean"]),
                provenance=data["provenance"],
                stats={k: data[k]["stats"] for k in ("prefill", "decode", "interarrival_seconds")
                       if data.get(k) is not None},
                copula_counts=dep.get("counts"),
                max_total=data.get("support", {}).get("max_total_tokens"),
                dependence={k: v for k, v in dep.items() if k != "counts"},
            )
        except (KeyError, TypeError, AttributeError, OverflowError) as exc:
            raise ValueError(f"{source}: malformed workload profile ({exc!r})") from None


def _mean_gap(profile: WorkloadProfile) -> float:
    """The mean inter-arrival time of a profile that has inter-arrival times."""
    mean = profile.mean_interarrival
    if mean is None:
        raise ValueError(f"profile {profile.name!r}: inter-arrival quantiles without their "
                         "mean (stats 'interarrival_seconds')")
    return mean


def _check_count(n: Any, *, allow_zero: bool = False) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ValueError(f"n must be an integer, got {n!r}")
    if n < (0 if allow_zero else 1):
        raise ValueError(f"n must be >= {0 if allow_zero else 1}, got {n}")
    return int(n)


# ---------------------------------------------------------------------------------------------
# Bundled profiles
# ---------------------------------------------------------------------------------------------


def _profiles_dir() -> Path:
    return Path(str(resources.files("lpsched") / "data" / "profiles"))


def profile_names() -> list[str]:
    """Names of the bundled workload profiles."""
    return sorted(p.stem for p in _profiles_dir().glob("*.json"))


_CACHE: dict[str, WorkloadProfile] = {}


def load_profile(name: str | os.PathLike[str]) -> WorkloadProfile:
    """Load a bundled profile by name (``"azure_conv_2023"``) or a profile JSON file path."""
    key = path_text(name)  # a str or PathLike (UsageError otherwise)
    if key in _CACHE:
        return _CACHE[key]
    path = Path(key)
    if not (path.suffix == ".json" and path.exists()):
        path = _profiles_dir() / f"{key}.json"
        if not path.exists():
            raise ValueError(f"unknown workload profile {key!r}; available: "
                             f"{', '.join(profile_names())}")
    data = read_json_file(path)  # the JSON limits of lpsched.limits; InstanceError (ValueError)
    prof = WorkloadProfile.from_dict(data, source=str(path))
    _CACHE[key] = prof
    return prof


# ---------------------------------------------------------------------------------------------
# Instances sampled from profiles
# ---------------------------------------------------------------------------------------------

ProfileLike = str | WorkloadProfile


def _resolve_mix(profiles: ProfileLike | Sequence[ProfileLike] | Mapping[str, float] | None,
                 mix: Mapping[str, float] | None) -> list[tuple[WorkloadProfile, float]]:
    if mix is not None:
        if not isinstance(mix, Mapping) or not mix:
            raise ValueError("mix must be a non-empty mapping {profile name: weight}")
        if profiles is not None:
            given = [profiles] if isinstance(profiles, (str, WorkloadProfile)) else list(profiles)
            names = {p.name if isinstance(p, WorkloadProfile) else str(p) for p in given}
            if names != set(mix):
                raise ValueError(f"profiles {sorted(names)} do not match the mix keys "
                                 f"{sorted(mix)}; pass one or the other")
            by_name = {p.name: p for p in given if isinstance(p, WorkloadProfile)}
        else:
            by_name = {}
        items = [(by_name.get(k) or load_profile(k), w) for k, w in mix.items()]
    elif isinstance(profiles, Mapping):
        return _resolve_mix(None, profiles)
    elif isinstance(profiles, (str, WorkloadProfile)):
        items = [(profiles if isinstance(profiles, WorkloadProfile) else load_profile(profiles),
                  1.0)]
    elif profiles is None:
        raise ValueError("give a profile name, a list of names, or mix={name: weight}")
    else:
        given = list(profiles)
        if not given:
            raise ValueError("empty list of profiles")
        items = [(p if isinstance(p, WorkloadProfile) else load_profile(p), 1.0) for p in given]
    out = []
    for prof, w in items:
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w <= 0:
            raise ValueError(f"mix weight of {prof.name!r} must be a positive number, got {w!r}")
        out.append((prof, float(w)))
    if len({p.name for p, _ in out}) != len(out):
        raise ValueError("a profile appears twice in the mix")
    return out


def _split_counts(n: int, weights: Sequence[float]) -> list[int]:
    """Largest-remainder split of ``n`` in proportion to ``weights`` (deterministic)."""
    w = np.asarray(weights, dtype=float) / float(np.sum(weights))
    raw = n * w
    base = np.floor(raw).astype(int)
    rest = n - int(base.sum())
    order = np.argsort(-(raw - base), kind="stable")
    base[order[:rest]] += 1
    return base.tolist()


def sample_instance(
    profiles: ProfileLike | Sequence[ProfileLike] | Mapping[str, float] | None,
    n: int,
    memory: int,
    seed: int,
    *,
    arrivals: str = "offline",
    rate: float | None = None,
    step_seconds: float = DEFAULT_STEP_SECONDS,
    mix: Mapping[str, float] | None = None,
    too_large: str = "error",
    name: str | None = None,
) -> Instance:
    """Sample an instance of ``n`` requests with KV budget ``memory`` from workload profiles.

    Parameters
    ----------
    profiles
        A profile (name or :class:`WorkloadProfile`), a list of them (equal
        weights), or a mapping ``{name: weight}``; or None when ``mix`` is given.
    n, memory, seed
        Number of requests, KV budget ``M`` (tokens), seed (same seed, same instance).
    arrivals
        ``"offline"``: all requests arrive at step 0 (a backlog).
        ``"trace-rate"``: i.i.d. inter-arrival seconds from the profile's table
        (for a mix: from the components that have one, chosen in proportion to
        their weights); with ``rate`` (requests/s) the gaps are scaled so their
        expected mean is ``1/rate``, keeping the trace's gap shape.
        ``"poisson"``: exponential gaps with ``rate`` requests/s (default: the
        trace's mean rate, when a component has arrival times).
        Arrival steps are ``floor(t / step_seconds)`` with the first request at 0.
    mix
        ``{profile name: weight}``: request counts are split in proportion to the
        weights (largest remainder, deterministic) and the requests are shuffled,
        e.g. ``{"azure_conv_2023": 0.5, "arxiv_summarization": 0.5}`` for the
        conversation + summarisation backlogs of Jaillet et al. (2025).
    too_large
        What to do with drawn requests that cannot fit (``s + o > memory``):
        ``"error"`` (default) raises :class:`ValueError` naming how many and the
        largest; ``"resample"`` redraws them from the same profile until they fit
        (this truncates the distribution to ``s + o <= M``) and records the count
        in ``metadata["resampled_too_large"]``. Nothing is silently dropped or clamped.
    name
        Instance name (default derived from the profiles, n, M, seed).

    Examples
    --------
    >>> inst = sample_instance("azure_conv_2023", 100, 65536, seed=1)
    >>> inst.n, inst.memory, inst.offline
    (100, 65536, True)
    """
    n = _check_count(n)
    if isinstance(memory, bool) or not isinstance(memory, (int, np.integer)) or memory < 1:
        raise ValueError(f"memory must be a positive integer, got {memory!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    if arrivals not in ("offline", "trace-rate", "poisson"):
        raise ValueError(f"arrivals must be 'offline', 'trace-rate' or 'poisson', got {arrivals!r}")
    if too_large not in ("error", "resample"):
        raise ValueError(f"too_large must be 'error' or 'resample', got {too_large!r}")
    if not (isinstance(step_seconds, (int, float)) and step_seconds > 0):
        raise ValueError(f"step_seconds must be > 0, got {step_seconds!r}")
    if rate is not None and not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate > 0):
        raise ValueError(f"rate must be a positive number of requests per second, got {rate!r}")
    comps = _resolve_mix(profiles, mix)
    memory = int(memory)
    rng = np.random.default_rng(int(seed))
    counts = _split_counts(n, [w for _, w in comps])
    s_parts, o_parts, tags = [], [], []
    resampled = 0
    for k, ((prof, _), cnt) in enumerate(zip(comps, counts)):
        if cnt == 0:
            continue
        s, o = prof.sample(cnt, rng)
        bad = np.flatnonzero(s + o > memory)
        if bad.size and too_large == "error":
            worst = int(np.argmax(s + o))
            raise ValueError(
                f"{bad.size} of {cnt} requests drawn from profile {prof.name!r} cannot fit in "
                f"memory {memory} (s + o > M; largest {s[worst]} + {o[worst]} = "
                f"{s[worst] + o[worst]}); raise the memory or pass too_large='resample' to "
                "redraw them (recorded in the metadata)")
        rounds = 0
        while bad.size:
            resampled += int(bad.size)
            s[bad], o[bad] = prof.sample(int(bad.size), rng)
            bad = bad[s[bad] + o[bad] > memory]
            rounds += 1
            if rounds > _MAX_REDRAW_ROUNDS:
                raise ValueError(f"memory {memory} is too small for profile {prof.name!r}: "
                                 f"requests still do not fit after {_MAX_REDRAW_ROUNDS} redraws")
        s_parts.append(s)
        o_parts.append(o)
        tags.append(np.full(cnt, k))
    s = np.concatenate(s_parts)
    o = np.concatenate(o_parts)
    if len(comps) > 1:
        perm = rng.permutation(n)
        s, o = s[perm], o[perm]

    arr_meta: dict[str, Any] = {"arrivals": arrivals}
    if arrivals == "offline":
        arrival = np.zeros(n, dtype=np.int64)
    else:
        with_ia = [(p, w) for p, w in comps if p.interarrival_quantiles is not None]
        if arrivals == "trace-rate":
            if not with_ia:
                raise ValueError("arrivals='trace-rate' needs a profile with inter-arrival times "
                                 f"(none in {[p.name for p, _ in comps]}); use arrivals='poisson' "
                                 "with rate=...")
            pick = rng.choice(len(with_ia), size=n - 1,
                              p=np.array([w for _, w in with_ia]) / sum(w for _, w in with_ia))
            gaps = np.empty(n - 1)
            for k, (p, _) in enumerate(with_ia):
                sel = np.flatnonzero(pick == k)
                gaps[sel] = p.sample_interarrival(sel.size, rng)
            mean_gap = sum(w * _mean_gap(p) for p, w in with_ia) / sum(w for _, w in with_ia)
            if rate is not None:
                gaps *= (1.0 / rate) / mean_gap
            arr_meta["gap_source"] = [p.name for p, _ in with_ia]
        else:
            if rate is None:
                if not with_ia:
                    raise ValueError("arrivals='poisson' needs rate=... (requests per second): "
                                     "no profile in the mix has arrival times")
                rate = sum(w for _, w in with_ia) / sum(w * _mean_gap(p) for p, w in with_ia)
            gaps = rng.exponential(1.0 / rate, size=n - 1)
        arr_meta["rate_per_s"] = rate
        arr_meta["step_seconds"] = step_seconds
        t = np.concatenate(([0.0], np.cumsum(gaps)))
        arrival = np.floor(t / step_seconds + 1e-9).astype(np.int64)

    names = [p.name for p, _ in comps]
    wsum = sum(w for _, w in comps)
    meta: dict[str, Any] = {
        "source": "lpsched.workloads.sample_instance",
        "profiles": names,
        "mix": {p.name: w / wsum for p, w in comps},
        "counts": {p.name: c for (p, _), c in zip(comps, counts)},
        "n": n, "memory": memory, "seed": int(seed), **arr_meta,
        "too_large": too_large, "resampled_too_large": resampled,
        "profile_sha256": {p.name: p.provenance.get("sha256") for p, _ in comps},
    }
    if name is None:
        tag = "+".join(names)
        name = f"{tag}-n{n}-m{memory}-{arrivals}-s{seed}"
    return Instance.from_arrays(memory, s, o, arrival, name=name, metadata=meta)


# ---------------------------------------------------------------------------------------------
# Derivation from a trace (used by benchmarks/derive_profiles.py)
# ---------------------------------------------------------------------------------------------

_ORIGINS = {
    "azure_conv_2023": {
        "origin": "Azure LLM inference trace 2023, conversation service "
                  "(https://github.com/Azure/AzurePublicDataset, AzureLLMInferenceDataset2023), "
                  "as processed by the Vidur project (https://github.com/microsoft/vidur, "
                  "data/processed_traces)",
        "description": "Short conversations: prompt and output token counts with arrival times",
    },
    "arxiv_summarization": {
        "origin": "arXiv long-document summarisation dataset (Cohan et al. 2018, "
                  "https://huggingface.co/datasets/ccdv/arxiv-summarization) tokenised, "
                  "as processed by the Vidur project (https://github.com/microsoft/vidur, "
                  "data/processed_traces)",
        "description": "Long-document summarisation: prompt and output token counts, "
                       "no arrival times",
    },
}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_columns(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Prefill, decode and arrival-time columns of a trace (the package's one trace reader,
    :func:`lpsched.traces.read_trace_columns`); arrival times must be sorted here."""
    cols = read_trace_columns(path)
    if cols.times is not None and np.any(np.diff(cols.times) < 0):
        k = int(np.flatnonzero(np.diff(cols.times) < 0)[0]) + 1
        raise InstanceError("arrival times are not sorted", source=str(path),
                            request=cols.ids[k])
    return cols.prefill, cols.decode, cols.times


def _stats(x: np.ndarray, digits: int) -> dict[str, float]:
    q = np.quantile(x, [0.5, 0.9, 0.99])
    return {"count": int(x.size), "mean": round(float(x.mean()), digits),
            "std": round(float(x.std(ddof=1)), digits), "min": round(float(x.min()), digits),
            "max": round(float(x.max()), digits), "p50": round(float(q[0]), digits),
            "p90": round(float(q[1]), digits), "p99": round(float(q[2]), digits)}


def _ordinal_ranks(x: np.ndarray, tie_key: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 by value, ties broken by ``tie_key``."""
    order = np.lexsort((tie_key, x))
    r = np.empty(x.size, dtype=np.int64)
    r[order] = np.arange(x.size)
    return r


def _corr(s: np.ndarray, o: np.ndarray) -> dict[str, float]:
    from scipy import stats

    return {"spearman": round(float(stats.spearmanr(s, o)[0]), 4),
            "kendall": round(float(stats.kendalltau(s, o)[0]), 4),
            "pearson": round(float(np.corrcoef(s, o)[0, 1]), 4)}


def derive_profile(path: str | os.PathLike[str], name: str, *, script: str = "",
                   derived_on: str | None = None, check_samples: int = 200_000) -> dict[str, Any]:
    """Derive the profile JSON (as a dict) of the trace CSV at ``path``.

    Deterministic: the same file gives the same figures (the tie-break
    permutation and the check sample use fixed seeds). ``derived_on`` defaults
    to today's date (ISO).
    """
    path = Path(path_text(path))
    s, o, t = _read_columns(path)
    n = s.size
    levels = np.linspace(0.0, 1.0, N_LEVELS)
    tie_rng = np.random.default_rng(20230101)
    rs = _ordinal_ranks(s, tie_rng.permutation(n))
    ro = _ordinal_ranks(o, tie_rng.permutation(n))
    k = COPULA_BINS
    bs, bo = rs * k // n, ro * k // n
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (bs, bo), 1)
    origin = _ORIGINS.get(name, {"origin": "unknown", "description": ""})
    out: dict[str, Any] = {
        "format": FORMAT,
        "name": name,
        "description": origin["description"],
        "provenance": {
            "source_file": path.name,
            "origin": origin["origin"],
            "licence": "MIT (Copyright (c) Microsoft Corporation), see LICENSE-vidur-data.txt "
                       "next to the trace; the trace itself is not shipped",
            "rows": int(n),
            "sha256": _sha256(path),
            "derived_on": derived_on or date.today().isoformat(),
            "script": script or "benchmarks/derive_profiles.py",
            "method": "numpy.quantile (linear) at 1001 levels; checkerboard copula "
                      f"{k}x{k} on ordinal ranks (ties broken by a permutation seeded 20230101)",
        },
        "levels": [round(float(x), 3) for x in levels],
        "prefill": {"quantiles": [round(float(x), 3) for x in np.quantile(s, levels)],
                    "stats": _stats(s, 3)},
        "decode": {"quantiles": [round(float(x), 3) for x in np.quantile(o, levels)],
                   "stats": _stats(o, 3)},
        "interarrival_seconds": None,
        "support": {"max_total_tokens": int((s + o).max()), "min_prefill": int(s.min()),
                    "min_decode": int(o.min())},
        "dependence": {
            "method": "checkerboard-copula",
            "bins": k,
            "trace": _corr(s, o),
            "counts": counts.tolist(),
        },
    }
    if t is not None:
        gaps = np.diff(t)
        out["interarrival_seconds"] = {
            "quantiles": [round(float(x), 9) for x in np.quantile(gaps, levels)],
            "stats": _stats(gaps, 9),
            "duration_seconds": round(float(t[-1] - t[0]), 6),
        }
    # Check that sampling from the profile reproduces the trace's dependence.
    prof = WorkloadProfile.from_dict(out, source=str(path))
    ss, so = prof.sample(check_samples, np.random.default_rng(0))
    out["dependence"]["profile_sample"] = {"samples": check_samples, "seed": 0, **_corr(ss, so)}
    # the order of keys: keep the big table last
    out["dependence"]["counts"] = out["dependence"].pop("counts")
    return out
