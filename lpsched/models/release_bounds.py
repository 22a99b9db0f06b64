"""The mean-busy-time bound with release dates (Goemans 1997 for a machine of speed ``M``).

Proof and measurements: ``formulations/trace_bounds.md`` (section "With release dates").
In short, with ``A_i`` the area and ``A_i beta_i`` the first moment of request ``i``'s
ramp, ``c_i = B_i + (o_i - beta_i)`` exactly, where ``B_i`` is its memory-weighted mean
busy step. Spreading each step's memory uniformly over ``(t - 1, t]`` turns any schedule
into a preemptive schedule on one machine of speed ``M`` that processes request ``i``'s
``A_i`` units after its release ``a_i``, with mean busy times ``B_i - 1/2``. For the set
``S_k`` of the ``k`` smallest areas,

* ``Y_k = sum_{j in S_k} A_j (B_j - 1/2) >= G_k``, the first moment of the earliest
  (work-conserving) processing of ``S_k`` alone: ``sum_j w_j (b_j + w_j / (2M))`` over the
  work ``w_j`` of ``S_k`` in release order, processed from ``b_j = max(C_{j-1}, r_j)``,
  ``C_j = b_j + w_j / M``;
* ``Y_k >= F_k = sum_{j in S_k} A_j (a_j + beta_j - 1/2)``: request ``j`` starts at
  ``p_j >= a_j`` and ``B_j = p_j + beta_j`` (the duration it needs, its ramp).

Abel summation with the non-increasing weights ``1 / A_k`` (areas ascending) gives
``sum_i (B_i - 1/2 - a_i) >= sum_k (1/A_k - 1/A_{k+1}) (max(G_k, F_k) - sum_{j <= k} A_j a_j)``,
and so
``sum_i (c_i - a_i) >= that + n/2 + sum_i (o_i - beta_i)``. (Subtracting the releases
inside each prefix keeps every term non-negative: the sums are then accurate to a
relative ``O(n eps)`` whatever the size of the arrival times.) With ``F`` alone it is
the decode bound ``sum_i o_i``; with ``G`` alone it is the mean busy time of preemptive
WSPT (smallest area first) with release dates, Goemans' LP optimum.

``G_k`` costs ``O(k)`` (numpy); it is computed for every ``k`` up to a work budget and
otherwise on a grid of prefixes, ``G_k`` taken from the largest computed ``k' <= k``
(valid: ``G`` only grows when requests are added, each ``S_{k'}`` being part of ``S_k``).
"""

from __future__ import annotations

import math

import numpy as np

from lpsched.instance import Instance
from lpsched.models.combinatorial import exact_lengths

__all__ = ["RAMP_MAX_STEPS", "profile_busy_bound", "ramp_horizon", "ramp_prefix_moments",
           "release_busy_bound", "set_first_moments"]

DEFAULT_WORK = 4e7
"""Element operations allowed for the ``G_k`` (about a second of numpy)."""


def set_first_moments(release: np.ndarray, work: np.ndarray, order: np.ndarray,
                      memory: int, ks: np.ndarray) -> np.ndarray:
    """``G_k - sum_{j in S_k} A_j a_j`` for each ``k`` in ``ks``: the first moment
    ``int tau dW(tau)`` of processing the requests ``order[:k]`` as early as possible on
    a machine of speed ``memory`` (work ``work[j]`` available from time ``release[j]``;
    any work-conserving order gives the same aggregate profile, hence the same first
    moment), less each request's release times its work.

    That is ``sum_j w_j (wait_j + w_j / (2M))`` with ``wait_j = b_j - r_j``. Times are
    kept in units of ``1/M`` as integers (``C'_j = max(C'_{j-1}, M r_j) + w_j``), so the
    waits are exact; every term of the final float sum is non-negative, so its relative
    error is ``O(n eps)`` whatever the size of the release times (issue 19: arrivals
    of ``10^12`` steps next to decodes of 4).
    """
    by_release = np.argsort(release, kind="stable")
    rank = np.empty_like(by_release)
    rank[by_release] = np.arange(by_release.size)
    big = float(release.max()) * memory + float(np.sum(work.astype(float)))
    dtype = np.int64 if big < 2.0 ** 61 else object
    r_sorted = release[by_release].astype(dtype) * memory
    w_sorted = work[by_release].astype(dtype)
    member = np.zeros(by_release.size, dtype=bool)
    out = np.empty(ks.size)
    done = 0
    for idx, k in enumerate(ks.tolist()):
        member[rank[order[done:k]]] = True
        done = k
        rM, w = r_sorted[member], w_sorted[member]
        cum = np.cumsum(w)
        finish = cum + np.maximum.accumulate(rM - (cum - w))
        wait = finish - w - rM  # M (b_j - r_j), exact
        out[idx] = float(np.sum(w.astype(float) * (2.0 * wait.astype(float) + w.astype(float))))
    return out / (2.0 * memory)


