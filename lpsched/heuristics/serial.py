"""Serial schedule generation: turn an order (or ordered groups) into a feasible schedule.

Several strong heuristics (continuous Sorted-F, local search, Sorted-LP, LP-Swap)
decide only an *order* of the requests and leave the start steps to one decoder,
the classical serial schedule-generation scheme: take the requests (or groups of
requests that must start together) in order and give each the *earliest* start
step at which it fits, given every request already placed.

Memory model (DESIGN.md section 2): request ``i`` started at ``p`` holds
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

Every schedule produced here is still verified by :func:`lpsched.check.check`
(in :func:`lpsched.solve.solve` and in the tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import maximum_filter1d

from lpsched.instance import Instance

__all__ = ["DenseProfile", "decode_groups", "decode_order", "objective_of"]


class DenseProfile:
    """Memory ``m(u)`` of the placed requests in every step ``u`` (growable dense array)."""

    __slots__ = ("M", "_mem", "ramp", "_win", "_maxo")

    def __init__(self, memory: int, max_decode: int, size: int = 0):
        self.M = int(memory)
        self._maxo = int(max_decode)
        self.ramp = np.arange(max_decode + 1, dtype=np.int64)
        self.mem = np.zeros(max(size, 4 * (max_decode + 2), 64), dtype=np.int64)

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
        out.M, out.ramp, out._maxo = self.M, self.ramp, self._maxo
        out.mem = self.mem.copy()
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

    def remove(self, s: int, o: int, p: int) -> None:
        self.mem[p + 1: p + o + 1] -= s + self.ramp[1: o + 1]

    def fits(self, s: int, o: int, p: int) -> bool:
        self._ensure(p + o + 1)
        return int((self.mem[p + 1: p + o + 1] + self.ramp[1: o + 1]).max()) <= self.M - s

    def earliest(self, s: int, o: int, t0: int) -> int:
        """The smallest ``p >= t0`` at which the request fits (exists: it fits alone).

        Candidates are tested in blocks of ``k`` (8, 16, 32, ...): row ``p`` of the
        strided window view holds ``m[p+1 .. p+o]``, so one block costs ``O(k o)``
        vectorised work and no Python loop over steps.
        """
        cap = self.M - s
        ramp = self.ramp[1: o + 1]
        t = t0
        k = 8
        while True:
            self._ensure(t + k + o + 1)
            v = (self._win[t + 1: t + 1 + k, :o] + ramp).max(axis=1)
            ok = np.flatnonzero(v <= cap)
            if ok.size:
                return t + int(ok[0])
            t += k
            k = min(2 * k, 4096)

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


class _ArrivedMax:
    """``F(x) = max {starts[k] : a_k <= x}`` over placed requests (unplaced: ``-1``)."""

    __slots__ = ("a_sorted", "by_arrival")

    def __init__(self, instance: Instance):
        self.by_arrival = np.argsort(instance.arrival, kind="stable")
        self.a_sorted = instance.arrival[self.by_arrival]

    def __call__(self, starts: np.ndarray, x: int) -> int:
        k = int(np.searchsorted(self.a_sorted, x, side="right"))
        return int(starts[self.by_arrival[:k]].max()) if k else -1


def _release_floor(instance: Instance, starts: np.ndarray, order_preserving: bool,
                   release_aware: bool):
    """``x -> F(x)`` over ``starts`` when the release-aware queue discipline applies
    (order-preserving, ``release_aware``, some arrival > 0), else ``None``."""
    if not (order_preserving and release_aware) or instance.offline:
        return None
    return partial(_ArrivedMax(instance), starts)


def _release_aware_start(place, floor_of, t0: int) -> int:
    """Smallest ``p >= t0`` with ``place`` feasible and ``p >= F(p)`` (``F`` monotone)."""
    p = place(max(t0, floor_of(t0)))
    while True:
        f = floor_of(p)
        if f <= p:
            return p
        p = place(f)


def decode_order(instance: Instance, order: Sequence[int] | np.ndarray, *,
                 order_preserving: bool = True, profile: DenseProfile | None = None,
                 starts: np.ndarray | None = None, release_aware: bool = False) -> np.ndarray:
    """Earliest-start serial decoding of a request order; returns start steps.

    ``order`` lists request positions (each exactly once). With
    ``order_preserving`` the start of each request is at least the start of the
    previous one (queue discipline; with ``release_aware``, of every earlier one
    that has arrived by then: module docstring), otherwise any step ``>= a_i``
    (backfill). ``profile``/``starts`` let a caller resume from a partial decode
    (requests already in ``profile`` keep their entries in ``starts``).
    """
    s = instance.prefill.tolist()
    o = instance.decode.tolist()
    a = instance.arrival.tolist()
    if profile is None:
        profile = DenseProfile(instance.memory, int(instance.decode.max()))
    out = np.full(instance.n, -1, dtype=np.int64) if starts is None else starts
    floor_of = _release_floor(instance, out, order_preserving, release_aware)
    t = 0
    for i in np.asarray(order, dtype=np.int64).tolist():
        if floor_of is not None:
            p = _release_aware_start(partial(profile.earliest, s[i], o[i]), floor_of, a[i])
        else:
            t0 = max(t, a[i]) if order_preserving else a[i]
            p = profile.earliest(s[i], o[i], t0)
        profile.add(s[i], o[i], p)
        out[i] = p
        if order_preserving:
            t = p
    return out


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
    S, D, A = instance.prefill, instance.decode, instance.arrival
    if profile is None:
        profile = DenseProfile(instance.memory, int(D.max()))
    out = np.full(instance.n, -1, dtype=np.int64) if starts is None else starts
    floor_of = _release_floor(instance, out, order_preserving, release_aware)
    t = floor
    for g in groups:
        g = np.asarray(g, dtype=np.int64)
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
        if order_preserving:
            t = p
    return out


def objective_of(instance: Instance, starts: np.ndarray) -> int:
    """Total completion time ``sum_i (p_i + o_i - a_i)``."""
    return int((starts + instance.decode - instance.arrival).sum())
