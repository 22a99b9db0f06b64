"""Shared helpers of the benchmark scripts (run them as ``python benchmarks/NAME.py``)."""

from __future__ import annotations

import contextlib
import csv
import os
import platform
from collections.abc import Iterator
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def load_average(when: str) -> str:
    """``"load average <when> 1.0, 0.9, 0.8"`` (1, 5 and 15 minutes)."""
    return f"load average {when} " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


def machine(when: str = "at start") -> str:
    """One line naming the machine: CPU count, Python, CPU model and the load average ``when``.

    ``os.cpu_count()``, not ``nproc``: nproc honours OMP_NUM_THREADS and can report 1 on 2 cores.
    """
    return (f"cpus={os.cpu_count()}, {platform.python_implementation()} {platform.python_version()}, "
            f"CPU: {cpu_model()}, {load_average(when)}")


HAND_WRITTEN = ("<!-- hand-written -->", "<!-- /hand-written -->")


def hand_written_block(md: Path) -> list[str]:
    """The lines of ``md`` between the :data:`HAND_WRITTEN` markers (markers included), or ``[]``.

    A reading written by hand into a results file survives a rerun of its benchmark this way;
    it then describes the previous run until someone re-reads it against the new table.
    """
    if not md.is_file():
        return []
    lines = md.read_text().splitlines()
    start, end = HAND_WRITTEN
    if start not in lines or end not in lines:
        return []
    i, j = lines.index(start), lines.index(end)
    if j < i:
        raise ValueError(f"{md}: {end!r} comes before {start!r}")
    return lines[i:j + 1]


class RowAppender:
    """``writerow(row)`` appends one CSV row and flushes it (see :func:`appending_rows`)."""

    def __init__(self, fh, fields: list[str]):
        self._fh = fh
        self._wr = csv.DictWriter(fh, fieldnames=fields)

    def writeheader(self) -> None:
        self._wr.writeheader()
        self._fh.flush()

    def writerow(self, row: dict) -> None:
        self._wr.writerow(row)
        self._fh.flush()


@contextlib.contextmanager
def appending_rows(path: Path, fields: list[str]) -> Iterator[RowAppender]:
    """Rows appended to ``path`` and flushed one by one (the header written when the file
    is new), so that an interrupted benchmark keeps the rows it has finished."""
    path = Path(path)
    new = not path.exists()
    with path.open("a", newline="") as fh:
        rows = RowAppender(fh, fields)
        if new:
            rows.writeheader()
        yield rows


def write_results(out: Path, rows: list[dict], preamble: list[str]) -> None:
    """Write ``rows`` as ``out.csv`` and ``out.md`` (``preamble`` lines, then a Markdown table).

    A block between the :data:`HAND_WRITTEN` markers in the existing ``out.md`` is kept, between
    the preamble and the table.
    """
    out = Path(out)
    kept = hand_written_block(out.with_suffix(".md"))
    out.parent.mkdir(parents=True, exist_ok=True)
    cols = list(rows[0])
    with out.with_suffix(".csv").open("w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=cols)
        wr.writeheader()
        wr.writerows(rows)
    lines = [*preamble, *([""] + kept if kept else []), "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out.with_suffix('.md')} and {out.with_suffix('.csv')}")


def checked_solve(inst, algo: str, opts: dict | None = None):
    """``solve(inst, algo, **opts)`` timed, its schedule verified by the one checker.

    Returns ``(result, report, wall_seconds)``; exits (``SystemExit`` naming the instance,
    the algorithm and its options) when there is no schedule, the checker refuses it or
    its objective differs from the result's: a benchmark never reports an unchecked row.
    """
    import time

    from lpsched.check import check
    from lpsched.solve import solve

    opts = dict(opts or {})
    t0 = time.perf_counter()
    res = solve(inst, algo, **opts)
    wall = time.perf_counter() - t0
    where = f"{inst.name}: {algo} {opts}"
    if res.schedule is None:
        raise SystemExit(f"{where}: no schedule ({res.status.value}: {res.message})")
    rep = check(inst, res.schedule)
    if not rep.feasible:
        raise SystemExit(f"{where}: infeasible schedule: {rep.reason()}")
    if rep.objective != res.objective:
        raise SystemExit(f"{where}: objective {res.objective} but the checker says {rep.objective}")
    return res, rep, wall
