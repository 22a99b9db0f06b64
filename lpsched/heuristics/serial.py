"""Serial schedule generation: turn an order (or ordered groups) into a feasible schedule.

Several strong heuristics (continuous Sorted-F, local search, Sorted-LP, LP-Swap)
decide only an *order* of the requests and leave the start steps to one decoder,
the classical serial schedule-generation scheme: take the requests (or groups of
requests that must start together) in order and give each the *earliest* start
step at which it fits, given every request already placed.

Memory model (the package's): request ``i`` started at ``p`` holds
``s_i + r`` tokens in step ``p + r`` for ``r = 1..o_i``. :class:`DenseProfile`
keeps the memory ``m(u)`` of the placed requests in every step ``u`` as a dense,
growable ``int64`` array (the same difference-array construction as
:func:`lpsched.check.memory_profile`, kept incrementally):

* placing ``i`` at ``p`` adds the ramp ``s_i + (1..o_i)`` to ``m[p+1 .. p+o_i]``
  (one vectorised slice operation, ``O(o_i)``);
* ``i`` fits at ``p`` iff ``max_{r=1..o_i} (m[p+r] + r) <= M - s_i``;
* the earliest fitting ``p >= t0``: with ``h(u) = m(u) + u``, ``i`` fits at ``p``
  iff ``max_{u in (p, p+o_i]} h(u) - p <= M - s_i``; a failing ``p`` rules out
  every ``p' < min(u, h(u) - M + s_i)`` for each violating step ``u``, so the
  search jumps (:meth:`DenseProfile.earliest`); an independent block scan with
  a sliding-window maximum (:meth:`DenseProfile.earliest_blocks`) checks it in
  the tests.

This is exact: every step is a candidate start (not only completion steps), and
because the profile holds *all* placed requests (also those that start later in
time), a request may be placed before earlier-placed ones ("backfill") without
ever breaking them. ``order_preserving=True`` forbids that (starts are then
non-decreasing in the given order, a queue discipline); the scan pointer then
only moves forward, so decoding costs ``O(makespan + sum_i o_i)`` in total.

Release dates. With arrivals the strict queue discipline makes *unforced idle
time*: if the order lists ``i`` (arriving late) before ``j`` (arriving early),
``j`` may not start before ``p_i >= a_i`` even when memory is free from
``a_j`` on. ``release_aware=True`` weakens the discipline to the one of list
scheduling with release dates (and of the online order policies): a request
never starts before an earlier-listed request *that has arrived by then*,

    p_j >= F(p_j),   F(x) = max {p_k : k listed before j, a_k <= x},

so requests not yet arrived block nobody. ``F`` is non-decreasing, so the
earliest such start is found by alternating ``p <- earliest fit >= F(p)``
until ``p >= F(p)``. Offline (all ``a = 0``) ``F(x)`` is the previous start
and this is the queue discipline again. The unplaced entries of ``starts``
must be ``-1`` (the default array is).

Decoders. :func:`decode_order` and :func:`decode_groups` decode a whole list;
:class:`SerialDecoder` is the same serial scheme in pieces (resume, stop at a
:class:`~lpsched.stop.Deadline`, complete the rest cheaply:
:func:`decode_order_within`); :class:`IncrementalDecoder` re-decodes a list of
groups from the last profile snapshot before its first change, the evaluation
step of local search and of LP-Swap.

Time budget. An order decode stopped by its deadline
(:func:`decode_order_within`) completes the schedule with *packed batches*
(:func:`pack_in_batches`): the requests not yet placed, in order, are cut into
consecutive batches whose peaks fit together (``sum (s_i + o_i) <= M``), each
batch started when the previous one (and everything placed) has finished, and
not before its members' arrivals. That costs ``O(n)`` and is feasible because
every request fits alone, so a decode at 10^5 requests never overruns a short
time limit by more than a few requests' worth of work. (The incremental decoder
instead abandons a cut evaluation: its caller keeps its incumbent.)

Memory guard. The dense profile spans the makespan, which for a serial schedule is at
most the horizon ``max_i a_i + sum_i o_i`` (each request starts by the end of the
previous one in its order, or at its arrival): legal input (below the integer cap
``2^40``) can make that terabytes. :func:`serial_bytes` estimates the peak before any
profile is allocated, and the algorithms built on this decoder call
:func:`refuse_large_profile` first: above :data:`MAX_SERIAL_BYTES` they refuse the
instance (:class:`~lpsched.options.UnsupportedInstance`, naming the estimate) instead of
failing with a ``MemoryError`` part-way. The estimate is an upper bound (the sequential
makespan): a backlog whose requests run many at a time needs far less, e.g. trace
backlogs (mean decode about 250 steps) are refused from about 300,000 requests on
(0.6 GB estimated at 100,000). A caller that knows better may raise the module's
:data:`MAX_SERIAL_BYTES`, read at every call (:func:`profile_fits`).

Every schedule produced here is still verified by :func:`lpsched.check.check`
(in :func:`lpsched.solve.solve` and in the tests).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from lpsched.instance import Instance
from lpsched.options import UnsupportedInstance
from lpsched.stop import Deadline

__all__ = ["CHECK_EVERY", "MAX_SERIAL_BYTES", "DenseProfile", "IncrementalDecoder",
           "SerialDecoder", "decode_groups", "decode_order", "decode_order_within",
           "group_fits_alone", "objective_of", "pack_in_batches", "profile_fits",
           "refuse_large_profile", "serial_bytes"]

CHECK_EVERY = 8
"""Groups decoded by :meth:`IncrementalDecoder.decode` between two deadline checks."""

ORDER_CHECK_EVERY = 32
"""Requests placed by :meth:`SerialDecoder.extend` between two deadline checks."""

_BLOCK_WORK = 8192
"""Elements per block of :meth:`DenseProfile.earliest` (candidates x decode length)."""

MAX_SERIAL_BYTES = 2e9
"""Largest estimated memory (bytes, :func:`serial_bytes`) of the serial decoder's profiles:
the exact models' guard (:data:`lpsched.models.guard.DEFAULT_MAX_MODEL_BYTES`). Above it the
exact models' warm start is the sequential schedule (``O(n)``) and the heuristics built on
this decoder refuse the instance (:func:`refuse_large_profile`)."""


def serial_bytes(instance: Instance) -> float:
    """Peak bytes of the serial schedules (and local search's decoder) on ``instance``: a
    dense ``int64`` memory profile over the makespan, grown by doubling (24 bytes per
    step), and the ramp of the longest decode. The makespan of a serial schedule is at most
    ``max_i a_i + sum_i o_i`` (each request starts by the end of the previous one in its
    order, or at its arrival)."""
    horizon = float(instance.arrival.max()) + float(instance.decode.astype(float).sum())
    return 24.0 * (horizon + 2.0) + 16.0 * float(instance.decode.max()) + 200.0 * instance.n


def profile_fits(instance: Instance) -> bool:
    """Whether :func:`serial_bytes` of ``instance`` is within :data:`MAX_SERIAL_BYTES` (read
    at each call, so a caller may raise the module's cap)."""
    return serial_bytes(instance) <= MAX_SERIAL_BYTES


def refuse_large_profile(algorithm: str, instance: Instance) -> None:
    """Raise :class:`~lpsched.options.UnsupportedInstance` when the dense profile of the
    serial decoder on ``instance`` is estimated above :data:`MAX_SERIAL_BYTES`
    (:func:`serial_bytes`); call it before any profile is allocated.

    Examples
    --------
    >>> from lpsched import Instance
    >>> inst = Instance.from_arrays(2 * 10**11, [1, 2], [10**11, 4])
    >>> refuse_large_profile("smith-area", inst)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lpsched.options.UnsupportedInstance: smith-area: ... about 4.0 TB, above the 2.0 GB guard...
    """
    if profile_fits(instance):
        return
    from lpsched.models.guard import format_bytes  # only to word the refusal

    need = serial_bytes(instance)
    horizon = int(instance.arrival.max()) + int(instance.decode.sum())
    raise UnsupportedInstance(
        f"{algorithm}: its serial decoder keeps a dense per-step memory profile over up to "
        f"the horizon (max arrival + sum of decode lengths = {horizon} steps): about "
        f"{format_bytes(need)}, above the {format_bytes(MAX_SERIAL_BYTES)} guard "
        "(lpsched.heuristics.serial.MAX_SERIAL_BYTES); the policies (mc-sf, sorted-f, ...) "
        "need no such profile")


class DenseProfile:
    """Memory ``m(u)`` of the placed requests in every step ``u`` (growable dense array).

    ``top`` is a step after which ``m(u) = 0`` (kept by :meth:`add`), so
    :meth:`snapshot` and :meth:`restore` copy only ``m(0..top)``.
    """

    __slots__ = ("M", "_mem", "ramp", "_win", "_maxo", "top")

    def __init__(self, memory: int, max_decode: int, size: int = 0):
        self.M = int(memory)
        self._maxo = int(max_decode)
        self.ramp = np.arange(max_decode + 1, dtype=np.int64)
        self.mem = np.zeros(max(size, 4 * (max_decode + 2), 64), dtype=np.int64)
        self.top = 0  # m(u) = 0 for every u > top

    @property
    def mem(self) -> np.ndarray:
        return self._mem

    @mem.setter
    def mem(self, value: np.ndarray) -> None:
        self._mem = value
        # rows j: mem[j : j + max_decode] (a read-only view that follows mem's values)
        self._win = sliding_window_view(value, self._maxo)

    def copy(self) -> DenseProfile:
        out = DenseProfile.__new__(DenseProfile)
        out.M, out.ramp, out._maxo, out.top = self.M, self.ramp, self._maxo, self.top
        out.mem = self.mem.copy()
        return out

    def snapshot(self) -> np.ndarray:
        """A copy of ``m(0..top)`` (the rest is zero): what :meth:`restore` needs."""
        return self._mem[: self.top + 1].copy()

    @classmethod
    def restore(cls, memory: int, max_decode: int, snapshot: np.ndarray) -> DenseProfile:
        """The profile of a :meth:`snapshot` (a new array; the snapshot is not shared)."""
        out = cls(memory, max_decode, snapshot.size + max_decode + 2)
        out._mem[: snapshot.size] = snapshot
        out.top = snapshot.size - 1
        return out

    def _ensure(self, end: int) -> None:
        end += self._maxo
        if end >= self._mem.size:
            new = np.zeros(max(2 * self._mem.size, end + 1), dtype=np.int64)
            new[: self._mem.size] = self._mem
            self.mem = new

    def add(self, s: int, o: int, p: int) -> None:
        """Place a request of prefill ``s``, decode ``o`` at start ``p``."""
        self._ensure(p + o + 1)
        self.mem[p + 1: p + o + 1] += s + self.ramp[1: o + 1]
        if p + o > self.top:
            self.top = p + o

    def remove(self, s: int, o: int, p: int) -> None:
        self.mem[p + 1: p + o + 1] -= s + self.ramp[1: o + 1]

    def fits(self, s: int, o: int, p: int) -> bool:
        self._ensure(p + o + 1)
        return int((self.mem[p + 1: p + o + 1] + self.ramp[1: o + 1]).max()) <= self.M - s

    def earliest(self, s: int, o: int, t0: int) -> int:
        """The smallest ``p >= t0`` at which the request fits (exists: it fits alone).

        Candidates are tested in blocks of ``k`` (8, 16, 32, ... while ``k o`` stays
        below ``_BLOCK_WORK``): row ``p`` of the strided window view holds
        ``m[p+1 .. p+o]``, so one block costs ``O(k o)`` vectorised work and no
        Python loop over steps. When a whole block fails, the search jumps as
        :meth:`earliest_jump` does from the block's last candidate ``q``: a step
        ``u`` of its window with ``h(u) - q > M - s`` rules out every start before
        ``min(u, h(u) - (M - s))`` (for earlier candidates of the block that bound
        is below the block's end, so the last row carries all of it). Blocks are
        fast when the fit is near but the jumps are short (small ``o``), jumps when
        ``o`` is long and memory stays full for long (traces); same result as
        both independent implementations (tested).
        """
        cap = self.M - s
        ramp = self.ramp[1: o + 1]
        t = t0
        k = 8
        kmax = max(8, _BLOCK_WORK // max(o, 1))
        while True:
            self._ensure(t + k + o + 1)
            v = self._win[t + 1: t + 1 + k, :o] + ramp  # v[r, c] = h(u) - (t + r), u = t+r+1+c
            ok = np.flatnonzero(v.max(axis=1) <= cap)
            if ok.size:
                return t + int(ok[0])
            q = t + k - 1
            last = v[k - 1]
            bad = np.flatnonzero(last > cap)
            t = max(t + k, int(np.minimum(bad + (q + 1), last[bad] + (q - cap)).max()))
            k = min(2 * k, kmax)

    def earliest_jump(self, s: int, o: int, t0: int) -> int:
        """Same as :meth:`earliest` by jump search (an independent implementation).

        If ``p`` fails, every step ``u`` of its window with ``h(u) - p > M - s``
        (``h(u) = m(u) + u``) excludes all ``p' < min(u, h(u) - (M - s))`` (for
        ``p' < u`` the step stays in the window and needs ``h(u) - p' <= M - s``).
        """
        cap = self.M - s
        ramp = self.ramp[1: o + 1]
        t = t0
        while True:
            self._ensure(t + o + 1)
            v = self._mem[t + 1: t + o + 1] + ramp  # = h(u) - t
            bad = np.flatnonzero(v > cap)
            if bad.size == 0:
                return t
            u = bad + (t + 1)
            t = max(t + 1, int(np.minimum(u, v[bad] + t - cap).max()))

    def earliest_blocks(self, s: int, o: int, t0: int) -> int:
        """Same as :meth:`earliest` by scanning blocks of candidates with a sliding
        window maximum (kept as an independent implementation for the tests)."""
        from scipy.ndimage import maximum_filter1d  # a slow import (~0.5 s): tests only
        if self.fits(s, o, t0):
            return t0
        cap = self.M - s
        t = t0 + 1
        k = max(2 * o, 64)
        while True:
            self._ensure(t + k + o + 1)
            seg = self.mem[t + 1: t + k + o] + np.arange(t + 1, t + k + o, dtype=np.int64)
            if o * k <= 16384:  # small windows: a strided view beats the filter's overhead
                win = sliding_window_view(seg, o).max(axis=1)
            else:
                win = maximum_filter1d(seg, size=o, origin=-(o // 2))[:k]
            ok = np.flatnonzero(win - np.arange(t, t + k, dtype=np.int64) <= cap)
            if ok.size:
                return t + int(ok[0])
            t += k
            k *= 2

    def group_fits(self, s: np.ndarray, o: np.ndarray, p: int) -> bool:
        """Whether all requests ``(s, o)`` fit when started together at ``p``."""
        R = int(o.max())
        self._ensure(p + R + 1)
        g = _group_ramp(s, o)
        return int((self.mem[p + 1: p + R + 1] + g).max()) <= self.M

    def add_group(self, s: np.ndarray, o: np.ndarray, p: int) -> None:
        for si, oi in zip(s.tolist(), o.tolist()):
            self.add(si, oi, p)


def _group_ramp(s: np.ndarray, o: np.ndarray) -> np.ndarray:
    """``G(r) = sum_{i: o_i >= r} (s_i + r)`` for ``r = 1..max o``: a group's own memory."""
    R = int(o.max())
    cnt = np.zeros(R + 2, dtype=np.int64)
    ssum = np.zeros(R + 2, dtype=np.int64)
    np.add.at(cnt, o, 1)
    np.add.at(ssum, o, s)
    # suffix sums over r..R of requests with o_i >= r
    n_ge = np.cumsum(cnt[::-1])[::-1][1: R + 1]
    s_ge = np.cumsum(ssum[::-1])[::-1][1: R + 1]
    r = np.arange(1, R + 1, dtype=np.int64)
    return s_ge + r * n_ge


def group_fits_alone(memory: int, s: np.ndarray, o: np.ndarray) -> bool:
    """Whether a group started together fits in an empty memory."""
    return int(_group_ramp(np.asarray(s), np.asarray(o)).max()) <= memory


class _ArrivalIndex:
    """The requests sorted by arrival (stable), cut into blocks of ``B``: the static part of
    :class:`_ReleaseFloor`, built once per instance and decoder."""

    B = 128
    __slots__ = ("a_sorted", "by_arrival", "block_of", "nblocks")

    def __init__(self, instance: Instance):
        self.by_arrival = np.argsort(instance.arrival, kind="stable")
        self.a_sorted = instance.arrival[self.by_arrival].tolist()  # for bisect
        rank = np.empty(instance.n, dtype=np.int64)
        rank[self.by_arrival] = np.arange(instance.n)
        self.block_of = rank // self.B
        self.nblocks = -(-instance.n // self.B)


class _ReleaseFloor:
    """``F(x) = max {starts[k] : a_k <= x}`` over the placed requests (unplaced: ``-1``).

    Kept up to date by :meth:`place`: the maximum start of every block of ``B``
    requests in arrival order, so a query costs ``O(n / B + B)`` vectorised work
    instead of ``O(n)`` (the module docstring's floor of the release-aware
    discipline; ``starts`` must be the decoder's array, written before ``place``).
    """

    __slots__ = ("idx", "starts", "block")

    def __init__(self, index: _ArrivalIndex, starts: np.ndarray):
        self.idx = index
        self.starts = starts
        vals = np.full(index.nblocks * index.B, -1, dtype=np.int64)
        vals[: starts.size] = starts[index.by_arrival]
        self.block = vals.reshape(index.nblocks, index.B).max(axis=1)

    def place(self, positions: int | np.ndarray, p: int) -> None:
        b = self.idx.block_of[positions]
        if isinstance(b, np.ndarray):
            np.maximum.at(self.block, b, p)
        elif p > self.block[b]:
            self.block[b] = p

    def __call__(self, x: int) -> int:
        idx = self.idx
        k = bisect_right(idx.a_sorted, x)
        q = k // idx.B
        m = int(self.block[:q].max()) if q else -1
        if k > q * idx.B:
            m = max(m, int(self.starts[idx.by_arrival[q * idx.B: k]].max()))
        return m


def _release_floor(instance: Instance, starts: np.ndarray, order_preserving: bool,
                   release_aware: bool) -> _ReleaseFloor | None:
    """``x -> F(x)`` over ``starts`` when the release-aware queue discipline applies
    (order-preserving, ``release_aware``, some arrival > 0), else ``None``."""
    if not (order_preserving and release_aware) or instance.offline:
        return None
    return _ReleaseFloor(_ArrivalIndex(instance), starts)


def _release_aware_start(place: Callable[[int], int], floor_of: _ReleaseFloor, t0: int) -> int:
    """Smallest ``p >= t0`` with ``place`` feasible and ``p >= F(p)`` (``F`` monotone)."""
    p = place(max(t0, floor_of(t0)))
    while True:
        f = floor_of(p)
        if f <= p:
            return p
        p = place(f)


def pack_in_batches(instance: Instance, order: Sequence[int] | np.ndarray, starts: np.ndarray,
                    t0: int) -> None:
    """Start the requests of ``order`` in *packed batches* from step ``t0`` on (in place).

    Consecutive requests of ``order`` form a batch while the sum of their peaks
    ``s_i + o_i`` fits in ``M``; a batch starts at the end of the previous one
    (``t0`` for the first), and not before its members' arrivals. Feasible next to
    anything that has finished by ``t0``: the cheap completion of a decode stopped
    by its deadline (module docstring). Vectorised except for one step per batch.
    """
    order = np.asarray(order, dtype=np.int64)
    if order.size == 0:
        return
    peak = instance.prefill[order] + instance.decode[order]
    cum = np.concatenate([[0], np.cumsum(peak)])
    M = instance.memory
    firsts = []
    j = 0
    while j < order.size:  # batch [j, k): the longest run whose peaks fit together
        firsts.append(j)
        j = max(j + 1, int(np.searchsorted(cum, cum[j] + M, side="right")) - 1)
    firsts_a = np.asarray(firsts, dtype=np.int64)
    length = np.maximum.reduceat(instance.decode[order], firsts_a).tolist()
    release = np.maximum.reduceat(instance.arrival[order], firsts_a).tolist()
    begin = []
    t = int(t0)
    for ln, rel in zip(length, release):
        t = max(t, rel)
        begin.append(t)
        t += ln
    sizes = np.diff(np.append(firsts_a, order.size))
    starts[order] = np.repeat(np.asarray(begin, dtype=np.int64), sizes)


class SerialDecoder:
    """The serial earliest-start decoder of an order, in pieces.

    ``extend(order)`` places the requests of ``order`` one by one exactly as
    :func:`decode_order` does (each at the earliest step at which it fits next to
    everything placed so far; with ``order_preserving`` not before the previous
    one, or with ``release_aware`` not before any earlier-placed request that has
    arrived by then); calls may follow each other, the result is that of one
    :func:`decode_order` over the concatenation. With a ``deadline`` it stops
    (checked every :data:`ORDER_CHECK_EVERY` requests) and returns how many it
    placed; :meth:`pack_rest` then completes the schedule cheaply
    (:func:`pack_in_batches` after everything placed has finished).

    ``lookback`` (``>= 0``, with ``order_preserving`` and not ``release_aware``) relaxes
    the queue discipline to "not before ``lookback`` steps before the latest start
    placed so far" (``0``: the queue discipline; unbounded: backfilling); the search
    then scans at most ``lookback`` steps more per request.

    Attributes: ``starts`` (``-1`` for unplaced requests), ``placed`` (count),
    ``end`` (largest completion step placed).
    """

    def __init__(self, instance: Instance, *, order_preserving: bool = True,
                 release_aware: bool = False, profile: DenseProfile | None = None,
                 starts: np.ndarray | None = None, lookback: int = 0):
        if lookback < 0:
            raise ValueError(f"lookback must be >= 0, got {lookback}")
        self.inst = instance
        self.lookback = int(lookback)
        self._s = instance.prefill.tolist()
        self._o = instance.decode.tolist()
        self._a = instance.arrival.tolist()
        self.profile = profile if profile is not None else DenseProfile(
            instance.memory, int(instance.decode.max()))
        self.starts = np.full(instance.n, -1, dtype=np.int64) if starts is None else starts
        self.order_preserving = bool(order_preserving)
        self._floor = _release_floor(instance, self.starts, order_preserving, release_aware)
        self._t = 0
        done = self.starts >= 0
        self.placed = int(done.sum())
        self.end = int((self.starts[done] + instance.decode[done]).max()) if self.placed else 0

    def place(self, i: int) -> int:
        """Place request ``i`` at its earliest start; returns the start step."""
        s, o, a = self._s[i], self._o[i], self._a[i]
        prof = self.profile
        if self._floor is not None:
            p = _release_aware_start(partial(prof.earliest, s, o), self._floor, a)
        else:
            p = prof.earliest(s, o, max(self._t - self.lookback, a) if self.order_preserving
                              else a)
        prof.add(s, o, p)
        self.starts[i] = p
        if self._floor is not None:
            self._floor.place(i, p)
        if self.order_preserving:
            self._t = max(self._t, p)
        self.placed += 1
        self.end = max(self.end, p + o)
        return p

    def extend(self, order: Sequence[int] | np.ndarray, deadline: Deadline | None = None) -> int:
        """Place the requests of ``order`` in turn; returns how many were placed (all of
        them unless ``deadline`` expired first)."""
        items = np.asarray(order, dtype=np.int64).tolist()
        if deadline is None or not (deadline.limited or deadline.cancelled):
            for i in items:
                self.place(i)
            return len(items)
        for k, i in enumerate(items):
            if k % ORDER_CHECK_EVERY == 0 and deadline.expired():
                return k
            self.place(i)
        return len(items)

    def pack_rest(self, rest: Sequence[int] | np.ndarray) -> None:
        """Start the requests of ``rest`` (not placed) in packed batches after :attr:`end`."""
        pack_in_batches(self.inst, rest, self.starts, self.end)


def decode_order(instance: Instance, order: Sequence[int] | np.ndarray, *,
                 order_preserving: bool = True, profile: DenseProfile | None = None,
                 starts: np.ndarray | None = None, release_aware: bool = False,
                 lookback: int = 0) -> np.ndarray:
    """Earliest-start serial decoding of a request order; returns start steps.

    ``order`` lists request positions (each exactly once). With
    ``order_preserving`` the start of each request is at least the start of the
    previous one (queue discipline; with ``release_aware``, of every earlier one
    that has arrived by then: module docstring), otherwise any step ``>= a_i``
    (backfill); ``lookback`` as in :class:`SerialDecoder`. ``profile``/``starts`` let
    a caller resume from a partial decode (requests already in ``profile`` keep their
    entries in ``starts``).
    """
    dec = SerialDecoder(instance, order_preserving=order_preserving, release_aware=release_aware,
                        profile=profile, starts=starts, lookback=lookback)
    dec.extend(order)
    return dec.starts


def decode_order_within(instance: Instance, order: Sequence[int] | np.ndarray,
                        deadline: Deadline | None, *, order_preserving: bool = True,
                        release_aware: bool = False, lookback: int = 0
                        ) -> tuple[np.ndarray, int]:
    """:func:`decode_order` stopped at ``deadline``: ``(starts, decoded)``.

    The first ``decoded`` requests of ``order`` are decoded earliest-start; when
    the deadline stopped the decoder before the end, the rest start in packed
    batches after them (:func:`pack_in_batches`), so the schedule is always
    complete and feasible. ``decoded == len(order)`` means an exact decode.
    """
    order = np.asarray(order, dtype=np.int64)
    dec = SerialDecoder(instance, order_preserving=order_preserving, release_aware=release_aware,
                        lookback=lookback)
    k = dec.extend(order, deadline)
    if k < order.size:
        dec.pack_rest(order[k:])
    return dec.starts, k


def _group_earliest(profile: DenseProfile, gs: np.ndarray, go: np.ndarray, x: int) -> int:
    """The earliest step ``>= x`` at which the group ``(gs, go)`` fits, started together."""
    p = x
    while True:
        # every member must fit on its own: a lower bound on the group's start
        p = max(profile.earliest(int(si), int(oi), p) for si, oi in zip(gs, go))
        if profile.group_fits(gs, go, p):
            return p
        p += 1


def decode_groups(instance: Instance, groups: Sequence[Sequence[int]], *,
                  order_preserving: bool = True, profile: DenseProfile | None = None,
                  starts: np.ndarray | None = None, floor: int = 0,
                  release_aware: bool = False) -> np.ndarray:
    """Serial decoding of ordered groups; the requests of a group start together.

    A group's start is the earliest step ``>= floor`` (and ``>=`` the previous
    group's start when ``order_preserving``, or with ``release_aware`` the start
    of every earlier-listed request that has arrived by then, module docstring;
    and ``>=`` every member's arrival) at which the whole group fits. Each group
    must fit alone (:func:`group_fits_alone`), otherwise ``ValueError``.
    """
    if profile is None:
        profile = DenseProfile(instance.memory, int(instance.decode.max()))
    out = np.full(instance.n, -1, dtype=np.int64) if starts is None else starts
    floor_of = _release_floor(instance, out, order_preserving, release_aware)
    _place_groups(instance, groups, profile, out, floor_of, floor, order_preserving)
    return out


def _place_groups(instance: Instance, groups: Sequence[Sequence[int]], profile: DenseProfile,
                  out: np.ndarray, floor_of: _ReleaseFloor | None, floor: int,
                  order_preserving: bool) -> None:
    """The loop of :func:`decode_groups` (``floor_of``: the release floor over ``out``)."""
    S, D, A = instance.prefill, instance.decode, instance.arrival
    t = floor
    for group in groups:
        g = np.asarray(group, dtype=np.int64)
        if g.size == 1:
            i = int(g[0])
            si, oi = int(S[i]), int(D[i])
            place = partial(profile.earliest, si, oi)
        else:
            gs, go = S[g], D[g]
            if not group_fits_alone(instance.memory, gs, go):
                raise ValueError(f"group {[instance.ids[k] for k in g]} does not fit in memory "
                                 f"{instance.memory} even alone")
            place = partial(_group_earliest, profile, gs, go)
        a_g = int(A[g].max())
        if floor_of is not None:
            p = _release_aware_start(place, floor_of, max(floor, a_g))
        else:
            p = place(max(t, a_g) if order_preserving else max(floor, a_g))
        if g.size == 1:
            profile.add(si, oi, p)
        else:
            profile.add_group(gs, go, p)
        out[g] = p
        if floor_of is not None:
            floor_of.place(g, p)
        if order_preserving:
            t = p


Snapshot = tuple[np.ndarray, np.ndarray, int]


class IncrementalDecoder:
    """Re-decodes lists of groups from profile snapshots: the evaluation step of local
    search (:func:`lpsched.heuristics.local_search.improve`) and of
    :func:`lpsched.heuristics.local_search.adjacent_swaps` (LP-Swap).

    A list of groups (requests of a group start together) is decoded by the
    serial scheme of :func:`decode_groups`: ``backfill=True`` gives every group its
    earliest fitting start against all groups placed before it in the list;
    ``backfill=False`` keeps starts non-decreasing along the list (the queue
    discipline; with arrivals the release-aware one of the module docstring).

    Snapshots. The decoder keeps, for the *committed* list, the memory profile,
    the start steps and the queue floor after every ``step = max(1, n // 32)``
    groups. Decoding a candidate list whose first change is at position ``first``
    restarts from the last snapshot at or before ``first`` (the prefix before it
    is unchanged, so is its decode); a move late in the list costs little.
    :meth:`decode` returns the snapshots it passed; :meth:`commit` installs them
    when the candidate is kept (the snapshots after ``k0`` of the previous list
    are dropped: they describe a list that is gone).

    Deadline. ``stop`` (e.g. ``deadline.expired``) is asked before every
    :data:`CHECK_EVERY` groups; when it says yes the evaluation is abandoned (the
    starts are ``None``, nothing is committed), so an evaluation overruns a
    deadline by the decoding of at most ``CHECK_EVERY`` groups.

    Attributes: ``groups_decoded`` counts the groups placed in all calls.
    """

    def __init__(self, instance: Instance, backfill: bool):
        self.inst = instance
        self.backfill = bool(backfill)
        # without backfill: list scheduling with release dates (a request not yet arrived
        # blocks nobody), which offline is the queue discipline
        self.release = not backfill and not instance.offline
        self._index = _ArrivalIndex(instance) if self.release else None
        self.maxo = int(instance.decode.max())
        self.step = max(1, instance.n // 32)
        self.snaps: dict[int, Snapshot] = {}
        self.groups_decoded = 0

    def decode(self, groups: Sequence[Sequence[int]], first: int = 0,
               stop: Callable[[], bool] | None = None
               ) -> tuple[np.ndarray | None, int, dict[int, Snapshot]]:
        """Decode ``groups`` (unchanged before position ``first`` with respect to the
        committed list): ``(starts or None if stopped, k0, new snapshots)``, ``k0`` the
        snapshot position decoding restarted from."""
        inst = self.inst
        k0 = (first // self.step) * self.step
        while k0 > 0 and k0 not in self.snaps:
            k0 -= self.step
        if k0 > 0:
            mem, starts, t = self.snaps[k0]
            prof = DenseProfile.restore(inst.memory, self.maxo, mem)
            starts = starts.copy()
        else:
            prof = DenseProfile(inst.memory, self.maxo, 0)
            starts = np.full(inst.n, -1, dtype=np.int64)
            t = 0
        floor_of = _ReleaseFloor(self._index, starts) if self._index is not None else None
        order_preserving = not self.backfill
        snaps: dict[int, Snapshot] = {}
        k = k0
        while k < len(groups):
            end = min(len(groups), (k // self.step + 1) * self.step)
            while k < end:
                if stop is not None and stop():
                    return None, k0, {}
                b = min(end, k + CHECK_EVERY)
                _place_groups(inst, groups[k:b], prof, starts, floor_of,
                              0 if self.backfill or self.release else t, order_preserving)
                self.groups_decoded += b - k
                if not self.backfill:
                    t = int(starts[groups[b - 1][0]])
                k = b
            if k < len(groups) and k % self.step == 0:
                snaps[k] = (prof.snapshot(), starts.copy(), t)
        return starts, k0, snaps

    def commit(self, k0: int, snaps: dict[int, Snapshot]) -> None:
        """Make the decoded candidate the committed list (its snapshots from ``k0`` on)."""
        for k in [k for k in self.snaps if k > k0]:
            del self.snaps[k]
        self.snaps.update(snaps)


def objective_of(instance: Instance, starts: np.ndarray) -> int:
    """Total completion time ``sum_i (p_i + o_i - a_i)``."""
    return int((starts + instance.decode - instance.arrival).sum())
