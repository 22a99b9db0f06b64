"""Run the time-indexed MILP in a child process that is killed at a hard deadline.

HiGHS checks its ``time_limit`` and our interrupt callbacks
(:func:`lpsched.models._highs.enforce_deadline`) only in some phases. On the
n = 40-60 synthetic benchmark a MIP with a 60 s limit ran up to 86 s: the excess
was spent in one round of root cut separation, which calls no callback. Such a
phase cannot be stopped from inside the process, so for large models
:func:`lpsched.models.time_indexed.solve_milp` builds and solves the model in a
child process (:func:`run_mip_in_child`, the same
:func:`lpsched.models.highs_mip.run_mip_model` as the in-process path): a fresh
interpreter running this module (``python -m``), so no
state is shared with the caller's HiGHS threads and, unlike ``multiprocessing``'s
spawn, the caller's ``__main__`` is not re-imported (scripts without an
``if __name__ == "__main__"`` guard keep working). The arguments go in pickled on
its stdin; messages come back over a pipe (a
``multiprocessing.connection.Connection`` on a passed file descriptor), so HiGHS's
log can still use stdout. The child streams what HiGHS reports while it runs:

* every improving MIP solution (``cbMipImprovingSolution``), as a start vector;
* the MIP dual bound, at most every 0.5 s (``cbMipInterrupt``).

The parent waits until the end of the deadline plus a grace
(:func:`grace_seconds`), or until the deadline is cancelled (Ctrl-C; the child
ignores SIGINT itself). If the child has not finished by then it is killed, and
the result is built from the last solution and the last dual bound it reported.
The bound is still valid: HiGHS's MIP dual bound only increases during a solve.
If the child reported nothing, the result is the warm start with the
combinatorial bound.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from lpsched.instance import Instance
from lpsched.models.highs_mip import MipRun, run_mip_model
from lpsched.models.windows import Windows
from lpsched.stop import Deadline

__all__ = ["CHILD_START_SECONDS", "MipChild", "grace_seconds", "run_mip_in_child"]


def _child(conn, instance: Instance, windows: Windows, warm: np.ndarray,
           symmetry_breaking: bool, tail_families: int, options: dict,
           deadline_wall: float | None, stall: float) -> None:
    """Build and solve in the child; send progress and the final run through ``conn``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        last = [0.0]

        def bound(value: float) -> None:
            now = time.perf_counter()
            if now - last[0] >= 0.5:
                last[0] = now
                conn.send(("bound", value))

        run = run_mip_model(instance, windows, warm, symmetry_breaking=symmetry_breaking,
                            tail_families=tail_families, options=options,
                            deadline=Deadline(None if deadline_wall is None
                                              else max(1e-3, deadline_wall - time.time())),
                            on_solution=lambda obj, starts: conn.send(("solution", obj, starts)),
                            on_bound=bound, stall=stall)
        conn.send(("done", run))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, not raised
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def grace_seconds(deadline: Deadline) -> float:
    """How long after ``deadline`` ends the child is killed: 40% of the contract's slack
    ``max(1 s, 5% of the time limit)``, leaving the rest for building the result."""
    return 0.4 * max(1.0, 0.05 * (deadline.seconds or 0.0))


#: Seconds a fresh child takes to import NumPy, SciPy and highspy before it can build
#: (measured 0.6-1.2 s on the 2-core benchmark machine, by load).
CHILD_START_SECONDS = 1.0


