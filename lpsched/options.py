"""Declared algorithm options: name, type, default, one-line help, checked before a solve.

Every registered algorithm (:mod:`lpsched.registry`) declares the options it
takes. Built-in algorithms declare them beside their code as one frozen parameters
dataclass whose fields are made with :func:`param` (kind, range, default, help:
written once; :func:`dataclass_options` reads them as :class:`Option` objects); user
registrations may pass :class:`Option` objects instead, whose defaults are read from
the function's signature. :func:`lpsched.solve` checks the options a caller gives
against that declaration before any work starts: an unknown name is refused with
the list of valid ones, a value of the wrong type or outside its range is refused
naming the option. Nothing is silently ignored.

Exact solvers also pass solver parameters through (HiGHS options for ``milp``,
``CpSolverParameters`` fields for ``cpsat``); those names are checked against the
solver itself (:class:`Passthrough`).

Examples
--------
>>> opt = Option("window", "int", "requests per LP", minimum=1)
>>> opt.validate(20, "lp-horizon")
20
>>> opt.validate(0, "lp-horizon")
Traceback (most recent call last):
...
lpsched.options.OptionError: lp-horizon: option 'window' must be >= 1, got 0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lpsched.errors import LpschedError
from lpsched.limits import INTEGER_CAP

__all__ = ["KINDS", "Option", "OptionError", "Passthrough", "UnsupportedInstance",
           "dataclass_options", "param", "validate_options"]

_NO_DEFAULT = object()


class OptionError(LpschedError, ValueError):
    """An option that the algorithm does not declare, or a value it does not accept."""


class UnsupportedInstance(LpschedError, ValueError):
    """An algorithm that cannot handle the instance at all (e.g. the tiny-only DP on n = 40)."""


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (_is_int(v) or isinstance(v, (float, np.floating))) and not isinstance(v, bool)


def _finite(v: Any) -> bool:
    try:
        return math.isfinite(float(v))
    except OverflowError:  # an int beyond float range
        return False


def _int_sequence(v: Any) -> bool:
    if isinstance(v, (str, bytes, Mapping)):
        return False
    try:
        arr = np.asarray(v)
    except (TypeError, ValueError):
        return False
    if arr.ndim != 1:
        return False
    if arr.dtype.kind in "iu":
        return True
    return arr.dtype.kind == "f" and bool(np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)))


def _float_sequence(v: Any) -> bool:
    if isinstance(v, (str, bytes, Mapping)):
        return False
    try:
        arr = np.asarray(v, dtype=float)
    except (TypeError, ValueError, OverflowError):
        return False
    return arr.ndim == 1 and bool(np.all(np.isfinite(arr)))


def _schedule_like(v: Any) -> bool:
    from lpsched.schedule import Schedule

    return isinstance(v, (Schedule, Mapping)) or _int_sequence(v)


#: kind -> (test, description used in error messages)
KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "int": (_is_int, "an integer"),
    "float": (lambda v: _is_number(v) and _finite(v), "a finite number"),
    "bool": (lambda v: isinstance(v, (bool, np.bool_)), "true or false"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "ints": (_int_sequence, "a list of integers"),
    "floats": (_float_sequence, "a list of finite numbers"),
    "schedule": (_schedule_like, "a schedule (start steps by position, or {request id: start})"),
}


@dataclass(frozen=True)
class Option:
    """One declared option of an algorithm.

    Parameters
    ----------
    name
        The keyword name.
    kind
        One of :data:`KINDS` (``int``, ``float``, ``bool``, ``str``, ``ints``,
        ``floats``, ``schedule``).
    help
        One line for ``lpsched algorithms NAME``.
    choices
        Allowed values (for ``str`` options).
    minimum, maximum
        Inclusive numeric range (numbers; for lists, every element).
    nullable
        Whether ``None`` is accepted (default: when the default is None).
    default
        The parameters dataclass field's default (:func:`dataclass_options`), or, for
        user declarations, filled in from the algorithm's signature by the registry.
    """

    name: str
    kind: str
    help: str
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    nullable: bool | None = None
    default: Any = field(default=_NO_DEFAULT, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"option {self.name!r}: unknown kind {self.kind!r}; "
                             f"choose one of {', '.join(KINDS)}")

    @property
    def has_default(self) -> bool:
        return self.default is not _NO_DEFAULT

    def with_default(self, default: Any) -> Option:
        return Option(self.name, self.kind, self.help, self.choices, self.minimum, self.maximum,
                      self.nullable, default)

    def accepts_none(self) -> bool:
        if self.nullable is not None:
            return self.nullable
        return self.has_default and self.default is None

    def validate(self, value: Any, algorithm: str) -> Any:
        """``value`` if acceptable, else :class:`OptionError` naming the algorithm and option."""
        where = f"{algorithm}: option {self.name!r}"
        if value is None:
            if self.accepts_none():
                return None
            raise OptionError(f"{where} must be {KINDS[self.kind][1]}, got None")
        test, what = KINDS[self.kind]
        if not test(value):
            raise OptionError(f"{where} must be {what}, got {value!r:.60}")
        if self.choices is not None and value not in self.choices:
            raise OptionError(f"{where} must be one of {', '.join(map(repr, self.choices))}, "
                              f"got {value!r:.60}")
        if self.kind in ("int", "float", "ints", "floats"):
            try:
                vals = np.atleast_1d(np.asarray(value, dtype=float))
            except OverflowError:  # an int beyond float range, e.g. 10**400
                vals = np.array([np.inf])
            if self.kind in ("int", "ints") and vals.size and np.abs(vals).max() > INTEGER_CAP:
                raise OptionError(f"{where} must be within the cap 2^40 = {INTEGER_CAP} on "
                                  f"integers, got {value!r:.60}")
            if not np.all(np.isfinite(vals)):
                raise OptionError(f"{where} must be a finite number, got {value!r:.60}")
            if self.minimum is not None and vals.size and vals.min() < self.minimum:
                raise OptionError(f"{where} must be >= {_num(self.minimum)}, got {value!r:.60}")
            if self.maximum is not None and vals.size and vals.max() > self.maximum:
                raise OptionError(f"{where} must be <= {_num(self.maximum)}, got {value!r:.60}")
        return value

    def describe(self) -> str:
        """``kind``, range or choices, for listings."""
        parts = [self.kind]
        if self.choices is not None:
            parts = ["|".join(map(str, self.choices))]
        if self.minimum is not None or self.maximum is not None:
            lo = "" if self.minimum is None else f">= {_num(self.minimum)}"
            hi = "" if self.maximum is None else f"<= {_num(self.maximum)}"
            parts.append(" ".join(x for x in (lo, hi) if x))
        return ", ".join(parts)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


@dataclass(frozen=True)
class Passthrough:
    """Solver parameters passed through by name (HiGHS options, CP-SAT parameters).

    ``known(name)`` tells whether the solver has a parameter of that name;
    ``what`` names them in messages, e.g. ``"HiGHS option"``.
    """

    what: str
    known: Callable[[str], bool]
    help: str = ""


def validate_options(algorithm: str, options: Mapping[str, Any], declared: Sequence[Option],
                     passthrough: Passthrough | None = None) -> dict[str, Any]:
    """Check ``options`` against the declaration; returns them unchanged (a new dict).

    Raises :class:`OptionError` for an unknown name (listing the valid ones) or a bad value.
    """
    by_name = {o.name: o for o in declared}
    out: dict[str, Any] = {}
    for key, value in options.items():
        opt = by_name.get(key)
        if opt is not None:
            out[key] = opt.validate(value, algorithm)
            continue
        if passthrough is not None and isinstance(key, str) and passthrough.known(key):
            out[key] = value
            continue
        valid = ", ".join(sorted(by_name)) or "none"
        extra = f"; or any {passthrough.what} by name" if passthrough is not None else ""
        near = _closest(key, list(by_name))
        hint = f" (did you mean {near!r}?)" if near else ""
        raise OptionError(f"{algorithm}: unknown option {key!r}{hint}; valid options: "
                          f"{valid}{extra}")
    return out


def _closest(word: str, names: Sequence[str]) -> str | None:
    import difflib

    got = difflib.get_close_matches(str(word), names, n=1, cutoff=0.75)
    return got[0] if got else None


def param(default: Any, kind: str, help: str, **limits: Any) -> Any:
    """A field of an algorithm's frozen parameters dataclass that declares its option:
    ``kind`` and ``help`` as for :class:`Option`, ``limits`` its ``minimum``, ``maximum``,
    ``choices`` or ``nullable``; ``default`` is the field's default (written once, here).
    :func:`dataclass_options` turns the fields into :class:`Option` declarations."""
    from dataclasses import field as _field

    return _field(default=default, metadata={"option": (kind, help, limits)})


def dataclass_options(params: type) -> tuple[Option, ...]:
    """The :class:`Option` declarations of a parameters dataclass whose fields were made
    with :func:`param` (defaults included), in field order.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class P:
    ...     base: float = param(2.0, "float", "growth of the phase length", minimum=1.01)
    >>> [(o.name, o.kind, o.default, o.minimum) for o in dataclass_options(P)]
    [('base', 'float', 2.0, 1.01)]
    """
    from dataclasses import fields as _fields

    out = []
    for f in _fields(params):
        if "option" in f.metadata:
            kind, help_, limits = f.metadata["option"]
            out.append(Option(f.name, kind, help_, default=f.default, **limits))
    return tuple(out)
