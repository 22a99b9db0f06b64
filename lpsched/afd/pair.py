"""Closed form and searches for the xA-yF pair: how many attention instances ``x`` and FFN
devices ``y`` (formulations/afd_sizing.md section 5).

At a fixed shard count ``y`` the stage times of :class:`~lpsched.afd.topology.BundleModel`
are, as functions of ``x`` (``N = x B`` tokens): attention ``t_A`` and the link ``t_C,y``
constant, and the FFN stage ``F(x) = max_i (alpha_i x + beta_i)`` - one linear piece for
a linear kernel (``a(w) N + b(w) + kappa``), two for a roofline kernel (the weight-read
floor ``b(w) + kappa`` and the compute branch ``a(w) n + kappa``), with
``kappa = kappa_0 + kappa_1 x`` the tp collective.  The step time
``tau(x) = max(c, F(x))``, ``c = max(t_A, t_C,y)``, is convex piecewise linear and the
throughput per device

    Theta(x, y) = x B / ((x + y) tau(x))

has, on a piece ``alpha x + beta``, derivative of the sign of ``y beta - alpha x^2``
(positive on the constant piece): decreasing within a piece and jumping down at every
breakpoint (slopes increase, intercepts decrease along a convex envelope).  So
``Theta(., y)`` is unimodal and its maximiser is where that sign changes:

    x*(y) = the crossing x_0 with c          if the first FFN piece peaks before it,
            p_i = sqrt(y beta_i / alpha_i)   if that peak lies inside piece i,
            the breakpoint between pieces    otherwise (the roofline knee).

For ``y = 1`` and a linear kernel this is the seed paper's ``r* = max(r_A, r_C,
r_peak)`` (Song et al., *Theoretically Optimal Attention/FFN Ratios in Disaggregated
LLM Serving*; :mod:`lpsched.afd.ratio`): ``x_0 = max(r_A, r_C)``,
``p = r_peak = sqrt(b_F / (a_F B))``; for ``y`` FFN devices the peak is
``sqrt(y beta_y / alpha_y)``.  The best integer ``x`` at a given ``y`` is ``floor`` or
``ceil`` of ``x*(y)``; the best pair scans the (few) admissible ``y``.  Regimes:
attention-, communication-bound (``x*`` at the crossing with
``t_A``, ``t_C,y``), FFN-bound (a peak: fixed FFN costs amortised past the balance
point) or FFN-knee (a roofline breakpoint).

Barrier-aware refinement: the FFN waits for the slowest of ``x`` attention instances,
``c(x) = E[t_A(M_x)]`` (:func:`~lpsched.afd.ratio.barrier_attention_time`), and a
randomly routed ep stage for the busiest of ``y`` devices; both grow with their count.
:func:`refine_pair` iterates the closed form with ``c = c(x_k)`` and the FFN pieces
scaled by the routing factor ``E[F] / F`` at ``x_k`` (a monotone fixed point from the
mean-load ``x*``), then rounds on the barrier-aware throughput; :func:`search_pair` is
the exhaustive search of the same barrier-aware model over the integer grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from lpsched.afd.ratio import barrier_attention_time
from lpsched.afd.workload import LoadStats

__all__ = ["Piece", "PairTerms", "PairForm", "pair_terms", "pair_closed_form",
           "pair_throughput", "refine_pair", "search_pair", "size_pair",
           "attention_bound_ratio", "tp_linear_shard_optimum"]


@dataclass(frozen=True)
class Piece:
    """One linear piece ``alpha x + beta`` of the FFN stage time (ms per layer)."""

    alpha: float
    beta: float
    name: str = "ffn"


@dataclass(frozen=True)
class PairTerms:
    """Stage times of an xA-yF bundle at a fixed ``y`` as functions of ``x``."""

    y: int
    B: int
    t_A: float
    t_C: float
    pieces: tuple

    @property
    def c(self) -> float:
        return max(self.t_A, self.t_C)

    def F(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return np.max([p.alpha * x + p.beta for p in self.pieces], axis=0)

    def tau(self, x) -> np.ndarray:
        return np.maximum(self.c, self.F(x))

    def throughput(self, x) -> np.ndarray:
        """``x B / ((x + y) tau(x))``: tokens per (ms per layer) per device."""
        x = np.asarray(x, dtype=float)
        return x * self.B / ((x + self.y) * self.tau(x))


def pair_terms(model, B: int, t_A: float | None = None, T_bar: float | None = None) -> PairTerms:
    """:class:`PairTerms` of an xA-yF (or rA-1F) step model at batch ``B``, with the
    attention time ``t_A`` given or taken at the mean load ``T_bar``."""
    if t_A is None:
        t_A = float(model.t_A(T_bar, B))
    y = getattr(model, "ffn_devices", 1)
    if y == 1:
        base = getattr(model, "base", model)
        fit, rpt = base.ffn, base.rows_per_token
        a, b, kind, per_x = fit.params["a"], fit.params["b"], fit.kind, B * rpt
        k0 = k1 = 0.0
    else:
        k = model.kernel
        a, b, kind = k.a, k.b, k.kind
        per_x = B * model.base.rows_per_token / (1 if model.parallel == "tp" else y)
        k0 = float(model.t_collective(0.0))
        k1 = float(model.t_collective(float(B))) - k0
    pieces: tuple[Piece, ...]
    if kind == "roofline":
        pieces = (Piece(k1, b + k0, "floor"), Piece(a * per_x + k1, k0, "compute"))
    else:
        pieces = (Piece(a * per_x + k1, b + k0, "ffn"),)
    return PairTerms(int(y), int(B), float(t_A), float(model.t_C(B)), pieces)


@dataclass(frozen=True)
class PairForm:
    y: int
    x_star: float  # continuous maximiser (inf if unbounded)
    x_int: int
    regime: str
    throughput: float  # at x_int, tokens per (ms per layer) per device
    tau: float
    terms: PairTerms = field(repr=False)

    def to_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "terms"}
        d["ratio"] = self.x_int / self.y
        return d


def _envelope(terms: PairTerms) -> list[tuple[float, float, float, float, str]]:
    """Segments ``(L, R, alpha, beta, name)`` of ``tau(x) = max(c, F(x))`` on ``x >= 0``."""
    lines = [(0.0, terms.c, "attention" if terms.t_A >= terms.t_C else "communication")]
    lines += [(p.alpha, p.beta, p.name) for p in terms.pieces]
    segs, x = [], 0.0
    while True:
        vals = [a * x + b for a, b, _ in lines]
        top = max(vals)
        # active line at x: the highest, ties broken by the larger slope (it stays on top)
        cur = max((i for i, v in enumerate(vals) if v >= top - 1e-12 * abs(top)),
                  key=lambda i: lines[i][0])
        a0, b0, name = lines[cur]
        nxt, who = math.inf, None
        for i, (a, b, _) in enumerate(lines):
            if a > a0:
                xc = (b0 - b) / (a - a0)
                if xc > x * (1 + 1e-15) + 1e-300 and xc < nxt:
                    nxt, who = xc, i
        segs.append((x, nxt, a0, b0, name))
        if who is None:
            return segs
        x = nxt


def pair_closed_form(terms: PairTerms, x_max: int | None = None) -> PairForm:
    """``x*(y)`` by the sign rule of the module docstring, the best integer ``x``
    (``floor`` or ``ceil``, at least 1, at most ``x_max``) and the regime."""
    x_star, regime = math.inf, "unbounded"
    segs = _envelope(terms)
    for k, (L, R, a, b, name) in enumerate(segs):
        if a <= 0:  # constant piece: Theta increases throughout
            continue
        p = math.sqrt(terms.y * b / a) if b > 0 else 0.0
        if p <= L:
            x_star = L
            prev = segs[k - 1][4] if k else name
            regime = ("FFN-knee" if prev in ("floor", "compute", "ffn") else f"{prev}-bound")
            break
        if p < R:
            x_star, regime = p, "FFN-bound"
            break
    hi = x_max if x_max is not None else max(1, math.ceil(x_star) if math.isfinite(x_star) else 1)
    if not math.isfinite(x_star):
        cands = [hi]
    else:
        cands = sorted({min(hi, max(1, math.floor(x_star))), min(hi, max(1, math.ceil(x_star)))})
    vals = [float(terms.throughput(x)) for x in cands]
    x_int = cands[int(np.argmax(vals))]
    return PairForm(terms.y, float(x_star), int(x_int), regime, max(vals),
                    float(terms.tau(x_int)), terms)


def pair_throughput(model, x, B: int, T_bar: float, stats: LoadStats | None = None) -> np.ndarray:
    """Per-device throughput of any xA-yF model, ``x B / ((x+y) max(t_A, t_C, F))``
    (tokens per ms-per-layer): attention at the mean load, or with ``stats`` the
    expected slowest of ``x`` instances and the expected busiest FFN device."""
    xs = np.atleast_1d(np.asarray(x, dtype=float))
    y = getattr(model, "ffn_devices", 1)
    if stats is None:
        tA = np.full(xs.shape, float(model.t_A(T_bar, B)))
        tF = model.t_F(xs * B)
    else:
        tA = np.array([barrier_attention_time(model, B, stats, v, T_bar) for v in xs])
        expect = getattr(model, "t_F_expected", None)
        tF = (np.array([expect(v * B) for v in xs]) if expect else model.t_F(xs * B))
    tau = np.maximum.reduce([tA, np.full(xs.shape, float(model.t_C(B))), tF])
    out = xs * B / ((xs + y) * tau)
    return out if np.ndim(x) else out[0]


def refine_pair(model, B: int, stats: LoadStats, T_bar: float, x_max: int = 64,
                iterations: int = 50) -> PairForm:
    """Barrier-aware refinement of :func:`pair_closed_form` (module docstring): the fixed
    point ``x_{k+1} = x*(c(x_k), routing factor at x_k)`` from the mean-load ``x*``,
    rounded to the better of ``floor``/``ceil`` on the barrier-aware throughput."""
    terms = pair_terms(model, B, T_bar=T_bar)
    form = pair_closed_form(terms, x_max)
    x = min(float(x_max), max(1.0, form.x_star))
    expect = getattr(model, "t_F_expected", None)
    for _ in range(iterations):
        c = barrier_attention_time(model, B, stats, x, T_bar)
        scale = 1.0
        if expect is not None and getattr(model, "routing", "balanced") == "random":
            scale = expect(x * B) / float(model.t_F(x * B))
        t = PairTerms(terms.y, terms.B, c, terms.t_C,
                      tuple(Piece(p.alpha * scale, p.beta * scale, p.name) for p in terms.pieces))
        form = pair_closed_form(t, x_max)
        nxt = min(float(x_max), max(1.0, form.x_star))
        if abs(nxt - x) < 1e-6:
            x = nxt
            break
        x = nxt
    cands = sorted({max(1, min(x_max, math.floor(x))), max(1, min(x_max, math.ceil(x)))})
    vals = pair_throughput(model, np.array(cands), B, T_bar, stats)
    k = int(np.argmax(vals))
    return PairForm(terms.y, x, int(cands[k]), form.regime, float(vals[k]),
                    float(cands[k] * B / ((cands[k] + terms.y) * vals[k])), form.terms)


def search_pair(models: dict, B: int, T_bar: float, stats: LoadStats | None = None,
                x_max: int = 64) -> dict:
    """Exhaustive search over ``x = 1..x_max`` and the models' ``y``: the best integer
    pair of :func:`pair_throughput` and every value (``{(x, y): throughput}``)."""
    xs = np.arange(1, x_max + 1)
    values = {}
    for y, m in models.items():
        thr = pair_throughput(m, xs, B, T_bar, stats)
        values.update({(int(x), int(y)): float(v) for x, v in zip(xs, thr)})
    best = max(values, key=lambda k: (values[k], -k[1], -k[0]))
    return {"best": best, "throughput": values[best], "values": values}


def attention_bound_ratio(y, c: float, B: int, a0: float, a1: float, b0: float, b1: float,
                          W: float, parallel: str, a_L: float = 0.0, b_L: float = 0.0):
    """``rho_A(y) = x_A(y) / y`` for a linear shard kernel ``a(w) n + b(w)`` (``a(w) = a0 +
    a1 w``, ``b(w) = b0 + b1 w``) when attention binds (``c`` = attention time): the
    per-device throughput is then ``(B / c) rho / (1 + rho)``, so an extra FFN device
    pays exactly when it raises ``rho_A`` (formulations/afd_sizing.md section 5)."""
    y = np.asarray(y, dtype=float)
    if parallel == "tp":
        num = c - b0 - b1 * W / y - 2 * (y - 1) * b_L
        den = B * (a0 * y + a1 * W + 2 * (y - 1) * a_L)
    else:
        num = c - b0 - b1 * W / y
        den = B * (a0 + a1 * W / y)
    return num / den


def tp_linear_shard_optimum(c: float, B: int, a0: float, a1: float, b0: float, b1: float,
                            W: float, a_L: float, b_L: float) -> float:
    """The continuous ``y`` maximising :func:`attention_bound_ratio` for ``tp``: with
    ``rho = (c1 - c2/y - c3 y) / (d1 + d2 y)``, ``c1 = c - b0 + 2 b_L``, ``c2 = b1 W``,
    ``c3 = 2 b_L``, ``d1 = B (a1 W - 2 a_L)``, ``d2 = B (a0 + 2 a_L)``, setting the
    derivative to zero gives ``(c3 d1 + c1 d2) y^2 - 2 c2 d2 y - c2 d1 = 0``, whose
    positive root is returned (``inf`` if the leading coefficient is not positive).
    Without bandwidth terms (``d2 = 0``) it is ``sqrt(b1 W / (2 b_L))``: the floor saving
    ``b1 W / y`` balanced against the collective latency ``2 (y - 1) b_L``."""
    c1, c2, c3 = c - b0 + 2 * b_L, b1 * W, 2 * b_L
    d1, d2 = B * (a1 * W - 2 * a_L), B * (a0 + 2 * a_L)
    qa, qb, qc = c3 * d1 + c1 * d2, -2 * c2 * d2, -c2 * d1
    if qa <= 0:
        return math.inf
    return float((-qb + math.sqrt(qb * qb - 4 * qa * qc)) / (2 * qa))


def size_pair(models: dict, workload, B: int = 256, horizon: int | None = None,
              x_max: int = 64) -> dict:
    """Everything ``lpsched afd size`` reports for xA-yF: per ``y`` the closed form and its
    barrier-aware refinement; the best pair of each; the barrier-aware exhaustive search;
    the regime and idle fractions at the recommended (refined) pair.  Throughputs in
    tokens/s per device."""
    if B < 1:
        raise ValueError(f"batch size B must be >= 1, got {B}")
    stats = workload.stats()
    T_bar = workload.T_bar(B, horizon)
    n_layers = next(iter(models.values())).n_layers
    per_s = 1e3 / n_layers
    rows, forms, refined = [], {}, {}
    for y, m in sorted(models.items()):
        terms = pair_terms(m, B, T_bar=T_bar)
        forms[y] = pair_closed_form(terms, x_max)
        refined[y] = refine_pair(m, B, stats, T_bar, x_max)
        rows.append({"ffn_devices": y, "x_star": forms[y].x_star, "x_int": forms[y].x_int,
                     "regime": forms[y].regime, "throughput_per_device": forms[y].throughput * per_s,
                     "x_star_barrier": refined[y].x_star, "x_int_barrier": refined[y].x_int,
                     "throughput_per_device_barrier": refined[y].throughput * per_s})
    y_cf = max(forms, key=lambda y: (forms[y].throughput, -y))
    y_bar = max(refined, key=lambda y: (refined[y].throughput, -y))
    search = search_pair(models, B, T_bar, stats, x_max)
    x, y = refined[y_bar].x_int, y_bar
    m = models[y]
    tau_bar = x * B / ((x + y) * refined[y].throughput)
    busy_A = float(m.t_A(T_bar, B))
    busy_F = float(m.t_F(x * B))
    return {
        "B": B, "T_bar": T_bar, "theta": stats.theta, "x_max": x_max,
        "attention_instances": x, "ffn_devices": y, "ratio": x / y,
        "regime": refined[y].regime, "parallel": getattr(m, "parallel", "tp"),
        "throughput_per_device": refined[y].throughput * per_s,
        "idle_attention": max(0.0, 1 - busy_A / tau_bar), "idle_ffn": max(0.0, 1 - busy_F / tau_bar),
        "step_ms_per_layer": tau_bar, "at_x_max": x == x_max,
        "closed_form": {"attention_instances": forms[y_cf].x_int, "ffn_devices": y_cf,
                        "x_star": forms[y_cf].x_star, "regime": forms[y_cf].regime,
                        "throughput_per_device": forms[y_cf].throughput * per_s},
        "search": {"attention_instances": search["best"][0], "ffn_devices": search["best"][1],
                   "throughput_per_device": search["throughput"] * per_s},
        "per_ffn_devices": rows, "throughput_unit": "tokens/s per device",
    }
