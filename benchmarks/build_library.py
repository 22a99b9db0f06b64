"""Build the generated sets of the instance library and its index.

Usage (from the repository root)::

    python benchmarks/build_library.py                      # all generated sets + index
    python benchmarks/build_library.py --sets mcsf-synthetic --time-limit 30
    python benchmarks/build_library.py --index-only         # just rewrite index.json

For every instance it records in the metadata the generator call and seed, the
best known objective (the best checker-verified schedule of the registered
algorithms that are importable, run with ``--time-limit`` each) and the best
proven lower bound (``lpsched.models.bounds.lower_bound(inst, method="best")``
when that module exists; otherwise the combinatorial bound below), each with
how it was obtained, and the start steps of that best schedule
(``best_known_starts``, aligned with the requests) so anyone can re-check it
with ``lpsched.check``. Values already in an existing file for the same requests
are kept when they are better (the best known only goes down, the bound only
goes up), so re-running after new solvers are merged only improves the library.
An instance is marked optimal only when a solver proved it (status ``optimal``)
or its best known objective equals its lower bound.

Fallback lower bound (valid for every feasible schedule; docs/design.md section 2):
let ``c_(1) <= ... <= c_(n)`` be the completion times. The ``k`` requests done by
``c_(k)`` have all their memory area ``A_i = s_i o_i + o_i(o_i+1)/2`` inside
steps ``1..c_(k)``, where memory is at most ``M`` per step, so
``c_(k) >= ceil(S_k / M)`` with ``S_k`` the sum of the ``k`` smallest areas;
also ``c_(k) >= (a+o)_[k]``, the ``k``-th smallest ``a_i + o_i`` (each of those
``k`` requests completes no earlier than its own ``a_i + o_i``). Hence
``sum_i (c_i - a_i) >= sum_k max(ceil(S_k/M), (a+o)_[k]) - sum_i a_i``
(offline, ``a = 0``: the area bound against the sorted decode lengths).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lpsched import library, registry  # noqa: E402
from lpsched.check import check  # noqa: E402
from lpsched.generators import mcsf_synthetic  # noqa: E402
from lpsched.instance import Instance, read_json  # noqa: E402
from lpsched.schedule import SolveStatus, sequential_starts  # noqa: E402
from lpsched.solve import solve  # noqa: E402
from lpsched.workloads import sample_instance  # noqa: E402

MIX = {"azure_conv_2023": 0.5, "arxiv_summarization": 0.5}


def generated_sets() -> dict[str, list[tuple[str, dict, Instance]]]:
    """set -> [(generator call, generator args, instance)]."""
    sets: dict[str, list[tuple[str, dict, Instance]]] = {}
    rows = []
    for n in (40, 45, 50, 55, 60):
        for seed in (1, 2):
            args = {"n": n, "seed": seed}
            rows.append(("lpsched.generators.mcsf_synthetic", args, mcsf_synthetic(n, seed)))
    sets["mcsf-synthetic"] = rows

    def sampled(prefix, profiles, n, memory, seed, **kw):
        args = {"profiles": profiles, "n": n, "memory": memory, "seed": seed, **kw}
        name = f"{prefix}-n{n}-m{memory}-s{seed}"
        inst = sample_instance(profiles, n, memory, seed, name=name, **kw)
        return ("lpsched.workloads.sample_instance", args, inst)

    sets["azure-backlog"] = [
        sampled("azure-b", "azure_conv_2023", 100, 16384, 1),
        sampled("azure-b", "azure_conv_2023", 100, 65536, 2),
        sampled("azure-b", "azure_conv_2023", 200, 8192, 3, too_large="resample"),
        sampled("azure-b", "azure_conv_2023", 1000, 16384, 4),
        sampled("azure-b", "azure_conv_2023", 1000, 65536, 5),
    ]
    sets["mix-backlog"] = [
        sampled("mix-b", MIX, 100, 16384, 1),
        sampled("mix-b", MIX, 100, 65536, 2),
        sampled("mix-b", MIX, 1000, 16384, 3),
        sampled("mix-b", MIX, 1000, 65536, 4),
    ]
    sets["azure-online"] = [
        sampled("azure-o", "azure_conv_2023", 200, 16384, 1, arrivals="trace-rate"),
        sampled("azure-o", "azure_conv_2023", 200, 32768, 5, arrivals="trace-rate"),
        sampled("azure-o", "azure_conv_2023", 200, 65536, 2, arrivals="trace-rate"),
        sampled("azure-o", "azure_conv_2023", 2000, 16384, 3, arrivals="trace-rate"),
        sampled("azure-o", "azure_conv_2023", 2000, 32768, 6, arrivals="trace-rate"),
    ]
    return sets


def fallback_lower_bound(inst: Instance) -> int:
    """The combinatorial bound of the module docstring."""
    a = inst.arrival
    s_k = np.cumsum(np.sort(inst.area))
    area = -(-s_k // inst.memory)  # ceil(S_k / M)
    ready = np.sort(a + inst.decode)  # k-th smallest a_i + o_i
    return int(np.maximum(area, ready).sum() - a.sum())


def lower_bound(inst: Instance, time_limit: float, use_fn: bool = True) -> tuple[float, str]:
    try:
        if not use_fn:
            raise ImportError
        from lpsched.models.bounds import lower_bound as bound_fn
    except ImportError:
        return fallback_lower_bound(inst), ("combinatorial area/decode bound "
                                            "(benchmarks/build_library.py fallback)")
    import inspect

    kwargs = {"time_limit": time_limit} if "time_limit" in inspect.signature(bound_fn).parameters \
        else {}
    b = bound_fn(inst, method="best", **kwargs)
    fb = fallback_lower_bound(inst)
    if fb > b.value:  # keep whichever is stronger, and say so
        return fb, ("combinatorial area/decode bound (benchmarks/build_library.py fallback; "
                    f"lpsched.models.bounds gave {b.value})")
    return float(b.value), (f"lpsched.models.bounds.lower_bound(method='best', "
                            f"time_limit={time_limit:g}) -> {b.method}")


def best_known(inst: Instance, time_limit: float, exact: bool, algos: list[str] | None = None
               ) -> tuple[int, str, list[int], bool, float | None]:
    """(objective, how, starts, proven optimal, solver bound) over the importable algorithms."""
    best: tuple[int, str, list[int]] | None = None
    proven = False
    bound = None
    for spec in registry.specs():
        if algos is not None and spec.name not in algos:
            continue
        if spec.kind == "exact" and not exact:
            continue
        try:
            spec.load()
        except (ImportError, AttributeError):
            continue
        t0 = time.perf_counter()
        res = solve(inst, spec.name, time_limit=time_limit, seed=0)
        if res.schedule is None or res.status == SolveStatus.ERROR:
            continue
        how = f"{spec.name} (time limit {time_limit:g} s, {time.perf_counter() - t0:.1f} s)"
        starts = res.schedule.starts.tolist()
        if best is None or res.objective < best[0]:
            best = (int(res.objective), how, starts)
        if res.status == SolveStatus.OPTIMAL:
            proven, best = True, (int(res.objective), how, starts)
        if res.lower_bound is not None:
            bound = max(bound or 0.0, float(res.lower_bound))
        if proven:
            break
    if best is None:  # nothing importable: sequential shortest-decode-first (always feasible)
        starts = sequential_starts(inst, np.argsort(inst.decode, kind="stable"))
        rep = check(inst, starts)
        assert rep.feasible
        best = (rep.objective, "sequential shortest-decode-first (build_library.py placeholder: "
                               "no algorithm importable)", starts.tolist())
    return best[0], best[1], best[2], proven, bound


def write_instance(inst: Instance, path: Path) -> None:
    """The JSON instance format, one metadata field and one request per line."""
    d = inst.to_dict()
    md = d.get("metadata", {})
    text = "{\n" + f' "name": {json.dumps(d["name"])},\n "memory": {d["memory"]},\n'
    text += ' "metadata": {\n' + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}"
                                             for k, v in md.items()) + "\n },\n"
    text += ' "requests": [\n' + ",\n".join("  " + json.dumps(r) for r in d["requests"])
    text += "\n ]\n}\n"
    assert json.loads(text) == d
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default=None, help="comma-separated sets (default: all generated)")
    ap.add_argument("--time-limit", type=float, default=10.0,
                    help="per-algorithm time limit for the best known objective (s)")
    ap.add_argument("--exact-max-n", type=int, default=60,
                    help="run exact solvers only on instances with at most this many requests")
    ap.add_argument("--algos", default=None,
                    help="comma-separated algorithms to try (default: all registered)")
    ap.add_argument("--bound-max-n", type=int, default=None,
                    help="use lpsched.models.bounds only up to this many requests "
                         "(larger: the combinatorial bound)")
    ap.add_argument("--instances", default=None, help="comma-separated instance names only")
    ap.add_argument("--index-only", action="store_true", help="only rewrite index.json")
    args = ap.parse_args(argv)
    base = library.root()
    if not args.index_only:
        sets = generated_sets()
        wanted = args.sets.split(",") if args.sets else list(sets)
        for set_name in wanted:
            folder = base / set_name
            folder.mkdir(exist_ok=True)
            for gen, gargs, inst in sets[set_name]:
                if args.instances and inst.name not in args.instances.split(","):
                    continue
                path = folder / f"{inst.name}.json"
                t0 = time.perf_counter()
                lb, lb_by = lower_bound(inst, args.time_limit, use_fn=args.bound_max_n is None
                                        or inst.n <= args.bound_max_n)
                t_lb = time.perf_counter() - t0
                obj, obj_by, starts, proven, solver_lb = best_known(
                    inst, args.time_limit, exact=inst.n <= args.exact_max_n,
                    algos=args.algos.split(",") if args.algos else None)
                if solver_lb is not None and solver_lb > lb:
                    lb, lb_by = solver_lb, f"{obj_by.split(' ')[0]} solver bound"
                old = read_json(path).metadata if path.exists() else {}
                if old and read_json(path) == inst:
                    if old.get("best_known") is not None and old["best_known"] < obj:
                        obj, obj_by = old["best_known"], old["best_known_by"]
                        starts = list(old["best_known_starts"])
                    if old.get("lower_bound") is not None and old["lower_bound"] > lb:
                        lb, lb_by = old["lower_bound"], old["lower_bound_by"]
                    if old.get("optimum") is not None:
                        proven = True
                        obj, obj_by = old["optimum"], old["optimum_by"]
                        starts = list(old["best_known_starts"])
                lb = int(lb) if float(lb).is_integer() else round(float(lb), 6)
                if obj < lb - 1e-6:
                    raise SystemExit(f"{inst.name}: best known {obj} below lower bound {lb}: "
                                     "a bound or a schedule is wrong")
                if not proven and obj <= lb + 1e-9:
                    proven, obj_by = True, f"{obj_by}; matches the lower bound ({lb_by})"
                md = dict(inst.metadata)
                md.update({
                    "generator": gen, "generator_args": gargs, "seed": gargs["seed"],
                    "optimum": obj if proven else None,
                    "optimum_by": obj_by if proven else None,
                    "best_known": obj, "best_known_by": obj_by, "best_known_starts": starts,
                    "lower_bound": lb, "lower_bound_by": lb_by,
                })
                write_instance(inst.replace(metadata=md), path)
                print(f"{set_name}/{inst.name}: n={inst.n} M={inst.memory} best {obj} "
                      f"lb {lb} ({t_lb:.1f} s) {'optimal' if proven else ''}", flush=True)
    out = library.write_index(base)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
