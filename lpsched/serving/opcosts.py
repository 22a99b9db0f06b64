"""Per-op costs of a decoder layer besides its matmuls: RMSNorm, rotary embedding,
residual add and the tensor-parallel all-reduce.

Figures: ``lpsched/afd/data/ops_vidur_h100.json``, fitted by
``benchmarks/steptime_derive_ops.py`` from the Vidur project's H100 profiles (MIT
licence; ``data/PROVENANCE.md``). Only the fits are shipped.

Elementwise ops (one kernel call, milliseconds)::

    t(x) = max(b, a x)

with ``x`` the elements the call touches on one GPU: ``R d_model`` for an RMSNorm or a
residual add, ``R (heads + kv_heads) head_dim / N`` for the rotary embedding of the
queries and keys, ``R d_ff / N`` for SiLU-and-mul (``R`` token rows, ``N`` GPUs).

All-reduce of ``m`` bytes over ``N`` GPUs of one node (NCCL kernel time, plus the host
launch cost ``launch`` of every call)::

    t_AR(m, N) = launch + small_N                                     m <= m_N
               = launch + max(floor_N, lat_N + m / bw_N)              m >  m_N
    t_AR(m, 1) = 0
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lpsched.afd.calibration import DATA, CalibrationError

__all__ = ["ElementwiseFit", "AllReduceFit", "OpCosts", "load_op_costs", "OPS_FILE"]

#: The bundled per-op fits.
OPS_FILE = DATA / "ops_vidur_h100.json"


@dataclass(frozen=True)
class ElementwiseFit:
    """``t_ms = max(b_ms, a_ms_per_element * elements)`` for one kernel call."""

    b_ms: float
    a_ms_per_element: float

    def __post_init__(self) -> None:
        if not (self.b_ms >= 0 and self.a_ms_per_element >= 0):
            raise CalibrationError("an elementwise fit needs b_ms >= 0 and a >= 0")

    def __call__(self, elements) -> np.ndarray:
        x = np.asarray(elements, dtype=float)
        return np.maximum(self.b_ms, self.a_ms_per_element * x)

    def scalar(self, elements: float) -> float:
        """The same for one Python number (no array overhead)."""
        return max(self.b_ms, self.a_ms_per_element * elements)


@dataclass(frozen=True)
class AllReduceFit:
    """Two-regime NCCL all-reduce kernel time of one group size (module docstring)."""

    small_max_bytes: float
    small_ms: float
    floor_ms: float
    latency_ms: float
    bandwidth_GBps: float

    def __post_init__(self) -> None:
        if not (self.bandwidth_GBps > 0 and min(self.small_max_bytes, self.small_ms,
                                                self.floor_ms, self.latency_ms) >= 0):
            raise CalibrationError("an all-reduce fit needs bandwidth > 0 and times >= 0")

    def __call__(self, nbytes) -> np.ndarray:
        m = np.asarray(nbytes, dtype=float)
        large = np.maximum(self.floor_ms, self.latency_ms + m * 1e-6 / self.bandwidth_GBps)
        return np.where(m <= self.small_max_bytes, self.small_ms, large)

    def scalar(self, nbytes: float) -> float:
        """The same for one Python number (no array overhead)."""
        if nbytes <= self.small_max_bytes:
            return self.small_ms
        return max(self.floor_ms, self.latency_ms + nbytes * 1e-6 / self.bandwidth_GBps)


@dataclass(frozen=True)
class OpCosts:
    """Elementwise fits (``rmsnorm``, ``rope``, ``add``, ``act``), all-reduce fits by
    group size, and the host launch cost of one all-reduce call."""

    elementwise: dict
    all_reduce: dict
    launch_ms: float
    source: str = ""

    def op(self, name: str) -> ElementwiseFit:
        if name not in self.elementwise:
            raise CalibrationError(f"no elementwise fit {name!r}; have "
                                   f"{', '.join(sorted(self.elementwise))}")
        return self.elementwise[name]

    def all_reduce_ms(self, nbytes, n: int) -> np.ndarray:
        """One all-reduce call of ``nbytes`` over ``n`` GPUs (launch included); 0 at n = 1."""
        m = np.asarray(nbytes, dtype=float)
        if n == 1:
            return np.zeros_like(m)
        if n not in self.all_reduce:
            raise CalibrationError(f"no all-reduce fit for {n} GPUs; have "
                                   f"{', '.join(map(str, sorted(self.all_reduce)))}")
        return self.launch_ms + self.all_reduce[n](m)

    def all_reduce_scalar(self, nbytes: float, n: int) -> float:
        """:meth:`all_reduce_ms` for one Python number."""
        if n == 1:
            return 0.0
        if n not in self.all_reduce:
            raise CalibrationError(f"no all-reduce fit for {n} GPUs")
        return self.launch_ms + self.all_reduce[n].scalar(nbytes)

    def to_dict(self) -> dict:
        return {"elementwise": {k: vars(v) for k, v in self.elementwise.items()},
                "all_reduce": {str(k): vars(v) for k, v in self.all_reduce.items()},
                "launch_ms": self.launch_ms, "source": self.source}


_CACHE: dict[str, OpCosts] = {}


def load_op_costs(path: str | Path = OPS_FILE) -> OpCosts:
    """Read the per-op fits (the bundled H100 figures by default)."""
    key = str(path)
    if key not in _CACHE:
        try:
            d = json.loads(Path(path).read_text())
            elementwise = {k: ElementwiseFit(float(v["b_ms"]), float(v["a_ms_per_element"]))
                           for k, v in d["elementwise"].items()}
            fields = ("small_max_bytes", "small_ms", "floor_ms", "latency_ms", "bandwidth_GBps")
            all_reduce = {int(k): AllReduceFit(*(float(v[f]) for f in fields))
                          for k, v in d["all_reduce"].items()}
            costs = OpCosts(elementwise, all_reduce, float(d["launch_ms"]), str(d["source"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CalibrationError(f"{path}: not a per-op cost file ({exc})") from None
        _CACHE[key] = costs
    return _CACHE[key]
