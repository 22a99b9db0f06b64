"""The engine's clocks: how long a step lasts.

The engine (:mod:`lpsched.engine.loop`) moves from decision time to decision time; between
two of them the batch does not change except that every running request grows by one
token per step. A clock turns those steps into time and says which arrivals have come:

* :class:`UnitClock`: every step lasts one unit and arrivals are steps (the papers'
  model, ``simulate``/``solve``). The clock is the step counter.
* :class:`StepTimeClock`: a step lasts ``step_seconds(rows, kv, prefill_sq, outputs)``
  seconds (:meth:`lpsched.serving.steptime.StepTimeModel.step_seconds`: token rows of the
  step, KV tokens read by decode attention, ``sum`` over prefill chunks ``u+1..u+c`` of
  ``(u+c)(u+c+1) - u(u+1)``, requests that emit a token); a step with no token row
  (the policy keeps requests waiting while nothing runs) lasts ``idle_seconds``. A request
  whose arrival time has passed by the end of a step is revealed at the decision time
  after it; with nothing running and nothing waiting the clock jumps to the next arrival
  without a step (the engine is idle). Steps are costed from tables of the model when it
  is separable (:class:`_Separable`), else in deferred vectorised calls
  (:class:`_Bounds`); the times are the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["StepTimeClock", "UnitClock", "StepWork"]

#: Work of the first step after a decision time: (token rows, decode KV tokens,
#: prefill_sq, emitting requests).
StepWork = tuple[float, float, float, float]

_MAX_IDLE_STEPS = 50_000_000


class UnitClock:
    """Every step lasts one unit; arrivals are steps; ``now`` is the decision time."""

    timed = False

    def __init__(self) -> None:
        self.now: float = 0

    def start(self, first_arrival: float) -> int:
        self.now = int(first_arrival)
        return int(first_arrival)

    def advance(self, t: int, until: int, next_arrival: float | None,
                first: StepWork | None = None, n_run: int = 0, wsum: int = 0) -> int:
        """The next decision time: ``until``, or the next arrival step if earlier."""
        u = until if next_arrival is None else min(until, int(next_arrival))
        self.now = u
        return u

    def idle(self, t: int, next_arrival: float) -> int:
        """Nothing to run: jump to the next arrival step."""
        self.now = int(next_arrival)
        return int(next_arrival)


class _Bounds:
    """Upper bounds of a step's duration from tables of the step-time model at grid
    points, valid when the model is non-decreasing in each argument (checked on the grid;
    :attr:`ok` is False otherwise). Decode steps (``rows = outputs = B``, no prefill):
    ``B`` exact up to ``max_rows``, KV tokens on edges ``1.05^j``; any step: edges
    ``2^j`` on every argument."""

    R_DEC, R_ANY = 1.05, 2.0

    def __init__(self, f: Callable[..., np.ndarray], max_kv: int, max_rows: int):
        self.max_rows = int(max_rows)
        self.lk_dec = math.log(self.R_DEC)
        self.lk_any = math.log(self.R_ANY)
        nk = self._bin(max_kv, self.lk_dec) + 1
        kv_edges = self.R_DEC ** np.arange(nk)
        b = np.arange(self.max_rows + 1, dtype=np.float64)
        bb, kk = np.meshgrid(b, kv_edges, indexing="ij")
        dec = np.asarray(f(bb, kk, 0.0, bb), dtype=np.float64)
        n_any = [self._bin(v, self.lk_any) + 1 for v in (max(max_rows, 1) * 64, max_kv * 4,
                                                          float(max_kv) ** 2 * 4, max_rows * 4)]
        grids = np.meshgrid(*[self.R_ANY ** np.arange(m) for m in n_any], indexing="ij")
        anyt = np.asarray(f(*grids), dtype=np.float64)
        self.ok = bool(np.all(np.isfinite(dec)) and np.all(np.isfinite(anyt))
                       and np.all(np.diff(dec[1:], axis=0) >= 0)
                       and np.all(np.diff(dec, axis=1) >= 0)
                       and all(np.all(np.diff(anyt, axis=a) >= 0) for a in range(4)))
        self.dec = dec.tolist()
        self.nk = nk
        self.anyt = anyt.tolist()
        self.n_any = n_any

    @staticmethod
    def _bin(v: float, lr: float) -> int:
        return 0 if v <= 1 else int(math.ceil(math.log(v) / lr - 1e-12))

    def decode(self, n: int, kv: float) -> float | None:
        j = self._bin(kv, self.lk_dec)
        if n > self.max_rows or j >= self.nk:
            return None
        return self.dec[n][j]

    def any(self, work: StepWork) -> float | None:
        r, k, q, o = work  # bins of 2^j: the bit length of ceil(v) - 1
        i = (int(-(-r // 1)) - 1).bit_length() if r > 1 else 0
        j = (int(-(-k // 1)) - 1).bit_length() if k > 1 else 0
        m = (int(-(-q // 1)) - 1).bit_length() if q > 1 else 0
        h = (int(-(-o // 1)) - 1).bit_length() if o > 1 else 0
        n = self.n_any
        if i >= n[0] or j >= n[1] or m >= n[2] or h >= n[3]:
            return None
        return self.anyt[i][j][m][h]


class _Separable:
    """The step-time model as ``G(rows) + H(kv) + E(outputs) + c * prefill_sq`` with tables
    of ``G``, ``H``, ``E`` at every integer (grown on demand), when that decomposition
    reproduces the model at 4,000 sample points over the whole range (relative 1e-9):
    ``G(r) = f(r, 0, 0, 0)``, ``H(k) = f(1, k, 0, 0) - f(1, 0, 0, 0)``,
    ``E(o) = f(1, 0, 0, o) - f(1, 0, 0, 0)``, ``c = (f(1, 0, q, 0) - f(1, 0, 0, 0)) / q``.
    A step then costs a few list look-ups instead of a call of the model; the sums differ
    from the model's own by rounding only. :attr:`ok` is False when the check fails."""

    def __init__(self, f: Callable[..., np.ndarray], max_kv: int, max_rows: int):
        self.f = f
        self.base = float(f(1.0, 0.0, 0.0, 0.0))
        q1 = float(max(max_kv, 2)) ** 2
        self.c = (float(f(1.0, 0.0, q1, 0.0)) - self.base) / q1
        rng = np.random.default_rng(0)
        m = 4000
        top_r = 2 * max_kv + max_rows
        r = np.concatenate([[1, top_r], rng.integers(1, top_r + 1, m)]).astype(np.float64)
        k = np.concatenate([[0, max_kv], rng.integers(0, max_kv + 1, m)]).astype(np.float64)
        q = np.concatenate([[0, q1], rng.integers(0, int(q1) + 1, m)]).astype(np.float64)
        o = np.concatenate([[0, max_rows], rng.integers(0, max_rows + 1, m)]).astype(np.float64)
        z = np.zeros_like(r)
        one = np.ones_like(r)
        want = np.asarray(f(r, k, q, o), dtype=np.float64)
        got = (np.asarray(f(r, z, z, z), dtype=np.float64)
               + np.asarray(f(one, k, z, z), dtype=np.float64) - self.base
               + np.asarray(f(one, z, z, o), dtype=np.float64) - self.base + self.c * q)
        self.ok = bool(np.all(np.isfinite(want)) and np.all(want >= 0)
                       and np.allclose(got, want, rtol=1e-9, atol=1e-15))
        self.G: list[float] = []
        self.H: list[float] = []
        self.E: list[float] = []
        if self.ok:
            self.grow(max_rows + 1, max_kv + 1, max_rows + 1)

    def grow(self, n_g: int, n_h: int, n_e: int) -> None:
        """Extend the tables to at least these lengths (doubling)."""
        def table(n: int, at) -> list[float]:
            x = np.arange(n, dtype=np.float64)
            return np.broadcast_to(np.asarray(at(x), dtype=np.float64), x.shape).tolist()

        f = self.f
        if n_g > len(self.G):
            self.G = table(max(n_g, 2 * len(self.G)), lambda x: f(x, 0.0, 0.0, 0.0))
        if n_h > len(self.H):
            self.H = table(max(n_h, 2 * len(self.H)), lambda x: f(1.0, x, 0.0, 0.0) - self.base)
        if n_e > len(self.E):
            self.E = table(max(n_e, 2 * len(self.E)), lambda x: f(1.0, 0.0, 0.0, x) - self.base)

    def step(self, work: StepWork) -> float:
        r, k, q, o = int(work[0]), int(work[1]), work[2], int(work[3])
        if r >= len(self.G) or k >= len(self.H) or o >= len(self.E):
            self.grow(r + 1, k + 1, o + 1)
        return self.G[r] + self.H[k] + self.E[o] + self.c * q


