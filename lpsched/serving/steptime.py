"""Seconds per engine step on one tensor-parallel group: every op of a decoder layer.

Matmuls and decode attention come from our kernel calibration (the roofline fits of
:mod:`lpsched.afd.calibration` on our H100 / H200 per-layer measurements,
``lpsched/afd/data``); RMSNorm, rotary embedding, residual adds and the NCCL all-reduce
from fits of the Vidur project's measured H100 profiles (:mod:`lpsched.serving.opcosts`,
``lpsched/afd/data/ops_vidur_h100.json``). Nothing is re-measured here.

The model (per transformer layer, milliseconds, on each of the ``N`` GPUs)
---------------------------------------------------------------------------
A step processes ``R`` token rows: one per running request that continues decoding,
and ``P_j`` rows for every request ``j`` whose (re)fill happens in this step (a start:
``P_j = s_j``; a resume after preemption: ``s_j`` plus the tokens it had generated;
at least one row). With the attention roofline ``max(b_P, c_P B) + max(b_A, a_A T)``
fitted on ``attn_layer`` rows and the FFN roofline ``max(b_F, a_F N)`` fitted on
``ffn_dense`` rows (:class:`lpsched.afd.calibration.Fit`)::

    t_layer = smax(b_P / N, c_P R / N; p_P)    projections: QKV + output on R rows
            + max(b_A, a_A K / N)              decode attention over the K KV tokens held
                                               by the continuing requests
            + 2 d_attn sum_j P_j (P_j + 1) / (N rho)    causal prefill attention FLOPs
            + smax(b_F / N, a_F R / N; p_F)    SwiGLU FFN on R rows (activation included)
            + 2 t_norm(R d_model)              RMSNorm before attention and before the FFN
            + t_rope(R (heads + kv_heads) head_dim / N)   rotary embedding of q and k
            + 2 t_add(R d_model)               the two residual adds
            + 2 t_AR(2 R d_model, N)           two all-reduces (after attention, after FFN)

    t_step = n_layers t_layer + t_norm(R d_model) + t_head(B),
    t_head = smax(b_F, a_F B; p_F) w_head / w_FFN / N

and ``t_step = 0`` for an empty step. ``smax(u, v; p) = (u^p + v^p)^(1/p)`` is the
roofline's max with a rounded knee (:func:`smooth_max`), ``p_P`` and ``p_F`` fitted on
the calibration's ``attn_proj`` and ``ffn_dense`` rows with the floors and slopes held
(:func:`knee_exponent`; the measured kernels sit between the max and the sum of their
weight-read and compute times near the knee). ``B`` is the number of requests that emit a token
in the step (the running ones), ``d_attn = heads x head_dim``, ``rho = 6 d_model d_ff /
a_F`` the FLOP rate the FFN reaches in its compute-bound regime (FLOP per ms),
``t_norm``, ``t_rope``, ``t_add`` the elementwise rooflines and ``t_AR`` the measured
all-reduce with its launch cost of :mod:`lpsched.serving.opcosts` (0 for ``N = 1``); the
last norm is the model's final RMSNorm. :meth:`StepTimeModel.breakdown_ms` returns the
step's milliseconds per op (``projections``, ``attention``, ``ffn``, ``norms_rope``,
``residual_adds``, ``all_reduce``, ``lm_head``); they sum to the step.

Assumptions (each a choice, stated; ``docs/serving.md`` lists the sources)
-------------------------------------------------------------------------
1. Kernels add up: no overlap of attention, FFN and communication; no CUDA-graph or
   scheduler overhead beyond what the per-op timings hold and the all-reduce launch cost
   (Vidur's default 0.02 ms per call, a configured figure, not a measurement).
2. Prefill rows cost what decode rows cost in the projections and FFN (the same
   matmuls with more rows). The calibration measures FFN rows up to 16,384 (the range
   of our prefills), but projections only up to 512 rows: beyond, ``c_P R`` extrapolates
   the fitted compute slope. Check: the slopes imply 700 (projections) and 637 (FFN)
   TFLOP/s on the H100 for Llama-3-70B, consistent with each other.
3. Prefill attention is not measured: it is charged its causal FLOPs
   (``2 d_attn P (P+1)`` per layer: QK^T and PV) at the FFN's FLOP rate ``rho``. It is
   2-5% of a 2k-token prefill, so this choice moves step times little.
4. Tensor parallelism (Megatron layout): heads and FFN columns split over ``N`` GPUs,
   so weight reads (the floors ``b_P``, ``b_F``), compute slopes, KV reads and the rotary
   embedding divide by ``N``; the attention-core floor ``b_A`` (launch latency), the
   norms and the residual adds (on the full hidden state, replicated) do not. Two
   all-reduces of the ``R x d_model`` bf16 activations per layer within one node (the
   all-reduce fits are Vidur's H100 DGX measurements). ``N`` divides the 8 KV heads.
5. The LM head (``vocab x d_model``) runs on the ``B`` emitting rows at the FFN's
   roofline scaled by its weight size; embeddings, sampling, the logits gather and the
   host are free.
6. Memory traffic of prefill (KV writes) is free; the decode KV read is in ``a_A K``.
7. The elementwise and all-reduce fits are H100 measurements; the H200 uses them
   unchanged (same NVLink 4; its 1.4x HBM bandwidth would make the memory-bound norms
   and adds cheaper, which this model does not claim).

Error against the measured kernels: :func:`kernel_residuals` evaluates the decode
matmul + attention part of the model (``N = 1``, no prefill, no LM head, no
elementwise ops: the calibration rows hold none) against the sum of the measured
``attn_layer`` and ``ffn_dense`` medians at every calibrated (batch, context) point;
:func:`holdout_residuals` measures the extrapolation (refit without the longest
contexts or the largest FFN row counts, predict them); ``docs/serving.md`` lists both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from lpsched.afd.calibration import (
    DEVICE_MEMORY_GB,
    GPUS,
    MODELS,
    CalibrationError,
    Fit,
    Link,
    fit_calibration,
    load_calibration,
    read_calibration_csv,
)
from lpsched.afd.timing import resolve_link
from lpsched.serving.opcosts import OpCosts, load_op_costs

__all__ = ["OPS", "SHAPES", "TP_CHOICES", "ModelShape", "StepTimeModel", "build_step_time",
           "smooth_max", "knee_exponent", "kernel_residuals", "holdout_residuals", "kv_capacity",
           "default_tensor_parallel"]

#: Tensor-parallel degrees the model supports (divisors of the 8 KV heads).
TP_CHOICES = (1, 2, 4, 8)
#: vLLM's default ``gpu_memory_utilization``: the share of device memory it uses.
GPU_MEMORY_UTILIZATION = 0.9


@dataclass(frozen=True)
class ModelShape:
    """Llama-3 dense shapes (Meta's model cards / ``config.json``)."""

    name: str
    d_model: int
    n_layers: int
    d_ff: int
    vocab: int
    heads: int
    kv_heads: int
    head_dim: int

    @property
    def params(self) -> int:
        """Parameters: per layer QKV + O + gated FFN, plus untied embedding and LM head."""
        d, hd = self.d_model, self.head_dim
        attn = d * self.heads * hd * 2 + d * self.kv_heads * hd * 2
        ffn = 3 * d * self.d_ff
        return self.n_layers * (attn + ffn + 2 * d) + 2 * self.vocab * d + d

    @property
    def weight_bytes(self) -> int:
        return 2 * self.params  # bf16

    @property
    def kv_bytes_per_token(self) -> int:
        return MODELS[self.name].kv_bytes_per_token

    @property
    def ffn_flops_per_token(self) -> float:
        return 6.0 * self.d_model * self.d_ff


SHAPES = {
    "llama3-70b": ModelShape("llama3-70b", 8192, 80, 28672, 128256, 64, 8, 128),
    "llama3-8b": ModelShape("llama3-8b", 4096, 32, 14336, 128256, 32, 8, 128),
}


def _shape(model: str) -> ModelShape:
    if model not in SHAPES:
        raise CalibrationError(f"unknown model {model!r}; available: {', '.join(SHAPES)}")
    return SHAPES[model]


def smooth_max(u, v, p: float) -> np.ndarray:
    """``(u^p + v^p)^(1/p)`` for ``u, v >= 0``: a roofline ``max(u, v)`` whose knee is
    rounded (measured kernels near the knee sit between the max and the sum of their
    weight-read and compute times); ``p = inf`` is the plain max."""
    u, v = np.asarray(u, dtype=float), np.asarray(v, dtype=float)
    hi = np.maximum(u, v)
    if not np.isfinite(p):
        return hi
    lo = np.minimum(u, v)
    ratio = np.divide(lo, hi, out=np.zeros_like(hi), where=hi > 0)
    return hi * (1.0 + ratio ** p) ** (1.0 / p)


def _smax(u: float, v: float, p: float) -> float:
    """:func:`smooth_max` of two Python numbers."""
    hi = max(u, v)
    if p == math.inf or hi <= 0:
        return hi
    return hi * (1.0 + (min(u, v) / hi) ** p) ** (1.0 / p)


def knee_exponent(x, y, b: float, a: float) -> float:
    """The ``p`` of :func:`smooth_max` (grid 1, 1.25, ..., 32) whose ``smooth_max(b, a x,
    p)`` has the least RMS relative error against ``y``; ``inf`` (the plain roofline) when
    no ``p`` does better or there are fewer than 3 points."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size < 3:
        return float("inf")

    def rms(p: float) -> float:
        return float(np.sqrt(np.mean(((smooth_max(b, a * x, p) - y) / y) ** 2)))
    best = min(np.arange(1.0, 32.01, 0.25), key=rms)
    return float(best) if rms(best) < rms(float("inf")) else float("inf")


@cache
def _knees(gpu: str, model: str) -> tuple[float, float]:
    """Knee exponents of the projections (``attn_proj`` rows) and the FFN (``ffn_dense``
    rows) of a calibration, with the roofline floors and slopes held fixed."""
    cal = load_calibration(gpu)
    c = read_calibration_csv(cal.source)
    a, f = cal.attention_fit(model, "roofline").params, cal.ffn_fit(model, "roofline").params
    out = []
    for part, b, slope in (("attn_proj", a["b_P"], a["c_P"]), ("ffn_dense", f["b"], f["a"])):
        sel = (c["part"] == part) & (c["model"] == model)
        out.append(knee_exponent(c["batch"][sel], c["ms_median"][sel], b, slope))
    return out[0], out[1]


def _tp(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or int(n) not in TP_CHOICES:
        raise CalibrationError(f"tensor parallel size must be one of "
                               f"{', '.join(map(str, TP_CHOICES))}, got {n!r}")
    return int(n)


#: Keys of :meth:`StepTimeModel.breakdown_ms`, in the order of the layer.
OPS = ("projections", "attention", "ffn", "norms_rope", "residual_adds", "all_reduce",
       "lm_head")


@dataclass(frozen=True)
class StepTimeModel:
    """The step-time model of the module docstring for one GPU type, model and ``N``.

    ``link``: ``None`` for the measured NVLink all-reduce of ``ops`` (the default), or a
    point-to-point :class:`Link` over which a ring all-reduce runs,
    ``2 (N - 1) (lat + m / (N bw))`` plus the launch cost (another interconnect)."""

    gpu: str
    shape: ModelShape
    tensor_parallel: int
    attention: Fit
    ffn: Fit
    link: Link | None = None
    ops: OpCosts = field(default_factory=load_op_costs)
    knee_proj: float = float("inf")
    knee_ffn: float = float("inf")

    @property
    def flop_rate(self) -> float:
        """``rho``: FLOP per ms of the FFN's compute-bound regime (one GPU)."""
        return self.shape.ffn_flops_per_token / self.ffn.params["a"]

    def allreduce_ms(self, rows) -> np.ndarray:
        """One all-reduce of ``rows x d_model`` bf16 activations over ``N`` GPUs (ms)."""
        n = self.tensor_parallel
        rows = np.asarray(rows, dtype=float)
        m = rows * self.shape.d_model * 2.0
        if n == 1 or self.link is None:
            return self.ops.all_reduce_ms(m, n)
        ring = 2.0 * (n - 1) * (self.link.latency_ms + m / n * self.link.ms_per_byte)
        return self.ops.launch_ms + ring

    def layer_ops_ms(self, rows, kv, prefill_sq) -> dict:
        """Per-layer ms of each op on one GPU (module docstring)."""
        n, s = self.tensor_parallel, self.shape
        a, f = self.attention.params, self.ffn.params
        rows = np.asarray(rows, dtype=float)
        kv = np.asarray(kv, dtype=float)
        sq = np.asarray(prefill_sq, dtype=float)
        d_attn = s.heads * s.head_dim
        hidden = rows * s.d_model
        qk = rows * (s.heads + s.kv_heads) * s.head_dim / n
        return {
            "projections": smooth_max(a["b_P"] / n, a["c_P"] * rows / n, self.knee_proj),
            "attention": np.maximum(a["b"], a["a"] * kv / n)
            + 2.0 * d_attn * sq / (n * self.flop_rate),
            "ffn": smooth_max(f["b"] / n, f["a"] * rows / n, self.knee_ffn),
            "norms_rope": 2.0 * self.ops.op("rmsnorm")(hidden) + self.ops.op("rope")(qk),
            "residual_adds": 2.0 * self.ops.op("add")(hidden),
            "all_reduce": 2.0 * self.allreduce_ms(rows),
        }

    def layer_ms(self, rows, kv, prefill_sq) -> np.ndarray:
        """Per-layer ms on each GPU: ``rows`` token rows, ``kv`` KV tokens read by decode
        attention, ``prefill_sq = sum_j P_j (P_j + 1)`` of the (re)fills."""
        parts = self.layer_ops_ms(rows, kv, prefill_sq)
        return sum(parts.values(), np.zeros(()))

    def head_ms(self, outputs) -> np.ndarray:
        """LM head on the emitting rows, the FFN roofline scaled by weight size."""
        s, f = self.shape, self.ffn.params
        ratio = s.vocab * s.d_model / (3.0 * s.d_model * s.d_ff)
        out = np.asarray(outputs, dtype=float)
        return smooth_max(f["b"], f["a"] * out, self.knee_ffn) * ratio / self.tensor_parallel

    def breakdown_ms(self, rows, kv, prefill_sq, outputs) -> dict:
        """Milliseconds of each op (:data:`OPS`) over the whole step (all layers, the
        final norm in ``norms_rope``); every entry is 0 where ``rows == 0``."""
        rows = np.asarray(rows, dtype=float)
        busy = rows > 0
        layers = self.shape.n_layers
        out = {k: layers * v for k, v in self.layer_ops_ms(rows, kv, prefill_sq).items()}
        out["norms_rope"] = out["norms_rope"] + self.ops.op("rmsnorm")(rows * self.shape.d_model)
        out["lm_head"] = self.head_ms(outputs)
        return {k: np.where(busy, out[k], 0.0) for k in OPS}

    def step_seconds(self, rows, kv, prefill_sq, outputs) -> np.ndarray:
        """Seconds of each step (arrays broadcast); 0 where ``rows == 0``.

        One step given as plain numbers takes a scalar path (the same sums, evaluated in
        Python floats: a replay calls this once a step)."""
        if all(np.ndim(x) == 0 for x in (rows, kv, prefill_sq, outputs)):
            return np.asarray(self._step_ms(float(rows), float(kv), float(prefill_sq),
                                            float(outputs)) * 1e-3)
        parts = self.breakdown_ms(rows, kv, prefill_sq, outputs)
        return sum(parts.values(), np.zeros(())) * 1e-3

    def _step_ms(self, rows: float, kv: float, sq: float, out: float) -> float:
        """:meth:`breakdown_ms` summed, for one step of Python numbers."""
        if not rows > 0:
            return 0.0
        n, s, o = self.tensor_parallel, self.shape, self.ops
        a, f = self.attention.params, self.ffn.params
        hidden = rows * s.d_model
        if n == 1 or self.link is None:
            ar = o.all_reduce_scalar(2.0 * hidden, n)
        else:
            ar = float(self.allreduce_ms(rows))
        layer = (_smax(a["b_P"] / n, a["c_P"] * rows / n, self.knee_proj)
                 + max(a["b"], a["a"] * kv / n)
                 + 2.0 * s.heads * s.head_dim * sq / (n * self.flop_rate)
                 + _smax(f["b"] / n, f["a"] * rows / n, self.knee_ffn)
                 + 2.0 * o.op("rmsnorm").scalar(hidden)
                 + o.op("rope").scalar(rows * (s.heads + s.kv_heads) * s.head_dim / n)
                 + 2.0 * o.op("add").scalar(hidden) + 2.0 * ar)
        head = (_smax(f["b"], f["a"] * out, self.knee_ffn) * s.vocab / (3.0 * s.d_ff) / n)
        return s.n_layers * layer + o.op("rmsnorm").scalar(hidden) + head

    def describe(self) -> dict:
        return {"gpu": self.gpu, "model": self.shape.name,
                "tensor_parallel": self.tensor_parallel, "attention_fit": self.attention.params,
                "ffn_fit": self.ffn.params,
                "all_reduce": "measured (Vidur H100 DGX)" if self.link is None
                else {"ring_over": self.link.to_dict()},
                "knee_exponents": {"projections": self.knee_proj, "ffn": self.knee_ffn},
                "op_costs": self.ops.to_dict(), "flop_rate_TFLOPs": self.flop_rate * 1e3 / 1e12}


def build_step_time(gpu: str = "h100", model: str = "llama3-70b", tensor_parallel: int = 1,
                    link: str | Link | float | None = "nvlink") -> StepTimeModel:
    """The model for a bundled GPU (``h100``, ``h200``) or a calibration CSV path.

    ``link``: ``"nvlink"`` or ``None`` (default) for the measured all-reduce within one
    node; another link (``"inter-node"``, a :class:`Link`, a bandwidth in GB/s, see
    :func:`lpsched.afd.timing.resolve_link`) for a ring all-reduce over it."""
    shape = _shape(model)
    cal = load_calibration(gpu)
    ring = None if link is None or link == "nvlink" else resolve_link(link)
    return StepTimeModel(cal.gpu, shape, _tp(tensor_parallel),
                         cal.attention_fit(model, "roofline"), cal.ffn_fit(model, "roofline"),
                         ring, load_op_costs(), *_knees(str(gpu), model))


def kernel_residuals(gpu: str = "h100", model: str = "llama3-70b") -> dict:
    """Relative error of the decode model against the measured kernels (module docstring).

    For every ``attn_layer`` row (batch ``B``, context ``c``) of the calibration with a
    ``ffn_dense`` row at the same batch: measured ``attn_layer + ffn_dense`` medians
    against the projections + attention + FFN ops of :meth:`StepTimeModel.layer_ms` with
    ``rows = B``, ``kv = B c``, no prefill, ``N = 1`` (the calibration rows hold no norms,
    rope or residual adds). Returns the median, max and RMS relative error and the point count.
    """
    m = build_step_time(gpu, model, 1)
    path = load_calibration(gpu).source
    c = read_calibration_csv(path)
    att = (c["part"] == "attn_layer") & (c["model"] == model)
    ffn = (c["part"] == "ffn_dense") & (c["model"] == model)
    ffn_ms = dict(zip(c["batch"][ffn].tolist(), c["ms_median"][ffn].tolist()))
    pts = [(b, b * x, y + ffn_ms[b]) for b, x, y in zip(c["batch"][att].tolist(),
                                                      c["ctx"][att].tolist(),
                                                      c["ms_median"][att].tolist())
           if b in ffn_ms]
    if not pts:
        raise CalibrationError(f"{path}: no attn_layer/ffn_dense rows of {model} at equal batch")
    b, kv, y = (np.asarray(v, dtype=float) for v in zip(*pts))
    parts = m.layer_ops_ms(b, kv, 0.0)
    rel = (parts["projections"] + parts["attention"] + parts["ffn"] - y) / y
    return {"gpu": m.gpu, "model": model, "points": int(y.size),
            "median_rel_error": float(np.median(np.abs(rel))),
            "max_rel_error": float(np.abs(rel).max()),
            "rms_rel_error": float(np.sqrt(np.mean(rel ** 2))),
            "mean_signed_error": float(rel.mean())}


def holdout_residuals(gpu: str = "h100", model: str = "llama3-70b", ctx_min: int = 32768,
                      rows_above: int = 2048) -> dict:
    """Extrapolation error: refit without some rows, predict them.

    The attention roofline is refitted without the rows of context ``>= ctx_min``
    (``attn_layer``, ``attn_core``) and evaluated on the held-out ``attn_layer`` rows; the
    FFN roofline is refitted without the ``ffn_dense`` rows above ``rows_above`` token rows
    (the prefill range) and evaluated on them. Median and max relative error of each.
    """
    c = read_calibration_csv(load_calibration(gpu).source)
    att_rows = (c["part"] == "attn_layer") | (c["part"] == "attn_core")
    drop = (att_rows & (c["ctx"] >= ctx_min)) | (
        (c["part"] == "ffn_dense") & (c["batch"] > rows_above))
    cal = fit_calibration({k: v[~drop] for k, v in c.items()}, str(gpu), "holdout")
    att, ffn = cal.attention_fit(model, "roofline"), cal.ffn_fit(model, "roofline")
    out: dict = {"gpu": str(gpu), "model": model}
    for name, sel, pred in (
            ("attention", (c["part"] == "attn_layer") & (c["ctx"] >= ctx_min),
             lambda b, x: att(b * x, b)),
            ("ffn", (c["part"] == "ffn_dense") & (c["batch"] > rows_above),
             lambda b, x: ffn(b))):
        sel = sel & (c["model"] == model)
        y = c["ms_median"][sel]
        rel = np.abs(pred(c["batch"][sel], c["ctx"][sel]) - y) / y
        out[name] = {"points": int(y.size), "median_rel_error": float(np.median(rel)),
                     "max_rel_error": float(rel.max())}
    return out


def kv_capacity(gpu: str, model: str, tensor_parallel: int,
                utilization: float = GPU_MEMORY_UTILIZATION) -> int:
    """KV tokens that fit on ``N`` GPUs after the weights (``M``, tokens).

    ``floor((utilization * memory * N - weight bytes) / kv bytes per token)``: device
    memory in GiB (80 for the H100, 141 for the H200, :data:`DEVICE_MEMORY_GB`), vLLM's
    default utilization 0.9 (the rest covers activations and the CUDA context), weights
    split evenly over the ``N`` GPUs, the KV cache of a token split by heads. Negative
    when the weights do not fit.
    """
    key = str(gpu).lower()
    if key not in GPUS:
        raise CalibrationError(f"unknown GPU {gpu!r}: device memory is known for "
                               f"{', '.join(GPUS)}; give --memory for another device")
    shape = _shape(model)
    n = _tp(tensor_parallel)
    free = utilization * DEVICE_MEMORY_GB[key] * 2 ** 30 * n - shape.weight_bytes
    return int(np.floor(free / shape.kv_bytes_per_token))


def default_tensor_parallel(gpu: str, model: str, need_tokens: int = 1) -> int:
    """The fewest GPUs (of :data:`TP_CHOICES`) whose KV capacity holds ``need_tokens``
    (the largest ``s + o`` of the workload: every request must fit alone)."""
    for n in TP_CHOICES:
        if kv_capacity(gpu, model, n) >= max(int(need_tokens), 1):
            return n
    raise CalibrationError(f"{model} on {max(TP_CHOICES)} x {gpu}: no room for a request of "
                           f"{need_tokens} tokens")
