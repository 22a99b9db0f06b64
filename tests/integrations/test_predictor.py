"""The default output-length predictor of the vLLM plugin: the conditional median read from a
profile's checkerboard copula (hand-computed on a small profile) and the bundled profiles."""

from __future__ import annotations

import numpy as np
import pytest

from lpsched.integrations.predictor import ProfilePredictor
from lpsched.workloads import WorkloadProfile, profile_names


def _profile() -> WorkloadProfile:
    """Prefill quantiles linear on [0, 100], decode 1 + 100 v, a 4 x 4 copula whose rows are
    the prompt bins [0, 25), [25, 50), [50, 75), [75, 100]."""
    counts = np.array([[4, 0, 0, 0], [0, 4, 0, 0], [0, 1, 3, 0], [0, 0, 0, 4]])
    levels = np.linspace(0, 1, 5)
    return WorkloadProfile(name="hand", levels=levels, prefill_quantiles=100 * levels,
                           decode_quantiles=1 + 100 * levels, interarrival_quantiles=None,
                           mean_prefill=50.0, mean_decode=51.0, provenance={},
                           copula_counts=counts)


def test_conditional_median_of_a_hand_made_profile():
    p = ProfilePredictor(_profile())
    # row 2 counts [0, 1, 3, 0]: cumulative 0, 1, 4, 4; half = 2 falls in bin 2 at (2 - 1) / 3,
    # so v = (2 + 1/3) / 4 and the decode quantile is 1 + 100 v = 59.33 -> 59
    assert p(60) == 59
    assert p(10) == round(1 + 100 * 0.5 / 4)  # row 0: the middle of bin 0
    assert p(99) == round(1 + 100 * 3.5 / 4)
    assert p.predict([10, 60, 99]).tolist() == [p(10), p(60), p(99)]


@pytest.mark.parametrize("name", profile_names())
def test_bundled_profiles_predict_lengths_inside_their_range(name):
    p = ProfilePredictor(name)
    prompts = np.array([1, 10, 100, 1000, 4000, 100_000])
    got = p.predict(prompts)
    lo, hi = p.profile.decode_quantiles[0], p.profile.decode_quantiles[-1]
    assert got.dtype == np.int64 and np.all(got >= max(1, lo)) and np.all(got <= hi)
