"""Signals of the command line: SIGTERM handled like Ctrl-C, a clean exit on a second one.

The ``lpsched`` command (:func:`lpsched.cli.main`) calls :func:`install` before it
imports anything heavy (solver libraries, numpy, scipy); from then on:

* **SIGINT** keeps Python's default handler (``KeyboardInterrupt``), which is what
  :func:`lpsched.solve` looks for: during a solve the first Ctrl-C cancels the
  search and the best verified schedule so far is returned (``docs/contract.md``).
* **SIGTERM** is recorded and then handled *exactly as SIGINT*: it calls whichever
  SIGINT handler is installed at that moment (the solve's cancelling one during a
  solve, ``KeyboardInterrupt`` elsewhere). The command then exits with
  ``128 + 15 = 143`` instead of ``128 + 2 = 130`` (:func:`exit_status`).
* Once a command has been interrupted and is writing what it has,
  :func:`shutting_down` makes both signals record-only, so a second signal cannot
  break the output or print a traceback; the exit status is that of the first.

Only the main thread can install handlers; elsewhere these functions do nothing.

Examples
--------
>>> import signal
>>> exit_status(signal.SIGTERM), exit_status(signal.SIGINT), exit_status(None)
(143, 130, 130)
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import FrameType

__all__ = ["deferred", "descendants", "exit_status", "install", "kill_tree", "received",
           "shutting_down", "sigint_raises", "signal_name", "signalled"]

_state: dict[str, int | None] = {"first": None, "command": None}


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _record(signum: int) -> None:
    if _state["first"] is None:
        _state["first"] = signum


def _on_term(signum: int, frame: FrameType | None) -> None:
    """SIGTERM: note it (after any signal that came first), then do what the current
    SIGINT handler does."""
    signalled()
    _record(signum)
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:  # SIGINT ignored or default (not a Python handler): still stop
        raise KeyboardInterrupt


def _record_only(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001 - signature
    _record(signum)


def _exit_at_once(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001 - signature
    os._exit(128 + signum)  # start-up: nothing opened, nothing to keep


def _is_the_command() -> bool:
    """True while the ``lpsched`` command starts (``python -m lpsched.cli`` or the script)."""
    argv = list(getattr(sys, "orig_argv", None) or sys.argv)
    for k, a in enumerate(argv[:-1]):
        if a == "-m":
            return argv[k + 1] == "lpsched.cli"
    return os.path.basename(sys.argv[0] if sys.argv else "") == "lpsched"


if _is_the_command() and _main_thread():
    # the command's start-up, before lpsched.cli.main installs the handlers below: a signal
    # while the modules load ends the process with 130 or 143, without a traceback
    signal.signal(signal.SIGINT, _exit_at_once)
    signal.signal(signal.SIGTERM, _exit_at_once)


def install() -> Callable[[], None]:
    """Handle SIGTERM like SIGINT (module docstring); forget earlier signals.

    Returns a function that puts the previous handlers back (``main`` runs it on the
    way out, so that calling it in-process, as the tests do, leaves no trace)."""
    _state["first"] = None
    if not _main_thread():
        return lambda: None
    _state["command"] = 1
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    if before[signal.SIGINT] in (_record_only, _exit_at_once, None):
        signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_term)
    wake = _watch()

    def restore() -> None:
        _state["command"] = None
        for s, h in before.items():
            if h is not None:
                signal.signal(s, h)
        wake()

    return restore


_pipe: dict[str, int] = {}


def _watch() -> Callable[[], None]:
    """Have the interpreter write every signal's number to a pipe (``signal.set_wakeup_fd``),
    whatever the Python handler does: a signal that interrupted a C extension's import
    shows up as that extension's ``ImportError``, and :func:`signalled` still knows."""
    try:
        r, w = os.pipe()
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        old = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
    except (OSError, ValueError):
        return lambda: None
    _pipe.update(r=r, w=w)

    def unwatch() -> None:
        with contextlib.suppress(OSError, ValueError):
            signal.set_wakeup_fd(old)
        _pipe.clear()
        for fd in (r, w):
            with contextlib.suppress(OSError):
                os.close(fd)

    return unwatch


