"""The policy interface every agent implements (scripted baselines now, LLM agents later)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from envs.toolenv import ToolUseEnv


class Policy(ABC):
    """Maps observations to action strings for one episode at a time.

    ``reset`` receives the unwrapped env: scripted baselines may use its privileged
    state (the task instance, the world); LLM agents must only use ``observation``
    and ``info`` (the prompt and the tool schemas).
    """

    name: str = "policy"

    @abstractmethod
    def reset(self, env: ToolUseEnv, observation: str, info: dict[str, Any]) -> None:
        """Start an episode."""

    @abstractmethod
    def act(self, observation: str) -> str:
        """The next action (a JSON string) given the latest observation."""

    def episode_extras(self) -> dict[str, Any]:
        """Policy-specific data to store in the episode record (LLM usage, solver errors...)."""
        return {}

    def llm_failure(self) -> str | None:
        """Why the episode ended without a result because its model failed (unreachable, garbage
        answers after every retry, context overflow), or None. Such an episode is not a wrong
        answer: it is kept as what it is and retried when the job is re-run."""
        return None

    def answer_cut_off(self) -> bool:
        """The final answer was cut off at the output-token limit (graded as it stands, flagged)."""
        return False
