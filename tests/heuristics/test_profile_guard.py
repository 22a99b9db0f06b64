"""The serial decoder's memory guard: heuristics refuse, up front and in one line, an
instance whose dense per-step profile would not fit (horizons near the integer cap),
instead of failing part-way with a ``MemoryError`` (status ``error``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lpsched import Instance, registry, solve
from lpsched.check import check
from lpsched.cli import main
from lpsched.heuristics import serial
from lpsched.heuristics.ordering_lp import ordering_lp
from lpsched.instance import write_json
from lpsched.options import UnsupportedInstance
from lpsched.schedule import SolveStatus

#: The algorithms whose serial decoder spans the horizon: they must refuse.
SERIAL = ("smith-area", "sorted-f-cont", "local-search", "sorted-lp", "lp-swap", "lp-horizon")


def _huge(decode: int, arrival: int) -> Instance:
    """Legal input (horizon below 2^40) whose dense profile would take terabytes."""
    return Instance.from_arrays(4 * decode + 40, [10, 10, 10], [decode, decode, decode],
                                [0, arrival, 0])


CASES = {"decode 1e11": (10**11, 0), "arrival 1e12": (4, 10**12)}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("name", [s.name for s in registry.specs() if s.builtin])
def test_no_algorithm_fails_with_memory_error_near_the_cap(name, case):
    """Every built-in algorithm either solves (a verified schedule, never status
    ``error``) or refuses with one :class:`UnsupportedInstance` line naming itself; the
    serial-decoder ones refuse with the estimate and the guard."""
    inst = _huge(*CASES[case])
    try:
        res = solve(inst, name, time_limit=5)
    except UnsupportedInstance as exc:
        msg = str(exc)
        assert "\n" not in msg and msg.startswith(f"{name}: ")
        if name in SERIAL:
            assert "serial decoder" in msg and "TB, above the 2.0 GB guard" in msg
        return
    # sorted-f-cont with arrivals is the online policy (no profile over the horizon)
    assert name not in SERIAL or (name == "sorted-f-cont" and not inst.offline)
    assert res.status is not SolveStatus.ERROR, res.message
    assert check(inst, res.schedule).feasible


def test_guard_boundary_is_the_estimate(monkeypatch):
    """Refused exactly when :func:`serial_bytes` exceeds :data:`MAX_SERIAL_BYTES`."""
    inst = Instance.from_arrays(20, [1, 2, 3], [4, 5, 6])
    need = serial.serial_bytes(inst)
    monkeypatch.setattr(serial, "MAX_SERIAL_BYTES", need)
    serial.refuse_large_profile("smith-area", inst)  # at the cap: accepted
    assert solve(inst, "smith-area").status is SolveStatus.FEASIBLE
    monkeypatch.setattr(serial, "MAX_SERIAL_BYTES", need - 1)
    with pytest.raises(UnsupportedInstance, match=r"smith-area: .* above the"):
        solve(inst, "smith-area")


def test_ordering_lp_and_online_policies_skip_a_window_too_large():
    """The ordering LP does not decode its default horizon above the guard (status
    ``memory``); the online LP policies then keep the Sorted-F order of that window."""
    inst = _huge(10**11, 0)
    assert ordering_lp(inst).status == "memory"
    for name in ("sorted-lp-online", "lp-swap-online"):
        res = solve(inst, name, time_limit=5)
        assert res.status is SolveStatus.FEASIBLE, res.message
        assert res.stats["lp_failed"] >= 1 and res.stats["lp_solves"] >= 1


@pytest.mark.parametrize("name", SERIAL)
def test_cli_refuses_in_one_line(name, tmp_path, capsys):
    path = tmp_path / "huge.json"
    write_json(_huge(10**11, 0), path)
    assert main(["solve", str(path), "--algo", name]) == 2
    cap = capsys.readouterr()
    assert cap.out == ""
    lines = cap.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"lpsched: error: {name}: ")
    assert "TB, above the 2.0 GB guard" in lines[0]


def test_cli_refusal_as_a_command_has_no_traceback(tmp_path):
    path = tmp_path / "huge.json"
    write_json(_huge(4, 10**12), path)
    run = subprocess.run([sys.executable, "-m", "lpsched.cli", "solve", str(path), "--algo",
                          "lp-horizon"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr and len(run.stderr.splitlines()) == 1
    assert "lp-horizon: its serial decoder" in run.stderr
