"""AFD simulator: conservation, hand-computed idle accounting, agreement with theory."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from lpsched.afd.ratio import SeedCoefficients, closed_form, seed_throughput
from lpsched.afd.simulator import ADMISSIONS, simulate, sweep
from lpsched.afd.timing import build_step_model
from lpsched.afd.workload import Fixed, IndependentWorkload, geometric_workload


@dataclass
class Stub:
    """t_A = T (ms), t_C = c, t_F = N: easy to compute by hand."""

    c: float = 0.5
    n_layers: int = 1

    def t_A(self, T, B):
        return np.asarray(T, dtype=float)

    def t_C(self, B):
        return np.full(np.shape(B), self.c)

    def t_F(self, N):
        return np.asarray(N, dtype=float)


REQ = (np.array([1, 3, 0]), np.array([2, 1, 1]))  # (prefill, decode)


def test_two_step_example_ideal_pipeline():
    # step 0: loads [1, 3] -> tau = max(3, 0.5, t_F(2)=2) = 3
    # step 1: slot 1 refilled with (P=0, D=1): loads [2, 0] -> tau = max(2, 0.5, 2) = 2
    # step 2: both free, stream empty -> window = steps 0..1
    s = simulate(Stub(), r=2, B=1, requests=REQ, start="fresh", warmup=0, record=True)
    assert s.window == (0, 2) and s.total_steps == 2
    assert np.allclose(s.trace["tau"], [3, 2])
    assert s.elapsed_ms == pytest.approx(5.0)
    assert s.tokens == 4 and s.tokens_total == 4
    assert s.idle_attention == pytest.approx(1 - (1 + 3 + 2 + 0) / (2 * 5))
    assert s.idle_ffn == pytest.approx(1 - (2 + 2) / 5)
    assert s.tokens_per_s == pytest.approx(4 / 5 * 1000)
    assert s.throughput_per_instance == pytest.approx(4 / 5 * 1000 / 3)


def test_two_step_example_sequential_micro_batch():
    # m = 1: step 0: A ends [1, 3]; sends end [1.5, 3.5]; F 3.5 -> 5.5; back at 6.
    # step 1: A starts at 6, ends [8, 6]; sends [8.5, 6.5]; F 8.5 -> 10.5; back at 11.
    s = simulate(Stub(), r=2, B=1, requests=REQ, start="fresh", warmup=0,
                 micro_batches=1, record=True)
    assert s.elapsed_ms == pytest.approx(11.0)
    assert np.allclose(s.trace["tau"], [6, 5])
    assert s.idle_attention == pytest.approx(1 - 6 / 22)
    assert s.idle_ffn == pytest.approx(1 - 4 / 11)


@pytest.mark.parametrize("admission", ADMISSIONS)
@pytest.mark.parametrize("mb", [None, 2])
def test_conservation_tokens_equal_completed_decode(admission, mb):
    m = build_step_model("h200", "llama3-70b", "dsv3-moe-e8")
    wl = geometric_workload(50, 40, prefill="geometric")
    s = simulate(m, wl, r=3, B=16, n_requests=700, seed=4, admission=admission,
                 micro_batches=mb, start="fresh", record=True)
    P, D = wl.sample(700, np.random.default_rng(4))
    assert s.completed == 700
    assert s.decode_completed == int(D.sum())
    assert s.tokens_total == int(D.sum())  # every produced token belongs to a request
    assert 0 <= s.idle_attention <= 1 and 0 <= s.idle_ffn <= 1


def test_stationary_start_accounts_in_flight_requests():
    m = build_step_model("h200")
    wl = geometric_workload(100, 50)
    s = simulate(m, wl, r=2, B=8, n_requests=300, seed=1)
    assert s.completed == 300 + 16  # the stream plus the initial in-flight requests
    assert s.tokens_total > s.decode_completed  # initial requests' remaining tokens


def test_deterministic_workload_matches_seed_theory_exactly():
    """Fixed P and D with slots in lock-step: the simulated throughput equals the seed
    model's Thr(r) at the time-averaged load, for every r."""
    m = build_step_model("h200", "llama3-70b", "dsv3-moe-e8", kind="linear")
    wl = IndependentWorkload(Fixed(100), Fixed(50))
    c = SeedCoefficients.from_dict(m.coefficients(64))
    out = sweep(m, wl, r_values=range(1, 9), B=64, n_requests=4000, start="fresh", warmup=0)
    for s in out["results"]:
        # loads cycle through B*(100 + j), j = 0..49, each step; tau is per step
        taus = [float(max(c.a_A * 64 * (100 + j) + c.b_A, c.a_C * 64 + c.b_C,
                          c.a_F * s.r * 64 + c.b_F)) for j in range(50)]
        expect = s.r * 64 / ((s.r + 1) * np.mean(taus)) * 1e3 / m.n_layers
        assert s.throughput_per_instance == pytest.approx(expect, rel=1e-9)
    # when attention never binds in any step, the simulation optimum is the closed form's
    cf = closed_form(c, 64, 64 * 124.5)
    assert abs(out["r_best"] - cf.r_int) <= 1
    assert seed_throughput(c, cf.r_int, 64, 64 * 124.5) > 0


