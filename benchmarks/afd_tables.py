"""Markdown tables of the AFD benchmark reports (``afd_validation``, ``afd_published``)."""

from __future__ import annotations

#: Columns shown as percentages (by name prefix) and as whole numbers (by name).
PERCENT = ("rel_", "thr_frac", "idle", "d_ratio", "dx_", "kv_overflow")
WHOLE = ("thr_th_tok_s", "thr_ra1f_tok_s", "planner_tok_s_dev", "sim_tok_s_dev")


def md_table(rows, cols, heads=None, fmt=None) -> str:
    """A Markdown table of ``cols`` of ``rows`` (dicts): fractions as percentages, counts of
    tokens/s as whole numbers, other floats with two decimals, ``fmt[col](value)`` first."""
    heads = heads or cols
    fmt = fmt or {}
    out = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for c in cols:
            v = r[c]
            if c in fmt:
                v = fmt[c](r)
            elif c.startswith(PERCENT) and isinstance(v, (int, float)):
                v = f"{v:.1%}"
            elif c in WHOLE and isinstance(v, (int, float)):
                v = f"{v:.0f}"
            elif isinstance(v, float):
                v = f"{v:.2f}"
            cells.append(str(v))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)
