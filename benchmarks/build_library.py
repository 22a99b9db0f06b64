"""Build the generated sets of the instance library and its index.

Usage (from the repository root)::

    python benchmarks/build_library.py                      # all generated sets + index
    python benchmarks/build_library.py --sets mcsf-synthetic --time-limit 30
    python benchmarks/build_library.py --index-only         # just rewrite index.json
    python benchmarks/build_library.py --sets mcsf-n10-20,mcsf-n20-30,mcsf-n40-60 \
        --time-limit 10 --bound-max-n 30                    # the study sets (issue 12)
    python benchmarks/build_library.py --sets mcsf-n40-60 --no-runs \
        --merge new_results.csv                             # add later results only

Study sets (``STUDY_SETS``, the MC-SF family of the exact benchmarks) are built
differently from the generated sets: their figures are harvested from the
committed result CSVs and merge CSVs (``benchmarks/library_figures.py``: every
figure with its method, time limit, status, result file, commit and machine),
plus this build's own runs (:class:`StudyInstance`): cheap algorithms whose
best schedule is checked and shipped (``schedule``), CP-SAT warm-started from it
where a proven optimum is not yet reached by a shipped schedule, the bound of
``lpsched.models.bounds`` up to ``--bound-max-n`` and the combinatorial bound
below. ``best_known`` is the smallest upper figure (``best_known_verified``
says whether the shipped schedule reaches it), ``lower_bound`` the largest
lower figure, ``optimum`` their value when they are equal. Re-running keeps the
figures and the schedule of the existing file (a better schedule replaces it).

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
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))  # library_figures, common

from library_figures import (  # noqa: E402
    Figure,
    MergeError,
    dedupe,
    harvest,
    read_merge_csv,
    short_machine,
    summarize,
)

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


# -- study sets (issue 12): figures harvested from committed results ---------------------------

STUDY_SETS: dict[str, list[tuple[int, int]]] = {
    # benchmarks/results/exact_scaling.csv: n = 10..20, seeds 1000 + 100 n + k
    "mcsf-n10-20": [(n, 1000 + 100 * n + k) for n in (10, 12, 14, 16, 18, 20) for k in range(4)],
    # benchmarks/results/cpsat_proofs.csv: n = 20 and 30, 8 seeds each
    "mcsf-n20-30": [(n, 1000 * n + k) for n in (20, 30) for k in range(8)],
    # benchmarks/results/exact_synthetic.csv: n = 40..60 without 50, seed k
    "mcsf-n40-60": [(40 + k + (k >= 10), k) for k in range(20)],
}

BUILD_SOURCE = "benchmarks/build_library.py"


def head_commit() -> str | None:
    """Short hash of HEAD, with ``+dirty`` when the work tree has changes (None outside git)."""
    import subprocess

    try:
        run = functools.partial(subprocess.run, capture_output=True, text=True, check=True,
                                timeout=30, cwd=ROOT)
        head = run(["git", "rev-parse", "--short", "HEAD"]).stdout.strip()
        dirty = run(["git", "status", "--porcelain", "--untracked-files=no"]).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


class StudyInstance:
    """Figures and the shipped schedule of one study instance (module docstring).

    ``figures`` starts from the harvested and previously stored figures; the
    methods add this build's runs (:meth:`run_algorithms`, :meth:`reach_optimum`,
    :meth:`add_bounds`) and merged rows (:meth:`merge`); :meth:`metadata` writes
    them out. The shipped schedule is the best checker-verified one seen.
    """

    def __init__(self, inst: Instance, figures: list[Figure], machine: str, commit: str | None):
        self.inst = inst
        self.machine, self.commit = machine, commit
        self.figures = list(figures)
        self.schedule: dict | None = None  # {"objective", "by", "starts"}

    def offer(self, starts, by: str, time_limit: float | None, *, source: str = BUILD_SOURCE,
              commit: str | None = None, machine: str | None = None) -> bool:
        """Check ``starts``; keep them as the shipped schedule when strictly better."""
        rep = check(self.inst, list(starts))
        if not rep.feasible:
            raise SystemExit(f"{self.inst.name}: schedule from {by} is infeasible: "
                             f"{rep.reason()}")
        if self.schedule is not None and rep.objective >= self.schedule["objective"]:
            return False
        self.schedule = {"objective": int(rep.objective), "by": by,
                         "time_limit": time_limit, "source": source,
                         "commit": commit if source != BUILD_SOURCE else self.commit,
                         "machine": machine if source != BUILD_SOURCE else self.machine,
                         "starts": [int(x) for x in starts]}
        return True

    def lower(self, value: int, method: str, time_limit: float | None = None) -> None:
        self.figures.append(Figure("lower", int(value), method, BUILD_SOURCE, self.commit,
                                   self.machine, time_limit))

    def run_algorithms(self, algos: list[str], time_limit: float) -> None:
        """Each algorithm once (seed 0); its schedule is offered."""
        for name in algos:
            res = solve(self.inst, name, time_limit=time_limit, seed=0)
            if res.schedule is not None and res.status != SolveStatus.ERROR:
                self.offer(res.schedule.starts, f"{name} (seed 0)", time_limit)

    def proven_value(self) -> int | None:
        """The optimum if the figures prove one (an upper figure equal to the best bound)."""
        best_lb = max(f.value for f in self.figures if f.kind == "lower")
        ups = [f.value for f in self.figures if f.kind == "upper"]
        if self.schedule is not None:
            ups.append(self.schedule["objective"])
        return best_lb if best_lb in ups else None

    def reach_optimum(self, time_limit: float) -> None:
        """CP-SAT (1 worker, seed 0) from the shipped schedule when a proven optimum is lower."""
        opt = self.proven_value()
        if opt is None or self.schedule is None or self.schedule["objective"] <= opt:
            return
        res = solve(self.inst, "cpsat", time_limit=time_limit, seed=0, threads=1,
                    incumbent=self.schedule["starts"])
        if res.schedule is not None:
            self.offer(res.schedule.starts, "cpsat (events, 1 worker, seed 0, hint: the "
                       "previous shipped schedule)", time_limit)
        if res.status == SolveStatus.OPTIMAL:
            self.lower(res.objective, "cpsat (events, 1 worker, seed 0): proved optimal",
                       time_limit)

    def add_bounds(self, bound_max_n: int, time_limit: float) -> None:
        """The combinatorial bound, and ``lower_bound(method='best')`` up to ``bound_max_n``."""
        have = {f.method for f in self.figures if f.source == BUILD_SOURCE}
        comb = "combinatorial area/decode bound (build_library.fallback_lower_bound)"
        if comb not in have:
            self.lower(fallback_lower_bound(self.inst), comb)
        if self.inst.n <= bound_max_n:  # recomputed: kept when it beats the stored ones
            from lpsched.models.bounds import lower_bound as bound_fn

            b = bound_fn(self.inst, method="best", time_limit=time_limit)
            old = [f.value for f in self.figures if f.source == BUILD_SOURCE
                   and f.method.startswith("lpsched.models.bounds")]
            if not old or b.value > max(old):
                self.lower(b.value, f"lpsched.models.bounds.lower_bound(method='best') -> "
                           f"{b.details.get('best_of', b.method)}", time_limit)

    def merge(self, figs: list[Figure], starts: list[int] | None) -> None:
        self.figures.extend(figs)
        if starts is not None:
            up = next(f for f in figs if f.kind == "upper")
            if check(self.inst, starts).objective != up.value:
                raise SystemExit(f"{self.inst.name}: merged schedule of {up.method} does not "
                                 f"have the stated objective {up.value}")
            self.offer(starts, up.method, up.time_limit, source=up.source, commit=up.commit,
                       machine=up.machine)

    def final_figures(self) -> list[Figure]:
        """Stored figures: the shipped schedule as a verified upper figure, no other build run."""
        figs = [f for f in self.figures if not (f.kind == "upper" and f.verified)]
        if self.schedule is not None:
            sc = self.schedule
            figs.append(Figure("upper", sc["objective"], sc["by"], sc["source"], sc["commit"],
                               sc["machine"], sc["time_limit"], verified=True))
        return dedupe(figs)

    def metadata(self, n: int, seed: int) -> dict:
        figs = self.final_figures()
        try:
            summary = summarize(figs)
        except ValueError as exc:
            raise SystemExit(f"{self.inst.name}: {exc}") from None
        md = dict(self.inst.metadata)
        md.update({"generator": "lpsched.generators.mcsf_synthetic",
                   "generator_args": {"n": n, "seed": seed}, "seed": seed, **summary,
                   "figures": [f.to_dict() for f in figs]})
        if self.schedule is not None:
            md["schedule"] = {k: v for k, v in self.schedule.items() if v is not None}
        return md


def stored_state(path: Path, inst: Instance) -> tuple[list[Figure], dict | None]:
    """Figures and schedule of an existing file for the same requests (else nothing)."""
    if not path.exists():
        return [], None
    old = read_json(path)
    if old != inst:
        raise SystemExit(f"{path}: the stored requests differ from the generator's")
    md = old.metadata
    return [Figure.from_dict(d) for d in md.get("figures", [])], md.get("schedule")


def load_merges(paths: list[str] | None) -> dict[tuple[int, int], list]:
    """``(n, seed) -> [(figures, starts)]`` of the merge CSVs; exit status 2 on a bad file
    or a row for an instance outside the study sets."""
    merged: dict[tuple[int, int], list] = {}
    for path in paths or ():
        try:
            rows = read_merge_csv(Path(path))
        except (MergeError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        for key, figs, starts in rows:
            merged.setdefault(key, []).append((figs, starts))
    known = {key for cases in STUDY_SETS.values() for key in cases}
    unknown = sorted(set(merged) - known)
    if unknown:
        print(f"error: merge rows for (n, seed) not in any study set: {unknown}", file=sys.stderr)
        raise SystemExit(2)
    return merged


def build_study(args: argparse.Namespace, wanted: list[str]) -> None:
    """Build the study sets named in ``wanted`` (module docstring)."""
    from common import machine

    harvested = harvest()
    merged = load_merges(args.merge)
    commit = head_commit()
    algos = args.study_algos.split(",") if args.study_algos else []
    for set_name in wanted:
        folder = library.root() / set_name
        folder.mkdir(exist_ok=True)
        for n, seed in STUDY_SETS[set_name]:
            inst = mcsf_synthetic(n, seed)
            if args.instances and inst.name not in args.instances.split(","):
                continue
            t0 = time.perf_counter()
            path = folder / f"{inst.name}.json"
            old_figs, old_sched = stored_state(path, inst)
            mach = machine()
            st = StudyInstance(inst, harvested.get((n, seed), []) + old_figs,
                               short_machine(mach), commit)
            st.schedule = old_sched and {**{"time_limit": None, "commit": None,
                                            "machine": None}, **old_sched}
            for figs, starts in merged.get((n, seed), []):
                st.merge(figs, starts)
            if not args.no_runs:
                st.run_algorithms(algos, args.time_limit)
                if n <= args.cpsat_max_n:
                    st.reach_optimum(args.cpsat_time)
                st.add_bounds(args.bound_max_n if args.bound_max_n is not None else 0,
                              args.bound_time)
            md = st.metadata(n, seed)
            write_instance(inst.replace(metadata=md), path)
            print(f"{set_name}/{inst.name}: best {md['best_known']} (shipped "
                  f"{md.get('schedule', {}).get('objective')}) lb {md['lower_bound']}"
                  f"{' optimal' if md['optimum'] is not None else ''} "
                  f"({time.perf_counter() - t0:.1f} s) [load average{mach.split('load average')[-1]}]",
                  flush=True)


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
    ap.add_argument("--study-algos", default="mc-sf,sorted-f-cont,sf,local-search",
                    help="study sets: algorithms whose best checked schedule is shipped")
    ap.add_argument("--cpsat-max-n", type=int, default=18,
                    help="study sets: run CP-SAT to reach a proven optimum up to this n")
    ap.add_argument("--cpsat-time", type=float, default=60.0,
                    help="study sets: CP-SAT time limit (s) when reaching a proven optimum")
    ap.add_argument("--bound-time", type=float, default=60.0,
                    help="study sets: time limit (s) of lpsched.models.bounds.lower_bound")
    ap.add_argument("--merge", nargs="*", default=None,
                    help="study sets: merge CSVs (seed, n, optimum/best/bound, by[, starts, "
                         "time_limit, machine, source, commit]; benchmarks/library_figures.py)")
    ap.add_argument("--no-runs", action="store_true",
                    help="study sets: no algorithm or bound runs (harvest and merge only)")
    args = ap.parse_args(argv)
    base = library.root()
    if not args.index_only:
        sets = generated_sets()
        wanted = args.sets.split(",") if args.sets else list(sets)
        bad = [w for w in wanted if w not in sets and w not in STUDY_SETS]
        if bad:
            print(f"error: unknown set(s) {bad}; generated: {list(sets)}, study: "
                  f"{list(STUDY_SETS)}", file=sys.stderr)
            return 2
        build_study(args, [w for w in wanted if w in STUDY_SETS])
        for set_name in (w for w in wanted if w in sets):
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
