"""Step-time models of an rA-1F bundle built from fitted calibrations.

Times are **milliseconds per transformer layer** (the calibration's unit); a decode
step of the whole model is ``n_layers`` times longer (AFD exchanges activations at
every layer, so every stage scales the same way and the optimal ratio does not depend
on the layer count).  Stages of one step (docs/design.md section 3):

* ``t_A(T, B)`` attention of one instance holding ``B`` requests with ``T`` KV tokens;
* ``t_C(B) = a_C*B + b_C`` sending ``B`` tokens' activations (``2*d_model`` bytes
  each) over the link, the same again on the way back;
* ``t_F(N)`` the FFN over the ``N = r*B`` tokens of the bundle (token rows for MoE,
  scaled by ``rows_per_token``).

:func:`step_time_callable` is the bridge to the scheduling simulator: a
non-disaggregated step on one GPU costs ``n_layers * (t_A(kv, batch) + t_F(batch))``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lpsched.afd.calibration import (
    MODELS,
    CalibrationError,
    Fit,
    Link,
    links,
    load_calibration,
)

__all__ = ["StepTimeModel", "build_step_model", "step_time_callable", "resolve_link",
           "TIME_UNIT"]

TIME_UNIT = "ms per layer"


def resolve_link(link: str | Link | float | None) -> Link:
    """``nvlink`` / ``inter-node`` (bundled Vidur fits), a :class:`Link`, or a
    bandwidth in GB/s (latency taken from the inter-node fit)."""
    if isinstance(link, Link):
        return link
    table = links()
    if link is None:
        return table["nvlink"]
    if isinstance(link, (int, float)):
        if link <= 0:
            raise CalibrationError(f"link bandwidth must be > 0 GB/s, got {link}")
        return Link(f"{link:g}GBps", table["inter-node"].latency_ms, float(link),
                    source="user bandwidth; latency of the Vidur inter-node fit")
    if link not in table:
        try:
            return resolve_link(float(link))
        except ValueError:
            raise CalibrationError(f"unknown link {link!r}: use {', '.join(table)} "
                                   "or a bandwidth in GB/s") from None
    return table[link]


@dataclass(frozen=True)
class StepTimeModel:
    """Attention, communication and FFN time models of one deployment."""

    attention: Fit
    ffn: Fit
    link: Link
    model: str = "llama3-70b"
    ffn_model: str = "llama3-70b"
    attn_gpu: str = "h200"
    ffn_gpu: str = "h200"
    kind: str = "linear"
    rows_per_token: float = 1.0

    @property
    def spec(self):
        return MODELS[self.model]

    @property
    def n_layers(self) -> int:
        return self.spec.n_layers

    @property
    def a_C(self) -> float:
        return self.spec.act_bytes_per_token * self.link.ms_per_byte

    @property
    def b_C(self) -> float:
        return self.link.latency_ms

    def t_A(self, T, B) -> np.ndarray:
        """Attention time of one instance (ms/layer); ``T`` KV tokens, ``B`` requests."""
        return self.attention(T, B)

    def t_C(self, B) -> np.ndarray:
        """One-way activation transfer of ``B`` tokens (ms/layer)."""
        return self.a_C * np.asarray(B, dtype=float) + self.b_C

    def t_F(self, N) -> np.ndarray:
        """FFN time for ``N`` tokens (ms/layer)."""
        return self.ffn(np.asarray(N, dtype=float) * self.rows_per_token)

    def coefficients(self, B: int | None = None) -> dict:
        """The seed model's linear coefficients (``a_A, b_A, a_C, b_C, a_F, b_F``).

        Exact for ``linear`` fits; a ``linear-batch`` attention term ``c*B`` is folded
        into ``b_A`` at batch ``B``; for ``roofline`` fits, the linear fit of the same
        calibration is returned (the closed form needs a linear model)."""
        att, ffn = self.attention, self.ffn
        if att.kind != "linear" and att.kind != "linear-batch":
            att = load_calibration(self.attn_gpu).attention_fit(self.model, "linear-batch")
        if ffn.kind != "linear":
            ffn = load_calibration(self.ffn_gpu).ffn_fit(self.ffn_model, "linear")
        b_A = att.params["b"]
        if att.kind == "linear-batch":
            if B is None:
                raise ValueError("coefficients() of a linear-batch attention fit need B")
            b_A = b_A + att.params["c"] * B
        return {"a_A": att.params["a"], "b_A": float(b_A), "a_C": self.a_C, "b_C": self.b_C,
                "a_F": ffn.params["a"] * self.rows_per_token, "b_F": ffn.params["b"],
                "unit": TIME_UNIT, "a_unit": "ms per layer per token",
                "fits": f"attention {att.kind} ({self.attn_gpu}), FFN {ffn.kind} ({self.ffn_gpu})"}

    def describe(self) -> dict:
        return {"model": self.model, "ffn_model": self.ffn_model, "attn_gpu": self.attn_gpu,
                "ffn_gpu": self.ffn_gpu, "kind": self.kind, "n_layers": self.n_layers,
                "attention_fit": self.attention.to_dict(), "ffn_fit": self.ffn.to_dict(),
                "link": self.link.to_dict(), "time_unit": TIME_UNIT,
                "rows_per_token": self.rows_per_token}


def build_step_model(gpu: str = "h200", model: str = "llama3-70b", ffn_model: str | None = None,
                     kind: str = "linear", link: str | Link | float | None = "nvlink",
                     ffn_gpu: str | None = None, attention_kind: str | None = None,
                     rows_per_token: float = 1.0) -> StepTimeModel:
    """Step-time model from bundled (or user CSV) calibrations.

    ``kind``: ``linear`` (seed model: ``t_A = a_A*T + b_A``), ``linear-batch`` (adds
    ``c_A*B`` to attention; FFN linear) or ``roofline`` (both roles roofline).
    ``attention_kind`` overrides the attention fit.  ``ffn_gpu`` lets the FFN run on
    another device type (heterogeneous bundles)."""
    if kind not in ("linear", "linear-batch", "roofline"):
        raise CalibrationError(f"unknown fit kind {kind!r}: use linear, linear-batch or roofline")
    if model not in MODELS:
        raise CalibrationError(f"unknown model {model!r}; available: {', '.join(MODELS)}")
    if rows_per_token <= 0:
        raise CalibrationError("rows_per_token must be > 0")
    ffn_model = ffn_model or model
    ffn_gpu = ffn_gpu or gpu
    att_kind = attention_kind or kind
    ffn_kind = "roofline" if kind == "roofline" else "linear"
    att = load_calibration(gpu).attention_fit(model, att_kind)
    ffn = load_calibration(ffn_gpu).ffn_fit(ffn_model, ffn_kind)
    return StepTimeModel(att, ffn, resolve_link(link), model, ffn_model, str(gpu), str(ffn_gpu),
                         kind, rows_per_token)


def step_time_callable(gpu: str = "h200", model: str = "llama3-70b", kind: str = "roofline",
                       unit: str = "s") -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``step_time(batch_size, kv_tokens) -> seconds`` for a non-disaggregated GPU.

    One decode step of a batch of ``batch_size`` requests holding ``kv_tokens`` KV
    tokens in total costs ``n_layers * (t_A(kv_tokens, batch_size) + t_F(batch_size))``
    (attention and dense FFN on the same device, no communication).  An empty batch
    (``batch_size == 0``) costs 0.  For ``lpsched.simulate.timed_latencies``.
    """
    m = build_step_model(gpu, model, kind=kind)
    scale = {"s": 1e-3, "ms": 1.0}.get(unit)
    if scale is None:
        raise CalibrationError(f"unit must be 's' or 'ms', got {unit!r}")
    L = m.n_layers

    def step_time(batch_size, kv_tokens):
        b = np.asarray(batch_size, dtype=float)
        kv = np.asarray(kv_tokens, dtype=float)
        if (b < 0).any() or (kv < 0).any():
            raise ValueError("step_time: batch_size and kv_tokens must be >= 0")
        t = L * (m.t_A(kv, b) + m.t_F(b)) * scale
        return np.where(b > 0, t, 0.0)

    step_time.model = m  # type: ignore[attr-defined]
    return step_time
