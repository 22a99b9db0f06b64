"""GPU kernel calibration: load measured per-layer timings and fit step-time models.

Data (``lpsched/afd/data/h100.csv``, ``h200.csv``; see ``data/PROVENANCE.md``): per
transformer layer, bf16, medians of repeated CUDA-event timings on one NVIDIA H100
80GB HBM3 and one H200.  Columns ``part, model, batch, ctx, tokens, experts,
ms_median, ms_p20, ms_p80``.  Users can pass their own CSV with the same columns.

Fits (all times in **milliseconds per layer**), each by weighted least squares on
*relative* error (residual ``(pred - y) / y``), so a 0.1 ms kernel counts as much as
a 5 ms one:

* attention (rows ``attn_layer``; ``T = batch * ctx`` KV tokens of the instance,
  ``B = batch``):

  - ``linear``        ``t_A = a_A*T + b_A``  (the seed paper's model);
  - ``linear-batch``  ``t_A = a_A*T + c_A*B + b_A``;
  - ``roofline``      ``t_A = max(b_P, c_P*B) + max(b_A, a_A*T)``: projections are
    weight-read bound (flat) until the batch makes them compute bound, the attention
    core is flat (launch/latency bound) until the KV read dominates.  The two
    rooflines are fitted on the separately measured ``attn_proj`` and ``attn_core``
    rows and evaluated on ``attn_layer``.

* FFN (rows ``ffn_dense`` of a model, or ``ffn_moe`` of ``dsv3-expert`` with a given
  number of local experts; ``N`` = the ``batch`` column = token rows entering the FFN
  device):

  - ``linear``    ``t_F = a_F*N + b_F``;
  - ``roofline``  ``t_F = max(b_F, a_F*N)`` (weight-read floor, then compute bound),
    fitted exactly by enumerating the breakpoint between the flat and linear points.

* communication: ``t_C = a_C*B + b_C`` with ``b_C`` the link latency and
  ``a_C = bytes_per_token / bandwidth`` (activations ``d_model`` x 2 bytes per token):
  latency and bandwidth are fitted from the Vidur H100 DGX send/recv table
  (``data/comm_vidur_h100.json``) or given by the user.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["CalibrationError", "ModelSpec", "MODELS", "FFN_MODELS", "GPUS", "Fit", "Link",
           "Calibration", "load_calibration", "read_calibration_csv", "fit_linear",
           "fit_roofline_1d", "links", "DEVICE_MEMORY_GB", "FFN_WEIGHT_BYTES", "ffn_family"]

DATA = Path(__file__).parent / "data"
REQUIRED_COLUMNS = ("part", "model", "batch", "ctx", "tokens", "experts", "ms_median")
#: Bundled calibrations (our own measurements).
GPUS = {"h100": "h100.csv", "h200": "h200.csv"}
#: Device memory in GB (HBM), used for KV capacity in the sizing program.
DEVICE_MEMORY_GB = {"h100": 80.0, "h200": 141.0}


class CalibrationError(ValueError):
    """Bad calibration input (file, columns, unknown GPU/model)."""


@dataclass(frozen=True)
class ModelSpec:
    """Architecture figures used for messages, KV capacity and layer count.

    ``kv_bytes_per_token``: KV cache of one token over all layers (bf16);
    ``attn_weight_bytes``: attention weights over all layers (what an attention
    device holds besides the KV cache)."""

    name: str
    d_model: int
    n_layers: int
    kv_bytes_per_token: int
    attn_weight_bytes: int

    @property
    def act_bytes_per_token(self) -> int:
        return 2 * self.d_model  # bf16 hidden state sent each way per layer


def _gqa(d: int, layers: int, q_heads: int, kv_heads: int, head_dim: int) -> tuple[int, int]:
    """``(KV bytes per token, attention weight bytes)`` of a GQA model in bf16."""
    kv = 2 * kv_heads * head_dim * 2 * layers
    w = (2 * d * q_heads * head_dim + 2 * d * kv_heads * head_dim) * 2 * layers
    return kv, w


_k70, _w70 = _gqa(8192, 80, 64, 8, 128)
_k8, _w8 = _gqa(4096, 32, 32, 8, 128)
#: Attention models in the calibration (GQA, Llama-3 shapes).
MODELS = {
    "llama3-70b": ModelSpec("llama3-70b", 8192, 80, _k70, _w70),
    "llama3-8b": ModelSpec("llama3-8b", 4096, 32, _k8, _w8),
}
#: FFN models: name -> (part, csv model, experts or None, d_model).  ``dsv3-moe-eE`` is a
#: DeepSeek-V3-shaped expert layer with E local experts on the FFN device; ``N`` counts
#: token rows routed to the device (one row per token by default).
FFN_MODELS = {
    "llama3-70b": ("ffn_dense", "llama3-70b", None),
    "llama3-8b": ("ffn_dense", "llama3-8b", None),
    "dsv3-moe-e8": ("ffn_moe", "dsv3-expert", 8),
    "dsv3-moe-e32": ("ffn_moe", "dsv3-expert", 32),
}
_DSV3_EXPERT_BYTES = 3 * 7168 * 2048 * 2  # gate, up, down of one 7168 x 2048 expert, bf16
#: FFN weight bytes per layer (bf16, gate/up/down projections) of the bundled FFN models:
#: what a device holding the whole FFN reads per step (its kernel's flat floor) and what a
#: shard holds.  Llama-3: ``3 d_model d_ff 2``; the DeepSeek-V3-shaped expert layers: the
#: experts on the device.  ``llama3-8b`` holds exactly a quarter of ``llama3-70b``'s FFN
#: weights and FLOPs per token, and ``dsv3-moe-e8`` a quarter of ``dsv3-moe-e32``'s: the
#: measured kernels of a 4-way shard (see :mod:`lpsched.afd.topology`).
FFN_WEIGHT_BYTES = {
    "llama3-70b": 3 * 8192 * 28672 * 2,
    "llama3-8b": 3 * 4096 * 14336 * 2,
    "dsv3-moe-e8": 8 * _DSV3_EXPERT_BYTES,
    "dsv3-moe-e32": 32 * _DSV3_EXPERT_BYTES,
}


def ffn_family(ffn_model: str) -> str | None:
    """``"dense"`` or ``"moe"`` for a bundled FFN model (``None`` if unknown): the kernels
    of one family share a shape law, so a shard's kernel is read off its siblings."""
    entry = FFN_MODELS.get(ffn_model)
    if entry is None:
        return None
    return "moe" if entry[0] == "ffn_moe" else "dense"


