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
