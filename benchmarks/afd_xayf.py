"""xA-yF rows of the AFD validation (run by ``benchmarks/afd_validation.py``).

Per workload x GPU x FFN type: the batch per attention device is the largest the
attention device's KV capacity allows (``B theta + 2 sqrt(B) sigma_L <= KV``, at most the
workload's nominal B), and the simulator enforces the same capacity (admission control).
Roofline fits (the measured kernels), FFN sharded over ``y`` devices (tp for the dense
FFN, y in 1, 2, 3, 4, 6, 8; ep with random routing for the MoE expert layer, y in 1, 2,
4).  The simulator runs every ``(x, y)`` of a grid around the theory's choices (every x
up to 24, then a 4% grid from 0.6 to 1.6 times the theory's x at each y) with one load
trajectory per x timed with every y (common random numbers).  Compared:

* per y: the refined closed form's x (barrier-aware, :func:`lpsched.afd.pair.refine_pair`)
  and the mean-load closed form's x against the simulation-optimal x at that y;
* jointly: the refined choice ``(x, y)`` (the ``lpsched afd size`` recommendation), the
  mean-load closed form's and the barrier-aware search's against the simulation-optimal
  pair (distance in the ratio x / y, throughput per device as a fraction of the best);
* the best rA-1F configuration (simulated, y = 1) against the chosen ``(x, y)``.
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np

from lpsched.afd.calibration import DEVICE_MEMORY_GB
from lpsched.afd.pair import size_pair
from lpsched.afd.simulator import sweep_pair
from lpsched.afd.sizing_ip import DeviceType, SizingProblem, kv_capacity, max_batch_for_kv, solve_sizing
from lpsched.afd.topology import build_bundle_model

DENSE_Y = (1, 2, 3, 4, 6, 8)
MOE_Y = (1, 2, 4)
X_CAP = 256
#: Float columns of ``afd_xayf.csv`` that can read back as integers.
FLOAT_COLUMNS = ("theta", "gain_vs_ra1f", "theory_tok_s", "thr_th_tok_s", "thr_best_tok_s",
                 "thr_ra1f_tok_s")


def kv_batch(wl, gpu: str, B0: int, z: float = 2.0) -> tuple[int, float]:
    """The batch per attention device under the KV capacity, and the capacity (tokens)."""
    cap = kv_capacity(DEVICE_MEMORY_GB[gpu])
    return min(B0, max_batch_for_kv(wl.stats(), cap, z, B0)), cap


def x_grid(xs: list[int], full_upto: int = 24, lo: float = 0.6, hi: float = 1.6,
           step: float = 0.04) -> list[int]:
    """Every x up to ``full_upto``, then ``x (1 + step)^k`` between ``lo x`` and ``hi x``
    for every theory choice ``x`` in ``xs`` (integers, at most :data:`X_CAP`)."""
    out = set(range(1, full_upto + 1))
    for x in xs:
        v = lo * x
        while v <= hi * x + 1:
            out.add(int(round(v)))
            v *= 1 + step
        out.update({x - 1, x, x + 1})
    return sorted(v for v in out if 1 <= v <= X_CAP)


def _per_y(wname, gpu, ffn, B, ys, grid, per, at) -> list[dict]:
    """Per y: the closed forms' x against the simulation-optimal x at that y."""
    out = []
    for y in ys:
        col = {x: at(x, y) for x in grid}
        xs_ = max(col, key=col.get)
        xb, xc = per[y]["x_int_barrier"], per[y]["x_int"]
        out.append({"workload": wname, "gpu": gpu, "ffn": ffn, "B": B, "y": y,
                    "x_cf": xc, "x_bar": xb, "x_sim": xs_, "regime": per[y]["regime"],
                    "dx_cf": abs(xc - xs_) / xs_, "dx_bar": abs(xb - xs_) / xs_,
                    "thr_frac_cf": col.get(xc, math.nan) / col[xs_],
                    "thr_frac_bar": col.get(xb, math.nan) / col[xs_],
                    "thr_sim_tok_s": col[xs_], "x_at_grid_edge": xs_ == max(grid)})
    return out


