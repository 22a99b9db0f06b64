"""``lpsched afd ...``: fit, size, simulate, sweep, plan.

With no options each command runs the seed paper's base case (B = 256, mean
prefill 100, geometric decode with mean 500) on the bundled H200 calibration
(Llama-3-70B attention and dense FFN, NVLink link, one FFN device).
``--ffn-devices Y`` shards the FFN stage over ``Y`` devices (xA-yF; tensor parallel for
a dense FFN, expert parallel for an MoE one); ``size`` and ``plan`` also take a range
such as ``1-8`` (or a list ``1,2,4``) and search it.
"""

from __future__ import annotations

import argparse
import json

from lpsched.afd.calibration import load_calibration
from lpsched.paths import add_output_argument

EX = argparse.RawDescriptionHelpFormatter


def _fmt_table(rows, cols):
    from lpsched.cli import format_table
    return format_table(rows, cols)


def _add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("hardware and model")
    g.add_argument("--gpu", default="h200",
                   help="calibration: h100, h200 (bundled) or a CSV path (default h200)")
    g.add_argument("--ffn-gpu", default=None, help="FFN device calibration (default: --gpu)")
    g.add_argument("--model", default="llama3-70b", help="attention model (llama3-70b, llama3-8b)")
    g.add_argument("--ffn-model", default=None,
                   help="FFN model: llama3-70b, llama3-8b, dsv3-moe-e8, dsv3-moe-e32 "
                        "(default: --model)")
    g.add_argument("--fit", default="linear", choices=["linear", "linear-batch", "roofline"],
                   help="step-time model: the seed paper's linear fits (default), linear with "
                        "a batch term in attention, or roofline max(b, a*x)")
    g.add_argument("--link", default="nvlink",
                   help="nvlink, inter-node (fits of the Vidur H100 table) or a bandwidth in GB/s")
    g.add_argument("--ffn-devices", default="1", metavar="Y",
                   help="FFN devices per bundle: a number, or for size/plan a range (1-8) or "
                        "list (1,2,4) to search; tensor parallel for a dense FFN, expert "
                        "parallel for MoE (Y must divide its experts) (default 1: rA-1F)")
    g.add_argument("--ffn-link", default="nvlink",
                   help="link of the FFN devices' collectives (default nvlink: one node)")
    g.add_argument("--routing", default="balanced", choices=["balanced", "random"],
                   help="expert-parallel routing: rows split evenly, or each row to a random "
                        "device (the stage waits for the busiest)")


def _add_workload_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("workload")
    g.add_argument("--workload", default="geometric",
                   help="geometric (default), azure-conv, arxiv-sum (bundled trace profiles)")
    g.add_argument("--trace", default=None, help="trace CSV with prefill/decode columns (exact)")
    g.add_argument("--mean-prefill", type=float, default=100.0, help="geometric: mean prefill")
    g.add_argument("--mean-decode", type=float, default=500.0, help="geometric: mean decode")
    g.add_argument("--prefill-dist", default="fixed", choices=["fixed", "geometric"],
                   help="geometric workload: prefill length distribution")
    g.add_argument("-B", "--batch", type=int, default=256, help="slots per attention instance")


def _workload(args):
    from lpsched.afd import workload as wl
    if args.trace:
        return wl.trace_workload(args.trace)
    if args.workload == "geometric":
        return wl.geometric_workload(args.mean_prefill, args.mean_decode, args.prefill_dist)
    return wl.bundled_trace_workload(args.workload)


def _step_model(args, y: int | None = None):
    from lpsched.afd.topology import build_bundle_model
    y = _one_ffn_count(args) if y is None else y
    return build_bundle_model(args.gpu, args.model, args.ffn_model, kind=args.fit,
                              link=args.link, ffn_gpu=args.ffn_gpu, ffn_devices=y,
                              ffn_link=args.ffn_link, routing=args.routing)