class StepTimeClock:
    """Steps in seconds from a step-time model (module docstring).

    Parameters
    ----------
    step_seconds
        ``(rows, kv, prefill_sq, outputs) -> seconds``, vectorised over numpy arrays.
    idle_seconds
        Duration of a step with no token row (> 0).
    lazy
        Defer the costing as below (False: cost every interval at once; same times).

    When the model is separable (:class:`_Separable`, checked at :meth:`bind`) a step
    is costed from tables, exactly, as it runs. Otherwise the steps are costed lazily:
    while an upper bound of the clock (tables of the model,
    :class:`_Bounds`) stays below the next arrival, the steps wait in a list and are
    costed in one call when the bound reaches it (or at the end), so a run makes about
    one call per arrival rather than one per decision time. The times are the same as
    costing every step at once (the bound only decides *when* to cost them). When the
    model is not monotone on the grid every interval is costed at once.
    """

    timed = True

    def __init__(self, step_seconds: Callable[..., np.ndarray], idle_seconds: float,
                 lazy: bool = True):
        if not (np.isfinite(idle_seconds) and idle_seconds > 0):
            raise ValueError(f"idle_seconds must be a number > 0, got {idle_seconds!r}")
        self.f = step_seconds
        self.idle_s = float(idle_seconds)
        self.lazy = bool(lazy)
        self.now = 0.0  # exact time of the last costed step (a lower bound while pending)
        self.ub = 0.0  # upper bound of the time at the current decision time
        self.ends: list[float] = [0.0]  # ends[u]: end of step u (ends[0]: the first arrival)
        self.durs: list[float] = []  # durs[u-1]: duration of step u
        self.pending: list[tuple[int, int, StepWork, int, int]] = []
        self._idle_rows = False  # some pending step has no token row
        self.bounds: _Bounds | None = None
        self.sep: _Separable | None = None
        self.calls = 0

    def bind(self, max_kv: int, max_rows: int) -> None:
        """Build the bound tables for KV tokens up to ``max_kv`` and ``max_rows`` requests."""
        if not self.lazy:
            return
        sep = _Separable(self.f, max(int(max_kv), 2), max(int(max_rows), 1))
        if sep.ok:
            self.sep = sep
            return
        b = _Bounds(self.f, max(int(max_kv), 2), min(max(int(max_rows), 1), 4096))
        self.bounds = b if b.ok else None

    def start(self, first_arrival: float) -> int:
        self.now = self.ub = float(first_arrival)
        self.ends[0] = self.now
        return 0

    def exact_now(self) -> float:
        """The exact time at the current decision time (costs the pending steps)."""
        self._flush(None)
        return self.now

    def _upper(self, t: int, until: int, first: StepWork, n_run: int, wsum: int
               ) -> float | None:
        k = until - t
        if first[0] <= 0 and n_run == 0:
            return k * self.idle_s
        bnd = self.bounds
        if bnd is None:
            return None
        u1 = self.idle_s if first[0] <= 0 else bnd.any(first)
        if u1 is None or k == 1:
            return u1
        ud = bnd.decode(n_run, wsum + until * n_run)
        return None if ud is None else u1 + (k - 1) * ud

    def advance(self, t: int, until: int, next_arrival: float | None,
                first: StepWork | None = None, n_run: int = 0, wsum: int = 0) -> int:
        """Run steps ``t+1 .. until`` (fewer when an arrival comes first) and return the
        next decision time. Step ``t+1`` does ``first``; the later ones decode ``n_run``
        requests holding ``wsum + u * n_run`` tokens in step ``u``."""
        first = first if first is not None else (n_run, wsum + (t + 1) * n_run, 0.0, n_run)
        if first[0] <= 0 and n_run == 0 and next_arrival is not None:
            k = max(1, int(np.ceil((next_arrival - self.ub) / self.idle_s)))
            until = min(until, t + k)
        if until - t > _MAX_IDLE_STEPS:
            raise RuntimeError(f"the policy keeps requests waiting with nothing running "
                               f"for {until - t} steps after step {t}")
        if self.sep is not None:
            return self._advance_tables(t, until, next_arrival, first, n_run, wsum)
        up = self._upper(t, until, first, n_run, wsum)
        self.pending.append((t, until, first, n_run, wsum))
        if up is not None and (next_arrival is None or self.ub + up < next_arrival):
            self.ub += up
            return until
        return self._flush(next_arrival)

    def _advance_tables(self, t: int, until: int, next_arrival: float | None,
                        first: StepWork, n_run: int, wsum: int) -> int:
        """:meth:`advance` with the tables of :class:`_Separable`: step by step, exact."""
        sep = self.sep
        assert sep is not None
        ends, durs = self.ends, self.durs
        now = self.now
        d = sep.step(first) if first[0] > 0 else self.idle_s
        now += d
        ends.append(now)
        durs.append(d)
        u = t + 1
        stop = float("inf") if next_arrival is None else next_arrival
        if u < until and now < stop:
            if n_run == 0:  # idle ticks
                k = until - u if next_arrival is None else min(
                    until - u, max(1, int(np.ceil((stop - now) / self.idle_s))))
                tick = now + self.idle_s * np.arange(1, k + 1)
                ends.extend(tick.tolist())
                durs.extend([self.idle_s] * k)
                now, u = float(tick[-1]), u + k
            else:
                top = wsum + until * n_run
                if top >= len(sep.H) or n_run >= len(sep.G) or n_run >= len(sep.E):
                    sep.grow(n_run + 1, top + 1, n_run + 1)
                base = sep.G[n_run] + sep.E[n_run]
                H = sep.H
                for kv in range(wsum + (u + 1) * n_run, top + 1, n_run):
                    d = base + H[kv]
                    now += d
                    ends.append(now)
                    durs.append(d)
                    u += 1
                    if now >= stop:
                        break
        self.now = self.ub = now
        return u

    def _flush(self, next_arrival: float | None) -> int:
        """Cost the pending steps in one call; cut the last interval at the first step
        whose end reaches ``next_arrival``. Returns the decision time reached."""
        if not self.pending:
            return len(self.ends) - 1
        rows: list[float] = []
        kv: list[float] = []
        sq: list[float] = []
        out: list[float] = []
        for t, until, first, n, w in self.pending:
            if first[0] <= 0 or n == 0:
                self._idle_rows = True
            rows.append(first[0])
            kv.append(first[1])
            sq.append(first[2])
            out.append(first[3])
            k = until - t - 1
            if k > 0:
                rows.extend([n] * k)
                out.extend([n] * k)
                sq.extend([0.0] * k)
                kv.extend(range(w + (t + 2) * n, w + (until + 1) * n, n) if n else [0] * k)
        last_len = self.pending[-1][1] - self.pending[-1][0]
        self.pending.clear()
        r = np.asarray(rows, dtype=np.float64)
        self.calls += 1
        dur = np.asarray(self.f(r, np.asarray(kv, dtype=np.float64),
                                np.asarray(sq, dtype=np.float64),
                                np.asarray(out, dtype=np.float64)), dtype=np.float64)
        if self._idle_rows:
            dur = np.where(r > 0, dur, self.idle_s)
            self._idle_rows = False
        total = float(dur.sum())
        if not (math.isfinite(total) and dur.min() >= 0):
            raise ValueError("step_seconds returned a duration that is not finite and >= 0")
        ends = self.now + np.cumsum(dur)
        if next_arrival is not None and ends[-1] >= next_arrival:
            cut = int(np.searchsorted(ends, next_arrival, side="left"))
            if cut < ends.size - last_len:  # pragma: no cover - the bound guarantees it
                raise RuntimeError("an arrival within a deferred interval: the step-time "
                                   "bound was not an upper bound")
            ends = ends[:cut + 1]
        self.ends.extend(ends.tolist())
        self.durs.extend(dur[:ends.size].tolist())
        self.now = self.ub = float(ends[-1])
        return len(self.ends) - 1

    def idle(self, t: int, next_arrival: float) -> int:
        """Nothing runs and nothing waits: jump to the next arrival (no step)."""
        self._flush(None)
        self.now = self.ub = max(self.now, float(next_arrival))
        if t == 0 and len(self.ends) == 1:
            self.ends[0] = self.now
        return t

    def finish(self) -> None:
        """Cost every pending step (end of the run)."""
        self._flush(None)

    def extend(self, durations: np.ndarray) -> None:
        """Append steps of known durations (the drain)."""
        self._flush(None)
        durations = np.asarray(durations, dtype=np.float64)
        ends = self.now + np.cumsum(durations)
        self.ends.extend(ends.tolist())
        self.durs.extend(durations.tolist())
        if ends.size:
            self.now = self.ub = float(ends[-1])
