"""Shared test data: hypothesis strategies (random instances and start vectors) and fixed start cases."""

from __future__ import annotations

import os

import numpy as np
from hypothesis import strategies as st

from lpsched.generators import random_instance
from lpsched.instance import Instance

#: The hypothesis profile (tests/conftest.py): ``ci`` (default) or ``long``.
HYPOTHESIS_PROFILE = os.environ.get("LPSCHED_HYPOTHESIS_PROFILE", "ci")
if HYPOTHESIS_PROFILE not in ("ci", "long"):
    raise ValueError(f"LPSCHED_HYPOTHESIS_PROFILE must be ci or long, got {HYPOTHESIS_PROFILE!r}")
#: How many times the CI budgets the ``long`` profile runs.
LONG_FACTOR = 10


def examples(ci: int) -> int:
    """A test's hypothesis budget: ``ci`` examples in the ``ci`` profile, ``LONG_FACTOR``
    times more in the ``long`` one (``max_examples=examples(40)``)."""
    return ci * LONG_FACTOR if HYPOTHESIS_PROFILE == "long" else ci


@st.composite
def instances(draw, *, min_n: int = 1, max_n: int = 6, max_memory: int = 30,
              max_decode: int = 12, arrivals: bool | None = None, max_arrival: int = 10):
    """A valid random instance (every request fits alone).

    ``arrivals=None`` draws both offline and online instances.
    """
    memory = draw(st.integers(2, max_memory))
    s, o, a = _draw_requests(draw, memory, min_n, max_n, max_decode, arrivals, max_arrival)
    return Instance.from_arrays(memory, s, o, a, name="hyp")


def _draw_requests(draw, cap: int, min_n: int, max_n: int, max_decode: int,
                   arrivals: bool | None, max_arrival: int) -> tuple[list, list, list]:
    """Prefill, decode and arrival lists of ``n`` requests whose peaks ``s + o`` are
    at most ``cap`` (the draws of both strategies, in this order)."""
    n = draw(st.integers(min_n, max_n))
    online = draw(st.booleans()) if arrivals is None else arrivals
    s, o, a = [], [], []
    for _ in range(n):
        si = draw(st.integers(0, cap - 1))
        oi = draw(st.integers(1, min(max_decode, cap - si)))
        s.append(si)
        o.append(oi)
        a.append(draw(st.integers(0, max_arrival)) if online else 0)
    return s, o, a


@st.composite
def paged_instances(draw, *, max_block: int = 8, min_n: int = 1, max_n: int = 6,
                    max_memory: int = 40, max_decode: int = 12, arrivals: bool | None = None,
                    max_arrival: int = 10):
    """A valid random instance with a random block size ``b`` in ``1..max_block`` (every
    request fits alone in blocks: ``b ceil((s + o) / b) <= M``)."""
    b = draw(st.integers(1, max_block))
    memory = b * draw(st.integers(1, max(1, max_memory // b))) + draw(st.integers(0, b - 1))
    memory = max(memory, 2)
    cap = (memory // b) * b  # largest peak that fits in blocks
    s, o, a = _draw_requests(draw, cap, min_n, max_n, max_decode, arrivals, max_arrival)
    return Instance.from_arrays(memory, s, o, a, name="hyp-paged", block_size=b)


@st.composite
def schedules(draw, instance: Instance, max_delay: int = 15):
    """Arbitrary start vectors (feasible or not) with ``p_i >= a_i``."""
    return [int(a) + draw(st.integers(0, max_delay)) for a in instance.arrival]


@st.composite
def segmented_schedules(draw, instance: Instance, max_delay: int = 8, max_gap: int = 4):
    """Start vectors and random ``runs`` (feasible or not): each request either in one piece
    or split into up to 4 segments of random lengths with random gaps between them."""
    starts, runs = [], {}
    for k in range(instance.n):
        p = int(instance.arrival[k]) + draw(st.integers(0, max_delay))
        starts.append(p)
        o = int(instance.decode[k])
        cuts = sorted(draw(st.sets(st.integers(1, o - 1), max_size=3))) if o > 1 else []
        if not cuts:
            continue
        lengths = [b - a for a, b in zip([0] + cuts, cuts + [o])]
        segs, t = [], p
        for d in lengths:
            segs.append((t, d))
            t += d + draw(st.integers(0, max_gap))
        runs[k] = segs
    return starts, runs


def start_cases(count: int, seed: int):
    """``count`` fixed cases ``(k, instance, starts)`` for models that must accept exactly
    the feasible schedules: ``random_instance(4, 12, k)`` (decodes up to 6, arrivals up to
    3 on odd ``k``) with starts drawn up to 7 steps after each arrival, about half of
    them infeasible."""
    rng = np.random.default_rng(seed)
    for k in range(count):
        inst = random_instance(4, 12, k, max_decode=6, max_arrival=3 * (k % 2))
        yield k, inst, inst.arrival + rng.integers(0, 8, size=inst.n)


def seed_coefficients() -> st.SearchStrategy:
    """AFD seed-model coefficients (:class:`lpsched.afd.ratio.SeedCoefficients`) over the
    ranges the calibrated GPUs span: attention, communication and FFN slopes/intercepts."""
    from lpsched.afd.ratio import SeedCoefficients

    return st.builds(
        SeedCoefficients,
        a_A=st.floats(1e-8, 2e-6), b_A=st.floats(0.0, 1.0), a_C=st.floats(0.0, 1e-3),
        b_C=st.floats(0.0, 0.5), a_F=st.floats(1e-4, 1e-2), b_F=st.floats(0.0, 1.0))
