"""Input limits: the one cap on every integer of the formats, and the JSON/CSV size limits.

Every integer that an instance or a schedule carries (memory ``M``, prefill, decode,
arrival, block size, start steps and run segments) must lie within
``[-INTEGER_CAP, INTEGER_CAP]`` with ``INTEGER_CAP = 2**40`` (about 1.1e12: far above any
real deployment, whose KV budgets are below 1e8 tokens and whose traces span below 1e9
steps, and far below int64's wrap at 2**63). The sign rules of the model
(``prefill >= 0``, ``decode >= 1``, ...) are checked on top of it by the readers.

Why this cap makes the arithmetic safe: a step, a completion ``p + o`` and a memory
``s + t - p`` of one request then stay within ``2**42`` in absolute value, so the sum of
``n`` of them fits int64 (``< 2**63``) for ``n < 2**21`` (two million) requests; the
checker widens to exact Python integers beyond that (:mod:`lpsched.check`), and
:func:`fits_int64` is the test it uses.

The readers enforce the cap where data enters: :class:`lpsched.instance.Request`,
:class:`lpsched.instance.Instance` (and ``from_arrays``, ``replace``), the JSON instance
format, trace CSVs (:mod:`lpsched.traces`), :class:`lpsched.schedule.Schedule` (start
arrays, ``{id: start}`` mappings and ``runs``) and schedule files. A refusal is an
:class:`~lpsched.errors.InstanceError` (or the schedule's
:class:`~lpsched.schedule.ScheduleError`) naming the field, the request and the cap.

JSON input is read by :func:`read_json_file`: at most :data:`JSON_MAX_BYTES`, nested at
most :data:`JSON_MAX_DEPTH` deep, UTF-8 (a byte-order mark is stripped). CSV fields are
at most :data:`CSV_MAX_FIELD` characters (:mod:`lpsched.traces`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lpsched.errors import InputError, InstanceError, UsageError

__all__ = ["CSV_MAX_FIELD", "INTEGER_CAP", "JSON_MAX_BYTES", "JSON_MAX_DEPTH", "cap_column",
           "cap_int", "exact_sum", "fits_int64", "parse_json", "path_text", "read_json_file"]

#: The cap on every integer of the formats: ``|x| <= 2**40`` (module docstring).
INTEGER_CAP = 2**40
#: Largest JSON input file (instances, schedules, profiles): 1 GiB.
JSON_MAX_BYTES = 2**30
#: Deepest nesting of arrays and objects in a JSON input (the formats need 4).
JSON_MAX_DEPTH = 64
#: Longest field of a trace CSV, in characters (Python's ``csv`` default).
CSV_MAX_FIELD = 131_072

_CAP_TEXT = f"the cap 2^40 = {INTEGER_CAP}"
_INT64_HEADROOM = 2**62


def _bad_int(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def cap_int(value: Any, field: str, *, source: str | None = None, request: str | None = None,
            error: type[InputError] = InstanceError) -> int:
    """``value`` as a Python int within ``[-INTEGER_CAP, INTEGER_CAP]``.

    Accepts ints, numpy integers and integral finite floats; refuses bools, None,
    strings, fractions, NaN and infinities (``error`` naming ``field`` and ``request``).

    >>> cap_int(12.0, "memory")
    12
    >>> cap_int(2**63 - 1, "prefill", request="a")
    Traceback (most recent call last):
    ...
    lpsched.errors.InstanceError: request 'a': prefill 9223372036854775807 exceeds the cap 2^40 = ...
    """
    if isinstance(value, (bool, np.bool_)) or value is None:
        raise error(f"{field} must be an integer, got {_bad_int(value)}", source=source,
                    request=request)
    if isinstance(value, (int, np.integer)):
        out = int(value)
    elif (isinstance(value, (float, np.floating)) and math.isfinite(value)
          and float(value).is_integer()):
        out = int(value)
    else:
        raise error(f"{field} must be an integer, got {_bad_int(value)}", source=source,
                    request=request)
    if abs(out) > INTEGER_CAP:
        shown = _bad_int(out if isinstance(value, (int, np.integer)) else value)
        raise error(f"{field} {shown} exceeds {_CAP_TEXT}", source=source, request=request)
    return out


def cap_column(values: Any, field: str, *, ids: Sequence[str] | None = None,
               source: str | None = None, error: type[InputError] = InstanceError) -> np.ndarray:
    """A one-dimensional column as int64, every value an integer within the cap.

    Works on any array-like (int, unsigned, float, object, bool dtypes); the first
    offending value is refused naming its request (``ids[k]``, or ``r<k>`` without ids).
    Values are checked before any cast, so nothing wraps or rounds.
    """
    if isinstance(values, (list, tuple)):  # numpy would read True as 1: refuse bools first
        for k, v in enumerate(values):
            if isinstance(v, (bool, np.bool_)):
                raise error(f"{field} must be an integer, got {v!r}", source=source,
                            request=str(ids[k]) if ids is not None and k < len(ids) else f"r{k}")
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError, OverflowError) as exc:
        raise error(f"{field} must be a list of integers ({exc})", source=source) from None
    if arr.ndim != 1:
        raise error(f"{field} must be one-dimensional, got shape {arr.shape}", source=source)

    def rid(k: int) -> str:
        return str(ids[k]) if ids is not None and k < len(ids) else f"r{k}"

    if arr.dtype.kind in "iu":
        if arr.size and (int(arr.max()) > INTEGER_CAP or int(arr.min()) < -INTEGER_CAP):
            k = int(np.flatnonzero((arr > INTEGER_CAP) | (arr < -INTEGER_CAP))[0])
            cap_int(int(arr[k]), field, source=source, request=rid(k), error=error)
        return arr.astype(np.int64)
    if arr.dtype.kind == "f":
        ok = np.isfinite(arr) & (np.abs(arr) <= INTEGER_CAP)
        ok[ok] = arr[ok] == np.floor(arr[ok])
        if not np.all(ok):
            k = int(np.flatnonzero(~ok)[0])
            cap_int(arr[k].item(), field, source=source, request=rid(k), error=error)
        return arr.astype(np.int64)
    out = np.empty(arr.size, dtype=np.int64)
    for k, v in enumerate(arr.tolist()):
        out[k] = cap_int(v, field, source=source, request=rid(k), error=error)
    return out


def fits_int64(count: int, magnitude: int) -> bool:
    """True when any sum of ``count`` terms of absolute value at most ``magnitude`` (and
    differences of two such sums) stays below ``2**62``, i.e. cannot wrap int64."""
    return int(count) * int(magnitude) < _INT64_HEADROOM


def exact_sum(x: np.ndarray) -> int:
    """``sum(x)`` as a Python int, exact for any length (int64 when it cannot wrap)."""
    if x.size == 0:
        return 0
    if x.dtype.kind in "iu" and fits_int64(x.size, max(abs(int(x.max())), abs(int(x.min())))):
        return int(x.sum())
    return int(sum(x.tolist()))


def _depth(data: Any) -> int:
    """Nesting depth of parsed JSON (iterative: no recursion limit)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        node, d = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, d)
        if d > JSON_MAX_DEPTH:
            return d
        stack.extend((c, d + 1) for c in children)
    return deepest


