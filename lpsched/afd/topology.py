"""xA-yF bundles: ``x`` attention instances feeding one FFN stage sharded over ``y`` devices.

The rA-1F step model of :mod:`lpsched.afd.timing` is the case ``y = 1``: at ``y = 1``
every stage time below *is* the rA-1F one (same function, same floating-point result).
Times are milliseconds per layer; ``N = x B`` tokens enter the FFN stage per step.

Sharding (``parallel``):

* ``tp`` (dense FFN, tensor parallel; Megatron-style column/row split of ``d_ff``): every
  FFN device processes all ``N`` token rows with ``1/y`` of the weights.  Attention
  instance ``i`` sends its ``B`` tokens to one FFN device (its entry shard); the stage
  all-gathers the inputs, runs the shard GEMMs and reduce-scatters the outputs, and each
  entry shard returns its instances' results.  This is the FFN-instance workflow of
  Step-3's AFD (arXiv 2507.19427, section 7.1: "all-gather ... reduce-scatter").  Ring
  all-gather plus reduce-scatter of ``N`` activations over the FFN group's link
  (latency ``b_L``, ``a_L`` ms per token of ``2 d_model`` bytes) costs

      kappa(N, y) = 2 (y - 1) (b_L + a_L N / y),

  the volume of one ring all-reduce, on the stage's critical path (the gather must
  precede the GEMM, the scatter follow it);
* ``ep`` (MoE, expert parallel): device ``j`` holds ``E / y`` of the ``E`` experts
  (``y`` must divide ``E``) and receives the rows routed to them: ``N / y`` rows each
  (``routing="balanced"``) or a multinomial share (``routing="random"``: every row picks
  a device uniformly and independently; the stage waits for the busiest device).  The
  dispatch/combine all-to-all *is* the attention-FFN transfer (MegaScale-Infer's M2N,
  arXiv 2504.02263): each attention instance sends ``B / y`` rows to each of ``y``
  devices one message after another, ``t_C,y(B) = a_C B + y b_C`` each way; no
  collective inside the FFN stage.

Per-device kernel at weight share ``W / y`` (``W`` the FFN weight bytes per layer,
:data:`~lpsched.afd.calibration.FFN_WEIGHT_BYTES`): a measured FFN kernel is
``max(b, a n)`` (roofline) or ``a n + b`` (linear) in the ``n`` rows it processes, with
``b`` the weight-read floor and ``a`` the per-row cost.  Both are taken affine in the
device's weight bytes, ``b(w) = b_0 + b_1 w`` and ``a(w) = a_0 + a_1 w``, fitted through
the same-kind fits of the model and its measured siblings on the same GPU (dense:
``llama3-70b`` and ``llama3-8b``, whose FFN is exactly a 4-way shard of the 70B one in
bytes and FLOPs per token; MoE: ``dsv3-moe-e32`` and ``dsv3-moe-e8``, exactly a 4-way
expert split).  ``b_0`` is the per-kernel overhead that does not shrink with the shard
(~0.03-0.04 ms on our GPUs), ``a_0`` the per-row cost independent of the width.  So a
4-way shard of ``llama3-70b`` runs exactly the measured ``llama3-8b`` kernel and a 4-way
split of ``dsv3-moe-e32`` the measured ``dsv3-moe-e8`` one; other shares interpolate,
shares below the smallest measured kernel extrapolate linearly (reported as
``extrapolated``).  Without a measured sibling (user CSVs) the kernel is scaled
proportionally (``b_0 = a_0 = 0`` for ``tp``; ``a`` unchanged per row for ``ep``).

FFN stage time, per step: ``F(N) = k(n(N)) + kappa(N, y)`` with ``n = N`` (tp) or the
rows of the busiest device (ep).  Assumptions (besides the rA-1F ones of
docs/design.md section 3, including that the FFN side's ingress bandwidth is not a
bottleneck): shard GEMMs run at the efficiency the sibling kernel measured; no
expert skew beyond the multinomial one; the FFN devices of one stage sit on one link
(default NVLink: one node, ``y <= 8``); collectives and GEMMs do not overlap within
a step (overlap across micro-batches is the micro-batch pipeline's business).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lpsched.afd.calibration import (
    FFN_MODELS,
    FFN_WEIGHT_BYTES,
    CalibrationError,
    Link,
    ffn_family,
    load_calibration,
)
from lpsched.afd.ratio import expected_max
from lpsched.afd.timing import StepTimeModel, build_step_model, resolve_link

__all__ = ["PARALLEL", "ROUTING", "ShardKernel", "shard_kernel", "BundleModel",
           "build_bundle_model", "valid_ffn_devices", "default_parallel"]

PARALLEL = ("tp", "ep")
ROUTING = ("balanced", "random")


@dataclass(frozen=True)
class ShardKernel:
    """Per-device FFN kernel of one shard: ``max(b, a n)`` (roofline) or ``a n + b``
    (linear) in the ``n`` rows the device processes (ms per layer).

    ``share`` is the device's fraction of the FFN weights (``1 / y``), ``source`` says
    which measured kernels the parameters come from, ``extrapolated`` whether the share
    lies outside the measured ones."""

    kind: str
    a: float
    b: float
    share: float
    source: str
    extrapolated: bool = False

    def __call__(self, rows) -> np.ndarray:
        n = np.asarray(rows, dtype=float)
        if self.kind == "roofline":
            return np.maximum(self.b, self.a * n)
        return self.a * n + self.b

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def default_parallel(ffn_model: str) -> str:
    """``ep`` for the bundled MoE expert layers, ``tp`` otherwise."""
    return "ep" if ffn_family(ffn_model) == "moe" else "tp"


def valid_ffn_devices(ffn_model: str, parallel: str, y: int) -> str | None:
    """Why ``y`` FFN devices cannot shard ``ffn_model`` this way (``None`` if they can)."""
    if int(y) != y or y < 1:
        return f"the number of FFN devices must be a positive integer, got {y}"
    if parallel == "ep":
        experts = FFN_MODELS.get(ffn_model, (None, None, None))[2]
        if experts is None:
            return f"expert parallelism needs an MoE FFN model (dsv3-moe-e*), not {ffn_model!r}"
        if experts % y:
            return f"expert parallelism over {y} devices needs {y} to divide the {experts} experts"
    return None


def _family_points(cal, ffn_model: str, kind: str) -> list[tuple[float, float, float, str]]:
    """(weight bytes, a, b, name) of the measured kernels of ``ffn_model``'s family."""
    fam = ffn_family(ffn_model)
    pts = []
    for name in FFN_WEIGHT_BYTES:
        if ffn_family(name) == fam and name in cal.ffn:
            p = cal.ffn_fit(name, kind).params
            pts.append((float(FFN_WEIGHT_BYTES[name]), p["a"], p["b"], name))
    return sorted(pts)


