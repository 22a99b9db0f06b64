"""Run the time-indexed MILP in a child process that is killed at a hard deadline.

HiGHS checks its ``time_limit`` and our interrupt callbacks
(:func:`lpsched.models._highs.enforce_deadline`) only in some phases. On the
n = 40-60 synthetic benchmark a MIP with a 60 s limit ran up to 86 s: the excess
was spent in one round of root cut separation, which calls no callback. Such a
phase cannot be stopped from inside the process, so for large models
:func:`lpsched.models.time_indexed.solve_milp` builds and solves the model in a
child process: a fresh interpreter running this module (``python -m``), so no
state is shared with the caller's HiGHS threads and, unlike ``multiprocessing``'s
spawn, the caller's ``__main__`` is not re-imported (scripts without an
``if __name__ == "__main__"`` guard keep working). The arguments go in pickled on
its stdin; messages come back over a pipe (a
``multiprocessing.connection.Connection`` on a passed file descriptor), so HiGHS's
log can still use stdout. The child streams what HiGHS reports while it runs:

* every improving MIP solution (``cbMipImprovingSolution``), as a start vector;
* the MIP dual bound, at most every 0.5 s (``cbMipInterrupt``).

The parent waits until ``deadline + grace``. If the child has not finished by
then it is killed, and the result is built from the last solution and the last
dual bound it reported. The bound is still valid: HiGHS's MIP dual bound only
increases during a solve. If the child reported nothing, the result is the warm
start with the combinatorial bound.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from lpsched.instance import Instance
from lpsched.models.windows import Windows

__all__ = ["MipRun", "run_mip_in_child"]


@dataclass(frozen=True)
class MipRun:
    """What a MILP run returned.

    ``model_status`` is the HiGHS model status name (``"kOptimal"``,
    ``"kTimeLimit"``, ``"kInterrupt"``, ...) or ``"killed"`` when the child process
    was killed at the hard deadline. ``outcome`` is the
    :class:`lpsched.models.time_indexed.HighsOutcome` (``None`` when killed).
    """

    ran: bool
    why: str
    model_status: str
    outcome: object | None
    starts: np.ndarray | None
    columns: int | None
    memory_rows: int | None
    killed: bool = False
    reported_objective: float | None = None
    reported_dual_bound: float | None = None


def _child(conn, instance: Instance, windows: Windows, warm: np.ndarray,
           symmetry_breaking: bool, tail_families: int, options: dict,
           deadline_wall: float, stall: float) -> None:
    """Build and solve in the child; send progress and the final run through ``conn``."""
    try:
        from lpsched.models._highs import enforce_deadline, run_highs
        from lpsched.models.arrays import time_indexed_arrays
        from lpsched.models.time_indexed import _highs_mip, mip_starts, read_highs_outcome

        arr = time_indexed_arrays(instance, windows)
        h = _highs_mip(arr, instance, symmetry_breaking, warm, tail_families)
        for k, v in options.items():
            h.setOptionValue(k, v)
        left = max(0.01, deadline_wall - time.time())
        h.setOptionValue("time_limit", left)
        enforce_deadline(h, time.perf_counter() + left)
        last = [0.0]

        def improving(event) -> None:
            x = np.asarray(event.data_out.mip_solution)
            conn.send(("solution", float(event.data_out.objective_function_value),
                       mip_starts(arr, x)))

        def progress(event) -> None:
            now = time.perf_counter()
            if now - last[0] >= 0.5:
                last[0] = now
                conn.send(("bound", float(event.data_out.mip_dual_bound)))

        h.cbMipImprovingSolution.subscribe(improving)
        h.cbMipInterrupt.subscribe(progress)
        if stall:  # tests only: a phase that reports nothing, like root separation
            time.sleep(stall)
        ran, why = run_highs(h)
        out = read_highs_outcome(h)
        st = h.getModelStatus()
        starts = mip_starts(arr, np.asarray(h.getSolution().col_value)) \
            if out.has_solution else None
        conn.send(("done", MipRun(ran, why, st.name if hasattr(st, "name") else str(st), out,
                                  starts, arr.ncols, int(arr.A_mem.shape[0]))))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, not raised
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def run_mip_in_child(instance: Instance, windows: Windows, warm: np.ndarray, *,
                     symmetry_breaking: bool, tail_families: int, options: dict,
                     time_limit: float, grace: float | None = None,
                     _stall: float = 0.0) -> MipRun:
    """Solve the MILP in a child process; kill it ``grace`` seconds after ``time_limit``.

    ``options`` are HiGHS options set in the child (threads, output_flag, ...);
    ``time_limit`` is the seconds left for the solve, ``grace`` defaults to
    ``max(2, 0.05 * time_limit)``. Returns the child's :class:`MipRun`, or, when it
    was killed, one with ``killed=True``, the last reported solution in ``starts``
    (``None`` if none) and the last reported dual bound.
    """
    grace = max(2.0, 0.05 * time_limit) if grace is None else grace
    t0 = time.perf_counter()
    rfd, wfd = os.pipe()
    root = str(Path(__file__).resolve().parents[2])  # the directory holding ``lpsched``
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        x for x in (root, os.environ.get("PYTHONPATH", "")) if x)}
    proc = subprocess.Popen([sys.executable, "-m", "lpsched.models.highs_process", str(wfd)],
                            stdin=subprocess.PIPE, pass_fds=(wfd,), env=env)
    os.close(wfd)
    recv = Connection(rfd, writable=False)
    try:
        proc.stdin.write(pickle.dumps((instance, windows, warm, symmetry_breaking, tail_families,
                                       options, time.time() + time_limit, _stall)))
        proc.stdin.close()
    except BrokenPipeError:  # the child died at startup; reported below as an error
        pass
    hard = t0 + time_limit + grace
    solution: tuple[float, np.ndarray] | None = None
    bound: float | None = None
    final = None
    try:
        while True:
            left = hard - time.perf_counter()
            if left <= 0 or not recv.poll(left):
                break
            try:
                msg = recv.recv()
            except EOFError:  # the child died without a final message
                final = ("error", f"the HiGHS child process exited with code {proc.poll()}")
                break
            if msg[0] == "solution" and (solution is None or msg[1] < solution[0]):
                solution = (msg[1], msg[2])
            elif msg[0] == "bound":
                bound = msg[1] if bound is None else max(bound, msg[1])
            elif msg[0] in ("done", "error"):
                final = msg
                break
    finally:  # also on KeyboardInterrupt: never leave the child running
        if final is None:
            proc.kill()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:  # pragma: no cover - a child that hangs on exit
            proc.kill()
            proc.wait()
        recv.close()
    if final is not None and final[0] == "done":
        return final[1]
    if final is not None:
        return MipRun(False, final[1], "error", None, None, None, None)
    return MipRun(True, "", "killed", None, None if solution is None else solution[1], None,
                  None, killed=True,
                  reported_objective=None if solution is None else solution[0],
                  reported_dual_bound=bound)


if __name__ == "__main__":  # the child: python -m lpsched.models.highs_process FD
    # run the imported module's _child, so that MipRun pickles under its module name
    from lpsched.models.highs_process import _child as _run

    _run(Connection(int(sys.argv[1]), readable=False), *pickle.load(sys.stdin.buffer))
