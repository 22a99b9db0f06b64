"""Problem data: requests and instances, with validation and file IO.

The scheduling model (docs/design.md section 2): an instance has a KV-cache budget
``M`` (tokens, integer > 0) and ``n`` requests. Request ``i`` has a prefill
(prompt) length ``s_i >= 0``, a decode (output) length ``o_i >= 1`` and an
arrival step ``a_i >= 0``. An optional block size ``b >= 1`` (default 1) models
paged KV memory (vLLM's PagedAttention): a running request holding ``x`` tokens
occupies ``b * ceil(x / b)`` tokens of ``M`` (:func:`block_tokens`). A request
whose peak ``b * ceil((s_i + o_i) / b)`` exceeds ``M`` can never run, so an
instance holding one is refused.

Instances are immutable. The per-request data is held column-wise in read-only
``numpy`` arrays (``prefill``, ``decode``, ``arrival``) so that instances of a
million requests stay cheap; :attr:`Instance.requests` gives the row view.

File formats read here:

* the JSON instance format of docs/design.md section 5 (:func:`read_json`);
* request-trace CSVs (:func:`read_trace`) in the Vidur layout
  (``[arrived_at,]num_prefill_tokens,num_decode_tokens[,...]``) and in Azure's
  original layout (``TIMESTAMP,ContextTokens,GeneratedTokens``).

Every refusal raises :class:`InstanceError`, whose message names the file, the
request and the rule that was broken. Every integer (``M``, ``s``, ``o``, ``a``,
``b``), and the horizon ``max_i a_i + sum_i o_i``, is within the cap ``2**40`` of
:mod:`lpsched.limits`, so that no arithmetic on instances and schedules can wrap
int64; wrong argument types raise
:class:`~lpsched.errors.UsageError` or :class:`InstanceError`, never a builtin error.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from lpsched.errors import InstanceError, UsageError
from lpsched.limits import (
    INTEGER_CAP,
    cap_column,
    cap_int,
    exact_sum,
    fits_int64,
    path_text,
    read_json_file,
)
from lpsched.traces import read_trace_columns

__all__ = [
    "DEFAULT_STEP_SECONDS",
    "block_tokens",
    "Instance",
    "InstanceError",
    "Request",
    "load",
    "read_json",
    "read_trace",
    "write_json",
]

#: Default wall time of one decode step, used to map trace arrival times (seconds)
#: to integer steps: ``arrival_step = floor((t - t0) / step_seconds)``. 25 ms is a
#: typical decode-iteration time of a 7B-70B model on one modern GPU; pass
#: ``step_seconds=`` to override it.
DEFAULT_STEP_SECONDS = 0.025


def block_tokens(tokens, block_size: int):
    """KV memory of a request holding ``tokens`` tokens in blocks of ``block_size``:
    ``b * ceil(x / b)`` (works on ints and integer arrays; ``b = 1`` returns ``x``)."""
    if block_size == 1:
        return tokens
    return -(-tokens // block_size) * block_size


@dataclass(frozen=True, slots=True)
class Request:
    """One request: ``prefill`` tokens of prompt, ``decode`` output tokens, ``arrival`` step."""

    id: str
    prefill: int
    decode: int
    arrival: int = 0

    def __post_init__(self) -> None:
        """Integers within the cap of :mod:`lpsched.limits` (the sign rules are checked by
        :class:`Instance`); :class:`InstanceError` naming the field and the request."""
        rid = self.id
        if isinstance(rid, bool) or not isinstance(rid, (str, int, np.integer)):
            raise InstanceError(f"id must be a string, got {rid!r}")
        for name in ("prefill", "decode", "arrival"):
            object.__setattr__(self, name, cap_int(getattr(self, name), name, request=str(rid)))

    @property
    def peak_memory(self) -> int:
        """KV tokens held in the request's last step: ``s + o``."""
        return self.prefill + self.decode

    @property
    def memory_area(self) -> int:
        """Token-steps of KV memory over the request's life: ``s*o + o(o+1)/2``."""
        return self.prefill * self.decode + self.decode * (self.decode + 1) // 2


def _row(rid: str, s: int, o: int, a: int) -> Request:
    """A :class:`Request` of already validated values (skips ``__post_init__``)."""
    r = object.__new__(Request)
    for name, value in (("id", rid), ("prefill", s), ("decode", o), ("arrival", a)):
        object.__setattr__(r, name, value)
    return r


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.int64)
    a.setflags(write=False)
    return a