def shard_kernel(gpu: str, ffn_model: str, kind: str, y: int, parallel: str) -> ShardKernel:
    """The per-device kernel of a ``y``-way shard of ``ffn_model`` (module docstring).

    ``b(w) = b_0 + b_1 w`` and ``a(w) = a_0 + a_1 w`` by least squares (exact through
    two points) over the family's measured fits of ``kind`` on ``gpu``, evaluated at
    ``w = W / y``.  With no sibling the kernel is scaled proportionally."""
    if kind not in ("linear", "roofline"):
        raise CalibrationError(f"FFN kernels are linear or roofline, not {kind!r}")
    cal = load_calibration(gpu)
    own = cal.ffn_fit(ffn_model, kind).params
    share = 1.0 / y
    pts = _family_points(cal, ffn_model, kind) if ffn_model in FFN_WEIGHT_BYTES else []
    if len(pts) < 2:
        a = own["a"] * (share if parallel == "tp" else 1.0)
        return ShardKernel(kind, float(a), float(own["b"] * share), share,
                           f"{ffn_model} scaled by 1/{y} (no measured sibling kernel)")
    w = FFN_WEIGHT_BYTES[ffn_model] * share
    W = np.array([p[0] for p in pts])
    X = np.column_stack([np.ones_like(W), W])
    a0, a1 = np.linalg.lstsq(X, np.array([p[1] for p in pts]), rcond=None)[0]
    b0, b1 = np.linalg.lstsq(X, np.array([p[2] for p in pts]), rcond=None)[0]
    exact = [p for p in pts if math.isclose(p[0], w, rel_tol=1e-12)]
    if exact:  # a measured kernel holds exactly this share: use it as measured
        a, b, source = exact[0][1], exact[0][2], f"measured {exact[0][3]} kernel"
    else:
        a, b = a0 + a1 * w, b0 + b1 * w
        source = "affine in weight bytes through " + ", ".join(p[3] for p in pts)
    return ShardKernel(kind, float(max(a, 1e-12)), float(max(b, 0.0)), share, source,
                       extrapolated=not W.min() <= w <= W.max())


