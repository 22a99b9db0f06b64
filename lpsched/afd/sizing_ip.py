"""A/F sizing integer program: choose ``x`` attention instances, ``y`` FFN devices, batch,
micro-batches, device types per role and the number of bundles, for throughput or
throughput per cost.

Configurations.  A configuration ``c = (x, y, B, m, a, f)`` is an xA-yF bundle
(:mod:`lpsched.afd.topology`; rA-1F when ``y = 1``) with ``x`` attention devices of
type ``a``, an FFN stage sharded over ``y`` devices of type ``f``, ``B`` slots per
attention device and ``m`` micro-batches (``None``: the fully pipelined seed model).
Its step time (ms per layer) is

* ``m = None``: ``tau_c = max(tA, t_C,y(B), F(xB))``,
* ``m >= 1``:  ``tau_c = max(m tA_m, m t_C,y(B/m), m F(xB/m), tA_m + 2 t_C,y(B/m) + F(xB/m))``
  (cycle time of the micro-batch flow shop: the busiest resource or one micro-batch's
  round trip), with ``tA_m = t_A(T/m, B/m)``;

``F`` is the FFN stage (per-device kernel plus the tp collective; with ``barrier=True``
and random ep routing its expectation over the busiest device), ``tA`` the attention
time at the mean load ``T = B theta`` or, ``barrier=True``, the expected slowest of
``x`` instances (:func:`~lpsched.afd.ratio.barrier_attention_time`).  Its throughput
is ``thr_c = x B / (n_layers tau_c)`` tokens/ms and its cost ``cost_c = x cost_a +
y cost_f``.  Feasibility filters (constants per configuration):

* KV capacity: ``B theta + z sqrt(B) sigma_L <= KV_a`` tokens, with ``KV_a =
  (kv_fraction * memory_a - attention weights) / kv_bytes_per_token`` (tail margin ``z``);
* latency: ``TPOT = n_layers tau_c <= tpot_ms``;
* FFN weights (``ffn_memory=True``): ``n_layers W / y <= kv_fraction * memory_f`` (the
  FFN weights ``W`` per layer, :data:`~lpsched.afd.calibration.FFN_WEIGHT_BYTES`, split
  over the ``y`` devices).  Off by default: the rA-1F planner never checked it, and a
  dense 70B FFN (113 GB) does not fit one H100.

Integer program (pattern formulation, exact for the enumerated configuration set;
``n_c`` bundles of configuration ``c``, ``z_c`` chosen; the model's variables are
``SizingModel.y`` for ``n_c`` and ``SizingModel.z``):

    max  sum_c thr_c n_c                    (or sum_c (thr_c / cost_c) z_c)
    s.t. n_c <= U z_c,  sum_c z_c <= 1      (one configuration; ``mix=True`` drops it)
         sum_c z_c >= 1,  n_c >= z_c        (at least one bundle)
         sum_c cost_c n_c <= budget
         sum_c (x_c [a_c = t] + y_c [f_c = t]) n_c <= available_t      for each device type t
         n_c in {0..U} integer, z_c binary, only feasible c.

For throughput per cost, a second solve maximises throughput among the configurations
whose ratio is optimal.  :func:`build_sizing_model` returns the raw ``pulp.LpProblem``
with its variables so users can add constraints; :func:`brute_force` enumerates the same
configurations and bundle counts (used by the tests); :func:`explain_infeasible` says
which constraint (KV capacity, TPOT, FFN memory, budget, availability) leaves nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import highspy
import numpy as np
import pulp

from lpsched.afd.calibration import (
    DEVICE_MEMORY_GB,
    FFN_WEIGHT_BYTES,
    MODELS,
    CalibrationError,
    Link,
)
from lpsched.afd.ratio import barrier_attention_time
from lpsched.afd.topology import build_bundle_model, default_parallel, valid_ffn_devices
from lpsched.afd.workload import Workload
from lpsched.models import _highs  # noqa: F401  (swallows the HiGHS banner at import)

__all__ = ["DeviceType", "SizingProblem", "Config", "SizingResult", "configurations",
           "build_sizing_model", "solve_sizing", "brute_force", "explain_infeasible",
           "kv_capacity", "max_batch_for_kv"]


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
    """What to size: the workload, device types and the candidate values of every choice.

    ``attention_types`` / ``ffn_types``: names of the device types allowed per role
    (default all); ``y_values``: candidate FFN device counts ``y`` (default ``(1,)``,
    the rA-1F planner); ``parallel``, ``ffn_link``, ``routing``: the FFN stage's sharding
    (:func:`~lpsched.afd.topology.build_bundle_model`)."""

    workload: Workload
    devices: tuple = (DeviceType("h200", "h200", 1.0),)
    model: str = "llama3-70b"
    ffn_model: str | None = None
    r_values: tuple = tuple(range(1, 33))
    batch_sizes: tuple = (256,)
    micro_batches: tuple = (None,)
    attention_types: tuple | None = None  # names allowed for attention (default all)
    ffn_types: tuple | None = None
    tpot_ms: float | None = None
    kv_margin_z: float = 2.0
    kv_fraction: float = 0.9
    budget: float | None = None
    max_bundles: int = 64
    objective: str = "throughput"  # or "throughput_per_cost"
    kind: str = "linear"
    link: str | Link | float | None = "nvlink"
    barrier: bool = True
    mix: bool = False
    y_values: tuple = (1,)
    parallel: str | None = None
    ffn_link: str | Link | float | None = "nvlink"
    routing: str = "balanced"
    ffn_memory: bool = False

    def __post_init__(self) -> None:
        if self.objective not in ("throughput", "throughput_per_cost"):
            raise ValueError("objective must be 'throughput' or 'throughput_per_cost'")
        if not self.devices:
            raise ValueError("need at least one device type")
        if any(b < 1 for b in self.batch_sizes) or any(r < 1 for r in self.r_values):
            raise ValueError("batch sizes and r values must be >= 1")
        if not self.y_values:
            raise ValueError("need at least one FFN device count")
        if self.max_bundles < 1:
            raise ValueError("max_bundles must be >= 1")
        if self.model not in MODELS:
            raise CalibrationError(f"unknown model {self.model!r}; available: {', '.join(MODELS)}")
        ffn = self.ffn_model or self.model
        par = self.parallel or default_parallel(ffn)
        for y in self.y_values:
            why = valid_ffn_devices(ffn, par, y)
            if why:
                raise ValueError(why)
        names = [d.name for d in self.devices]
        for role, allowed in (("attention", self.attention_types), ("ffn", self.ffn_types)):
            for n in allowed or ():
                if n not in names:
                    raise ValueError(f"{role} device {n!r} is not among the device types {names}")


@dataclass(frozen=True)
class Config:
    r: int  # attention instances x
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
    y: int = 1  # FFN devices
    regime: str = ""  # the stage that binds tau at this configuration
    idle_attention: float = 0.0  # mean attention instance idle fraction (mean load)
    idle_ffn: float = 0.0

    @property
    def devices(self) -> int:
        return self.r + self.y

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d.update(attention_instances=self.r, ffn_devices=self.y,
                 throughput_per_device=self.throughput / self.devices)
        return d


def _tau(sm, r, B, m, tA_full, tA_micro, t_F=None):
    """Cycle time of a configuration (module doc); ``t_F`` overrides ``sm.t_F``."""
    t_F = t_F or (lambda N: float(sm.t_F(N)))
    if m is None:
        return max(tA_full, float(sm.t_C(B)), float(t_F(r * B)))
    b = B / m
    tC, tF = float(sm.t_C(b)), float(t_F(r * b))
    return max(m * tA_micro, m * tC, m * tF, tA_micro + 2 * tC + tF)


def _stages(sm, r, B, m, tA_full, tA_micro, t_F) -> dict:
    """The terms of :func:`_tau` by name (the largest names the regime)."""
    if m is None:
        return {"attention-bound": tA_full, "communication-bound": float(sm.t_C(B)),
                "FFN-bound": float(t_F(r * B))}
    b = B / m
    tC, tF = float(sm.t_C(b)), float(t_F(r * b))
    return {"attention-bound": m * tA_micro, "communication-bound": m * tC,
            "FFN-bound": m * tF, "round-trip-bound": tA_micro + 2 * tC + tF}


def kv_capacity(memory_gb: float, model: str = "llama3-70b", kv_fraction: float = 0.9) -> float:
    """KV tokens an attention device holds: ``(kv_fraction * HBM - attention weights) /
    KV bytes per token`` (all layers, bf16)."""
    spec = MODELS[model]
    return (kv_fraction * memory_gb * 1e9 - spec.attn_weight_bytes) / spec.kv_bytes_per_token


def max_batch_for_kv(stats, capacity: float, z: float = 2.0, B_max: int = 4096) -> int:
    """The largest ``B <= B_max`` with ``B theta + z sqrt(B) sigma_L <= capacity`` (0 if
    none): the KV filter of the configurations, solved for ``B``."""
    ok = [B for B in range(1, B_max + 1)
          if stats.instance_load(B)[0] + z * stats.instance_load(B)[1] <= capacity]
    return max(ok) if ok else 0


class _ConfigBuilder:
    """Builds the configurations of one (attention type, FFN type, y) step model."""

    def __init__(self, p: SizingProblem, a: DeviceType, f: DeviceType, y: int):
        self.p, self.a, self.f, self.y = p, a, f, y
        self.stats = p.workload.stats()
        self.sm = build_bundle_model(a.gpu, p.model, p.ffn_model, kind=p.kind, link=p.link,
                                     ffn_gpu=f.gpu, ffn_devices=y, parallel=p.parallel,
                                     ffn_link=p.ffn_link, routing=p.routing)
        self.kv_cap = kv_capacity(a.memory, p.model, p.kv_fraction)
        self.t_F = (self.sm.t_F_expected if p.barrier else (lambda N: float(self.sm.t_F(N))))
        self.ffn_reason = ""
        if p.ffn_memory:
            need = FFN_WEIGHT_BYTES.get(self.sm.ffn_model)
            if need is None:
                raise ValueError(f"ffn_memory: no weight size known for {self.sm.ffn_model!r}")
            per_dev = need * self.sm.n_layers / y / 1e9
            if per_dev > p.kv_fraction * f.memory:
                self.ffn_reason = (f"FFN weights {per_dev:.0f} GB per device > "
                                   f"{p.kv_fraction * f.memory:.0f} GB")

    def _attention(self, r: int, B: int) -> float:
        if self.p.barrier:
            return barrier_attention_time(self.sm, B, self.stats, r)
        return float(self.sm.t_A(self.stats.instance_load(B)[0], B))

    def configs(self, B: int, m: int | None) -> list[Config]:
        p, sm = self.p, self.sm
        mu, sd = self.stats.instance_load(B)
        kv_need = mu + p.kv_margin_z * sd
        out = []
        for r in p.r_values:
            tA = self._attention(r, B)
            tAm = tA if m is None else self._attention(r, B // m)
            tau = _tau(sm, r, B, m, tA, tAm, self.t_F)
            stages = _stages(sm, r, B, m, tA, tAm, self.t_F)
            mean_A = float(sm.t_A(mu, B)) if m is None else m * float(
                sm.t_A(self.stats.instance_load(B // m)[0], B // m))
            busy_F = stages["FFN-bound"]
            tpot = tau * sm.n_layers
            reasons = []
            if kv_need > self.kv_cap:
                reasons.append(f"KV {kv_need:.0f} > capacity {self.kv_cap:.0f} tokens")
            if p.tpot_ms is not None and tpot > p.tpot_ms:
                reasons.append(f"TPOT {tpot:.1f} > {p.tpot_ms} ms")
            if self.ffn_reason:
                reasons.append(self.ffn_reason)
            out.append(Config(r, B, m, self.a.name, self.f.name, tau, tpot, r * B / tpot * 1e3,
                              r * self.a.cost + self.y * self.f.cost, kv_need, self.kv_cap,
                              not reasons, "; ".join(reasons), self.y,
                              max(stages, key=lambda k: stages[k]), max(0.0, 1 - mean_A / tau),
                              max(0.0, 1 - busy_F / tau)))
        return out


def configurations(p: SizingProblem) -> list[Config]:
    """Every configuration with its constants and feasibility."""
    att_names = p.attention_types or tuple(d.name for d in p.devices)
    ffn_names = p.ffn_types or tuple(d.name for d in p.devices)
    dev = {d.name: d for d in p.devices}
    out = []
    for an in att_names:
        for fn in ffn_names:
            for y in p.y_values:
                builder = _ConfigBuilder(p, dev[an], dev[fn], int(y))
                for B in p.batch_sizes:
                    for m in p.micro_batches:
                        if m is not None and (m < 1 or B % m):
                            continue
                        out += builder.configs(B, m)
    return out


def _max_bundles(p: SizingProblem, c: Config) -> int:
    dev = {d.name: d for d in p.devices}
    u = p.max_bundles
    if p.budget is not None:
        u = min(u, math.floor(p.budget / c.cost + 1e-9))
    need = {c.attn: c.r}
    need[c.ffn] = need.get(c.ffn, 0) + c.y
    for name, k in need.items():
        if dev[name].available is not None:
            u = min(u, dev[name].available // k)
    return max(u, 0)


def explain_infeasible(p: SizingProblem, configs: list[Config]) -> list[str]:
    """Why no configuration can be chosen: the constraints that rule out every one
    (KV capacity, TPOT, FFN memory per configuration; budget and availability for the
    feasible ones), each with the closest miss."""
    if not configs:
        return ["no configurations: check the candidate values"]
    out = []
    kv = [c for c in configs if c.kv_need > c.kv_capacity]
    if len(kv) == len(configs):
        c = min(configs, key=lambda c: c.kv_need / c.kv_capacity)
        out.append(f"KV capacity: every configuration needs more KV cache than an attention "
                   f"device holds (smallest need {c.kv_need:.0f} tokens at B={c.B} on "
                   f"{c.attn}, capacity {c.kv_capacity:.0f}); lower the batch sizes")
    if p.tpot_ms is not None:
        slow = [c for c in configs if c.tpot_ms > p.tpot_ms]
        if len(slow) == len(configs):
            c = min(configs, key=lambda c: c.tpot_ms)
            out.append(f"TPOT: the fastest configuration takes {c.tpot_ms:.1f} ms per token "
                       f"> the limit {p.tpot_ms} ms (x={c.r}, y={c.y}, B={c.B})")
    mem = [c for c in configs if "FFN weights" in c.reason]
    if mem and len(mem) == len(configs):
        out.append(f"FFN memory: {mem[0].reason} for every y; allow more FFN devices")
    feas = [c for c in configs if c.feasible]
    if not out and not feas:
        out.append("KV capacity, TPOT and FFN memory together: no configuration meets all "
                   "three (" + "; ".join(sorted({c.reason for c in configs}))[:300] + ")")
    if feas and all(_max_bundles(p, c) < 1 for c in feas):
        cheap = min(feas, key=lambda c: c.cost)
        if p.budget is not None and cheap.cost > p.budget + 1e-9:
            out.append(f"budget: the cheapest feasible bundle costs {cheap.cost:g} > budget "
                       f"{p.budget:g} (x={cheap.r}, y={cheap.y} on {cheap.attn}/{cheap.ffn})")
        else:
            out.append("availability: no feasible bundle fits the available devices "
                       f"(smallest needs {cheap.r} x {cheap.attn} + {cheap.y} x {cheap.ffn})")
    return out


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
            use = [(configs[i].r * (configs[i].attn == d.name)
                    + configs[i].y * (configs[i].ffn == d.name), i) for i in idx]
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
    infeasible: list = field(default_factory=list)  # why, when status is infeasible

    def to_dict(self) -> dict:
        return {"status": self.status, "objective": self.objective, "bound": self.bound,
                "chosen": [{**c.to_dict(), "bundles": n} for c, n in self.chosen],
                "throughput": self.throughput, "cost": self.cost,
                "throughput_per_cost": self.throughput / self.cost if self.cost else None,
                "configs_total": self.configs_total, "configs_feasible": self.configs_feasible,
                "runtime_s": self.runtime, "infeasible": list(self.infeasible)}


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
                            time.perf_counter() - t0, explain_infeasible(p, configs))
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
    why = explain_infeasible(p, configs) if status == "infeasible" else []
    return SizingResult(status, obj, bound, chosen, thr, cost, len(configs), nfeas,
                        time.perf_counter() - t0, why)


def brute_force(p: SizingProblem, configs: list[Config] | None = None
                ) -> tuple[float | None, list[tuple[Config, int]]]:
    """Best objective by enumerating every feasible configuration and bundle count
    (single configuration; ``mix`` is not enumerated).  Returns ``(value, best)``
    with ``best`` the list of ``(Config, bundles)`` attaining it (``(None, [])`` when
    no configuration is feasible)."""
    configs = configurations(p) if configs is None else configs
    best_val = -np.inf
    best: list[tuple[Config, int]] = []
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
