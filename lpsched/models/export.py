"""Export the time-indexed model (MILP or its LP relaxation) as MPS or LP files.

The exported model is exactly the one :func:`lpsched.models.time_indexed.solve_milp`
solves (same start windows, same rows, same symmetry-breaking rows), written by
PuLP (``LpProblem.writeMPS`` / ``writeLP``), so it loads into any MILP solver
(HiGHS, SCIP, CBC, Gurobi, CPLEX). Variables are named ``x_<request id>_<start>``.

The MPS objective has no constant term, so the optimum of the exported model is
the optimal total completion time itself.
"""

from __future__ import annotations

from pathlib import Path

from lpsched.instance import Instance
from lpsched.models.time_indexed import build_time_indexed

__all__ = ["MODELS", "FORMATS", "export_model"]

MODELS = ("time-indexed", "lp-relaxation")
FORMATS = ("mps", "lp")


def export_model(instance: Instance, path: str | Path, *, model: str = "time-indexed",
                 fmt: str | None = None) -> Path:
    """Write ``model`` of ``instance`` to ``path`` in ``fmt`` (default: from the suffix).

    ``model`` is ``"time-indexed"`` (binary ``x``) or ``"lp-relaxation"``
    (continuous ``0 <= x <= 1``).
    """
    path = Path(path)
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValueError(f"{path}: unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    m = build_time_indexed(instance, relax=(model == "lp-relaxation"), warm_start=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "mps":
        m.problem.writeMPS(str(path))
    else:
        m.problem.writeLP(str(path))
    return path