def ip_pair(wl, B, link, gpu, ffn, xs) -> tuple[int, int]:
    """The sizing integer program's ``(x, y)`` for one bundle at batch ``B``.

    :func:`lpsched.afd.sizing_ip.solve_sizing` with one device type of cost 1 (throughput
    per cost = per device), ``x`` among the simulated grid ``xs``, ``y`` among this FFN
    type's shard counts, the attention device's KV capacity, barrier-aware stage times."""
    dense = not ffn.startswith("dsv3")
    p = SizingProblem(wl, (DeviceType(gpu, gpu, 1.0),), ffn_model=ffn, r_values=tuple(xs),
                      batch_sizes=(B,), y_values=DENSE_Y if dense else MOE_Y,
                      kind="roofline", link=link, objective="throughput_per_cost",
                      max_bundles=1, routing="balanced" if dense else "random")
    res = solve_sizing(p)
    if res.status != "optimal" or len(res.chosen) != 1:
        raise RuntimeError(f"sizing IP on {gpu} {ffn} B={B}: {res.status} {res.infeasible}")
    (c, _n), = res.chosen
    return c.r, c.y


def add_ip_columns(rows: list[dict], W) -> None:
    """``x_ip``, ``y_ip``, ``d_ratio_ip`` and ``thr_frac_ip`` of every row, the IP's pair
    read off the row's simulated surface (no new simulation)."""
    for r in rows:
        wl, _reqs, _B0, link, _ffns, _note = W[r["workload"]]
        surf = {tuple(map(int, k.split(","))): float(v) for k, v in r["surface"].items()}
        x, y = ip_pair(wl, int(r["B"]), link, r["gpu"], r["ffn"], sorted({k[0] for k in surf}))
        best = max(surf.values())
        xs, ys = int(r["x_sim"]), int(r["y_sim"])
        r.update(x_ip=x, y_ip=y, d_ratio_ip=abs(x / y - xs / ys) / (xs / ys),
                 thr_frac_ip=surf[(x, y)] / best)


def run_pair_row(wname, wl, reqs, B0, link, gpu, ffn, n_requests) -> dict:
    """Theory and simulation over the (x, y) grid of one workload x GPU x FFN type."""
    dense = not ffn.startswith("dsv3")
    ys = DENSE_Y if dense else MOE_Y
    routing = "balanced" if dense else "random"
    B, cap = kv_batch(wl, gpu, B0)
    models = {y: build_bundle_model(gpu, "llama3-70b", ffn, kind="roofline", link=link,
                                    ffn_devices=y, routing=routing) for y in ys}
    th = size_pair(models, wl, B, x_max=X_CAP)
    per = {r["ffn_devices"]: r for r in th["per_ffn_devices"]}
    grid = x_grid([v for r in per.values() for v in (r["x_int"], r["x_int_barrier"])]
                  + [th["search"]["attention_instances"]])
    kw = {"requests": reqs} if reqs is not None else {"n_requests": n_requests}
    t0 = time.perf_counter()
    sw = sweep_pair(models, wl, grid, B=B, seed=1, kv_capacity=cap, **kw)
    dt = time.perf_counter() - t0
    res = sw["results"]
    thr = {k: v.throughput_per_instance for k, v in res.items()}
    best = sw["best"]

    def at(x, y):
        return thr.get((x, y), float("nan"))

    def dratio(x, y):
        return abs(x / y - best[0] / best[1]) / (best[0] / best[1])

    picks = {"th": (th["attention_instances"], th["ffn_devices"]),
             "cf": (th["closed_form"]["attention_instances"], th["closed_form"]["ffn_devices"]),
             "se": (th["search"]["attention_instances"], th["search"]["ffn_devices"])}
    ra1f = max(grid, key=lambda x: at(x, 1))
    pick = res[picks["th"]]
    row = {"workload": wname, "gpu": gpu, "ffn": ffn, "parallel": "tp" if dense else "ep",
           "routing": routing, "B": B, "kv_capacity": cap, "theta": wl.stats().theta,
           "x_th": picks["th"][0], "y_th": picks["th"][1], "regime": th["regime"],
           "x_cf": picks["cf"][0], "y_cf": picks["cf"][1],
           "x_se": picks["se"][0], "y_se": picks["se"][1], "x_sim": best[0], "y_sim": best[1]}
    for tag, (x, y) in picks.items():
        row[f"d_ratio_{tag}"] = dratio(x, y)
    for tag, (x, y) in picks.items():
        row[f"thr_frac_{tag}"] = at(x, y) / thr[best]
    row.update({
        "thr_th_tok_s": at(*picks["th"]), "thr_best_tok_s": thr[best],
        "theory_tok_s": th["throughput_per_device"],
        "r_ra1f": ra1f, "thr_ra1f_tok_s": at(ra1f, 1),
        "gain_vs_ra1f": at(*picks["th"]) / at(ra1f, 1),
        "idle_A_ra1f": res[(ra1f, 1)].idle_attention, "idle_F_ra1f": res[(ra1f, 1)].idle_ffn,
        "idle_A_th": pick.idle_attention, "idle_F_th": pick.idle_ffn,
        "kv_overflow_th": pick.kv.get("overflow", 0.0),
        "kv_blocked_th": pick.kv.get("blocked_slot_steps", 0),
        "kv_load_th": pick.kv.get("mean_load_fraction", 0.0),
        "grid_x": len(grid), "grid_y": len(ys), "sweep_s": dt,
        "per_y": _per_y(wname, gpu, ffn, B, ys, grid, per, at),
        "surface": {f"{x},{y}": v for (x, y), v in thr.items()}})
    return row


