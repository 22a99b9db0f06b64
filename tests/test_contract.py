"""The solve contract, for every registered algorithm (built-in and a user's).

For random instances (offline and online, hypothesis) and random short time limits
``L`` in [0.05, 2] s, ``solve(instance, algo, time_limit=L)``:

* raises nothing (the tiny-only DP refuses larger instances with ``UnsupportedInstance``
  at once, the documented refusal);
* returns within ``L + SLACK`` seconds of wall time (the exact contract is
  ``L + max(1 s, 5% of L)``, measured in ``benchmarks/results/contract.md``; CI asserts
  a generous slack so that a loaded machine cannot fail it);
* returns a schedule that the shared checker accepts, with the objective recomputed;
* has an honest status: never ``error``; ``optimal`` only with a bound equal to the
  objective, and then the objective is the optimum of an independent oracle; every
  reported lower bound is at most that optimum. (The oracle solves the model without
  preemption; a schedule with segmented runs, which only preempting policies produce,
  is compared with it only through the checker: preemption relaxes the model.)

The full version (more examples, larger instances) is marked ``slow``.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched import registry
from lpsched.check import check
from lpsched.heuristics.dp import MAX_N
from lpsched.options import Option, UnsupportedInstance
from lpsched.schedule import SolveStatus, sequential_starts
from lpsched.solve import solve
from tests.oracle_bb import bb_optimum
from tests.strategies import examples, instances

SLACK = 3.0  # CI: L + 3 s (the contract proper is L + max(1 s, 5% L))
ORACLE_MAX_N = 5


def user_greedy(instance, *, deadline, seed=None, passes=3):
    """A user's algorithm: the best of a few random sequential orders, checking the deadline."""
    rng = np.random.default_rng(0 if seed is None else seed)
    best = sequential_starts(instance, np.argsort(instance.arrival, kind="stable"))
    for _ in range(passes):
        if deadline.expired():
            break
        cand = sequential_starts(instance, rng.permutation(instance.n))
        if (cand + instance.decode).sum() < (best + instance.decode).sum():
            best = cand
    return best


@pytest.fixture(scope="module", autouse=True)
def user_algorithm():
    registry.register("test-user-greedy", user_greedy, summary="contract test: a user's algorithm",
                      options=[Option("passes", "int", "random orders tried", minimum=0)],
                      replace=True)
    yield
    registry.unregister("test-user-greedy")


ALGORITHMS = registry.algorithm_names() + ["test-user-greedy"]


def _run(algo: str, inst, limit: float):
    if algo == "dp" and inst.n > MAX_N:
        with pytest.raises(UnsupportedInstance):
            solve(inst, algo, time_limit=limit)
        return None
    registry.get(algo).load()  # warm: a cold call spends part of its limit importing OR-Tools
    t0 = time.perf_counter()
    res = solve(inst, algo, time_limit=limit)
    wall = time.perf_counter() - t0
    assert wall <= limit + SLACK, f"{algo}: {wall:.2f} s at a {limit:.2f} s limit"
    assert res.status is not SolveStatus.ERROR, f"{algo}: {res.message}"
    assert res.schedule is not None
    rep = check(inst, res.schedule)
    assert rep.feasible, f"{algo}: {rep.reason()}"
    assert res.objective == rep.objective
    if res.lower_bound is not None:
        assert res.lower_bound <= res.objective + 1e-9
    if res.status is SolveStatus.OPTIMAL:
        assert res.lower_bound is not None and res.lower_bound >= res.objective - 1e-9
    # the oracle is the optimum without preemption: a schedule with segmented runs
    # (a policy that preempts, e.g. vllm) may beat it, as preemption relaxes the model
    if inst.n <= ORACLE_MAX_N and int(inst.decode.max()) <= 8 and not res.schedule.runs:
        opt, _ = bb_optimum(inst.memory, inst.prefill.tolist(), inst.decode.tolist(),
                            inst.arrival.tolist())
        assert res.objective >= opt, f"{algo}: objective {res.objective} below the optimum {opt}"
        if res.lower_bound is not None:
            assert res.lower_bound <= opt + 1e-9, f"{algo}: bound {res.lower_bound} > optimum {opt}"
        if res.status is SolveStatus.OPTIMAL:
            assert res.objective == opt
    return res


LIMITS = st.floats(0.05, 2.0)


@pytest.mark.parametrize("algo", ALGORITHMS)
@settings(max_examples=examples(10))
@given(inst=instances(max_n=6, max_memory=24, max_decode=8), limit=LIMITS)
def test_contract_small(algo, inst, limit):
    _run(algo, inst, limit)


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_contract_medium_online_and_offline(algo):
    """One larger instance each way (n = 40): the searches run into their limits here."""
    from lpsched.generators import mcsf_synthetic, random_instance

    for inst, limit in ((mcsf_synthetic(40, 3), 0.3),
                        (random_instance(40, 200, 4, max_decode=60, max_arrival=300), 0.2)):
        _run(algo, inst, limit)


@pytest.mark.slow
@pytest.mark.parametrize("algo", ALGORITHMS)
@settings(max_examples=examples(40))
@given(inst=instances(max_n=30, max_memory=80, max_decode=40, max_arrival=60), limit=LIMITS)
def test_contract_full(algo, inst, limit):
    _run(algo, inst, limit)
