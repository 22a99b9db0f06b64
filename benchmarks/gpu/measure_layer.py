"""Measure every op of a Llama-3 decoder layer on one GPU (torch, random bf16 weights).

One command (both models, the default grid; not yet run on a GPU: about 500 timings of
a few milliseconds to about a second each, estimated at 1-2 minutes on an H100, within a
5-minute budget)::

    python benchmarks/gpu/measure_layer.py --out h100_layer.csv

writes ``h100_layer.csv`` in the calibration format of ``lpsched/afd/data/h100.csv``
(``part, model, batch, ctx, tokens, experts, ms_median, ms_p20, ms_p80``; milliseconds per
layer, medians and 20th / 80th percentiles over ``--trials`` CUDA-event timings, each the
mean of enough back-to-back calls to last ``--min-ms``) and ``h100_layer_meta.json``
(GPU, torch, SM count). Parts:

* the calibration's own, at its grid (decode batch 1-512 x context 512-32,768, FFN and
  projections at 1-16,384 rows), so the file can stand in for it:
  ``attn_proj`` (QKV + output projections), ``attn_core`` (SDPA decode: one query per
  request against its KV cache, GQA), ``attn_layer`` (both), ``ffn_dense`` (SwiGLU);
* the ops the step model adds: ``rmsnorm`` (one call), ``rope`` (rotary embedding of the
  queries and keys), ``add`` (one residual add), ``act`` (SiLU-and-mul), ``kv_write``
  (a decode step's new keys and values into the cache), ``attn_prefill`` (causal SDPA of
  a ``tokens``-token prefill, no cache before it);
* whole layers: ``layer_decode`` (``batch`` requests at context ``ctx``: norm, QKV, rope,
  KV write, SDPA over the cache, output projection, residual add, norm, SwiGLU, residual
  add) and ``layer_prefill`` (the same for one prefill of ``tokens`` tokens, causal SDPA).

``--compare FILE`` (no GPU, no torch) prints lpsched's per-layer model
(:meth:`lpsched.serving.steptime.StepTimeModel.layer_ops_ms`, one GPU) against the
``layer_decode`` / ``layer_prefill`` rows and each op against its rows: the check
"within 10% of our own whole-layer measurement" of docs/serving.md.

Choices (stated): PyTorch ops replayed as CUDA graphs (``--no-graphs``: eager calls), no
fused vLLM kernels (``--compile`` fuses the elementwise ops with ``torch.compile``); rope as rotate-half with
precomputed cos / sin of each row's position; the fused QKV and gate-up weights of vLLM;
the KV cache as ``[batch, kv_heads, ctx, head_dim]`` (one layer); GQA decode as the
``heads / kv_heads`` queries of a group attending its KV head (exact for one query);
``--tensor-parallel N`` measures an ``N``-way shard (heads and FFN columns / N) without
the all-reduce, which one GPU cannot time.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHAPES = {  # d_model, layers (unused), heads, kv_heads, head_dim, d_ff
    "llama3-70b": (8192, 64, 8, 128, 28672),
    "llama3-8b": (4096, 32, 8, 128, 14336),
}
BATCHES = (1, 8, 32, 64, 128, 256, 512)
CONTEXTS = (512, 2048, 8192, 32768)
ROWS = (1, 8, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)
PREFILLS = (128, 512, 1024, 2048, 4096, 8192, 16384)
COLUMNS = ("part", "model", "batch", "ctx", "tokens", "experts", "ms_median", "ms_p20",
           "ms_p80")


def _timer(torch, trials: int, min_ms: float, device: str, graphs: bool, failed: list):
    """``time(fn) -> (median, p20, p80)`` ms per call.

    On a GPU: ``reps`` back-to-back calls (enough to last ``min_ms``) captured in one CUDA
    graph and replayed ``trials`` times between CUDA events, so that the host's launch
    cost of eager PyTorch does not hide the small kernels (vLLM runs decode steps as CUDA
    graphs; Vidur times kernels with the profiler); eager calls where capture fails
    (recorded in ``failed``) or with ``graphs=False``. On the CPU (smoke test): wall clock.
    """
    cuda = device.startswith("cuda")

    def span(fn, reps: int) -> float:
        if not cuda:
            t = time.perf_counter()
            for _ in range(reps):
                fn()
            return (time.perf_counter() - t) * 1e3
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        for _ in range(reps):
            fn()
        e.record()
        e.synchronize()
        return s.elapsed_time(e)

    def graphed(fn, reps: int):
        g = torch.cuda.CUDAGraph()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            fn()
        torch.cuda.current_stream().wait_stream(side)
        with torch.cuda.graph(g):
            for _ in range(reps):
                fn()
        return g.replay

    def run(fn):
        for _ in range(3):
            fn()
        if cuda:
            torch.cuda.synchronize()
        reps = 1
        while span(fn, reps) < min_ms and reps < 1024:
            reps *= 2
        call, per = fn, reps
        if cuda and graphs:
            try:
                call, per = graphed(fn, reps), 1
            except RuntimeError as exc:  # an op that cannot be captured: eager timing
                failed.append(f"{getattr(fn, 'func', fn).__name__}: {str(exc)[:80]}")
                torch.cuda.synchronize()
        out = [span(call, per) / reps for _ in range(trials)]
        q = torch.tensor(out).quantile(torch.tensor([0.5, 0.2, 0.8])).tolist()
        return q[0], q[1], q[2]
    return run


class Layer:
    """Random bf16 weights of one (sharded) decoder layer and its ops."""

    def __init__(self, torch, model: str, tp: int, device: str, compile_ops: bool) -> None:
        d, h, kv, hd, ff = SHAPES[model]
        self.t, self.dev = torch, device
        self.d, self.h, self.kv, self.hd, self.ff = d, h // tp, kv // tp, hd, ff // tp
        bf = dict(dtype=torch.bfloat16, device=device)
        s = 0.02
        self.w_qkv = torch.randn(d, (self.h + 2 * self.kv) * hd, **bf) * s
        self.w_o = torch.randn(self.h * hd, d, **bf) * s
        self.w_gu = torch.randn(d, 2 * self.ff, **bf) * s
        self.w_down = torch.randn(self.ff, d, **bf) * s
        self.g1 = torch.ones(d, **bf)
        self.g2 = torch.ones(d, **bf)
        inv = 1.0 / (500000.0 ** (torch.arange(0, hd, 2, device=device).float() / hd))
        pos = torch.arange(max(max(CONTEXTS), max(ROWS)) + 1, device=device).float()
        ang = torch.outer(pos, inv)
        self.cos = torch.cat([ang.cos(), ang.cos()], -1).to(torch.bfloat16)
        self.sin = torch.cat([ang.sin(), ang.sin()], -1).to(torch.bfloat16)
        self.rmsnorm, self.rope, self.act = self._rmsnorm, self._rope, self._act
        if compile_ops:
            self.rmsnorm = torch.compile(self._rmsnorm, dynamic=True)
            self.rope = torch.compile(self._rope, dynamic=True)
            self.act = torch.compile(self._act, dynamic=True)

    def _rmsnorm(self, x, g):
        t = self.t
        v = x.float().pow(2).mean(-1, keepdim=True)
        return (x.float() * t.rsqrt(v + 1e-5)).to(x.dtype) * g

    def _rope(self, q, k, pos):
        """q [R, h, hd], k [R, kv, hd]; rotate-half with the rows' positions."""
        c, s = self.cos[pos][:, None, :], self.sin[pos][:, None, :]

        def rot(x):
            x1, x2 = x.chunk(2, -1)
            return self.t.cat([-x2, x1], -1)
        return q * c + rot(q) * s, k * c + rot(k) * s

    def _act(self, gu):
        a, b = gu.chunk(2, -1)
        return self.t.nn.functional.silu(a) * b

    def qkv(self, x):
        R = x.shape[0]
        y = x @ self.w_qkv
        q, k, v = y.split([self.h * self.hd, self.kv * self.hd, self.kv * self.hd], -1)
        return (q.view(R, self.h, self.hd), k.view(R, self.kv, self.hd),
                v.view(R, self.kv, self.hd))

    def decode_attention(self, q, kc, vc):
        """q [B, h, hd] against caches [B, kv, C, hd]: the group's queries as a length."""
        B = q.shape[0]
        qg = q.view(B, self.kv, self.h // self.kv, self.hd)
        o = self.t.nn.functional.scaled_dot_product_attention(qg, kc, vc)
        return o.reshape(B, self.h * self.hd)

    def prefill_attention(self, q, k, v):
        """Causal SDPA of one prefill: q [P, h, hd], k, v [P, kv, hd]."""
        g = self.h // self.kv
        qh = q.transpose(0, 1)[None]
        kh = k.transpose(0, 1).repeat_interleave(g, 0)[None]
        vh = v.transpose(0, 1).repeat_interleave(g, 0)[None]
        o = self.t.nn.functional.scaled_dot_product_attention(qh, kh, vh, is_causal=True)
        return o[0].transpose(0, 1).reshape(q.shape[0], self.h * self.hd)

    def projections(self, x):
        """QKV and output projections of ``R`` rows (no attention between)."""
        return self.qkv(x)[0].reshape(x.shape[0], -1) @ self.w_o

    def attention_layer(self, x, kc, vc):
        """Projections and decode attention: the calibration's ``attn_layer``."""
        return self.decode_attention(self.qkv(x)[0], kc, vc) @ self.w_o

    def kv_write(self, k, v, kc, vc, slot: int) -> None:
        kc[:, :, slot] = k
        vc[:, :, slot] = v

    def ffn(self, x):
        return self.act(x @ self.w_gu) @ self.w_down

    def layer_decode(self, x, pos, kc, vc, slot):
        r = x
        h = self.rmsnorm(x, self.g1)
        q, k, v = self.qkv(h)
        q, k = self.rope(q, k, pos)
        self.kv_write(k, v, kc, vc, slot)
        x = r + self.decode_attention(q, kc, vc) @ self.w_o
        return x + self.ffn(self.rmsnorm(x, self.g2))

    def layer_prefill(self, x, pos):
        r = x
        h = self.rmsnorm(x, self.g1)
        q, k, v = self.qkv(h)
        q, k = self.rope(q, k, pos)
        x = r + self.prefill_attention(q, k, v) @ self.w_o
        return x + self.ffn(self.rmsnorm(x, self.g2))


def _grid(quick: bool):
    if quick:
        return (1, 8), (64, 128), (1, 8, 64), (16, 64)
    return BATCHES, CONTEXTS, ROWS, PREFILLS


def _rows(torch, L: Layer, name: str, rows, time_it, emit) -> None:
    """Elementwise ops, FFN and projections at ``R`` token rows."""
    bf = dict(dtype=torch.bfloat16, device=L.dev)
    for R in rows:
        x = torch.randn(R, L.d, **bf)
        pos = torch.arange(R, device=L.dev) % len(L.cos)
        q, k, _ = L.qkv(x)
        gu = torch.randn(R, 2 * L.ff, **bf)
        emit("rmsnorm", name, R, 0, R, time_it(partial(L.rmsnorm, x, L.g1)))
        emit("rope", name, R, 0, R, time_it(partial(L.rope, q, k, pos)))
        emit("add", name, R, 0, R, time_it(partial(torch.add, x, x)))
        emit("act", name, R, 0, R, time_it(partial(L.act, gu)))
        emit("ffn_dense", name, R, 0, R, time_it(partial(L.ffn, x)))
        if R <= 512:
            emit("attn_proj", name, R, 0, R, time_it(partial(L.projections, x)))


def _decode(torch, L: Layer, name: str, batches, contexts, max_kv: int, time_it,
            emit) -> None:
    """Decode attention, KV write and whole decode layers at the (batch, context) grid;
    one KV buffer of the largest point, viewed as each point's cache."""
    bf = dict(dtype=torch.bfloat16, device=L.dev)
    grid = [(b, c) for b in batches for c in contexts if b * c <= max_kv]
    size = max(b * c for b, c in grid) * L.kv * L.hd
    kbuf, vbuf = torch.randn(size, **bf), torch.randn(size, **bf)
    for B, C in grid:
        x = torch.randn(B, L.d, **bf)
        q, k, v = L.qkv(x)
        kc = kbuf[:B * C * L.kv * L.hd].view(B, L.kv, C, L.hd)
        vc = vbuf[:B * C * L.kv * L.hd].view(B, L.kv, C, L.hd)
        pos = torch.full((B,), C - 1, device=L.dev)
        emit("attn_core", name, B, C, B, time_it(partial(L.decode_attention, q, kc, vc)))
        emit("attn_layer", name, B, C, B, time_it(partial(L.attention_layer, x, kc, vc)))
        emit("kv_write", name, B, C, B, time_it(partial(L.kv_write, k, v, kc, vc, C - 1)))
        emit("layer_decode", name, B, C, B,
             time_it(partial(L.layer_decode, x, pos, kc, vc, C - 1)))


def _prefill(torch, L: Layer, name: str, prefills, time_it, emit) -> None:
    bf = dict(dtype=torch.bfloat16, device=L.dev)
    for P in prefills:
        x = torch.randn(P, L.d, **bf)
        pos = torch.arange(P, device=L.dev)
        q, k, v = L.qkv(x)
        emit("attn_prefill", name, 1, 0, P, time_it(partial(L.prefill_attention, q, k, v)))
        emit("layer_prefill", name, 1, 0, P, time_it(partial(L.layer_prefill, x, pos)))


def measure(torch, model: str, tp: int, args, emit, failed: list) -> None:
    """Every part of one model (an ``tp``-way shard of it) on the grid."""
    layer = Layer(torch, model, tp, args.device, args.compile)
    time_it = _timer(torch, args.trials, args.min_ms, args.device, not args.no_graphs, failed)
    name = model if tp == 1 else f"{model}-tp{tp}"
    batches, contexts, rows, prefills = _grid(args.quick)
    _rows(torch, layer, name, rows, time_it, emit)
    _decode(torch, layer, name, batches, contexts, args.max_kv, time_it, emit)
    _prefill(torch, layer, name, prefills, time_it, emit)


def run(args) -> None:
    import torch

    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        sys.exit("measure_layer: no CUDA device (use --compare FILE to read results)")
    torch.manual_seed(0)
    out = Path(args.out)
    failed: list[str] = []
    t0 = time.time()
    with out.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)

        def emit(part, model, batch, ctx, tokens, q):
            w.writerow([part, model, batch, ctx, tokens, 0] + [f"{v:.5f}" for v in q])
            fh.flush()
        with torch.inference_mode():
            for model in args.models:
                for tp in args.tensor_parallel:
                    measure(torch, model, tp, args, emit, failed)
                    if cuda:
                        torch.cuda.empty_cache()
                    print(f"{model} tp{tp}: done at {time.time() - t0:.0f} s", flush=True)
    p = torch.cuda.get_device_properties(0) if cuda else None
    meta = {"gpu": p.name if p else "cpu", "torch": torch.__version__,
            "sms": p.multi_processor_count if p else 0,
            "trials": args.trials, "min_ms": args.min_ms, "compile": args.compile,
            "cuda_graphs": cuda and not args.no_graphs, "eager_fallbacks": failed,
            "seconds": round(time.time() - t0, 1)}
    out.with_name(out.stem + "_meta.json").write_text(json.dumps(meta) + "\n")
    print(f"wrote {out} in {meta['seconds']} s")


