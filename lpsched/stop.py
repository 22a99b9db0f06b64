"""The time budget of one solve: a :class:`Deadline`, created once and handed to every stage.

:func:`lpsched.solve` turns ``time_limit=L`` into one ``Deadline`` and passes it
to the algorithm; every stage of the algorithm (warm start, initial heuristics,
model build, LP and MIP solves, decoders, each re-solve of an online policy)
asks that object, or a :meth:`Deadline.share` of it, how much time is left.
No stage computes its own end time from the clock.

The contract that this carries (``docs/contract.md``): ``solve(..., time_limit=L)``
returns within ``L + max(1 s, 5% of L)`` of wall time with the best verified
schedule found so far. :attr:`Deadline.reserve` is the part of ``L`` kept back
for what follows the search (decoding, the checker, building the result).

A deadline can also be *cancelled* (:meth:`Deadline.cancel`): the first Ctrl-C
during :func:`lpsched.solve` does that, every stage then sees
:meth:`Deadline.expired` and stops as at its time limit, and the result says that
it was interrupted. Shares created from a deadline see its cancellation.

Examples
--------
>>> d = Deadline(10.0)
>>> d.limited, 9.9 < d.remaining() <= 10.0, d.expired()
(True, True, False)
>>> warm = d.share(0.1, at_most=2.0)     # a sub-stage: 10% of what is left, at most 2 s
>>> 0.9 < warm.remaining() <= 1.0
True
>>> Deadline.none().remaining()
inf
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

from lpsched.errors import LpschedError

__all__ = ["Deadline", "TimeLimitError", "check_time_limit"]

Clock = Callable[[], float]


class TimeLimitError(LpschedError, ValueError):
    """A time limit that is not a finite number of seconds > 0."""


def check_time_limit(time_limit: float | None, name: str = "time_limit") -> float | None:
    """``time_limit`` as a float, or None; refuses ``nan``, infinities, ``<= 0``, numbers too
    large for a float (``10**400``) and non-numbers."""
    if time_limit is None:
        return None
    if isinstance(time_limit, (bool, np.bool_)) or not isinstance(
            time_limit, (int, float, np.integer, np.floating)):
        raise TimeLimitError(f"{name} must be a number of seconds > 0 or None, got "
                             f"{type(time_limit).__name__} {time_limit!r:.40}")
    try:
        value = float(time_limit)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value) or value <= 0:
        raise TimeLimitError(f"{name} must be a finite number of seconds > 0, got "
                             f"{time_limit!r:.40}")
    return value


class _Token:
    """Cancellation flag shared by a deadline and all its shares."""

    __slots__ = ("reason",)

    def __init__(self) -> None:
        self.reason: str | None = None


class Deadline:
    """A wall-clock budget: an end time on ``clock`` (or none), plus a cancellation flag.

    Parameters
    ----------
    seconds
        The budget in seconds from now; ``None`` for no time limit.
    clock
        Time source (default :func:`time.perf_counter`); tests pass a fake one.
    reserve
        Seconds of the budget kept back for the work after the search (decode,
        check, result); :meth:`for_search` is the deadline without it. Default:
        ``min(0.25 s, 2% of seconds)``.
    """

    __slots__ = ("_clock", "_start", "_end", "_token", "seconds", "reserve")

    def __init__(self, seconds: float | None = None, *, clock: Clock = time.perf_counter,
                 reserve: float | None = None):
        seconds = check_time_limit(seconds, "seconds")
        self._clock = clock
        self._start = clock()
        self.seconds = seconds
        self._end = math.inf if seconds is None else self._start + seconds
        self._token = _Token()
        if reserve is None:
            reserve = 0.0 if seconds is None else min(0.25, 0.02 * seconds)
        self.reserve = float(reserve)

    @classmethod
    def none(cls, clock: Clock = time.perf_counter) -> Deadline:
        """No time limit (never expires unless cancelled)."""
        return cls(None, clock=clock)

    @classmethod
    def coerce(cls, deadline: Deadline | float | None) -> Deadline:
        """A :class:`Deadline` from a deadline, a number of seconds or None (no limit)."""
        if isinstance(deadline, Deadline):
            return deadline
        return cls(deadline)

    def _child(self, end: float) -> Deadline:
        out = Deadline.__new__(Deadline)
        out._clock = self._clock
        out._start = self._clock()
        out._end = min(end, self._end)
        out.seconds = None if math.isinf(out._end) else out._end - out._start
        out._token = self._token
        out.reserve = 0.0
        return out

    # -- queries ------------------------------------------------------------------------------
    @property
    def limited(self) -> bool:
        """True when there is a time limit."""
        return not math.isinf(self._end)

    @property
    def end(self) -> float:
        """The end time on the clock (``inf`` without a limit)."""
        return self._end

    @property
    def clock(self) -> Clock:
        return self._clock

    def now(self) -> float:
        return self._clock()

    def elapsed(self) -> float:
        """Seconds since this deadline (or share) was created."""
        return self._clock() - self._start

    def remaining(self) -> float:
        """Seconds left (``inf`` without a limit, ``0`` once expired or cancelled)."""
        if self._token.reason is not None:
            return 0.0
        return max(0.0, self._end - self._clock())

    def expired(self) -> bool:
        """True once the end time has passed or the deadline was cancelled."""
        return self._token.reason is not None or self._clock() >= self._end

    def solver_seconds(self, minimum: float = 0.01) -> float | None:
        """What is left as a solver's ``time_limit`` option (at least ``minimum``); None
        without a limit."""
        if not self.limited and self._token.reason is None:
            return None
        return max(minimum, self.remaining())

    # -- sub-stages ---------------------------------------------------------------------------
    def share(self, fraction: float = 1.0, *, at_most: float | None = None,
              at_least: float = 0.0) -> Deadline:
        """A deadline for a sub-stage: ``fraction`` of the time left, capped at ``at_most``
        seconds, at least ``at_least`` seconds, never past this deadline's end.

        Without a limit the share is unlimited too, unless ``at_most`` is given.
        The share is cancelled with this deadline.
        """
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction must be in [0, 1], got {fraction}")
        now = self._clock()
        left = self.remaining()
        secs = left * fraction if math.isfinite(left) else math.inf
        if at_most is not None:
            secs = min(secs, float(at_most))
        secs = max(secs, float(at_least))
        return self._child(now + secs)

    def for_search(self) -> Deadline:
        """This deadline less its :attr:`reserve`: the end for searches and solver calls."""
        return self._child(self._end - self.reserve)

    # -- cancellation -------------------------------------------------------------------------
    def cancel(self, reason: str = "interrupted") -> None:
        """Make this deadline and every share of it expire now (e.g. on Ctrl-C)."""
        if self._token.reason is None:
            self._token.reason = reason

    @property
    def cancelled(self) -> str | None:
        """The cancellation reason, or None."""
        return self._token.reason

    def __repr__(self) -> str:
        if self._token.reason is not None:
            return f"Deadline(cancelled: {self._token.reason})"
        if not self.limited:
            return "Deadline(none)"
        return f"Deadline({self.remaining():.3f} s left)"
