"""``SimChat``: the simulated model as a ``ChatBackend`` (the offline, deterministic default).

It answers a chat request from the request alone: the ``meta`` the agent attaches
(world, protocol, family, params, world seed, step budget) says which task it is; the
transcript's tool results are the observations. Each call replays the episode's
behaviour generator over those observations and returns the next move (a tool call)
or the final answer. Token usage is estimated (4 characters per token), cost uses the
price of the model the profile mimics, and latency is simulated from the profile's
speed, so records stay deterministic.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from agents.llm.types import ChatRequest, ChatResponse, ContextLengthError, ToolCall, Usage
from agents.sim import author
from agents.sim.behaviour import Action, EpisodeContext, Outcome, play
from agents.sim.knowledge import knowledge_for
from agents.sim.profiles import SimProfile, get_profile

CHARS_PER_TOKEN = 4


def episode_key(meta: dict[str, Any], prompt: str) -> str:
    """Identity of an episode: the task (world, protocol, family, params, world) and its prompt."""
    ident = {k: meta.get(k) for k in ("world", "protocol", "family", "params", "world_seed", "options")}
    blob = json.dumps(ident, sort_keys=True, default=str) + "\n" + prompt
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def observations(messages: list[dict[str, Any]]) -> list[str]:
    """Tool results in the transcript, in the order the calls were made."""
    results = {m.get("tool_call_id"): str(m.get("content") or "") for m in messages if m.get("role") == "tool"}
    out = []
    for m in messages:
        if m.get("role") == "assistant":
            for tc in m.get("tool_calls") or []:
                if tc.get("id") in results:
                    out.append(results[tc["id"]])
    return out


class SimChat:
    """The simulated model. ``model`` defaults to the profile name."""

    name = "sim"
    adapter_version = "sim-1"
    uses_meta = True  # responses depend on ``meta``, so replay keys include it

    def __init__(self, profile: SimProfile | str = "sim-4o-mini-like", model: str = "", default_max_steps: int = 30):
        self.profile = get_profile(profile) if isinstance(profile, str) else profile
        self.model = model or self.profile.name
        self.default_max_steps = default_max_steps

    def __repr__(self) -> str:
        return f"SimChat(profile={self.profile.name!r})"

    def resolve_model(self, request: ChatRequest) -> str:
        return request.model or self.model

    def complete(self, request: ChatRequest) -> ChatResponse:
        tokens_in = math.ceil(
            (_chars(request.messages) + (len(json.dumps(request.tools)) if request.tools else 0)) / CHARS_PER_TOKEN
        )
        if tokens_in > self.profile.context_tokens:
            raise ContextLengthError(
                f"sim: prompt is too long: {tokens_in} tokens > the {self.profile.context_tokens}-token context "
                f"window of {self.profile.name} (context_length_exceeded)",
                400,
            )
        meta = dict(request.meta)
        if meta.get("role") == "tool_author":
            return self._author(request, meta, tokens_in)
        prompt = next((str(m.get("content") or "") for m in request.messages if m.get("role") == "user"), "")
        offered = [str(t.get("name")) for t in request.tools]
        ctx = EpisodeContext(
            profile=self.profile,
            knowledge=knowledge_for(meta, prompt) if meta else None,
            offered=offered,
            prompt=prompt,
            seed=int(request.seed or 0),
            episode_key=episode_key(meta, prompt),
            max_steps=int(meta.get("max_steps") or self.default_max_steps),
            tools=list(request.tools),
        )
        move = next_move(ctx, observations(request.messages))
        turn = int(meta.get("turn", sum(1 for m in request.messages if m.get("role") == "assistant")))
        raw: dict[str, Any]
        if isinstance(move, Action):
            raw_args = json.dumps(move.args, ensure_ascii=False, sort_keys=True)
            calls = [ToolCall(f"call_{turn}", move.tool, json.loads(raw_args), raw_args)]  # as a client parses it
            text, out_chars, raw = "", len(move.tool) + len(raw_args), {"sim": {"action": move.tool}}
        else:
            calls, text, out_chars = [], move.text, len(move.text)
            raw = {"sim": {"events": move.events}}
        tokens_out = math.ceil(out_chars / CHARS_PER_TOKEN) + 5
        return ChatResponse(
            text=text,
            tool_calls=calls,
            usage=Usage(tokens_in, tokens_out, self._cost(tokens_in, tokens_out)),
            latency_s=round(self.profile.first_token_s + tokens_out / self.profile.tokens_per_s, 3),
            raw={**raw, "profile": self.profile.name, "simulated": True},
            finish_reason="tool_calls" if calls else "stop",
        )

    def _author(self, request: ChatRequest, meta: dict[str, Any], tokens_in: int) -> ChatResponse:
        """A request of the evolution pipeline (gap analysis, synthesis, tests, repair): text out."""
        # The whole conversation: the system message documents the API its code may call.
        prompt = "\n".join(str(m.get("content") or "") for m in request.messages if m.get("role") in ("system", "user"))
        text, hacks = author.respond_noted(self.profile, meta, prompt, int(request.seed or 0))
        tokens_out = math.ceil(len(text) / CHARS_PER_TOKEN) + 5
        notes: dict[str, Any] = {"step": meta.get("step")}
        if hacks:  # ground truth only the simulator has: the reward hacks in the code it returns
            notes["hacks"] = hacks
        return ChatResponse(
            text=text,
            tool_calls=[],
            usage=Usage(tokens_in, tokens_out, self._cost(tokens_in, tokens_out)),
            latency_s=round(self.profile.first_token_s + tokens_out / self.profile.tokens_per_s, 3),
            raw={"sim": notes, "profile": self.profile.name, "simulated": True},
            finish_reason="stop",
        )

    def _cost(self, tokens_in: int, tokens_out: int) -> float | None:
        prices = self.profile.prices
        if not prices:
            return None
        return (tokens_in * prices.get("input", 0.0) + tokens_out * prices.get("output", 0.0)) / 1_000_000


def next_move(ctx: EpisodeContext, seen: list[str]) -> Action | Outcome:
    """Replay the episode over the observations seen so far; the next action or the answer."""
    gen = play(ctx)
    try:
        move = next(gen)
        for obs in seen:
            move = gen.send(obs)
    except StopIteration as stop:
        outcome: Outcome = stop.value
        return outcome
    return move


def _chars(messages: list[dict[str, Any]]) -> int:
    total = 0
    for m in messages:
        total += len(str(m.get("content") or ""))
        for tc in m.get("tool_calls") or []:
            total += len(json.dumps(tc))
    return total