@dataclass(frozen=True)
class BundleModel:
    """Step-time model of an xA-yF bundle (module docstring); the simulator, the ratio
    searches and the sizing program use its ``t_A``, ``t_C``, ``t_F`` and ``n_layers``
    exactly as they use a :class:`~lpsched.afd.timing.StepTimeModel` (``y = 1``)."""

    base: StepTimeModel
    ffn_devices: int = 1
    parallel: str = "tp"
    kernel: ShardKernel | None = None
    ffn_link: Link | None = None
    routing: str = "balanced"

    def _shard_kernel(self) -> ShardKernel:
        """The per-device kernel of a sharded stage (``y > 1``)."""
        if self.kernel is None:
            raise CalibrationError("this FFN stage is not sharded: it has no shard kernel")
        return self.kernel

    def _group_link(self) -> Link:
        """The link of the FFN group's collectives."""
        if self.ffn_link is None:
            raise CalibrationError("no link given for the FFN group's collectives (ffn_link)")
        return self.ffn_link

    # the rA-1F model's descriptors
    @property
    def n_layers(self) -> int:
        return self.base.n_layers

    @property
    def spec(self):
        return self.base.spec

    @property
    def kind(self) -> str:
        return self.base.kind

    @property
    def attn_gpu(self) -> str:
        return self.base.attn_gpu

    @property
    def ffn_gpu(self) -> str:
        return self.base.ffn_gpu

    @property
    def model(self) -> str:
        return self.base.model

    @property
    def ffn_model(self) -> str:
        return self.base.ffn_model

    @property
    def a_L(self) -> float:
        """Collective cost per token inside the FFN group (ms per layer)."""
        return self.spec.act_bytes_per_token * self._group_link().ms_per_byte

    @property
    def b_L(self) -> float:
        return self._group_link().latency_ms

    def t_A(self, T, B) -> np.ndarray:
        return self.base.t_A(T, B)

    def t_C(self, B) -> np.ndarray:
        """One-way attention-FFN transfer of one instance's ``B`` tokens: ``a_C B + b_C``
        (tp: to one entry shard), ``a_C B + y b_C`` (ep: one message per device)."""
        if self.ffn_devices == 1 or self.parallel == "tp":
            return self.base.t_C(B)
        return self.base.t_C(B) + (self.ffn_devices - 1) * self.base.b_C

    def rows(self, N) -> np.ndarray:
        """Rows one FFN device processes for ``N`` tokens (balanced routing)."""
        n = np.asarray(N, dtype=float) * self.base.rows_per_token
        return n if self.parallel == "tp" else n / self.ffn_devices

    def t_collective(self, N) -> np.ndarray:
        """``kappa(N, y) = 2 (y-1) (b_L + a_L N / y)`` for tp, 0 for ep (ms per layer)."""
        N = np.asarray(N, dtype=float)
        y = self.ffn_devices
        if y == 1 or self.parallel == "ep":
            return np.zeros(N.shape)
        return 2 * (y - 1) * (self.b_L + self.a_L * N / y)

    def t_F_device(self, rows) -> np.ndarray:
        """Per-device kernel time for ``rows`` rows (ms per layer)."""
        if self.ffn_devices == 1:
            return self.base.ffn(np.asarray(rows, dtype=float))
        return self._shard_kernel()(rows)

    def t_F(self, N) -> np.ndarray:
        """FFN stage time for ``N`` tokens with balanced routing (ms per layer)."""
        if self.ffn_devices == 1:
            return self.base.t_F(N)
        return self._shard_kernel()(self.rows(N)) + self.t_collective(N)

    def t_F_expected(self, N: float) -> float:
        """Expected stage time: :meth:`t_F` unless routing is random (ep), then the busiest
        of ``y`` devices with multinomial rows, ``E[k(max_j n_j)]``, by the Gaussian
        approximation ``n_j ~ N(n / y, n (1/y)(1 - 1/y))`` (:func:`~lpsched.afd.ratio.expected_max`;
        it ignores the counts' negative correlation, a slight overestimate)."""
        y = self.ffn_devices
        if y == 1 or self.routing == "balanced" or self.parallel == "tp":
            return float(self.t_F(N))
        n = float(N) * self.base.rows_per_token
        sd = math.sqrt(n * (1.0 / y) * (1.0 - 1.0 / y))
        return expected_max(self._shard_kernel(), n / y, sd, y)

    def coefficients(self, B: int | None = None) -> dict:
        return self.base.coefficients(B)

    def describe(self) -> dict:
        d = self.base.describe()
        d.update({"ffn_devices": self.ffn_devices, "parallel": self.parallel,
                  "routing": self.routing})
        if self.ffn_devices > 1:
            d["shard_kernel"] = self._shard_kernel().to_dict()
            if self.ffn_link is not None:
                d["ffn_link"] = self.ffn_link.to_dict()
        return d