def compare(path: Path, gpu: str) -> None:
    """lpsched's one-GPU layer model against the measured layers and ops (module doc)."""
    sys.path.insert(0, str(ROOT))
    from lpsched.serving.steptime import SHAPES as LP_SHAPES
    from lpsched.serving.steptime import build_step_time

    rows = [r for r in csv.DictReader(path.open()) if r["model"] in LP_SHAPES]
    print("| part | model | batch | ctx | tokens | measured ms | lpsched ms | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        if r["part"] not in ("layer_decode", "layer_prefill"):
            continue
        m = build_step_time(gpu, r["model"], 1)
        b, c, t = int(r["batch"]), int(r["ctx"]), int(r["tokens"])
        if r["part"] == "layer_decode":
            pred = float(m.layer_ms(b, b * c, 0))
        else:
            pred = float(m.layer_ms(t, 0, t * (t + 1)))
        y = float(r["ms_median"])
        print(f"| {r['part']} | {r['model']} | {b} | {c} | {t} | {y:.4f} | {pred:.4f} | "
              f"{pred / y:.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="h100_layer.csv", help="output CSV (meta JSON beside)")
    ap.add_argument("--models", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    ap.add_argument("--tensor-parallel", nargs="+", type=int, default=[1],
                    help="shards to measure (1 = the whole layer)")
    ap.add_argument("--trials", type=int, default=15, help="timings per point (default 15)")
    ap.add_argument("--min-ms", type=float, default=1.0,
                    help="back-to-back calls per timing: enough to last this long")
    ap.add_argument("--max-kv", type=int, default=256 * 32768,
                    help="largest batch x context measured (KV of one layer; default 8.4M)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--compile", action="store_true",
                    help="fuse norm, rope and activation with torch.compile")
    ap.add_argument("--no-graphs", action="store_true",
                    help="time eager calls instead of CUDA-graph replays")
    ap.add_argument("--quick", action="store_true", help="a tiny grid (smoke test)")
    ap.add_argument("--compare", type=Path, default=None, metavar="FILE",
                    help="no measuring: compare FILE's layers with lpsched's model")
    ap.add_argument("--gpu", default="h100", help="calibration of --compare (h100, h200)")
    args = ap.parse_args()
    if args.compare is not None:
        compare(args.compare, args.gpu)
    else:
        run(args)


if __name__ == "__main__":
    main()
