"""Memory estimates of the stages of :func:`lpsched.models.bounds.lower_bound`, made before
any of them allocates.

A bound must not take the machine down: decodes of ``10^9`` or arrivals of ``10^12`` steps
are legal input (below the input cap) but make every per-step array of a stage that long.
Each stage's peak resident bytes is estimated from the instance (and, for the LPs, from
the start windows) and compared with a cap (:data:`lpsched.models.guard.DEFAULT_MAX_MODEL_BYTES`,
2 GB, by default); a stage above the cap is not run and the bound names the reason.

* **start windows** (the serial schedules of :func:`lpsched.models.incumbent.best_serial_schedule`):
  a dense ``int64`` memory profile over the schedule's makespan, grown by doubling (old and
  new array at once: 24 bytes per step). The makespan of a serial schedule is at most the
  trivial horizon ``max_i a_i + sum_i o_i`` (every request starts no later than when the
  previous one in its order has ended, or at its arrival).
* **branch-and-bound root bound**: a Python list over ``max_i a_i + 2 max_i o_i + 2`` steps
  (8 bytes a step) and its companions: 16 bytes per step.
* **time-indexed LP**: :func:`lpsched.models.guard.estimate_model_bytes` of its columns and
  non-zeros (fitted on the MILP built the same way).
* **bucket LP**: its non-zeros are at most ``sum_i b_i sum_l (ceil((w + o_i) / W_l) + 1)``
  (``b_i`` buckets of request ``i``, one row per dyadic window of width ``W_l`` the bucket
  touches); about 200 bytes per non-zero through the build and the solve (the triplets,
  the sparse matrix, HiGHS's copy).
"""

from __future__ import annotations

import numpy as np

from lpsched.instance import Instance
from lpsched.models.guard import estimate_model_bytes, format_bytes
from lpsched.models.incumbent import serial_bytes
from lpsched.models.windows import Windows

__all__ = ["BUCKET_BYTES_PER_NONZERO", "bucket_nonzeros", "lp_bytes", "root_bytes",
           "stage_refusal", "windows_bytes"]

BUCKET_BYTES_PER_NONZERO = 200.0
"""Peak bytes per non-zero of the bucket LP (triplet lists, sparse matrix, HiGHS's copy)."""


def windows_bytes(instance: Instance) -> float:
    """Peak bytes of the serial schedules behind the start windows (module docstring;
    :func:`lpsched.models.incumbent.serial_bytes`)."""
    return serial_bytes(instance)


def root_bytes(instance: Instance) -> float:
    """Peak bytes of :func:`lpsched.models.bnb.root_bound` (its per-step list)."""
    return 16.0 * (float(instance.arrival.max()) + 2.0 * float(instance.decode.max()) + 3.0)


def lp_bytes(instance: Instance, windows: Windows) -> float:
    """Peak bytes of the time-indexed LP relaxation on ``windows``."""
    columns = float(windows.sizes.astype(float).sum())
    nonzeros = float((windows.sizes.astype(float) * instance.decode).sum())
    return estimate_model_bytes(int(columns), int(nonzeros), horizon=int(windows.horizon))


def bucket_nonzeros(instance: Instance, windows: Windows, width: int, levels: list[int]) -> float:
    """An upper bound on the bucket LP's non-zeros (module docstring)."""
    o = instance.decode.astype(float)
    nb = (windows.latest // width - windows.earliest // width + 1).astype(float)
    per_bucket = sum(np.floor((width - 1 + o - 1) / W) + 2.0 for W in levels)
    return float((nb * per_bucket).sum())


def stage_refusal(stage: str, estimate: float, cap: float) -> str | None:
    """The one-line reason a stage is skipped, or None when ``estimate <= cap``."""
    if estimate <= cap:
        return None
    return (f"{stage} skipped: estimated {format_bytes(estimate)} of memory, above the "
            f"{format_bytes(cap)} guard")
