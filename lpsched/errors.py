"""The package's errors: one base class, :class:`LpschedError`, for everything it raises on
bad input or misuse.

Hierarchy (every class also derives from the builtin it replaced, so an existing
``except ValueError`` / ``except KeyError`` / ``except TypeError`` still catches it)::

    LpschedError
    ├── InputError (ValueError)            data that breaks a rule; names source and request
    │   ├── InstanceError                  problem data (instances, trace CSVs, schedule files)
    │   └── ScheduleError                  a schedule that does not fit its instance
    │                                      (lpsched.schedule)
    ├── UsageError (TypeError)             an argument of the wrong type (``check(None)``)
    ├── OptionError (ValueError)           an undeclared option or a refused value
    │                                      (lpsched.options; also the ``seed`` rule)
    ├── UnsupportedInstance (ValueError)   an algorithm that cannot take the instance
    │                                      (lpsched.options)
    ├── TimeLimitError (ValueError)        a time limit that is not finite seconds > 0
    │                                      (lpsched.stop)
    ├── UnknownAlgorithm (ValueError, KeyError)   (lpsched.registry)
    ├── OutputPathError (ValueError)       an output path that cannot be written
    │                                      (lpsched.paths)
    └── UnknownInstance (KeyError)         a name that is neither a file nor bundled
                                           (lpsched.library)

The classes defined elsewhere stay where they are (their import paths are public); they
derive from :class:`LpschedError` defined here. This module imports nothing from the
package, so every reader can share it without import cycles.

Examples
--------
>>> from lpsched import check, Instance, Request
>>> inst = Instance(10, [Request("a", 2, 3)])
>>> try:
...     check(inst, None)
... except LpschedError as exc:
...     print(type(exc).__name__, isinstance(exc, TypeError))
UsageError True
"""

from __future__ import annotations

__all__ = ["InputError", "InstanceError", "LpschedError", "UnknownInstance", "UsageError"]


class LpschedError(Exception):
    """Base class of every error :mod:`lpsched` raises on bad input or API misuse.

    Anything else escaping the package (``OverflowError``, ``RecursionError``,
    ``AttributeError``, ...) on any input is a bug.
    """


class InputError(LpschedError, ValueError):
    """Data that breaks a rule. The message names the source, the request and the rule."""

    def __init__(self, message: str, *, source: str | None = None, request: str | None = None):
        self.rule = message
        self.source = source
        self.request = request
        parts = []
        if source:
            parts.append(str(source))
        if request is not None:
            parts.append(f"request {request!r}")
        prefix = ": ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)

    def __reduce__(self):  # picklable across process pools despite the keyword arguments
        return (_rebuild, (type(self), self.rule, self.source, self.request))


def _rebuild(cls: type[InputError], rule: str, source: str | None,
             request: str | None) -> InputError:
    return cls(rule, source=source, request=request)


class InstanceError(InputError):
    """Invalid problem data (an instance, a trace CSV, a schedule file)."""


class UsageError(LpschedError, TypeError):
    """An API called with an argument of the wrong type (``check(None)``, ``load(None)``)."""


class UnknownInstance(LpschedError, KeyError):
    """A name that is neither an instance file nor a bundled instance or set."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""
