"""Benchmark: peak memory and build time of the exact models, and the fit used by the memory guard.

For each model kind and instance, a fresh Python process sets the instance and its
start windows up, records its peak resident memory (``ru_maxrss``), then builds the
model and runs the solver for ``--seconds`` (default 10 s; for ``export``: writes the
MPS and LP files) and records the peak again. The growth is what the guard of
:mod:`lpsched.models.guard` estimates. Kinds:

* ``highspy`` - :func:`lpsched.models.highs_mip.run_mip_model` (sparse arrays, HiGHS model,
  MIP search), the path of ``milp`` in-process and in its child process;
* ``pulp`` - :func:`lpsched.models.time_indexed.build_time_indexed` solved through PuLP's
  HiGHS interface (``milp`` with ``engine="pulp"``);
* ``export`` - the same PuLP model written by ``writeMPS`` and ``writeLP`` (``lpsched export``);
  also the file sizes;
* ``cpsat-events`` / ``cpsat-cumulative`` - :func:`lpsched.models.cpsat.build_cpsat` and
  ``CpSolver.Solve`` with one worker.

Size measures: memory non-zeros ``sum_i |W_i| o_i`` for the time-indexed model
(:func:`lpsched.models.guard.time_indexed_size`), :func:`lpsched.models.guard.cpsat_size` for
CP-SAT. Instances: ``mcsf_synthetic(n, 1)`` and samples of the bundled conversation profile
with trace-rate arrivals (``sample_instance("azure_conv_2023", n, M, 1, arrivals="trace-rate")``).
The fit is least squares of growth on size (and columns, for the time-indexed model; with
an intercept) over the cases above ``--fit-min`` MB, reported with its largest relative
error; the guard's constants (``MILP_BYTES``, ``CPSAT_BYTES``, ``FILE_BYTES``,
``*_BUILD_SECONDS`` in :mod:`lpsched.models.guard`) are rounded from it, and every case
lists the guard's estimate next to the measurement (``guard_over_measured``). HiGHS's and
CP-SAT's memory keeps growing during the search (node queue, learnt clauses): the
figures hold for ``--seconds`` of search, not for arbitrarily long ones.

Usage (from the repository root; one process at a time, a few minutes)::

    python benchmarks/bench_model_memory.py

Writes ``benchmarks/results/model_memory.{md,csv}``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import load_average, machine, write_results  # noqa: E402

#: (kind, instance spec) pairs measured by default.
CASES = (
    [("highspy", f"mcsf:{n}") for n in (8, 12, 16, 20, 30, 40, 50, 60)]
    + [("highspy", spec) for spec in ("conv:10:4096", "conv:20:4096", "conv:40:16384")]
    + [("pulp", f"mcsf:{n}") for n in (8, 12, 16, 20, 25, 30, 40)]
    + [("export", f"mcsf:{n}") for n in (8, 12, 16, 20, 25, 30, 40)]
    + [("cpsat-events", f"mcsf:{n}") for n in (20, 40, 60, 100, 150)]
    + [("cpsat-events", f"conv:{n}:16384") for n in (50, 100, 200, 300, 400)]
    + [("cpsat-cumulative", f"mcsf:{n}") for n in (20, 40, 60, 100)]
    + [("cpsat-cumulative", f"conv:{n}:16384") for n in (50, 100, 200, 400)]
)


#: Regressors of the memory fit, by kind (with an intercept); PuLP's and the cumulative
#: model's size is nearly collinear with the columns / requests on these families.
REGRESSORS = {"highspy": ("size", "columns"), "pulp": ("size",), "export": ("size", "columns"),
              "cpsat-events": ("size", "n"), "cpsat-cumulative": ("size",)}
UNIT = {"size": "unit", "columns": "column", "n": "request"}


def make_instance(spec: str):
    from lpsched.generators import mcsf_synthetic
    from lpsched.workloads import sample_instance

    parts = spec.split(":")
    if parts[0] == "mcsf":
        return mcsf_synthetic(int(parts[1]), 1)
    return sample_instance("azure_conv_2023", int(parts[1]), int(parts[2]), 1,
                           arrivals="trace-rate", too_large="resample")


def peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(kind: str, spec: str, seconds: float) -> dict:
    """One case, in this (fresh) process."""
    import numpy as np

    from lpsched.models.guard import cpsat_size, time_indexed_size
    from lpsched.models.windows import start_windows
    from lpsched.stop import Deadline

    inst = make_instance(spec)
    w = start_windows(inst)
    columns, nnz = time_indexed_size(inst, w)
    row = {"kind": kind, "instance": spec, "n": inst.n, "columns": columns, "nonzeros": nnz}
    if kind.startswith("cpsat"):
        import ortools.sat.python.cp_model as cp_model

        from lpsched.models.cpsat import build_cpsat

        formulation = kind.split("-")[1]
        row["size"] = cpsat_size(inst, formulation)
        base = peak_bytes()
        t = time.perf_counter()
        m = build_cpsat(inst, windows=w, formulation=formulation)
        row["build_s"] = round(time.perf_counter() - t, 3)
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        solver.parameters.max_time_in_seconds = seconds
        solver.Solve(m.model)
    elif kind == "highspy":
        from lpsched.models.highs_mip import run_mip_model
        from lpsched.models.symmetry import relabel_twins

        row["size"] = nnz
        warm = relabel_twins(inst, w.incumbent)
        opts = {"output_flag": False, "threads": 1, "presolve": "off", "mip_rel_gap": 0.0}
        base = peak_bytes()
        run = run_mip_model(inst, w, warm, symmetry_breaking=True, tail_families=0,
                            options=opts, deadline=Deadline(seconds + 1e-3))
        row["build_s"] = round(run.build_seconds, 3)
    else:
        from lpsched.models.time_indexed import build_time_indexed, highs_solver

        row["size"] = nnz
        base = peak_bytes()
        t = time.perf_counter()
        m = build_time_indexed(inst, windows=w, warm_start=kind == "pulp")
        row["build_s"] = round(time.perf_counter() - t, 3)
        if kind == "pulp":
            solver = highs_solver(time_limit=seconds, presolve="off")
            solver.deadline = Deadline(seconds + 5)
            load = solver.buildSolverModel

            def timed(lp):  # PuLP's load of the model into highspy, part of the build
                t1 = time.perf_counter()
                load(lp)
                row["build_s"] = round(row["build_s"] + time.perf_counter() - t1, 3)

            solver.buildSolverModel = timed
            m.problem.solve(solver)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                for fmt in ("mps", "lp"):
                    path = Path(tmp) / f"m.{fmt}"
                    t = time.perf_counter()
                    (m.problem.writeMPS if fmt == "mps" else m.problem.writeLP)(str(path))
                    row[f"write_{fmt}_s"] = round(time.perf_counter() - t, 3)
                    row[f"{fmt}_bytes"] = path.stat().st_size
    row["growth_mb"] = round((peak_bytes() - base) / 1e6, 1)
    del np
    return row


def fit(xs: list[list[float]], ys: list[float]) -> tuple[list[float], float]:
    """Least squares of the *relative* error of ``y = sum_k a_k x_k + c`` (each case weighted
    by ``1 / y``, so that small and large models count alike); returns ``([a_1, ..., c],
    largest relative error)``."""
    import numpy as np

    X = np.hstack([np.asarray(xs, float).reshape(len(ys), -1), np.ones((len(ys), 1))])
    y = np.asarray(ys, float)
    coef, *_ = np.linalg.lstsq(X / y[:, None], np.ones_like(y), rcond=None)
    err = float(np.max(np.abs(X @ coef - y) / y)) if len(y) else float("nan")
    return [float(v) for v in coef], err


def estimate(row: dict) -> tuple[float, float]:
    """The guard's estimates for a measured case: ``(bytes, build seconds)``."""
    from lpsched.models import guard

    kind = row["kind"]
    if kind.startswith("cpsat"):
        return (guard.cpsat_bytes(row["size"], row["n"], kind.split("-")[1]),
                guard.estimate_build_seconds(kind, row["size"]))
    secs = guard.estimate_build_seconds(kind, row["nonzeros"]) \
        if kind in guard.MILP_BUILD_SECONDS else float("nan")  # export: no time guard
    return guard.estimate_model_bytes(row["columns"], row["nonzeros"], kind), secs


