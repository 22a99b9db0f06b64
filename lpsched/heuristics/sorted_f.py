"""Sorted-F (Wang, Ye and Zhou, 2025) - batch and continuous versions.

Source: M. Wang, Y. Ye, Z. Zhou, "LLM Serving Optimization with Variable Prefill
and Decode Lengths", arXiv:2508.06133 (2025).

The F-metric of a batch ``X`` is ``F(X) = (sum_{i in X} o_i) / |X|^2`` (smaller
is better: many requests, little decode work). The paper's algorithm
repeatedly picks a memory-feasible batch of the remaining requests that
minimises ``F``, removes it, and finally runs the batches in ascending ``F``.

Batch feasibility. A batch whose requests all start together peaks (at the
latest) when its requests end, so ``sum_{i in X} (s_i + o_i) <= M`` is
sufficient; it is the paper's batch-feasibility rule and the one used here.

Candidate batches (the rule we implement, and the deviation). The paper's ratio
(48 in its later version) is proved for the *exact* minimiser of ``F`` over all
feasible subsets, a cardinality-constrained knapsack problem (NP-hard in
general). We minimise ``F`` over a family of candidates instead:

* for a fixed size ``k``, ``min sum o_i s.t. sum (s_i + o_i) <= M, |X| = k`` has
  the Lagrangian relaxation ``min sum_i (o_i + mu (s_i + o_i))``, solved by the
  ``k`` smallest keys ``o_i + theta s_i`` with ``theta = mu / (1 + mu)`` in
  ``[0, 1)``; ``theta = 1`` gives total-size order;
* so the candidates are the feasible *prefixes* of the remaining requests sorted
  by ``o_i + theta s_i`` for ``theta`` in a grid ``thetas`` (default
  ``0, 1/16, 1/4, 1/2, 1``), every prefix length ``k`` up to the longest feasible
  one: ``F`` of all prefixes of one order costs one cumulative sum.

When all prompts are equal this is exact (the ``k`` smallest ``o_i`` are both the
minimum-work and the minimum-memory ``k``-subset, so the paper's minimiser is
the best prefix of the ``theta = 0`` order); with heterogeneous prompts it is a
Lagrangian heuristic for the inner knapsack, and the paper's ratio is not
claimed for it. ``exact_batches=True`` solves the inner problem exactly with a
knapsack dynamic program over (size, memory) - ``O(n^2 M)`` per batch, for small
instances - which *is* the paper's rule.

Cost of the default rule: each order is sorted once (``O(|thetas| n log n)``);
each round scans, per order, a window holding the longest feasible prefix of
still-unscheduled requests (dead entries in the window are compacted away once,
so they are paid once per order); the rounds cost ``O(|thetas| * (n + sum of
window lengths))``. 100,000 requests take well under a second (see
``benchmarks/``).

Two ways to run the batches (both kept, both measured in ``benchmarks/``):

* ``sorted-f`` (batch-synchronous, the paper's model): batch ``j+1`` starts when
  every request of batch ``j`` has finished;
* ``sorted-f-cont`` (continuous): the requests are taken in the same order
  (batch by batch, ascending ``F``; inside a batch by decode length) and each
  starts at the earliest step at which memory allows, never before the request
  ahead of it (:func:`lpsched.heuristics.serial.decode_order`), so a new batch
  fills memory as soon as parts of the previous one complete.

Arrivals: ``sorted-f`` becomes release-aware (:func:`release_aware_batches`:
each batch is formed, when the previous one ends, from the requests that have
arrived by then); ``sorted-f-cont`` runs the online Sorted-F policy in the event
simulator (:mod:`lpsched.heuristics.online`), which sees only arrived requests.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from lpsched.heuristics.serial import decode_order
from lpsched.instance import Instance
from lpsched.options import OptionError
from lpsched.schedule import Result, Schedule, SolveStatus
from lpsched.stop import Deadline

__all__ = ["DEFAULT_THETAS", "batch_order", "f_metric", "form_batches", "release_aware_batches",
           "solve_sorted_f",
           "solve_sorted_f_cont"]

DEFAULT_THETAS: tuple[float, ...] = (0.0, 1 / 16, 0.25, 0.5, 1.0)


def f_metric(decode: np.ndarray, batch: Sequence[int] | np.ndarray) -> float:
    """``F(X) = sum_{i in X} o_i / |X|^2``."""
    b = np.asarray(batch, dtype=np.int64)
    return float(decode[b].sum()) / float(b.size) ** 2


class _Order:
    """Requests sorted by one key, with lazy deletion and window compaction."""

    __slots__ = ("idx", "head")

    def __init__(self, idx: np.ndarray):
        self.idx = idx.copy()
        self.head = 0

    def best_prefix(self, alive: np.ndarray, peak: np.ndarray, dec: np.ndarray, M: int,
                    window: int) -> tuple[float, np.ndarray]:
        """Best-F feasible prefix of the alive requests in this order."""
        idx = self.idx
        n = idx.size
        w = window
        while True:
            end = min(n, self.head + w)
            seg = idx[self.head: end]
            keep = seg[alive[seg]]
            # compact: move the alive entries of the window to its end, drop the dead ones
            if keep.size < seg.size:
                start = end - keep.size
                idx[start:end] = keep
                self.head = start
            cum = np.cumsum(peak[keep])
            K = int(np.searchsorted(cum, M, side="right"))
            if K < keep.size or end == n:
                break
            w *= 2
        if K == 0:
            return np.inf, keep[:0]
        cumo = np.cumsum(dec[keep[:K]]).astype(np.float64)
        k = np.arange(1, K + 1, dtype=np.float64)
        F = cumo / (k * k)
        j = int(np.argmin(F))  # first minimum: the smallest best batch
        return float(F[j]), keep[: j + 1]


def _exact_batch(rem: np.ndarray, peak: np.ndarray, dec: np.ndarray, M: int) -> np.ndarray:
    """Exact ``argmin F`` over feasible subsets of ``rem`` by a (size, memory) knapsack DP.

    ``D[k, m]`` = least decode sum of a ``k``-subset with peak sum exactly ``m``;
    ``O(|rem|^2 M)`` time with vectorised rows; the chosen set is rebuilt from
    per-item choice bits.
    """
    n = rem.size
    if n * n * (M + 1) > 60_000_000:
        raise ValueError(f"exact_batches: the knapsack DP needs n^2 M = {n * n * (M + 1)} cells; "
                         "use it for small instances only (n^2 M <= 6e7)")
    INF = np.iinfo(np.int64).max // 4
    D = np.full((n + 1, M + 1), INF, dtype=np.int64)
    D[0, 0] = 0
    took = np.zeros((n, n + 1, M + 1), dtype=bool)
    for j, i in enumerate(rem.tolist()):
        w, v = int(peak[i]), int(dec[i])
        if w > M:
            continue
        for k in range(min(j + 1, n), 0, -1):
            cand = D[k - 1, : M + 1 - w] + v
            better = cand < D[k, w:]
            if better.any():
                D[k, w:][better] = cand[better]
                took[j, k, w:][better] = True
    best = (np.inf, 0, 0)
    for k in range(1, n + 1):
        m = int(np.argmin(D[k]))
        if D[k, m] < INF:
            f = D[k, m] / k ** 2
            if f < best[0]:
                best = (f, k, m)
    _, k, m = best
    chosen = []
    for j in range(n - 1, -1, -1):
        if k > 0 and took[j, k, m]:
            # took[j,k,m] records that item j improved (k, m) when processed; since later
            # items processed after j did not improve it (we walk backwards and stop at the
            # last improver), j is in the optimal set for (k, m).
            chosen.append(int(rem[j]))
            m -= int(peak[rem[j]])
            k -= 1
            # continue with items before j only
    return np.array(chosen[::-1], dtype=np.int64)


def _greedy_batches(instance: Instance, thetas: Sequence[float], exact_batches: bool,
                    limit: int | None = None) -> tuple[list[np.ndarray], list[float]]:
    """Batches in formation order (each the min-F candidate of what is left) and their F."""
    s, o = instance.prefill, instance.decode
    peak = s + o
    M = instance.memory
    n = instance.n
    batches: list[np.ndarray] = []
    fvals: list[float] = []
    if exact_batches:
        rem = np.arange(n, dtype=np.int64)
        while rem.size and (limit is None or len(batches) < limit):
            b = _exact_batch(rem, peak, o, M)
            batches.append(b)
            fvals.append(f_metric(o, b))
            rem = np.setdiff1d(rem, b, assume_unique=True)
        return batches, fvals
    if not thetas:
        raise ValueError("thetas must not be empty")
    orders = []
    for th in thetas:
        th = float(th)
        if not 0.0 <= th <= 1.0:
            raise ValueError(f"theta must be in [0, 1], got {th}")
        key = o + th * s if th < 1.0 else peak
        orders.append(_Order(np.lexsort((np.arange(n), key)).astype(np.int64)))
    alive = np.ones(n, dtype=bool)
    # window: a little more than the largest number of requests that can fit together
    smallest = np.sort(peak)
    window = max(16, int(np.searchsorted(np.cumsum(smallest), M, side="right")) + 8)
    left = n
    while left and (limit is None or len(batches) < limit):
        best_f, best_b = np.inf, None
        for od in orders:
            f, b = od.best_prefix(alive, peak, o, M, window)
            if f < best_f:
                best_f, best_b = f, b
        assert best_b is not None and best_b.size  # every request fits alone
        alive[best_b] = False
        left -= best_b.size
        batches.append(best_b)
        fvals.append(best_f)
    return batches, fvals


def _by_decode(o: np.ndarray, b: np.ndarray) -> np.ndarray:
    return b[np.lexsort((b, o[b]))]


def form_batches(instance: Instance, *, thetas: Sequence[float] = DEFAULT_THETAS,
                 exact_batches: bool = False) -> list[np.ndarray]:
    """Sorted-F batches in ascending ``F`` (each a position array sorted by decode length).

    Batches are chosen greedily (minimum ``F`` over the candidates of the module
    docstring) among the requests not yet batched, then sorted by ``F``
    (stable: ties keep their formation order). Arrivals are ignored here (see
    :func:`release_aware_batches`).
    """
    batches, fvals = _greedy_batches(instance, thetas, exact_batches)
    rank = np.argsort(np.asarray(fvals), kind="stable")
    return [_by_decode(instance.decode, batches[int(j)]) for j in rank]


def release_aware_batches(instance: Instance, *, thetas: Sequence[float] = DEFAULT_THETAS,
                          exact_batches: bool = False) -> tuple[list[np.ndarray], np.ndarray]:
    """Batch-synchronous Sorted-F with release dates: ``(batches, batch start steps)``.

    At time ``t`` (0, then the end of each batch) the min-F batch is formed from
    the requests that have arrived by ``t`` and are not batched yet; when none
    has arrived, ``t`` jumps to the next arrival. Offline this gives the same
    batches as :func:`form_batches` up to their order (here: formation order).
    """
    o, a = instance.decode, instance.arrival
    remaining = np.arange(instance.n, dtype=np.int64)
    t = 0
    batches, starts = [], []
    while remaining.size:
        avail = remaining[a[remaining] <= t]
        if avail.size == 0:
            t = int(a[remaining].min())
            continue
        sub = instance.subset(avail) if avail.size < instance.n else instance
        (b,), _ = _greedy_batches(sub, thetas, exact_batches, limit=1)
        b = _by_decode(o, avail[b])
        batches.append(b)
        starts.append(t)
        t += int(o[b].max())
        remaining = np.setdiff1d(remaining, b, assume_unique=True)
    return batches, np.asarray(starts, dtype=np.int64)


def batch_order(batches: Sequence[np.ndarray]) -> np.ndarray:
    """The request order of a batch list (concatenation)."""
    return np.concatenate([np.asarray(b, dtype=np.int64) for b in batches])


def _batch_sync_starts(instance: Instance, batches: Sequence[np.ndarray]) -> np.ndarray:
    """Each batch starts when the previous one has finished (and its requests arrived)."""
    o, a = instance.decode, instance.arrival
    starts = np.zeros(instance.n, dtype=np.int64)
    t = 0
    for b in batches:
        t = max(t, int(a[b].max()))
        starts[b] = t
        t += int(o[b].max())
    return starts


def _result(name: str, instance: Instance, starts: np.ndarray, t0: float, stats: dict) -> Result:
    c = starts + instance.decode
    return Result(algorithm=name, status=SolveStatus.FEASIBLE,
                  objective=int((c - instance.arrival).sum()), lower_bound=None,
                  runtime=time.perf_counter() - t0, schedule=Schedule(instance, starts),
                  stats=stats)


def solve_sorted_f(instance: Instance, *, deadline: Deadline | None = None,
                   seed: int | None = None, thetas: Sequence[float] = DEFAULT_THETAS,
                   exact_batches: bool = False) -> Result:
    """Sorted-F, batch-synchronous: batches in ascending ``F``, each after the previous ends."""
    t0 = time.perf_counter()
    if instance.offline:
        batches = form_batches(instance, thetas=thetas, exact_batches=exact_batches)
        starts = _batch_sync_starts(instance, batches)
    else:
        batches, bstarts = release_aware_batches(instance, thetas=thetas,
                                                 exact_batches=exact_batches)
        starts = np.zeros(instance.n, dtype=np.int64)
        for b, tb in zip(batches, bstarts):
            starts[b] = tb
    return _result("sorted-f", instance, starts, t0,
                   {"batches": len(batches), "exact_batches": exact_batches,
                    "release_aware": not instance.offline})


def solve_sorted_f_cont(instance: Instance, *, deadline: Deadline | None = None,
                        seed: int | None = None, thetas: Sequence[float] = DEFAULT_THETAS,
                        exact_batches: bool = False, backfill: bool = False,
                        clairvoyant: bool = False, predictions: Any = None,
                        prediction_noise: float | None = None, skip_idle: bool = True) -> Result:
    """Sorted-F, continuous: the Sorted-F order, each request started as early as memory allows.

    ``backfill=False`` (default) keeps starts non-decreasing along the order;
    ``backfill=True`` lets a later request start before an earlier one when it
    fits (exact earliest start against all placed requests).

    With arrivals, the continuous version is the online Sorted-F policy run by
    the event simulator (:mod:`lpsched.heuristics.online`; ``predictions``,
    ``prediction_noise`` and ``skip_idle`` go there); ``clairvoyant=True`` instead
    decodes the offline order with the release dates known in advance (much
    worse: the F-order ignores arrival times).
    """
    t0 = time.perf_counter()
    online = not instance.offline and not clairvoyant
    policy_opts = {"predictions": predictions, "prediction_noise": prediction_noise,
                   "skip_idle": skip_idle}
    if online:
        if backfill:
            raise OptionError("sorted-f-cont: 'backfill' applies to the offline decode; with "
                              "arrivals the online policy runs (pass clairvoyant=True to "
                              "decode the offline order instead)")
        from lpsched.heuristics.online import SortedFPolicy, run_order_policy

        res = run_order_policy(instance, SortedFPolicy(thetas, exact_batches), deadline, seed,
                               policy_opts)
        res.stats["mode"] = "online policy (simulator)"
        return dataclasses.replace(res, algorithm="sorted-f-cont")
    if predictions is not None or prediction_noise is not None:
        raise OptionError("sorted-f-cont: predictions apply to the online policy (instances "
                          "with arrivals, clairvoyant=False); this run decodes true lengths")
    batches = form_batches(instance, thetas=thetas, exact_batches=exact_batches)
    starts = decode_order(instance, batch_order(batches), order_preserving=not backfill)
    return _result("sorted-f-cont", instance, starts, t0,
                   {"batches": len(batches), "exact_batches": exact_batches, "backfill": backfill})
