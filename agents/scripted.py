"""Scripted policies for the sanity gates: the oracle and the null baselines.

* ``oracle`` drives the task family's scripted solver: it calls the world's reference
  tools through the env (like an agent would) and answers from their outputs. It
  must score 100% on every rigorous family.
* null policies never look at data and must score near zero under ``rigorous``:
  ``null_empty`` (empty answer), ``null_echo`` (the prompt), ``null_names`` (every
  entity name of the world), ``null_numbers`` (a dump of integers), ``null_random``
  (a random answer shaped like the schema), ``null_majority`` (the per-family most
  common truth on *train* instances), ``null_blob`` (the input-independent constant
  blob that games the paper's substring checks).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import numpy as np

from agents.policy import Policy
from envs import seeding
from envs.oracle import OracleSteps, SolverError
from envs.registry import get_world
from envs.tasks import Suite
from envs.toolenv import ToolUseEnv


def _answer(value: Any) -> str:
    return json.dumps({"answer": value}, ensure_ascii=False)


class OraclePolicy(Policy):
    name = "oracle"

    def __init__(self) -> None:
        self._steps: OracleSteps | None = None
        self._error: str | None = None

    def reset(self, env: ToolUseEnv, observation: str, info: dict[str, Any]) -> None:
        assert env.instance is not None
        fam = env.suite.family(env.instance.family)
        world = env.suite.get_world(env.instance.world_seed, env.instance.options)
        self._steps = OracleSteps(fam.solve(world, env.instance.params))
        self._error = None

    def act(self, observation: str) -> str:
        assert self._steps is not None, "act before reset"
        try:
            call = self._steps.send(observation)
        except SolverError as exc:  # the solver yielded something else than a Call
            self._error = str(exc)
            return _answer(None)
        except Exception as exc:  # a solver that cannot parse a tool output: record, answer null
            self._error = f"{type(exc).__name__}: {exc}"
            return _answer(None)
        if call is None:
            return _answer(self._steps.answer)
        return json.dumps({"tool": call.tool, "args": call.args}, ensure_ascii=False)

    def episode_extras(self) -> dict[str, Any]:
        return {"solver_error": self._error} if self._error else {}


class _ConstantPolicy(Policy):
    """Answers immediately with a value computed at reset."""

    def __init__(self) -> None:
        self._value: Any = None

    def reset(self, env: ToolUseEnv, observation: str, info: dict[str, Any]) -> None:
        self._value = self.value(env, observation, info)

    def value(self, env: ToolUseEnv, observation: str, info: dict[str, Any]) -> Any:
        return None

    def act(self, observation: str) -> str:
        return _answer(self._value)


class NullEmpty(_ConstantPolicy):
    name = "null_empty"

    def value(self, env: ToolUseEnv, observation: str, info: dict[str, Any]) -> Any:
        return ""


class NullEcho(_ConstantPolicy):
    name = "null_echo"

    def value(self, env: ToolUseEnv, observation: str, info: dict[str, Any]) -> Any:
        return observation


class NullNames(_ConstantPolicy):
    name = "null_names"

    def value(self, env: ToolUseEnv, observation: str, info: dict[str, Any]) -> Any:
        assert env.instance is not None
        return list(env.suite.get_world(env.instance.world_seed, env.instance.options).entities)


class NullNumbers(_ConstantPolicy):
    name = "null_numbers"

    def value(self, env: ToolUseEnv, observation: str, info: dict[str, Any]) -> Any:
        return list(range(1000))


class NullBlob(_ConstantPolicy):
    """The constant, input-independent blob of service names, keywords and integers 0-999."""

    name = "null_blob"

    def value(self, env: ToolUseEnv, observation: str, info: dict[str, Any]) -> Any:
        # Each world registers its blob (service names vs DataCorp codes and columns).
        return get_world(env.world_name).constant_blob


def random_like(schema: dict[str, Any], rng: np.random.Generator, names: list[str]) -> Any:
    """A random value shaped like a JSON schema, using world entity names for strings."""
    if "enum" in schema:
        return schema["enum"][int(rng.integers(len(schema["enum"])))]
    kind = schema.get("type")
    if kind == "integer":
        return int(rng.integers(0, 1000))
    if kind == "number":
        return round(float(rng.uniform(0, 1000)), 3)
    if kind == "boolean":
        return bool(rng.integers(2))
    if kind == "string":
        return names[int(rng.integers(len(names)))] if names else "x"
    if kind == "array":
        n = int(rng.integers(schema.get("minItems", 1), schema.get("maxItems", 4) + 1))
        return [random_like(schema.get("items", {"type": "string"}), rng, names) for _ in range(n)]
    if kind == "object":
        return {k: random_like(v, rng, names) for k, v in schema.get("properties", {}).items()}
    if "anyOf" in schema:
        return random_like(schema["anyOf"][int(rng.integers(len(schema["anyOf"])))], rng, names)
    return None


class NullRandom(_ConstantPolicy):
    name = "null_random"

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.seed = seed

    def value(self, env: ToolUseEnv, observation: str, info: dict[str, Any]) -> Any:
        assert env.instance is not None
        rng = seeding.rng(self.seed, "null_random", env.instance.id)
        names = env.suite.get_world(env.instance.world_seed, env.instance.options).entities
        return random_like(env.instance.answer_schema, rng, list(names))


class NullMajority(_ConstantPolicy):
    """The most common truth of each family over train instances (fit with ``fit``)."""

    name = "null_majority"

    def __init__(self) -> None:
        super().__init__()
        self.majority: dict[str, Any] = {}

    def fit(
        self,
        suite: Suite,
        seed: int,
        n_worlds: int = 3,
        options: dict[str, Any] | None = None,
        first_world: int = 0,
    ) -> NullMajority:
        """Learn from train worlds ``first_world .. first_world + n_worlds - 1``."""
        truths: dict[str, Counter[str]] = {}
        for inst in suite.instances(seed, "train", n_worlds=n_worlds, options=options, first_world=first_world):
            truths.setdefault(inst.family, Counter())[json.dumps(inst.truth, sort_keys=True)] += 1
        # most_common breaks ties by first occurrence, which is deterministic here.
        self.majority = {fam: json.loads(c.most_common(1)[0][0]) for fam, c in truths.items()}
        return self

    def value(self, env: ToolUseEnv, observation: str, info: dict[str, Any]) -> Any:
        assert env.instance is not None
        return self.majority.get(env.instance.family)


SCRIPTED: dict[str, type[Policy]] = {
    "oracle": OraclePolicy,
    "null_empty": NullEmpty,
    "null_echo": NullEcho,
    "null_names": NullNames,
    "null_numbers": NullNumbers,
    "null_random": NullRandom,
    "null_majority": NullMajority,
    "null_blob": NullBlob,
}
NULL_POLICIES = tuple(n for n in SCRIPTED if n.startswith("null_"))


def make_scripted(
    name: str,
    suite: Suite,
    seed: int,
    train_worlds: int = 3,
    options: dict[str, Any] | None = None,
    evaluated: tuple[str, int] = ("test", 1),
) -> Policy:
    """Build a scripted policy. ``evaluated`` = (split, n_worlds) of the run, so baselines that
    learn (null_majority) fit on train worlds disjoint from the ones they are scored on."""
    if name not in SCRIPTED:
        raise ValueError(f"unknown scripted policy {name!r}; accepted: {', '.join(SCRIPTED)}")
    if name == "null_random":
        return NullRandom(seed)
    if name == "null_majority":
        split, n_worlds = evaluated
        first = n_worlds if split == "train" else 0
        return NullMajority().fit(suite, seed, train_worlds, options, first_world=first)
    policy = SCRIPTED[name]()
    assert isinstance(policy, Policy)
    return policy
