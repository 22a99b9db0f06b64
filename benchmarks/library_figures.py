"""Figures (objectives and bounds) of the library's study sets, with their provenance.

Used by ``benchmarks/build_library.py``. A *figure* is one number about one
instance: an upper figure (the objective of a schedule) or a lower figure (a
proven lower bound on the optimal total completion time), with the method that
gave it, its time limit and solver status, the result file and the commit it
comes from, and the machine. Three sources:

* :func:`harvest`: the committed result CSVs of the exact benchmarks
  (``exact_scaling``, ``exact_synthetic``, ``cpsat_proofs`` (+ screening run),
  ``exact_options``), read as they are in the work tree; the commit is the last
  commit that touched the file (``git log -1``), the machine the ``Machine:``
  line of the matching ``.md``. A float bound is rounded up with a ``1e-6``
  tolerance (objectives are integers). A solver status ``optimal`` makes the
  objective a lower figure too (the solver proved it).
* :func:`read_merge_csv`: results of later work (new bounds, a branch and bound),
  one row per instance: ``seed, n`` and any of ``optimum``, ``best``, ``bound``,
  with ``by`` (the method) and optionally ``starts`` (space-separated start
  steps of the ``best`` schedule, checked by the builder), ``time_limit``,
  ``machine``, ``source``, ``commit``.
* the builder's own runs (verified schedules, re-derived bounds).

Nothing here decides what is proven: :func:`summarize` takes the best upper and
the best lower figure; the instance is optimal exactly when they are equal.
"""

from __future__ import annotations

import csv
import math
import re
import subprocess
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

__all__ = ["Figure", "MergeError", "harvest", "read_merge_csv", "short_machine", "summarize"]


class MergeError(ValueError):
    """A merge CSV row that cannot be used (the message names the file, row and rule)."""


@dataclass(frozen=True)
class Figure:
    """One figure about one instance (module docstring).

    ``kind`` is ``"upper"`` (objective of a schedule) or ``"lower"`` (a proven
    bound); ``verified`` is True for an upper figure whose schedule is shipped in
    the instance file and passed :func:`lpsched.check.check` when it was built.
    """

    kind: str
    value: int
    method: str
    source: str
    commit: str | None = None
    machine: str | None = None
    time_limit: float | None = None
    status: str | None = None
    verified: bool = False

    def __post_init__(self):
        if self.kind not in ("upper", "lower"):
            raise ValueError(f"figure kind must be 'upper' or 'lower', got {self.kind!r}")

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, False)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Figure:
        return cls(**d)

    def describe(self) -> str:
        """One line: method, time limit, status, source @ commit."""
        parts = [self.method]
        if self.time_limit is not None:
            parts.append(f"time limit {self.time_limit:g} s")
        if self.status:
            parts.append(f"status {self.status}")
        where = self.source + (f" @ {self.commit}" if self.commit else "")
        return f"{', '.join(parts)} ({where})"


def ceil_bound(x: float) -> int:
    """Round a solver's float bound up to the integer it proves (1e-6 tolerance)."""
    return int(math.ceil(float(x) - 1e-6))


def last_commit(path: Path) -> str | None:
    """Short hash of the last commit that touched ``path`` (None outside git)."""
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h", "--",
                              str(path.relative_to(ROOT))], capture_output=True, text=True,
                             check=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return out or None


def short_machine(line: str) -> str:
    """A machine line without its load average (the result file states the load)."""
    return re.split(r",?\s*load average", line)[0].strip().rstrip(".,;")


def machine_line(csv_path: Path) -> str | None:
    """The ``Machine:`` line of the result's ``.md`` (up to the first ``;``), else ``.meta``."""
    md = csv_path.with_suffix(".md")
    if md.exists():
        m = re.search(r"Machine: ([^;\n]*)", md.read_text(encoding="utf-8"))
        if m:
            return short_machine(m.group(1))
    meta = csv_path.with_suffix(".meta")
    if meta.exists():
        return short_machine(meta.read_text(encoding="utf-8").split(";")[0])
    return None


