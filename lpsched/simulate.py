"""Online scheduling in the papers' step model: :func:`simulate` runs a policy in the engine.

The engine, the policy protocol and the records live in :mod:`lpsched.engine`
(:mod:`lpsched.engine.loop` describes the decision times, the memory guard, preemption by
recompute, idle skipping and the drain; :mod:`lpsched.engine.limits` the limits every
policy runs under). :func:`simulate` is that engine with every step lasting one unit
(:class:`lpsched.engine.clock.UnitClock`): a request started at ``p`` runs in steps
``p+1 .. p+o`` and holds ``s + (t - p)`` KV tokens in step ``t``. ``lpsched replay`` runs
the same loop in seconds (:class:`lpsched.engine.clock.StepTimeClock`).

This module keeps the public names of the simulator (``simulate``, ``BasePolicy``,
``Policy``, ``SimState``, ``SimulationError``, ``SimulationResult``, ``noisy_predictions``,
``validate_predictions``, ``timed_latencies``, ``TimedLatencies``) as re-exports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from lpsched.engine import run_engine
from lpsched.engine.drain import _packed_starts
from lpsched.engine.limits import EngineLimits
from lpsched.engine.policy import BasePolicy, Policy, SimState, SimulationError
from lpsched.engine.records import (
    SimulationResult,
    TimedLatencies,
    noisy_predictions,
    timed_latencies,
    validate_predictions,
)
from lpsched.instance import Instance
from lpsched.stop import Deadline

__all__ = [
    "BasePolicy",
    "Policy",
    "SimState",
    "SimulationError",
    "SimulationResult",
    "TimedLatencies",
    "noisy_predictions",
    "simulate",
    "timed_latencies",
    "validate_predictions",
]

_ = _packed_starts  # re-exported for the drain's tests


def simulate(
    instance: Instance,
    policy: Policy | str,
    *,
    predictions: Iterable[int] | np.ndarray | None = None,
    skip_idle: bool = True,
    deadline: Deadline | None = None,
    options: Mapping[str, Any] | None = None,
    limits: EngineLimits | None = None,
) -> SimulationResult:
    """Run ``policy`` on ``instance`` (see the module docstring for the semantics).

    Parameters
    ----------
    instance
        The instance; requests become visible at their arrival step.
    policy
        A :class:`Policy` (fresh state is set by its ``reset``), or the name of a
        registered algorithm of kind ``policy`` (``lpsched algorithms``), e.g.
        ``"mc-sf"``: a fresh policy is built from its declared ``options``.
    predictions
        Predicted decode lengths shown to the policy (default: the true ones).
        The simulator itself always uses the true lengths.
    skip_idle
        Jump over steps where the policy declares (``next_decision``) that it
        would start nothing. ``False`` calls the policy at every step with a
        waiting request (slow; for testing the exactness of skipping).
    deadline
        A :class:`~lpsched.stop.Deadline`. When it expires at a decision time
        ``t`` the run is *drained* (:func:`lpsched.engine.drain.drain`): the running requests go on,
        the others run after them in arrival order (packed batches when the
        lengths are exact, else one at a time);
        ``SimulationResult.drained`` counts those requests.
    options
        With a policy name: its options (e.g. ``{"window": 8}`` for
        ``sorted-lp-online``), checked against its declaration; predictions and
        ``skip_idle`` are this function's own arguments.
    limits
        The engine's :class:`~lpsched.engine.limits.EngineLimits` (default: the policy's
        own, e.g. ``vllm``'s, else the papers' engine at the instance's block size).

    Returns
    -------
    SimulationResult

    Cost: ``O(log n)`` heap work per start/completion plus the policy's own work
    per decision time; no per-step loop over all requests.

    Examples
    --------
    >>> from lpsched.instance import Instance, Request
    >>> from lpsched.heuristics.baselines import mc_sf
    >>> inst = Instance(10, [Request("r0", 5, 5), Request("r1", 2, 2)])
    >>> res = simulate(inst, mc_sf())
    >>> res.schedule.starts.tolist(), res.evictions
    ([1, 0], 0)
    >>> simulate(inst, "mc-sf").schedule.starts.tolist()
    [1, 0]

    A policy of your own only needs ``decide`` (this one looks at the next step
    only, so the memory guard has to preempt: r1 after one step, resumed at 5 once
    r0 has finished, with its 2 + 1 tokens recomputed; its resume at 1 is deferred):

    >>> class NextStepGreedy(BasePolicy):
    ...     name = "next-step-greedy"
    ...     def decide(self, state):
    ...         out, free = [], state.free_next
    ...         for pos in sorted(state.waiting):
    ...             need = int(state.prefill[pos]) + 1
    ...             if need <= free:
    ...                 out.append(pos)
    ...                 free -= need
    ...         return out
    >>> res = simulate(inst, NextStepGreedy())
    >>> res.schedule.starts.tolist(), dict(res.schedule.runs), res.recomputed_tokens
    ([0, 0], {1: ((0, 1), (5, 1))}, 3)
    """
    return run_engine(instance, policy, limits=limits, predictions=predictions,
                      skip_idle=skip_idle, deadline=deadline, options=options)
