"""The memory and build-time guards of the exact models, and the export size guard."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from lpsched.check import check
from lpsched.generators import mcsf_synthetic, random_instance
from lpsched.models.arrays import time_indexed_arrays
from lpsched.models.combinatorial import combined_bound, combined_bound_without_each
from lpsched.models.cpsat import build_cpsat
from lpsched.models.export import ModelTooLarge, export_model
from lpsched.models.guard import (
    cpsat_size,
    estimate_cpsat_bytes,
    smallest_time_indexed_size,
    time_indexed_size,
)
from lpsched.models.windows import start_windows
from lpsched.schedule import SolveStatus
from lpsched.solve import solve
from tests.strategies import examples, instances


def _assert_guarded(inst, res, algo):
    assert res.status == SolveStatus.TIME_LIMIT
    assert res.stats["model_built"] is False and res.stats["refused"] == "memory"
    assert "model not built: estimated" in res.message and "max_model_bytes" in res.message
    rep = check(inst, res.schedule)
    assert rep.feasible and rep.objective == res.objective
    assert res.lower_bound == combined_bound(inst) <= res.objective
    assert res.stats["model_bytes_estimate"] > 1000


@pytest.mark.parametrize("algo", ["milp", "cpsat"])
def test_memory_guard_refuses_above_the_cap_and_returns_the_warm_start(algo):
    inst = mcsf_synthetic(14, 2)
    res = solve(inst, algo, time_limit=2, max_model_bytes=1000)
    _assert_guarded(inst, res, algo)
    # refused before the warm start (both estimates are known then): no windows computed,
    # and the warm start had the whole time
    assert "horizon" not in res.stats
    serial = solve(inst, algo, time_limit=2, max_model_bytes=1000, warm_start="serial")
    _assert_guarded(inst, serial, algo)
    assert serial.stats["warm_start_from"] == "serial"


def test_milp_guard_after_the_warm_start_improves_it_with_local_search():
    """A cap between the smallest possible model and the actual one: refused after the
    windows are known; the rest of the time goes to local search from the warm start."""
    from lpsched.models.guard import estimate_model_bytes

    inst = mcsf_synthetic(30, 7)
    lb_rest = combined_bound_without_each(inst)
    low = estimate_model_bytes(*smallest_time_indexed_size(inst, lb_rest, combined_bound(inst)))
    res = solve(inst, "milp", time_limit=2, max_model_bytes=low * 1.01)
    _assert_guarded(inst, res, "milp")
    assert "horizon" in res.stats and res.stats["model_bytes_estimate"] > low
    assert res.objective <= res.stats["warm_start_objective"]


def test_cpsat_on_a_large_backlog_is_refused_at_once_with_the_estimate():
    """The issue's case: CP-SAT on 1,000 requests took 46 s and 5.6 GB at a 10 s limit."""
    import resource

    from lpsched.workloads import sample_instance

    inst = sample_instance("azure_conv_2023", 1000, 16384, 1, too_large="resample")
    est = estimate_cpsat_bytes(inst)
    assert est > 3e9  # measured 5.6 GB; the default cap is 2 GB
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    res = solve(inst, "cpsat", time_limit=1)
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    assert res.runtime < 1 + 3
    assert res.status == SolveStatus.TIME_LIMIT and res.stats["refused"] == "memory"
    assert check(inst, res.schedule).feasible
    assert grown < 0.5e9


