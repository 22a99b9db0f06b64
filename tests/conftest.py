"""Shared fixtures and the hypothesis budgets of the test suite.

Hypothesis profiles (``LPSCHED_HYPOTHESIS_PROFILE``, default ``ci``):

* ``ci``: the budgets written in the tests (``max_examples=examples(n)``, sized so
  that ``python -m pytest`` stays within a few minutes on a 2-core machine),
  derandomized (the same examples on every run and machine), no per-example deadline;
* ``long``: ten times those budgets, random examples (a new draw on every run), for a
  longer search: ``LPSCHED_HYPOTHESIS_PROFILE=long python -m pytest tests/<file>``.

Fixtures: the bundled tiny instances (``tiny``, ``tiny3``, ``tiny4``) and the
independent oracles of ``tests/oracle.py`` and ``tests/oracle_bb.py`` applied to an
:class:`~lpsched.instance.Instance` (``optimum``, ``brute_optimum``, ``feasible``).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from lpsched import library
from tests.oracle import brute_force_optimum, naive_feasible
from tests.oracle_bb import bb_optimum
from tests.strategies import HYPOTHESIS_PROFILE, LONG_FACTOR

settings.register_profile("ci", deadline=None, derandomize=True, max_examples=50,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", deadline=None, derandomize=False,
                          max_examples=50 * LONG_FACTOR,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(HYPOTHESIS_PROFILE)


@pytest.fixture(scope="session")
def tiny():
    """The bundled tiny instances by name (``tiny-1`` .. ``tiny-4``, known optima)."""
    return {inst.name: inst for inst in library.resolve("tiny")}


@pytest.fixture(scope="session")
def tiny3(tiny):
    """``tiny-3``: four offline requests, M = 12, optimum 12."""
    return tiny["tiny-3"]


@pytest.fixture(scope="session")
def tiny4(tiny):
    """``tiny-4``: four requests with arrivals, M = 9, optimum 12."""
    return tiny["tiny-4"]


def _columns(inst):
    return inst.memory, inst.prefill.tolist(), inst.decode.tolist(), inst.arrival.tolist()


@pytest.fixture(scope="session")
def optimum():
    """``optimum(instance) -> (objective, starts)``: the branch-and-bound oracle."""
    return lambda inst: bb_optimum(*_columns(inst))


@pytest.fixture(scope="session")
def brute_optimum():
    """``brute_optimum(instance) -> (objective, starts)``: exhaustive enumeration
    (n <= 4, short decodes)."""
    return lambda inst: brute_force_optimum(*_columns(inst))


@pytest.fixture(scope="session")
def feasible():
    """``feasible(instance, starts) -> bool``: the plain per-step memory scan."""
    return lambda inst, starts: naive_feasible(*_columns(inst), list(starts))
