"""Output-length predictors for deployed policies: the default, fitted to a trace profile.

:class:`ProfilePredictor` predicts a request's output length from its prompt length with
the bundled workload profile's checkerboard copula (:mod:`lpsched.workloads`): the prompt
length's rank ``u = F_s(P)`` (the profile's prefill quantile table, inverted) selects a
rank bin ``i`` of ``K = 50``; the prediction is the **median of the decode length
conditional on that bin**, read from the copula row ``C[i, :]`` (the decode rank ``v`` at
which the row's cumulative count reaches half, linear inside the bin) and mapped through
the decode quantile table, ``round(Q_o(v))``. It is the simplest fitted rule that uses what
a scheduler knows (the prompt); its error on the trace it was fitted to is measured by
``benchmarks/bench_length_predictor.py`` (``benchmarks/results/length_predictor.md``).
Any better predictor can replace it (``lpsched.integrations.vllm``: ``predictor``, or a
per-request hint).
"""

from __future__ import annotations

import numpy as np

from lpsched.workloads import WorkloadProfile, load_profile

__all__ = ["ProfilePredictor"]


class ProfilePredictor:
    """Conditional-median output length given the prompt length (module docstring).

    >>> p = ProfilePredictor("azure_conv_2023")
    >>> 1 <= p(100) and 1 <= p(4000)
    True
    """

    def __init__(self, profile: str | WorkloadProfile = "azure_conv_2023"):
        prof = load_profile(profile) if isinstance(profile, str) else profile
        if prof.copula_counts is None:
            raise ValueError(f"profile {prof.name!r} has no copula table to predict from")
        self.profile = prof
        c = np.asarray(prof.copula_counts, dtype=np.float64)
        k = c.shape[0]
        cum = np.cumsum(c, axis=1)
        half = cum[:, -1] / 2.0
        medians = np.empty(k)
        for i in range(k):
            j = int(np.searchsorted(cum[i], half[i], side="left"))
            before = cum[i, j - 1] if j else 0.0
            frac = (half[i] - before) / c[i, j] if c[i, j] else 0.5
            medians[i] = (j + frac) / k
        self._k = k
        self._by_bin = np.maximum(np.rint(np.interp(medians, prof.levels,
                                                    prof.decode_quantiles)), 1).astype(np.int64)

    def predict(self, prompt_tokens: np.ndarray | list[int]) -> np.ndarray:
        """Predicted output lengths for many prompt lengths (int64, each >= 1)."""
        prof = self.profile
        s = np.asarray(prompt_tokens, dtype=np.float64)
        u = np.interp(s, prof.prefill_quantiles, prof.levels)
        i = np.minimum((u * self._k).astype(np.int64), self._k - 1)
        return self._by_bin[i]

    def __call__(self, prompt_tokens: int) -> int:
        return int(self.predict([prompt_tokens])[0])