def signalled() -> bool:
    """True when SIGINT or SIGTERM arrived since :func:`install` (the first is recorded)."""
    r = _pipe.get("r")
    if r is not None:
        with contextlib.suppress(OSError):
            for signum in os.read(r, 512):
                if signum in (signal.SIGINT, signal.SIGTERM):
                    _record(signum)
    return _state["first"] is not None


def shutting_down() -> None:
    """An interrupt is being handled: from now on SIGINT and SIGTERM are only recorded
    (the output is being written). Records SIGINT as the first signal when none was."""
    signalled()
    _record(signal.SIGINT)
    if _main_thread():
        signal.signal(signal.SIGINT, _record_only)
        signal.signal(signal.SIGTERM, _record_only)


def received() -> int | None:
    """The first SIGTERM recorded since :func:`install` (SIGINT is seen as KeyboardInterrupt)."""
    return _state["first"]


def exit_status(signum: int | None = None) -> int:
    """``128 + signal number``: 143 for SIGTERM, 130 for SIGINT (the default)."""
    if signum is None:
        signum = _state["first"] if _state["first"] is not None else signal.SIGINT
    return 128 + int(signum)


def signal_name(signum: int | None = None) -> str:
    """``"terminated (SIGTERM)"`` or ``"interrupted"`` for the first signal received."""
    if signum is None:
        signum = _state["first"]
    return "terminated (SIGTERM)" if signum == signal.SIGTERM else "interrupted"


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Inside: SIGINT and SIGTERM are only recorded (for clean-up that must finish, such as
    stopping worker processes and writing the rows kept). The handlers are put back after,
    except under the ``lpsched`` command (:func:`install`), which is stopping anyway and
    keeps them record-only while it writes what it has (:func:`shutting_down`)."""
    if not _main_thread():
        yield
        return
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in before:
        signal.signal(s, _record_only)
    try:
        yield
    finally:
        if _state["command"]:
            shutting_down()
        else:
            for s, h in before.items():
                if h is not None:
                    signal.signal(s, h)


@contextlib.contextmanager
def sigint_raises() -> Iterator[None]:
    """Inside: Ctrl-C raises ``KeyboardInterrupt`` at once (no cancelling handler of
    :func:`lpsched.solve` is installed under it), unless SIGINT is ignored."""
    if not _main_thread() or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    signal.signal(signal.SIGINT, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _raise(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001 - signature
    raise KeyboardInterrupt


# -- processes ----------------------------------------------------------------------------------


def descendants(pids: Iterable[int]) -> list[int]:
    """``pids`` and all their descendants (Linux ``/proc``; elsewhere ``pids`` only)."""
    from pathlib import Path

    roots = [int(p) for p in pids]
    children: dict[int, list[int]] = {}
    proc = Path("/proc")
    if proc.is_dir():
        for d in proc.iterdir():
            if not d.name.isdigit():
                continue
            try:
                stat_line = (d / "stat").read_text()
            except OSError:
                continue
            fields = stat_line.rsplit(")", 1)[-1].split()
            if len(fields) > 1 and fields[1].isdigit():
                children.setdefault(int(fields[1]), []).append(int(d.name))
    out: list[int] = []
    todo = list(roots)
    while todo:
        p = todo.pop()
        if p in out:
            continue
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


def kill_tree(roots: Sequence[int], wait: float = 1.0) -> list[int]:
    """Kill processes ``roots`` and all their descendants; returns the pids killed.

    The roots are stopped first (SIGSTOP), so none can start another process between
    the scan of ``/proc`` and the kill; then every process of the tree gets SIGKILL
    (bench workers hold nothing worth saving: their finished rows are already in the
    parent). Waits up to ``wait`` seconds for them to be gone.
    """
    for p in roots:
        with contextlib.suppress(OSError):
            os.kill(p, signal.SIGSTOP)
    pids = descendants(roots)
    for p in pids:
        with contextlib.suppress(OSError):
            os.kill(p, signal.SIGKILL)
    end = time.monotonic() + wait
    left = list(pids)
    while left and time.monotonic() < end:
        left = [p for p in left if _alive(p)]
        if left:
            time.sleep(0.01)
    return pids


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, dead but not yet reaped, counts as gone)."""
    from pathlib import Path

    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    return state not in ("Z", "X")