def _ffn_counts(args) -> tuple[int, ...]:
    """``--ffn-devices``: ``4``, ``1-8`` or ``1,2,4``; a range keeps only the counts that
    can shard the FFN model (expert parallelism: divisors of its experts)."""
    from lpsched.afd.topology import default_parallel, valid_ffn_devices
    spec = str(args.ffn_devices).strip()
    try:
        if "-" in spec:
            lo, hi = (int(v) for v in spec.split("-", 1))
            if not 1 <= lo <= hi:
                raise ValueError
            values, ranged = tuple(range(lo, hi + 1)), True
        else:
            values, ranged = tuple(int(v) for v in spec.split(",")), False
    except ValueError:
        raise ValueError(f"--ffn-devices: {spec!r} is not a positive number, a range like "
                         "1-8 or a list like 1,2,4 (device type names moved to --ffn-types)") \
            from None
    ffn = args.ffn_model or args.model
    par = default_parallel(ffn)
    for v in values:
        why = valid_ffn_devices(ffn, par, v)
        if why and not ranged:
            raise ValueError(f"--ffn-devices: {why}")
    kept = tuple(v for v in values if not valid_ffn_devices(ffn, par, v))
    if not kept:
        raise ValueError(f"--ffn-devices {spec}: no count in the range can shard {ffn} "
                         f"({valid_ffn_devices(ffn, par, values[0])})")
    return kept


def _one_ffn_count(args) -> int:
    ys = _ffn_counts(args)
    if len(ys) != 1:
        raise ValueError(f"--ffn-devices: {args.afd_command} takes one number, not "
                         f"{args.ffn_devices!r} (size and plan search ranges)")
    return ys[0]


def _check_batch(args):
    if args.batch < 1:
        raise ValueError(f"--batch must be a positive integer, got {args.batch}")


def _emit(args, obj, rows=None) -> bool:
    """The flag scheme: ``--out FILE`` writes ``obj`` as JSON (``.json``) or ``rows`` as CSV
    (``.csv``, sweep), atomically; ``--json`` prints ``obj`` to stdout. True when stdout
    got the JSON (the command prints nothing else there)."""
    import sys

    from lpsched.cli import emit_json

    out = getattr(args, "out", None)
    if out and str(out).lower().endswith(".csv"):
        _write_csv(out, rows or [])
        print(f"wrote {out}", file=sys.stderr if args.json else sys.stdout)
        if args.json:
            print(json.dumps(obj, indent=1, default=_default))
        return bool(args.json)
    return emit_json(args, obj, what="AFD result")


def _default(o):
    if hasattr(o, "to_dict"):
        return o.to_dict()
    if hasattr(o, "tolist"):
        return o.tolist()
    raise TypeError(type(o).__name__)


def _write_csv(path, rows) -> None:
    import csv

    from lpsched.paths import atomic_open
    with atomic_open(path, "w", newline="", what="AFD CSV") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else [])
        w.writeheader()
        w.writerows(rows)


def _add_json_out(q, csv: bool = False) -> None:
    suffixes = (".json", ".csv") if csv else (".json",)
    q.add_argument("--json", action="store_true", help="print as JSON to stdout")
    add_output_argument(q, "--out", default=None, suffixes=suffixes, what="AFD result file",
                        help="write the JSON to this file (.json)" + (
                            "; or the table as CSV (.csv)" if csv else ""))


# -- commands -------------------------------------------------------------------------------


def _cmd_fit(args) -> int:
    cal = load_calibration(args.gpu)
    rows = cal.report()
    if _emit(args, {"gpu": cal.gpu, "source": cal.source, "time_unit": "ms per layer",
                     "fits": rows}):
        return 0
    print(f"calibration {cal.gpu}  ({cal.source}); times in ms per layer; errors relative")
    table = [{"role": r["role"], "model": r["model"], "fit": r["fit"], "n": r["n"],
              "median_err": f"{r['median_rel_error']:.1%}", "max_err": f"{r['max_rel_error']:.1%}",
              "rms_err": f"{r['rms_rel_error']:.1%}", "best": "*" if r["best"] else "",
              "params": " ".join(f"{k}={v:.3g}" for k, v in r["params"].items())}
             for r in rows]
    print(_fmt_table(table, ["role", "model", "fit", "n", "median_err", "max_err", "rms_err",
                             "best", "params"]))
    return 0


def _size_pair(args, ys):
    from lpsched.afd.pair import size_pair
    models = {y: _step_model(args, y) for y in ys}
    return size_pair(models, _workload(args), args.batch, horizon=args.horizon,
                     x_max=args.r_max)


