"""Workload profiles: bundled tables, sampling, dependence, provenance, sync with the traces."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from lpsched.check import check
from lpsched.workloads import (
    WorkloadProfile,
    load_profile,
    profile_names,
    sample_instance,
)
from tests.trace_files import TRACES, trace_file

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("azure_conv_2023", "arxiv_summarization")


def test_bundled_profiles_and_api():
    assert set(NAMES) <= set(profile_names())
    for name in NAMES:
        p = load_profile(name)
        assert isinstance(p, WorkloadProfile)
        assert p.name == name
        assert p.levels.shape == (1001,) and p.levels[0] == 0 and p.levels[-1] == 1
        assert p.prefill_quantiles.shape == p.decode_quantiles.shape == (1001,)
        assert not p.levels.flags.writeable
        with pytest.raises(dataclasses.FrozenInstanceError):
            p.name = "x"  # frozen
        prov = p.provenance
        for key in ("source_file", "origin", "licence", "rows", "sha256", "derived_on", "script"):
            assert prov[key], key
        assert len(prov["sha256"]) == 64
    azure, arxiv = load_profile("azure_conv_2023"), load_profile("arxiv_summarization")
    assert azure.provenance["rows"] == 19366 and arxiv.provenance["rows"] == 28257
    assert azure.interarrival_quantiles is not None and arxiv.interarrival_quantiles is None
    assert 1000 < azure.mean_prefill < 1300 and 150 < azure.mean_decode < 250
    assert 2400 < arxiv.mean_prefill < 2800


@pytest.mark.parametrize("name", NAMES)
def test_sampling_reproducible_and_typed(name):
    p = load_profile(name)
    s1, o1 = p.sample(1000, np.random.default_rng(7))
    s2, o2 = p.sample(1000, np.random.default_rng(7))
    s3, _ = p.sample(1000, np.random.default_rng(8))
    assert s1.dtype == np.int64 and o1.dtype == np.int64
    assert np.array_equal(s1, s2) and np.array_equal(o1, o2)
    assert not np.array_equal(s1, s3)
    assert s1.min() >= 0 and o1.min() >= 1
    assert np.all(s1 + o1 <= p.max_total)


def _level_error(x: np.ndarray, levels: np.ndarray, table: np.ndarray, half: float) -> float:
    """Largest distance between each level l and the sample's CDF around Q(l) (+-half)."""
    xs = np.sort(x)
    below = np.searchsorted(xs, table - half, side="left") / x.size
    upto = np.searchsorted(xs, table + half, side="right") / x.size
    return float(np.max(np.maximum(below - levels, levels - upto)))


@pytest.mark.parametrize("name", NAMES)
def test_large_sample_matches_quantile_tables(name):
    """The sample's CDF at every table quantile Q(l) is l (Kolmogorov-style distance)."""
    p = load_profile(name)
    s, o = p.sample(200_000, np.random.default_rng(1))
    # sampling noise is ~0.003 at this size; arxiv's support truncation (s + o <= 4096,
    # about 1% of prefills redrawn given their decode) moves the prefill CDF by < 0.007
    assert _level_error(s, p.levels, p.prefill_quantiles, 0.5) < 0.01
    assert _level_error(o, p.levels, p.decode_quantiles, 0.5) < 0.005
    # the shift is real but small: an independent-marginal check on the medians
    assert abs(np.median(o) - np.interp(0.5, p.levels, p.decode_quantiles)) <= 2
    assert abs(s.mean() - p.mean_prefill) / p.mean_prefill < 0.02
    assert abs(o.mean() - p.mean_decode) / p.mean_decode < 0.02
    if p.interarrival_quantiles is not None:
        g = p.sample_interarrival(200_000, np.random.default_rng(2))
        assert _level_error(g, p.levels, p.interarrival_quantiles, 0.0) < 0.005
        assert abs(g.mean() - p.mean_interarrival) / p.mean_interarrival < 0.02


