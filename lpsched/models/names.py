"""The names the ``bound`` and ``export`` commands accept, without the solvers behind them.

The command-line parser lists these choices at start-up; importing them from
:mod:`lpsched.models.bounds` or :mod:`lpsched.models.export` would load HiGHS, SciPy and
PuLP for every ``lpsched`` command (about 0.3 s). Those modules re-export the tuples, so
``lpsched.models.bounds.METHODS`` and ``lpsched.models.export.MODELS`` / ``FORMATS`` stay
where they were.
"""

from __future__ import annotations

__all__ = ["BOUND_METHODS", "EXPORT_FORMATS", "EXPORT_MODELS"]

BOUND_METHODS = ("combinatorial", "lp", "bucket", "config", "best")
"""``lower_bound(method=...)``: the bounds of :mod:`lpsched.models.bounds`."""

EXPORT_MODELS = ("time-indexed", "lp-relaxation")
"""``export(model=...)``: the models :mod:`lpsched.models.export` writes."""

EXPORT_FORMATS = ("mps", "lp")
"""``export(fmt=...)``: the file formats."""
