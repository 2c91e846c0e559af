"""The Gymnasium environment shared by every world: ``arise_gym/AcmeCorp-v0`` and friends.

Observation: text. ``reset`` returns the task prompt; ``step`` returns the result of
a tool call (or an error message), or the grade summary after a final answer.

Action: a JSON string, one of::

    {"tool": "<name>", "args": {...}}     call an affordance or a tool
    {"answer": <json value>}              final answer; graded, episode terminates

Anything else yields an error observation (never an exception). Reward is 0 for
tool calls and the grader's score in [0, 1] for the final answer; success means
score == 1. The env never truncates: the ``TimeLimit`` wrapper that
``gymnasium.make`` adds (``max_episode_steps``) owns truncation.

``reset(seed=s, options={...})`` options:
    split: "train" | "test" (default "test")
    task: family name (default: drawn with the env's RNG)
    index: instance index within the family (default 0)
    world_index: which world of the split (default 0)
    tools: "none" | "reference" | a ``ToolRunner`` (default: the constructor's)
    instance: a ``TaskInstance`` to pose directly (overrides the above)
"""

from __future__ import annotations

import copy
import json
import re
import time
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.access import ALL_AFFORDANCES, AccessError, AccessPolicy, WorldAccess
from envs.affordances import Affordances
from envs.grading import Grade
from envs.tasks import TaskInstance, get_suite
from envs.tools import InProcessRunner, ToolResult, ToolRunner, ToolSpec, check_args

_CHARSET: frozenset[str] | None = None
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def printable_charset() -> frozenset[str]:
    """Every printable BMP character plus newline and tab (the text spaces' charset)."""
    global _CHARSET
    if _CHARSET is None:
        chars = {chr(c) for c in range(0x20, 0x10000) if not 0xD800 <= c <= 0xDFFF and chr(c).isprintable()}
        _CHARSET = frozenset(chars | {"\n", "\t"})
    return _CHARSET


def sanitize(text: str, max_length: int) -> str:
    """Map characters outside the charset to U+FFFD and truncate to ``max_length``."""
    probe = text.replace("\n", "").replace("\t", "")
    if not probe.isprintable() or _ASTRAL.search(probe):
        text = "".join(ch if ch in "\n\t" or (ch.isprintable() and ord(ch) <= 0xFFFF) else "\ufffd" for ch in text)
    if len(text) > max_length:
        note = f"\n...[truncated {len(text) - max_length} characters]"
        text = text[: max_length - len(note)] + note if max_length > 2 * len(note) else text[:max_length]
    return text


ACTION_HELP = (
    'Accepted actions: {"tool": "<name>", "args": {...}} to call a tool, '
    'or {"answer": <json>} to submit the final answer.'
)