def test_least_load_admission_reduces_barrier():
    m = build_step_model("h200", "llama3-70b", "dsv3-moe-e8")
    wl = geometric_workload(2000, 300, prefill="geometric")
    rnd = simulate(m, wl, r=8, B=32, n_requests=6000, seed=2, admission="random")
    ll = simulate(m, wl, r=8, B=32, n_requests=6000, seed=2, admission="least-load")
    gap = lambda s: s.breakdown["t_A_max"] - s.breakdown["t_A_mean"]  # noqa: E731
    assert gap(ll) < gap(rnd)


def test_simulator_bad_inputs():
    m = build_step_model("h200")
    wl = geometric_workload()
    with pytest.raises(ValueError, match="batch size"):
        simulate(m, wl, r=1, B=0)
    with pytest.raises(ValueError, match="r must be"):
        simulate(m, wl, r=0)
    with pytest.raises(ValueError, match="unknown admission"):
        simulate(m, wl, admission="lifo")
    with pytest.raises(ValueError, match="micro_batches"):
        simulate(m, wl, B=10, micro_batches=3)
    with pytest.raises(ValueError, match="decode >= 1"):
        simulate(m, requests=([1], [0]))
    with pytest.raises(ValueError, match="no measurement window"):
        simulate(m, wl, r=1, B=256, n_requests=10, start="fresh")


def test_simulated_instance_load_matches_theta_and_finite_horizon():
    m = build_step_model("h200")
    wl = geometric_workload(40, 60, prefill="geometric")
    s = simulate(m, wl, r=4, B=64, n_requests=40000, seed=5)  # stationary start
    assert s.mean_load / 64 == pytest.approx(wl.theta, rel=0.02)
    f = simulate(m, wl, r=4, B=64, n_requests=40000, seed=5, start="fresh", warmup=0)
    assert f.mean_load == pytest.approx(wl.T_bar(64, horizon=f.steps), rel=0.02)
    assert f.mean_load < s.mean_load  # the fresh start's transient is lighter