def _prefix_grid(n: int, work: float) -> np.ndarray:
    """The prefixes ``k`` at which ``G_k`` is computed: all when ``n^2 / 2 <= work``,
    else about ``2 work / n`` of them, geometric near 1 and then evenly spaced."""
    if n * n / 2 <= work:
        return np.arange(1, n + 1)
    count = max(16, int(2 * work / n))
    grid = np.unique(np.concatenate([np.geomspace(1, n, count // 4).astype(np.int64),
                                     np.linspace(1, n, count - count // 4).astype(np.int64),
                                     [n]]))
    return grid[grid >= 1]


def release_busy_bound(instance: Instance, *, work: float = DEFAULT_WORK,
                       ramps: bool = True) -> float:
    """The release-date mean-busy-time bound (module docstring), a fractional lower bound
    on the optimal ``sum_i (c_i - a_i)``; round it with
    :func:`lpsched.models.combinatorial.fractional_bound`.

    Per prefix ``S_k`` it takes the largest of the fluid first moment ``G_k``, the ramp
    floors ``F_k`` and (``ramps=True``, while the horizon is at most
    :data:`RAMP_MAX_STEPS`) the ramp-limited fluid ``R_k`` of :func:`ramp_prefix_moments`
    (each a valid lower bound on the same ``Y_k``, so their maximum is). Offline and
    without ``ramps`` it is at most the discrete-step
    :func:`~lpsched.models.combinatorial.mean_busy_bound` (continuous time loses
    ``r (1 - r/M) / 2`` per prefix, ``r`` the last partial step).
    """
    s_x, o_x, A_x = exact_lengths(instance)
    s, o = s_x.astype(float), o_x.astype(float)
    first = s * (o * (o + 1) / 2) + o * (o + 1) * (2 * o + 1) / 6  # A_i beta_i
    order = np.lexsort((o, A_x.astype(float)))
    extra = None
    if ramps:
        extra = ramp_prefix_moments(instance, order,
                                    work=work / 50.0 if A_x.dtype == object else work)
    return profile_busy_bound(instance.arrival, A_x, first, o, int(instance.memory),
                              order=order, work=work, extra=extra)


def profile_busy_bound(arrival: np.ndarray, area: np.ndarray, first: np.ndarray,
                       decode: np.ndarray, capacity: int, *, order: np.ndarray | None = None,
                       work: float = DEFAULT_WORK, extra: np.ndarray | None = None) -> float:
    """The release-date mean-busy-time bound for any per-step profile (module docstring).

    Request ``i`` started at ``p_i`` is charged ``m'_i(d) >= 0`` in its ``d``-th step, and
    every feasible schedule keeps ``sum_i m'_i(t) <= capacity`` in every step (for the
    memory itself ``m'_i(d) = s_i + d``; ``lpsched.models.dff_bounds`` passes transformed
    profiles). ``area[i] = sum_d m'_i(d) > 0`` (integers, ``int64`` or Python), ``first[i]
    = sum_d d m'_i(d)``, ``decode[i] = o_i``. ``order`` sorts the areas ascending (ties
    any order); ``extra`` (optional) holds further lower bounds on ``Y_k`` per prefix of
    that order. Returns the fractional bound on ``sum_i (c_i - a_i)``.
    """
    A = area.astype(float)
    n = A.size
    if order is None:
        order = np.lexsort((decode, A))
    half = np.cumsum(A[order]) / 2.0  # continuous mean busy times are B_j - 1/2
    F = np.cumsum(first[order])
    if area.dtype == object:
        work = work / 50.0  # Python integers: about 50 times slower
    ks = _prefix_grid(n, work)
    G = np.full(n, -np.inf)
    G[ks - 1] = set_first_moments(arrival, area, order, capacity, ks)
    L = np.maximum(np.maximum.accumulate(G) + half, F)
    if extra is not None:
        L = np.maximum(L, extra)
    wgt = 1.0 / A[order]
    dw = wgt - np.append(wgt[1:], 0.0)
    return float(np.sum(dw * L)) + float(np.sum(decode - first / A))


#: Largest horizon (steps) of :func:`ramp_fluid_bound`'s per-step arrays (about 6 arrays
#: of 8 bytes a step: 48 MB at this size).
RAMP_MAX_STEPS = 1_000_000


def ramp_horizon(instance: Instance) -> int:
    """A step by which the ramp-limited fluid has done all the work: the last request's
    ramp ends by ``max(a) + max(o)``, and the machine is never idle while work waits, so
    ``ceil(sum A / M)`` more steps suffice."""
    A = float(instance.area.astype(float).sum())
    return int(instance.arrival.max() + instance.decode.max()
               + math.ceil(A / instance.memory) + 2)


def ramp_prefix_moments(instance: Instance, order: np.ndarray, *,
                        work: float = DEFAULT_WORK) -> np.ndarray | None:
    """``R_k <= Y_k = sum_{j in S_k} A_j (B_j - a_j)`` for every prefix ``S_k = order[:k]``
    (``formulations/trace_bounds.md``, "ramp-limited fluid"): the work of request ``j``
    becomes available along its own ramp from its arrival (``s_j + d`` tokens in step
    ``a_j + d``), and a machine of speed ``M`` serves what is available; its cumulative
    service ``W*(t) = M t + min_{u <= t} (Avail(u) - M u)`` (min-plus convolution) is at
    least any schedule's, so its first moment ``sum_t (A(S_k) - W*(t))`` is at most
    theirs. Exact in integer steps; computed on a grid of prefixes (``O(T)`` each for a
    horizon of ``T`` steps) and carried to the prefixes above each grid point.

    None when the horizon exceeds :data:`RAMP_MAX_STEPS` or the integer sums could pass
    ``2^62``.
    """
    T = ramp_horizon(instance)
    s, o, a = (x.astype(np.int64) for x in (instance.prefill, instance.decode,
                                              instance.arrival))
    A = s * o + o * (o + 1) // 2
    if T > RAMP_MAX_STEPS or float(T) * float(A.astype(float).sum()) * 2 >= 2.0 ** 62:
        return None
    M = int(instance.memory)
    ks = _prefix_grid(instance.n, work / 6.0 * instance.n / max(1.0, float(T)))
    const = np.zeros(T + 2, dtype=np.int64)  # ramp s_j + t - a_j on steps a_j+1 .. a_j+o_j
    slope = np.zeros(T + 2, dtype=np.int64)
    t = np.arange(T + 1, dtype=np.int64)
    out = np.full(instance.n, -np.inf)
    done, area, released = 0, 0, 0
    for k in ks.tolist():
        new = order[done:k]
        np.add.at(const, a[new] + 1, s[new] - a[new])
        np.add.at(const, a[new] + o[new] + 1, -(s[new] - a[new]))
        np.add.at(slope, a[new] + 1, 1)
        np.add.at(slope, a[new] + o[new] + 1, -1)
        area += int(A[new].sum())
        released += int(np.dot(A[new], a[new]))
        done = k
        per_step = np.cumsum(const[: T + 1]) + t * np.cumsum(slope[: T + 1])
        avail = np.cumsum(per_step)  # work released along the ramps by the end of step t
        served = M * t + np.minimum.accumulate(avail - M * t)  # W*(t); W*(T) = area
        out[k - 1] = float(int(np.sum(area - served[:T])) - released)
    return np.maximum.accumulate(out)