def integer_column(arr: np.ndarray, field: str, *, ids: Sequence[str] | None = None,
                   source: str | None = None) -> np.ndarray:
    """``arr`` as int64, refusing (not rounding, not wrapping) non-integers and values beyond
    the cap of :mod:`lpsched.limits`.

    Integral floats are accepted; anything else raises :class:`InstanceError` naming the
    first offending request (``ids[k]``, or ``r<k>`` without ids) and ``field``.
    """
    return cap_column(arr, field, ids=ids, source=source)


def _check_int(value: Any, field: str, *, source: str | None, rid: str | None) -> int:
    """``value`` as an int within the cap, refusing bools, fractions, strings, None."""
    return cap_int(value, field, source=source, request=rid)


def _check_horizon(ids: Sequence[str], o: np.ndarray, a: np.ndarray, source: str | None) -> None:
    """Refuse an instance whose horizon ``max_i a_i + sum_i o_i`` exceeds the cap of
    :mod:`lpsched.limits`: every schedule that never idles while a request waits (the
    sequential fallback, every algorithm's) then has its starts within the cap too."""
    horizon = int(a.max()) + exact_sum(o)
    if horizon > INTEGER_CAP:
        k = int(np.argmax(a))
        raise InstanceError(f"the horizon max arrival + sum of decode lengths = {int(a[k])} + "
                            f"{exact_sum(o)} = {horizon} exceeds the cap 2^40 = {INTEGER_CAP} "
                            "(a schedule must fit within it)", source=source, request=ids[k])


def _from_columns(memory: int, prefill: np.ndarray, decode: np.ndarray, arrival: np.ndarray,
                  ids: Sequence[str], name: str, metadata: Mapping[str, Any],
                  block_size: int = 1) -> Instance:
    """Unpickle an :class:`Instance` (see ``Instance.__reduce__``)."""
    return Instance.from_arrays(memory, prefill, decode, arrival, ids=ids, name=name,
                                metadata=metadata, block_size=block_size)