class MipChild:
    """A child process that will build and solve one MILP (:meth:`solve`).

    It is started at construction, so that its imports (about a second,
    :data:`CHILD_START_SECONDS`) overlap the caller's warm start; it then waits for its
    arguments on stdin. :meth:`close` (also on leaving a ``with`` block) kills it if it
    is still running, e.g. when the caller did not need it after all.
    """

    def __init__(self) -> None:
        rfd, wfd = os.pipe()
        root = str(Path(__file__).resolve().parents[2])  # the directory holding ``lpsched``
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            x for x in (root, os.environ.get("PYTHONPATH", "")) if x)}
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lpsched.models.highs_process", str(wfd)],
            stdin=subprocess.PIPE, pass_fds=(wfd,), env=env)
        os.close(wfd)
        self.recv = Connection(rfd, writable=False)

    def startup_left(self) -> float:
        """Seconds until the child has (probably) finished its imports."""
        return max(0.0, CHILD_START_SECONDS - (time.perf_counter() - self.started))

    def __enter__(self) -> MipChild:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Kill the child (if still running) and reap it. Once its final message has
        arrived there is nothing left to wait for: its exit (freeing a large model,
        stopping HiGHS's threads) took up to 0.3 s in the benchmark."""
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:  # pragma: no cover - a child that hangs on exit
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:  # pragma: no cover - the child died
                pass
        self.recv.close()

    def solve(self, instance: Instance, windows: Windows, warm: np.ndarray, *,
              symmetry_breaking: bool, tail_families: int, options: dict,
              deadline: Deadline, stall: float = 0.0) -> MipRun:
        """Solve the MILP in the child; kill it :func:`grace_seconds` after ``deadline``.

        ``options`` are HiGHS options set in the child (threads, output_flag, ...). The
        child's own deadline is ``deadline`` less its reserve. Returns the child's
        :class:`MipRun`, or, when it was killed (at the hard deadline, or because the
        deadline was cancelled by Ctrl-C), one with ``model_status="killed"``, the last
        reported solution in ``starts`` (``None`` if none) and the last reported dual bound.
        """
        search = deadline.for_search()
        stdin = self.proc.stdin
        if stdin is None:  # pragma: no cover - the child is always started with stdin=PIPE
            raise RuntimeError("the HiGHS child process has no standard input")
        try:
            end = time.time() + search.remaining() if search.limited else None
            stdin.write(pickle.dumps((instance, windows, warm, symmetry_breaking,
                                      tail_families, options, end, stall)))
            stdin.close()
        except BrokenPipeError:  # the child died at startup; reported below as an error
            pass
        hard = deadline.end + grace_seconds(deadline)
        solution: tuple[float, np.ndarray] | None = None
        bound: float | None = None
        final: tuple[Any, ...] | None = None  # ("done", MipRun) or ("error", message)
        try:
            while not deadline.cancelled:
                left = hard - deadline.now()
                if left <= 0:
                    break
                if not self.recv.poll(min(left, 0.05)):
                    continue
                try:
                    msg = self.recv.recv()
                except EOFError:  # the child died without a final message
                    final = ("error", f"the HiGHS child process exited with code "
                                      f"{self.proc.poll()}")
                    break
                if msg[0] == "solution" and (solution is None or msg[1] < solution[0]):
                    solution = (msg[1], msg[2])
                elif msg[0] == "bound":
                    bound = msg[1] if bound is None else max(bound, msg[1])
                elif msg[0] in ("done", "error"):
                    final = msg
                    break
        finally:  # also on KeyboardInterrupt: never leave the child running
            self.close()
        if final is not None and final[0] == "done":
            return final[1]
        if final is not None:
            return MipRun(False, final[1], "error", None, None, None, None)
        return MipRun(True, "", "killed", None, None if solution is None else solution[1], None,
                      None, reported_dual_bound=bound)


def run_mip_in_child(instance: Instance, windows: Windows, warm: np.ndarray, *,
                     symmetry_breaking: bool, tail_families: int, options: dict,
                     deadline: Deadline, stall: float = 0.0) -> MipRun:
    """:meth:`MipChild.solve` in a new child process."""
    with MipChild() as child:
        return child.solve(instance, windows, warm, symmetry_breaking=symmetry_breaking,
                           tail_families=tail_families, options=options, deadline=deadline,
                           stall=stall)


if __name__ == "__main__":  # the child: python -m lpsched.models.highs_process FD
    _child(Connection(int(sys.argv[1]), readable=False), *pickle.load(sys.stdin.buffer))
