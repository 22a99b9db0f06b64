"""Look-ahead memory admission: does a request started now fit at every future step?

The admission rule of MC-SF (Jaillet et al., 2025) and of the FCFS / SF /
size-first baselines. A policy keeps the running set ``R`` with starts ``p_j`` and
*predicted* completion steps ``e_j = p_j + o_hat_j``. A running request that has
outlived its prediction (``p_j + o_hat_j <= t`` at decision time ``t``: it has not
finished, or the simulator would have said so) is **re-predicted**
(:func:`repredicted`): its predicted length is doubled until it exceeds the ``t - p_j``
steps it has run, capped at ``M - s_j`` (no request can run longer: it would not fit),
so ``e_j > t`` again. (Before this rule it was assumed to end in the next step, which
let a policy admit against memory that was not going to free, and the memory guard
evict and re-admit the same request over and over.) With exact predictions no request
outlives its prediction and nothing changes. The predicted memory of ``R`` in a
step ``u > t`` is

    m_R(u) = sum_{j in R, e_j >= u} (s_j + u - p_j) = W(u) + u * N(u),

with ``W``/``N`` suffix sums over ``R`` sorted by ``e``. A candidate ``k`` (prefill
``s``, predicted decode ``o``) started at ``x`` adds ``s + u - x`` in the steps
``u = x+1 .. x+o``. Between completions memory only grows, so the memory of
``R + k`` peaks at completion steps; ``k`` does not change steps after ``x+o``.
Hence ``k`` fits at ``x`` iff

    (A) g_i := M - m_R(e_i) - e_i >= s - x   for every e_i <= x + o, and
    (B) m_R(x + o) + s + o <= M              (the step where k completes).

``g_i`` does not depend on ``x``, so with ``R`` sorted by ``e`` and the prefix
minima of ``g`` both tests are two binary searches: ``O(log |R|)`` per candidate
(:meth:`LookaheadProfile.fits`), vectorised over many candidates in
:meth:`LookaheadProfile.fits_many`. The arrays are rebuilt in ``O(|R| log |R|)``
only when ``R`` changes (a start, finish or eviction) or when a request outlives its
prediction (then it is re-predicted). The running set is small (what fits
in ``M``), so they are Python lists searched with ``bisect`` (numpy calls cost
more than the work at this size), numpy arrays only for the vectorised tests.

Admitting ``k`` only adds memory, so a candidate that does not fit stays unfit
after further admissions at the same ``t``. And a candidate with ``s' >= s``,
``o' >= o`` is subject to every constraint of ``(s, o)`` (its window covers
``k``'s and (B) for ``(s, o)`` is a step inside its window), which gives the
lower bound used by :meth:`LookaheadProfile.earliest_fit` for wake-up times.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

import numpy as np

__all__ = ["LookaheadProfile", "repredicted"]

_BIG = 1 << 62


def async_lengths(state, o_hat: np.ndarray) -> np.ndarray:
    """The lengths a look-ahead profile should plan with under ``state``'s engine limits.

    With asynchronous scheduling (``state.limits.async_scheduling``, vLLM V1's
    ``vllm serve``) a request whose last token is computed in step ``c`` still holds its
    blocks in step ``c + 1``, so the profile counts ``min(o_hat + 1, M - s)`` steps (its
    memory in that extra step overstated by one token, the safe side). Otherwise, and
    for a view without ``limits``, ``o_hat`` itself (the papers' model).
    """
    limits = getattr(state, "limits", None)
    if limits is None or not limits.async_scheduling:
        return o_hat
    return np.minimum(np.asarray(o_hat, dtype=np.int64) + 1, state.memory - state.prefill)


def repredicted(o_hat: int, elapsed: int, cap: int) -> int:
    """The predicted decode length of a request that has run ``elapsed >= o_hat`` steps:
    ``o_hat * 2^k`` for the smallest ``k`` with ``o_hat * 2^k > elapsed``, capped at ``cap``
    (``M - s``: the longest it can run) and at least ``elapsed + 1`` (it has not finished).

    A doubling rule (as in the doubling trick for unknown horizons): at most
    ``log2(cap / o_hat)`` re-predictions per request, each at least doubling the
    remaining estimate, never "ends next step". With ``elapsed < o_hat`` it returns
    ``o_hat`` unchanged.

    >>> repredicted(10, 4, 100), repredicted(10, 10, 100), repredicted(10, 45, 100)
    (10, 20, 80)
    >>> repredicted(10, 90, 100)
    100
    """
    o = max(int(o_hat), 1)
    if o > elapsed:
        return o
    while o <= elapsed:
        o *= 2
    return max(min(o, int(cap)), int(elapsed) + 1)


class _Arrays:
    """Sorted completions ``e``, suffix sums ``sw`` of ``w`` and ``sn`` of counts, prefix
    minima ``pm`` of ``g`` (module docstring), as Python lists (scalar queries with
    ``bisect``) and, built on first use, as numpy arrays (vectorised queries)."""

    __slots__ = ("e", "sw", "sn", "pm", "_np")

    def __init__(self, e: list[int], sw: list[int], sn: list[int], pm: list[int]):
        self.e, self.sw, self.sn, self.pm = e, sw, sn, pm
        self._np: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if self._np is None:
            e, sw, sn, pm = (np.array(x, dtype=np.int64) for x in (self.e, self.sw, self.sn,
                                                                   self.pm))
            self._np = (e, sw, sn, pm)
        return self._np


#: above this many running requests the arrays are built with numpy (the same values)
_VECTOR_BUILD = 96


def _build(M: int, e: list[int], w: list[int]) -> _Arrays:
    """:class:`_Arrays` of completions ``e`` and weights ``w`` (any order).

    Ties in ``e`` share one ``g`` (all of them still run at ``e_i``), so the order
    among ties does not matter.
    """
    r = len(e)
    if r > _VECTOR_BUILD:
        return _build_numpy(M, np.array(e, dtype=np.int64), np.array(w, dtype=np.int64))
    pairs = sorted(zip(e, w))
    es = [x for x, _ in pairs]
    sw = [0] * (r + 1)
    acc = 0
    for i in range(r - 1, -1, -1):
        acc += pairs[i][1]
        sw[i] = acc
    sn = list(range(r, -1, -1))
    pm = [_BIG] * (r + 1)
    cur = _BIG
    first = 0
    prev = None
    for i, ei in enumerate(es):
        if ei != prev:
            first, prev = i, ei
        g = M - (sw[first] + ei * (r - first)) - ei
        if g < cur:
            cur = g
        pm[i + 1] = cur
    return _Arrays(es, sw, sn, pm)


def _build_numpy(M: int, e: np.ndarray, w: np.ndarray) -> _Arrays:
    """:func:`_build` for many running requests, vectorised."""
    r = e.size
    order = np.argsort(e, kind="stable")
    e = e[order]
    w = w[order]
    sw = np.zeros(r + 1, dtype=np.int64)
    sw[:r] = np.cumsum(w[::-1])[::-1]
    sn = r - np.arange(r + 1, dtype=np.int64)
    first = np.searchsorted(e, e, side="left")  # ties: all of them still run at e_i
    g = M - (sw[first] + e * sn[first]) - e
    pm = np.empty(r + 1, dtype=np.int64)
    pm[0] = _BIG
    np.minimum.accumulate(g, out=pm[1:])
    out = _Arrays(e.tolist(), sw.tolist(), sn.tolist(), pm.tolist())
    out._np = (e, sw, sn, pm)
    return out


_EMPTY = _Arrays([], [0], [0], [_BIG])


class LookaheadProfile:
    """Predicted memory profile of a running set, for look-ahead admission tests.

    Parameters
    ----------
    memory
        The budget ``M``.
    prefill, predicted
        Per-request ``s`` and ``o_hat`` arrays (indexed by position).

    The running set is kept as ``{position: (p + o_hat, s - p)}``; the sorted
    arrays are rebuilt (:meth:`prepare`) as Python lists when it changes, with
    numpy for large sets, and turned into numpy arrays only for the vectorised
    queries (:meth:`fits_many`, :meth:`earliest_fit_many`).
    """

    def __init__(self, memory: int, prefill: np.ndarray, predicted: np.ndarray):
        self.M = int(memory)
        self.s = prefill
        self.ohat = predicted
        self._s_list: list[int] = np.asarray(prefill).tolist()
        self._o_list: list[int] = np.asarray(predicted).tolist()
        self._run: dict[int, tuple[int, int]] = {}  # pos -> (p + o_hat, s - p)
        self._dirty = True
        self._t = -1
        self._min_base = _BIG  # smallest p + o_hat in R
        self._a = _EMPTY
        self._w_all = self._n_all = 0

    # -- membership ------------------------------------------------------------------------
    def add(self, pos: int, start: int) -> None:
        self._run[pos] = (start + self._o_list[pos], self._s_list[pos] - start)
        self._dirty = True

    def remove(self, positions) -> None:
        for pos in positions:
            if self._run.pop(pos, None) is not None:
                self._dirty = True

    def __len__(self) -> int:
        return len(self._run)

    def positions(self) -> list[int]:
        """The positions in the running set."""
        return list(self._run)

    @property
    def next_view_change(self) -> int:
        """Earliest step at which some predicted completion is reached (view changes)."""
        return int(self._min_base)

    def overrun(self, t: int) -> bool:
        """True if some running request has outlived its prediction at ``t`` (it is then
        re-predicted by the next :meth:`prepare`; False after :meth:`prepare` at ``t``)."""
        return self._min_base <= t

    # -- arrays ------------------------------------------------------------------------------
    @property
    def e(self) -> np.ndarray:
        """Sorted predicted completions (as seen at the last :meth:`prepare`)."""
        return self._a.arrays()[0]

    def prepare(self, t: int) -> None:
        """Make the arrays valid for decision time ``t`` (cheap when nothing changed)."""
        if self._dirty:
            self._min_base = min((b for b, _ in self._run.values()), default=_BIG)
        if self._min_base <= t:
            self._repredict(t)
        if not self._dirty:
            return
        self._t = t
        self._dirty = False
        run = self._run
        if not run:
            self._min_base = _BIG
            self._w_all = self._n_all = 0
            self._a = _EMPTY
            return
        bases = [b for b, _ in run.values()]
        ws = [w for _, w in run.values()]
        self._min_base = min(bases)
        self._w_all, self._n_all = sum(ws), len(ws)
        self._a = _build(self.M, bases, ws)

    def _repredict(self, t: int) -> None:
        """Re-predict (:func:`repredicted`) every running request with ``p + o_hat <= t``."""
        run, s_list = self._run, self._s_list
        for pos, (base, w) in list(run.items()):
            if base <= t:
                p = s_list[pos] - w
                run[pos] = (p + repredicted(base - p, t - p, self.M - s_list[pos]), w)
        self._min_base = min((b for b, _ in run.values()), default=_BIG)
        self._dirty = True

    def memory(self, u) -> np.ndarray | int:
        """Predicted memory of the running set in step(s) ``u`` (after :meth:`prepare`)."""
        if np.ndim(u):
            e, sw, sn, _ = self._a.arrays()
            k = np.searchsorted(e, u, side="left")
            return sw[k] + u * sn[k]
        a = self._a
        k = bisect_left(a.e, u)
        return a.sw[k] + int(u) * a.sn[k]

    def running_after(self, u: int) -> int:
        """Running requests predicted to decode in step ``u + 1`` (``e > u``)."""
        e = self._a.e
        return len(e) - bisect_right(e, u)

    def peak(self, lo: int, hi: int) -> int:
        """Largest predicted memory of the running set over the steps ``lo .. hi``: memory
        only grows between completions, so the maximum is at ``hi`` or at a completion
        step ``e_i`` in the range (after :meth:`prepare`)."""
        e = self._a.e
        best = int(self.memory(hi))
        for i in range(bisect_left(e, lo), bisect_right(e, hi)):
            best = max(best, int(self.memory(e[i])))
        return best

    # -- tests -------------------------------------------------------------------------------
    def fits(self, s: int, o: int, t: int) -> bool:
        """Does a request ``(s, o)`` started at ``t`` fit (conditions A and B)?"""
        y = t + o
        a = self._a
        e = a.e
        if a.pm[bisect_right(e, y)] < s - t:
            return False
        k = bisect_left(e, y)
        return a.sw[k] + y * a.sn[k] + s + o <= self.M

    def admit_prefix(self, candidates, s: np.ndarray, o: np.ndarray, t: int) -> list[int]:
        """Admit ``candidates`` (positions) in order while each fits at ``t``; stop at the first
        misfit (the FCFS / MC-SF rule). Admitted requests are added to the profile."""
        chosen: list[int] = []
        self.prepare(t)
        own = s is self.s and o is self.ohat
        s_list, o_list = (self._s_list, self._o_list) if own else (s, o)
        for pos in candidates:
            pos = int(pos)
            if not self.fits(int(s_list[pos]), int(o_list[pos]), t):
                break
            self.add(pos, t)
            self.prepare(t)
            chosen.append(pos)
        return chosen

    def fits_many(self, s: np.ndarray, o: np.ndarray, t: int) -> np.ndarray:
        """Vectorised :meth:`fits` over candidate arrays."""
        e, sw, sn, pm = self._a.arrays()
        y = t + o
        ok = pm[e.searchsorted(y, side="right")] >= s - t
        k = e.searchsorted(y, side="left")
        ok &= sw[k] + y * sn[k] + s + o <= self.M
        return ok

    def earliest_fit(self, s: int, o: int, t: int) -> int:
        """Earliest ``x > t`` at which ``(s, o)`` fits, assuming the running set and its
        predicted completions stay as they are (capped at :attr:`next_view_change`,
        where that assumption ends). After :meth:`prepare` at ``t`` with no overrun.

        Both conditions only tighten as ``x`` grows within a window, so the scan
        jumps: (A) needs ``x >= s - min g`` over the completions in the window; (B)
        failing at ``y = x + o`` fails on the whole rising stretch up to the next
        completion ``e``, so ``x`` jumps to ``e + 1 - o``.
        """
        horizon = self.next_view_change
        a = self._a
        e, sw, sn, pm = a.e, a.sw, a.sn, a.pm
        s, o = int(s), int(o)
        x = t + 1
        while x < horizon:
            y = x + o
            need = s - pm[bisect_right(e, y)]
            if x < need:
                x = need
                continue
            k = bisect_left(e, y)
            if sw[k] + y * sn[k] + s + o > self.M:
                if k >= len(e):  # pragma: no cover - memory past every completion is 0
                    return horizon
                x = e[k] + 1 - o  # > x, since y <= e[k]
                continue
            return x
        return horizon

    def earliest_fit_many(self, s: np.ndarray, o: np.ndarray, t: int) -> int:
        """``min`` over candidates of the earliest ``x > t`` at which each fits, as long as
        no arrival, completion or eviction happens (after :meth:`prepare` at ``t``).

        This is :meth:`earliest_fit`, vectorised (:meth:`prepare` has re-predicted every
        overdue request, so the view holds up to the first predicted completion, the
        horizon). It also tests (i) the known memory of step ``x + 1`` plus ``s + 1``
        ``<= M``, which the look-ahead conditions imply before the horizon (every running
        request is predicted to run in step ``x + 1``, and memory only grows up to the
        next completion): a cheap second line of defence.
        """
        horizon = self.next_view_change
        e, sw, sn, pm = self._a.arrays()
        s = np.asarray(s, dtype=np.int64)
        o = np.asarray(o, dtype=np.int64)
        x = np.full(s.size, t + 1, dtype=np.int64)
        active = np.ones(s.size, dtype=bool)
        best = horizon
        while True:
            idx = np.flatnonzero(active & (x < best))
            if idx.size == 0:
                return int(best)
            xi, si, oi = x[idx], s[idx], o[idx]
            y = xi + oi
            need = si - pm[e.searchsorted(y, side="right")]
            k = e.searchsorted(y, side="left")
            bad_b = sw[k] + y * sn[k] + si + oi > self.M
            ek = e[np.minimum(k, e.size - 1)] if e.size else k
            a_fail = xi < need
            nx = np.where(a_fail, need, np.where(bad_b, ek + 1 - oi, xi))
            done = ~a_fail & ~bad_b
            if done.any():
                xd = xi[done]
                ok_next = self._w_all + self._n_all * (xd + 1) + si[done] + 1 <= self.M
                if ok_next.any():
                    best = min(best, int(xd[ok_next].min()))
            active[idx[done]] = False
            x[idx] = nx