def run_all(W, gpus, n_requests, moe: bool = True) -> list[dict]:
    rows = []
    for wname, (wl, reqs, B0, link, ffns, _note) in W.items():
        for gpu in gpus:
            for ffn in ("llama3-70b", "dsv3-moe-e8"):
                if ffn not in ffns or (ffn != "llama3-70b" and not moe):
                    continue
                row = run_pair_row(wname, wl, reqs, B0, link, gpu, ffn, n_requests)
                add_ip_columns([row], W)
                rows.append(row)
                print(f"xA-yF {wname:12s} {gpu} {ffn:12s} B={row['B']} theory ({row['x_th']},"
                      f"{row['y_th']}) sim ({row['x_sim']},{row['y_sim']}) "
                      f"frac={row['thr_frac_th']:.3f} gain={row['gain_vs_ra1f']:.2f} "
                      f"({row['sweep_s']:.0f}s, {row['grid_x']} x)", flush=True)
    return rows


def summary_lines(rows: list[dict]) -> list[str]:
    """Target counts: ratio (or x) within 10% and throughput >= 99% of the simulated best."""
    out = []
    for label, kd, kf in (("refined closed form (recommended)", "d_ratio_th", "thr_frac_th"),
                          ("mean-load closed form", "d_ratio_cf", "thr_frac_cf"),
                          ("barrier-aware search", "d_ratio_se", "thr_frac_se"),
                          ("sizing integer program", "d_ratio_ip", "thr_frac_ip")):
        if not all(kd in r for r in rows):
            continue
        a = sum(r[kd] <= 0.10 + 1e-12 for r in rows)
        b = sum(r[kf] >= 0.99 for r in rows)
        out.append(f"* {label}: x/y within 10% of the simulation-optimal pair's on {a}/"
                   f"{len(rows)} rows; throughput >= 99% of the best on {b}/{len(rows)}")
    per = [p for r in rows for p in r["per_y"]]
    for label, kd, kf in (("refined", "dx_bar", "thr_frac_bar"), ("mean-load", "dx_cf", "thr_frac_cf")):
        a = sum(p[kd] <= 0.10 + 1e-12 for p in per)
        b = sum(p[kf] >= 0.99 for p in per)
        out.append(f"* per y, {label} closed form x: within 10% of the simulation-optimal x at "
                   f"that y on {a}/{len(per)}; throughput >= 99% on {b}/{len(per)}")
    return out


def misses(rows, kd="d_ratio_th", kf="thr_frac_th") -> list[str]:
    return [f"`{r['workload']}` {r['gpu']} {r['ffn']}: theory ({r['x_th']}, {r['y_th']}), "
            f"simulation ({r['x_sim']}, {r['y_sim']}), ratio off by {r[kd]:.1%}, throughput "
            f"{r[kf]:.1%} of the best" for r in rows if r[kd] > 0.10 + 1e-12 or r[kf] < 0.99]