@pytest.mark.parametrize("name", NAMES)
def test_dependence_preserved(name):
    p = load_profile(name)
    trace = p.dependence["trace"]
    s, o = p.sample(200_000, np.random.default_rng(3))
    rho = stats.spearmanr(s, o)[0]
    r = np.corrcoef(s, o)[0, 1]
    assert abs(rho - trace["spearman"]) < 0.02, (rho, trace)
    assert abs(r - trace["pearson"]) < 0.03, (r, trace)
    # an independent sampler would not: the arxiv trace has Pearson -0.46
    if name == "arxiv_summarization":
        ind = WorkloadProfile(p.name, p.levels, p.prefill_quantiles, p.decode_quantiles, None,
                              p.mean_prefill, p.mean_decode, {}, copula_counts=None)
        si, oi = ind.sample(50_000, np.random.default_rng(3))
        assert abs(np.corrcoef(si, oi)[0, 1] - trace["pearson"]) > 0.3


def test_sample_instance_offline_and_reproducible():
    a = sample_instance("azure_conv_2023", 200, 32768, seed=5)
    b = sample_instance("azure_conv_2023", 200, 32768, seed=5)
    c = sample_instance("azure_conv_2023", 200, 32768, seed=6)
    assert a == b and a != c
    assert a.offline and a.n == 200 and a.memory == 32768
    md = a.metadata
    assert md["seed"] == 5 and md["profiles"] == ["azure_conv_2023"]
    assert md["resampled_too_large"] == 0
    assert md["profile_sha256"]["azure_conv_2023"] == \
        load_profile("azure_conv_2023").provenance["sha256"]


def test_sample_instance_mix_counts_and_shuffle():
    mix = {"azure_conv_2023": 0.5, "arxiv_summarization": 0.5}
    inst = sample_instance(None, 101, 16384, seed=1, mix=mix)
    assert inst.metadata["counts"] == {"azure_conv_2023": 51, "arxiv_summarization": 50}
    assert sample_instance(list(mix), 101, 16384, seed=1) == inst
    assert sample_instance(mix, 101, 16384, seed=1) == inst
    big = sample_instance(None, 20_000, 16384, seed=2, mix=mix)
    # the mix mean lies between the two components' means
    assert abs(big.prefill.mean() - 0.5 * (1154.7 + 2588.1)) < 60
    # shuffled: both halves hold both workloads (long arxiv prompts are everywhere)
    assert big.prefill[:10000].mean() > 1500 and big.prefill[10000:].mean() > 1500


def test_sample_instance_arrivals():
    p = load_profile("azure_conv_2023")
    tr = sample_instance("azure_conv_2023", 5000, 65536, seed=3, arrivals="trace-rate")
    assert not tr.offline and tr.arrival[0] == 0 and np.all(np.diff(tr.arrival) >= 0)
    span_s = tr.arrival[-1] * 0.025
    assert abs(span_s / 4999 - p.mean_interarrival) / p.mean_interarrival < 0.1
    fast = sample_instance("azure_conv_2023", 5000, 65536, seed=3, arrivals="trace-rate", rate=50.0)
    assert abs(fast.arrival[-1] * 0.025 / 4999 - 1 / 50) < 0.003
    po = sample_instance("arxiv_summarization", 5000, 65536, seed=3, arrivals="poisson", rate=10.0,
                         step_seconds=0.01)
    assert abs(po.arrival[-1] * 0.01 / 4999 - 0.1) < 0.01
    assert po.metadata["rate_per_s"] == 10.0 and po.metadata["step_seconds"] == 0.01
    with pytest.raises(ValueError, match="inter-arrival"):
        sample_instance("arxiv_summarization", 10, 65536, seed=1, arrivals="trace-rate")
    with pytest.raises(ValueError, match="rate"):
        sample_instance("arxiv_summarization", 10, 65536, seed=1, arrivals="poisson")


def test_too_large_is_an_error_or_recorded_resample():
    with pytest.raises(ValueError, match=r"cannot fit in memory 2048.*too_large='resample'"):
        sample_instance("arxiv_summarization", 50, 2048, seed=1)
    inst = sample_instance("arxiv_summarization", 50, 2048, seed=1, too_large="resample")
    assert inst.metadata["resampled_too_large"] > 0
    assert np.all(inst.prefill + inst.decode <= 2048)
    again = sample_instance("arxiv_summarization", 50, 2048, seed=1, too_large="resample")
    assert again == inst
    with pytest.raises(ValueError, match="too small"):
        sample_instance("arxiv_summarization", 5, 3, seed=1, too_large="resample")


