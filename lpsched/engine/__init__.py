"""The serving engine: one loop, one set of policies, the papers' step model and seconds.

* :mod:`lpsched.engine.limits`: :class:`EngineLimits` (block size, ``max_num_seqs``,
  ``max_num_batched_tokens``, chunked prefill, watermark, KV accounting);
* :mod:`lpsched.engine.policy`: what a policy sees (:class:`SimState`) and the
  :class:`Policy` protocol (:class:`BasePolicy` gives the defaults);
* :mod:`lpsched.engine.loop`: the loop (:class:`~lpsched.engine.loop.Engine`);
* :mod:`lpsched.engine.clock`: :class:`UnitClock` (every step lasts one unit: ``simulate``
  and ``solve``) and :class:`StepTimeClock` (seconds from a step-time model: ``replay``);
* :mod:`lpsched.engine.records`: :class:`SimulationResult`, predictions, timed latencies;
* :mod:`lpsched.engine.drain`: the fallback when the deadline expires;
* :mod:`lpsched.engine.padded`: :class:`~lpsched.engine.padded.PaddedView`, a token-planning
  policy on the paged engine (as vLLM runs it, :mod:`lpsched.integrations.vllm`).

:func:`run_engine` puts them together; :func:`lpsched.simulate.simulate` is
``run_engine`` with the unit clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from lpsched.engine.clock import StepTimeClock, UnitClock
from lpsched.engine.limits import PAPERS, V1_SERVER_DEFAULTS, EngineLimits
from lpsched.engine.loop import Engine
from lpsched.engine.policy import BasePolicy, Policy, SimState, SimulationError
from lpsched.engine.records import SimulationResult
from lpsched.instance import Instance, InstanceError
from lpsched.paging import padded_instance
from lpsched.schedule import Schedule
from lpsched.stop import Deadline

__all__ = ["BasePolicy", "Engine", "EngineLimits", "PAPERS", "Policy", "SimState",
           "SimulationError", "SimulationResult", "StepTimeClock", "UnitClock",
           "V1_SERVER_DEFAULTS", "memory_instance", "run_engine"]


def memory_instance(instance: Instance, limits: EngineLimits,
                    arrival: np.ndarray | None = None) -> Instance:
    """The instance as the engine counts memory: prefill ``s - 1`` under V1's accounting
    (``s`` otherwise), block size from ``limits``, arrival steps ``arrival`` if given."""
    s = instance.prefill
    if limits.kv_accounting == "v1":
        if np.any(s < 1):
            k = int(np.flatnonzero(s < 1)[0])
            raise InstanceError("vLLM V1's KV accounting needs a prompt of at least one "
                                f"token, got prefill {int(s[k])}", request=instance.ids[k])
        s = s - 1
    if (s is instance.prefill and arrival is None
            and limits.block_size == instance.block_size):
        return instance
    return Instance.from_arrays(instance.memory, s, instance.decode,
                                instance.arrival if arrival is None else arrival,
                                ids=instance.ids, name=instance.name,
                                metadata=instance.metadata, block_size=limits.block_size)


def run_engine(instance: Instance, policy: Policy | str, *,
               limits: EngineLimits | None = None,
               predictions: Iterable[int] | np.ndarray | None = None,
               skip_idle: bool = True, deadline: Deadline | None = None,
               options: Mapping[str, Any] | None = None,
               clock: UnitClock | StepTimeClock | None = None,
               arrival_s: np.ndarray | None = None) -> SimulationResult:
    """Run ``policy`` on ``instance`` under ``limits`` with ``clock`` (package docstring).

    ``limits`` default: the policy's own (``policy.engine_limits(instance)`` when it has
    that method, e.g. ``vllm``), else the papers' engine at the instance's block size;
    ``limits.block_size`` must equal ``instance.block_size``. ``instance.prefill`` is the
    prompt; under V1's accounting the engine counts ``s - 1`` for memory
    (:func:`memory_instance`) and the result's schedule is on that instance. A policy
    that is not block-aware runs on the padded instance (:mod:`lpsched.paging`) when
    ``b > 1``; the result is re-attached to the paged one (``padded=True``). A timed run
    (:class:`StepTimeClock`) takes the arrival times ``arrival_s`` (seconds) and
    ignores ``instance.arrival``; the result's instance has the steps at which the
    requests were revealed.
    """
    if isinstance(policy, str):
        from lpsched.registry import make_policy

        pol: Policy = make_policy(policy, options or {})
    elif options:
        raise TypeError("simulate: options apply to a policy given by name")
    else:
        pol = policy
    if limits is None:
        own = getattr(pol, "engine_limits", None)
        limits = own(instance) if own is not None else dataclasses.replace(
            PAPERS, block_size=instance.block_size)
    if limits.block_size != instance.block_size:
        raise ValueError(f"engine limits: block_size {limits.block_size} differs from the "
                         f"instance's {instance.block_size}")
    bind = getattr(pol, "bind_deadline", None)
    if bind is not None:
        bind(Deadline.coerce(deadline))
    mem = memory_instance(instance, limits)
    padded = mem.block_size > 1 and not getattr(pol, "block_aware", False)
    run_inst = padded_instance(mem, pol.name) if padded else mem
    res = Engine(run_inst, pol, predictions=predictions, limits=limits,
                 skip_idle=skip_idle, deadline=deadline, compute_prefill=instance.prefill,
                 clock=clock, arrival_s=arrival_s,
                 kv_pad=mem.block_size - 1 if padded else 0).run()
    if not padded:  # a timed run's instance already has the arrival steps
        return res
    if clock is not None and clock.timed:
        mem = memory_instance(instance, limits, arrival=res.arrival_steps)
    return dataclasses.replace(res, schedule=Schedule(mem, res.schedule.starts,
                                                      res.schedule.runs), padded=padded)
