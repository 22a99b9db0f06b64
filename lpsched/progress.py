"""A running elapsed time on stderr for one long task, so that no wait is silent.

:class:`Ticker` is used by ``lpsched demo`` around each solve: nothing is written
for a task shorter than ``after`` seconds; after that, on a terminal, one line
``  <label>  3.5 s`` is rewritten in place (``\\r``) every ``every`` seconds and
erased when the task ends; elsewhere (a file, a pipe, CI logs) a plain line is
written every ``every`` seconds instead, so a log never holds a silent gap longer
than ``max(after, every)`` seconds either.

Examples
--------
>>> import io, time
>>> buf = io.StringIO()
>>> with Ticker("solve x", after=0.05, every=0.05, stream=buf, tty=False):
...     time.sleep(0.18)
>>> buf.getvalue().splitlines()[0].startswith("  ... solve x: running")
True
"""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import TextIO

__all__ = ["Ticker"]


class Ticker:
    """Elapsed time of a task on ``stream`` (module docstring).

    Parameters
    ----------
    label
        What is running (e.g. ``"mcsf-n40-s1 milp"``).
    after, every
        Seconds of silence before the first line, and between lines.
    limit
        The task's time limit in seconds, shown as ``3.5 s of 10 s`` (optional).
    stream, tty
        Where to write (default ``sys.stderr``) and whether it is a terminal
        (default: ``stream.isatty()``).
    """

    def __init__(self, label: str, *, after: float = 2.0, every: float | None = None,
                 limit: float | None = None, stream: TextIO | None = None,
                 tty: bool | None = None):
        self.label, self.after, self.limit = label, after, limit
        self.stream = sys.stderr if stream is None else stream
        if tty is None:
            isatty = getattr(self.stream, "isatty", None)
            tty = bool(isatty()) if callable(isatty) else False
        self.tty = tty
        self.every = every if every is not None else (0.5 if tty else 2.5)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self._width = 0

    def __enter__(self) -> Ticker:
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="lpsched-ticker", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        if self.tty and self._width:
            self._write("\r" + " " * self._width + "\r")

    def _run(self) -> None:
        if self._stop.wait(self.after):
            return
        while True:
            el = time.perf_counter() - self._t0
            of = f" of {self.limit:g} s" if self.limit else ""
            if self.tty:
                text = f"  {self.label}: {el:5.1f} s{of}"
                self._width = max(self._width, len(text))
                self._write("\r" + text.ljust(self._width))
            else:
                self._write(f"  ... {self.label}: running, {el:.1f} s{of}\n")
            if self._stop.wait(self.every):
                return

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or full stderr must not break the task
            self._stop.set()
