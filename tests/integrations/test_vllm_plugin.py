"""``lpsched.integrations.vllm``: the plugin inside vLLM's real ``AsyncScheduler`` (runs where
vLLM is importable, skipped with the reason otherwise), and what must hold without vLLM:
importing lpsched never imports vLLM, and the plugin module fails with one line when vLLM
is missing or of an untested version."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench_scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
HAVE_VLLM = importlib.util.find_spec("vllm") is not None
NO_VLLM = ("vLLM is not installed here (it never is in lpsched's test environment); run "
           "this test with the Python of a virtual environment with `pip install vllm==0.33.0`")


def _python(code: str, extra_path: str | None = None) -> subprocess.CompletedProcess:
    path = os.pathsep.join(p for p in (extra_path, str(ROOT)) if p)
    env = dict(os.environ, PYTHONPATH=path)
    env.pop("LPSCHED_VLLM_ANY_VERSION", None)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)


def test_importing_lpsched_never_imports_vllm():
    out = _python("import sys, lpsched, lpsched.engine, lpsched.integrations.driver, "
                  "lpsched.integrations.predictor; print('vllm' in sys.modules)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(HAVE_VLLM, reason="vLLM is installed: the missing-vLLM message cannot show")
def test_without_vllm_the_plugin_fails_with_one_line():
    out = _python("import lpsched.integrations.vllm")
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().count("\n") == 0
    assert "vLLM is not installed" in out.stderr and 'lpsched[vllm]' in out.stderr


def test_an_untested_vllm_version_fails_with_one_line(tmp_path):
    fake = tmp_path / "vllm"
    fake.mkdir()
    (fake / "__init__.py").write_text("__version__ = '0.1.0'\n")
    out = _python("import lpsched.integrations.vllm", extra_path=str(tmp_path))
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().count("\n") == 0
    assert "vLLM 0.1.0 is not supported" in out.stderr


@pytest.mark.skipif(not HAVE_VLLM, reason=NO_VLLM)
@pytest.mark.parametrize("policy", ["vllm", "fcfs", "mc-sf", "sf", "size-first",
                                    "sorted-f-online"])
def test_plugin_in_vllm_decides_as_the_engine(policy):
    """vLLM 0.33.0's ``AsyncScheduler`` with the plugin, driven on the CPU through the
    ``tiny`` and ``preemption`` workloads of the peer benchmark, decides as lpsched's engine
    running the same policy: every first admission, preemption and completion step."""
    bench = load_script("peer_vllm_plugin")
    driver = load_script("peer_vllm_driver")
    import lpsched.integrations.vllm as plugin

    cls = getattr(plugin, bench.CLASSES[policy])
    for w in bench.pv.workloads(None):
        if w.name not in ("tiny", "preemption"):
            continue
        rec = driver.run(w, asynchronous=True, scheduler_cls=cls,
                         additional_config=bench.CONFIG)
        assert rec["settings"]["scheduler"].endswith(bench.CLASSES[policy])
        peer = bench.pv.recorded_decisions(rec)
        assert bench._all_three(peer, bench.engine_decisions(rec, policy)) == 100.0, w.name
        if policy == "vllm":  # the identity: vLLM's own scheduler decides the same
            own = bench.pv.recorded_decisions(driver.run(w, asynchronous=True))
            assert bench._all_three(peer, own) == 100.0, w.name


@pytest.mark.skipif(not HAVE_VLLM, reason=NO_VLLM)
def test_plugin_refuses_an_unknown_option():
    bench = load_script("peer_vllm_plugin")
    driver = load_script("peer_vllm_driver")
    import lpsched.integrations.vllm as plugin

    w = next(w for w in bench.pv.workloads(None) if w.name == "tiny")
    with pytest.raises(ValueError, match="unknown option"):
        driver.run(w, asynchronous=True, scheduler_cls=plugin.MCSFScheduler,
                   additional_config={"lpsched": {"predicter": "max_tokens"}})