class _Harvest:
    """Figures of one result CSV, keyed by ``(n, seed)``."""

    def __init__(self, name: str):
        self.path = RESULTS / f"{name}.csv"
        self.source = self.path.relative_to(ROOT).as_posix()
        self.commit = last_commit(self.path)
        self.machine = machine_line(self.path)
        self.out: dict[tuple[int, int], list[Figure]] = {}

    def add(self, row: dict[str, str], kind: str, value: str, method: str, *,
            time_limit: float | None, status: str | None = None) -> None:
        if value in ("", None):
            return
        v = ceil_bound(value) if kind == "lower" else int(float(value))
        if kind == "upper" and float(value) != v:
            raise ValueError(f"{self.source}: non-integer objective {value!r} in row {row}")
        fig = Figure(kind, v, method, self.source, self.commit, self.machine, time_limit,
                     status or None)
        self.out.setdefault((int(row["n"]), int(row["seed"])), []).append(fig)

    def solver(self, row: dict[str, str], obj: str, lb: str, status: str, method: str,
               time_limit: float | None) -> None:
        """A solver run: its objective, its bound, and the objective as a bound if optimal."""
        self.add(row, "upper", row[obj], method, time_limit=time_limit, status=row[status])
        if row[status] == "optimal":
            self.add(row, "lower", row[obj], f"{method}: proved optimal",
                     time_limit=time_limit, status="optimal")
        else:
            self.add(row, "lower", row[lb], f"{method}: final bound", time_limit=time_limit,
                     status=row[status])

    def rows(self) -> list[dict[str, str]]:
        with self.path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))


def _exact(name: str, time_limit: float) -> dict[tuple[int, int], list[Figure]]:
    """``bench_exact_synthetic.py`` rows (exact_scaling, exact_synthetic): MILP, CP-SAT, LPs."""
    h = _Harvest(name)
    for row in h.rows():
        h.solver(row, "milp_obj", "milp_lb", "milp_status",
                 f"milp (time-indexed MILP, HiGHS 1 thread, warm start {row['milp_ws_from']})",
                 time_limit)
        h.solver(row, "cpsat_obj", "cpsat_lb", "cpsat_status",
                 f"cpsat (events formulation, 1 worker, seed 0, warm start "
                 f"{row['cpsat_ws_from']})", time_limit)
        h.add(row, "lower", row["lp_tails"], "root time-indexed LP + disjoint-tail cuts",
              time_limit=None)
        h.add(row, "lower", row["lp"], "root time-indexed LP", time_limit=None)
        h.add(row, "lower", row["comb_lb"], "combinatorial bound", time_limit=None)
    return h.out


def _variants(name: str, script: str, variant: str, obj: str, lb: str,
              time_limit: float | None) -> dict[tuple[int, int], list[Figure]]:
    """Rows of a variant benchmark (cpsat_proofs, exact_options): one solver run per row."""
    h = _Harvest(name)
    for row in h.rows():
        tl = float(row["time_limit"]) if "time_limit" in row else time_limit
        h.solver(row, obj, lb, "status", f"{row[variant]} ({script})", tl)
    return h.out


def harvest() -> dict[tuple[int, int], list[Figure]]:
    """Every figure of the committed exact-benchmark CSVs, keyed by ``(n, seed)``."""
    parts = [
        _exact("exact_scaling", 60.0),
        _exact("exact_synthetic", 60.0),
        _variants("cpsat_proofs", "bench_cpsat_proofs.py", "variant", "obj", "lb", None),
        _variants("cpsat_proofs_screen", "bench_cpsat_proofs.py", "variant", "obj", "lb", None),
        _variants("exact_options", "bench_exact_options.py", "config", "objective",
                  "lower_bound", 30.0),
    ]
    out: dict[tuple[int, int], list[Figure]] = {}
    for part in parts:
        for key, figs in part.items():
            out.setdefault(key, []).extend(figs)
    return out