def per_y_misses(rows) -> list[str]:
    return [f"`{p['workload']}` {p['gpu']} {p['ffn']} y={p['y']}: x {p['x_bar']} vs simulated "
            f"{p['x_sim']} ({p['dx_bar']:.0%}), throughput {p['thr_frac_bar']:.1%}"
            for r in rows for p in r["per_y"] if p["dx_bar"] > 0.10 + 1e-12
            or p["thr_frac_bar"] < 0.99]


def plot_surfaces(rows: list[dict], path, title: str) -> bool:
    """Throughput per device over (x, y) from the simulation, one panel per row, with the
    theory's choice (white circle) and the simulation optimum (black cross)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no plots", file=sys.stderr)
        return False
    if not rows:
        return False
    ncol = 2
    nrow = math.ceil(len(rows) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(11, 2.9 * nrow), squeeze=False)
    for ax, r in zip(axes.ravel(), rows):
        pts = {tuple(map(int, k.split(","))): v for k, v in r["surface"].items()}
        xs = sorted({k[0] for k in pts})
        ys = sorted({k[1] for k in pts})
        Z = np.array([[pts.get((x, y), np.nan) for x in xs] for y in ys])
        mesh = ax.pcolormesh(np.arange(len(xs) + 1) - 0.5, np.arange(len(ys) + 1) - 0.5, Z,
                             shading="flat", cmap="viridis")
        fig.colorbar(mesh, ax=ax, label="tokens/s per device")
        ax.plot(xs.index(r["x_th"]), ys.index(r["y_th"]), "o", mfc="none", mec="white", ms=9,
                mew=2, label=f"theory ({r['x_th']}, {r['y_th']})")
        ax.plot(xs.index(r["x_sim"]), ys.index(r["y_sim"]), "x", color="black", ms=9, mew=2,
                label=f"simulation best ({r['x_sim']}, {r['y_sim']})")
        step = max(1, len(xs) // 12)
        ax.set_xticks(range(0, len(xs), step))
        ax.set_xticklabels([xs[i] for i in range(0, len(xs), step)], fontsize=7)
        ax.set_yticks(range(len(ys)))
        ax.set_yticklabels(ys, fontsize=7)
        ax.set_xlabel("x (attention instances; grid points, not to scale)", fontsize=8)
        ax.set_ylabel("y (FFN devices)", fontsize=8)
        ax.set_title(f"{r['workload']} / {r['gpu']} / B={r['B']} ({r['regime']})", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    for ax in axes.ravel()[len(rows):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)
    return True


def write_csvs(rows: list[dict], results) -> None:
    """``afd_xayf.csv`` (one row per workload x GPU x FFN), ``afd_xayf_per_y.csv`` and
    ``afd_xayf_surface.csv`` (simulated throughput per device at every grid point)."""
    import csv

    def dump(path, recs):
        cols = list(recs[0])
        with open(path, "w", newline="") as fh:
            w = csv.DictWriter(fh, cols)
            w.writeheader()
            for r in recs:
                w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})

    dump(results / "afd_xayf.csv", [{k: v for k, v in r.items() if k not in ("per_y", "surface")}
                                    for r in rows])
    dump(results / "afd_xayf_per_y.csv", [p for r in rows for p in r["per_y"]])
    dump(results / "afd_xayf_surface.csv",
         [{"workload": r["workload"], "gpu": r["gpu"], "ffn": r["ffn"], "x": k.split(",")[0],
           "y": k.split(",")[1], "throughput_per_device": v}
          for r in rows for k, v in r["surface"].items()])


def read_csvs(results, read_rows) -> list[dict]:
    """Rows of :func:`write_csvs` back (``read_rows`` parses a CSV into dicts)."""
    rows = read_rows(results / "afd_xayf.csv")
    per = read_rows(results / "afd_xayf_per_y.csv")
    surf = read_rows(results / "afd_xayf_surface.csv")
    for r in rows:
        for k in FLOAT_COLUMNS:  # a float written as "1" reads back as an int
            if isinstance(r.get(k), int):
                r[k] = float(r[k])
        key = (r["workload"], r["gpu"], r["ffn"])
        r["per_y"] = [p for p in per if (p["workload"], p["gpu"], p["ffn"]) == key]
        r["surface"] = {f"{s['x']},{s['y']}": s["throughput_per_device"] for s in surf
                        if (s["workload"], s["gpu"], s["ffn"]) == key}
    return rows
