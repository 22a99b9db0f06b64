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

Every file is then written by :func:`atomic_output` (or :func:`write_text_atomic`):
to a temporary file in the same folder, flushed to disk, and renamed onto the
path. A crash, a signal or a second run writing the same path at the same time
never leaves a partial or mixed file: readers see the old file or a complete new
one (the last rename wins). A path that exists and is not a regular file (a FIFO,
a device such as ``/dev/full``, a socket) is refused before anything is opened, so
a FIFO without a reader cannot hang a run; a write that fails (a full disk) is an
:class:`OutputPathError` naming the path, and the temporary file is removed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from lpsched.errors import LpschedError

__all__ = ["OutputPathError", "add_output_argument", "atomic_open", "atomic_output",
           "prepare_output", "prepare_outputs", "write_text_atomic"]


class OutputPathError(LpschedError, ValueError):
    """An output path that cannot be written (a :class:`~lpsched.errors.LpschedError`)."""


def prepare_output(path: str | os.PathLike[str], *, suffixes: Sequence[str] = (),
                   what: str = "output file") -> Path:
    """Check ``path`` for writing (module rule) and create its missing parent folders."""
    text = os.fspath(path)
    p = Path(path)
    if text == "" or p.name in ("", ".", "..") or text.endswith(("/", os.sep)):
        raise OutputPathError(f"{text}: {what} needs a file name (this names a folder)")
    if p.is_dir():
        raise OutputPathError(f"{p}: is a folder; give a file name for the {what}")
    _refuse_special(p, what)
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
    if p.exists() and not os.access(p, os.W_OK):
        raise OutputPathError(f"{p}: {what} is not writable")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"{p}: folder {parent} is not writable (the {what} is written "
                              "to a temporary file there, then renamed)")
    return p


def _refuse_special(p: Path, what: str) -> None:
    """Refuse an existing path that is not a regular file (checked without opening it)."""
    try:
        mode = p.stat().st_mode  # follows symbolic links: the file a write would reach
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputPathError(f"{p}: cannot inspect the {what}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode)
                or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a file")
        raise OutputPathError(f"{p}: is {kind}, not a regular file; give a file name for the "
                              f"{what} (--json prints to stdout)")


def _target(path: str | os.PathLike[str], what: str) -> Path:
    """The file a write of ``path`` replaces: symbolic links resolved, checked by the rule."""
    p = prepare_output(path, what=what)
    return Path(os.path.realpath(p))


def _new_file_mode(target: Path) -> int:
    """Permission bits for the new file: the old file's, else ``0o666`` less the umask."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        pass
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no /proc: read the umask by setting it (and put it back)
    os.umask(mask)
    return 0o666 & ~mask


def _write_error(p: Path, what: str, exc: OSError) -> OutputPathError:
    return OutputPathError(f"{p}: cannot write the {what}: {exc.strerror or exc}")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *,
                  what: str = "output file") -> Iterator[Path]:
    """A temporary path next to ``path`` to write to; renamed onto ``path`` on success.

    The temporary file is ``.NAME.tmp-XXXXXXXX.SUFFIX`` in the same folder (same file
    system, so the rename is atomic; the suffix is kept, so writers that choose the
    format by suffix, e.g. ``savefig``, still work). It is flushed to disk before the
    rename. On any exception it is removed and ``path`` is left as it was; an
    ``OSError`` (e.g. a full disk) becomes an :class:`OutputPathError` naming ``path``.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> with atomic_output(d / "a.txt") as tmp:
    ...     _ = tmp.write_text("done")
    >>> (d / "a.txt").read_text(), sorted(p.name for p in d.iterdir())
    ('done', ['a.txt'])
    """
    target = _target(path, what)
    shown = Path(path)
    tmp = target.with_name(f".{target.stem}.tmp-{secrets.token_hex(4)}{target.suffix}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _new_file_mode(target))
        os.close(fd)
        yield tmp
        _sync(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        raise _write_error(shown, what, exc) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _sync(p: Path) -> None:
    fd = os.open(p, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", *, what: str = "output file",
                **kwargs: Any) -> Iterator[IO[Any]]:
    """``open(tmp, mode, **kwargs)`` on the temporary file of :func:`atomic_output`."""
    with atomic_output(path, what=what) as tmp:
        kwargs.setdefault("encoding", None if "b" in mode else "utf-8")
        with open(tmp, mode, **kwargs) as fh:
            yield fh


def write_text_atomic(path: str | os.PathLike[str], text: str, *,
                      what: str = "output file") -> Path:
    """Write ``text`` (UTF-8) to ``path`` through :func:`atomic_output`; returns ``path``."""
    with atomic_open(path, "w", what=what) as fh:
        fh.write(text)
    return Path(path)


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