def test_sampled_instances_are_schedulable():
    inst = sample_instance(None, 30, 8192, seed=4, too_large="resample",
                           mix={"azure_conv_2023": 1, "arxiv_summarization": 1})
    # a sequential schedule is always feasible (each request fits alone): checker agrees
    starts = np.concatenate(([0], np.cumsum(inst.decode)[:-1]))
    assert check(inst, starts).feasible


@pytest.mark.parametrize("kwargs, match", [
    ({"profiles": "nope"}, "unknown workload profile"),
    ({"n": 0}, "n must be"),
    ({"memory": 0}, "memory"),
    ({"arrivals": "bursty"}, "arrivals"),
    ({"too_large": "clamp"}, "too_large"),
    ({"mix": {"azure_conv_2023": -1}}, "weight"),
    ({"mix": {"azure_conv_2023": 1}, "profiles": "arxiv_summarization"}, "do not match"),
    ({"rate": -2.0, "arrivals": "poisson"}, "rate"),
    ({"step_seconds": 0}, "step_seconds"),
])
def test_errors(kwargs, match):
    args = {"profiles": "azure_conv_2023", "n": 10, "memory": 65536, "seed": 1}
    args.update(kwargs)
    if "mix" in kwargs and "profiles" not in kwargs:
        args["profiles"] = None
    with pytest.raises(ValueError, match=match):
        sample_instance(args.pop("profiles"), args.pop("n"), args.pop("memory"), args.pop("seed"),
                        **args)
    with pytest.raises(ValueError, match="inter-arrival"):
        load_profile("arxiv_summarization").sample_interarrival(3)


@pytest.fixture(scope="module")
def fresh_profiles(tmp_path_factory):
    """Run benchmarks/derive_profiles.py on the traces once, into a temporary folder."""
    for name in NAMES:
        trace_file(f"{name}.csv")
    out = tmp_path_factory.mktemp("profiles")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "derive_profiles.py"), "--traces", str(TRACES),
         "--out", str(out), "--date", "2000-01-01"],
        capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.parametrize("name", NAMES)
def test_shipped_profiles_in_sync_with_script(name, fresh_profiles):
    """Re-running benchmarks/derive_profiles.py on the traces reproduces the shipped JSON."""
    fresh = json.loads((fresh_profiles / f"{name}.json").read_text())
    shipped = json.loads((ROOT / "lpsched" / "data" / "profiles" / f"{name}.json").read_text())
    assert fresh["provenance"]["derived_on"] == "2000-01-01"
    for d in (fresh, shipped):
        d["provenance"].pop("derived_on")
    assert fresh == shipped
    assert len(shipped["provenance"]["sha256"]) == 64


def test_sample_cli(tmp_path, capsys):
    from lpsched.cli import main
    from lpsched.instance import read_json

    assert main(["sample", "--list"]) == 0
    out = capsys.readouterr().out
    assert "azure_conv_2023" in out and "arxiv_summarization" in out
    assert main(["sample", "arxiv_summarization", "--n", "50", "--memory", "2048"]) == 2
    err = capsys.readouterr().err
    assert "cannot fit in memory 2048" in err and err.count("\n") == 1
    f = tmp_path / "s.json"
    assert main(["sample", "azure_conv_2023:1,arxiv_summarization:3", "--n", "40", "--memory",
                 "2048", "--seed", "4", "--resample", "--out", str(f)]) == 0
    inst = read_json(f)
    assert inst == sample_instance({"azure_conv_2023": 1, "arxiv_summarization": 3}, 40, 2048, 4,
                                   too_large="resample")
    assert inst.metadata["counts"] == {"azure_conv_2023": 10, "arxiv_summarization": 30}
    assert main(["sample", "azure_conv_2023:x", "--n", "5", "--memory", "99999"]) == 2
    assert "weight" in capsys.readouterr().err
