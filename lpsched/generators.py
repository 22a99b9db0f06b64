"""Seeded random instance generators.

* :func:`mcsf_synthetic` - the synthetic family used for the hindsight optimum in
  Jaillet et al. (2025), "Online Scheduling for LLM Inference with KV Cache
  Constraints": all arrivals at 0, ``M ~ U[30, 50]``, ``s_i ~ U[1, 5]``,
  ``o_i ~ U[1, M - s_i]`` (integer uniforms, bounds included).
* :func:`random_instance` - small random instances for tests and examples
  (optionally with arrivals); every request fits alone (``s_i + o_i <= M``).

Every generator takes a ``seed`` and returns the same instance for the same seed.
"""

from __future__ import annotations

import numpy as np

from lpsched.instance import Instance

__all__ = ["mcsf_synthetic", "random_instance"]


def mcsf_synthetic(n: int, seed: int, *, name: str | None = None) -> Instance:
    """One instance of the MC-SF paper's synthetic family (see module docstring)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    memory = int(rng.integers(30, 51))
    s = rng.integers(1, 6, size=n)
    o = rng.integers(1, memory - s + 1)  # U[1, M - s_i], per request
    return Instance.from_arrays(
        memory, s, o, name=name or f"mcsf-n{n}-s{seed}",
        metadata={"source": "lpsched.generators.mcsf_synthetic", "n": n, "seed": seed,
                  "family": "M~U[30,50], s~U[1,5], o~U[1,M-s], arrivals 0 "
                            "(Jaillet et al. 2025)"})


def random_instance(
    n: int,
    memory: int,
    seed: int,
    *,
    max_prefill: int | None = None,
    max_decode: int | None = None,
    max_arrival: int = 0,
    name: str | None = None,
) -> Instance:
    """A random instance with ``n`` requests and budget ``memory``.

    ``s_i ~ U[0, max_prefill]`` and ``o_i ~ U[1, min(max_decode, M - s_i)]``
    (so every request fits alone), ``a_i ~ U[0, max_arrival]``.
    """
    if memory < 1:
        raise ValueError(f"memory must be >= 1, got {memory}")
    rng = np.random.default_rng(seed)
    max_prefill = memory - 1 if max_prefill is None else min(max_prefill, memory - 1)
    max_decode = memory if max_decode is None else max_decode
    s = rng.integers(0, max_prefill + 1, size=n)
    o = rng.integers(1, np.minimum(max_decode, memory - s) + 1)
    a = rng.integers(0, max_arrival + 1, size=n)
    return Instance.from_arrays(memory, s, o, a, name=name or f"rand-n{n}-m{memory}-s{seed}",
                                metadata={"source": "lpsched.generators.random_instance",
                                          "seed": seed})