class Instance:
    """An immutable, validated scheduling instance.

    Parameters
    ----------
    memory
        KV-cache budget ``M`` in tokens (integer > 0).
    requests
        The requests, as :class:`Request` objects or mappings with keys
        ``id``, ``prefill``, ``decode`` and optionally ``arrival``.
    name
        Instance name (used in schedule files).
    metadata
        Free-form metadata (source, known optimum, lower bound, ...).
    source
        Where the data came from (a file name), used in error messages only.
    block_size
        KV block size ``b >= 1`` (default 1: memory counted token by token). A request
        holding ``x`` tokens occupies ``b * ceil(x / b)`` of ``M``.

    Examples
    --------
    >>> inst = Instance(10, [Request("a", 2, 3), Request("b", 1, 4, arrival=2)], name="ex")
    >>> inst.n, inst.memory, inst.decode.tolist()
    (2, 10, [3, 4])
    """

    __slots__ = ("_name", "_memory", "_ids", "_prefill", "_decode", "_arrival", "_metadata",
                 "_index", "_block_size")

    def __init__(
        self,
        memory: int,
        requests: Iterable[Request | Mapping[str, Any]],
        *,
        name: str = "instance",
        metadata: Mapping[str, Any] | None = None,
        source: str | None = None,
        block_size: int = 1,
    ):
        ids: list[str] = []
        s: list[int] = []
        o: list[int] = []
        a: list[int] = []
        if isinstance(requests, (str, bytes, Mapping)) or not isinstance(requests, Iterable):
            raise InstanceError("requests must be a list of Request objects or mappings, got "
                                f"{type(requests).__name__}", source=source)
        for k, r in enumerate(requests):
            if isinstance(r, Request):
                rid, pre, dec, arr = r.id, r.prefill, r.decode, r.arrival
            elif isinstance(r, Mapping):
                rid = r.get("id", None)
                rid = f"#{k}" if rid is None else rid
                for field in ("prefill", "decode"):
                    if field not in r:
                        raise InstanceError(f"missing field {field!r}", source=source,
                                            request=str(rid))
                pre, dec, arr = r["prefill"], r["decode"], r.get("arrival", 0)
            else:
                raise InstanceError(f"request #{k} is not an object: {r!r}", source=source)
            if not isinstance(rid, (str, int)) or isinstance(rid, bool):
                raise InstanceError(f"id must be a string, got {rid!r}", source=source,
                                    request=f"#{k}")
            rid = str(rid)
            ids.append(rid)
            s.append(_check_int(pre, "prefill", source=source, rid=rid))
            o.append(_check_int(dec, "decode", source=source, rid=rid))
            a.append(_check_int(arr, "arrival", source=source, rid=rid))
        self._init_arrays(memory, ids, np.array(s, dtype=np.int64), np.array(o, dtype=np.int64),
                          np.array(a, dtype=np.int64), name, metadata, source, block_size)

    @classmethod
    def from_arrays(
        cls,
        memory: int,
        prefill: Sequence[int] | np.ndarray,
        decode: Sequence[int] | np.ndarray,
        arrival: Sequence[int] | np.ndarray | None = None,
        *,
        ids: Sequence[str] | None = None,
        name: str = "instance",
        metadata: Mapping[str, Any] | None = None,
        source: str | None = None,
        block_size: int = 1,
    ) -> Instance:
        """Build an instance from columns (fast path for large instances).

        ``ids`` defaults to ``r0, r1, ...``; ``arrival`` defaults to all zeros.
        Non-integer values are refused, not rounded.
        """
        if ids is not None:
            if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
                raise InstanceError(f"ids must be a list of strings, got {type(ids).__name__}",
                                    source=source)
            ids = list(ids)
            for k, i in enumerate(ids):
                if isinstance(i, bool) or not isinstance(i, (str, int, np.integer)):
                    raise InstanceError(f"id must be a string, got {i!r}", source=source,
                                        request=f"#{k}")
        cols: dict[str, np.ndarray] = {}
        for field, col in (("prefill", prefill), ("decode", decode), ("arrival", arrival)):
            if col is None and field == "arrival":
                cols[field] = np.zeros(len(cols["prefill"]), dtype=np.int64)
                continue
            cols[field] = cap_column(col, field, ids=ids, source=source)
        n = len(cols["prefill"])
        if ids is None:
            ids = [f"r{k}" for k in range(n)]
        obj = cls.__new__(cls)
        obj._init_arrays(memory, [str(i) for i in ids], cols["prefill"], cols["decode"],
                         cols["arrival"], name, metadata, source, block_size)
        return obj

    def _init_arrays(self, memory, ids, s, o, a, name, metadata, source, block_size=1) -> None:
        memory = cap_int(memory, "memory", source=source)
        if memory <= 0:
            raise InstanceError(f"memory must be a positive integer, got {memory}", source=source)
        n = len(ids)
        if not (len(s) == len(o) == len(a) == n):
            raise InstanceError("columns have different lengths", source=source)
        if n == 0:
            raise InstanceError("an instance needs at least one request", source=source)

        def first(mask: np.ndarray) -> str:
            return ids[int(np.flatnonzero(mask)[0])]

        if np.any(s < 0):
            rid = first(s < 0)
            raise InstanceError(f"prefill must be >= 0, got {s[ids.index(rid)]}", source=source,
                                request=rid)
        if np.any(o < 1):
            rid = first(o < 1)
            raise InstanceError(f"decode must be >= 1, got {o[ids.index(rid)]}", source=source,
                                request=rid)
        if np.any(a < 0):
            rid = first(a < 0)
            raise InstanceError(f"arrival must be >= 0, got {a[ids.index(rid)]}", source=source,
                                request=rid)
        b = cap_int(block_size, "block_size", source=source)
        if b < 1:
            raise InstanceError(f"block_size must be an integer >= 1, got {b}", source=source)
        too_big = block_tokens(s + o, b) > memory
        if np.any(too_big):
            k = int(np.flatnonzero(too_big)[0])
            peak = f"{s[k]} + {o[k]} = {s[k] + o[k]}"
            if b > 1:
                peak += f" tokens, {int(block_tokens(s[k] + o[k], b))} in blocks of {b},"
            raise InstanceError(
                f"prefill + decode = {peak} exceeds memory {memory}: the request can never run",
                source=source, request=ids[k])
        _check_horizon(ids, o, a, source)
        index: dict[str, int] = {}
        for k, rid in enumerate(ids):
            if rid in index:
                raise InstanceError("duplicate id", source=source, request=rid)
            index[rid] = k
        try:
            meta = dict(metadata or {})
        except (TypeError, ValueError):
            raise InstanceError(f"metadata must be a mapping, got {type(metadata).__name__}",
                                source=source) from None
        self._name = str(name)
        self._memory = memory
        self._ids = tuple(ids)
        self._prefill = _readonly(s)
        self._decode = _readonly(o)
        self._arrival = _readonly(a)
        self._metadata = MappingProxyType(meta)
        self._index = index
        self._block_size = b

    def __reduce__(self):
        """Pickle support (child processes, dask): rebuilt, and re-validated, from columns."""
        return (_from_columns, (self._memory, np.array(self._prefill), np.array(self._decode),
                                np.array(self._arrival), self._ids, self._name,
                                dict(self._metadata), self._block_size))

    # -- read-only views ---------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def memory(self) -> int:
        """KV-cache budget ``M`` (tokens)."""
        return self._memory

    @property
    def block_size(self) -> int:
        """KV block size ``b`` (1: memory counted token by token)."""
        return self._block_size

    @property
    def n(self) -> int:
        """Number of requests."""
        return len(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def ids(self) -> tuple[str, ...]:
        return self._ids

    @property
    def prefill(self) -> np.ndarray:
        """Prefill lengths ``s`` (read-only int64 array)."""
        return self._prefill

    @property
    def decode(self) -> np.ndarray:
        """Decode lengths ``o`` (read-only int64 array)."""
        return self._decode

    @property
    def arrival(self) -> np.ndarray:
        """Arrival steps ``a`` (read-only int64 array)."""
        return self._arrival

    @property
    def metadata(self) -> Mapping[str, Any]:
        return self._metadata

    @property
    def peak(self) -> np.ndarray:
        """Per-request peak memory ``b * ceil((s + o) / b)`` (``s + o`` for ``b = 1``)."""
        return block_tokens(self._prefill + self._decode, self._block_size)

    @property
    def area(self) -> np.ndarray:
        """Per-request memory area ``A_i = s_i*o_i + o_i(o_i+1)/2`` (token-steps).

        int64 when the column and any sum of it fit int64 (every real instance); else an
        object array of exact Python ints (``s_i + o_i`` near the cap gives ``A_i`` near
        ``2**80``), so it never wraps.
        """
        s, o = self._prefill, self._decode
        top = int(self.peak.max())  # A_i <= (s_i + o_i)^2
        if not fits_int64(self.n, top * top):
            s, o = s.astype(object), o.astype(object)
        return s * o + o * (o + 1) // 2

    @property
    def offline(self) -> bool:
        """True when every request arrives at step 0."""
        return not bool(np.any(self._arrival))

    @property
    def requests(self) -> tuple[Request, ...]:
        """Row view (builds :class:`Request` objects; avoid on huge instances)."""
        return tuple(
            _row(i, s, o, a) for i, s, o, a in zip(self._ids, self._prefill.tolist(),
                                                   self._decode.tolist(), self._arrival.tolist())
        )

    def index(self, request_id: str) -> int:
        """Position of a request id."""
        try:
            return self._index[request_id]
        except KeyError:
            raise KeyError(f"unknown request id {request_id!r}") from None

    def __getitem__(self, k: int) -> Request:
        return _row(self._ids[k], int(self._prefill[k]), int(self._decode[k]),
                    int(self._arrival[k]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Instance):
            return NotImplemented
        return (self._memory == other._memory and self._ids == other._ids
                and self._block_size == other._block_size
                and np.array_equal(self._prefill, other._prefill)
                and np.array_equal(self._decode, other._decode)
                and np.array_equal(self._arrival, other._arrival))

    def __hash__(self) -> int:
        return hash((self._memory, self._ids, self._prefill.tobytes(), self._decode.tobytes(),
                     self._arrival.tobytes(), self._block_size))

    def __repr__(self) -> str:
        blocks = f", block_size={self._block_size}" if self._block_size != 1 else ""
        return f"Instance(name={self._name!r}, n={self.n}, memory={self._memory}{blocks})"

    # -- derived instances ---------------------------------------------------------------
    def replace(self, **changes: Any) -> Instance:
        """A copy with ``memory``, ``name``, ``metadata`` or ``block_size`` replaced
        (re-validated)."""
        allowed = {"memory", "name", "metadata", "block_size"}
        if set(changes) - allowed:
            raise TypeError(f"replace() accepts only {sorted(allowed)}")
        return Instance.from_arrays(
            changes.get("memory", self._memory), self._prefill, self._decode, self._arrival,
            ids=self._ids, name=changes.get("name", self._name),
            metadata=changes.get("metadata", self._metadata),
            block_size=changes.get("block_size", self._block_size))

    def subset(self, positions: Sequence[int] | np.ndarray, *, name: str | None = None) -> Instance:
        """The instance restricted to the requests at ``positions``."""
        try:
            pos = np.asarray(positions, dtype=np.int64)
        except (TypeError, ValueError, OverflowError):
            raise UsageError(f"positions must be integers, got {positions!r:.60}") from None
        if pos.ndim != 1 or (pos.size and (pos.max() >= self.n or pos.min() < -self.n)):
            raise UsageError(f"positions must be a list of request positions 0..{self.n - 1}")
        return Instance.from_arrays(
            self._memory, self._prefill[pos], self._decode[pos], self._arrival[pos],
            ids=[self._ids[k] for k in pos], name=name or self._name, metadata=self._metadata,
            block_size=self._block_size)

    def summary(self) -> dict[str, Any]:
        """Key statistics (used by ``lpsched info``)."""
        s, o, a = self._prefill, self._decode, self._arrival

        def stats(x: np.ndarray) -> dict[str, float]:
            return {"min": int(x.min()), "mean": float(x.mean()), "p50": float(np.median(x)),
                    "max": int(x.max())}

        return {
            "name": self._name, "n": self.n, "memory": self._memory,
            "block_size": self._block_size, "offline": self.offline, "prefill": stats(s), "decode": stats(o),
            "arrival": stats(a), "sum_decode": exact_sum(o), "sum_area": int(self.area.sum()),
            "max_peak": int(self.peak.max()),
            "metadata": dict(self._metadata),
        }

    # -- serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON instance format of docs/design.md section 5."""
        reqs = []
        for i, s, o, a in zip(self._ids, self._prefill.tolist(), self._decode.tolist(),
                              self._arrival.tolist()):
            r = {"id": i, "prefill": s, "decode": o}
            if a:
                r["arrival"] = a
            reqs.append(r)
        out: dict[str, Any] = {"name": self._name, "memory": self._memory}
        if self._block_size != 1:
            out["block_size"] = self._block_size
        out["requests"] = reqs
        if self._metadata:
            out["metadata"] = dict(self._metadata)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str | None = None) -> Instance:
        """Parse the JSON instance format of docs/design.md section 5."""
        if not isinstance(data, Mapping):
            raise InstanceError("top level must be a JSON object", source=source)
        for field in ("memory", "requests"):
            if field not in data:
                raise InstanceError(f"missing field {field!r}", source=source)
        if not isinstance(data["requests"], list):
            raise InstanceError("'requests' must be a list", source=source)
        metadata = data.get("metadata")
        metadata = {} if metadata is None else metadata
        if not isinstance(metadata, Mapping):
            raise InstanceError("'metadata' must be an object", source=source)
        for k, r in enumerate(data["requests"]):
            if isinstance(r, Mapping) and "id" not in r:
                raise InstanceError("missing field 'id'", source=source, request=f"#{k}")
            if isinstance(r, Mapping) and r["id"] is None:
                raise InstanceError("id must be a string, got null", source=source,
                                    request=f"#{k}")
        name = data.get("name") or (Path(source).stem if source else "instance")
        memory = cap_int(data["memory"], "memory", source=source)
        block_size = cap_int(data.get("block_size", 1), "block_size", source=source)
        return cls(memory, data["requests"], name=str(name), metadata=metadata, source=source,
                   block_size=block_size)


# ---------------------------------------------------------------------------------------------
# File IO
# ---------------------------------------------------------------------------------------------


def read_json(path: str | os.PathLike[str]) -> Instance:
    """Read an instance in the JSON format of docs/design.md section 5."""
    src = path_text(path)
    return Instance.from_dict(read_json_file(path), source=src)


def write_json(instance: Instance, path: str | os.PathLike[str]) -> None:
    """Write an instance in the JSON format of docs/design.md section 5, atomically
    (:func:`lpsched.paths.write_text_atomic`: a failed write leaves ``path`` as it was and
    raises :class:`~lpsched.paths.OutputPathError` naming it)."""
    from lpsched.paths import write_text_atomic

    write_text_atomic(path, json.dumps(instance.to_dict(), indent=1) + "\n",
                      what="instance file")


def read_trace(
    path: str | os.PathLike[str],
    memory: int,
    *,
    step_seconds: float = DEFAULT_STEP_SECONDS,
    offline: bool = False,
    limit: int | None = None,
    start: int = 0,
    sample: int | None = None,
    seed: int = 0,
    name: str | None = None,
    block_size: int = 1,
) -> Instance:
    """Read a request trace CSV and build an instance with KV budget ``memory``
    (and KV block size ``block_size``).

    Accepted layouts (detected from the header):

    * Vidur: ``arrived_at,num_prefill_tokens,num_decode_tokens`` (``arrived_at``
      optional; extra columns such as ``num_total_tokens`` are ignored);
    * Azure original: ``TIMESTAMP,ContextTokens,GeneratedTokens``.

    Arrival times in seconds are mapped to steps as
    ``floor((t - t_first) / step_seconds)``. With ``offline=True`` (or when the
    file has no time column) every request arrives at step 0 (a backlog).

    ``start``/``limit`` take a contiguous window of rows (after ``start`` rows,
    at most ``limit`` rows); ``sample`` then draws that many rows uniformly
    without replacement (seeded by ``seed``), keeping their trace order.
    Request ids are ``"<row number>"`` (1-based data row), so they point back
    into the file. Rows are never silently dropped: a bad row is an error.
    """
    src = path_text(path)
    if (isinstance(step_seconds, bool) or not isinstance(step_seconds, (int, float))
            or not math.isfinite(step_seconds) or not step_seconds > 0):
        raise InstanceError(f"step_seconds must be a finite number > 0, got {step_seconds!r}",
                            source=src)
    start = cap_int(start, "start", source=src)
    limit = None if limit is None else cap_int(limit, "limit", source=src)
    seed = cap_int(seed, "seed", source=src)
    if seed < 0:
        raise InstanceError(f"seed must be >= 0, got {seed}", source=src)
    cols = read_trace_columns(path, start=start, limit=limit, times=not offline)
    keep = np.arange(cols.n)
    if sample is not None:
        sample = cap_int(sample, "sample", source=src)
        if sample > cols.n or sample < 1:
            raise InstanceError(f"cannot sample {sample} of {cols.n} rows", source=src)
        keep = np.sort(np.random.default_rng(seed).choice(cols.n, size=sample, replace=False))
    ids = [cols.ids[k] for k in keep]
    arrival = None
    if cols.times is not None:
        arrival = _arrival_steps(cols.times[keep], step_seconds, ids, src)
    meta = {"source": f"trace {Path(path).name}",
            "step_seconds": step_seconds if arrival is not None else None,
            "rows": {"start": start, "limit": limit, "sample": sample, "seed": seed}}
    return Instance.from_arrays(memory, cols.prefill[keep], cols.decode[keep], arrival, ids=ids,
                                name=name or Path(path).stem, metadata=meta, source=src,
                                block_size=block_size)


def _arrival_steps(times: np.ndarray, step_seconds: float, ids: Sequence[str],
                   src: str) -> np.ndarray:
    """``floor((t - t_first) / step_seconds)`` per row; a row whose step is beyond the cap
    of :mod:`lpsched.limits` is refused naming it (times are finite: :mod:`lpsched.traces`)."""
    with np.errstate(over="ignore", invalid="ignore"):
        steps = (times - times.min()) / step_seconds + 1e-9
    bad = ~np.isfinite(steps) | (steps >= INTEGER_CAP + 1)
    if np.any(bad):
        k = int(np.flatnonzero(bad)[0])
        raise InstanceError(f"arrival time {float(times[k])!r} is {steps[k]:.6g} steps after the "
                            f"first arrival ({float(times.min())!r} s, {step_seconds} s per step), beyond "
                            f"the cap 2^40 = {INTEGER_CAP} on arrival steps", source=src,
                            request=ids[k])
    return np.floor(steps).astype(np.int64)


_TRACE_OPTIONS = {"step_seconds", "offline", "limit", "start", "sample", "seed", "name",
                  "block_size"}


def load(path: str | os.PathLike[str], *, memory: int | None = None, **trace_options: Any) -> Instance:
    """Load an instance file: JSON, or a trace CSV (then ``memory`` is required)."""
    p = Path(path_text(path))
    unknown = set(trace_options) - _TRACE_OPTIONS
    if unknown:
        raise UsageError(f"load(): unknown option(s) {', '.join(sorted(unknown))}; valid: "
                         f"memory, {', '.join(sorted(_TRACE_OPTIONS))}")
    if p.suffix.lower() != ".csv" and trace_options:
        raise UsageError(f"load(): {', '.join(sorted(trace_options))} apply to trace CSVs only, "
                         f"not to {p.name}")
    if p.suffix.lower() == ".csv":
        if memory is None:
            raise InstanceError("a trace CSV needs a memory budget (memory=... / --memory)",
                                source=str(p))
        return read_trace(p, memory, **trace_options)
    inst = read_json(p)
    if memory is not None:
        inst = inst.replace(memory=memory)
    return inst
