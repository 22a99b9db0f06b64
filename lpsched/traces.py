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
the header, a non-integer token count, ``prefill < 0``, ``decode < 1``, a token count
beyond the cap ``2**40`` of :mod:`lpsched.limits`, an unreadable or non-finite (NaN,
infinite) arrival time, a field longer than ``CSV_MAX_FIELD`` characters, a NUL byte or
text that is not UTF-8 is an error. A UTF-8 byte-order mark before the header is
stripped (in every layout).
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from lpsched.errors import InstanceError
from lpsched.limits import CSV_MAX_FIELD, INTEGER_CAP, cap_int, path_text

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
    """Seconds from a number or an ISO timestamp; ``ValueError`` if neither (NaN and
    infinities included: an arrival must be a finite time)."""
    try:
        val = float(text)
    except ValueError:
        t = text.strip()  # Azure's original timestamps carry 7 fractional digits
        if "." in t:
            head, frac = t.split(".", 1)
            t = f"{head}.{frac[:6]}"
        try:
            val = datetime.fromisoformat(t).timestamp()
        except (OverflowError, OSError) as exc:  # a date the platform cannot convert
            raise ValueError(str(exc)) from None
    if not math.isfinite(val):
        raise ValueError(f"not finite: {text!r}")
    return val


def _count(cell: str, field: str, src: str, rid: str) -> int:
    """A token count: an integer (``"12"``, ``"12.0"``) within the cap, read exactly (a
    digit string as an int, never through a float; any length)."""
    text = cell.strip()
    shown = text if len(text) <= 40 else text[:37] + "..."
    body = text[1:] if text[:1] in "+-" else text
    if body.isascii() and body.isdigit():
        digits = body.lstrip("0") or "0"
        if len(digits) > len(str(INTEGER_CAP)):  # also beyond Python's 4300-digit int limit
            raise InstanceError(f"{field} {shown} exceeds the cap 2^40 = {INTEGER_CAP}",
                                source=src, request=rid)
        return cap_int(-int(digits) if text[:1] == "-" else int(digits), field, source=src,
                       request=rid)
    try:
        val = float(text)
    except ValueError:
        raise InstanceError(f"{field} must be an integer, got {shown!r}", source=src,
                            request=rid) from None
    if math.isfinite(val) and abs(val) > INTEGER_CAP:
        raise InstanceError(f"{field} {shown} exceeds the cap 2^40 = {INTEGER_CAP}",
                            source=src, request=rid)
    if not (math.isfinite(val) and val.is_integer()):
        raise InstanceError(f"{field} must be an integer, got {shown!r}", source=src,
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
    src = path_text(path)
    start = cap_int(start, "start", source=src)
    limit = None if limit is None else cap_int(limit, "limit", source=src)
    if start < 0 or (limit is not None and limit < 0):
        raise InstanceError(f"start and limit must be >= 0, got {start}, {limit}", source=src)
    try:
        fh = Path(path).open(newline="", encoding="utf-8-sig")  # utf-8-sig: strips a BOM
    except (OSError, ValueError) as exc:
        raise InstanceError(f"cannot read file: {getattr(exc, 'strerror', None) or exc}",
                            source=src) from None
    with fh:
        reader = csv.reader(fh)
        try:
            return _read_rows(reader, src, start, limit, times)
        except csv.Error as exc:
            raise InstanceError(f"line {reader.line_num}: malformed CSV ({_csv_reason(exc)})",
                                source=src) from None
        except UnicodeDecodeError as exc:
            raise InstanceError(f"line {reader.line_num + 1}: not UTF-8 text ({exc.reason})",
                                source=src) from None


def _csv_reason(exc: csv.Error) -> str:
    text = str(exc)
    if "field larger than field limit" in text:
        return f"a field longer than {CSV_MAX_FIELD} characters"
    return text


def _read_rows(reader: Any, src: str, start: int, limit: int | None,
               times: bool) -> TraceColumns:
    """The rows of :func:`read_trace_columns` (``reader`` a ``csv.reader``)."""
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
                cell = row[ct] if len(row[ct]) <= 40 else row[ct][:37] + "..."
                raise InstanceError(f"arrival time is not a finite number or timestamp: "
                                    f"{cell!r}", source=src, request=rid) from None
        ids.append(rid)
        s.append(si)
        o.append(oi)
    if not ids:
        raise InstanceError("no request rows" + (" (after start/limit)" if start or limit
                                                 is not None else ""), source=src)
    return TraceColumns(src, layout, ids, np.asarray(s, dtype=np.int64),
                        np.asarray(o, dtype=np.int64),
                        np.asarray(t, dtype=np.float64) if ct is not None else None)