@dataclass(frozen=True)
class Fit:
    """A fitted kernel-time model with its error on the rows it describes.

    ``kind``: ``linear`` (``a*x + b``), ``linear-batch`` (``a*x + c*B + b``),
    ``roofline`` (``max(b, a*x)``, plus ``max(b_P, c_P*B)`` for attention).
    Errors are relative, ``|pred - ms_median| / ms_median`` over ``n`` rows."""

    kind: str
    params: dict
    n: int
    median_rel_error: float
    max_rel_error: float
    rms_rel_error: float
    rows: str = ""

    def __call__(self, x, batch=None) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        p = self.params
        if self.kind == "linear":
            return p["a"] * x + p["b"]
        if self.kind == "linear-batch":
            return p["a"] * x + p["c"] * np.asarray(batch, dtype=float) + p["b"]
        if self.kind == "roofline":
            out = np.maximum(p["b"], p["a"] * x)
            if "c_P" in p:
                out = out + np.maximum(p["b_P"], p["c_P"] * np.asarray(batch, dtype=float))
            return out
        raise CalibrationError(f"unknown fit kind {self.kind!r}")

    def to_dict(self) -> dict:
        return {"kind": self.kind, "params": dict(self.params), "n": self.n,
                "median_rel_error": self.median_rel_error, "max_rel_error": self.max_rel_error,
                "rms_rel_error": self.rms_rel_error, "rows": self.rows}


