"""The examples in the package's docstrings run and give what they show."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil

import pytest

import lpsched

#: modules that need an optional third-party package (they exit with one line without it)
OPTIONAL = {"lpsched.integrations.vllm": "vllm"}
MODULES = sorted(m.name for m in pkgutil.walk_packages(lpsched.__path__, "lpsched.")
                 if not m.name.endswith("__main__") and m.name != "lpsched.models.highs_process"
                 and (m.name not in OPTIONAL or importlib.util.find_spec(OPTIONAL[m.name])))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"