def _print_pair(pr: dict, ys) -> None:
    span = f"y = {ys[0]}" if len(ys) == 1 else f"y in {','.join(map(str, ys))}"
    print(f"xA-yF ({span}, {pr['parallel']})  x = {pr['attention_instances']}, "
          f"y = {pr['ffn_devices']} (ratio {pr['ratio']:.2f}), {pr['regime']}, "
          f"{pr['throughput_per_device']:.0f} tokens/s per device; idle attention "
          f"{pr['idle_attention']:.0%}, FFN {pr['idle_ffn']:.0%}"
          + (f"  [at --r-max {pr['x_max']}: x may be larger]" if pr["at_x_max"] else ""))
    cf, se = pr["closed_form"], pr["search"]
    print(f"  closed form (mean load) x = {cf['attention_instances']}, y = {cf['ffn_devices']} "
          f"({cf['regime']}); barrier-aware search x = {se['attention_instances']}, "
          f"y = {se['ffn_devices']} ({se['throughput_per_device']:.0f} tokens/s per device)")
    if len(ys) > 1:
        rows = [{"y": r["ffn_devices"], "x*": round(r["x_star"], 2), "x": r["x_int"],
                 "regime": r["regime"], "x_barrier": r["x_int_barrier"],
                 "tokens/s/device": round(r["throughput_per_device_barrier"])}
                for r in pr["per_ffn_devices"]]
        print(_fmt_table(rows, list(rows[0])))


def _cmd_size(args) -> int:
    from lpsched.afd.ratio import size_bundle
    _check_batch(args)
    ys = _ffn_counts(args)
    out = size_bundle(_step_model(args, 1), _workload(args), args.batch, horizon=args.horizon,
                      r_max=args.r_max)
    pr = _size_pair(args, ys)
    out["xa_yf"] = pr
    for k in ("attention_instances", "ffn_devices", "throughput_per_device", "idle_attention",
              "idle_ffn"):
        out[k] = pr[k]
    if _emit(args, out):
        return 0
    c = out["coefficients"]
    print(f"workload   {out['workload']['name']}   B = {out['B']}   theta = {out['theta']:.1f} "
          f"tokens/slot (std {out['theta_std']:.1f})   T_bar = {out['T_bar']:.0f}")
    print(f"rA-1F coefficients ({c['unit']}): a_A={c['a_A']:.3g} b_A={c['b_A']:.3g} "
          f"a_C={c['a_C']:.3g} b_C={c['b_C']:.3g} a_F={c['a_F']:.3g} b_F={c['b_F']:.3g}")
    print(f"closed form  r_A={out['r_A']:.2f}  r_C={out['r_C']:.2f}  r_peak={out['r_peak']:.2f}"
          f"  ->  r* = {out['r_star']:.2f} ({out['regime']}), best integer r = {out['r_int']}"
          f"  ({out['throughput_per_instance']:.0f} tokens/s per device)")
    b = out["barrier"]
    limit = f"  [at --r-max {out['r_max']}: the optimum may be larger]"
    print(f"barrier-aware (slowest of r instances)  r* = {b['r_star']:.2f}, integer r = "
          f"{b['r_int']}  ({b['throughput_per_instance']:.0f} tokens/s per device)"
          + (limit if b["at_r_max"] else ""))
    ms = out["model_search"]
    print(f"search on the {ms['kind']} model  r* = {ms['r_star']:.2f}, integer r = {ms['r_int']}"
          + (limit if ms["at_r_max"] else ""))
    _print_pair(pr, ys)
    return 0


def _add_sim_options(p):
    g = p.add_argument_group("simulation")
    g.add_argument("--requests", type=int, default=10000, help="requests in the stream")
    g.add_argument("--seed", type=int, default=0, help="random seed")
    g.add_argument("--admission", default="random", choices=["random", "round-robin",
                                                             "least-load"],
                   help="which free slot gets a new request")
    g.add_argument("--micro-batches", type=int, default=None,
                   help="explicit micro-batch pipeline with m micro-batches (default: the seed "
                        "model's fully overlapped stages)")
    g.add_argument("--start", default="stationary", choices=["stationary", "fresh"],
                   help="initial slot state (stationary: no warm-up needed)")
    g.add_argument("--kv-capacity", default=None, metavar="TOKENS",
                   help="KV tokens per attention instance, enforced by admission control; "
                        "'auto': the attention GPU's HBM (bundled GPUs) (default: unlimited)")
    g.add_argument("--replay", action="store_true",
                   help="with --trace: replay the trace's requests in order instead of "
                        "sampling --requests of them")