def parse_json(text: str, *, source: str | None = None,
               error: type[InputError] = InstanceError) -> Any:
    """Parse JSON text under the limits of the module docstring (one-line ``error``s)."""
    text = text.removeprefix("\ufeff")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                    source=source) from None
    except RecursionError:
        raise error(f"JSON nested deeper than {JSON_MAX_DEPTH} levels", source=source) from None
    except ValueError as exc:  # an integer literal of more than 4300 digits
        what = ("an integer of more than 4300 digits, far beyond the cap 2^40"
                if "digits" in str(exc) else str(exc))
        raise error(f"malformed JSON: {what}", source=source) from None
    if _depth(data) > JSON_MAX_DEPTH:
        raise error(f"JSON nested deeper than {JSON_MAX_DEPTH} levels", source=source)
    return data


def read_json_file(path: str | os.PathLike[str], *,
                   error: type[InputError] = InstanceError) -> Any:
    """Read and parse a JSON file: at most :data:`JSON_MAX_BYTES`, UTF-8, nested at most
    :data:`JSON_MAX_DEPTH` deep; every refusal one ``error`` naming the file."""
    src = path_text(path)
    try:
        with Path(path).open("rb") as fh:
            raw = fh.read(JSON_MAX_BYTES + 1)
    except ValueError as exc:  # an embedded NUL byte in the path
        raise error(f"cannot read file: {exc}", source=src) from None
    except OSError as exc:
        raise error(f"cannot read file: {exc.strerror or exc}", source=src) from None
    if len(raw) > JSON_MAX_BYTES:
        raise error(f"file larger than {JSON_MAX_BYTES} bytes (the JSON size limit)", source=src)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8 text (byte {exc.start})", source=src) from None
    return parse_json(text, source=src, error=error)


def path_text(path: Any) -> str:
    """``path`` as text for messages; :class:`UsageError` for anything but a str or PathLike."""
    if isinstance(path, str):
        return path
    if isinstance(path, os.PathLike):
        p = os.fspath(path)
        return p if isinstance(p, str) else os.fsdecode(p)
    raise UsageError(f"a path must be a str or os.PathLike, got {type(path).__name__}")
