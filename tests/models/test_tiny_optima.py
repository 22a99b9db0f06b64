"""The tiny set's stated optima: reproduced by the independent brute-force oracle and the checker."""

from __future__ import annotations

import pytest

from lpsched.check import check
from lpsched.library import instance_files, load_instance
from lpsched.schedule import Schedule
from tests.oracle import brute_force_optimum


@pytest.mark.parametrize("name", [p.stem for p in instance_files("tiny")])
def test_stated_optimum(name):
    inst = load_instance(name)
    opt, _ = brute_force_optimum(inst.memory, inst.prefill.tolist(), inst.decode.tolist(),
                                 inst.arrival.tolist())
    assert opt == inst.metadata["optimum"]
    witness = Schedule.from_mapping(inst, inst.metadata["optimal_starts"])
    rep = check(inst, witness)
    assert rep.feasible and rep.objective == opt
