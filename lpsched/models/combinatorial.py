"""Combinatorial lower bounds on the total completion time ``sum_i (c_i - a_i)``.

All bounds here hold for *every* feasible schedule (hence for the optimum):

* **decode bound** ``sum_i o_i``: request ``i`` runs ``o_i`` steps after it arrives,
  so ``c_i - a_i >= o_i``.
* **memory-area bound** (Smith's rule / SPT on areas): request ``i`` holds
  ``s_i + d`` tokens in its ``d``-th step, ``A_i = s_i*o_i + o_i(o_i+1)/2``
  token-steps in total, all inside steps ``a_i+1..c_i``, and no step holds more
  than ``M`` tokens. Reading memory as a single machine of speed ``M`` gives a
  preemptive single-machine relaxation with processing times ``A_i / M`` and
  release dates ``a_i``; its optimum (SPT on ``A_i`` when all ``a_i = 0``,
  Smith 1956; SRPT with release dates, Schrage 1968) bounds ``sum_i c_i``.
  Offline, the ``k``-th completion satisfies ``c_(k) >= P_k / M`` with ``P_k`` the
  sum of the ``k`` smallest areas (the ``k`` requests done by then have used
  that much area in steps ``1..c_(k)``), and ``c_(k)`` is an integer.
* **combined bound** (offline): the sorted completion times dominate both the
  sorted decode lengths (``c_i >= o_i`` for all ``i`` implies ``c_(k) >= o_(k)``)
  and the area prefixes, so ``sum_k max(o_(k), ceil(P_k / M))`` is valid and at
  least as strong as either. With arrivals the combined bound is the larger of
  the decode bound and the SRPT area bound.
* **mean-busy-time bound** (offline, :func:`mean_busy_bound`): the same machine
  of speed ``M`` read through mean busy times (Goemans 1997), which keeps each
  request's own ramp: ``c_i`` is its memory-weighted mean step plus a constant,
  so the bound gains about ``o_i / 2 - A_i / (2M)`` per request over the area
  bound (formulations/trace_bounds.md).
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from lpsched.instance import Instance
from lpsched.stop import Deadline

__all__ = ["area_bound", "combined_bound", "decode_bound", "exact_lengths", "fractional_bound",
           "mean_busy_bound", "srpt_fluid_sum"]

_INT64_SAFE = 1 << 62


def exact_lengths(instance: Instance) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(s, o, A)`` as ``int64`` arrays, or as arrays of Python integers (``dtype=object``)
    when the sums the bounds form (``n`` times the largest area, or the largest first moment
    ``s o^2 + o^3``) could pass ``2^62``: the bounds' integer arithmetic then stays exact
    instead of wrapping (lengths up to the input cap, e.g. decodes of ``10^9``)."""
    s, o = instance.prefill, instance.decode
    om, pm = float(o.max()), float((s + o).max())
    if instance.n * pm * om * (om + 1.0) < _INT64_SAFE:
        s64, o64 = s.astype(np.int64), o.astype(np.int64)
        return s64, o64, s64 * o64 + o64 * (o64 + 1) // 2
    so = np.array([int(x) for x in s.tolist()], dtype=object)
    oo = np.array([int(x) for x in o.tolist()], dtype=object)
    return so, oo, so * oo + oo * (oo + 1) // 2


def decode_bound(instance: Instance) -> int:
    """``sum_i o_i``: every latency is at least the decode length."""
    return int(instance.decode.sum())


def srpt_fluid_sum(sizes: np.ndarray, releases: np.ndarray, rate: float) -> float:
    """Minimum ``sum_i C_i`` of preemptive single-machine jobs (SRPT, continuous time).

    Job ``i`` has work ``sizes[i]`` released at ``releases[i]``; the machine does
    ``rate`` units of work per unit of time. SRPT is optimal for
    ``1 | r_j, pmtn | sum C_j`` (Schrage 1968).
    """
    order = np.argsort(releases, kind="stable")
    r = releases[order].astype(float)
    w = sizes[order].astype(float) / rate
    n = len(w)
    heap: list[tuple[float, int]] = []
    t, k, total = 0.0, 0, 0.0
    while k < n or heap:
        if not heap:
            t = max(t, r[k])
        while k < n and r[k] <= t:
            heapq.heappush(heap, (w[k], k))
            k += 1
        rem, j = heapq.heappop(heap)
        nxt = r[k] if k < n else math.inf
        if t + rem <= nxt:
            t += rem
            total += t
        else:
            heapq.heappush(heap, (rem - (nxt - t), j))
            t = nxt
    return total


