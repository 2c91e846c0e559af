"""The simulated model as an agent: one episode's decisions, as a generator of actions.

``play(ctx)`` yields the affordance/tool calls the model makes, receives each
observation, and returns the final ``Outcome``. It follows the task's plan (the
family's solver, see ``knowledge``, stepped by ``envs.oracle.OracleSteps``) and, for every
call the plan asks for, decides by the profile's probabilities:

* an affordance (``http_get``...) the plan needs: call it if on offer, otherwise the
  data is out of reach and it guesses;
* a tool on offer: call it (``p_use_tool``), possibly the wrong one (``p_wrong_tool``)
  or with a wrong argument (``p_wrong_args``); after an error it retries correctly
  with ``p_recover``, else the plan fails and it guesses;
* a tool not on offer, or one it chose not to call: do the tool's work in context.
  It runs its knowledge of the format over ``ObservedWorld``, fetching every page and
  response it needs with real affordance calls; out of steps, it reasons over the
  part it read. The more raw data it read (and base64 it decoded), the likelier the
  answer is wrong: P(ok) = exp(-chars / context_chars) * exp(-b64 / encoded_chars);
* beyond ``max_chain`` calls it may lose the thread (``p_lose_thread``) and guess;
* the final answer is computed from the outputs it got, with a reasoning slip
  (``p_slip``) that perturbs it.

Randomness: per-call uniforms come from streams keyed by (seed, episode, call index),
not by profile, so two profiles face the same draws (common random numbers: a
stronger profile fails on a subset of the draws a weaker one fails on).

The stateless driver (``next_move``) replays the generator over the observations in
the transcript and returns the first move beyond them, so the model can sit behind an
HTTP server and any request can be answered from the transcript alone.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.sim import author
from agents.sim.knowledge import TaskKnowledge
from agents.sim.memory import NeedData, ObservedWorld
from agents.sim.profiles import SimProfile
from agents.sim.reading import OfferedTool, choose_tool, fill_args, offered_tools
from envs import seeding
from envs.access import ALL_AFFORDANCES
from envs.oracle import OracleSteps
from envs.tasks import Call
from envs.tools import InProcessRunner

CODE_TOOL = "run_python"  # the code_agent condition's sandbox tool (evolution.code_agent)
INLINE_ARG_CHARS = 200  # a string argument this long is data the model would have to read itself


@dataclass(frozen=True)
class Action:
    tool: str
    args: dict[str, Any]


@dataclass
class Outcome:
    """The model's final answer and why it looks the way it does (recorded in the raw payload)."""

    text: str
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class EpisodeContext:
    profile: SimProfile
    knowledge: TaskKnowledge | None
    offered: list[str]  # tool names on offer in the request
    prompt: str
    seed: int
    episode_key: str
    max_steps: int
    tools: list[dict[str, Any]] = field(default_factory=list)  # the offered tools as the request states them


class _CannotAnswer(Exception):
    """The plan cannot be completed (data out of reach, plan failed): the model guesses."""


Play = Generator[Action, str, Outcome]


def play(ctx: EpisodeContext) -> Play:
    """One episode of the simulated agent (see the module docstring)."""
    return _Episode(ctx).run()


