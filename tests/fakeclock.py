"""A deterministic clock for deadline tests (tests only)."""

from __future__ import annotations


class FakeClock:
    """One tick per call: a stand-in for :func:`time.perf_counter` in
    :class:`lpsched.stop.Deadline` (``Deadline(k, clock=FakeClock())`` expires at the
    ``k``-th look at the clock after its creation)."""

    def __init__(self):
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return float(self.calls)