def _read_rows(path: Path) -> list[dict]:
    import csv

    def num(v: str):
        try:
            return int(v)
        except ValueError:
            try:
                return float(v)
            except ValueError:
                return v

    with path.open() as fh:
        return [{k: num(v) for k, v in r.items() if v != ""} for r in csv.DictReader(fh)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=10.0, help="solver seconds per case")
    p.add_argument("--fit-min", type=float, default=20.0,
                   help="fit on cases with at least this growth (MB)")
    p.add_argument("--kinds", default="", help="comma-separated kinds (default: all)")
    p.add_argument("--one", nargs=2, metavar=("KIND", "SPEC"), help=argparse.SUPPRESS)
    p.add_argument("--refit", metavar="CSV", help="fit and report the cases of a previous run's "
                   "CSV again (after changing the guard's constants), without measuring")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "model_memory"))
    args = p.parse_args()
    if args.one:
        print(json.dumps(measure(*args.one, args.seconds)))
        return
    kinds = set(args.kinds.split(",")) if args.kinds else None
    started = machine()
    t0 = time.perf_counter()
    rows = [] if not args.refit else _read_rows(Path(args.refit))
    header = None
    if args.refit:  # keep the measured run's machine line
        header = Path(args.out).with_suffix(".md").read_text().splitlines()[2]
    for kind, spec in CASES if not args.refit else ():
        if kinds and kind not in kinds:
            continue
        out = subprocess.run([sys.executable, __file__, "--one", kind, spec, "--seconds",
                              str(args.seconds)], capture_output=True, text=True, cwd=ROOT)
        if out.returncode:
            print(f"{kind} {spec}: failed\n{out.stderr}", file=sys.stderr)
            continue
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(row, flush=True)
        rows.append(row)
    fits = []
    for kind in dict.fromkeys(r["kind"] for r in rows):
        rs = [r for r in rows if r["kind"] == kind]
        big = [r for r in rs if r["growth_mb"] >= args.fit_min]
        regs = REGRESSORS[kind]
        coef, err = fit([[r[k] for k in regs] for r in big], [r["growth_mb"] * 1e6 for r in big])
        terms = " + ".join(f"{a:.0f} B/{UNIT[k]}" for a, k in zip(coef, regs))
        slow = [r for r in rs if r["build_s"] >= 0.2]
        (sa, sc), serr = fit([[r["size"]] for r in slow], [r["build_s"] for r in slow])
        fits.append(f"| {kind} | {len(big)} of {len(rs)} | {terms} + {coef[-1] / 1e6:.1f} MB | "
                    f"{err:.0%} | {sa * 1e6:.2f} us/unit + {sc:.2f} s "
                    f"({len(slow)} cases >= 0.2 s) | {serr:.0%} |")
        if kind == "export":
            for fmt in ("mps", "lp"):
                (fa, fb, fc), ferr = fit([[r["size"], r["columns"]] for r in rs],
                                         [r[f"{fmt}_bytes"] for r in rs])
                fits.append(f"| {fmt} file | {len(rs)} | {fa:.1f} B/nnz + {fb:.0f} B/column + "
                            f"{fc / 1e6:.2f} MB | {ferr:.0%} | | |")
    for r in rows:
        r["growth_per_unit_b"] = round(r["growth_mb"] * 1e6 / r["size"], 1)
        est_b, est_s = estimate(r)
        r["guard_mb"] = round(est_b / 1e6, 1)
        r["guard_over_measured"] = round(est_b / (r["growth_mb"] * 1e6), 2)
        r["guard_build_s"] = round(est_s, 3)
        if r["kind"] == "export":
            from lpsched.models.guard import estimate_file_bytes

            r["guard_mps_over_file"] = round(estimate_file_bytes(r["columns"], r["nonzeros"],
                                                                 "mps") / r["mps_bytes"], 2)
    columns = ["kind", "instance", "n", "columns", "nonzeros", "size", "build_s", "growth_mb",
               "growth_per_unit_b", "guard_mb", "guard_over_measured", "guard_build_s",
               "mps_bytes", "lp_bytes", "write_mps_s", "write_lp_s", "guard_mps_over_file"]
    rows = [{c: r.get(c, "") for c in columns} for r in rows]
    preamble = [
        "# Memory and build time of the exact models (the memory guard's calibration)",
        "",
        header or f"Machine: {started}; {load_average('at end')}; wall "
                  f"{time.perf_counter() - t0:.0f} s.",
        f"Each case in a fresh process: peak RSS growth over building the model and running the "
        f"solver for {args.seconds:g} s (export: writing the MPS and LP files). Size unit: "
        "memory non-zeros `sum_i |W_i| o_i` (time-indexed) or `cpsat_size` (CP-SAT). "
        "`guard_mb` is the estimate of `lpsched.models.guard` for the case, "
        "`guard_build_s` its build-time estimate.",
        "",
        f"Fit (least squares on the cases with at least {args.fit_min:g} MB growth) and its "
        "largest relative error; build time fitted on all cases:",
        "",
        "| kind | cases fitted | memory fit | max rel. error | build-time fit | max rel. error |",
        "|---|---|---|---|---|---|",
        *fits,
    ]
    write_results(Path(args.out), rows, preamble)


if __name__ == "__main__":
    main()