class _Episode:
    def __init__(self, ctx: EpisodeContext) -> None:
        self.ctx = ctx
        self.p = ctx.profile
        self.k = ctx.knowledge
        self.mem = ObservedWorld(page_lines=self.p.page_lines)
        self.used = 0  # env steps taken
        self.context_chars = 0  # raw inline data reasoned over (besides what ``mem`` counts)
        self.used_tools = False
        self.events: list[dict[str, Any]] = []
        self.runner = self.k.runner if self.k else InProcessRunner({})
        # What each plan call intends (its knowledge of the job), and the tools the request says it has.
        self.intents = {s.name: OfferedTool(s.name, s.description, s.parameters) for s in self.runner.specs()}
        self.tools = [t for t in offered_tools(ctx.tools) if t.name not in ALL_AFFORDANCES and t.name != CODE_TOOL]

    def _rng(self, *names: str | int) -> np.random.Generator:
        return seeding.rng(self.ctx.seed, "sim", self.ctx.episode_key, *names)

    def _remaining(self) -> int:
        return self.ctx.max_steps - self.used - 1  # one step is kept for the answer

    def _act(self, tool: str, args: dict[str, Any]) -> Generator[Action, str, str]:
        self.used += 1
        obs = yield Action(tool, args)
        return obs

    # -- the episode --------------------------------------------------------------------
    def run(self) -> Play:
        if self.k is None:
            self.events.append({"event": "unknown_task"})
            return Outcome(self._guess(), self.events)
        plan = OracleSteps(self.k.plan())
        n = 0
        try:
            call = plan.send()
            if call is None:  # nothing to call: the answer is read off the prompt
                self.context_chars += len(self.ctx.prompt)
                return self._finish(plan.answer)
            while call is not None:
                n += 1
                u_lose = self._rng("call", n, "lose").random()
                if n > self.p.max_chain and u_lose < self.p.p_lose_thread:
                    self.events.append({"event": "lost_thread", "call": n})
                    raise _CannotAnswer
                obs = yield from self._execute(call, n)
                try:
                    call = plan.send(obs)
                except Exception as exc:
                    self.events.append({"event": "plan_failed", "call": n, "error": f"{type(exc).__name__}"})
                    raise _CannotAnswer from None
            return self._finish(plan.answer)
        except _CannotAnswer:
            return Outcome(self._guess(), self.events)

    def _execute(self, call: Call, n: int) -> Generator[Action, str, str]:
        if self._remaining() <= 0:
            self.events.append({"event": "out_of_steps", "call": n})
            raise _CannotAnswer
        if call.tool in ALL_AFFORDANCES:
            if call.tool not in self.ctx.offered:
                self.events.append({"event": "data_unreachable", "call": n, "tool": call.tool})
                raise _CannotAnswer
            return (yield from self._act(call.tool, dict(call.args)))
        chosen = self._choose(call.tool)
        if chosen is not None:
            if self._rng("call", n, "use").random() < self.p.p_use_tool:
                return (yield from self._tool_call(call, n, chosen))
            self.events.append({"event": "tool_not_called", "call": n, "tool": call.tool})
        elif (
            CODE_TOOL in self.ctx.offered
            and self.k is not None
            and author.knows(self.k.suite.world, self.k.suite.protocol, call.tool)
        ):
            if self._rng("call", n, "use").random() < self.p.p_use_tool:
                obs = yield from self._code_call(call, n)
                if obs is not None:
                    return obs
            self.events.append({"event": "missing_tool", "call": n, "tool": call.tool, "args": dict(call.args)})
        else:
            self.events.append({"event": "missing_tool", "call": n, "tool": call.tool, "args": dict(call.args)})
        return (yield from self._in_context(call, n))

    def _choose(self, intended: str) -> OfferedTool | None:
        """The offered tool it takes for the plan's call ``intended`` (read off names, descriptions, schemas)."""
        intent = self.intents.get(intended)
        if intent is None:  # a call its knowledge does not describe: only a tool of that name will do
            return next((t for t in self.tools if t.name == intended), None)
        return choose_tool(intent, self.tools)

    def _tool_call(self, call: Call, n: int, chosen: OfferedTool) -> Generator[Action, str, str]:
        self.used_tools = True
        u = self._rng("call", n, "invoke").random(3)
        intent = self.intents.get(call.tool)
        right = (chosen.name, fill_args(intent, dict(call.args), chosen) if intent else dict(call.args))
        if chosen.name != call.tool:
            self.events.append({"event": "chose_tool", "call": n, "tool": chosen.name, "intended": call.tool})
        tool, args = right[0], dict(right[1])
        alternatives = [t for t in self.ctx.offered if t != chosen.name and t not in ALL_AFFORDANCES]
        if u[0] < self.p.p_wrong_tool and alternatives:
            tool = _similar_tool(chosen.name, alternatives, self._rng("call", n, "which"))
            self.events.append({"event": "wrong_tool", "call": n, "tool": tool, "intended": call.tool})
        elif u[1] < self.p.p_wrong_args and args:
            args = _mutate_args(args, self._rng("call", n, "args"))
            self.events.append({"event": "wrong_args", "call": n, "tool": tool, "args": args})
        obs = yield from self._act(tool, args)
        if obs.startswith("Error") and (tool, args) != right:
            if u[2] < self.p.p_recover and self._remaining() > 0:
                self.events.append({"event": "recovered", "call": n})
                obs = yield from self._act(*right)
            else:
                self.events.append({"event": "gave_up_after_error", "call": n})
                raise _CannotAnswer
        return obs

    def _code_call(self, call: Call, n: int) -> Generator[Action, str, str | None]:
        """Write the capability as a throwaway snippet (code_agent) and run it; None if it kept failing."""
        assert self.k is not None
        self.used_tools = True
        for attempt in range(2):
            rng = self._rng("call", n, "code", attempt)
            code, bugs = author.draft_source(self.p, self.k.suite.world, self.k.suite.protocol, call.tool, rng)
            args = dict(call.args)
            if args and rng.random() < self.p.p_wrong_args:  # the arguments it writes into the call
                args = _mutate_args(args, rng)
                bugs = [*bugs, "wrong_args"]
            snippet = f"{code}\nresult = {call.tool}(**{args!r})\n"
            self.events.append({"event": "wrote_code", "call": n, "tool": call.tool, "bugs": bugs})
            if self._remaining() <= 0:
                return None
            obs = yield from self._act(CODE_TOOL, {"code": snippet})
            if not obs.startswith("Error"):
                return obs
            if attempt or rng.random() >= self.p.p_recover:
                break
        self.events.append({"event": "code_failed", "call": n, "tool": call.tool})
        return None

    def _in_context(self, call: Call, n: int) -> Generator[Action, str, str]:
        """Do a tool's work by reading the raw data through affordances."""
        for value in call.args.values():
            if isinstance(value, str) and len(value) >= INLINE_ARG_CHARS:
                self.context_chars += len(value)
        while True:
            try:
                result = self.runner.call(call.tool, dict(call.args), self.mem)  # type: ignore[arg-type]
            except NeedData as need:
                if need.tool not in self.ctx.offered:
                    self.events.append({"event": "data_unreachable", "call": n, "tool": need.tool})
                    raise _CannotAnswer from None
                if self._remaining() <= 0:
                    if self.mem.partial:
                        raise _CannotAnswer from None
                    self.events.append({"event": "out_of_steps", "call": n})
                    self.mem.partial = True
                    continue
                obs = yield from self._act(need.tool, need.call_args)
                self.mem.observe(need.tool, need.call_args, obs)
                continue
            return result.output if result.ok else f"Error: {result.error}"

    # -- answers --------------------------------------------------------------------------
    def _finish(self, value: Any) -> Outcome:
        chars = self.context_chars + self.mem.read_chars - self.mem.encoded_chars
        p_ok = math.exp(-chars / self.p.context_chars) * math.exp(-self.mem.encoded_chars / self.p.encoded_chars)
        u = self._rng("final").random(2)
        if u[0] >= p_ok:
            self.events.append({"event": "context_slip", "chars": chars, "b64": self.mem.encoded_chars})
            value = _slip(value, self._rng("final", "slip"))
        elif u[1] < self.p.p_slip:
            self.events.append({"event": "reasoning_slip"})
            value = _slip(value, self._rng("final", "slip"))
        else:
            self.events.append({"event": "answered", "chars": chars, "b64": self.mem.encoded_chars})
        return Outcome(self._render(value), self.events)

    def _render(self, value: Any) -> str:
        if self.k is not None and self.k.free_text:
            return str(value)
        return json.dumps(value, ensure_ascii=False)

    def _guess(self) -> str:
        self.events.append({"event": "guessed"})
        if self.k is None:
            return "I could not determine the answer from the information available."
        if self.k.free_text:  # like a real model, it hedges with the names it did see
            names = _salient_names(self.ctx.prompt)
            if not names:
                return "I could not determine the answer from the information available."
            return (
                f"I could not get all the data this needs. The names that appear in what I was given are "
                f"{', '.join(names)}; my best guess is {names[0]}."
            )
        return self._render(_guess_value(self.k.answer_schema, self.ctx.prompt, self._rng("guess")))