def _errors(pred: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    rel = np.abs(pred - y) / y
    return float(np.median(rel)), float(rel.max()), float(np.sqrt(np.mean(rel * rel)))


def fit_linear(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Weighted least squares ``y ~ X @ beta`` minimising ``sum ((X beta - y)/y)^2``."""
    w = 1.0 / y
    beta, *_ = np.linalg.lstsq(X * w[:, None], y * w, rcond=None)
    return beta


def fit_roofline_1d(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``y ~ max(b, a*x)`` minimising the relative squared error, exactly over the
    split between flat and linear points (sorted by ``x``): for each split, ``b`` and
    ``a`` have closed forms; the best split under the true ``max`` objective wins."""
    order = np.argsort(x)
    x, y = x[order].astype(float), y[order].astype(float)
    if x.size == 0:
        raise ValueError("fit_roofline_1d: no points to fit")
    best: tuple[float, float, float] | None = None
    for k in range(0, x.size + 1):
        yf, xl, yl = y[:k], x[k:], y[k:]
        b = float(np.sum(1 / yf) / np.sum(1 / yf**2)) if k else 0.0
        a = float(np.sum(xl / yl) / np.sum(xl**2 / yl**2)) if k < x.size else 0.0
        if k == x.size:  # all flat: a from the largest point so that a*x <= b
            a = b / x[-1]
        if k == 0:
            b = 0.0
        pred = np.maximum(b, a * x)
        err = float(np.sum(((pred - y) / y) ** 2))
        if best is None or err < best[0]:
            best = (err, a, b)
    assert best is not None  # the loop ran (x.size + 1 >= 1 splits): the first one set it
    return best[1], best[2]


def read_calibration_csv(path: str | Path) -> dict[str, np.ndarray]:
    """Read a calibration CSV into columns, checking names and values."""
    path = Path(path)
    if not path.exists():
        raise CalibrationError(f"{path}: no such calibration file")
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        missing = [c for c in REQUIRED_COLUMNS if c not in cols]
        if missing:
            raise CalibrationError(f"{path}: missing column(s) {', '.join(missing)}; "
                                   f"need {', '.join(REQUIRED_COLUMNS)}")
        rows = list(reader)
    if not rows:
        raise CalibrationError(f"{path}: no data rows")
    out: dict[str, list] = {c: [] for c in REQUIRED_COLUMNS}
    for i, row in enumerate(rows, start=2):
        for c in REQUIRED_COLUMNS:
            v = row[c]
            if c in ("part", "model"):
                out[c].append(v.strip())
                continue
            try:
                x = float(v)
            except (TypeError, ValueError):
                raise CalibrationError(f"{path}: line {i}: column {c} is not a number: {v!r}") \
                    from None
            if not np.isfinite(x) or x < 0 or (c == "ms_median" and x <= 0):
                raise CalibrationError(f"{path}: line {i}: column {c} must be "
                                       f"{'> 0' if c == 'ms_median' else '>= 0'}, got {v}")
            out[c].append(x)
    return {c: np.asarray(v) for c, v in out.items()}


@dataclass(frozen=True)
class Link:
    """Point-to-point link: ``t = latency_ms + bytes * ms_per_byte``."""

    name: str
    latency_ms: float
    bandwidth_GBps: float
    source: str = ""

    def __post_init__(self) -> None:
        if not (self.latency_ms >= 0 and self.bandwidth_GBps > 0):
            raise CalibrationError("a link needs latency >= 0 and bandwidth > 0")

    @property
    def ms_per_byte(self) -> float:
        return 1e-6 / self.bandwidth_GBps

    def to_dict(self) -> dict:
        return {"name": self.name, "latency_ms": self.latency_ms,
                "bandwidth_GBps": self.bandwidth_GBps, "source": self.source}


def links() -> dict[str, Link]:
    """Bundled links fitted from the Vidur H100 DGX send/recv table."""
    d = json.loads((DATA / "comm_vidur_h100.json").read_text())
    out = {}
    for key, name in (("nvlink_intra_node", "nvlink"), ("inter_node", "inter-node")):
        f = d["links"][key]
        out[name] = Link(name, f["latency_ms"], f["bandwidth_GBps"],
                         source=f"fitted from Vidur h100_dgx send_recv ({key}, "
                                f"median rel. error {f['median_rel_error']:.1%})")
    return out


@dataclass(frozen=True)
class Calibration:
    """All fits of one GPU calibration file."""

    gpu: str
    source: str
    attention: dict = field(default_factory=dict)  # model -> {kind: Fit}
    ffn: dict = field(default_factory=dict)  # ffn model -> {kind: Fit}

    def attention_fit(self, model: str, kind: str = "linear") -> Fit:
        if model not in self.attention:
            raise CalibrationError(f"calibration {self.gpu}: no attention model {model!r}; "
                                   f"available: {', '.join(sorted(self.attention))}")
        fits = self.attention[model]
        if kind not in fits:
            raise CalibrationError(f"unknown attention fit {kind!r}; available: {', '.join(fits)}")
        return fits[kind]

    def ffn_fit(self, model: str, kind: str = "linear") -> Fit:
        if model not in self.ffn:
            raise CalibrationError(f"calibration {self.gpu}: no FFN model {model!r}; "
                                   f"available: {', '.join(sorted(self.ffn))}")
        fits = self.ffn[model]
        if kind not in fits:
            raise CalibrationError(f"unknown FFN fit {kind!r}; available: {', '.join(fits)}")
        return fits[kind]

    def report(self) -> list[dict]:
        """One row per (role, model, fit kind) with its parameters and errors, and which
        kind fits best (lowest RMS relative error) for that role and model."""
        rows = []
        for role, table in (("attention", self.attention), ("ffn", self.ffn)):
            for model, fits in table.items():
                best = min(fits, key=lambda k: fits[k].rms_rel_error)
                for kind, f in fits.items():
                    rows.append({"gpu": self.gpu, "role": role, "model": model, "fit": kind,
                                 "n": f.n, "median_rel_error": f.median_rel_error,
                                 "max_rel_error": f.max_rel_error,
                                 "rms_rel_error": f.rms_rel_error, "best": kind == best,
                                 "params": f.params})
        return rows


def _fit_attention(c: dict[str, np.ndarray], model: str) -> dict[str, Fit]:
    sel = (c["part"] == "attn_layer") & (c["model"] == model)
    if not sel.any():
        return {}
    B, ctx, y = c["batch"][sel], c["ctx"][sel], c["ms_median"][sel]
    T = B * ctx
    if (B <= 0).any():
        raise CalibrationError(f"attention rows of {model}: batch must be > 0")
    out = {}
    a, b = fit_linear(np.column_stack([T, np.ones_like(T)]), y)
    f = Fit("linear", {"a": float(a), "b": float(b)}, int(y.size), 0, 0, 0, "attn_layer")
    out["linear"] = _with_errors(f, f(T), y)
    a, cc, b = fit_linear(np.column_stack([T, B, np.ones_like(T)]), y)
    f = Fit("linear-batch", {"a": float(a), "c": float(cc), "b": float(b)}, int(y.size), 0, 0, 0,
            "attn_layer")
    out["linear-batch"] = _with_errors(f, f(T, B), y)
    sp = (c["part"] == "attn_proj") & (c["model"] == model)
    sc = (c["part"] == "attn_core") & (c["model"] == model)
    if sp.sum() >= 2 and sc.sum() >= 2:
        cP, bP = fit_roofline_1d(c["batch"][sp], c["ms_median"][sp])
        aC, bC = fit_roofline_1d(c["batch"][sc] * c["ctx"][sc], c["ms_median"][sc])
        # start from the component rooflines, refine all four on attn_layer rows
        from scipy.optimize import least_squares

        def resid(th):
            return (np.maximum(th[3], th[2] * B) + np.maximum(th[1], th[0] * T) - y) / y

        x0 = np.array([aC, bC, cP, bP])
        sol = least_squares(resid, x0, x_scale=np.abs(x0) + 1e-12, bounds=(0, np.inf))
        th = sol.x if np.sum(sol.fun**2) < np.sum(resid(x0) ** 2) else x0
        f = Fit("roofline", {"a": float(th[0]), "b": float(th[1]), "c_P": float(th[2]),
                             "b_P": float(th[3])}, int(y.size), 0, 0, 0,
                "attn_layer (started from attn_proj + attn_core rooflines)")
        out["roofline"] = _with_errors(f, f(T, B), y)
    return out


def _with_errors(f: Fit, pred: np.ndarray, y: np.ndarray) -> Fit:
    med, mx, rms = _errors(pred, y)
    return Fit(f.kind, f.params, f.n, med, mx, rms, f.rows)


def _fit_ffn(c: dict[str, np.ndarray], part: str, model: str, experts: int | None
             ) -> dict[str, Fit]:
    sel = (c["part"] == part) & (c["model"] == model)
    if experts is not None:
        sel &= c["experts"] == experts
    if sel.sum() < 2:
        return {}
    N, y = c["batch"][sel], c["ms_median"][sel]
    rows = f"{part} {model}" + (f" experts={experts}" if experts else "")
    a, b = fit_linear(np.column_stack([N, np.ones_like(N)]), y)
    f = Fit("linear", {"a": float(a), "b": float(b)}, int(y.size), 0, 0, 0, rows)
    out = {"linear": _with_errors(f, f(N), y)}
    a, b = fit_roofline_1d(N, y)
    f = Fit("roofline", {"a": a, "b": b}, int(y.size), 0, 0, 0, rows)
    out["roofline"] = _with_errors(f, f(N), y)
    return out


def fit_calibration(columns: dict[str, np.ndarray], gpu: str, source: str) -> Calibration:
    att = {m: f for m in sorted(set(columns["model"])) if (f := _fit_attention(columns, m))}
    ffn = {}
    for name, (part, model, experts) in FFN_MODELS.items():
        f = _fit_ffn(columns, part, model, experts)
        if f:
            ffn[name] = f
    # user CSVs may hold other dense FFN models
    for m in sorted(set(columns["model"][columns["part"] == "ffn_dense"])):
        if m not in ffn:
            f = _fit_ffn(columns, "ffn_dense", m, None)
            if f:
                ffn[m] = f
    if not att and not ffn:
        raise CalibrationError(f"{source}: no attn_layer/ffn_dense/ffn_moe rows to fit")
    return Calibration(gpu, source, att, ffn)


_CACHE: dict[str, Calibration] = {}


def load_calibration(gpu_or_path: str | Path = "h200") -> Calibration:
    """Fitted calibration of a bundled GPU (``h100``, ``h200``) or of a user CSV path."""
    key = str(gpu_or_path)
    if key in _CACHE:
        return _CACHE[key]
    if key.lower() in GPUS:
        path = DATA / GPUS[key.lower()]
        gpu = key.lower()
    else:
        path = Path(key)
        if path.suffix.lower() != ".csv" and not path.exists():
            raise CalibrationError(f"unknown GPU {key!r}: bundled ones are "
                                   f"{', '.join(GPUS)}, or give a calibration CSV path")
        gpu = path.stem
    cal = fit_calibration(read_calibration_csv(path), gpu, str(path))
    _CACHE[key] = cal
    return cal