def area_bound(instance: Instance) -> int:
    """The memory-area bound (see module docstring), rounded up to an integer."""
    A, M, a = exact_lengths(instance)[2], instance.memory, instance.arrival
    if instance.offline:
        prefix = np.cumsum(np.sort(A))
        return int(np.sum(-(-prefix // M)))  # sum_k ceil(P_k / M)
    total = srpt_fluid_sum(A, a, float(M)) - float(a.sum())
    return int(math.ceil(total - 1e-9))


def combined_bound(instance: Instance) -> int:
    """The best combinatorial bound: per-rank max of decode and area bounds (offline)."""
    if instance.offline:
        _, o, A = exact_lengths(instance)
        o_sorted = np.sort(o)
        prefix = np.cumsum(np.sort(A))
        return int(np.sum(np.maximum(o_sorted, -(-prefix // instance.memory))))
    return max(decode_bound(instance), area_bound(instance))


def combined_bound_without_each(instance: Instance, *,
                                deadline: Deadline | None = None) -> np.ndarray:
    """``LB(I \\ {i})`` for every ``i`` (the combined bound of the instance minus ``i``).

    Used for the start windows of the exact models. Offline this costs
    ``O(n^2)`` with numpy; with arrivals it runs SRPT ``n`` times, so for
    ``n > 400`` (with arrivals) or ``n > 2000`` (offline) the cheaper valid
    ``sum_{j != i} o_j`` is returned instead; the same when ``deadline`` (a
    :class:`~lpsched.stop.Deadline`, checked between requests) expires first.
    """
    n = instance.n
    o = instance.decode
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    cheap = int(o.sum()) - o
    if n > 2000 or (not instance.offline and n > 400):  # O(n^2) below
        return cheap
    out = np.empty(n, dtype=np.int64)
    if instance.offline:
        M = instance.memory
        order_o = np.argsort(o, kind="stable")
        order_a = np.argsort(instance.area, kind="stable")
        o_sorted, a_sorted = o[order_o], instance.area[order_a]
        pos_o = np.empty(n, dtype=np.int64)
        pos_o[order_o] = np.arange(n)
        pos_a = np.empty(n, dtype=np.int64)
        pos_a[order_a] = np.arange(n)
        for i in range(n):
            if deadline is not None and i % 64 == 0 and deadline.expired():
                return cheap
            oo = np.delete(o_sorted, pos_o[i])
            pa = np.cumsum(np.delete(a_sorted, pos_a[i]))
            out[i] = int(np.sum(np.maximum(oo, -(-pa // M))))
        return out
    for i in range(n):
        if deadline is not None and i % 8 == 0 and deadline.expired():
            return cheap
        keep = np.delete(np.arange(n), i)
        out[i] = combined_bound(instance.subset(keep))
    return out


def _earliest_fill(X: np.ndarray, M: int) -> np.ndarray:
    """``g(X) = min sum_t t u(t)`` over ``0 <= u(t) <= M``, ``sum_t u(t) = X`` (steps 1, 2, ...).

    Filling the earliest steps first is optimal: with ``X = q M + r``, ``0 <= r < M``,
    ``g(X) = M q (q + 1) / 2 + r (q + 1)`` (exact integers; ``int64`` is enough while
    ``M q^2 < 9e18``, i.e. total areas below about ``3e9 sqrt(M)``).
    """
    q, r = X // M, X % M  # (divmod has no object-dtype loop)
    return M * (q * (q + 1) // 2) + r * (q + 1)


def fractional_bound(value: float) -> int:
    """The integer bound implied by a fractional lower bound ``value`` on an integer sum.

    ``ceil`` after subtracting a relative ``1e-9`` margin (and ``1e-6``) for the
    floating-point error of the sums behind ``value``.
    """
    return int(math.ceil(value - 1e-9 * abs(value) - 1e-6))


def mean_busy_bound(instance: Instance) -> float:
    """The mean-busy-time bound (offline), a fractional value; ``formulations/trace_bounds.md``.

    Request ``i`` started at ``p_i`` holds ``s_i + d`` tokens in step ``p_i + d``;
    its mean busy step ``B_i = sum_t t m_i(t) / A_i = p_i + beta_i`` with
    ``beta_i = (s_i o_i (o_i + 1) / 2 + o_i (o_i + 1)(2 o_i + 1) / 6) / A_i``, so
    ``c_i = B_i + (o_i - beta_i)`` exactly. For every set ``S``,
    ``sum_{i in S} A_i B_i = sum_t t u_S(t) >= g(A(S))`` (:func:`_earliest_fill`;
    ``u_S(t) <= M``), and ``A_i B_i >= A_i beta_i`` (``p_i >= 0``). With areas
    ascending and ``Y_k = sum_{j <= k} A_j B_j``, Abel summation with the
    non-increasing weights ``1 / A_k`` gives
    ``sum_i B_i = sum_k (1/A_k - 1/A_{k+1}) Y_k >= sum_k (1/A_k - 1/A_{k+1}) L_k``
    with ``L_k = max(g(P_k), sum_{j <= k} A_j beta_j)`` (Goemans 1997's mean busy
    time relaxation, specialised to fixed memory ramps; Queyranne 1993's
    parallel inequalities). Instances with arrivals: ``sum_i o_i`` (not derived).
    """
    if not instance.offline:
        return float(decode_bound(instance))
    s, o, A = exact_lengths(instance)
    order = np.lexsort((o.astype(float), A.astype(float))) if A.dtype == object \
        else np.lexsort((o, A))
    s, o, A = s[order], o[order], A[order]
    first_moment = s * (o * (o + 1) // 2) + o * (o + 1) * (2 * o + 1) // 6  # A_i beta_i
    L = np.maximum(_earliest_fill(np.cumsum(A), instance.memory), np.cumsum(first_moment))
    w = 1.0 / A.astype(float)
    dw = w - np.append(w[1:], 0.0)
    busy = float(np.sum(dw * L.astype(float)))
    return busy + float(np.sum(o)) - float(np.sum(first_moment.astype(float) / A.astype(float)))