@pytest.mark.parametrize("m", [1, 2, 4])
@pytest.mark.parametrize("ffn", ["llama3-70b", "dsv3-moe-e8"])
def test_micro_batch_cycle_matches_the_sizing_formula(m, ffn):
    """Constant loads (D = 1): the simulated step time converges to the flow-shop cycle
    max(m tA_m, m tC_m, m tF_m, tA_m + 2 tC_m + tF_m) the integer program uses."""
    from lpsched.afd.sizing_ip import _tau
    sm = build_step_model("h200", "llama3-70b", ffn, link="inter-node")
    wl = IndependentWorkload(Fixed(300), Fixed(1))
    r, B = 3, 64
    s = simulate(sm, wl, r=r, B=B, n_requests=r * B * 400, start="fresh", warmup=5,
                 micro_batches=m)
    tA_m = float(sm.t_A(B // m * 300, B // m))
    expect = _tau(sm, r, B, m, float(sm.t_A(B * 300, B)), tA_m)
    assert s.elapsed_ms / s.steps == pytest.approx(expect, rel=1e-6)


# ----------------------------------------------------------------- xA-yF and KV capacity


def reference(model, P, D, r, B, seed, kv_capacity=None):
    """Plain-Python xA-yF simulator, one slot at a time: fresh start, random admission
    (the same permutation draws as simulate()), fully overlapped stages, KV admission
    control (a free slot takes the head request only if its prompt fits the instance's
    KV capacity, else it waits, counted every step, and is examined again at the next
    step with a completion), r + y devices.  Written from the rules in the simulator's
    docstring, not from its code."""
    rng = np.random.default_rng(seed)
    y = getattr(model, "ffn_devices", 1)
    cap = np.inf if kv_capacity is None else kv_capacity
    S, n = r * B, len(P)
    load, left, waiting = [None] * S, [0] * S, [False] * S
    ptr = 0
    for s in range(min(S, n)):
        load[s], left[s] = int(P[s]), int(D[s])
        ptr += 1
    t = idle_a = idle_f = 0.0
    tokens = blocked = over = inst_steps = 0
    first_empty, k = None, 0
    while True:
        if k > 0:
            done = []
            for s in range(S):
                if load[s] is not None:
                    left[s] -= 1
                    load[s] += 1
                    if left[s] == 0:
                        load[s] = None
                        done.append(s)
            blocked += sum(waiting) if not done else 0
            free = [s for s in range(S) if s in done or waiting[s]] if done else []
            if free:
                waiting = [False] * S
                inst = [0] * r
                for s in range(S):
                    if load[s] is not None:
                        inst[s // B] += load[s]
                order = rng.permutation(len(free)) if len(free) > 1 else [0]
                for q in order:
                    s = free[q]
                    if ptr >= n:
                        first_empty = k if first_empty is None else first_empty
                    elif inst[s // B] + int(P[ptr]) > cap:
                        waiting[s] = True
                        blocked += 1
                    else:
                        load[s], left[s] = int(P[ptr]), int(D[ptr])
                        inst[s // B] += int(P[ptr])
                        ptr += 1
                if ptr >= n and any(waiting):
                    waiting = [False] * S
                    first_empty = k if first_empty is None else first_empty
            if all(x is None for x in load) and not any(waiting):
                break
        if first_empty is None:
            kv = [0.0] * r
            act = [0] * r
            for s in range(S):
                if load[s] is not None:
                    kv[s // B] += load[s]
                    act[s // B] += 1
            tA = [float(model.t_A(kv[i], act[i])) if act[i] else 0.0 for i in range(r)]
            tC = [float(model.t_C(act[i])) if act[i] else 0.0 for i in range(r)]
            N = sum(act)
            tF = float(model.t_F(N)) if N else 0.0
            tau = max(max(tA), max(tC), tF)
            t += tau
            tokens += N
            idle_a += sum(tau - a for a in tA)
            idle_f += tau - tF
            over += sum(x > cap for x in kv)
            inst_steps += r
        k += 1
    return {"throughput": tokens / t * 1e3 / model.n_layers / (r + y), "tokens": tokens,
            "elapsed": t, "idle_attention": idle_a / (r * t), "idle_ffn": idle_f / t,
            "blocked": blocked, "overflow": over / inst_steps}


def _bundle(ffn, y, kind):
    from lpsched.afd.topology import build_bundle_model
    return build_bundle_model("h200", "llama3-70b", ffn, kind=kind, ffn_devices=y)


@pytest.mark.parametrize("ffn, y, kind", [("llama3-70b", 1, "linear"), ("llama3-70b", 3, "roofline"),
                                          ("dsv3-moe-e8", 2, "linear"), ("dsv3-moe-e8", 4, "roofline")])
@pytest.mark.parametrize("r, B, cap", [(2, 3, None), (3, 2, None), (2, 3, 60), (3, 3, 45)])
@pytest.mark.parametrize("seed", [0, 1])
def test_xayf_simulator_matches_plain_python_reference(ffn, y, kind, r, B, cap, seed):
    rng = np.random.default_rng(100 + seed)
    P = rng.integers(0, 30, 70)
    D = rng.integers(1, 12, 70)
    model = _bundle(ffn, y, kind)
    s = simulate(model, r=r, B=B, requests=(P, D), seed=seed, start="fresh", warmup=0,
                 kv_capacity=cap)
    ref = reference(model, P, D, r, B, seed, cap)
    assert s.ffn_devices == y and s.tokens == ref["tokens"]
    assert s.elapsed_ms == pytest.approx(ref["elapsed"], rel=1e-12)
    assert s.throughput_per_instance == pytest.approx(ref["throughput"], rel=1e-12)
    assert s.idle_attention == pytest.approx(ref["idle_attention"], rel=1e-9, abs=1e-12)
    assert s.idle_ffn == pytest.approx(ref["idle_ffn"], rel=1e-9, abs=1e-12)
    if cap is not None:
        assert s.kv["blocked_slot_steps"] == ref["blocked"]
        assert s.kv["overflow"] == pytest.approx(ref["overflow"], abs=1e-12)
    if cap == 45:
        assert ref["blocked"] > 0  # the capacity binds in this case


def test_sweep_pair_times_one_trajectory_per_x_for_every_y():
    from lpsched.afd.simulator import sweep_pair
    wl = geometric_workload(200, 60, prefill="geometric")
    models = {y: _bundle("llama3-70b", y, "roofline") for y in (1, 2, 4)}
    out = sweep_pair(models, wl, x_values=(1, 2), B=8, n_requests=400, seed=3,
                     kv_capacity=2500)
    for (x, y), res in out["results"].items():
        one = simulate(models[y], wl, r=x, B=8, n_requests=400, seed=3, drain=False,
                       kv_capacity=2500)
        # exact: the sweep must replay the very same trajectory (same models, seed and
        # arithmetic in one process), not merely a close one
        assert res.throughput_per_instance == one.throughput_per_instance
        assert (res.idle_attention, res.idle_ffn, res.kv) == (one.idle_attention, one.idle_ffn,
                                                              one.kv)
    best = max(out["results"], key=lambda k: out["results"][k].throughput_per_instance)
    assert out["best"] == best


@pytest.mark.parametrize("routing", ["balanced", "random"])
def test_expert_routing_in_the_simulator_matches_the_expected_stage_time(routing):
    from lpsched.afd.topology import build_bundle_model
    m = build_bundle_model("h200", "llama3-70b", "dsv3-moe-e8", kind="roofline", ffn_devices=4,
                           routing=routing)
    wl = IndependentWorkload(Fixed(300), Fixed(1))  # every step: 4 x 64 = 256 rows
    s = simulate(m, wl, r=4, B=64, n_requests=4 * 64 * 3000, start="fresh", warmup=0,
                 record=True, seed=5)
    mean_tF = float(s.trace["tF"][:s.steps].mean())
    if routing == "balanced":
        assert mean_tF == pytest.approx(float(m.t_F(256)), rel=1e-12)
    else:
        assert mean_tF == pytest.approx(m.t_F_expected(256), rel=0.02)
        assert mean_tF > float(m.t_F(256))
        # the devices' mean busy time is below the stage (the busiest device) time
        assert s.idle_ffn > 0


def test_kv_capacity_admission_bad_inputs_and_effect():
    m = build_step_model("h200")
    wl = geometric_workload(400, 50, prefill="geometric")
    with pytest.raises(ValueError, match="kv_capacity must be > 0"):
        simulate(m, wl, r=2, B=8, n_requests=200, kv_capacity=0)
    with pytest.raises(ValueError, match="prompt longer than the KV capacity"):
        simulate(m, requests=([10, 500], [3, 3]), r=1, B=2, kv_capacity=100)
    free = simulate(m, wl, r=2, B=16, n_requests=3000, seed=2)
    tight = simulate(m, wl, r=2, B=16, n_requests=3000, seed=2, kv_capacity=6000)
    assert tight.kv["blocked_slot_steps"] > 0 and free.kv == {}
    assert tight.mean_load < free.mean_load
    assert 0 <= tight.kv["overflow"] <= 1 and tight.kv["mean_load_fraction"] < 1
