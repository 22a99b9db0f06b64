"""A token-planning policy on a paged engine: the policy plans on the padded model, the
engine counts real blocks.

:func:`lpsched.engine.run_engine` runs a policy that is not block-aware on the padded
instance (:mod:`lpsched.paging`: prefill ``s + b - 1``, block size 1), engine included:
its limits are then checked on padded tokens, which is safe but is not what a paged
engine (vLLM) does. :class:`PaddedView` wraps such a policy so that only the *policy*
sees the padded instance while the engine keeps the paged one: the policy's decisions
(admission order) are the same as on the padded model, and the engine admits and
preempts them under real blocks, exactly as vLLM does when the same policy is plugged
into its scheduler (:mod:`lpsched.integrations.vllm`).

The wrapped policy sees a view of the engine's :class:`~lpsched.engine.policy.SimState`
in which ``instance``, ``prefill`` and ``block_size`` are those of the padded instance;
everything else (``t``, ``running``, ``waiting``, ``done``, ``memory``, ``predicted``,
``free_next``...) is the engine's own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lpsched.engine.policy import BasePolicy, Policy, SimState
from lpsched.paging import padded_instance

__all__ = ["PaddedView", "padded_view"]


class _View:
    """``state`` with the padded instance's ``instance``, ``prefill`` and ``block_size``."""

    __slots__ = ("_state", "instance", "prefill", "block_size")

    def __init__(self, state: SimState, who: str):
        self._state = state
        self.instance = padded_instance(state.instance, who)
        self.prefill = self.instance.prefill
        self.block_size = 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._state, name)


def padded_view(state: SimState, who: str) -> Any:
    """The view of ``state`` a :class:`PaddedView` gives its policy (module docstring)."""
    return _View(state, who)


class PaddedView(BasePolicy):
    """``policy`` planning on the padded model inside a paged engine (module docstring).

    Block-aware for the engine (it runs on real blocks); every hook is passed on with the
    padded view. ``preempt`` and ``clear_to`` exist only when ``policy`` has them.
    """

    block_aware = True

    def __init__(self, policy: Policy):
        if getattr(policy, "block_aware", False):
            raise ValueError(f"PaddedView: policy {policy.name!r} is block-aware already")
        self.policy = policy
        self.name = policy.name
        self._view: Any = None
        for hook in ("preempt", "clear_to"):
            inner = getattr(policy, hook, None)
            if inner is not None:
                setattr(self, hook, lambda state, _f=inner: _f(self._view))

    def bind_deadline(self, deadline) -> None:
        bind = getattr(self.policy, "bind_deadline", None)
        if bind is not None:
            bind(deadline)

    def reset(self, state: SimState) -> None:
        self._view = padded_view(state, self.name) if state.block_size > 1 else state
        self.policy.reset(self._view)

    def on_arrival(self, state: SimState, positions: list[int]) -> None:
        self.policy.on_arrival(self._view, positions)

    def on_finish(self, state: SimState, positions: list[int]) -> None:
        self.policy.on_finish(self._view, positions)

    def on_evict(self, state: SimState, positions: list[int]) -> None:
        self.policy.on_evict(self._view, positions)

    def on_resume(self, state: SimState, positions: list[int]) -> None:
        self.policy.on_resume(self._view, positions)

    def on_refuse(self, state: SimState, positions: list[int]) -> None:
        self.policy.on_refuse(self._view, positions)

    def decide(self, state: SimState) -> Iterable[int]:
        return self.policy.decide(self._view)

    def next_decision(self, state: SimState) -> int:
        return self.policy.next_decision(self._view)

    def stats(self) -> dict[str, Any]:
        inner = getattr(self.policy, "stats", None)
        return inner() if inner is not None else {}
