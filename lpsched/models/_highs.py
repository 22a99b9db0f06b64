"""highspy helpers: a Highs object without the one-time banner on stdout.

HiGHS prints a copyright banner to the process's stdout (at C level) when the
first ``Highs`` object is created; that would corrupt ``--json`` output of the
CLI. :func:`new_highs` creates objects with ``output_flag`` off and swallows the
banner of the first construction by redirecting file descriptor 1 briefly.
"""

from __future__ import annotations

import os
import sys

import highspy

from lpsched.options import Passthrough
from lpsched.stop import Deadline

__all__ = ["HIGHS_OPTIONS", "enforce_deadline", "new_highs", "run_highs", "status_name"]

_banner_done = False


def new_highs() -> highspy.Highs:
    """A fresh ``highspy.Highs`` with logging off (banner suppressed)."""
    global _banner_done
    if not _banner_done:
        _banner_done = True
        try:
            sys.stdout.flush()
            saved = os.dup(1)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            try:
                h = highspy.Highs()
            finally:
                os.dup2(saved, 1)
                os.close(saved)
                os.close(devnull)
        except OSError:  # no usable fd 1 (e.g. embedded): accept the banner
            h = highspy.Highs()
    else:
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


def set_time_left(h: highspy.Highs, seconds: float) -> None:
    """Let the next ``h.run()`` take at most ``seconds`` more.

    HiGHS compares its ``time_limit`` option with the run time accumulated by the
    ``Highs`` object over all its runs (``getRunTime()``), not with the time of the
    next run: a cut loop that re-solves one object and sets ``time_limit`` to the time
    left would stop its later rounds early. This sets it to the run time so far plus
    ``seconds``.
    """
    h.setOptionValue("time_limit", float(h.getRunTime()) + float(seconds))


def enforce_deadline(h: highspy.Highs, deadline: Deadline) -> None:
    """Interrupt HiGHS once ``deadline`` (a :class:`~lpsched.stop.Deadline`) expires.

    HiGHS checks its ``time_limit`` option only at some points (on the synthetic
    benchmark a MIP with ``time_limit=60`` ran for up to 200 s inside its root LP),
    so the simplex, IPM and MIP interrupt callbacks also stop it at the deadline
    (and on Ctrl-C, which cancels the deadline). A stopped solve reports model
    status ``kInterrupt``.
    """

    def check(event) -> None:
        if deadline.expired():
            event.interrupt()

    h.cbSimplexInterrupt.subscribe(check)
    h.cbIpmInterrupt.subscribe(check)
    h.cbMipInterrupt.subscribe(check)


def _is_highs_option(name: str) -> bool:
    h = new_highs()
    status, _ = h.getOptionType(name)
    return status == highspy.HighsStatus.kOk


HIGHS_OPTIONS = Passthrough("HiGHS option", _is_highs_option,
                            "any HiGHS option by name, e.g. mip_rel_gap=0.01")
"""HiGHS options accepted by ``milp`` as extra keyword options (checked by name)."""


_FAILED = ("kNotset", "kLoadError", "kModelError", "kPresolveError", "kSolveError",
           "kPostsolveError", "kModelEmpty", "kMemoryLimit")


def run_highs(h: highspy.Highs) -> tuple[bool, str]:
    """Run ``h`` after resetting HiGHS's global thread scheduler; ``(ran, why_not)``.

    HiGHS keeps one process-wide task scheduler sized by the ``threads`` option of
    the first run; a later run asking for a different count fails with model status
    "Not Set" (e.g. after the user solved something with ``pulp.HiGHS()`` and its
    default threads). Resetting the scheduler before each run avoids that. Returns
    False and the HiGHS status when the solve did not actually run.
    """
    highspy.Highs.resetGlobalScheduler(True)
    run_status = h.run()
    if run_status == highspy.HighsStatus.kError or status_name(h) in _FAILED:
        return False, f"HiGHS did not solve the model: run status {run_status}, model status " \
                      f"{h.modelStatusToString(h.getModelStatus())}"
    return True, ""


def status_name(h: highspy.Highs) -> str:
    """The model status of ``h`` as its enum name, e.g. ``"kOptimal"``."""
    st = h.getModelStatus()
    return st.name if hasattr(st, "name") else str(st)


# Swallow the banner once at import, so that later Highs objects in this process -
# ours, PuLP's (pulp.HiGHS) or a user's - do not print it either.
new_highs()
