"""A/F-ratio integer program: choose ``r`` (and batch, micro-batches, device types,
number of bundles) for throughput or throughput per cost.

Configurations.  A configuration ``c = (r, B, m, a, f)`` is an rA-1F bundle with
``r`` attention devices of type ``a``, one FFN device of type ``f``, ``B`` slots per
attention device and ``m`` micro-batches (``None``: the fully pipelined seed model).
Its step time (ms per layer) is

* ``m = None``: ``tau_c = max(tA, t_C(B), t_F(rB))``,
* ``m >= 1``:  ``tau_c = max(m tA_m, m t_C(B/m), m t_F(rB/m), tA_m + 2 t_C(B/m) + t_F(rB/m))``
  (cycle time of the micro-batch flow shop: the busiest resource or one micro-batch's
  round trip), with ``tA_m = t_A(T/m, B/m)``;

``tA`` is the attention time at the mean load ``T = B theta`` or, ``barrier=True``,
the expected slowest of ``r`` instances (:func:`~lpsched.afd.ratio.barrier_attention_time`).
Its throughput is ``thr_c = r B / (n_layers tau_c)`` tokens/ms and its cost
``cost_c = r cost_a + cost_f``.  Feasibility filters (constants per configuration):

* KV capacity: ``B theta + z sqrt(B) sigma_L <= KV_a`` tokens, with ``KV_a =
  (kv_fraction * memory_a - attention weights) / kv_bytes_per_token`` (tail margin ``z``);
* latency: ``TPOT = n_layers tau_c <= tpot_ms``.

Integer program (pattern formulation, exact for the enumerated configuration set):

    max  sum_c thr_c y_c                    (or sum_c (thr_c / cost_c) z_c)
    s.t. y_c <= U z_c,  sum_c z_c <= 1      (one configuration; ``mix=True`` drops it)
         sum_c z_c >= 1,  y_c >= z_c        (at least one bundle)
         sum_c cost_c y_c <= budget
         sum_c (r_c [a_c = t] + [f_c = t]) y_c <= available_t      for each device type t
         y_c in {0..U} integer, z_c binary, only feasible c.

For throughput per cost, a second solve maximises throughput among the configurations
whose ratio is optimal.  :func:`build_sizing_model` returns the raw ``pulp.LpProblem``
with its variables so users can add constraints; :func:`brute_force` enumerates the same
configurations and bundle counts (used by the tests).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import highspy
import numpy as np
import pulp

from lpsched.afd.calibration import DEVICE_MEMORY_GB, MODELS, CalibrationError
from lpsched.afd.ratio import barrier_attention_time
from lpsched.afd.timing import build_step_model
from lpsched.models import _highs  # noqa: F401  (swallows the HiGHS banner at import)

__all__ = ["DeviceType", "SizingProblem", "Config", "SizingResult", "configurations",
           "build_sizing_model", "solve_sizing", "brute_force"]


@dataclass(frozen=True)
class DeviceType:
    """A device type: its calibration (``h100``, ``h200`` or a CSV), cost per device,
    HBM in GB and how many are available (``None``: unlimited)."""

    name: str
    gpu: str
    cost: float = 1.0
    memory_gb: float | None = None
    available: int | None = None

    def __post_init__(self) -> None:
        if self.cost <= 0:
            raise ValueError(f"device {self.name}: cost must be > 0")
        if self.memory_gb is None and self.gpu not in DEVICE_MEMORY_GB:
            raise ValueError(f"device {self.name}: give memory_gb for calibration {self.gpu!r}")
        if self.available is not None and self.available < 0:
            raise ValueError(f"device {self.name}: available must be >= 0")

    @property
    def memory(self) -> float:
        return float(self.memory_gb if self.memory_gb is not None else DEVICE_MEMORY_GB[self.gpu])


@dataclass(frozen=True)
class SizingProblem:
    workload: object
    devices: tuple = (DeviceType("h200", "h200", 1.0),)
    model: str = "llama3-70b"
    ffn_model: str | None = None
    r_values: tuple = tuple(range(1, 33))
    batch_sizes: tuple = (256,)
    micro_batches: tuple = (None,)
    attention_devices: tuple | None = None  # names allowed for attention (default all)
    ffn_devices: tuple | None = None
    tpot_ms: float | None = None
    kv_margin_z: float = 2.0
    kv_fraction: float = 0.9
    budget: float | None = None
    max_bundles: int = 64
    objective: str = "throughput"  # or "throughput_per_cost"
    kind: str = "linear"
    link: object = "nvlink"
    barrier: bool = True
    mix: bool = False

    def __post_init__(self) -> None:
        if self.objective not in ("throughput", "throughput_per_cost"):
            raise ValueError("objective must be 'throughput' or 'throughput_per_cost'")
        if not self.devices:
            raise ValueError("need at least one device type")
        if any(b < 1 for b in self.batch_sizes) or any(r < 1 for r in self.r_values):
            raise ValueError("batch sizes and r values must be >= 1")
        if self.max_bundles < 1:
            raise ValueError("max_bundles must be >= 1")
        if self.model not in MODELS:
            raise CalibrationError(f"unknown model {self.model!r}; available: {', '.join(MODELS)}")
        names = [d.name for d in self.devices]
        for role, allowed in (("attention", self.attention_devices), ("ffn", self.ffn_devices)):
            for n in allowed or ():
                if n not in names:
                    raise ValueError(f"{role} device {n!r} is not among the device types {names}")


@dataclass(frozen=True)
class Config:
    r: int
    B: int
    m: int | None
    attn: str
    ffn: str
    tau: float  # ms per layer per step
    tpot_ms: float
    throughput: float  # tokens/s per bundle
    cost: float
    kv_need: float  # tokens (mean + margin)
    kv_capacity: float
    feasible: bool
    reason: str = ""

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _tau(sm, r, B, m, tA_full, tA_micro):
    if m is None:
        return max(tA_full, float(sm.t_C(B)), float(sm.t_F(r * B)))
    b = B / m
    tC, tF = float(sm.t_C(b)), float(sm.t_F(r * b))
    return max(m * tA_micro, m * tC, m * tF, tA_micro + 2 * tC + tF)


def configurations(p: SizingProblem) -> list[Config]:
    """Every configuration with its constants and feasibility."""
    stats = p.workload.stats()
    spec = MODELS[p.model]
    att_names = p.attention_devices or tuple(d.name for d in p.devices)
    ffn_names = p.ffn_devices or tuple(d.name for d in p.devices)
    dev = {d.name: d for d in p.devices}
    out = []
    for an in att_names:
        a = dev[an]
        kv_cap = (p.kv_fraction * a.memory * 1e9 - spec.attn_weight_bytes) / spec.kv_bytes_per_token
        for fn in ffn_names:
            f = dev[fn]
            sm = build_step_model(a.gpu, p.model, p.ffn_model, kind=p.kind, link=p.link,
                                  ffn_gpu=f.gpu)
            for B in p.batch_sizes:
                mu, sd = stats.instance_load(B)
                kv_need = mu + p.kv_margin_z * sd
                for m in p.micro_batches:
                    if m is not None and (m < 1 or B % m):
                        continue
                    for r in p.r_values:
                        if p.barrier:
                            tA = barrier_attention_time(sm, B, stats, r)
                        else:
                            tA = float(sm.t_A(mu, B))
                        tAm = tA
                        if m is not None:
                            s_m = stats.instance_load(B // m)
                            tAm = (barrier_attention_time(sm, B // m, stats, r) if p.barrier
                                   else float(sm.t_A(s_m[0], B // m)))
                        tau = _tau(sm, r, B, m, tA, tAm)
                        tpot = tau * sm.n_layers
                        reasons = []
                        if kv_need > kv_cap:
                            reasons.append(f"KV {kv_need:.0f} > capacity {kv_cap:.0f} tokens")
                        if p.tpot_ms is not None and tpot > p.tpot_ms:
                            reasons.append(f"TPOT {tpot:.1f} > {p.tpot_ms} ms")
                        out.append(Config(r, B, m, an, fn, tau, tpot,
                                          r * B / tpot * 1e3, r * a.cost + f.cost, kv_need,
                                          kv_cap, not reasons, "; ".join(reasons)))
    return out


def _max_bundles(p: SizingProblem, c: Config) -> int:
    dev = {d.name: d for d in p.devices}
    u = p.max_bundles
    if p.budget is not None:
        u = min(u, math.floor(p.budget / c.cost + 1e-9))
    a, f = dev[c.attn], dev[c.ffn]
    need = {a.name: c.r}
    need[f.name] = need.get(f.name, 0) + 1
    for name, k in need.items():
        if dev[name].available is not None:
            u = min(u, dev[name].available // k)
    return max(u, 0)


@dataclass
class SizingModel:
    """The raw model: ``problem`` (``pulp.LpProblem``), ``y`` (bundles per configuration
    index), ``z`` (configuration chosen), ``configs``."""

    problem: pulp.LpProblem
    y: dict
    z: dict
    configs: list
    sizing: SizingProblem


def build_sizing_model(p: SizingProblem, configs: list[Config] | None = None,
                       objective: str | None = None, min_ratio: float | None = None
                       ) -> SizingModel:
    configs = configurations(p) if configs is None else configs
    objective = objective or p.objective
    prob = pulp.LpProblem("afd_sizing", pulp.LpMaximize)
    idx = [i for i, c in enumerate(configs) if c.feasible and _max_bundles(p, c) >= 1]
    y = {i: prob.add_variable(f"y_{i}", 0, _max_bundles(p, configs[i]), cat="Integer")
         for i in idx}
    z = {i: prob.add_variable(f"z_{i}", 0, 1, cat="Binary") for i in idx}
    if objective == "throughput":
        prob += pulp.lpSum(configs[i].throughput * y[i] for i in idx)
    else:
        prob += pulp.lpSum(configs[i].throughput / configs[i].cost * z[i] for i in idx)
    for i in idx:
        prob += y[i] <= _max_bundles(p, configs[i]) * z[i], f"link_{i}"
        prob += y[i] >= z[i], f"one_bundle_{i}"
    if not p.mix or objective != "throughput":
        prob += pulp.lpSum(z.values()) <= 1, "one_configuration"
    prob += pulp.lpSum(z.values()) >= 1, "something"
    if p.budget is not None:
        prob += pulp.lpSum(configs[i].cost * y[i] for i in idx) <= p.budget, "budget"
    for d in p.devices:
        if d.available is not None:
            use = [(configs[i].r * (configs[i].attn == d.name) + (configs[i].ffn == d.name), i)
                   for i in idx]
            prob += pulp.lpSum(k * y[i] for k, i in use if k) <= d.available, f"avail_{d.name}"
    if min_ratio is not None:
        prob += pulp.lpSum(configs[i].throughput / configs[i].cost * z[i] for i in idx) \
            >= min_ratio, "ratio_floor"
    return SizingModel(prob, y, z, configs, p)


@dataclass(frozen=True)
class SizingResult:
    status: str  # optimal | infeasible | time_limit | error
    objective: float | None
    bound: float | None
    chosen: list = field(default_factory=list)  # [(Config, bundles)]
    throughput: float = 0.0  # tokens/s
    cost: float = 0.0
    configs_total: int = 0
    configs_feasible: int = 0
    runtime: float = 0.0

    def to_dict(self) -> dict:
        return {"status": self.status, "objective": self.objective, "bound": self.bound,
                "chosen": [{**c.to_dict(), "bundles": n} for c, n in self.chosen],
                "throughput": self.throughput, "cost": self.cost,
                "throughput_per_cost": self.throughput / self.cost if self.cost else None,
                "configs_total": self.configs_total, "configs_feasible": self.configs_feasible,
                "runtime_s": self.runtime}


def _run(model: SizingModel, time_limit: float | None):
    solver = pulp.HiGHS(msg=False, timeLimit=time_limit, threads=1)
    # lpsched.models._highs swallows HiGHS's banner at import; reset HiGHS's global thread
    # scheduler so that threads=1 works after any earlier solve with another thread count.
    highspy.Highs.resetGlobalScheduler(True)
    model.problem.solve(solver)
    h = model.problem.solverModel
    st = h.getModelStatus()
    name = h.modelStatusToString(st).lower()
    info = h.getInfo()
    if "optimal" in name:
        status = "optimal"
    elif "infeasible" in name:
        status = "infeasible"
    elif "time" in name:
        status = "time_limit"
    else:
        status = "error"
    sign = -1.0 if model.problem.sense == pulp.LpMaximize else 1.0  # HiGHS minimises
    ok = status in ("optimal", "time_limit")
    obj = sign * float(info.objective_function_value) if ok else None
    bound = sign * float(info.mip_dual_bound) if ok else None
    return status, obj, bound




def solve_sizing(p: SizingProblem, time_limit: float | None = 30.0) -> SizingResult:
    """Solve the sizing IP with HiGHS (status and bound read from HiGHS itself)."""
    import time
    t0 = time.perf_counter()
    configs = configurations(p)
    nfeas = sum(c.feasible for c in configs)
    model = build_sizing_model(p, configs)
    if not model.y:
        return SizingResult("infeasible", None, None, [], 0.0, 0.0, len(configs), nfeas,
                            time.perf_counter() - t0)
    status, obj, bound = _run(model, time_limit)
    if status == "optimal" and p.objective == "throughput_per_cost":
        # second stage: most throughput among ratio-optimal configurations
        model = build_sizing_model(p, configs, objective="throughput",
                                   min_ratio=obj * (1 - 1e-9))
        status, _, _ = _run(model, time_limit)
    chosen = []
    if status in ("optimal", "time_limit"):
        for i, v in model.y.items():
            n = int(round(v.value() or 0))
            if n > 0:
                chosen.append((configs[i], n))
    thr = sum(c.throughput * n for c, n in chosen)
    cost = sum(c.cost * n for c, n in chosen)
    return SizingResult(status, obj, bound, chosen, thr, cost, len(configs), nfeas,
                        time.perf_counter() - t0)


def brute_force(p: SizingProblem, configs: list[Config] | None = None) -> tuple[float, list]:
    """Best objective by enumerating every feasible configuration and bundle count
    (single configuration; ``mix`` is not enumerated).  Returns ``(value, best)``
    with ``best`` the list of ``(Config, bundles)`` attaining it."""
    configs = configurations(p) if configs is None else configs
    best_val, best = -np.inf, []
    for c in configs:
        if not c.feasible:
            continue
        u = _max_bundles(p, c)
        if u < 1:
            continue
        val = c.throughput * u if p.objective == "throughput" else c.throughput / c.cost
        if val > best_val * (1 + 1e-12):
            best_val, best = val, [(c, u)]
        elif val >= best_val * (1 - 1e-12):
            best.append((c, u))
    return (best_val if best else None), best
