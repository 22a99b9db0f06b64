"""``lpsched replay``: a trace through an online policy, reported like vLLM's serving benchmark."""

from __future__ import annotations

import argparse
import json

from lpsched.paths import add_output_argument

__all__ = ["register"]

_EPILOG = """examples:
  lpsched replay azure_conv_2023 --algo mc-sf --gpu h100 --model llama3-70b --num-prompts 500
  lpsched replay trace.csv --algo fcfs --rate 4 --json
  lpsched replay arxiv_summarization --algo alpha-protection --options '{"alpha": 0.2}'
  lpsched replay trace.csv --algo vllm --per-request times.csv
  lpsched replay trace.csv --algo mc-sf --max-num-batched-tokens 2048 --max-num-seqs 256

TRACE is a bundled workload profile (lengths and inter-arrival times sampled from it) or
a trace CSV (Vidur or Azure layout; its own arrival times unless --rate). The policy runs
in the engine, in seconds: each step lasts what the calibrated step-time model says, and
requests are revealed at their own arrival times (docs/serving.md). Every policy runs
under the same engine limits, vLLM V1's `vllm serve` defaults on an H100/H200 (vLLM
0.33.0): blocks of 16 tokens, a budget of 8192 tokens a step with chunked prefill, 1024
sequences, watermark 0, V1's KV accounting, asynchronous scheduling; each is a flag. --json prints vLLM
benchmark_serving key names (mean_ttft_ms, median_tpot_ms, p99_e2el_ms,
request_throughput, output_throughput, ...)."""


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not v > 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return v


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "replay", help="replay a trace through a policy; vLLM serving-benchmark summary",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_EPILOG,
        description="Replay TRACE with an online policy on a calibrated GPU deployment and "
                    "print completed requests, throughput and TTFT / TPOT / ITL / E2EL "
                    "statistics in milliseconds, as vLLM's serving benchmark does.")
    p.add_argument("trace", metavar="TRACE", help="bundled profile name or trace CSV path")
    p.add_argument("--algo", required=True, help="an online policy (`lpsched algorithms`)")
    p.add_argument("--gpu", default="h100", choices=("h100", "h200"))
    p.add_argument("--model", default="llama3-70b", choices=("llama3-70b", "llama3-8b"))
    p.add_argument("--rate", type=_positive_float, default=None,
                   help="Poisson arrivals at R requests/s instead of the trace's own times")
    p.add_argument("--num-prompts", type=_positive_int, default=None,
                   help="requests: the first N rows of a CSV (default all), or N samples of a "
                        "profile (default 1000)")
    p.add_argument("--block-size", type=_positive_int, default=16,
                   help="KV block size in tokens (default 16, vLLM's)")
    p.add_argument("--tensor-parallel", type=int, default=None, choices=(1, 2, 4, 8),
                   help="GPUs per replica (default: the fewest holding the weights and the "
                        "largest request's KV)")
    p.add_argument("--memory", type=_positive_int, default=None,
                   help="KV budget M in tokens (default: what the GPUs hold after the weights)")
    p.add_argument("--max-num-seqs", type=_positive_int, default=None,
                   help="most requests admitted at once (default 1024, vLLM V1 on H100/H200)")
    p.add_argument("--max-num-batched-tokens", type=_positive_int, default=None,
                   metavar="TOKENS", help="token budget of a step (default 8192, vLLM V1 "
                   "on H100/H200)")
    p.add_argument("--chunked-prefill", type=_positive_int, default=None, metavar="TOKENS",
                   help="same as --max-num-batched-tokens TOKENS (chunked prefill is on by "
                        "default)")
    p.add_argument("--no-chunked-prefill", action="store_true",
                   help="whole prefills only (the budget then counts prefill tokens, V0)")
    p.add_argument("--watermark", type=float, default=None,
                   help="fraction of the KV blocks kept free at admission (default 0)")
    p.add_argument("--sync-scheduling", action="store_true",
                   help="vLLM's synchronous Scheduler instead of vllm serve's AsyncScheduler")
    p.add_argument("--kv-accounting", choices=("v1", "papers"), default=None,
                   help="v1 (default: s + j - 1 tokens in a request's j-th step) or papers "
                        "(s + j)")
    add_output_argument(p, "--per-request", default=None, metavar="FILE", suffixes=(".csv",),
                        what="per-request CSV",
                        help="write one CSV row per request: id, arrival_s, first_token_s, "
                             "finish_s, output_tokens, preemptions")
    p.add_argument("--options", default=None, help="policy options as JSON, e.g. "
                   "'{\"alpha\": 0.2}'")
    p.add_argument("--prediction-noise", type=float, default=None, metavar="SIGMA",
                   help="show the policy predicted lengths o*exp(SIGMA Z) (default: exact)")
    p.add_argument("--seed", type=int, default=0, help="seed of sampling and Poisson arrivals")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=_cmd_replay)


def _cmd_replay(args) -> int:
    from lpsched.cli import CliError
    from lpsched.serving.metrics import format_summary
    from lpsched.serving.replay import engine_limits, load_workload, replay, write_per_request

    options = None
    if args.options is not None:
        try:
            options = json.loads(args.options)
        except json.JSONDecodeError as exc:
            raise CliError(f"--options: not valid JSON ({exc.msg})") from None
        if not isinstance(options, dict):
            raise CliError("--options must be a JSON object")
    if args.chunked_prefill is not None and args.max_num_batched_tokens is not None:
        raise CliError("give --chunked-prefill or --max-num-batched-tokens, not both")
    budget = args.max_num_batched_tokens or args.chunked_prefill
    try:
        limits = engine_limits(block_size=args.block_size, max_num_seqs=args.max_num_seqs,
                               max_num_batched_tokens=budget,
                               chunked_prefill=False if args.no_chunked_prefill else None,
                               watermark=args.watermark, kv_accounting=args.kv_accounting,
                               async_scheduling=False if args.sync_scheduling else None)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    w = load_workload(args.trace, num_prompts=args.num_prompts, rate=args.rate, seed=args.seed)
    res = replay(w, args.algo, gpu=args.gpu, model=args.model,
                 tensor_parallel=args.tensor_parallel, memory=args.memory, limits=limits,
                 options=options, prediction_noise=args.prediction_noise, seed=args.seed)
    if args.per_request is not None:
        write_per_request(res, args.per_request)
    m = res.metrics
    if args.json:
        print(json.dumps(m, indent=1))
        return 0
    print(f"{m['algorithm']} on {m['tensor_parallel']} x {m['gpu']}, {m['model']}, "
          f"M = {m['memory']} KV tokens, arrivals: {m['arrivals']}; engine: block "
          f"{m['block_size']}, max_num_seqs {m['max_num_seqs']}, max_num_batched_tokens "
          f"{m['max_num_batched_tokens']}"
          f"{' (chunked prefill)' if m['chunked_prefill'] else ''}, watermark "
          f"{m['watermark']}, KV accounting {m['kv_accounting']}"
          f"{', async scheduling' if m['async_scheduling'] else ''}")
    print(format_summary(m))
    if args.per_request is not None:
        print(f"wrote {args.per_request}")
    return 0