def _sim_kwargs(args):
    if args.requests < 1:
        raise ValueError(f"--requests must be >= 1, got {args.requests}")
    kw = {"n_requests": args.requests, "seed": args.seed, "admission": args.admission,
          "micro_batches": args.micro_batches, "start": args.start,
          "kv_capacity": _kv_capacity_arg(args)}
    if args.replay:
        if not args.trace:
            raise ValueError("--replay needs --trace")
        from lpsched.afd.workload import read_trace_lengths
        kw["requests"] = read_trace_lengths(args.trace)
    return kw


def _kv_capacity_arg(args) -> float | None:
    spec = args.kv_capacity
    if spec is None:
        return None
    if str(spec).lower() == "auto":
        from lpsched.afd.calibration import DEVICE_MEMORY_GB
        from lpsched.afd.sizing_ip import kv_capacity
        if str(args.gpu).lower() not in DEVICE_MEMORY_GB:
            raise ValueError(f"--kv-capacity auto needs a bundled GPU ({', '.join(DEVICE_MEMORY_GB)}); "
                             "give a number of tokens")
        return kv_capacity(DEVICE_MEMORY_GB[str(args.gpu).lower()], args.model)
    try:
        value = float(spec)
    except ValueError:
        raise ValueError(f"--kv-capacity must be 'auto' or a number of tokens, got {spec!r}") \
            from None
    if not value > 0:
        raise ValueError(f"--kv-capacity must be > 0 tokens, got {spec}")
    return value


def _cmd_simulate(args) -> int:
    from lpsched.afd.ratio import size_bundle
    from lpsched.afd.simulator import simulate
    _check_batch(args)
    model, wl = _step_model(args), _workload(args)
    r = args.r
    if r is None and model.ffn_devices == 1:
        r = size_bundle(model, wl, args.batch)["r_int"]
    elif r is None:
        from lpsched.afd.pair import size_pair
        r = size_pair({model.ffn_devices: model}, wl, args.batch)["attention_instances"]
    s = simulate(model, wl, r=r, B=args.batch, **_sim_kwargs(args))
    if _emit(args, {**s.to_dict(), "attention_instances": s.r, "workload": wl.describe(),
                     "step_model": model.describe()}):
        return 0
    b = s.breakdown
    print(f"x = {s.r} attention instances, y = {s.ffn_devices} FFN devices  B = {s.B}  "
          f"admission {s.admission}  steps measured {s.steps} "
          f"(window {s.window[0]}..{s.window[1]} of {s.total_steps})")
    print(f"throughput   {s.throughput_per_instance:.0f} tokens/s per device   "
          f"{s.tokens_per_s:.0f} tokens/s per bundle")
    print(f"step (ms/layer)  tau {b['tau']:.4f}  t_A max {b['t_A_max']:.4f}  "
          f"t_A mean {b['t_A_mean']:.4f}  t_C {b['t_C']:.4f}  t_F {b['t_F']:.4f}")
    print(f"idle         attention {s.idle_attention:.1%}   FFN {s.idle_ffn:.1%}")
    if s.kv:
        print(f"KV capacity  {s.kv['capacity']:.0f} tokens per instance: mean load "
              f"{s.kv['mean_load_fraction']:.0%}, over capacity {s.kv['overflow']:.1%} of "
              f"instance-steps, {s.kv['blocked_slot_steps']} slot-steps waiting")
    return 0


