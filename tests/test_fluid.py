"""The fluid benchmark (lpsched.fluid; Ao, Luo, Simchi-Levi, Wang, arXiv 2504.11320).

It bounds throughput under a stationary arrival process, not one instance's objective;
the tests check its closed forms, the finite-instance statement behind it (the requests
completed by step T have memory areas summing to at most M T, for every feasible
schedule), and that simulated policies meet it: above the fluid rate the completions
stay below ``lambda* T``, below it the latency stays bounded.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched import solve
from lpsched.check import check
from lpsched.cli import main
from lpsched.fluid import areas, fluid_benchmark, fluid_equilibrium, instance_mix
from lpsched.instance import Instance
from tests.strategies import examples, instances


def _area(inst):
    s, o = inst.prefill, inst.decode
    return s * o + o * (o + 1) // 2


def test_step_model_closed_form():
    inst = Instance.from_arrays(60, [3, 1], [4, 2], [0, 4])  # A = 22, 5: E[A] = 13.5
    fb = fluid_benchmark(inst)
    assert (fb.arrival_rate, fb.mean_area, fb.mean_decode, fb.iteration) == (0.4, 13.5, 3.0, 1.0)
    assert fb.max_rate == pytest.approx(60 / 13.5, rel=1e-12)  # a few float operations
    assert fb.equilibrium_memory == pytest.approx(0.4 * 13.5, rel=1e-12)
    assert fb.stable and fluid_benchmark(inst, arrival_rate=5.0).stable is False


@settings(max_examples=examples(50))
@given(inst=instances(max_n=8, max_memory=80, max_decode=20),
       d=st.tuples(st.floats(0.01, 2), st.floats(0, 0.1), st.floats(0, 0.01)),
       frac=st.floats(0.05, 0.99))
def test_linear_iteration_equilibrium_is_a_fixed_point(inst, d, frac):
    """At a rate below lambda*, tau = d0 + d1 B + d2 K and K <= M; at lambda*, K = M.
    Tolerance rel 1e-9: a handful of float operations, no solver."""
    top = fluid_benchmark(inst, 1.0, d).max_rate
    fb = fluid_benchmark(inst, frac * top, d)
    d0, d1, d2 = d
    assert fb.iteration == pytest.approx(d0 + d1 * fb.equilibrium_batch
                                         + d2 * fb.equilibrium_memory, rel=1e-9)
    assert fb.equilibrium_memory <= inst.memory * (1 + 1e-9) and fb.stable
    at = fluid_benchmark(inst, top, d)
    assert at.equilibrium_memory == pytest.approx(inst.memory, rel=1e-9)
    assert at.load == pytest.approx(1.0, rel=1e-12)


@settings(max_examples=examples(60))
@given(inst=instances(max_n=10, max_memory=40, max_decode=12, arrivals=True),
       algo=st.sampled_from(["mc-sf", "wait", "nested-wait", "fcfs", "gsa"]))
def test_completed_areas_never_exceed_m_t(inst, algo):
    """The statement behind the fluid rate, for every feasible schedule."""
    sched = solve(inst, algo).schedule
    assert check(inst, sched).feasible
    c = sched.completions
    area = _area(inst)
    for T in np.unique(c):
        assert area[c <= T].sum() <= inst.memory * T


def _periodic(rate_per_step: float, n: int, s: int, o: int, M: int) -> Instance:
    a = np.floor(np.arange(n) / rate_per_step).astype(np.int64)
    return Instance.from_arrays(M, [s] * n, [o] * n, a)


@pytest.mark.parametrize("algo", ["mc-sf", "wait"])
def test_policies_meet_the_fluid_rate(algo):
    M, s, o = 40, 2, 6  # A = 12 + 21 = 33: lambda* = 40 / 33 ~ 1.21 per step
    over = _periodic(2.0, 300, s, o, M)
    fb = fluid_benchmark(over)
    assert fb.load > 1.5 and not fb.stable
    c = solve(over, algo).schedule.completions
    for T in (50, 100, 150):
        assert (c <= T).sum() <= fb.max_rate * T  # overloaded: completions capped
    under = _periodic(0.6, 300, s, o, M)
    assert fluid_benchmark(under).load < 0.6
    lat = solve(under, algo).schedule.completions - under.arrival
    assert lat[150:].max() <= lat[:150].max() + o  # stable: latency does not grow


def test_multi_type_equilibrium_worked_numbers():
    """Types (s, o) = (2, 4), (3, 1) at rates 0.2, 0.1 per step, M = 100: A = 18, 4. In the
    step model tau = 1, so n_j = lambda_j = (0.2, 0.1) per stage, the batch holds
    0.2 * 4 + 0.1 * 1 = 0.9 requests and 0.2 * 18 + 0.1 * 4 = 4 tokens; every rate can
    grow by M / 4 = 25 before memory binds. With d = (1, 0.1, 0.01): tau =
    1 / (1 - 0.1 * 0.9 - 0.01 * 4) = 1 / 0.87, theta* = 100 / (4 + 100 * 0.13) = 100 / 17.
    Tolerance rel 1e-12: a few float operations."""
    eq = fluid_equilibrium([2, 3], [4, 1], [0.2, 0.1], 100)
    assert eq.stage_mass.tolist() == pytest.approx([0.2, 0.1], rel=1e-12)
    assert (eq.batch, eq.memory) == (pytest.approx(0.9, rel=1e-12), pytest.approx(4.0, rel=1e-12))
    assert eq.max_scale == pytest.approx(25.0, rel=1e-12) and eq.stable
    assert eq.throughput == pytest.approx(0.3, rel=1e-12)
    lin = fluid_equilibrium([2, 3], [4, 1], [0.2, 0.1], 100, (1.0, 0.1, 0.01))
    assert lin.iteration == pytest.approx(1 / 0.87, rel=1e-12)
    assert lin.max_scale == pytest.approx(100 / 17, rel=1e-12)
    over = fluid_equilibrium([2, 3], [4, 1], [6.0, 3.0], 100)  # 30x the rates: theta* = 5/6
    assert not over.stable and over.throughput == pytest.approx(9.0 * 100 / 120, rel=1e-12)


@settings(max_examples=examples(50))
@given(inst=instances(max_n=10, max_memory=80, max_decode=20, arrivals=True),
       d=st.tuples(st.floats(0.01, 2), st.floats(0, 0.1), st.floats(0, 0.01)),
       lam=st.floats(0.001, 5))
def test_mix_benchmark_is_the_multi_type_equilibrium(inst, d, lam):
    """fluid_benchmark's single mix is the multi-type equilibrium at rates lambda p_j:
    the same tau, batch, memory, and lambda* = lambda theta*; and at the rates scaled by
    theta* the equilibrium memory is M (memory binds). rel 1e-9: float sums in another
    order."""
    fb = fluid_benchmark(inst, lam, d)
    s, o, p = instance_mix(inst)
    eq = fluid_equilibrium(s, o, lam * p, inst.memory, d)
    assert eq.max_scale * lam == pytest.approx(fb.max_rate, rel=1e-9)
    assert float(p @ areas(s, o)) == pytest.approx(fb.mean_area, rel=1e-12)
    if fb.stable:
        assert eq.memory == pytest.approx(fb.equilibrium_memory, rel=1e-9)
        assert eq.batch == pytest.approx(fb.equilibrium_batch, rel=1e-9)
    top = fluid_equilibrium(s, o, lam * eq.max_scale * p, inst.memory, d)
    assert top.memory == pytest.approx(inst.memory, rel=1e-9)


def test_bound_cli_reports_the_fluid_view_for_online_instances(capsys):
    assert main(["bound", "tiny-4"]) == 0
    out = capsys.readouterr().out
    assert "fluid" in out and "max_rate" in out and "not this instance's objective" in out
    assert main(["bound", "tiny-3"]) == 0
    assert "fluid" not in capsys.readouterr().out
