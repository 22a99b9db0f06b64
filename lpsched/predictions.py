"""Interval predictions of decode lengths: ``[l_i, u_i]`` per request, validated and generated.

Chen, Ye, Zhou, *Adaptively Robust LLM Inference Optimization under Prediction
Uncertainty* (arXiv 2508.14544) assume a predictor that returns, for every request,
an interval ``[l_i, u_i]`` that contains its true decode length ``o_i``; the
*accuracy* of the predictor is ``alpha = l / u`` (``alpha = 1``: exact lengths,
``alpha -> 0``: no information). :class:`IntervalPredictions` holds the two columns
(read-only int64 arrays aligned with ``instance.ids``); :func:`validate_intervals`
checks them against an instance (``1 <= l_i <= u_i``, integers, one per request) and
refuses bad data with one line naming the request and the rule;
:func:`interval_predictions` draws intervals of a given accuracy around the true
lengths; :func:`binned_intervals` gives a perfect length classifier's bins (the
"interval classification (min-max range)" of the paper's abstract, with bins of ours).

A point predictor is the special case ``l = u``. The true length may lie outside a
given interval (a wrong predictor); the policies then see their memory guard act
(:mod:`lpsched.simulate`), nothing is clamped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lpsched.errors import InstanceError
from lpsched.instance import Instance, integer_column

__all__ = ["IntervalPredictions", "binned_intervals", "interval_predictions", "resolve_intervals",
           "validate_intervals"]


@dataclass(frozen=True)
class IntervalPredictions:
    """Predicted decode-length intervals ``[lower_i, upper_i]`` (read-only int64 columns).

    Build it with :func:`validate_intervals` (checks) or :func:`interval_predictions`
    (draws); :attr:`accuracy` is ``min_i lower_i / upper_i``, the ``alpha`` of the paper.
    """

    lower: np.ndarray
    upper: np.ndarray

    @property
    def accuracy(self) -> float:
        """``min_i l_i / u_i`` (1.0 for exact intervals)."""
        if self.lower.size == 0:
            return 1.0
        return float((self.lower / self.upper).min())

    def contains(self, decode: np.ndarray) -> np.ndarray:
        """Boolean mask: ``l_i <= o_i <= u_i``."""
        return (self.lower <= decode) & (decode <= self.upper)

    def as_pairs(self) -> list[list[int]]:
        """``[[l, u], ...]`` (the JSON form)."""
        return [[int(lo), int(hi)] for lo, hi in zip(self.lower.tolist(), self.upper.tolist())]


def _column(instance: Instance, values: Any, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.size != instance.n:
        raise InstanceError(f"{what} must be a list of {instance.n} decode lengths, got shape "
                            f"{arr.shape}")
    arr = integer_column(arr, what, ids=instance.ids)
    if np.any(arr < 1):
        k = int(np.flatnonzero(arr < 1)[0])
        raise InstanceError(f"{what} must be >= 1, got {arr[k]}", request=instance.ids[k])
    return arr


def validate_intervals(instance: Instance, lower: Any, upper: Any | None = None
                       ) -> IntervalPredictions:
    """Interval predictions checked against ``instance``.

    Parameters
    ----------
    instance
        The instance the intervals belong to.
    lower, upper
        Two sequences of ``n`` integers (by request position), or ``lower`` alone as
        ``n`` pairs ``[l, u]`` (``upper`` None).

    Returns
    -------
    IntervalPredictions

    Raises
    ------
    InstanceError
        Wrong length, a non-integer, ``l < 1`` or ``l > u`` (naming the request).

    Examples
    --------
    >>> from lpsched.instance import Instance, Request
    >>> inst = Instance(20, [Request("a", 2, 5), Request("b", 1, 3)])
    >>> validate_intervals(inst, [[4, 8], [1, 3]]).accuracy
    0.3333333333333333
    >>> validate_intervals(inst, [4, 5], [8, 2])
    Traceback (most recent call last):
    ...
    lpsched.errors.InstanceError: request 'b': interval lower end 5 exceeds its upper end 2
    """
    if upper is None:
        pairs = np.asarray(lower)
        if pairs.ndim != 2 or pairs.shape != (instance.n, 2):
            raise InstanceError(f"interval predictions must be {instance.n} pairs [l, u], got "
                                f"shape {pairs.shape}")
        lower, upper = pairs[:, 0], pairs[:, 1]
    lo = _column(instance, lower, "interval lower end")
    hi = _column(instance, upper, "interval upper end")
    bad = np.flatnonzero(lo > hi)
    if bad.size:
        k = int(bad[0])
        raise InstanceError(f"interval lower end {lo[k]} exceeds its upper end {hi[k]}",
                            request=instance.ids[k])
    lo.setflags(write=False)
    hi.setflags(write=False)
    return IntervalPredictions(lo, hi)


def interval_predictions(instance: Instance, accuracy: float, seed: int | None = None
                         ) -> IntervalPredictions:
    """Intervals of accuracy ``alpha`` that contain the true decode lengths.

    For request ``i`` draw ``x_i ~ U(0, 1)`` (seeded; None means 0) and set
    ``l_i = max(1, floor(o_i alpha^x_i))`` and ``u_i = min(M - s_i, ceil(o_i alpha^(x_i - 1)))``,
    so that ``l_i <= o_i <= u_i`` and ``l_i / u_i ~ alpha``: the true length sits at
    a uniformly random place (on a log scale) of an interval of ratio ``alpha``. The
    upper end is capped at ``M - s_i`` (no longer decode fits), which only sharpens
    the interval. ``alpha = 1`` gives exact intervals ``[o_i, o_i]``.

    This is our generator of the paper's setting (an interval of ratio ``alpha``
    around each true length); the paper's own experiment draws its intervals from a
    length classifier on its trace, which we do not have.

    >>> from lpsched.instance import Instance, Request
    >>> inst = Instance(100, [Request("a", 2, 40), Request("b", 1, 3)])
    >>> iv = interval_predictions(inst, 0.5, seed=1)
    >>> bool(iv.contains(inst.decode).all()), iv.lower.tolist(), iv.upper.tolist()
    (True, [28, 1], [57, 4])
    """
    if isinstance(accuracy, bool) or not isinstance(accuracy, (int, float)) or not (
            0.0 < float(accuracy) <= 1.0):
        raise ValueError(f"interval accuracy must be a number in (0, 1], got {accuracy!r}")
    alpha = float(accuracy)
    rng = np.random.default_rng(0 if seed is None else seed)
    x = rng.random(instance.n)
    o = instance.decode.astype(np.float64)
    lo = np.maximum(1, np.floor(o * alpha ** x)).astype(np.int64)
    hi = np.ceil(o * alpha ** (x - 1.0)).astype(np.int64)
    hi = np.minimum(hi, instance.memory - instance.prefill)
    lo = np.minimum(lo, instance.decode)  # floating-point guard: l <= o <= u exactly
    hi = np.maximum(hi, instance.decode)
    lo.setflags(write=False)
    hi.setflags(write=False)
    return IntervalPredictions(lo, hi)


def binned_intervals(instance: Instance, base: float = 2.0) -> IntervalPredictions:
    """The bin of a perfect length classifier: ``[ceil(b^k), ceil(b^(k+1)) - 1]`` with
    ``b^k <= o_i < b^(k+1)`` (``b = base > 1``), the upper end capped at ``M - s_i``.

    Chen, Ye, Zhou assume an "interval classification (min-max range)" predictor; which
    bins their experiment used we could not read, so the geometric bins are ours (their
    accuracy ``l / u`` is about ``1 / b``). The truth is always inside.

    >>> from lpsched.instance import Instance, Request
    >>> inst = Instance(100, [Request("a", 2, 40), Request("b", 1, 1), Request("c", 1, 64)])
    >>> iv = binned_intervals(inst)
    >>> iv.lower.tolist(), iv.upper.tolist()
    ([32, 1, 64], [63, 1, 99])
    """
    b = float(base)
    if not b > 1.0:
        raise ValueError(f"bin base must be a number > 1, got {base!r}")
    o = instance.decode
    k = np.floor(np.log(o) / np.log(b))
    k += b ** (k + 1.0) <= o  # floating-point guard: b^k <= o < b^(k+1) exactly
    k -= b ** k > o
    lo = np.ceil(b ** k).astype(np.int64)
    hi = np.ceil(b ** (k + 1.0)).astype(np.int64) - 1
    lo = np.maximum(lo, 1)
    hi = np.maximum(np.minimum(hi, instance.memory - instance.prefill), o)
    lo.setflags(write=False)
    hi.setflags(write=False)
    return IntervalPredictions(lo, hi)


def resolve_intervals(instance: Instance, lower: Sequence[int] | None,
                      upper: Sequence[int] | None, accuracy: float | None,
                      seed: int | None) -> IntervalPredictions:
    """The intervals a policy's options ask for: given ``lower``/``upper`` (both, checked),
    else drawn at ``accuracy`` (:func:`interval_predictions`), else exact (``l = u = o``)."""
    if (lower is None) != (upper is None):
        raise InstanceError("interval predictions need both 'lower' and 'upper'")
    if lower is not None:
        if accuracy is not None:
            raise InstanceError("give either lower/upper or interval_accuracy, not both")
        return validate_intervals(instance, lower, upper)
    return interval_predictions(instance, 1.0 if accuracy is None else accuracy, seed)
