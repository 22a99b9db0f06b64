"""The bundled instance library (package data under ``lpsched/instances``).

The folder is also reachable as ``instances/`` at the top of the repository and,
from an installed wheel, through :mod:`importlib.resources`. Instances are JSON
files (docs/design.md section 5) grouped in *sets* (sub-folders); an instance is
found by its ``name`` or by ``set/name``. ``instances/index.json`` lists every
instance with its size, budget, provenance and known values, like the index
files of the job-shop benchmark libraries (e.g. JSPLIB's ``instances.json``).

Metadata carried by every library instance (``instance.metadata``):

``source``
    Where the instance comes from (hand-made, a generator, a workload profile).
``generator``, ``seed``
    The call that regenerates it (for generated sets).
``optimum``, ``optimum_by``
    The proven optimal total completion time and how it was proven, or null.
``best_known``, ``best_known_by``
    The best objective of a checker-verified schedule and the algorithm that found it.
``lower_bound``, ``lower_bound_by``
    The best proven lower bound and the method that gave it.

The study sets (``mcsf-n10-20``, ``mcsf-n20-30``, ``mcsf-n40-60``; docs/library.md)
also carry ``figures``, every known objective and bound with its method, time
limit, solver status, result file, commit and machine; ``schedule``, the best
checker-verified schedule shipped (``starts`` aligned with the requests); and
``best_known_verified``, whether that schedule reaches ``best_known`` (a best
known objective may come from a committed solver run whose schedule was not
kept).

The sets (:data:`SETS`) and their files are made by ``benchmarks/build_library.py``
(except ``tiny``, hand-made with optima proven by exhaustive enumeration).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from lpsched.errors import UnknownInstance, UsageError
from lpsched.instance import Instance, read_json

__all__ = [
    "SETS",
    "demo_instances",
    "index_entry",
    "instance_files",
    "load_index",
    "load_instance",
    "load_set",
    "resolve",
    "root",
    "set_names",
    "write_index",
]

INDEX_FORMAT = "lpsched-instance-index/1"

#: The named sets: folder name -> description (what, how generated).
SETS: dict[str, str] = {
    "tiny": "Hand-made tiny instances (2-4 requests) with optima proven by exhaustive "
            "enumeration (tests/oracle.py)",
    "mcsf-synthetic": "The synthetic family of Jaillet et al. (2025): offline, M~U[30,50], "
                      "s~U[1,5], o~U[1,M-s], n 40-60 (lpsched.generators.mcsf_synthetic)",
    "azure-backlog": "Offline backlogs sampled from the Azure 2023 conversation profile "
                     "(lpsched.workloads.sample_instance), several sizes and KV budgets",
    "mix-backlog": "Offline backlogs, 50% Azure conversation + 50% arXiv summarisation "
                   "(the conversation + summarisation setting of Jaillet et al. 2025)",
    "azure-online": "Online instances: Azure conversation lengths with arrivals at the "
                    "trace's inter-arrival distribution (25 ms steps), light and heavy load",
    "mcsf-n10-20": "MC-SF synthetic family (as mcsf-synthetic), n = 10-20, 4 seeds per n "
                   "(1000 + 100 n + k): the exact_scaling instances; optima proven by CP-SAT "
                   "for most n <= 18",
    "mcsf-n20-30": "MC-SF synthetic family, n = 20 and 30, 8 seeds each (1000 n + k): the "
                   "cpsat_proofs instances",
    "mcsf-n40-60": "MC-SF synthetic family, n = 40-60 (n = 40 + k, 50 skipped, seed k): the 20 "
                   "exact_synthetic instances, the size of the published benchmark",
}


def root() -> Path:
    """Folder of the bundled library (works from a source tree and from a wheel)."""
    return Path(str(resources.files("lpsched") / "instances"))


def instance_files(set_name: str | None = None) -> list[Path]:
    """All bundled instance files, optionally of one set, sorted by path."""
    base = root() if set_name is None else root() / set_name
    return sorted(p for p in base.rglob("*.json") if p.name != "index.json")


def set_names() -> list[str]:
    """Sets present in the library (sub-folders holding instances), in :data:`SETS` order."""
    present = {p.relative_to(root()).parts[0] for p in instance_files()
               if len(p.relative_to(root()).parts) > 1}
    return [s for s in SETS if s in present] + sorted(present - set(SETS))


def load_instance(name: str) -> Instance:
    """Load a bundled instance by name (``tiny-1``) or ``set/name`` (``tiny/tiny-1``)."""
    if not isinstance(name, str):
        raise UsageError(f"an instance name must be a string, got {type(name).__name__}")
    key = name.removesuffix(".json")
    for p in instance_files():
        rel = p.relative_to(root()).with_suffix("").as_posix()
        if key in (p.stem, rel):
            return read_json(p)
    raise UnknownInstance(name)


def load_set(set_name: str) -> list[Instance]:
    """All instances of a set, in file order."""
    if not isinstance(set_name, str):
        raise UsageError(f"a set name must be a string, got {type(set_name).__name__}")
    files = instance_files(set_name) if (root() / set_name).is_dir() else []
    if not files:
        raise UnknownInstance(set_name)
    return [read_json(p) for p in files]


def resolve(specs: str | Iterable[str], *, memory: int | None = None) -> list[Instance]:
    """Instances named by ``specs``: set names, instance names, ``set/name``, or JSON/CSV paths.

    A string may hold several comma-separated items. ``memory`` is the KV budget
    for trace CSVs (required for them; JSON files and library instances keep
    their own). Raises :class:`~lpsched.errors.UnknownInstance` (a ``KeyError``) naming
    the first item that is neither a file nor in the library.
    """
    from lpsched.instance import load

    items = [specs] if isinstance(specs, str) else specs
    if not isinstance(items, Iterable) or not all(isinstance(x, str) for x in items):
        raise UsageError(f"instances must be given as names or paths (strings), got {specs!r:.60}")
    out: list[Instance] = []
    for item in items:
        for part in (x.strip() for x in item.split(",")):
            if not part:
                continue
            path = Path(part)
            if path.is_file():
                csv = path.suffix.lower() == ".csv"
                out.append(load(path, memory=memory if csv else None))
            elif path.is_dir():
                files = sorted(path.glob("*.json"))
                out.extend(read_json(p) for p in files if p.name != "index.json")
            elif (root() / part).is_dir():
                out.extend(load_set(part))
            else:
                out.append(load_instance(part))
    return out


def demo_instances() -> list[str]:
    """Instances solved by ``lpsched demo``: the tiny set and one 40-request synthetic instance."""
    return [p.stem for p in instance_files("tiny")] + ["mcsf-n40-s1"]


# -- index ------------------------------------------------------------------------------------


def _known(md: dict[str, Any]) -> dict[str, Any]:
    """Known values of an instance from its metadata (tiny files use ``verified_by``)."""
    opt = md.get("optimum")
    how = md.get("optimum_by") or md.get("verified_by")
    best = md.get("best_known", opt)
    best_by = md.get("best_known_by") or (how if best is not None and best == opt else None)
    lb = md.get("lower_bound", opt)
    lb_by = md.get("lower_bound_by") or (how if lb is not None and lb == opt else None)
    return {"optimum": opt, "optimum_by": how if opt is not None else None,
            "best_known": best, "best_known_by": best_by,
            "lower_bound": lb, "lower_bound_by": lb_by,
            "best_known_verified": bool(md.get("best_known_verified", best is not None and (
                "best_known_starts" in md or "optimal_starts" in md)))}


def index_entry(path: Path, base: Path | None = None) -> dict[str, Any]:
    """The index row of one instance file (computed from the file itself)."""
    base = root() if base is None else base
    inst = read_json(path)
    md = dict(inst.metadata)
    rel = path.relative_to(base)
    return {
        "name": inst.name,
        "set": rel.parts[0] if len(rel.parts) > 1 else "",
        "path": rel.as_posix(),
        "n": inst.n,
        "memory": inst.memory,
        "offline": inst.offline,
        "source": md.get("source"),
        "generator": md.get("generator"),
        "seed": md.get("seed"),
        **_known(md),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }


def build_index(base: Path | None = None) -> dict[str, Any]:
    """The index of every instance file under ``base`` (default: the bundled library)."""
    base = root() if base is None else base
    files = sorted(p for p in base.rglob("*.json") if p.name != "index.json")
    order = {s: k for k, s in enumerate(SETS)}
    entries = sorted((index_entry(p, base) for p in files),
                     key=lambda e: (order.get(e["set"], len(order)), e["set"], e["path"]))
    names = [e["name"] for e in entries]
    dup = {x for x in names if names.count(x) > 1}
    if dup:
        raise ValueError(f"duplicate instance names in the library: {sorted(dup)}")
    sets = list(dict.fromkeys(e["set"] for e in entries))
    return {
        "format": INDEX_FORMAT,
        "sets": {s: {"description": SETS.get(s, ""),
                     "instances": sum(e["set"] == s for e in entries)} for s in sets},
        "instances": entries,
    }


def write_index(base: Path | None = None) -> Path:
    """(Re)write ``index.json`` from the files (used by ``benchmarks/build_library.py``),
    atomically (:func:`lpsched.paths.write_text_atomic`)."""
    from lpsched.paths import write_text_atomic

    base = root() if base is None else base
    out = base / "index.json"
    write_text_atomic(out, json.dumps(build_index(base), indent=1) + "\n", what="library index")
    return out


def load_index() -> dict[str, Any]:
    """The shipped ``index.json`` (built from the files; see :func:`build_index`)."""
    path = root() / "index.json"
    if not path.exists():
        return build_index()
    return json.loads(path.read_text(encoding="utf-8"))
