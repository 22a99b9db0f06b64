"""The one reader of request-trace CSVs.

Every part of the package that reads a trace (instances: :func:`lpsched.instance.read_trace`;
AFD workloads: :func:`lpsched.afd.workload.read_trace_lengths`; the trace profiles:
``lpsched.workloads``) calls :func:`read_trace_columns`, so a file is accepted or refused
the same way everywhere, with the same messages.

Layouts (detected from the header):

* Vidur: ``[arrived_at,]num_prefill_tokens,num_decode_tokens[,...]`` (``arrived_at`` in
  seconds, optional; other columns such as ``num_total_tokens`` are ignored);
* Azure's original: ``TIMESTAMP,ContextTokens,GeneratedTokens`` (timestamps such as
  ``2023-11-16 18:15:46.6805900``, or seconds).

Rules, each refusal an :class:`~lpsched.instance.InstanceError` naming the file, the
request (its 1-based data row number, which is also its request id) and the rule:
a row is never skipped, clipped or rounded; an empty row, a row with fewer fields than
the header, a non-integer token count, ``prefill < 0``, ``decode < 1`` or an unreadable
arrival time is an error.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from lpsched.errors import InstanceError

__all__ = ["AZURE", "VIDUR", "TraceColumns", "read_trace_columns"]

VIDUR = ("num_prefill_tokens", "num_decode_tokens")
AZURE = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")


@dataclass(frozen=True)
class TraceColumns:
    """The columns of a trace CSV.

    ``ids[k]`` is the 1-based data row number of row ``k`` (as a string); ``times`` the
    arrival times in seconds (None when the file has none or they were not asked for).
    """

    source: str
    layout: str
    ids: list[str]
    prefill: np.ndarray
    decode: np.ndarray
    times: np.ndarray | None

    @property
    def n(self) -> int:
        return len(self.ids)


def _parse_time(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    t = text.strip()  # Azure's original timestamps carry 7 fractional digits
    if "." in t:
        head, frac = t.split(".", 1)
        t = f"{head}.{frac[:6]}"
    return datetime.fromisoformat(t).timestamp()


def _count(cell: str, field: str, src: str, rid: str) -> int:
    text = cell.strip()
    try:
        val = float(text)
    except ValueError:
        raise InstanceError(f"{field} must be an integer, got {text!r}", source=src,
                            request=rid) from None
    if not (np.isfinite(val) and float(val).is_integer()):
        raise InstanceError(f"{field} must be an integer, got {text!r}", source=src,
                            request=rid)
    return int(val)


def _layout(header: list[str], src: str) -> tuple[str, int, int, int | None]:
    if all(c in header for c in VIDUR):
        ct = header.index("arrived_at") if "arrived_at" in header else None
        return "vidur", header.index(VIDUR[0]), header.index(VIDUR[1]), ct
    if all(c in header for c in AZURE):
        ct, cs, co = (header.index(c) for c in AZURE)
        return "azure", cs, co, ct
    raise InstanceError(
        "unrecognised CSV header; expected columns "
        "'[arrived_at,]num_prefill_tokens,num_decode_tokens' or "
        f"'TIMESTAMP,ContextTokens,GeneratedTokens', got {','.join(header)!r}", source=src)


def read_trace_columns(path: str | os.PathLike[str], *, start: int = 0,
                       limit: int | None = None, times: bool = True) -> TraceColumns:
    """Read rows ``start .. start+limit-1`` of a trace CSV (module docstring for the rules).

    ``times=False`` skips the arrival column (it is then neither parsed nor checked).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_text("arrived_at,num_prefill_tokens,num_decode_tokens\\n0.0,5,2\\n0.5,7,3\\n")
    >>> cols = read_trace_columns(p)
    >>> cols.ids, cols.prefill.tolist(), cols.decode.tolist(), cols.times.tolist()
    (['1', '2'], [5, 7], [2, 3], [0.0, 0.5])
    """
    src = str(path)
    if start < 0 or (limit is not None and limit < 0):
        raise InstanceError(f"start and limit must be >= 0, got {start}, {limit}", source=src)
    try:
        fh = Path(path).open(newline="", encoding="utf-8")
    except OSError as exc:
        raise InstanceError(f"cannot read file: {exc.strerror or exc}", source=src) from None
    with fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise InstanceError("empty file", source=src) from None
        layout, cs, co, ct = _layout(header, src)
        if not times:
            ct = None
        ids: list[str] = []
        s: list[int] = []
        o: list[int] = []
        t: list[float] = []
        ncol = len(header)
        for k, row in enumerate(reader):
            if k < start:
                continue
            if limit is not None and len(ids) >= limit:
                break
            rid = str(k + 1)
            if not row or all(not c.strip() for c in row):
                raise InstanceError(f"empty row at line {k + 2}", source=src, request=rid)
            if len(row) < ncol:
                raise InstanceError(f"row has {len(row)} fields, header has {ncol}",
                                    source=src, request=rid)
            si, oi = _count(row[cs], "prefill", src, rid), _count(row[co], "decode", src, rid)
            if si < 0:
                raise InstanceError(f"prefill must be >= 0, got {si}", source=src, request=rid)
            if oi < 1:
                raise InstanceError(f"decode must be >= 1, got {oi}", source=src, request=rid)
            if ct is not None:
                try:
                    t.append(_parse_time(row[ct]))
                except ValueError:
                    raise InstanceError(f"arrival time is not a number or timestamp: "
                                        f"{row[ct]!r}", source=src, request=rid) from None
            ids.append(rid)
            s.append(si)
            o.append(oi)
    if not ids:
        raise InstanceError("no request rows" + (" (after start/limit)" if start or limit
                                                 is not None else ""), source=src)
    return TraceColumns(src, layout, ids, np.asarray(s, dtype=np.int64),
                        np.asarray(o, dtype=np.int64),
                        np.asarray(t, dtype=np.float64) if ct is not None else None)