class ToolUseEnv(gym.Env[str, str]):
    """A task in a simulated company, solved by calling affordances/tools and answering."""

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        world: str = "acmecorp",
        protocol: str = "rigorous",
        tools: str | ToolRunner = "none",
        split: str = "test",
        world_options: dict[str, Any] | None = None,
        affordances: tuple[str, ...] | None = None,
        max_observation_chars: int | None = None,
        max_action_chars: int = 200_000,
        render_mode: str | None = None,
    ) -> None:
        # What rebuilds this env when it is unpickled (with the episode replayed; see __getstate__).
        self._init_args = {"world": world, "protocol": protocol, "tools": tools, "split": split,
                           "world_options": world_options, "affordances": affordances,
                           "max_observation_chars": max_observation_chars, "max_action_chars": max_action_chars,
                           "render_mode": render_mode}  # fmt: skip
        self._replay: dict[str, Any] | None = None
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.suite = get_suite(world, protocol)
        self.world_name, self.protocol = world, protocol
        self.default_tools = tools
        self.default_split = split
        self.world_options = dict(world_options or {})
        self.affordance_names = tuple(affordances) if affordances is not None else self.suite.affordances
        unknown = [a for a in self.affordance_names if a not in ALL_AFFORDANCES]
        if unknown:
            raise ValueError(f"unknown affordance(s) {unknown}; accepted: {', '.join(ALL_AFFORDANCES)}")
        self.render_mode = render_mode
        charset = printable_charset()
        obs_chars = max_observation_chars if max_observation_chars is not None else self.suite.max_observation_chars
        self.observation_space = spaces.Text(max_length=obs_chars, min_length=0, charset=charset)
        self.action_space = spaces.Text(max_length=max_action_chars, min_length=0, charset=charset)
        self.instance: TaskInstance | None = None
        self.runner: ToolRunner | None = None
        self.access: WorldAccess | None = None
        self._affordances: Affordances | None = None
        self._tool_specs: list[ToolSpec] = []
        self._done = True
        self._transcript: list[str] = []
        self._master_seed: int | None = None
        self.last_step_duration_s = 0.0

    # -- reset ------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        self._replay = {"seed": seed, "options": options, "rng": copy.deepcopy(self.np_random),
                        "master_seed": self._master_seed, "actions": []}  # fmt: skip
        opts = dict(options or {})
        unknown = set(opts) - {"split", "task", "index", "world_index", "tools", "instance"}
        if unknown:
            raise ValueError(
                f"unknown reset option(s) {sorted(unknown)}; accepted: split, task, index, world_index, tools, instance"
            )
        instance = opts.get("instance")
        if instance is None:
            if seed is not None:
                self._master_seed = seed
            elif self._master_seed is None:
                self._master_seed = int(self.np_random.integers(0, 2**31 - 1))
            family = (
                opts.get("task") or self.suite.families[int(self.np_random.integers(len(self.suite.families)))].name
            )
            for key in ("index", "world_index"):
                value = opts.get(key, 0)
                if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
                    raise ValueError(f"reset option {key!r} must be a non-negative integer, got {value!r}")
            instance = self.suite.instance(
                self._master_seed,
                opts.get("split", self.default_split),
                family,
                index=int(opts.get("index", 0)),
                world_index=int(opts.get("world_index", 0)),
                options=self.world_options,
            )
        elif not isinstance(instance, TaskInstance):
            raise TypeError(f"options['instance'] must be a TaskInstance, got {type(instance).__name__}")
        self.instance = instance
        world = self.suite.get_world(instance.world_seed, instance.options)
        self.access = WorldAccess(world, AccessPolicy(self.affordance_names))  # fresh HTTP session per episode
        self._affordances = Affordances(self.access)
        self.runner = self._make_runner(opts.get("tools", self.default_tools))
        names = set(self.affordance_names)
        self._tool_specs = self._affordances.specs(self.affordance_names) + [
            s for s in self.runner.specs() if s.name not in names
        ]
        self._done = False
        obs = self._obs(self._intro() + instance.prompt)
        self._transcript = [f"TASK {instance.id}\n{obs}"]
        task = copy.deepcopy(instance.to_json()) | {"truth": None}  # infos never share objects across calls
        return obs, {"task": task, "tools": [copy.deepcopy(s.to_json()) for s in self._tool_specs]}

    def _intro(self) -> str:
        return f"{self.suite.intro}\n\n" if self.suite.intro else ""

    def _make_runner(self, tools: Any) -> ToolRunner:
        if tools in (None, "none"):
            return InProcessRunner({})
        if tools == "reference":
            return InProcessRunner.of(self.suite.reference_tools())
        if isinstance(tools, ToolRunner):
            return tools
        raise ValueError(f"tools must be 'none', 'reference' or a ToolRunner, got {tools!r}")

    @property
    def tool_specs(self) -> list[ToolSpec]:
        return list(self._tool_specs)

    # -- step -------------------------------------------------------------------
    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self.instance is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if self._done:
            return self._obs("Error: the episode is over; call reset()."), 0.0, True, False, {"kind": "invalid"}
        assert self._replay is not None
        self._replay["actions"].append(action)
        t0 = time.perf_counter()
        parsed, problem = self._parse(action)
        if problem is not None:
            obs = f"Error: {problem} {ACTION_HELP}"
            info: dict[str, Any] = {"kind": "invalid", "error": problem}
            return self._finish_step(action, obs, 0.0, False, info, t0)
        if "answer" in parsed:
            try:
                grade = self.instance.grade(parsed["answer"])
            except (RecursionError, ValueError, OverflowError, TypeError) as exc:  # pathological answers
                grade = Grade(0.0, False, {"parse_error": f"answer could not be graded ({type(exc).__name__})"})
            self._done = True
            obs = self._grade_text(grade)
            info = {"kind": "answer", "answer": parsed["answer"], "grade": grade.to_json()}
            info["score"], info["success"] = grade.score, grade.success
            return self._finish_step(action, obs, grade.score, True, info, t0)
        name, args = parsed["tool"], parsed["args"]
        result = self._call_tool(name, args)
        info = {"kind": "tool", "tool": name, "args": args, "ok": result.ok, "error": result.error}
        obs = result.output if result.ok else f"Error: {result.error}"
        return self._finish_step(action, obs, 0.0, False, info, t0)

    def _finish_step(
        self, action: str, obs: str, reward: float, terminated: bool, info: dict[str, Any], t0: float
    ) -> tuple[str, float, bool, bool, dict[str, Any]]:
        obs = self._obs(obs)
        # Wall-clock time stays out of `info` so same seed + same actions give identical infos.
        self.last_step_duration_s = time.perf_counter() - t0
        self._transcript.append(f"> {action}\n{obs}")
        return obs, float(reward), terminated, False, info

    def _parse(self, action: Any) -> tuple[dict[str, Any], str | None]:
        if not isinstance(action, str):
            return {}, f"action must be a JSON string, got {type(action).__name__}."
        try:
            data = json.loads(action)
        except json.JSONDecodeError as exc:
            return {}, f"action is not valid JSON ({exc.msg} at position {exc.pos})."
        except (RecursionError, ValueError) as exc:  # absurd nesting, oversized integers
            return {}, f"action could not be decoded ({type(exc).__name__})."
        if not isinstance(data, dict):
            return {}, "action must be a JSON object."
        if "answer" in data:
            if len(data) != 1:
                return {}, f"an answer action has only the key 'answer', got keys {sorted(data)}."
            return data, None
        if "tool" in data:
            extra = set(data) - {"tool", "args"}
            if extra:
                return {}, f"unexpected key(s) {sorted(extra)} in a tool call."
            args = data.get("args", {})
            if isinstance(args, str):  # some models send arguments as a JSON string
                try:
                    args = json.loads(args)
                except json.JSONDecodeError:
                    return {}, "'args' is a string that is not a JSON object."
            if not isinstance(args, dict):
                return {}, f"'args' must be a JSON object, got {type(args).__name__}."
            if not isinstance(data["tool"], str):
                return {}, "'tool' must be a string naming a tool."
            return {"tool": data["tool"], "args": args}, None
        return {}, f"unrecognised action with keys {sorted(data)}."

    def _call_tool(self, name: str, args: dict[str, Any]) -> ToolResult:
        assert self.access is not None and self._affordances is not None and self.runner is not None
        if name in self.affordance_names:
            spec = next(s for s in self._tool_specs if s.name == name)
            problem = check_args(spec, args)
            if problem:
                return ToolResult(False, "", problem)
            t0 = time.perf_counter()
            try:
                out = self._affordances.call(name, args)
            except AccessError as exc:
                return ToolResult(False, "", str(exc), time.perf_counter() - t0)
            except Exception as exc:  # any other failure is an observation too, never a crash
                return ToolResult(False, "", f"{type(exc).__name__}: {exc}", time.perf_counter() - t0)
            return ToolResult(True, out, None, time.perf_counter() - t0)
        if any(s.name == name for s in self._tool_specs):
            return self.runner.call(name, args, self.access)
        available = ", ".join(s.name for s in self._tool_specs)
        return ToolResult(False, "", f"unknown tool {name!r}; available: {available}")

    def _grade_text(self, grade: Grade) -> str:
        verdict = "correct" if grade.success else "incorrect"
        return f"Answer recorded: {verdict} (score {grade.score:.3f})."

    def _obs(self, text: str) -> str:
        assert isinstance(self.observation_space, spaces.Text)
        return sanitize(text, self.observation_space.max_length)

    # -- misc -----------------------------------------------------------------------
    def render(self) -> str | None:  # type: ignore[override]
        if self.render_mode != "ansi":
            return None
        return "\n\n".join(self._transcript) + "\n"

    def close(self) -> None:
        self.instance = None
        super().close()

    # -- pickling: worlds hold closures, so an env pickles as its arguments and its episode so far ----------
    def __getstate__(self) -> dict[str, Any]:
        return {"init": self._init_args, "replay": self._replay}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Rebuild and replay: the env is deterministic, so the same reset and actions give the same state
        (tools passed as a runner object must pickle themselves)."""
        self.__init__(**state["init"])  # type: ignore[misc]
        replay = state["replay"]
        if replay is None:
            return
        self._np_random, self._master_seed = replay["rng"], replay["master_seed"]
        self.reset(seed=replay["seed"], options=replay["options"])
        for action in replay["actions"]:
            self.step(action)
