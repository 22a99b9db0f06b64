"""Adversarial instance families: FCFS, shortest-first and size-first far from optimal.

The seed paper (Wang, Ye, Zhou 2025, arXiv:2508.06133) shows that with
heterogeneous prompt lengths FCFS and shortest-first (SF) have approximation
ratios that grow without bound with the memory ``M``. The two families below
make that concrete; both are offline (all arrivals 0), every request fits alone,
and for each we give an explicit schedule whose objective ``UB(M)`` bounds the
optimum from above, so ``ALG / OPT >= ALG / UB(M)`` is a *provable* lower bound
on the ratio.

``sf_trap(M)`` (defeats SF, MC-SF and FCFS; requests listed long-prompt first):
    ``m = ceil(sqrt(M))`` *long-prompt* requests ``s = M - 1, o = 1`` (peak ``M``:
    each must run alone) and ``q = floor(M / 2)`` *short* requests ``s = 0, o = 2``
    (all ``q`` fit together: memory ``q`` then ``2q <= M``).
    SF (and MC-SF) start the ``o = 1`` requests first, one per step, then the
    short batch: ``SF = m(m+1)/2 + q(m+2)``; FCFS in list order does the same.
    Running the short batch first: ``UB = 2q + 2m + m(m+1)/2``.
    ``SF / OPT >= SF / UB ~ (q m) / (2q) = m / 2 ~ sqrt(M) / 2``.

``size_trap(M)`` (defeats size-first and FCFS; listed long-decode first):
    one request ``s = 0, o = M - 1`` (size ``M - 1``) and ``k = ceil(sqrt(M))``
    requests ``s = M - 1, o = 1`` (size ``M``, peak ``M``: alone). Size-first runs
    the long-decode request first and nothing fits beside it for ``M - 1``
    steps: ``SIZE = (M - 1) + k(M - 1) + k(k+1)/2``. The other order gives
    ``UB = k(k+1)/2 + k + M - 1``; ``SIZE / UB ~ k M / (M + k^2/2) -> sqrt(M) / 1.5``.

Sorted-F picks the right batch first in both (``F`` of the short batch is
``4/M`` against ``1`` for a long-prompt request), which the tests and
``benchmarks/adversarial.py`` check numerically as ``M`` doubles.
"""

from __future__ import annotations

import math

import numpy as np

from lpsched.instance import Instance

__all__ = ["FAMILIES", "interval_trap", "restart_trap", "size_trap", "size_trap_upper_bound",
           "sf_trap", "sf_trap_upper_bound"]


def _check_memory(M: int, lo: int) -> None:
    if isinstance(M, bool) or not isinstance(M, (int, np.integer)) or M < lo:
        raise ValueError(f"memory must be an integer >= {lo}, got {M!r}")


def sf_trap(M: int) -> Instance:
    """The shortest-first trap of the module docstring (``M >= 4``)."""
    _check_memory(M, 4)
    m = math.isqrt(M - 1) + 1  # ceil(sqrt(M)) for non-squares, sqrt(M)+1 for squares: >= sqrt(M)
    q = M // 2
    s = np.array([M - 1] * m + [0] * q, dtype=np.int64)
    o = np.array([1] * m + [2] * q, dtype=np.int64)
    ids = [f"L{k}" for k in range(m)] + [f"S{k}" for k in range(q)]
    return Instance.from_arrays(
        M, s, o, ids=ids, name=f"sf-trap-M{M}",
        metadata={"source": "lpsched.adversarial.sf_trap", "family": "sf-trap", "M": M,
                  "upper_bound": sf_trap_upper_bound(M),
                  "upper_bound_schedule": "short batch (s=0, o=2) at step 0, then the "
                                          "long-prompt requests one per step"})


def sf_trap_upper_bound(M: int) -> int:
    """Objective of the explicit schedule 'short batch first' (an upper bound on OPT)."""
    m = math.isqrt(M - 1) + 1
    q = M // 2
    return 2 * q + 2 * m + m * (m + 1) // 2


def size_trap(M: int) -> Instance:
    """The size-first trap of the module docstring (``M >= 4``)."""
    _check_memory(M, 4)
    k = math.isqrt(M - 1) + 1
    s = np.array([0] + [M - 1] * k, dtype=np.int64)
    o = np.array([M - 1] + [1] * k, dtype=np.int64)
    ids = ["D0"] + [f"L{j}" for j in range(k)]
    return Instance.from_arrays(
        M, s, o, ids=ids, name=f"size-trap-M{M}",
        metadata={"source": "lpsched.adversarial.size_trap", "family": "size-trap", "M": M,
                  "upper_bound": size_trap_upper_bound(M),
                  "upper_bound_schedule": "long-prompt requests one per step from step 0, "
                                          "then the long-decode request"})


def size_trap_upper_bound(M: int) -> int:
    k = math.isqrt(M - 1) + 1
    return k * (k + 1) // 2 + k + M - 1


#: name -> (generator, explicit upper bound on the optimum)
FAMILIES = {"sf-trap": (sf_trap, sf_trap_upper_bound),
            "size-trap": (size_trap, size_trap_upper_bound)}


# -- families for the rules of issue 21 (docs/papers.md) ----------------------------------------


def restart_trap(k: int) -> Instance:
    """GSA pays its restarts: one request ``s = 0, o = 2^k + 1``, ``M = o`` (``k >= 0``).

    GSA (base 2, first slice 1, :mod:`lpsched.heuristics.geometric`) runs killed
    attempts of ``1, 2, ..., 2^k`` steps before the one that completes, so its objective
    is ``(2^(k+1) - 1) + 2^k + 1 = 3 * 2^k`` against the optimum ``2^k + 1``: the ratio
    ``3 * 2^k / (2^k + 1)`` tends to 3 (a lower bound on GSA's competitive ratio that
    any doubling rule pays; the paper's upper bound is 61.92).
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be an integer >= 0, got {k!r}")
    o = 2 ** int(k) + 1
    return Instance.from_arrays(
        o, [0], [o], ids=["J"], name=f"restart-trap-k{k}",
        metadata={"source": "lpsched.adversarial.restart_trap", "family": "restart-trap",
                  "k": int(k), "optimum": o, "gsa_objective": 3 * 2 ** int(k)})


def interval_trap(u: int, q: int) -> tuple[Instance, list[int], list[int]]:
    """A_max pays its conservatism: ``n = q u`` requests ``s = 0, o = 1``, ``M = q u``,
    all predicted in ``[1, u]`` (accuracy ``alpha = 1/u``); returns the instance and the
    interval ends ``(lower, upper)``.

    All ``n`` requests fit together (memory ``n = M`` in step 1), so the optimum is
    ``n``. A_max plans each at its upper end: ``q u`` tokens per request at its assumed
    completion step, so it admits ``q`` per step: objective ``q u (u + 1) / 2``, ratio
    ``(u + 1) / 2 = (1/alpha + 1) / 2``, growing without bound as the intervals widen.
    """
    for name, v in (("u", u), ("q", q)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    n = int(u) * int(q)
    inst = Instance.from_arrays(
        n, [0] * n, [1] * n, name=f"interval-trap-u{u}-q{q}",
        metadata={"source": "lpsched.adversarial.interval_trap", "family": "interval-trap",
                  "u": int(u), "q": int(q), "optimum": n,
                  "a_max_objective": int(q) * int(u) * (int(u) + 1) // 2})
    return inst, [1] * n, [int(u)] * n
