"""AFD: workloads, calibration fits, closed form vs brute force, step_time bridge."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched.afd import calibration as cal
from lpsched.afd.ratio import (
    SeedCoefficients,
    barrier_attention_time,
    brute_force_integer,
    closed_form,
    expected_max_normal,
    search_ratio,
    seed_throughput,
    size_bundle,
)
from lpsched.afd.timing import build_step_model, step_time_callable
from lpsched.afd.workload import (
    Fixed,
    Geometric,
    IndependentWorkload,
    JointWorkload,
    LogNormalInt,
    UniformInt,
    bundled_trace_workload,
    geometric_workload,
    paper_base_workload,
    read_trace_lengths,
    trace_workload,
)
from tests.strategies import examples, seed_coefficients
from tests.trace_files import trace_file

DATA = Path(cal.__file__).parent / "data"

# ------------------------------------------------------------------ workloads


def test_geometric_theta_and_variance_closed_forms():
    s = paper_base_workload().stats()
    assert s.theta == pytest.approx(100 + 500 - 1)  # mu_P + mu_D - 1
    assert s.var == pytest.approx(499 * 500)  # age ~ Geometric{0,..}: (mu-1) mu
    g = Geometric(7.0)
    x, p = g.support(1e-15)
    for k in range(1, 5):
        assert g.moment(k) == pytest.approx(float(np.dot(p, x.astype(float) ** k)), rel=1e-9)


def _slot_loads(wl, horizon, rng):
    """Per-step load of one renewal slot from a fresh start (vectorised)."""
    P, D = wl.sample(horizon, rng)
    starts = np.concatenate([[0], np.cumsum(D)[:-1]])
    t = np.arange(int(D.sum()))
    return (np.repeat(P - starts, D) + t)[:horizon]


@pytest.mark.parametrize("wl", [
    geometric_workload(10, 30),
    IndependentWorkload(UniformInt(0, 50), UniformInt(1, 40)),
    IndependentWorkload(Fixed(10), LogNormalInt(30, 0.8)),
    JointWorkload.from_pairs([5, 100, 7, 30], [40, 2, 17, 9]),
])
def test_theta_and_variance_match_simulated_slots(wl):
    """Stationary per-slot load from long runs of renewal slots vs theta and Var(L)."""
    rng = np.random.default_rng(1)
    horizon = 8000
    L = np.concatenate([_slot_loads(wl, horizon, rng)[horizon // 4:] for _ in range(300)])
    s = wl.stats()
    assert L.mean() == pytest.approx(s.theta, rel=0.02)
    assert L.var() == pytest.approx(s.var, rel=0.05)


def test_finite_horizon_load_matches_monte_carlo_and_converges():
    wl = IndependentWorkload(UniformInt(0, 20), Geometric(15.0))
    H = 60
    exact = wl.finite_horizon_load(H)
    rng = np.random.default_rng(3)
    n = 4000
    acc = sum(_slot_loads(wl, H, rng) for _ in range(n))
    assert np.allclose(acc / n, exact, rtol=0.05, atol=0.3)
    assert exact[0] == pytest.approx(10.0)
    long = wl.finite_horizon_load(3000)
    assert long[-1] == pytest.approx(wl.theta, rel=1e-3)
    assert wl.T_bar(4, horizon=H) == pytest.approx(4 * exact.mean())




def test_bundled_trace_profiles_keep_theta_of_the_traces():
    pytest.importorskip("lpsched.workloads")
    # theta of the real traces (computed from the CSVs, exact): 1226.5 and 2419.7
    for name, theta in (("azure-conv", 1226.48), ("arxiv-sum", 2419.73)):
        wl = bundled_trace_workload(name)
        assert wl.theta == pytest.approx(theta, rel=0.02)
        P, D = wl.sample(1000, 0)
        assert (P >= 0).all() and (D >= 1).all()


def test_trace_csv_workload_is_exact():
    path = trace_file("azure_conv_2023.csv")
    wl = trace_workload(path)
    P, D = read_trace_lengths(path)
    assert wl.theta == pytest.approx(float(np.sum(D * P + D * (D - 1) / 2) / D.sum()))


def test_trace_csv_bad_columns(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="unrecognised CSV header"):
        trace_workload(f)
    f.write_text("num_prefill_tokens,num_decode_tokens\n5,0\n")
    with pytest.raises(ValueError, match="request '1': decode must be >= 1"):
        trace_workload(f)


def test_workload_bad_inputs():
    with pytest.raises(ValueError, match="unknown trace profile"):
        bundled_trace_workload("nope")
    with pytest.raises(ValueError, match="prefill distribution"):
        geometric_workload(100, 500, prefill="weird")
    with pytest.raises(ValueError, match="geometric mean"):
        Geometric(0.5)
    with pytest.raises(ValueError, match="decode >= 1"):
        JointWorkload.from_pairs([1, 2], [3, 0])
    with pytest.raises(ValueError, match="batch size"):
        paper_base_workload().T_bar(0)


# ------------------------------------------------------------------ calibration


def _predict(kind, p, T_or_N, B):
    if kind == "linear":
        return p["a"] * T_or_N + p["b"]
    if kind == "linear-batch":
        return p["a"] * T_or_N + p["c"] * B + p["b"]
    out = np.maximum(p["b"], p["a"] * T_or_N)
    if "c_P" in p:
        out = out + np.maximum(p["b_P"], p["c_P"] * B)
    return out


@pytest.mark.parametrize("gpu", ["h100", "h200"])
def test_fits_reproduce_the_csv_within_reported_error(gpu):
    c = cal.load_calibration(gpu)
    cols = cal.read_calibration_csv(DATA / f"{gpu}.csv")
    for row in c.report():
        if row["role"] == "attention":
            sel = (cols["part"] == "attn_layer") & (cols["model"] == row["model"])
            x = cols["batch"][sel] * cols["ctx"][sel]
        else:
            part, model, experts = cal.FFN_MODELS[row["model"]]
            sel = (cols["part"] == part) & (cols["model"] == model)
            if experts:
                sel &= cols["experts"] == experts
            x = cols["batch"][sel]
        y = cols["ms_median"][sel]
        rel = np.abs(_predict(row["fit"], row["params"], x, cols["batch"][sel]) - y) / y
        assert rel.size == row["n"]
        assert rel.max() <= row["max_rel_error"] + 1e-12
        assert np.median(rel) == pytest.approx(row["median_rel_error"], abs=1e-12)
        assert row["median_rel_error"] < 0.2  # every fit is usable
    # the measured FFN is flat then linear: roofline fits it better on both GPUs
    rep = {(r["role"], r["model"], r["fit"]): r for r in c.report()}
    for m in ("llama3-70b", "llama3-8b", "dsv3-moe-e8", "dsv3-moe-e32"):
        assert rep[("ffn", m, "roofline")]["rms_rel_error"] < rep[("ffn", m, "linear")]["rms_rel_error"]


def test_user_csv_and_bad_calibration_inputs(tmp_path):
    src = (DATA / "h100.csv").read_text().splitlines()
    good = tmp_path / "mygpu.csv"
    good.write_text("\n".join(src) + "\n")
    c = cal.load_calibration(str(good))
    assert c.gpu == "mygpu" and "llama3-70b" in c.attention
    bad = tmp_path / "missing.csv"
    bad.write_text("part,model,batch,ctx,tokens,experts\nattn_layer,x,1,1,1,0\n")
    with pytest.raises(cal.CalibrationError, match="missing column.*ms_median"):
        cal.load_calibration(str(bad))
    neg = tmp_path / "neg.csv"
    neg.write_text(src[0] + "\n" + src[1].rsplit(",", 3)[0] + ",0,0,0\n")
    with pytest.raises(cal.CalibrationError, match="line 2: column ms_median must be > 0"):
        cal.load_calibration(str(neg))
    with pytest.raises(cal.CalibrationError, match="unknown GPU 'a100'"):
        cal.load_calibration("a100")
    with pytest.raises(cal.CalibrationError, match="unknown model 'gpt5'"):
        build_step_model("h200", "gpt5")
    with pytest.raises(cal.CalibrationError, match="no FFN model 'moe'"):
        build_step_model("h200", "llama3-70b", "moe")
    with pytest.raises(cal.CalibrationError, match="unknown link"):
        build_step_model("h200", link="carrier-pigeon")


def test_vidur_link_fit_is_plausible():
    ln = cal.links()
    assert 200 < ln["nvlink"].bandwidth_GBps < 900
    assert 10 < ln["inter-node"].bandwidth_GBps < 100
    assert 0 <= ln["nvlink"].latency_ms < 0.05


def test_step_time_callable_standalone():
    f = step_time_callable("h200", "llama3-70b", kind="roofline")
    m = build_step_model("h200", "llama3-70b", kind="roofline")
    b = np.array([0, 1, 16, 256])
    kv = np.array([0, 600, 16 * 600, 256 * 2000])
    t = f(b, kv)
    assert t[0] == 0.0
    expect = 80 * (m.t_A(kv[1:], b[1:]) + m.t_F(b[1:])) * 1e-3
    assert np.allclose(t[1:], expect)
    assert 0.01 < t[3] < 0.5 and np.all(np.diff(t) > 0)  # tens of ms per step, growing
    with pytest.raises(ValueError, match=">= 0"):
        f(np.array([-1]), np.array([0]))


# ------------------------------------------------------------------ closed form


coef_st = seed_coefficients()


@settings(max_examples=examples(300))
@given(c=coef_st, B=st.integers(8, 1024), T_per=st.floats(0, 20000))
def test_closed_form_agrees_with_brute_force(c, B, T_per):
    T_bar = B * T_per
    cf = closed_form(c, B, T_bar)
    r_max = max(64, 2 * math.ceil(cf.r_star) + 4)
    def thr(r):
        return seed_throughput(c, r, B, T_bar)
    bf = brute_force_integer(thr, r_max)
    assert thr(cf.r_int) >= thr(bf) * (1 - 1e-12)
    # continuous optimum: no grid point beats r_star
    grid = np.linspace(max(cf.r_star, 1e-6) / 4, 4 * max(cf.r_star, 1e-6) + 1, 2001)
    assert seed_throughput(c, max(cf.r_star, 1e-12), B, T_bar) >= thr(grid).max() * (1 - 1e-9)


def test_each_regime_is_reachable():
    base = dict(a_A=1e-6, b_A=0.1, a_C=1e-4, b_C=0.01, a_F=2e-3, b_F=0.3)
    assert closed_form(SeedCoefficients(**base), 256, 256 * 10000).regime == "attention-bound"
    assert closed_form(SeedCoefficients(**{**base, "a_C": 0.05}), 256, 0).regime \
        == "communication-bound"
    assert closed_form(SeedCoefficients(**{**base, "b_F": 3.0}), 16, 0).regime == "FFN-bound"
    with pytest.raises(ValueError, match="a_F"):
        SeedCoefficients(1, 1, 1, 1, 0, 1)
    with pytest.raises(ValueError, match="batch size"):
        closed_form(SeedCoefficients(**base), 0, 1)


def test_barrier_terms():
    assert expected_max_normal(1) == pytest.approx(0.0, abs=1e-6)
    assert expected_max_normal(2) == pytest.approx(1 / math.sqrt(math.pi), rel=1e-4)
    m = build_step_model("h200", "llama3-70b", "dsv3-moe-e8", kind="linear")
    wl = paper_base_workload()
    s = wl.stats()
    # linear t_A: E[t_A(max)] = t_A(mu + sigma * e_r)
    mu, sd = s.instance_load(256)
    for r in (1, 2, 5, 16):
        assert barrier_attention_time(m, 256, s, r) == pytest.approx(
            float(m.t_A(mu + sd * expected_max_normal(r), 256)), rel=1e-6)
    # barrier-aware optimum never below the plain one when attention decides
    out = size_bundle(m, wl)
    assert out["barrier"]["r_star"] >= out["model_search"]["r_star"] - 1e-9
    assert out["r_int"] == search_ratio(m, 256, wl.T_bar(256)).r_best
    for k in ("a_A", "b_A", "a_C", "b_C", "a_F", "b_F", "unit"):
        assert k in out["coefficients"]


def test_empirical_finite_horizon_matches_monte_carlo():
    wl = JointWorkload.from_pairs([5, 100, 7, 30], [40, 2, 17, 9])
    H = 50
    exact = wl.finite_horizon_load(H)
    rng = np.random.default_rng(9)
    mc = sum(_slot_loads(wl, H, rng) for _ in range(4000)) / 4000
    assert np.allclose(mc, exact, rtol=0.05, atol=0.5)
    assert wl.finite_horizon_load(4000)[-1] == pytest.approx(wl.theta, rel=1e-3)


def test_trace_lengths_refuse_fractions(tmp_path):
    from lpsched.instance import InstanceError

    p = tmp_path / "frac.csv"
    p.write_text("num_prefill_tokens,num_decode_tokens\n10,5\n3,2.5\n")
    with pytest.raises(InstanceError, match="request '2'.*decode must be an integer"):
        read_trace_lengths(p)
