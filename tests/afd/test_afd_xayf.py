"""xA-yF: y = 1 reproduces rA-1F, shard kernels, collectives, closed form vs brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched.afd.calibration import CalibrationError, links, load_calibration
from lpsched.afd.pair import (
    PairTerms,
    Piece,
    attention_bound_ratio,
    pair_closed_form,
    pair_terms,
    pair_throughput,
    refine_pair,
    search_pair,
    size_pair,
    tp_linear_shard_optimum,
)
from lpsched.afd.ratio import closed_form, size_bundle
from lpsched.afd.simulator import simulate
from lpsched.afd.sizing_ip import DeviceType, SizingProblem, configurations, solve_sizing
from lpsched.afd.timing import build_step_model
from lpsched.afd.topology import build_bundle_model, shard_kernel
from lpsched.afd.workload import geometric_workload
from tests.strategies import examples, seed_coefficients

GPUS = ("h100", "h200")
FFNS = ("llama3-70b", "dsv3-moe-e8")


# --------------------------------------------------------------- y = 1 is rA-1F


@pytest.mark.parametrize("gpu", GPUS)
@pytest.mark.parametrize("ffn", FFNS + ("llama3-8b", "dsv3-moe-e32"))
@pytest.mark.parametrize("kind", ["linear", "linear-batch", "roofline"])
def test_one_ffn_device_is_the_ra1f_model_bit_for_bit(gpu, ffn, kind):
    old = build_step_model(gpu, "llama3-70b", ffn, kind=kind, link="inter-node")
    new = build_bundle_model(gpu, "llama3-70b", ffn, kind=kind, link="inter-node")
    # Exact on purpose, on any machine: both models read the same fitted coefficients in
    # this process and must apply the same elementwise IEEE operations to them (no BLAS
    # between the two); a tolerance would hide a y = 1 path that computes differently.
    T = np.linspace(0, 4e6, 37)
    B = np.arange(1, 38)
    assert np.array_equal(new.t_A(T, B), old.t_A(T, B))
    assert np.array_equal(new.t_C(B), old.t_C(B))
    N = np.arange(0, 20000, 97)
    assert np.array_equal(new.t_F(N), old.t_F(N))
    assert new.t_F_expected(512.0) == float(old.t_F(512.0))
    assert new.coefficients(64) == old.coefficients(64)
    assert new.n_layers == old.n_layers and new.ffn_devices == 1


# Values computed by the rA-1F code before xA-yF existed (commit 27d9753), workload
# geometric P 1000 / D 300, B = 128: every one must come back (integers exactly, floats
# to GOLDEN_REL).
SIZE_GOLDEN = [
    ("h100", "llama3-70b", "roofline", 1.3093540753225243, 1, 1285.4911275711236, 2,
     1882.415577707626),
    ("h100", "dsv3-moe-e8", "linear", 11.398386104541858, 11, 4151.704008066228, 14,
     3926.6971798120217),
    ("h200", "dsv3-moe-e8", "roofline", 7.994887041506348, 8, 5294.594048932145, 14,
     5540.399831151634),
    ("h200", "llama3-70b", "linear", 1.0946412781318817, 1, 1473.89221266581, 1,
     1473.89221266581),
]
# The floats pass through the kernel fits (least squares in LAPACK): their last digits
# depend on the OpenBLAS kernel the CPU gets (SkylakeX and Haswell differ by up to 1.3e-13
# relative). 1e-9 is four orders above that and far below any change of the model, which
# moves these figures in the fourth digit or earlier. pytest.approx adds abs=1e-12, which
# keeps the structural zeros (idle fractions of 0.0) zero to within rounding.
GOLDEN_REL = 1e-9


def _golden(values):
    return pytest.approx(values, rel=GOLDEN_REL)


SIM_GOLDEN = [  # h200, workload geometric P 50 / D 40, r = 3, B = 16, 1500 requests, seed 7
    ("llama3-70b", "linear", "random", None, 386.14210491539353, 0.736525282938587, 0.0),
    ("dsv3-moe-e8", "roofline", "least-load", None, 760.048266542051, 0.4829770777214226, 0.0),
    ("dsv3-moe-e8", "linear", "round-robin", 2, 435.5807399631724, 0.4094491818942644,
     0.00027470228834292065),
    ("llama3-70b", "roofline", "random", 1, 298.62969067817005, 0.7968571179616817,
     0.23828009302089226),
]


@pytest.mark.parametrize("gpu, ffn, kind, r_star, r_int, thr, bar_int, bar_thr", SIZE_GOLDEN)
def test_ra1f_sizing_numbers_unchanged(gpu, ffn, kind, r_star, r_int, thr, bar_int, bar_thr):
    for m in (build_step_model(gpu, "llama3-70b", ffn, kind=kind),
              build_bundle_model(gpu, "llama3-70b", ffn, kind=kind)):
        s = size_bundle(m, geometric_workload(1000, 300, "geometric"), 128)
        assert (s["r_int"], s["barrier"]["r_int"]) == (r_int, bar_int)
        assert (s["r_star"], s["throughput_per_instance"]) == _golden((r_star, thr))
        assert s["barrier"]["throughput_per_instance"] == _golden(bar_thr)


@pytest.mark.parametrize("ffn, kind, admission, mb, thr, idle_a, idle_f", SIM_GOLDEN)
def test_ra1f_simulation_numbers_unchanged(ffn, kind, admission, mb, thr, idle_a, idle_f):
    wl = geometric_workload(50, 40, prefill="geometric")
    for m in (build_step_model("h200", "llama3-70b", ffn, kind=kind),
              build_bundle_model("h200", "llama3-70b", ffn, kind=kind)):
        s = simulate(m, wl, r=3, B=16, n_requests=1500, seed=7, admission=admission,
                     micro_batches=mb)
        assert (s.throughput_per_instance, s.idle_attention, s.idle_ffn) == _golden(
            (thr, idle_a, idle_f))
        assert s.tokens == 60144 and s.ffn_devices == 1


def test_ra1f_plan_unchanged():
    p = SizingProblem(geometric_workload(100, 500),
                      (DeviceType("h200", "h200", 1.3, available=12), DeviceType("h100", "h100", 1.0)),
                      ffn_model="dsv3-moe-e8", r_values=tuple(range(1, 9)), batch_sizes=(64, 256),
                      micro_batches=(None, 2), budget=20, max_bundles=4, objective="throughput",
                      kind="roofline")
    cs = configurations(p)
    assert len(cs) == 128
    assert [c.throughput for c in cs[:22:7]] == _golden([4053.5907548908694, 32428.726039126956,
                                                         14187.567642118043, 70364.85953124889])
    assert [c.tau for c in cs[:22:7]] == _golden([0.1973558872549623, 0.1973558872549623,
                                                  0.3947117745099246, 0.27286347372687236])
    res = solve_sizing(p)  # the objective also passes through HiGHS
    assert res.objective == _golden(142318.49482215257)
    (c, n), = res.chosen
    assert (c.r, c.y, c.B, c.m, c.attn, c.ffn, n) == (3, 1, 256, None, "h200", "h100", 4)


# --------------------------------------------------------------- shard kernels


@pytest.mark.parametrize("gpu", GPUS)
@pytest.mark.parametrize("kind", ["linear", "roofline"])
def test_four_way_shards_run_the_measured_sibling_kernels(gpu, kind):
    cal = load_calibration(gpu)
    for model, sibling in (("llama3-70b", "llama3-8b"), ("dsv3-moe-e32", "dsv3-moe-e8")):
        par = "ep" if "moe" in model else "tp"
        k = shard_kernel(gpu, model, kind, 4, par)
        p = cal.ffn_fit(sibling, kind).params
        assert (k.a, k.b) == (p["a"], p["b"]) and not k.extrapolated  # copied, not recomputed
        assert "measured" in k.source
        own = cal.ffn_fit(model, kind).params
        k2 = shard_kernel(gpu, model, kind, 2, par)  # interpolated between the two
        assert min(p["b"], own["b"]) < k2.b < max(p["b"], own["b"]) and not k2.extrapolated
        k8 = shard_kernel(gpu, model, kind, 8, par)
        assert k8.extrapolated and 0 < k8.b < p["b"]
        # the floor keeps a fixed part: an 8-way shard reads 1/8 of the weights but its
        # kernel takes more than 1/8 of the whole FFN's floor
        assert k8.b > own["b"] / 8


def test_collectives_and_links_by_hand():
    nv = links()["nvlink"]
    m = build_bundle_model("h100", "llama3-70b", "llama3-70b", kind="roofline", ffn_devices=4)
    N = 768.0
    bytes_per_token = 2 * 8192
    kappa = 2 * 3 * (nv.latency_ms + bytes_per_token * nv.ms_per_byte * N / 4)
    assert float(m.t_collective(N)) == pytest.approx(kappa, rel=1e-12)
    k = m.kernel
    assert float(m.t_F(N)) == pytest.approx(max(k.b, k.a * N) + kappa, rel=1e-12)  # all N rows
    assert np.array_equal(m.t_C(np.arange(1, 9)), m.base.t_C(np.arange(1, 9)))  # tp: one shard
    e = build_bundle_model("h100", "llama3-70b", "dsv3-moe-e8", kind="roofline", ffn_devices=4)
    assert float(e.t_collective(N)) == 0.0
    assert float(e.t_F(N)) == pytest.approx(max(e.kernel.b, e.kernel.a * N / 4), rel=1e-12)
    assert float(e.t_C(256)) == pytest.approx(float(e.base.t_C(256)) + 3 * e.base.b_C, rel=1e-12)


def test_random_routing_expectation_matches_monte_carlo():
    m = build_bundle_model("h200", "llama3-70b", "dsv3-moe-e8", kind="roofline", ffn_devices=4,
                           routing="random")
    rng = np.random.default_rng(0)
    for N in (600, 2000, 6000):
        counts = rng.multinomial(N, [0.25] * 4, size=20000)
        mc = float(m.kernel(counts.max(1)).mean())
        assert m.t_F_expected(N) == pytest.approx(mc, rel=0.01)
        assert m.t_F_expected(N) >= float(m.t_F(N)) - 1e-12


def test_bundle_model_bad_inputs():
    with pytest.raises(CalibrationError, match="needs 3 to divide the 8 experts"):
        build_bundle_model("h200", ffn_model="dsv3-moe-e8", ffn_devices=3)
    with pytest.raises(CalibrationError, match="positive integer"):
        build_bundle_model("h200", ffn_devices=0)
    with pytest.raises(CalibrationError, match="tensor-parallel MoE"):
        build_bundle_model("h200", ffn_model="dsv3-moe-e8", ffn_devices=2, parallel="tp")
    with pytest.raises(CalibrationError, match="MoE FFN model"):
        build_bundle_model("h200", ffn_devices=2, parallel="ep")
    with pytest.raises(CalibrationError, match="unknown routing"):
        build_bundle_model("h200", routing="greedy")


# --------------------------------------------------------------- closed form


seed_st = seed_coefficients()


@settings(max_examples=examples(200))
@given(c=seed_st, B=st.integers(8, 1024), T_per=st.floats(0, 20000))
def test_pair_closed_form_at_one_device_is_the_seed_r_star(c, B, T_per):
    T = B * T_per
    seed = closed_form(c, B, T)
    terms = PairTerms(1, B, c.a_A * T + c.b_A, c.a_C * B + c.b_C,
                      (Piece(c.a_F * B, c.b_F),))
    form = pair_closed_form(terms, x_max=max(64, 2 * math.ceil(seed.r_star) + 4))
    assert form.x_star == pytest.approx(seed.r_star, rel=1e-9, abs=1e-12)
    assert float(terms.throughput(form.x_int)) == pytest.approx(seed.throughput, rel=1e-12)


@st.composite
def pair_terms_st(draw):
    y = draw(st.integers(1, 8))
    B = draw(st.integers(8, 512))
    k0 = draw(st.sampled_from([0.0, draw(st.floats(0.0, 0.2))]))
    k1 = draw(st.sampled_from([0.0, draw(st.floats(0.0, 0.05))]))
    a = draw(st.floats(1e-4, 3e-3)) * B / draw(st.sampled_from([1, y]))
    b = draw(st.floats(0.0, 1.0))
    if draw(st.booleans()):  # roofline: floor and compute pieces
        pieces = (Piece(k1, b + k0, "floor"), Piece(a + k1, k0, "compute"))
    else:
        pieces = (Piece(a + k1, b + k0),)
    return PairTerms(y, B, draw(st.floats(0.0, 2.0)), draw(st.floats(0.0, 1.0)), pieces)


@settings(max_examples=examples(400))
@given(terms=pair_terms_st())
def test_pair_closed_form_against_brute_force(terms):
    x_max = 400
    form = pair_closed_form(terms, x_max)
    xs = np.arange(1, x_max + 1)
    thr = terms.throughput(xs)
    assert float(terms.throughput(form.x_int)) >= thr.max() * (1 - 1e-12)
    # the continuous maximiser is never beaten on a fine grid, and Theta is unimodal
    if math.isfinite(form.x_star) and form.x_star > 0:
        grid = np.linspace(form.x_star / 8, 8 * form.x_star + 1, 4001)
        assert float(terms.throughput(form.x_star)) >= terms.throughput(grid).max() * (1 - 1e-9)
    d = np.sign(np.diff(thr))
    d = d[d != 0]
    assert np.count_nonzero(np.diff(d) > 0) == 0  # never rises again after falling


def test_regimes_of_the_pair_are_reachable():
    base = dict(y=2, B=128, t_C=0.01)
    att = pair_closed_form(PairTerms(t_A=1.0, pieces=(Piece(0.02, 0.05),), **base))
    assert att.regime == "attention-bound" and att.x_star == pytest.approx((1.0 - 0.05) / 0.02)
    com = pair_closed_form(PairTerms(y=2, B=128, t_A=0.1, t_C=1.0, pieces=(Piece(0.02, 0.05),)))
    assert com.regime == "communication-bound"
    ffn = pair_closed_form(PairTerms(t_A=0.1, pieces=(Piece(0.02, 0.5),), **base))
    assert ffn.regime == "FFN-bound" and ffn.x_star == pytest.approx(math.sqrt(2 * 0.5 / 0.02))
    knee = pair_closed_form(PairTerms(t_A=0.1, pieces=(Piece(0.0, 0.5, "floor"),
                                                      Piece(0.05, 0.0, "compute")), **base))
    assert knee.regime == "FFN-knee" and knee.x_star == pytest.approx(10.0)


def test_attention_bound_shard_optimum():
    c, B, W = 0.6, 128, 1.4e9
    kw = dict(a0=3e-5, a1=1.2e-12, b0=0.035, b1=3.3e-10, W=W)
    a_L, b_L = 4.5e-5, 0.008
    ys = np.linspace(1, 40, 390001)
    rho = attention_bound_ratio(ys, c, B, parallel="tp", a_L=a_L, b_L=b_L, **kw)
    y_star = tp_linear_shard_optimum(c, B, a_L=a_L, b_L=b_L, **kw)
    assert y_star == pytest.approx(ys[int(np.argmax(rho))], abs=1e-3)
    # no per-row term that grows with y (a0 = a_L = 0): sqrt(b1 W / (2 b_L))
    y0 = tp_linear_shard_optimum(c, B, a0=0.0, a1=kw["a1"], b0=0.0, b1=kw["b1"], W=W, a_L=0.0,
                                 b_L=b_L)
    assert y0 == pytest.approx(math.sqrt(kw["b1"] * W / (2 * b_L)), rel=1e-9)
    # ep: more devices never lower rho_A while attention binds
    ep = attention_bound_ratio(np.arange(1, 9), c, B, parallel="ep", **kw)
    assert np.all(np.diff(ep) > 0)


@pytest.mark.parametrize("gpu", GPUS)
@pytest.mark.parametrize("ffn, ys", [("llama3-70b", (1, 2, 3, 4, 6, 8)), ("dsv3-moe-e8", (1, 2, 4))])
@pytest.mark.parametrize("kind", ["linear", "roofline"])
def test_refined_pair_agrees_with_the_barrier_aware_search(gpu, ffn, ys, kind):
    wl = geometric_workload(1000, 300, "geometric")
    B = 96
    models = {y: build_bundle_model(gpu, "llama3-70b", ffn, kind=kind, ffn_devices=y,
                                    routing="random") for y in ys}
    stats, T = wl.stats(), wl.T_bar(B)
    search = search_pair(models, B, T, stats, x_max=96)
    for y, m in models.items():
        ref = refine_pair(m, B, stats, T, x_max=96)
        best_x = max((k for k in search["values"] if k[1] == y), key=search["values"].get)[0]
        assert abs(ref.x_int - best_x) <= 1
        assert ref.throughput >= search["values"][(best_x, y)] * 0.995
    out = size_pair(models, wl, B, x_max=96)
    assert out["throughput_per_device"] >= out["search"]["throughput_per_device"] * 0.995
    assert out["ffn_devices"] in ys and out["attention_instances"] >= 1
    assert 0 <= out["idle_attention"] <= 1 and 0 <= out["idle_ffn"] <= 1


def test_pair_search_at_one_device_is_the_ra1f_barrier_search():
    wl = geometric_workload(1000, 300, "geometric")
    for gpu in GPUS:
        for ffn in FFNS:
            m = build_bundle_model(gpu, "llama3-70b", ffn, kind="roofline")
            rb = size_bundle(m, wl, 128)
            pr = size_pair({1: m}, wl, 128)
            assert pr["search"]["attention_instances"] == rb["barrier"]["r_int"]
            assert pr["search"]["throughput_per_device"] == pytest.approx(
                rb["barrier"]["throughput_per_instance"], rel=1e-12)
            terms = pair_terms(m, 128, T_bar=wl.T_bar(128))
            assert float(terms.throughput(3)) == pytest.approx(
                float(pair_throughput(m, 3, 128, wl.T_bar(128))), rel=1e-12)


def test_sharding_a_dense_ffn_pays_where_rA1F_is_ffn_bound():
    """Dense Llama-70B on H100 is FFN-bound at r = 1; with y FFN devices the ratio x/y
    can go below 1 and the planner finds a better throughput per device."""
    wl = geometric_workload(100, 500)
    models = {y: build_bundle_model("h100", "llama3-70b", "llama3-70b", kind="roofline",
                                    ffn_devices=y) for y in (1, 2, 3, 4)}
    out = size_pair(models, wl, 192)
    one = next(r for r in out["per_ffn_devices"] if r["ffn_devices"] == 1)
    assert out["ffn_devices"] > 1 and out["ratio"] < 1
    assert out["throughput_per_device"] > 1.05 * one["throughput_per_device_barrier"]
