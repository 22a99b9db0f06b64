"""Export the time-indexed model (MILP or its LP relaxation) as MPS or LP files.

The exported model is the one :func:`lpsched.models.time_indexed.solve_milp`
solves (same rows, same symmetry-breaking rows), on the start windows of the best
serial schedule (:func:`lpsched.models.windows.start_windows`; ``milp`` itself
uses the windows of its warm start, which are at most as wide), written by PuLP
(``LpProblem.writeMPS`` / ``writeLP``), so it loads into any MILP solver
(HiGHS, SCIP, CBC, Gurobi, CPLEX). Variables are named ``x_<request id>_<start>``.

The MPS objective has no constant term, so the optimum of the exported model is
the optimal total completion time itself.

Size guard. The model has ``sum_i |W_i| o_i`` memory non-zeros, which grows
quickly with ``n`` (a 40-request synthetic instance gives a 95 MB MPS file). Before
building, :func:`export_model` estimates the memory of the build and the size of the
file (:mod:`lpsched.models.guard`; first from the smallest windows any schedule can
give, before the serial schedules are computed, then from the actual windows) and
refuses with :class:`ModelTooLarge` above ``max_model_bytes`` (default 2 GB) of
memory or ``max_file_bytes`` (default 1 GB) of file, unless ``force=True``
(``lpsched export --force``). For large models (estimated file above 10 MB)
``progress`` is told each step.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lpsched.instance import Instance
from lpsched.models.combinatorial import combined_bound, combined_bound_without_each
from lpsched.models.guard import (
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_MAX_MODEL_BYTES,
    estimate_file_bytes,
    estimate_model_bytes,
    format_bytes,
    smallest_time_indexed_size,
    time_indexed_size,
)
from lpsched.models.names import EXPORT_FORMATS, EXPORT_MODELS
from lpsched.models.time_indexed import build_time_indexed
from lpsched.models.windows import start_windows

__all__ = ["FORMATS", "LARGE_FILE_BYTES", "MODELS", "ModelTooLarge", "export_model"]

MODELS = EXPORT_MODELS
FORMATS = EXPORT_FORMATS

LARGE_FILE_BYTES = 10e6
"""Exports estimated above this file size report their steps to ``progress``."""


class ModelTooLarge(ValueError):
    """The model to export is estimated above the size caps (pass ``force=True``)."""


def export_model(instance: Instance, path: str | Path, *, model: str = "time-indexed",
                 fmt: str | None = None, force: bool = False,
                 max_model_bytes: float = DEFAULT_MAX_MODEL_BYTES,
                 max_file_bytes: float = DEFAULT_MAX_FILE_BYTES,
                 progress: Callable[[str], None] | None = None) -> Path:
    """Write ``model`` of ``instance`` to ``path`` in ``fmt`` (default: from the suffix).

    ``model`` is ``"time-indexed"`` (binary ``x``) or ``"lp-relaxation"``
    (continuous ``0 <= x <= 1``). Raises :class:`ModelTooLarge` (a ``ValueError``)
    when the estimated build memory exceeds ``max_model_bytes`` or the estimated file
    exceeds ``max_file_bytes``, unless ``force``; ``progress(message)`` hears about
    each step of a large export (module docstring).
    """
    path = Path(path)
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValueError(f"{path}: unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    guard = _SizeGuard(instance, fmt, force, max_model_bytes, max_file_bytes, progress)
    lb_rest = combined_bound_without_each(instance)
    guard.check(*smallest_time_indexed_size(instance, lb_rest, combined_bound(instance)),
                at_least=True, horizon=int((instance.arrival + instance.decode).max()))
    if instance.n > 200:
        guard.say(f"computing the start windows of {instance.n} requests (serial schedules)")
    w = start_windows(instance, lb_rest=lb_rest)
    columns, nnz = time_indexed_size(instance, w)
    guard.check(columns, nnz, horizon=w.horizon)
    guard.tell(f"building the {model} model: {columns:,} columns, {nnz:,} memory non-zeros, "
               f"about {format_bytes(guard.memory)} of memory")
    m = build_time_indexed(instance, windows=w, relax=(model == "lp-relaxation"),
                           warm_start=False, progress=guard.rows if guard.large else None)
    path.parent.mkdir(parents=True, exist_ok=True)
    guard.tell(f"writing {path} (about {format_bytes(guard.file)})")
    from lpsched.paths import atomic_output

    with atomic_output(path, what="model file") as tmp:  # a crash leaves no half file
        if fmt == "mps":
            m.problem.writeMPS(str(tmp))
        else:
            m.problem.writeLP(str(tmp))
    guard.tell(f"wrote {format_bytes(path.stat().st_size)}")
    return path


class _SizeGuard:
    """The export's size checks and progress messages."""

    def __init__(self, instance: Instance, fmt: str, force: bool, max_model_bytes: float,
                 max_file_bytes: float, progress: Callable[[str], None] | None):
        self.instance, self.fmt, self.force = instance, fmt, force
        self.max_model_bytes, self.max_file_bytes = max_model_bytes, max_file_bytes
        self.progress = progress
        self.memory = self.file = 0.0
        self.forced_said = False
        self.decile = 0

    @property
    def large(self) -> bool:
        return self.progress is not None and self.file > LARGE_FILE_BYTES

    def say(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)

    def tell(self, message: str) -> None:
        if self.large:
            self.say(message)

    def rows(self, done: int, total: int) -> None:
        """Build progress, at every tenth of the memory rows."""
        if total and done * 10 >= (self.decile + 1) * total:
            self.decile = done * 10 // total
            self.tell(f"  {done:,} of {total:,} memory rows")

    def check(self, columns: int, nnz: int, at_least: bool = False, horizon: int = 0) -> None:
        """Refuse (:class:`ModelTooLarge`) a model of this size above the caps, unless forced."""
        self.memory = estimate_model_bytes(columns, nnz, "export", horizon)
        self.file = estimate_file_bytes(columns, nnz, self.fmt)
        over = self.memory > self.max_model_bytes or self.file > self.max_file_bytes
        if not over:
            return
        inst = self.instance
        size = (f"{'at least ' if at_least else ''}{nnz:,} memory non-zeros and {columns:,} "
                f"columns: estimated {format_bytes(self.memory)} of memory and "
                f"{format_bytes(self.file)} of {self.fmt.upper()} file")
        caps = (f"caps {format_bytes(self.max_model_bytes)} and "
                f"{format_bytes(self.max_file_bytes)}")
        if self.force:
            if not self.forced_said:
                self.say(f"forced: exporting a model of {size} ({caps})")
                self.forced_said = True
            return
        raise ModelTooLarge(
            f"export of {inst.name} (n={inst.n}, M={inst.memory}): the time-indexed model has "
            f"{size}, above the {caps}; use --force (export_model(..., force=True)) to "
            "export it anyway")
