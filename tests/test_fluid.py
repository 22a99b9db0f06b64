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
from lpsched.fluid import fluid_benchmark
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


def test_bound_cli_reports_the_fluid_view_for_online_instances(capsys):
    assert main(["bound", "tiny-4"]) == 0
    out = capsys.readouterr().out
    assert "fluid" in out and "max_rate" in out and "not this instance's objective" in out
    assert main(["bound", "tiny-3"]) == 0
    assert "fluid" not in capsys.readouterr().out
