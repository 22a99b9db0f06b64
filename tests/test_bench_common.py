"""benchmarks/common.py: a hand-written reading in a results file survives a rerun."""

from __future__ import annotations

import pytest

from tests.bench_scripts import load_script


def _common():
    return load_script("common")


def test_hand_written_block_is_kept_and_the_table_replaced(tmp_path):
    common = _common()
    start, end = common.HAND_WRITTEN
    out = tmp_path / "r"
    common.write_results(out, [{"x": 1}], ["# first run"])
    assert common.hand_written_block(out.with_suffix(".md")) == []
    md = out.with_suffix(".md")
    md.write_text(md.read_text() + f"\n{start}\n## Reading\nx is one.\n{end}\n")
    common.write_results(out, [{"x": 2}], ["# second run"])
    text = md.read_text()
    assert text.startswith("# second run\n")
    assert f"{start}\n## Reading\nx is one.\n{end}" in text
    assert "| 2 |" in text and "| 1 |" not in text
    assert text.index(end) < text.index("| x |")


def test_markers_in_the_wrong_order_are_an_error(tmp_path):
    common = _common()
    start, end = common.HAND_WRITTEN
    md = tmp_path / "r.md"
    md.write_text(f"{end}\n{start}\n")
    with pytest.raises(ValueError, match="comes before"):
        common.hand_written_block(md)


def test_appending_rows_writes_the_header_once_and_keeps_rows(tmp_path):
    common = _common()
    path = tmp_path / "rows.csv"
    with common.appending_rows(path, ["a", "b"]) as rows:
        rows.writerow({"a": 1, "b": 2})
        assert path.read_text().splitlines() == ["a,b", "1,2"]  # flushed row by row
    with common.appending_rows(path, ["a", "b"]) as rows:
        rows.writerow({"a": 3, "b": 4})
    assert path.read_text().splitlines() == ["a,b", "1,2", "3,4"]