@settings(max_examples=examples(40))
@given(instances(max_n=7, max_memory=20, max_decode=6, max_arrival=6))
def test_model_size_measures_match_the_built_models(inst):
    """The sizes the guards use are exact (CP-SAT) or upper bounds (non-zeros), and the
    smallest-window size is a lower bound for any warm start."""
    w = start_windows(inst)
    columns, nnz = time_indexed_size(inst, w)
    arr = time_indexed_arrays(inst, w)
    assert columns == arr.ncols and arr.A_mem.nnz <= nnz
    lo_cols, lo_nnz = smallest_time_indexed_size(inst, combined_bound_without_each(inst),
                                                 combined_bound(inst))
    assert lo_cols <= columns and lo_nnz <= nnz
    m = build_cpsat(inst, windows=w, symmetry_breaking=False)
    names = [v.name for v in m.model.Proto().variables]
    pairs = sum(x.startswith("tailorder_") for x in names)
    terms = sum(x.startswith("active_") for x in names)
    assert pairs == inst.n * (inst.n - 1) // 2 and pairs + terms == cpsat_size(inst)
    assert cpsat_size(inst, "cumulative") == int((inst.decode + 1).sum())


def test_build_time_guard_spends_the_time_on_local_search():
    """A CP-SAT events model too slow to build in half the time left is not built."""
    inst = random_instance(120, 200, 3, max_decode=20, max_prefill=20)
    res = solve(inst, "cpsat", time_limit=0.5)
    assert res.status == SolveStatus.TIME_LIMIT and res.stats["refused"] == "time"
    assert "estimated build time" in res.message
    assert check(inst, res.schedule).feasible and res.runtime < 0.5 + 3


def test_export_refuses_above_the_cap_and_works_with_force(tmp_path):
    inst = mcsf_synthetic(12, 1)
    path = tmp_path / "m.mps"
    with pytest.raises(ModelTooLarge, match=r"estimated .* of memory and .* of MPS file.*--force"):
        export_model(inst, path, max_file_bytes=1e5)
    assert not path.exists()
    heard: list[str] = []
    out = export_model(inst, path, max_file_bytes=1e5, force=True, progress=heard.append)
    assert out.stat().st_size > 1e5 and any("forced" in h for h in heard)
    # the estimate before the windows: smallest model already above the cap
    with pytest.raises(ModelTooLarge, match="at least"):
        export_model(inst, path, max_model_bytes=1.0)


def test_export_file_estimate_is_close(tmp_path):
    from lpsched.models.guard import FILE_ERROR, estimate_file_bytes

    for n, fmt in ((10, "mps"), (14, "lp")):
        inst = mcsf_synthetic(n, 3)
        est = estimate_file_bytes(*time_indexed_size(inst, start_windows(inst)), fmt)
        size = export_model(inst, tmp_path / f"m.{fmt}").stat().st_size
        assert abs(est - size) <= FILE_ERROR * size, (fmt, est, size)


def test_cli_export_guard_exit_2_and_force(tmp_path, capsys, monkeypatch):
    import lpsched.models.export as ex
    from lpsched.cli import main
    from lpsched.instance import write_json

    inst = mcsf_synthetic(12, 1)
    src = tmp_path / "i.json"
    write_json(inst, src)
    monkeypatch.setattr(ex, "DEFAULT_MAX_FILE_BYTES", 1e5)
    monkeypatch.setattr(ex.export_model, "__kwdefaults__",
                        {**ex.export_model.__kwdefaults__, "max_file_bytes": 1e5})
    out = tmp_path / "m.mps"
    assert main(["export", str(src), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--force" in err and "MPS file" in err and not out.exists()
    monkeypatch.setattr(ex, "LARGE_FILE_BYTES", 1e5)
    assert main(["export", str(src), "--out", str(out), "--force"]) == 0
    err = capsys.readouterr().err
    assert "lpsched export: building" in err and "lpsched export: writing" in err
    assert out.stat().st_size > 1e5


def test_export_of_a_big_backlog_is_refused_fast(tmp_path):
    """The issue's case: exporting a 1,000-request backlog ran for minutes with no output."""
    import time

    from lpsched.workloads import sample_instance

    inst = sample_instance("azure_conv_2023", 1000, 65536, 1, too_large="resample")
    t = time.perf_counter()
    with pytest.raises(ModelTooLarge, match="at least"):
        export_model(inst, tmp_path / "big.mps")
    assert time.perf_counter() - t < 5
    assert np.all(inst.decode > 0)
