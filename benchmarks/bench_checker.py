"""Benchmark: the checker on a 1,000,000-request schedule, against per-step scans.

Instance: ``n`` requests (default 10^6), ``s ~ U[0, 500]``, ``o ~ U[1, 500]``
(seeded), ``M = 65536``. Feasible schedule by a vectorised batch construction:
with ``B = M // 2`` and every peak ``s + o <= B``, request ``i`` joins batch
``floor(P_i / B)`` where ``P_i`` is the sum of the peaks before it, so a batch
holds less than ``2B <= M`` tokens; batches run one after another (a batch starts
when the longest request of the previous one completes). Infeasible variant: the
batch in the middle of the run is started together with the batches before it
(as many as needed for their first step to exceed ``M``). Sparse variant: the
feasible batches with idle gaps (batch ``b`` starts at ``gap * start_b``): the
same ``n``, a ``gap`` times longer horizon.

Timed, in the same run, on the same schedules:

* ``check``: :func:`lpsched.check.check` (sort + prefix sums, evaluates the
  ``n`` completion steps, bisection for the first violating step);
* ``dense numpy``: memory in *every* step ``1..makespan`` by difference arrays
  and a cumulative sum (:func:`lpsched.check.memory_profile`), then the first
  step above ``M``;
* ``python per-step``: a plain Python loop over every step that keeps the running
  count and sum of ``s - p`` from bucketed start/end events and tests
  ``m(t) = W + t N <= M``.

All three must agree on feasibility and on the first violating step.

Usage (from the repository root)::

    python benchmarks/bench_checker.py            # n = 1,000,000
    python benchmarks/bench_checker.py --n 100000

Writes ``benchmarks/results/checker.md`` and ``benchmarks/results/checker.csv``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import machine, write_results  # noqa: E402

from lpsched.check import check, memory_profile  # noqa: E402
from lpsched.instance import Instance  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"




def build(n: int, memory: int, seed: int, gap: int = 4):
    """Instance, a feasible batch schedule, an infeasible variant, a sparse feasible one."""
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 501, size=n)
    o = rng.integers(1, 501, size=n)
    half = memory // 2
    assert (s + o).max() <= half
    inst = Instance.from_arrays(memory, s, o, name=f"checker-bench-n{n}")
    peak = s + o
    before = np.cumsum(peak) - peak
    batch = before // half
    nb = int(batch[-1]) + 1
    longest = np.zeros(nb, dtype=np.int64)
    np.maximum.at(longest, batch, o)
    bstart = np.concatenate(([0], np.cumsum(longest)[:-1]))
    feasible = bstart[batch]
    # infeasible: batches mid-k..mid all start with batch mid-k, k grown until their
    # memory in the first step, sum(s + 1), exceeds M (a certain violation).
    mid = nb // 2
    k = 1
    while int((s[(batch >= mid - k) & (batch <= mid)] + 1).sum()) <= memory:
        k += 1
    infeasible = feasible.copy()
    infeasible[(batch >= mid - k) & (batch <= mid)] = bstart[mid - k]
    # sparse: the same batches with idle gaps (batch b starts at gap * bstart[b])
    sparse = gap * bstart[batch]
    return inst, feasible, infeasible, sparse


def dense_numpy(inst: Instance, starts: np.ndarray) -> tuple[bool, int | None]:
    steps, mem = memory_profile(inst, starts)
    over = np.flatnonzero(mem > inst.memory)
    return (over.size == 0, None if over.size == 0 else int(steps[over[0]]))


def python_per_step(inst: Instance, starts: np.ndarray) -> tuple[bool, int | None]:
    s = inst.prefill
    o = inst.decode
    M = inst.memory
    makespan = int((starts + o).max())
    w = (s - starts).tolist()
    begin: dict[int, list[int]] = {}
    end: dict[int, list[int]] = {}
    for i, (p, c) in enumerate(zip(starts.tolist(), (starts + o).tolist())):
        begin.setdefault(p + 1, []).append(i)
        end.setdefault(c + 1, []).append(i)
    W = 0
    N = 0
    for t in range(1, makespan + 1):
        for i in begin.get(t, ()):
            W += w[i]
            N += 1
        for i in end.get(t, ()):
            W -= w[i]
            N -= 1
        if W + t * N > M:
            return False, t
    return True, None


def timed(fn, *args, repeat: int = 1):
    """(result, (best wall time, best CPU time) of ``repeat`` runs)."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn(*args)
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return out, (wall, cpu)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--memory", type=int, default=65536)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3,
                    help="check and dense numpy: best of this many runs (python per-step: 1)")
    ap.add_argument("--gap", type=int, default=4,
                    help="stretch factor of the sparse schedule (batch b starts at gap*start_b)")
    ap.add_argument("--out", default=str(RESULTS / "checker"),
                    help="output path without suffix (.md and .csv are written)")
    args = ap.parse_args(argv)

    (inst, good, bad, sparse), t_build = timed(build, args.n, args.memory, args.seed, args.gap)
    small = Instance.from_arrays(10, [1, 1], [2, 2])
    for fn in (check, dense_numpy, python_per_step):  # warm-up: lazy imports, caches
        fn(small, np.array([0, 0]))
    rows = []
    for label, starts in (("feasible", good), ("infeasible", bad),
                          (f"feasible, idle gaps x{args.gap}", sparse)):
        rep, t_check = timed(check, inst, starts, repeat=args.repeat)
        (ok_np, first_np), t_np = timed(dense_numpy, inst, starts, repeat=args.repeat)
        (ok_py, first_py), t_py = timed(python_per_step, inst, starts)
        first_chk = None if rep.violation is None else rep.violation.step
        agree = (rep.feasible == ok_np == ok_py) and (first_chk == first_np == first_py)
        if not agree:
            raise SystemExit(f"disagreement on {label}: check {rep.feasible}/{first_chk}, "
                             f"numpy {ok_np}/{first_np}, python {ok_py}/{first_py}")
        rows.append({
            "schedule": label, "n": inst.n, "M": inst.memory, "makespan": rep.makespan,
            "feasible": rep.feasible, "first_violation": first_chk,
            "check_s": round(t_check[0], 4), "check_cpu_s": round(t_check[1], 4),
            "dense_numpy_s": round(t_np[0], 4), "dense_numpy_cpu_s": round(t_np[1], 4),
            "python_per_step_s": round(t_py[0], 4), "python_per_step_cpu_s": round(t_py[1], 4),
            "cpu_ratio_numpy_over_check": round(t_np[1] / t_check[1], 2),
            "cpu_ratio_python_over_check": round(t_py[1] / t_check[1], 2),
        })
        print(rows[-1], flush=True)

    lines = [
        "# Checker benchmark",
        "",
        f"Machine: {machine()}. Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        f"Command: `python benchmarks/bench_checker.py --n {args.n} --memory {args.memory} "
        f"--seed {args.seed} --gap {args.gap} --repeat {args.repeat}` "
        f"(instance + schedules built in {t_build[0]:.2f} s).",
        "",
        "`check` = `lpsched.check.check` (evaluates m(t) only at the n completion steps, "
        "bisection for the first violating step). Baselines in the same run: `dense numpy` "
        "= m(t) at every step by difference arrays (`memory_profile`); `python per-step` = "
        "plain Python loop over every step with running count/sum. All three agree on "
        "feasibility and the first violating step (the script stops otherwise). Times: "
        f"best of {args.repeat} runs after a warm-up (python per-step: one run); wall `_s` and "
        "CPU `_cpu_s` seconds, ratios on CPU time (other jobs shared the cores).",
    ]
    write_results(Path(args.out), rows, lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