# -- mistakes ------------------------------------------------------------------------------
def _similar_tool(intended: str, alternatives: list[str], rng: np.random.Generator) -> str:
    """Another tool, preferably one whose name shares a word with the intended one."""
    words = set(intended.split("_"))
    close = [t for t in alternatives if words & set(t.split("_"))]
    pool = close or alternatives
    return pool[int(rng.integers(len(pool)))]


def _mutate_args(args: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """One argument gets a plausible but wrong value."""
    keys = sorted(args)
    key = keys[int(rng.integers(len(keys)))]
    out = dict(args)
    out[key] = _perturb(args[key], rng)
    return out


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _perturb(value: Any, rng: np.random.Generator) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        step = 3600 if abs(value) > 1_000_000_000 else 1  # timestamps are off by an hour
        return value + step * int(rng.choice([-1, 1]))
    if isinstance(value, float):
        return round(value * float(rng.choice([0.5, 0.9, 1.1, 2.0])), 6)
    if isinstance(value, str):
        if _NUMBER.search(value):
            return _slip_text(value, rng)
        if not value:
            return "all"
        return value[:-1] if len(value) > 3 and rng.random() < 0.5 else value + "s"
    if isinstance(value, list):
        return value[:-1] if value else value
    if isinstance(value, dict) and value:
        key = sorted(value)[int(rng.integers(len(value)))]
        return {**value, key: _perturb(value[key], rng)}
    return value


def _slip(value: Any, rng: np.random.Generator) -> Any:
    """A reasoning slip: the answer computed from the outputs, subtly wrong."""
    if isinstance(value, str):
        return _slip_text(value, rng)
    if isinstance(value, list):
        if len(value) >= 2 and rng.random() < 0.5:
            i = int(rng.integers(len(value)))
            return value[:i] + value[i + 1 :]
        if value and not isinstance(value[0], (dict, list)) and rng.random() < 0.5:
            return [*value[:-1], _perturb(value[-1], rng)]
        return value[1:] if value else value
    if isinstance(value, dict):
        if not value:
            return value
        key = sorted(value)[int(rng.integers(len(value)))]
        return {**value, key: _slip(value[key], rng)}
    if isinstance(value, float):
        return round(value * (1 + float(rng.choice([-1, 1])) * float(rng.uniform(0.05, 0.3))), 4)
    return _perturb(value, rng)


def _slip_text(text: str, rng: np.random.Generator) -> str:
    numbers = list(_NUMBER.finditer(text))
    if numbers:
        m = numbers[int(rng.integers(len(numbers)))]
        num = m.group()
        wrong = str(int(num) + int(rng.choice([-2, -1, 1, 2]))) if "." not in num else f"{float(num) * 1.1:.3f}"
        return text[: m.start()] + wrong + text[m.end() :]
    parts = [p.strip() for p in text.split(",")]
    if len(parts) >= 2:
        del parts[int(rng.integers(len(parts)))]
        return ", ".join(parts)
    words = text.split()
    return " ".join(words[:-1]) if len(words) > 1 else text[: max(1, len(text) // 2)]


# -- guesses -------------------------------------------------------------------------------
_IDENT = re.compile(r"\b[a-z][a-z0-9_-]{3,}\b")
_COMMON = frozenset(
    [
        "this",
        "that",
        "with",
        "from",
        "what",
        "which",
        "have",
        "there",
        "their",
        "than",
        "then",
        "them",
        "they",
        "were",
        "will",
        "would",
        "return",
        "each",
        "data",
        "file",
        "line",
        "lines",
        "value",
        "values",
        "service",
        "services",
        "error",
        "errors",
        "here",
        "list",
        "count",
        "name",
        "names",
        "only",
        "just",
        "entry",
        "entries",
        "format",
        "field",
        "fields",
        "next",
        "does",
        "into",
        "over",
        "under",
        "about",
    ]
)


def _salient_names(prompt: str, k: int = 4) -> list[str]:
    """Identifier-like words the prompt repeats (service names in inline logs, column values...)."""
    counts: dict[str, int] = {}
    for w in _IDENT.findall(prompt):
        if w not in _COMMON:
            counts[w] = counts.get(w, 0) + 1
    ranked = sorted((w for w, c in counts.items() if c >= 3), key=lambda w: (-counts[w], w))
    return ranked[:k]


_QUOTED = re.compile(r"'([A-Za-z0-9_.:/-]{2,40})'")


def _guess_value(schema: dict[str, Any], prompt: str, rng: np.random.Generator) -> Any:
    """A schema-shaped answer made up without data (what a model does when it is stuck)."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if schema.get("enum"):
        return schema["enum"][int(rng.integers(len(schema["enum"])))]
    if kind == "integer":
        return int(rng.integers(0, 50))
    if kind == "number":
        return round(float(rng.uniform(0, 100)), 2)
    if kind == "boolean":
        return bool(rng.integers(2))
    if kind == "string":
        names = _QUOTED.findall(prompt)
        return names[int(rng.integers(len(names)))] if names else "unknown"
    if kind == "array":
        return []
    if kind == "object":
        props = schema.get("properties") or {}
        return {k: _guess_value(v, prompt, rng) for k, v in props.items() if isinstance(v, dict)}
    return None
