"""Paged KV memory for algorithms that plan token by token: the padded model.

With block size ``b`` a request holding ``x`` tokens occupies ``b * ceil(x / b) <= x + b - 1``
(:func:`lpsched.instance.block_tokens`). The *padded instance* has prefill ``s_i + b - 1``,
the same decode lengths, arrivals and ``M``, and ``b = 1``: in every step each running
request holds at least as much in it as in the paged instance, so **every schedule
feasible for the padded instance is feasible for the paged one** (the shared checker
verifies it on the paged instance). It is conservative by at most ``b - 1`` tokens per
running request, and it exists only when every padded request fits alone
(``s_i + o_i + b - 1 <= M``); otherwise :func:`padded_instance` refuses with
:class:`~lpsched.options.UnsupportedInstance` naming the request.

A lower bound of the padded problem is *not* a bound of the paged one (the padded
problem is more constrained), so :func:`rebased` drops it; the bound of the unpaged
problem (``b = 1``) remains valid for any ``b`` (``b ceil(x/b) >= x``).

How each kind of algorithm meets a paged instance (``AlgorithmSpec.block_mode``):
policies run in the simulator, which pads for a policy that is not block-aware
(:mod:`lpsched.simulate`); heuristics, improvement and LP-guided algorithms run on the
padded instance (:func:`lpsched.solve`); exact models refuse (``formulations/README.md``);
user algorithms get the paged instance itself and the checker verifies their schedule.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lpsched.instance import Instance
from lpsched.options import UnsupportedInstance
from lpsched.schedule import Result, Schedule

__all__ = ["padded_instance", "planning_instance", "rebased", "require_unpaged"]


def require_unpaged(instance: Instance, who: str) -> None:
    """Refuse (:class:`UnsupportedInstance`) a paged instance in a model that counts tokens."""
    if instance.block_size != 1:
        raise UnsupportedInstance(
            f"{who}: paged KV memory (block_size {instance.block_size}) is not supported by "
            "the exact models (formulations/README.md); solve with block_size 1 for a lower "
            "bound, or use a heuristic or policy")


def planning_instance(instance: Instance, who: str, mode: str) -> Instance:
    """What an algorithm of ``block_mode`` ``mode`` gets (``AlgorithmSpec.block_mode``): the
    instance itself (``"native"``, or ``b = 1``), the padded instance (``"padded"``) or a
    refusal (``"refused"``)."""
    if instance.block_size == 1 or mode == "native":
        return instance
    if mode == "refused":
        require_unpaged(instance, who)
    return padded_instance(instance, who)


def padded_instance(instance: Instance, who: str) -> Instance:
    """The padded instance of ``instance`` (module docstring); ``instance`` itself for ``b = 1``.

    ``who`` (an algorithm name) goes into the refusal message.
    """
    b = instance.block_size
    if b == 1:
        return instance
    pad = b - 1
    peak = instance.prefill + instance.decode + pad
    over = peak > instance.memory
    if np.any(over):
        k = int(np.flatnonzero(over)[0])
        raise UnsupportedInstance(
            f"{who}: plans paged memory on the padded model x + {pad} >= {b} ceil(x / {b}); "
            f"request {instance.ids[k]!r}: prefill + decode + {pad} = {int(peak[k])} exceeds "
            f"memory {instance.memory}, so it cannot plan it (use a block-aware algorithm "
            f"such as vllm, or a smaller block size)")
    return Instance.from_arrays(instance.memory, instance.prefill + pad, instance.decode,
                                instance.arrival, ids=instance.ids, name=instance.name,
                                metadata=instance.metadata)


def rebased(result: Result, instance: Instance) -> Result:
    """``result`` (computed on the padded instance) as a result of the paged ``instance``:
    the same starts and segments, no lower bound, a note in ``message`` and ``stats``."""
    sched = result.schedule
    if sched is not None:
        sched = Schedule(instance, sched.starts, sched.runs)
    note = (f"planned on the padded model (prefill + {instance.block_size - 1}) for block size "
            f"{instance.block_size}; its lower bound does not apply")
    return dataclasses.replace(
        result, schedule=sched, lower_bound=None,
        message="; ".join(m for m in (result.message, note) if m),
        stats={**result.stats, "block_model": "padded"})
