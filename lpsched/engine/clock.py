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
  without a step (the engine is idle). The steps between two decision times are costed
  in one vectorised call.
"""

from __future__ import annotations

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


class StepTimeClock:
    """Steps in seconds from a step-time model (module docstring).

    Parameters
    ----------
    step_seconds
        ``(rows, kv, prefill_sq, outputs) -> seconds``, vectorised over numpy arrays.
    idle_seconds
        Duration of a step with no token row (> 0).
    """

    timed = True

    def __init__(self, step_seconds: Callable[..., np.ndarray], idle_seconds: float):
        if not (np.isfinite(idle_seconds) and idle_seconds > 0):
            raise ValueError(f"idle_seconds must be a number > 0, got {idle_seconds!r}")
        self.f = step_seconds
        self.idle_s = float(idle_seconds)
        self.now = 0.0
        self.ends: list[float] = [0.0]  # ends[u]: end of step u (ends[0]: the first arrival)

    def start(self, first_arrival: float) -> int:
        self.now = float(first_arrival)
        self.ends[0] = self.now
        return 0

    def _one(self, work: StepWork) -> float:
        if work[0] <= 0:
            return self.idle_s
        d = float(self.f(*work))
        if not (d >= 0 and np.isfinite(d)):
            raise ValueError(f"step_seconds returned {d!r} for a step with work {work}")
        return d

    def advance(self, t: int, until: int, next_arrival: float | None,
                first: StepWork | None = None, n_run: int = 0, wsum: int = 0) -> int:
        """Run steps ``t+1 .. until`` (fewer when an arrival comes first) and return the
        next decision time. Step ``t+1`` does ``first``; the later ones decode ``n_run``
        requests holding ``wsum + u * n_run`` tokens in step ``u``."""
        k = until - t
        first = first if first is not None else (n_run, wsum + (t + 1) * n_run, 0.0, n_run)
        if k == 1:
            self.now += self._one(first)
            self.ends.append(self.now)
            return t + 1
        if n_run == 0 and first[0] <= 0:  # idle ticks (the policy keeps requests waiting)
            if next_arrival is not None:
                k = min(k, max(1, int(np.ceil((next_arrival - self.now) / self.idle_s))))
            if k > _MAX_IDLE_STEPS:
                raise RuntimeError(f"the policy keeps requests waiting with nothing running "
                                   f"for {k} steps after step {t}")
            ends = self.now + self.idle_s * np.arange(1, k + 1)
        else:
            u = np.arange(t + 1, until + 1, dtype=np.float64)
            rows = np.full(k, float(n_run))
            kv = wsum + u * n_run
            sq = np.zeros(k)
            rows[0], kv[0], sq[0] = first[0], first[1], first[2]
            out = rows.copy()
            out[0] = first[3]
            dur = np.asarray(self.f(rows, kv, sq, out), dtype=np.float64)
            if rows[0] <= 0:
                dur[0] = self.idle_s
            ends = self.now + np.cumsum(dur)
            if next_arrival is not None and ends[-1] >= next_arrival:
                ends = ends[:int(np.searchsorted(ends, next_arrival, side="left")) + 1]
        self.ends.extend(ends.tolist())
        self.now = float(ends[-1])
        return t + ends.size

    def idle(self, t: int, next_arrival: float) -> int:
        """Nothing runs and nothing waits: jump to the next arrival (no step)."""
        self.now = max(self.now, float(next_arrival))
        if t == 0 and len(self.ends) == 1:
            self.ends[0] = self.now
        return t

    def extend(self, durations: np.ndarray) -> None:
        """Append steps of known durations (the drain)."""
        ends = self.now + np.cumsum(np.asarray(durations, dtype=np.float64))
        self.ends.extend(ends.tolist())
        if ends.size:
            self.now = float(ends[-1])