def _cmd_sweep(args) -> int:
    from lpsched.afd.ratio import size_bundle
    from lpsched.afd.simulator import sweep
    _check_batch(args)
    if not 1 <= args.r_min <= args.r_max:
        raise ValueError(f"need 1 <= --r-min <= --r-max, got {args.r_min}..{args.r_max}")
    model, wl = _step_model(args), _workload(args)
    out = sweep(model, wl, range(args.r_min, args.r_max + 1), B=args.batch, **_sim_kwargs(args))
    theory = size_bundle(_step_model(args, 1), wl, args.batch, r_max=max(64, args.r_max))
    if model.ffn_devices > 1:  # the xA-yF closed form and refinement at this y
        from lpsched.afd.pair import size_pair
        pr = size_pair({model.ffn_devices: model}, wl, args.batch, x_max=max(64, args.r_max))
        row = pr["per_ffn_devices"][0]
        theory = {"r_star": row["x_star"], "r_int": row["x_int"], "regime": row["regime"],
                  "barrier": {"r_star": row["x_star_barrier"], "r_int": row["x_int_barrier"]}}
    rows = [{"r": s.r, "throughput_per_instance": s.throughput_per_instance,
             "tokens_per_s": s.tokens_per_s, "idle_attention": s.idle_attention,
             "idle_ffn": s.idle_ffn, "tau_ms_per_layer": s.breakdown["tau"]}
            for s in out["results"]]
    if args.plot:
        from lpsched.paths import atomic_output
        from lpsched.plots import plot_afd_sweep
        with atomic_output(args.plot, what="plot") as tmp:
            plot_afd_sweep(rows, tmp, r_best=out["r_best"],
                           title=f"{wl.name}, B={args.batch}, {model.attn_gpu}: simulation "
                                 f"sweep (theory r* = {theory['r_star']:.2f})")
    if _emit(args, {"r_best": out["r_best"], "throughput_best": out["throughput_best"],
                    "ffn_devices": model.ffn_devices,
                    "theory": {"r_star": theory["r_star"], "r_int": theory["r_int"],
                               "regime": theory["regime"],
                               "barrier_r_star": theory["barrier"]["r_star"],
                               "barrier_r_int": theory["barrier"]["r_int"]},
                    "results": rows}, rows=rows):
        return 0
    print(_fmt_table([{**r, "throughput_per_instance": round(r["throughput_per_instance"]),
                       "tokens_per_s": round(r["tokens_per_s"]),
                       "idle_attention": f"{r['idle_attention']:.1%}",
                       "idle_ffn": f"{r['idle_ffn']:.1%}",
                       "tau_ms_per_layer": round(r["tau_ms_per_layer"], 4)} for r in rows],
                     ["r", "throughput_per_instance", "tokens_per_s", "idle_attention",
                      "idle_ffn", "tau_ms_per_layer"]))
    print(f"simulation-optimal r = {out['r_best']}   theory r* = {theory['r_star']:.2f} "
          f"(integer {theory['r_int']}, {theory['regime']})   barrier-aware r* = "
          f"{theory['barrier']['r_star']:.2f} (integer {theory['barrier']['r_int']})")
    if args.plot:
        print(f"wrote {args.plot}")
    return 0


def _parse_devices(spec: str):
    from lpsched.afd.sizing_ip import DeviceType
    devs = []
    for part in spec.split(","):
        f = part.strip().split(":")
        if not f[0] or len(f) > 4:
            raise ValueError(f"--devices entry {part!r}: use name[:cost[:available[:gpu]]]")
        try:
            cost = float(f[1]) if len(f) > 1 and f[1] else 1.0
            avail = int(f[2]) if len(f) > 2 and f[2] not in ("", "inf") else None
        except ValueError:
            raise ValueError(f"--devices entry {part!r}: cost must be a number and "
                             "available an integer") from None
        gpu = f[3] if len(f) > 3 else f[0]
        devs.append(DeviceType(f[0], gpu, cost, available=avail))
    return tuple(devs)


def _int_list(s: str, what: str):
    out: list[int | None] = []
    for x in s.split(","):
        x = x.strip()
        if x.lower() == "none":
            out.append(None)
            continue
        try:
            v = int(x)
        except ValueError:
            raise ValueError(f"{what}: {x!r} is not an integer") from None
        if v < 1:
            raise ValueError(f"{what}: values must be >= 1, got {v}")
        out.append(v)
    return tuple(out)


def _names(spec: str | None):
    return tuple(v.strip() for v in spec.split(",")) if spec else None


