"""Figures are written, readable (titled), and bad input is refused."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("matplotlib")

from lpsched import plots  # noqa: E402
from lpsched.cli import main  # noqa: E402
from lpsched.library import load_instance  # noqa: E402


def solve_sequential(inst, *, time_limit=None, seed=None, **options):
    """One request after the other (test-only algorithm)."""
    import numpy as np

    from lpsched.schedule import Result, Schedule, SolveStatus

    starts = np.concatenate(([0], np.cumsum(inst.decode)[:-1]))
    return Result("t-seq", SolveStatus.FEASIBLE, schedule=Schedule(inst, starts))


def _is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_memory_plot(tmp_path):
    inst = load_instance("tiny-3")
    out = plots.plot_memory(inst, [0] * inst.n, tmp_path / "m.png")
    assert _is_png(out)
    svg = plots.plot_memory(inst, [0, 2, 4, 6], tmp_path / "m.svg")
    text = svg.read_text()
    assert "<svg" in text and "budget M" in text and "decode step" in text
    with pytest.raises(ValueError, match=".png or .svg"):
        plots.plot_memory(inst, [0] * inst.n, tmp_path / "m.pdf")


def test_gap_plot_bars_and_boxes(tmp_path):
    rows = [{"instance": f"i{k}", "algorithm": a, "gap_pct": g, "status": "feasible"}
            for k in range(20) for a, g in (("a", k * 1.0), ("b", None if k == 3 else 2.0))]
    assert _is_png(plots.plot_gaps(rows[:10], tmp_path / "bars.png"))
    svg = plots.plot_gaps(rows, tmp_path / "box.svg").read_text()
    assert "gap to lower bound" in svg
    rows = [dict(r, vs_best_pct=r["gap_pct"]) for r in rows]
    svg = plots.plot_gaps(rows, tmp_path / "vs.svg", metric="vs_best_pct").read_text()
    assert "above best known" in svg
    with pytest.raises(ValueError, match="metric"):
        plots.plot_gaps(rows, tmp_path / "x.svg", metric="nope")


def test_afd_plot_and_cli(tmp_path, capsys):
    pts = [{"r": r, "throughput_per_instance": 100 * r / (r + 1) - 3 * r,
            "idle_attention": 0.05 * r, "idle_ffn": max(0.0, 0.5 - 0.1 * r)} for r in range(1, 9)]
    f = tmp_path / "sweep.json"
    f.write_text(json.dumps({"results": pts, "r_best": 4}))
    assert main(["plot", "afd", str(f), "--out", str(tmp_path / "afd.png")]) == 0
    assert _is_png(tmp_path / "afd.png")
    assert "wrote" in capsys.readouterr().out
    f.write_text(json.dumps([{"r": 1}]))
    assert main(["plot", "afd", str(f), "--out", str(tmp_path / "afd.png")]) == 2
    assert "throughput_per_instance" in capsys.readouterr().err


def test_plot_cli_memory_and_gaps(tmp_path, monkeypatch):
    from lpsched import registry

    monkeypatch.setattr(registry, "_BUILTIN", [registry.AlgorithmSpec(
        "t-seq", f"{__name__}:solve_sequential", "policy", "test")])
    assert main(["plot", "memory", "tiny-3", "--algo", "t-seq", "--out",
                 str(tmp_path / "m.png")]) == 0
    assert main(["bench", "tiny", "--algos", "t-seq", "--jobs", "1", "--quiet", "--out",
                 str(tmp_path / "r.csv")]) == 0
    assert main(["plot", "gaps", str(tmp_path / "r.csv"), "--out", str(tmp_path / "g.png")]) == 0
    assert _is_png(tmp_path / "g.png")
    assert main(["plot", "memory", "tiny-3", "--out", str(tmp_path / "m.png")]) == 2
