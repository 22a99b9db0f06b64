"""Result: read-only stats, derived with dataclasses.replace, pickled across processes."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from lpsched.schedule import SolveStatus
from lpsched.solve import solve


def test_stats_are_read_only_and_results_are_derived_by_replace(tiny3):
    res = solve(tiny3, "mc-sf")
    with pytest.raises(TypeError):
        res.stats["note"] = 1
    given = {"a": 1}
    other = dataclasses.replace(res, stats={**res.stats, "note": 1}, status=SolveStatus.TIME_LIMIT)
    mine = dataclasses.replace(res, stats=given)
    given["a"] = 2  # the result keeps its own copy
    assert mine.stats == {"a": 1}
    assert other.stats["note"] == 1 and "note" not in res.stats
    assert res.status is SolveStatus.FEASIBLE


def test_result_pickles_with_its_stats(tiny3):
    res = solve(tiny3, "lp-swap")
    back = pickle.loads(pickle.dumps(res))
    assert back == res and dict(back.stats) == dict(res.stats)
    with pytest.raises(TypeError):
        back.stats["x"] = 0
