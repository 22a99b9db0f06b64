"""Output paths: one rule for every file the package writes, checked before any work.

The rule (every ``--out``, ``--json FILE``, ``--plot`` of the command line, and
:func:`prepare_output` for library callers):

* missing parent folders are created;
* a path that is a folder, or that cannot be written, is refused with
  :class:`OutputPathError` naming it (the command line prints one line and exits 2);
* a required suffix (``.png``/``.svg`` for plots, ``.csv``/``.json``...) is checked too.

Commands declare their output arguments with :func:`add_output_argument`;
``lpsched.cli.main`` checks them all (:func:`prepare_outputs`) right after parsing,
so a bad path fails at once, not after a long benchmark.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["OutputPathError", "add_output_argument", "prepare_output", "prepare_outputs"]


class OutputPathError(ValueError):
    """An output path that cannot be written."""


def prepare_output(path: str | os.PathLike[str], *, suffixes: Sequence[str] = (),
                   what: str = "output file") -> Path:
    """Check ``path`` for writing (module rule) and create its missing parent folders."""
    p = Path(path)
    if str(path) == "" or p.name in ("", ".", ".."):
        raise OutputPathError(f"{path!s}: {what} needs a file name")
    if p.is_dir():
        raise OutputPathError(f"{p}: is a folder; give a file name for the {what}")
    if suffixes and p.suffix.lower() not in suffixes:
        raise OutputPathError(f"{p}: {what} must end in {' or '.join(suffixes)}")
    parent = p.parent if str(p.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise OutputPathError(f"{p}: {parent} is a file, not a folder")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputPathError(f"{p}: cannot create folder {parent}: "
                              f"{exc.strerror or exc}") from None
    if p.exists():
        if not os.access(p, os.W_OK):
            raise OutputPathError(f"{p}: {what} is not writable")
    elif not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"{p}: folder {parent} is not writable")
    return p


def add_output_argument(parser: argparse.ArgumentParser, *flags: str,
                        suffixes: Sequence[str] = (), what: str = "output file",
                        **kwargs) -> argparse.Action:
    """``parser.add_argument(*flags, **kwargs)`` for an output file path, recorded so that
    :func:`prepare_outputs` checks it before the command runs."""
    action = parser.add_argument(*flags, **kwargs)
    known = list(parser.get_default("_outputs") or [])
    known.append((action.dest, tuple(s.lower() for s in suffixes), what))
    parser.set_defaults(_outputs=known)
    return action


def prepare_outputs(args: argparse.Namespace) -> None:
    """Check (and create the folders of) every output path given on the command line."""
    for dest, suffixes, what in getattr(args, "_outputs", None) or ():
        value = getattr(args, dest, None)
        if value:
            prepare_output(value, suffixes=suffixes, what=what)
