"""Sorted-F batch formation (Wang, Ye and Zhou, 2025), offline and incremental.

Source: M. Wang, Y. Ye, Z. Zhou, "LLM Serving Optimization with Variable Prefill
and Decode Lengths", arXiv:2508.06133 (2025). Used by the Sorted-F schedulers
(:mod:`lpsched.heuristics.sorted_f`), the online Sorted-F / LP policies
(:mod:`lpsched.heuristics.online`) and the LP-guided schedulers.

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
  by ``o_i + theta s_i`` (ties by position) for ``theta`` in a grid ``thetas``
  (default ``0, 1/16, 1/4, 1/2, 1``), every prefix length ``k`` up to the
  longest feasible one. The chosen batch is the candidate of least ``F``: the
  shortest such prefix of an order, the first such order of ``thetas``.

When all prompts are equal this is exact (the ``k`` smallest ``o_i`` are both the
minimum-work and the minimum-memory ``k``-subset, so the paper's minimiser is
the best prefix of the ``theta = 0`` order); with heterogeneous prompts it is a
Lagrangian heuristic for the inner knapsack, and the paper's ratio is not
claimed for it. ``exact_batches=True`` solves the inner problem exactly with a
knapsack dynamic program over (size, memory) - ``O(n^2 M)`` per batch, for small
instances - which *is* the paper's rule.

Formation order and F order. With the exact minimiser, ``F`` is non-decreasing
along the formation order (the candidates of a later round are a subset of
those of an earlier one), so sorting by ``F`` (stably) changes nothing; with the
prefix candidates a later batch can have a smaller ``F``. :func:`form_batches`
(offline, the paper's algorithm) sorts by ``F``; the incremental
:class:`BatchQueue` of the online policies keeps formation order (the first
batch is the least-``F`` candidate of the whole waiting set, which is what
admission needs; see :mod:`lpsched.heuristics.online`).

The incremental queue (:class:`BatchQueue`). Each candidate order is the
restriction to the current set of one *global* order of all positions (by key,
then position: exactly what sorting the set would give, computed once and
using no future decision); the set is held in one binary heap of global ranks
per order, with lazy deletion. Forming a batch pops, per order, the longest
feasible prefix plus one request and pushes back what was not taken:
``O(|thetas| k log n)`` for prefixes of length ``k``, independent of the size of
the set. Batches are formed only when asked for (the head of the queue).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections import deque
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from lpsched.instance import Instance

__all__ = ["DEFAULT_THETAS", "BatchQueue", "batch_order", "f_metric", "form_batches",
           "release_aware_batches"]

DEFAULT_THETAS: tuple[float, ...] = (0.0, 1 / 16, 0.25, 0.5, 1.0)


def f_metric(decode: np.ndarray, batch: Sequence[int] | np.ndarray) -> float:
    """``F(X) = sum_{i in X} o_i / |X|^2``."""
    b = np.asarray(batch, dtype=np.int64)
    return float(decode[b].sum()) / float(b.size) ** 2


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


def _check_thetas(thetas: Sequence[float]) -> tuple[float, ...]:
    if not len(thetas):
        raise ValueError("thetas must not be empty")
    out = tuple(float(th) for th in thetas)
    for th in out:
        if not 0.0 <= th <= 1.0:
            raise ValueError(f"theta must be in [0, 1], got {th}")
    return out


#: scan bound meaning "every request of the pool was read"
_ALL = 1 << 62


class _OrderView:
    """One candidate order restricted to a changing set: a sorted front list plus a heap.

    Ranks are global (by key, then position; ``order[rank]`` is the position).
    ``front[head:]`` lists positions of the set by rank, the first ones; every
    other position of the set is in ``heap`` as its rank, and every position in
    the front ranks before every one in the heap. Positions that left the pool
    keep their entry until a scan meets it (lazy deletion); ``has[pos]`` says
    whether ``pos`` has an entry, so that re-inserting never duplicates one. An
    insert goes to the heap (``O(log n)``) unless it ranks before the front's
    last entry (then ``bisect`` into the front, which is cut back to ``cap``
    entries); a scan reads the front, refilling it from the heap, and compacts
    away the stale entries it meets.
    """

    __slots__ = ("order", "order_np", "rank", "rank_np", "front", "head", "heap", "has", "cap",
                 "cols", "last_k")
    #: prefixes at least this long are read by the vectorised kernel
    VECTOR_K = 24

    def __init__(self, order: np.ndarray, cols: _Columns):
        n = order.size
        self.order_np = order
        self.order: list[int] = order.tolist()
        self.rank_np = np.empty(n, dtype=np.int64)
        self.rank_np[order] = np.arange(n)
        self.rank: list[int] = self.rank_np.tolist()
        self.front: list[int] = []
        self.head = 0
        self.heap: list[int] = []
        self.has = bytearray(n)
        self.cols = cols
        self.cap = max(256, 4 * cols.fit + 32)  # front entries kept after an insert into it
        self.last_k = 0  # length of the last feasible prefix read

    def insert(self, positions: list[int]) -> None:
        has, rank = self.has, self.rank
        heap, front = self.heap, self.front
        new = [p for p in positions if not has[p]]
        for p in new:
            has[p] = 1
        if self.head == len(front) and not heap and len(new) > 16:  # bulk into an empty view
            self.front = self.order_np[np.sort(self.rank_np[new])].tolist()
            self.head = 0
            return
        last = rank[front[-1]] if self.head < len(front) else -1
        into_front = False
        for pos in new:
            r = rank[pos]
            if r < last:
                bisect.insort(front, pos, self.head, key=rank.__getitem__)
                into_front = True
            else:
                heapq.heappush(heap, r)
        if into_front and len(front) - self.head > self.cap:  # the upper part to the heap
            cut = self.head + self.cap // 2
            for pos in front[cut:]:
                heapq.heappush(heap, rank[pos])
            del front[cut:]

    def _refill(self, k: int) -> None:
        heap, order, front = self.heap, self.order, self.front
        for _ in range(min(k, len(heap))):
            front.append(order[heapq.heappop(heap)])

    def _compact(self, start: int, end: int, live: list[int]) -> None:
        """``front[start:end]`` had stale entries: its live ones move to its end."""
        front = self.front
        start = end - len(live)
        front[start:end] = live
        self.head = start
        if start > 4096 and 2 * start > len(front):
            del front[:start]
            self.head = 0

    def scan(self) -> tuple[float, list[int], int]:
        """The least-``F`` prefix of the pool in this order with ``sum peak <= M``:
        ``(F, batch, bound)``.

        The first minimum (the shortest best prefix); ``F = inf`` for an empty pool.
        Reads the longest feasible prefix and one more pool entry; ``bound`` is the
        rank of that one more entry (:data:`_ALL` when the whole pool fits): a
        request ranked after it would not change the result. The entries met of
        positions not in the pool are dropped (a queued request put back into the
        pool is inserted again). Short prefixes are read one by one, long ones in
        vectorised windows (the same result, tested).
        """
        if self.last_k >= self.VECTOR_K:
            return self._scan_vector()
        c = self.cols
        pool, peak, dec, M = c.pool, c.peak, c.dec, c.M
        front, heap, has = self.front, self.heap, self.has
        got: list[int] = []
        live: list[int] = []
        dropped = False
        cum = cumo = 0
        f_best, k_best, bound = np.inf, 0, _ALL
        head = i = self.head
        while True:
            if i == len(front):
                if not heap:
                    break
                self._refill(32)
            pos = front[i]
            i += 1
            if not pool[pos]:
                has[pos] = 0
                dropped = True
                continue
            live.append(pos)
            cum += peak[pos]
            if cum > M:
                bound = self.rank[pos]
                break
            got.append(pos)
            cumo += dec[pos]
            k = len(got)
            f = cumo / (k * k)
            if f < f_best:  # the first minimum: the shortest best prefix
                f_best, k_best = f, k
        if dropped:
            self._compact(head, i, live)
        self.last_k = len(got)
        return f_best, got[:k_best], bound

    def _scan_vector(self) -> tuple[float, list[int], int]:
        """:meth:`scan` in windows of the front that double (numpy)."""
        c = self.cols
        front, heap = self.front, self.heap
        w = 2 * self.last_k + 16
        while True:
            short = self.head + w - len(front)
            if short > 0 and heap:
                self._refill(max(short, 32))
            head = self.head
            end = min(len(front), head + w)
            seg = np.array(front[head:end], dtype=np.int64)
            live = c.pool_np[seg].view(bool)
            if not live.all():
                has = self.has
                for p in seg[~live].tolist():
                    has[p] = 0
                seg = seg[live]
                self._compact(head, end, seg.tolist())
            cum = np.cumsum(c.peak_np[seg])
            K = int(cum.searchsorted(c.M, side="right"))
            if K < seg.size or (end == len(front) and not heap):
                break
            w *= 2
        self.last_k = K
        bound = self.rank[int(seg[K])] if K < seg.size else _ALL
        if K == 0:
            return np.inf, [], bound
        F = np.cumsum(c.dec_np[seg[:K]]) / np.arange(1, K + 1, dtype=np.float64) ** 2
        j = int(F.argmin())  # the first minimum
        return float(F[j]), seg[:j + 1].tolist(), bound


class _Columns:
    """What the views of one queue share: the pool and the per-position columns."""

    __slots__ = ("M", "pool", "pool_np", "peak", "peak_np", "dec", "dec_np", "fit")

    def __init__(self, memory: int, peak: np.ndarray, dec: np.ndarray):
        self.M = int(memory)
        self.pool = bytearray(peak.size)  # in the set and not in a formed batch
        self.pool_np = np.frombuffer(self.pool, dtype=np.uint8)  # the same memory
        self.peak_np, self.dec_np = peak, dec
        self.peak: list[int] = peak.tolist()
        self.dec: list[int] = dec.tolist()
        # the most requests that can fit together (smallest peaks first)
        self.fit = int(np.searchsorted(np.cumsum(np.sort(peak)), self.M, side="right"))


class BatchQueue:
    """The Sorted-F greedy batches of a changing set of requests, formed lazily.

    The set ``S`` (e.g. the waiting requests) changes by :meth:`add` and
    :meth:`pop_front`. The queue is the sequence of greedy batches
    ``B_1, B_2, ...`` of ``S`` in formation order, ``B_j`` the least-``F``
    candidate of ``S - (B_1 + ... + B_{j-1})`` (module docstring), each batch
    sorted by decode length (ties by position); only as many batches are formed
    as the caller reads. :meth:`pop_front` removes requests from its head (they
    started) and keeps the rest of the queue as it is. :meth:`add` makes the
    queue the greedy formation of the new set, as if the greedy were run again:
    it keeps the leading batches that the new requests cannot change and drops
    the others (formed again when read). A batch ``B_j`` is kept when every
    batch before it is kept, none of them was started in part or re-ordered
    (:meth:`replace_front`), and every new request ranks, in every candidate
    order, after the first request of the pool that the formation of ``B_j``
    read past its longest feasible prefix (then that formation reads the very
    same requests again).

    Parameters
    ----------
    memory
        The budget ``M``.
    prefill, decode
        Per-position ``s`` and ``o`` (the decode lengths the batches are formed
        with, e.g. predictions; every ``s + o <= M``).
    thetas, exact_batches
        The candidate rule (module docstring).

    Examples
    --------
    >>> q = BatchQueue(10, np.array([1, 1, 6, 0]), np.array([2, 2, 1, 4]))
    >>> q.add([0, 1, 2, 3])
    >>> q.next_batch().tolist(), q.next_batch().tolist(), q.next_batch()
    ([2, 0], [1, 3], None)
    >>> q.pop_front(1); q.head(5)
    [0, 1, 3]
    """

    def __init__(self, memory: int, prefill: np.ndarray, decode: np.ndarray,
                 thetas: Sequence[float] = DEFAULT_THETAS, exact_batches: bool = False):
        s = np.asarray(prefill, dtype=np.int64)
        n = s.size
        self.M = int(memory)
        self._dec = np.asarray(decode, dtype=np.int64)
        self._peak = s + self._dec
        self.exact = bool(exact_batches)
        self._member = bytearray(n)  # in S
        self._cols = _Columns(self.M, self._peak, self._dec)
        self._pool = self._cols.pool  # in S and not in a formed batch
        self._views: list[_OrderView] = []
        if not self.exact:
            for th in _check_thetas(thetas):
                key = self._dec + th * s if th < 1.0 else self._peak
                self._views.append(_OrderView(np.lexsort((np.arange(n), key)), self._cols))
        self._size = 0
        self._q: list[int] = []  # formed batches, flattened; the queue is _q[_h:]
        self._h = 0
        self._batches: deque[tuple[int, tuple[int, ...]]] = deque()  # (size, scan bounds)
        self._taken = 0  # requests of the first batch started already
        self._reordered = False
        self.batches_formed = 0
        self.batches_kept = 0
        self.reforms = 0

    def __len__(self) -> int:
        """``|S|``."""
        return self._size

    # -- changes of the set ------------------------------------------------------------------
    def add(self, positions: Iterable[int]) -> None:
        """Add requests to ``S``; the queue becomes the greedy formation of the new set."""
        new = [int(p) for p in positions]
        member, pool = self._member, self._pool
        for pos in new:
            if member[pos]:
                raise ValueError(f"BatchQueue.add: position {pos} is already in the set")
            member[pos] = 1
        self._size += len(new)
        keep = self._unchanged_batches(new)
        kept = sum(size for size, _ in itertools.islice(self._batches, keep)) - (
            self._taken if keep else 0)
        cut = self._h + kept
        back = self._q[cut:]
        del self._q[cut:]
        while len(self._batches) > keep:
            self._batches.pop()
        if not keep:
            self._taken = 0
            self._reordered = False
        self.batches_kept += keep
        for pos in back:
            pool[pos] = 1
        for pos in new:
            pool[pos] = 1
        for view in self._views:
            view.insert(back + new)
        self.reforms += 1

    def _unchanged_batches(self, new: list[int]) -> int:
        """How many leading batches adding ``new`` leaves as they are (class docstring)."""
        if self._taken or self._reordered or self.exact:
            return 0
        for j, (_size, bounds) in enumerate(self._batches):
            for view, bound in zip(self._views, bounds):
                rank = view.rank
                for pos in new:
                    if rank[pos] < bound:
                        return j
        return len(self._batches)

    def pop_front(self, k: int) -> None:
        """Remove the first ``k`` requests of the queue from ``S`` (they started)."""
        q, h = self._q, self._h
        if k > len(q) - h:
            raise ValueError(f"pop_front({k}): only {len(q) - h} requests are formed")
        member = self._member
        for pos in q[h:h + k]:
            member[pos] = 0
        self._size -= k
        self._h = h = h + k
        batches = self._batches
        k += self._taken
        while batches and k >= batches[0][0]:
            k -= batches.popleft()[0]
        self._taken = k
        if h > 64 and 2 * h > len(q):
            del q[:h]
            self._h = 0

    def replace_front(self, front: Sequence[int]) -> None:
        """Reorder the head of the queue: ``front`` is a permutation of its first ``len(front)``."""
        k = len(front)
        h = self._h
        if sorted(self._q[h:h + k]) != sorted(int(p) for p in front):
            raise ValueError("replace_front: not a permutation of the head of the queue")
        self._q[h:h + k] = [int(p) for p in front]
        self._reordered = True

    # -- reading the queue -------------------------------------------------------------------
    def head(self, k: int) -> list[int]:
        """The first ``k`` requests of the queue (fewer if ``|S| < k``)."""
        while len(self._q) - self._h < k and self.next_batch() is not None:
            pass
        return self._q[self._h:self._h + k]

    def first(self) -> int | None:
        """The head of the queue, or None when ``S`` is empty."""
        if self._h < len(self._q):
            return self._q[self._h]
        got = self.head(1)
        return got[0] if got else None

    def __iter__(self) -> Iterator[int]:
        """The queue in order, forming batches as they are reached (do not change the
        queue while iterating)."""
        i = self._h
        q = self._q
        while True:
            if i >= len(q) and self.next_batch() is None:
                return
            yield q[i]
            i += 1

    def next_batch(self) -> np.ndarray | None:
        """Form the next batch from the pool, append it to the queue and return it
        (sorted by decode length, ties by position); None when the pool is empty."""
        bounds: list[int] = []
        if self.exact:
            rem = np.flatnonzero(self._cols.pool_np)
            if rem.size == 0:
                return None
            b = _exact_batch(rem, self._peak, self._dec, self.M).tolist()
        else:
            best_f, b = np.inf, None
            for view in self._views:  # the least F; the first order on ties
                f, cand, bound = view.scan()
                bounds.append(bound)
                if f < best_f:
                    best_f, b = f, cand
            if b is None:
                return None
        self._batches.append((len(b), tuple(bounds)))
        pool, dec = self._pool, self._cols.dec
        for pos in b:
            pool[pos] = 0
        b.sort(key=lambda p: (dec[p], p))
        self._q.extend(b)
        self.batches_formed += 1
        return np.asarray(b, dtype=np.int64)


def _queue_of(instance: Instance, thetas: Sequence[float], exact_batches: bool) -> BatchQueue:
    return BatchQueue(instance.memory, instance.prefill, instance.decode, thetas, exact_batches)


def form_batches(instance: Instance, *, thetas: Sequence[float] = DEFAULT_THETAS,
                 exact_batches: bool = False) -> list[np.ndarray]:
    """Sorted-F batches in ascending ``F`` (each a position array sorted by decode length).

    Batches are chosen greedily (minimum ``F`` over the candidates of the module
    docstring) among the requests not yet batched, then sorted by ``F``
    (stable: ties keep their formation order). Arrivals are ignored here (see
    :func:`release_aware_batches`). ``O(|thetas| n log n)``.
    """
    q = _queue_of(instance, thetas, exact_batches)
    q.add(range(instance.n))
    batches = []
    while (b := q.next_batch()) is not None:
        batches.append(b)
    fvals = np.array([f_metric(instance.decode, b) for b in batches])
    return [batches[int(j)] for j in np.argsort(fvals, kind="stable")]


def release_aware_batches(instance: Instance, *, thetas: Sequence[float] = DEFAULT_THETAS,
                          exact_batches: bool = False) -> tuple[list[np.ndarray], np.ndarray]:
    """Batch-synchronous Sorted-F with release dates: ``(batches, batch start steps)``.

    At time ``t`` (0, then the end of each batch) the min-F batch is formed from
    the requests that have arrived by ``t`` and are not batched yet; when none
    has arrived, ``t`` jumps to the next arrival. Offline this gives the same
    batches as :func:`form_batches` up to their order (here: formation order).
    ``O(|thetas| n log n)`` (one :class:`BatchQueue` over the arrived requests).
    """
    o, a = instance.decode, instance.arrival
    n = instance.n
    by_arrival = np.lexsort((np.arange(n), a)).tolist()
    a_list = a.tolist()
    q = _queue_of(instance, thetas, exact_batches)
    ptr = 0
    t = 0
    batches: list[np.ndarray] = []
    starts: list[int] = []
    while ptr < n or len(q):
        k = ptr
        while k < n and a_list[by_arrival[k]] <= t:
            k += 1
        if k > ptr:
            q.add(by_arrival[ptr:k])
            ptr = k
        if not len(q):
            t = a_list[by_arrival[ptr]]
            continue
        b = q.next_batch()
        if b is None:  # pragma: no cover - every batch is popped at once: S is the pool
            raise RuntimeError("release_aware_batches: no batch from a non-empty pool")
        q.pop_front(b.size)
        batches.append(b)
        starts.append(t)
        t += int(o[b].max())
    return batches, np.asarray(starts, dtype=np.int64)


def batch_order(batches: Sequence[np.ndarray]) -> np.ndarray:
    """The request order of a batch list (concatenation)."""
    return np.concatenate([np.asarray(b, dtype=np.int64) for b in batches])
