"""A ReAct-style tool-calling agent over the Gymnasium env, for any ``ChatBackend``.

Each model turn either proposes tool calls (executed one per env step, their
observations returned to the model as tool messages) or answers in text (the final
answer; the env's grader extracts JSON from it leniently). A tool call with malformed
arguments is forwarded as is, so the env answers with an error observation the model
can react to. LLM failures other than authentication end the episode with an empty
answer and are recorded as the episode's ``llm_failure`` (not a wrong answer: the job retries
it when re-run); authentication errors and replay misses stop the run (a config problem).

The episode record gains ``tools_shown`` and ``llm``: the system prompt, usage (calls,
tokens, cost), every response, and any error; with the env's steps (actions and
observations) that is the whole transcript: every request can be rebuilt from it.
Requests carry ``meta`` (task family, phase, params, world seed, step budget, tools on
offer) for the simulated model; real providers never see it.
"""

from __future__ import annotations

import json
from typing import Any

from agents.llm import (
    AuthError,
    ChatBackend,
    ChatRequest,
    ContextLengthError,
    LLMError,
    ReplayMissError,
    ToolCall,
    UsageMeter,
    assistant_message,
    tool_message,
)
from agents.policy import Policy
from agents.tool_selection import select_tools
from envs.toolenv import ToolUseEnv

DEFAULT_SYSTEM_PROMPT = (
    "You solve tasks inside a simulated company by calling the tools you are given. Read the "
    "handbook (read_doc) when a format is unfamiliar. When you know the answer, reply with the "
    "final answer as JSON matching the task's answer schema, and nothing else."
)


class ReActAgent(Policy):
    name = "react"

    def __init__(
        self,
        backend: ChatBackend,
        system_prompt: str = DEFAULT_SYSTEM_PROMPT,
        model: str = "",
        temperature: float | None = 0.0,
        seed: int | None = None,
        max_tokens: int | None = None,
        max_steps: int = 30,
        tool_top_k: int | None = None,
    ) -> None:
        self.backend = backend
        self.system_prompt = system_prompt
        self.model = model
        self.temperature, self.seed, self.max_tokens = temperature, seed, max_tokens
        self.max_steps = max_steps
        if tool_top_k is not None and tool_top_k < 0:
            raise ValueError(f"tool_top_k must be >= 0 or None (offer every tool), got {tool_top_k}")
        self.tool_top_k = tool_top_k
        self._reset_state()

    def _reset_state(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.tools: list[dict[str, Any]] = []
        self.meta: dict[str, Any] = {}
        self.pending: list[ToolCall] = []
        self.awaiting: ToolCall | None = None
        self.meter = UsageMeter()
        self.responses: list[dict[str, Any]] = []
        self.error: str | None = None
        self.failed_attempts: list[dict[str, Any]] = []  # of the call that ended the episode
        self.cut_off = False
        self.context_overflow = False

    def reset(self, env: ToolUseEnv, observation: str, info: dict[str, Any]) -> None:
        self._reset_state()
        self.messages = [{"role": "system", "content": self.system_prompt}, {"role": "user", "content": observation}]
        task = info["task"]
        self.tools = list(info["tools"])
        if self.tool_top_k is not None:
            self.tools = select_tools(self.tools, observation, self.tool_top_k, keep=set(env.affordance_names))
        self.meta = {
            "world": task["world"],
            "protocol": task["protocol"],
            "family": task["family"],
            "phase": task["phase"],
            "params": task["params"],
            "world_seed": task["world_seed"],
            "options": task["options"],
            "max_steps": self.max_steps,
            "tools": [t["name"] for t in self.tools],
        }

    def next_request(self) -> ChatRequest:
        """The request of the next model turn (after ``reset``: the episode's first)."""
        return ChatRequest(
            model=self.model,
            messages=list(self.messages),
            tools=self.tools,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            seed=self.seed,
            sample_index=len(self.responses),
            meta={**self.meta, "turn": len(self.responses)},
        )

    def act(self, observation: str) -> str:
        if self.awaiting is not None:  # the observation answers the call we made last step
            self.messages.append(tool_message(self.awaiting.id, observation))
            self.awaiting = None
        if not self.pending:
            try:
                response = self.backend.complete(self.next_request())
            except (AuthError, ReplayMissError):
                raise  # a configuration problem: the job stops (records are kept)
            except LLMError as exc:  # recorded; the episode ends without an answer
                self.error = f"{type(exc).__name__}: {exc}"
                self.context_overflow = isinstance(exc, ContextLengthError)
                self.failed_attempts = [a.to_dict() for a in exc.attempts]
                self.meter.add_failure(len(exc.attempts))
                return json.dumps({"answer": ""})
            self.meter.add(response.usage, retries=len(response.retries))
            self.responses.append(response.to_dict())
            self.messages.append(assistant_message(response))
            if not response.tool_calls:
                self.cut_off = response.truncated
                return json.dumps({"answer": response.text or ""}, ensure_ascii=False)
            self.pending = list(response.tool_calls)
        call = self.pending.pop(0)
        self.awaiting = call
        # Malformed arguments go to the env as raw text: it answers with an error observation.
        args: Any = call.arguments if call.error is None else call.raw_arguments
        return json.dumps({"tool": call.name, "args": args}, ensure_ascii=False)

    def llm_failure(self) -> str | None:
        # A transcript longer than the model's context is deterministic (the same episode overflows
        # again): the agent ran out of room like it runs out of steps, a result, not a failure to retry.
        return None if self.context_overflow else self.error

    def answer_cut_off(self) -> bool:
        return self.cut_off

    def episode_extras(self) -> dict[str, Any]:
        return {
            "tools_shown": [t["name"] for t in self.tools],
            "llm": {
                "system_prompt": self.system_prompt,
                "usage": self.meter.to_dict(),
                "responses": self.responses,
                "error": self.error,
                "error_attempts": self.failed_attempts,
                "context_overflow": self.context_overflow,
            },
        }