def build_bundle_model(gpu: str = "h200", model: str = "llama3-70b", ffn_model: str | None = None,
                       kind: str = "linear", link: str | Link | float | None = "nvlink",
                       ffn_gpu: str | None = None, ffn_devices: int = 1,
                       parallel: str | None = None, ffn_link: str | Link | float | None = "nvlink",
                       routing: str = "balanced", attention_kind: str | None = None,
                       rows_per_token: float = 1.0) -> BundleModel:
    """xA-yF step model from the bundled (or user CSV) calibrations.

    Parameters are those of :func:`~lpsched.afd.timing.build_step_model` plus
    ``ffn_devices`` (``y``), ``parallel`` (``tp``/``ep``; default ``ep`` for MoE expert
    layers, ``tp`` for dense FFNs), ``ffn_link`` (the link of the FFN group's
    collectives) and ``routing`` (``balanced``/``random``, ep only).  The FFN kernel is
    roofline when ``kind == "roofline"`` and linear otherwise, as in rA-1F."""
    base = build_step_model(gpu, model, ffn_model, kind=kind, link=link, ffn_gpu=ffn_gpu,
                            attention_kind=attention_kind, rows_per_token=rows_per_token)
    parallel = parallel or default_parallel(base.ffn_model)
    if parallel not in PARALLEL:
        raise CalibrationError(f"unknown parallelism {parallel!r}: use tp or ep")
    if routing not in ROUTING:
        raise CalibrationError(f"unknown routing {routing!r}: use balanced or random")
    if parallel == "tp" and ffn_family(base.ffn_model) == "moe":
        raise CalibrationError("tensor-parallel MoE stages are not modelled: use ep for "
                               f"{base.ffn_model}")
    why = valid_ffn_devices(base.ffn_model, parallel, ffn_devices)
    if why:
        raise CalibrationError(why)
    y = int(ffn_devices)
    kernel = None
    if y > 1:
        kernel = shard_kernel(base.ffn_gpu, base.ffn_model, base.ffn.kind, y, parallel)
    return BundleModel(base, y, parallel, kernel, resolve_link(ffn_link), routing)