_MERGE_COLUMNS = {"seed", "n", "optimum", "best", "bound", "by", "starts", "time_limit",
                  "machine", "source", "commit"}


def _merge_row(path: Path, k: int, row: dict[str, str]) -> tuple[tuple[int, int], list[Figure],
                                                                  list[int] | None]:
    where = f"{path}: row {k}"
    try:
        key = (int(row["n"]), int(row["seed"]))
    except (KeyError, TypeError, ValueError):
        raise MergeError(f"{where}: 'seed' and 'n' must be integers") from None
    by = (row.get("by") or "").strip()
    if not by:
        raise MergeError(f"{where}: column 'by' (the method) is required")
    common = {"source": row.get("source") or path.name, "commit": row.get("commit") or None,
              "machine": row.get("machine") or None,
              "time_limit": float(row["time_limit"]) if row.get("time_limit") else None}
    figs = []
    for col, kinds in (("optimum", ("upper", "lower")), ("best", ("upper",)),
                       ("bound", ("lower",))):
        text = (row.get(col) or "").strip()
        if not text:
            continue
        for kind in kinds:
            value = ceil_bound(text) if kind == "lower" else int(text)
            figs.append(Figure(kind, value, by, status="optimal" if col == "optimum" else None,
                               **common))
    if not figs:
        raise MergeError(f"{where}: none of 'optimum', 'best', 'bound' is given")
    starts = [int(x) for x in row["starts"].split()] if row.get("starts") else None
    if starts is not None and not (row.get("best") or row.get("optimum")):
        raise MergeError(f"{where}: 'starts' given without 'best' or 'optimum'")
    return key, figs, starts


def read_merge_csv(path: Path) -> list[tuple[tuple[int, int], list[Figure], list[int] | None]]:
    """Rows of a merge CSV (module docstring): ``((n, seed), figures, starts or None)``."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = set(reader.fieldnames or ())
        if not {"seed", "n", "by"} <= cols or cols - _MERGE_COLUMNS:
            raise MergeError(f"{path}: columns must include seed, n, by and be among "
                             f"{sorted(_MERGE_COLUMNS)}; got {sorted(cols)}")
        return [_merge_row(path, k, row) for k, row in enumerate(reader, start=2)]


def dedupe(figs: Iterable[Figure]) -> list[Figure]:
    """Figures without repeats, in first-seen order."""
    return list(dict.fromkeys(figs))


def summarize(figs: list[Figure]) -> dict[str, Any]:
    """The instance's headline values from its figures.

    ``best_known``: the smallest upper figure (ties: a verified one first);
    ``lower_bound``: the largest lower figure; ``optimum``: their common value
    when they are equal, else None. Raises ``ValueError`` when an upper figure
    lies below a lower one (a bound or a schedule is wrong).
    """
    ups = [f for f in figs if f.kind == "upper"]
    lows = [f for f in figs if f.kind == "lower"]
    if not ups or not lows:
        raise ValueError("an instance needs at least one upper and one lower figure")
    best = min(ups, key=lambda f: (f.value, not f.verified))
    lb = max(lows, key=lambda f: (f.value, f.status == "optimal"))
    if best.value < lb.value:
        raise ValueError(f"upper figure {best.describe()} = {best.value} is below lower "
                         f"figure {lb.describe()} = {lb.value}: a bound or a schedule is wrong")
    opt = best.value if best.value == lb.value else None
    return {
        "optimum": opt,
        "optimum_by": (f"best known {best.value} = lower bound {lb.value}; "
                       f"bound: {lb.describe()}") if opt is not None else None,
        "best_known": best.value, "best_known_by": best.describe(),
        "best_known_verified": best.verified or any(f.verified and f.value == best.value
                                                    for f in ups),
        "lower_bound": lb.value, "lower_bound_by": lb.describe(),
    }
