"""The package's input error: problem data that breaks a rule of the model.

Kept in a module of its own so that the readers (:mod:`lpsched.instance`,
:mod:`lpsched.traces`) share it without importing each other.
"""

from __future__ import annotations

__all__ = ["InstanceError"]


class InstanceError(ValueError):
    """Invalid problem data. The message names the source, the request and the rule."""

    def __init__(self, message: str, *, source: str | None = None, request: str | None = None):
        self.source = source
        self.request = request
        parts = []
        if source:
            parts.append(str(source))
        if request is not None:
            parts.append(f"request {request!r}")
        prefix = ": ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)
