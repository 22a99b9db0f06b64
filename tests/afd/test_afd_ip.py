"""A/F sizing integer program vs brute-force enumeration."""

from __future__ import annotations

import pulp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched.afd.sizing_ip import (
    DeviceType,
    SizingProblem,
    brute_force,
    build_sizing_model,
    configurations,
    solve_sizing,
)
from lpsched.afd.workload import geometric_workload
from tests.strategies import examples

WL = {"base": geometric_workload(100, 500), "short": geometric_workload(50, 100),
      "long": geometric_workload(8000, 300)}


@settings(max_examples=examples(25))
@given(
    wl=st.sampled_from(sorted(WL)),
    ffn=st.sampled_from(["llama3-70b", "dsv3-moe-e8"]),
    c200=st.floats(1.0, 2.0), avail200=st.one_of(st.none(), st.integers(0, 30)),
    avail100=st.one_of(st.none(), st.integers(0, 30)),
    budget=st.one_of(st.none(), st.floats(3, 60)),
    tpot=st.one_of(st.none(), st.floats(5, 80)),
    objective=st.sampled_from(["throughput", "throughput_per_cost"]),
    batches=st.sampled_from([(256,), (64, 256), (32, 128, 512)]),
    mbs=st.sampled_from([(None,), (None, 1, 2)]),
    z=st.floats(0, 3),
    ys=st.sampled_from([(1,), (1,), (1, 2), (2, 4), (1, 2, 4)]),
    routing=st.sampled_from(["balanced", "random"]),
    ffn_memory=st.booleans(),
)
def test_ip_matches_enumeration(wl, ffn, c200, avail200, avail100, budget, tpot, objective,
                                batches, mbs, z, ys, routing, ffn_memory):
    devs = (DeviceType("h200", "h200", cost=c200, available=avail200),
            DeviceType("h100", "h100", cost=1.0, available=avail100))
    p = SizingProblem(WL[wl], devs, ffn_model=ffn, r_values=tuple(range(1, 10)),
                      batch_sizes=batches, micro_batches=mbs, tpot_ms=tpot, budget=budget,
                      objective=objective, kv_margin_z=z, max_bundles=20, y_values=ys,
                      routing=routing, ffn_memory=ffn_memory)
    configs = configurations(p)
    res = solve_sizing(p)
    bf, best = brute_force(p, configs)
    if bf is None:
        assert res.status == "infeasible" and not res.chosen and res.infeasible
        return
    assert res.status == "optimal"
    assert res.objective == pytest.approx(bf, rel=1e-6)
    assert res.bound == pytest.approx(bf, rel=1e-6)
    assert len(res.chosen) == 1
    c, n = res.chosen[0]
    assert c.feasible
    val = c.throughput * n if objective == "throughput" else c.throughput / c.cost
    assert val == pytest.approx(bf, rel=1e-6)
    # the solution respects every constraint
    if budget is not None:
        assert c.cost * n <= budget + 1e-9
    if tpot is not None:
        assert c.tpot_ms <= tpot + 1e-9
    assert c.kv_need <= c.kv_capacity
    assert c.y in ys and c.devices == c.r + c.y
    use = {c.attn: c.r * n}
    use[c.ffn] = use.get(c.ffn, 0) + c.y * n
    for d in devs:
        if d.available is not None:
            assert use.get(d.name, 0) <= d.available


def test_mixing_configurations_never_loses_and_builder_is_extensible():
    devs = (DeviceType("h200", "h200", cost=1.4, available=20),
            DeviceType("h100", "h100", cost=1.0, available=20))
    p = SizingProblem(WL["base"], devs, ffn_model="dsv3-moe-e8", r_values=tuple(range(1, 9)),
                      batch_sizes=(128, 256), budget=30)
    single = solve_sizing(p)
    mixed = solve_sizing(SizingProblem(**{**p.__dict__, "mix": True}))
    assert mixed.objective >= single.objective * (1 - 1e-9)
    # builder: forbid r > 2 by hand and solve the raw pulp problem
    model = build_sizing_model(p)
    model.problem += pulp.lpSum(v for i, v in model.z.items() if model.configs[i].r > 2) == 0
    model.problem.solve(pulp.HiGHS(msg=False))
    chosen = [model.configs[i] for i, v in model.z.items() if (v.value() or 0) > 0.5]
    assert len(chosen) == 1 and chosen[0].r <= 2


def test_kv_capacity_and_infeasible_cases():
    # long contexts on H100 at B = 512 cannot hold the KV cache
    p = SizingProblem(geometric_workload(2500, 300), (DeviceType("h100", "h100"),),
                      batch_sizes=(512,), r_values=(1, 2))
    assert all("KV" in c.reason for c in configurations(p))
    assert solve_sizing(p).status == "infeasible"
    with pytest.raises(ValueError, match="objective"):
        SizingProblem(WL["base"], objective="speed")
    with pytest.raises(ValueError, match="not among the device types"):
        SizingProblem(WL["base"], attention_types=("tpu",))
    with pytest.raises(ValueError, match="cost must be > 0"):
        DeviceType("x", "h100", cost=0)


def test_ffn_devices_in_the_plan_and_its_json():
    devs = (DeviceType("h100", "h100", cost=1.0),)
    p = SizingProblem(WL["base"], devs, r_values=tuple(range(1, 9)), batch_sizes=(128, 192),
                      y_values=(1, 2, 3, 4), kind="roofline", objective="throughput_per_cost",
                      max_bundles=1, ffn_memory=True)
    res = solve_sizing(p)
    bf, _ = brute_force(p)
    assert res.objective == pytest.approx(bf, rel=1e-9)
    (c, n), = res.chosen
    assert c.y > 1  # dense 70B on H100: one FFN device is FFN-bound (and does not hold 113 GB)
    d = res.to_dict()["chosen"][0]
    assert (d["attention_instances"], d["ffn_devices"]) == (c.r, c.y)
    assert d["throughput_per_device"] == pytest.approx(c.throughput / (c.r + c.y))
    assert c.regime.endswith("-bound") and 0 <= c.idle_attention <= 1 and 0 <= c.idle_ffn <= 1
    # FFN weights: 80 layers x 1.41 GB = 113 GB do not fit one H100 (72 GB usable)
    assert all("FFN weights" in k.reason for k in configurations(p) if k.y == 1)


@pytest.mark.parametrize("kwargs, reason", [
    (dict(batch_sizes=(1024,)), "KV capacity"),
    (dict(batch_sizes=(64,), tpot_ms=2.0), "TPOT"),
    (dict(batch_sizes=(64,), budget=1.5), "budget"),
    (dict(batch_sizes=(64,), devices=(DeviceType("h100", "h100", available=1),)), "availability"),
    (dict(batch_sizes=(64,), ffn_memory=True, y_values=(1,)), "FFN memory"),
])
def test_infeasible_problems_say_which_constraint(kwargs, reason):
    kw = {"devices": (DeviceType("h100", "h100"),), "r_values": (1, 2, 3), **kwargs}
    res = solve_sizing(SizingProblem(WL["base"], **kw))
    assert res.status == "infeasible" and not res.chosen
    assert any(w.startswith(reason) for w in res.infeasible), res.infeasible
    assert res.to_dict()["infeasible"] == res.infeasible


def test_plan_rejects_ffn_device_counts_that_cannot_shard():
    with pytest.raises(ValueError, match="divide the 8 experts"):
        SizingProblem(WL["base"], ffn_model="dsv3-moe-e8", y_values=(1, 3))
