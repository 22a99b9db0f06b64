"""Plots of AFD sweeps (matplotlib is optional and imported only here, lazily)."""

from __future__ import annotations

from collections.abc import Sequence


def _plt():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover
        raise ValueError("plotting needs matplotlib (pip install 'lpsched[plot]')") from None
    return plt


def plot_sweep(rows: Sequence[dict], path: str, title: str = "", marks: dict | None = None,
               ax_pair=None) -> None:
    """Throughput per device and idle fractions against ``r`` (rows from a sweep);
    vertical lines at ``marks`` (label -> r).  Writes a PNG to ``path`` unless axes are
    given."""
    plt = _plt()
    if ax_pair is None:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    else:
        fig, (a1, a2) = None, ax_pair
    r = [x["r"] for x in rows]
    a1.plot(r, [x["throughput_per_instance"] for x in rows], "o-", ms=3, label="simulation")
    a1.set_xlabel("r (attention instances per FFN)")
    a1.set_ylabel("tokens/s per device")
    a2.plot(r, [x["idle_attention"] for x in rows], "o-", ms=3, label="attention idle")
    a2.plot(r, [x["idle_ffn"] for x in rows], "s-", ms=3, label="FFN idle")
    a2.set_xlabel("r")
    a2.set_ylabel("idle fraction")
    styles = iter(["--", ":", "-."])
    for label, rv in (marks or {}).items():
        ls = next(styles, "--")
        for a in (a1, a2):
            a.axvline(rv, color="gray", ls=ls, lw=1, label=f"{label} = {rv}")
    a1.legend(fontsize=7)
    a2.legend(fontsize=7)
    a1.set_title(title, fontsize=9)
    if fig is not None:
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
