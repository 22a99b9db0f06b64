"""Benchmark: WAIT and Nested WAIT in the setting of Ao, Luo, Simchi-Levi, Wang (arXiv 2504.11320).

The paper evaluates in Vidur (Llama-2-7B on an A100) with synthetic multi-type workloads
and an LMSYS-Chat-1M sample, against vLLM and Sarathi. Its experiment section could not
be read here (docs/papers.md); the workloads below are the authors' own run scripts in
their public Vidur fork (``Luoxiaogan/vidur_or``):

* ``ten-type`` (``run_sh_nested_booking_limit.py``): prefill 60, decode 50, 100, ..., 500,
  rates proportional to 230, 110, 80, 70, 60, 40, 30, 20, 10, 10;
* ``two-type`` (``booking_limit_replica_scheduler.py``): (prefill, decode, rate) =
  (50, 156, 167), (100, 171, 31).

Our step model has one iteration per step and a KV budget ``M`` in tokens; the authors'
runs cap the running batch with a *total limit* ``L`` (128 in their scripts) rather than
by memory. We set ``M`` so that the fluid batch at which memory binds is ``L``
(``M = L sum lambda A / sum lambda o``, so WAIT's default thresholds are those of the
authors' ``total_limit = L``) [ours], for ``L = 128`` and ``L = 1024`` (the asymptotic
regime: larger thresholds). Arrivals are Poisson (exponential gaps, floored to steps) at
``rho`` times the fluid rate ``lambda* = M / E[A]``; types drawn i.i.d. by the shares.

Reported per run: throughput as the memory area completed per step over ``M`` in the
middle half of the arrival span, where an overloaded system is saturated (the fluid
benchmark's utilisation is 1; no schedule exceeds ``1 + max(o) / window``),
completions per step there over ``lambda*``, mean latency ``c - a`` and mean queueing
delay ``p - a`` (the first token comes one step after the start), evictions.
Baselines: ``fcfs`` (arrival order, look-ahead admission), ``vllm`` (vLLM's rule: admit
while blocks are free, preempt the newest on overflow), ``mc-sf``.
Sarathi's chunked prefill has no counterpart in the step model (prefill is one step).

Usage (from the repository root; about 3 minutes on 2 cores)::

    python benchmarks/bench_paper_ao.py
    python benchmarks/bench_paper_ao.py --span 1000 --loads 1.0 --limits 128

Writes ``benchmarks/results/paper_ao.md`` and ``benchmarks/results/paper_ao.csv``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, write_results  # noqa: E402

from lpsched import solve  # noqa: E402
from lpsched.check import check  # noqa: E402
from lpsched.fluid import areas, fluid_equilibrium  # noqa: E402
from lpsched.heuristics.fluid_wait import fluid_total_limit, nested_segments, wait_thresholds  # noqa: E402
from lpsched.instance import Instance  # noqa: E402

MIXES = {
    "ten-type": [(60, 50 * (k + 1), r) for k, r in
                 enumerate((230, 110, 80, 70, 60, 40, 30, 20, 10, 10))],
    "two-type": [(50, 156, 167), (100, 171, 31)],
}
ALGOS: tuple[tuple[str, dict], ...] = (
    ("wait", {}), ("wait", {"launch": "all"}), ("nested-wait", {}), ("fcfs", {}), ("vllm", {}),
    ("mc-sf", {}))


def memory_for(mix, limit: int) -> int:
    """``M = L sum lambda A / sum lambda o``: the budget whose memory-binding fluid batch is
    ``L`` running requests."""
    s, o, lam = (np.array(x, dtype=np.float64) for x in zip(*mix))
    a = areas(s.astype(np.int64), o.astype(np.int64)).astype(np.float64)
    return int(round(limit * float(lam @ a) / float(lam @ o)))


def poisson_instance(mix, M: int, rate: float, n: int, seed: int) -> Instance:
    rng = np.random.default_rng(seed)
    arrival = np.floor(np.cumsum(rng.exponential(1.0 / rate, n))).astype(np.int64)
    lam = np.array([r for _s, _o, r in mix], dtype=np.float64)
    pick = rng.choice(len(mix), n, p=lam / lam.sum())
    return Instance.from_arrays(M, [mix[k][0] for k in pick], [mix[k][1] for k in pick],
                                arrival, name="ao-poisson")


def measure(inst: Instance, algo: str, kw: dict, lam_star: float) -> dict:
    t0 = time.perf_counter()
    res = solve(inst, algo, seed=0, **kw)
    wall = time.perf_counter() - t0
    sched = res.schedule
    if sched is None or not check(inst, sched).feasible:
        raise RuntimeError(f"{algo} {kw}: no feasible schedule ({res.status})")
    c, p, a = sched.completions, sched.starts, inst.arrival
    span = int(a.max() - a.min())
    lo, hi = int(a.min()) + span // 4, int(a.min()) + 3 * span // 4  # saturated, if overloaded
    done = (c > lo) & (c <= hi)
    area = int(areas(inst.prefill, inst.decode)[done].sum())
    return {"util": round(area / (inst.memory * (hi - lo)), 3),
            "thr/lam*": round(int(done.sum()) / (hi - lo) / lam_star, 3),
            "mean_latency": round(float(np.mean(c - a)), 1),
            "mean_queue": round(float(np.mean(p - a)), 1),
            "evictions": int(res.stats.get("evictions", 0)),
            "wall_s": round(wall, 2)}


def thresholds(mix, M: int) -> str:
    """WAIT's ``n_j`` and Nested WAIT's ``n^(1)`` (default buffer) for the mix at ``M``."""
    s, o, lam = (np.array(x) for x in zip(*mix))
    p = lam / lam.sum()
    _b, n = wait_thresholds(o, p, fluid_total_limit(s, o, p, M))
    m = M - int(np.floor(0.05 * M))
    seg = nested_segments(o, p, fluid_total_limit(s, o, p, m))
    return f"WAIT n_j = {n.tolist()}; Nested WAIT n^(1) = {int(seg.per_stage[0])}"


def run(span: int, loads: list[float], limits: list[int], seed: int,
        notes: list[str]) -> list[dict]:
    rows = []
    for mix_name, mix in MIXES.items():
        s, o, lam = (np.array(x) for x in zip(*mix))
        for limit in limits:
            M = memory_for(mix, limit)
            eq = fluid_equilibrium(s, o, lam / lam.sum(), M)
            lam_star = eq.max_scale  # rates = shares (sum 1): theta* = M / E[A] per step
            notes.append(f"- {mix_name}, L = {limit}: M = {M}, lambda* = {lam_star:.4f}/step; "
                         + thresholds(mix, M))
            steps = max(span, 4 * int(o.max()))
            for rho in loads:
                n = int(rho * lam_star * steps)
                inst = poisson_instance(mix, M, rho * lam_star, n, seed)
                for algo, kw in ALGOS:
                    if kw.get("launch") == "all" and limit > min(limits):
                        continue  # the strict rule starves at every scale (see the reading)
                    name = algo + "".join(f" {k}={v}" for k, v in kw.items())
                    row = {"mix": mix_name, "L": limit, "M": M, "lambda*": round(lam_star, 4),
                           "rho": rho, "n": n, "algorithm": name, **measure(inst, algo, kw, lam_star)}
                    rows.append(row)
                    print(row, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--span", type=int, default=1500,
                    help="arrival span in steps (at least 4 max(o)); n = rho lambda* span")
    ap.add_argument("--loads", type=float, nargs="+", default=[0.8, 1.0, 1.2])
    ap.add_argument("--limits", type=int, nargs="+", default=[128, 1024])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "paper_ao"))
    args = ap.parse_args(argv)
    start = machine("at start")
    t0 = time.perf_counter()
    notes: list[str] = []
    rows = run(args.span, args.loads, args.limits, args.seed, notes)
    preamble = [
        "# WAIT and Nested WAIT in the authors' workloads (Ao, Luo, Simchi-Levi, Wang, arXiv 2504.11320)",
        "",
        f"Generated by `benchmarks/bench_paper_ao.py --span {args.span} --loads "
        f"{' '.join(map(str, args.loads))} --limits {' '.join(map(str, args.limits))} "
        f"--seed {args.seed}` in {time.perf_counter() - t0:.0f} s; {start}; "
        f"{machine('at end').split(', ')[-1]}.",
        "",
        "Step model (one iteration per step). `util`: memory area completed per step over M in "
        "the middle half of the arrival span (fluid benchmark = 1; at most 1 + max(o) / window "
        "for any schedule). `thr/lam*`: completions per step there over the fluid rate. "
        "`mean_queue`: start - arrival. Every schedule passed the checker.",
        "",
        *notes,
    ]
    write_results(Path(args.out), rows, preamble)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
