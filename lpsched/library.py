"""The bundled instance library (package data under ``lpsched/instances``).

The folder is also reachable as ``instances/`` at the top of the repository.
Instances are JSON files (DESIGN.md section 6) grouped in sets (sub-folders);
an instance is found by its ``name`` or by ``set/name``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from lpsched.instance import Instance, read_json

__all__ = ["demo_instances", "instance_files", "load_instance", "root"]


def root() -> Path:
    """Folder of the bundled library (works from a source tree and from a wheel)."""
    return Path(str(resources.files("lpsched") / "instances"))


def instance_files(set_name: str | None = None) -> list[Path]:
    """All bundled instance files, optionally of one set, sorted by path."""
    base = root() if set_name is None else root() / set_name
    return sorted(p for p in base.rglob("*.json") if p.name != "index.json")


def load_instance(name: str) -> Instance:
    """Load a bundled instance by name (``tiny-1``) or ``set/name`` (``tiny/tiny-1``)."""
    key = name.removesuffix(".json")
    for p in instance_files():
        rel = p.relative_to(root()).with_suffix("").as_posix()
        if key in (p.stem, rel):
            return read_json(p)
    raise KeyError(name)


def demo_instances() -> list[str]:
    """Instances solved by ``lpsched demo``: the tiny set."""
    return [p.stem for p in instance_files("tiny")]
