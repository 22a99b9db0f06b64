"""The tiny set's stated optima: reproduced by the independent brute-force oracle and the checker."""

from __future__ import annotations

import pytest

from lpsched.check import check
from lpsched.library import instance_files
from lpsched.schedule import Schedule


@pytest.mark.parametrize("name", [p.stem for p in instance_files("tiny")])
def test_stated_optimum(brute_optimum, name, tiny):
    inst = tiny[name]
    opt, _ = brute_optimum(inst)
    assert opt == inst.metadata["optimum"]
    witness = Schedule.from_mapping(inst, inst.metadata["optimal_starts"])
    rep = check(inst, witness)
    assert rep.feasible and rep.objective == opt