def _cmd_plan(args) -> int:
    from lpsched.afd.sizing_ip import SizingProblem, solve_sizing
    p = SizingProblem(
        _workload(args), _parse_devices(args.devices), model=args.model,
        ffn_model=args.ffn_model, r_values=tuple(range(1, args.r_max + 1)),
        batch_sizes=_int_list(args.batches, "--batches"),
        micro_batches=_int_list(args.micro_batches, "--micro-batches"),
        attention_types=_names(args.attention_types), ffn_types=_names(args.ffn_types),
        tpot_ms=args.tpot_ms, kv_margin_z=args.kv_margin_z, budget=args.budget,
        max_bundles=args.max_bundles, objective=args.objective, kind=args.fit, link=args.link,
        barrier=not args.no_barrier, mix=args.mix, y_values=_ffn_counts(args),
        ffn_link=args.ffn_link, routing=args.routing, ffn_memory=args.ffn_memory)
    res = solve_sizing(p, time_limit=args.time_limit)
    code = 0 if res.status in ("optimal", "time_limit") else 1
    if _emit(args, res.to_dict()):
        return code
    print(f"status {res.status}   objective {args.objective} = "
          f"{res.objective if res.objective is not None else '-'}   configurations "
          f"{res.configs_feasible} feasible of {res.configs_total}   {res.runtime:.2f} s")
    for why in res.infeasible:
        print(f"infeasible: {why}")
    if res.chosen:
        rows = [{"bundles": n, "x": c.r, "y": c.y, "B": c.B, "m": c.m if c.m else "overlap",
                 "attention": c.attn, "ffn": c.ffn, "regime": c.regime,
                 "tpot_ms": round(c.tpot_ms, 2), "tokens/s/device": round(c.throughput / c.devices),
                 "idle_attn": f"{c.idle_attention:.0%}", "idle_ffn": f"{c.idle_ffn:.0%}",
                 "cost/bundle": c.cost, "kv_need": round(c.kv_need), "kv_cap": round(c.kv_capacity)}
                for c, n in res.chosen]
        print(_fmt_table(rows, list(rows[0])))
        print(f"total {res.throughput:.0f} tokens/s for cost {res.cost:.2f} "
              f"({res.throughput / res.cost:.0f} tokens/s per unit cost)")
    return code


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "afd", help="attention-FFN disaggregation sizing (fit, size, simulate, sweep, plan)",
        formatter_class=EX,
        description="Size attention-FFN disaggregated bundles (x attention instances, an FFN "
                    "stage on y devices; rA-1F when y = 1) from calibrated step-time "
                    "models. Without options every subcommand runs the seed paper's base case "
                    "(B=256, mean prefill 100, geometric decode mean 500) on the bundled H200 "
                    "calibration with one FFN device.",
        epilog="examples:\n  lpsched afd fit --gpu h100\n  lpsched afd size --json\n"
               "  lpsched afd size --ffn-devices 1-8 --fit roofline\n"
               "  lpsched afd sweep --ffn-model dsv3-moe-e8 --r-max 12\n"
               "  lpsched afd plan --devices h200:1.3,h100:1.0 --budget 40 --ffn-devices 1-4")
    sub = p.add_subparsers(dest="afd_command", metavar="SUBCOMMAND")
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])

    q = sub.add_parser("fit", help="fit step-time models to a calibration CSV", formatter_class=EX,
                       description="Fit linear, linear-batch and roofline models per role and "
                                   "model; report each fit's relative error and the best one.",
                       epilog="examples:\n  lpsched afd fit\n  lpsched afd fit --gpu h100 --json\n"
                              "  lpsched afd fit --gpu my_gpu.csv")
    q.add_argument("--gpu", default="h200", help="h100, h200 or a calibration CSV path")
    _add_json_out(q)
    q.set_defaults(func=_cmd_fit)

    q = sub.add_parser("size", help="closed-form optimal A/F ratio and FFN shard count",
                       formatter_class=EX,
                       description="r* = max(r_A, r_C, r_peak) of the seed model, the best "
                                   "integer r and the deciding regime; barrier-aware and "
                                   "fitted-model (e.g. roofline) searches; the xA-yF closed "
                                   "form over --ffn-devices with its barrier-aware refinement "
                                   "(x, y, regime, throughput per device, idle fractions).",
                       epilog="examples:\n  lpsched afd size\n"
                              "  lpsched afd size --ffn-model dsv3-moe-e8 --fit roofline --json\n"
                              "  lpsched afd size --ffn-devices 1-8 --fit roofline --gpu h100\n"
                              "  lpsched afd size --workload arxiv-sum --gpu h100")
    _add_model_options(q)
    _add_workload_options(q)
    q.add_argument("--horizon", type=int, default=None,
                   help="finite-horizon T_bar over this many steps from a fresh start "
                        "(default: steady state)")
    q.add_argument("--r-max", type=int, default=64,
                   help="search range for r (and for x of xA-yF)")
    _add_json_out(q)
    q.set_defaults(func=_cmd_size)

    q = sub.add_parser("simulate", help="simulate one xA-yF bundle", formatter_class=EX,
                       description="Step-synchronous simulation with barrier, continuous "
                                   "replenishment and fitted step times. Default r (= x): the "
                                   "closed-form integer ratio.",
                       epilog="examples:\n  lpsched afd simulate\n"
                              "  lpsched afd simulate --r 4 --admission least-load --json\n"
                              "  lpsched afd simulate --r 3 --ffn-devices 4 --fit roofline\n"
                              "  lpsched afd simulate --trace azure_conv_2023.csv --r 2")
    _add_model_options(q)
    _add_workload_options(q)
    _add_sim_options(q)
    q.add_argument("--r", type=int, default=None, help="attention instances x per bundle")
    _add_json_out(q)
    q.set_defaults(func=_cmd_simulate)

    q = sub.add_parser("sweep", help="simulate r = r-min..r-max and find the best r",
                       formatter_class=EX,
                       description="Simulate every r (same request stream) and report "
                                   "throughput per device and idle fractions; compare with "
                                   "the theory.",
                       epilog="examples:\n  lpsched afd sweep\n"
                              "  lpsched afd sweep --ffn-model dsv3-moe-e8 --r-max 16 "
                              "--plot sweep.png\n  lpsched afd sweep --json")
    _add_model_options(q)
    _add_workload_options(q)
    _add_sim_options(q)
    q.add_argument("--r-min", type=int, default=1)
    q.add_argument("--r-max", type=int, default=32)
    add_output_argument(q, "--plot", default=None, suffixes=(".png", ".svg"), what="plot",
                        help="write a PNG of throughput and idle vs r")
    _add_json_out(q, csv=True)
    q.set_defaults(func=_cmd_sweep)

    q = sub.add_parser("plan", help="A/F sizing integer program", formatter_class=EX,
                       description="Choose x (attention instances), y (FFN devices), batch, "
                                   "micro-batches, device types and number of bundles "
                                   "(HiGHS) under KV capacity, TPOT and budget. An infeasible "
                                   "problem is explained (which constraint) and exits 1.",
                       epilog="examples:\n  lpsched afd plan\n"
                              "  lpsched afd plan --ffn-devices 1-8 --fit roofline "
                              "--batches 64,128,192 --ffn-memory\n"
                              "  lpsched afd plan --devices h200:1.3:16,h100:1.0:32 "
                              "--budget 40 --batches 64,128,256 --tpot-ms 50\n"
                              "  lpsched afd plan --objective throughput_per_cost --json")
    _add_model_options(q)
    _add_workload_options(q)
    q.add_argument("--devices", default="h200:1.0",
                   help="device types name[:cost[:available[:gpu]]], comma-separated "
                        "(default h200:1.0)")
    q.add_argument("--attention-types", default=None,
                   help="device type names allowed for attention (default all)")
    q.add_argument("--ffn-types", default=None,
                   help="device type names allowed for the FFN devices (default all)")
    q.add_argument("--ffn-memory", action="store_true",
                   help="require the FFN weights (all layers, split over y) to fit an FFN "
                        "device (off by default, as in the rA-1F planner)")
    q.add_argument("--batches", default="256", help="candidate batch sizes B")
    q.add_argument("--micro-batches", default="none",
                   help="candidate micro-batch counts ('none' = fully overlapped)")
    q.add_argument("--r-max", type=int, default=32, help="largest x (r) considered")
    q.add_argument("--tpot-ms", type=float, default=None, help="per-token latency limit (ms)")
    q.add_argument("--kv-margin-z", type=float, default=2.0,
                   help="KV tail margin in standard deviations of the instance load")
    q.add_argument("--budget", type=float, default=None, help="total device cost budget")
    q.add_argument("--max-bundles", type=int, default=1, help="most bundles (default 1)")
    q.add_argument("--objective", default="throughput_per_cost",
                   choices=["throughput", "throughput_per_cost"])
    q.add_argument("--no-barrier", action="store_true",
                   help="attention time at the mean load instead of the slowest instance")
    q.add_argument("--mix", action="store_true", help="allow several bundle configurations")
    q.add_argument("--time-limit", type=float, default=30.0)
    _add_json_out(q)
    q.set_defaults(func=_cmd_plan)


__all__ = ["register"]
