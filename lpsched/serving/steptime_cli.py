"""``lpsched steptime``: the cost of one engine step, in milliseconds, op by op."""

from __future__ import annotations

import argparse
import json

__all__ = ["register", "step_breakdown"]

_EPILOG = """examples:
  lpsched steptime --gpu h100 --model llama3-70b --tensor-parallel 2 --decode 64 --context 1024
  lpsched steptime --model llama3-8b --prefill 2048 --json

A decode step of B requests at context C holds B token rows and B*C KV tokens and emits B
tokens; a prefill step of P tokens holds P rows, no cached KV and emits one token. Ops:
projections (QKV + output), attention (decode over the cache, causal prefill), FFN
(SwiGLU, activation included), norms and rope, residual adds, all-reduce (two per layer,
0 on one GPU), LM head; the model and the source of every figure: docs/serving.md."""

_GPUS = ("h100", "h200")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "steptime", help="milliseconds of one decode or prefill step, per op",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_EPILOG,
        description="Print the step time of a calibrated GPU deployment for one decode "
                    "step (--decode B --context C) or one prefill (--prefill P), with its "
                    "breakdown per op.")
    p.add_argument("--gpu", default="h100", help="h100 or h200 (default h100)")
    p.add_argument("--model", default="llama3-70b", help="llama3-70b or llama3-8b")
    p.add_argument("--tensor-parallel", default=None, metavar="N",
                   help="GPUs of the group: 1, 2, 4 or 8 (default: the fewest that hold "
                        "the weights and the step's KV)")
    p.add_argument("--decode", default=None, metavar="B", help="decode batch size")
    p.add_argument("--context", default=None, metavar="C",
                   help="KV tokens per decoding request (with --decode)")
    p.add_argument("--prefill", default=None, metavar="P", help="prefill tokens")
    p.add_argument("--json", action="store_true",
                   help='print {"step_ms": ..., "ops": {...}, ...} as JSON')
    p.set_defaults(func=_cmd_steptime)


class StepInputError(ValueError):
    """Bad ``lpsched steptime`` flags (one line, exit 2)."""


def _count(flag: str, text: str | None, low: int) -> int | None:
    if text is None:
        return None
    try:
        v = int(text)
    except ValueError:
        raise StepInputError(f"{flag}: expected an integer, got {text!r}") from None
    if v < low:
        raise StepInputError(f"{flag}: must be >= {low}, got {v}")
    return v


def _step_args(args) -> tuple[str, int, int, int, int]:
    """``(kind, rows, kv, prefill_sq, emitting)`` of the step the flags describe."""
    b = _count("--decode", args.decode, 1)
    c = _count("--context", args.context, 0)
    p = _count("--prefill", args.prefill, 1)
    if p is not None and (b is not None or c is not None):
        raise StepInputError("give either --decode B --context C or --prefill P, not both")
    if p is not None:
        return "prefill", p, 0, p * (p + 1), 1
    if b is None or c is None:
        raise StepInputError("give --decode B with --context C, or --prefill P")
    return "decode", b, b * c, 0, b


def step_breakdown(gpu: str, model: str, tensor_parallel: int | None, rows: int, kv: int,
                   prefill_sq: int, emitting: int) -> dict:
    """``{"step_ms", "ops", ...}`` of one step (``ops``: ms per op, summing to ``step_ms``).

    ``kv_capacity``: the KV tokens the ``N`` GPUs hold after the weights
    (:func:`lpsched.serving.steptime.kv_capacity`); ``fits`` says whether the step's
    ``kv + rows`` tokens fit in it (the cost is computed either way)."""
    from lpsched.serving.steptime import build_step_time, default_tensor_parallel, kv_capacity

    need = kv + rows
    n = default_tensor_parallel(gpu, model, need) if tensor_parallel is None \
        else tensor_parallel
    m = build_step_time(gpu, model, n)
    cap = kv_capacity(gpu, model, n)
    ops = {k: float(v) for k, v in m.breakdown_ms(rows, kv, prefill_sq, emitting).items()}
    return {"step_ms": float(m.step_seconds(rows, kv, prefill_sq, emitting)) * 1e3,
            "ops": ops, "gpu": gpu, "model": model, "tensor_parallel": n, "rows": rows,
            "kv_tokens": kv, "kv_capacity": cap, "fits": bool(cap >= need)}


def _cmd_steptime(args) -> int:
    gpu = str(args.gpu).lower()
    if gpu not in _GPUS:
        raise StepInputError(f"--gpu: unknown GPU {args.gpu!r}; use {', '.join(_GPUS)}")
    n = _count("--tensor-parallel", args.tensor_parallel, 1)
    kind, rows, kv, sq, emit = _step_args(args)
    res = step_breakdown(gpu, args.model, n, rows, kv, sq, emit)
    res["step"] = kind
    if args.json:
        print(json.dumps(res, indent=1))
        return 0
    what = (f"decode of {rows} requests at context {kv // rows}" if kind == "decode"
            else f"prefill of {rows} tokens")
    print(f"{args.model} on {res['tensor_parallel']} x {gpu}, {what}: "
          f"{res['step_ms']:.3f} ms")
    if not res["fits"]:
        print(f"  (note: {kv + rows} KV tokens do not fit the {max(res['kv_capacity'], 0)} "
              f"the GPUs hold after the weights; the cost is computed anyway)")
    width = max(map(len, res["ops"]))
    for k, v in res["ops"].items():
        share = v / res["step_ms"] if res["step_ms"] > 0 else 0.0
        print(f"  {k:<{width}}  {v:9.3f} ms  {share:6.1%}")
    return 0
