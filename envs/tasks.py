"""Task families, task instances and world suites.

A ``TaskFamily`` is a parametric question over a world. It samples parameters
(re-sampling ties and degenerate truths), computes ground truth *through
``WorldAccess``* (so truth is exactly what an agent can reach), states an answer
schema and a comparator, and has a scripted ``solve`` that reaches the answer with
the world's reference tools (the oracle, in the spirit of BrowserGym's ``cheat``).

A ``Suite`` binds a world generator, its families, reference tools and affordances
for one (world, protocol). Instances are addressed by
(master seed, split, world index, family, index). Split streams are disjoint: test
world 0 of master seed ``s`` is the world generated with seed ``s`` itself (so
``envs.inspect seed=s`` shows it); every other world seed is derived from
``(s, split, k)`` through ``SeedSequence``, and train worlds never reuse a test seed.
"""

from __future__ import annotations

import importlib
import json
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from envs import seeding
from envs.access import ALL_AFFORDANCES, AccessPolicy, WorldAccess
from envs.grading import Comparator, Grade, grade_answer
from envs.registry import WORLDS, get_world
from envs.world import World

DIFFICULTIES = ("easy", "medium", "hard")
SPLITS = ("train", "test")


@dataclass(frozen=True)
class Call:
    """A tool call an oracle solver wants to make."""

    tool: str
    args: dict[str, Any] = field(default_factory=dict)


# A solver yields Calls, receives each call's observation text, and returns the answer.
Solver = Generator[Call, str, Any]


class DegenerateTask(Exception):
    """Raised by a family when sampled parameters give a tie or a degenerate truth."""


class NoInstance(ValueError):
    """A family cannot be instantiated in a world (every draw was degenerate or repeated)."""


class TaskFamily(ABC):
    """A parametric task. Subclasses set the class attributes and implement the methods."""

    name: str = ""
    phase: str = ""
    difficulty: str = "medium"
    answer_schema: ClassVar[dict[str, Any]] = {}

    @abstractmethod
    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        """Draw parameters (raise ``DegenerateTask`` to ask for a re-sample)."""

    @abstractmethod
    def question(self, world: World, params: dict[str, Any]) -> str:
        """The question text (no format recipes, no answers)."""

    @abstractmethod
    def truth(self, access: WorldAccess, params: dict[str, Any]) -> Any:
        """Ground truth from what an agent can reach (raise ``DegenerateTask`` on ties)."""

    @abstractmethod
    def comparator(self, params: dict[str, Any]) -> Comparator:
        """How answers are compared with the truth."""

    @abstractmethod
    def solve(self, world: World, params: dict[str, Any]) -> Solver:
        """Oracle: reach the answer with the world's reference tools.

        Rigorous families must get every datum through yielded tool calls; ``world``
        is there for protocols whose data is inline in the prompt (arise_v1).
        """

    def prompt(self, world: World, params: dict[str, Any]) -> str:
        schema = json.dumps(self.answer_schema, separators=(", ", ": "))
        return (
            f"{self.question(world, params)}\n\n"
            f"Answer JSON schema: {schema}\n"
            f"Grading: {self.comparator(params).describe()}.\n"
            'Finish with the action {"answer": <your answer as JSON>}.'
        )


@dataclass(frozen=True)
class TaskInstance:
    """One concrete task: everything needed to pose, grade and record it."""

    id: str
    world: str
    protocol: str
    master_seed: int
    world_seed: int
    split: str
    family: str
    phase: str
    difficulty: str
    index: int
    params: dict[str, Any]
    prompt: str
    answer_schema: dict[str, Any]
    truth: Any
    comparator: Comparator = field(compare=False, repr=False)
    # World generator options the instance was built with (the env rebuilds exactly this world).
    options: dict[str, Any] = field(default_factory=dict)

    def grade(self, raw_answer: Any) -> Grade:
        """Grade an answer; the breakdown also says whether it fits the stated answer schema."""
        return grade_answer(raw_answer, self.truth, self.comparator, self.answer_schema)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "world": self.world,
            "protocol": self.protocol,
            "master_seed": self.master_seed,
            "world_seed": self.world_seed,
            "split": self.split,
            "family": self.family,
            "phase": self.phase,
            "difficulty": self.difficulty,
            "index": self.index,
            "params": self.params,
            "options": self.options,
            "truth": self.truth,
        }


@dataclass
class Suite:
    """A (world, protocol) pair: generator, families, reference tools, affordances."""

    world: str
    protocol: str
    build_world: Callable[[int, dict[str, Any]], World]
    families: list[TaskFamily]
    reference_tools: Callable[[], list[Callable[..., Any]]]
    # The world's phases in curriculum order (the world package's PHASES); the task stream follows it.
    phase_order: tuple[str, ...]
    affordances: tuple[str, ...] = ALL_AFFORDANCES
    intro: str = ""
    max_resample: int = 200
    # Observation budget the env uses unless the caller sets one (arise_v1 pastes data inline).
    max_observation_chars: int = 12_000
    default_options: dict[str, Any] = field(default_factory=dict)
    _worlds: OrderedDict[tuple[int, str], World] = field(default_factory=OrderedDict, repr=False)
    _drawn: dict[tuple[int, str, str, int], tuple[Any, Any]] = field(default_factory=dict, repr=False)

    def family(self, name: str) -> TaskFamily:
        for fam in self.families:
            if fam.name == name:
                return fam
        known = ", ".join(f.name for f in self.families)
        raise KeyError(f"unknown task family {name!r} for {self.world}/{self.protocol}; known: {known}")

    def __post_init__(self) -> None:
        unordered = sorted({f.phase for f in self.families} - set(self.phase_order))
        if unordered:
            raise ValueError(
                f"suite {self.world}/{self.protocol}: families have phases {unordered} that are not in its "
                f"phase_order {list(self.phase_order)}; list every phase in curriculum order"
            )

    def phases(self) -> tuple[str, ...]:
        present = {f.phase for f in self.families}
        return tuple(p for p in self.phase_order if p in present)

    # -- worlds ---------------------------------------------------------------
    def world_seed(self, master_seed: int, split: str, world_index: int = 0) -> int:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if split == "test" and world_index == 0:
            return master_seed
        seed = seeding.derive_seed(master_seed, "world", split, world_index)
        return seed if seed != master_seed else seeding.derive_seed(master_seed, "world", split, world_index, "alt")

    def get_world(self, seed: int, options: dict[str, Any] | None = None) -> World:
        opts = {**self.default_options, **(options or {})}
        key = (seed, json.dumps(opts, sort_keys=True))
        world = self._worlds.get(key)
        if world is None:
            world = self.build_world(seed, opts)
            self._worlds[key] = world
            while len(self._worlds) > 8:
                _, old = self._worlds.popitem(last=False)
                old.http.close()
        else:
            self._worlds.move_to_end(key)
        return world

    def access(self, world: World) -> WorldAccess:
        # Ground truth may use every affordance, whatever the condition offers, and is not
        # subject to API rate limits or auth (privileged), so truths never depend on request order.
        return WorldAccess(world, AccessPolicy(ALL_AFFORDANCES), privileged=True)

    # -- instances ------------------------------------------------------------
    def _params(self, fam: TaskFamily, world: World, access: WorldAccess, wseed: int, index: int) -> tuple[Any, Any]:
        """(params, truth) of instance ``index``: non-degenerate and distinct from indices below it."""
        key = (wseed, json.dumps(world.options, sort_keys=True), fam.name, index)
        if key in self._drawn:
            return self._drawn[key]
        taken = {json.dumps(self._params(fam, world, access, wseed, k)[0], sort_keys=True) for k in range(index)}
        last_error = "every draw repeated an earlier instance's parameters"
        for attempt in range(self.max_resample):
            params = None
            try:
                params = fam.sample(world, seeding.rng(wseed, "task", fam.name, index, attempt))
                if json.dumps(params, sort_keys=True) in taken:
                    raise DegenerateTask("parameters repeat an earlier instance")
                truth = fam.truth(access, params)
            except DegenerateTask as exc:
                last_error = str(exc)
                if params == {}:  # a parameterless family gives the same draw every time
                    break
                continue
            self._drawn[key] = (params, truth)
            return params, truth
        raise NoInstance(
            f"family {fam.name} has no {'further ' if index else ''}instance in world seed {wseed} "
            f"(index {index}): {last_error}. Exclude it with families=[...] or change the world options."
        )

    def instance(
        self,
        master_seed: int,
        split: str,
        family: str,
        index: int = 0,
        world_index: int = 0,
        options: dict[str, Any] | None = None,
    ) -> TaskInstance:
        """One instance; raises ``NoInstance`` when the world cannot host it (clear message)."""
        fam = self.family(family)
        wseed = self.world_seed(master_seed, split, world_index)
        world = self.get_world(wseed, options)
        params, truth = self._params(fam, world, self.access(world), wseed, index)
        return TaskInstance(
            id=f"{self.world}/{self.protocol}/{split}/s{master_seed}/w{world_index}/{fam.name}/{index}",
            world=self.world,
            protocol=self.protocol,
            master_seed=master_seed,
            world_seed=wseed,
            split=split,
            family=fam.name,
            phase=fam.phase,
            difficulty=fam.difficulty,
            index=index,
            params=params,
            prompt=fam.prompt(world, params),
            answer_schema=fam.answer_schema,
            truth=truth,
            comparator=fam.comparator(params),
            options=dict(options or {}),
        )

    def instances(
        self,
        master_seed: int,
        split: str,
        n_worlds: int = 1,
        per_family: int = 1,
        families: Sequence[str] | None = None,
        options: dict[str, Any] | None = None,
        first_world: int = 0,
    ) -> list[TaskInstance]:
        """All instances of a split, ordered world by world (then phase, family, index).

        World-major order keeps one world hot at a time (generation and parsing are the
        expensive part). With ``per_family > 1`` every instance of a family in a world has
        distinct parameters; families that run out (parameterless ones have exactly one
        instance per world) contribute fewer.
        """
        names = list(families) if families else [f.name for f in self.families]
        order = {p: i for i, p in enumerate(self.phases())}
        given = {n: i for i, n in enumerate(names)}
        names.sort(key=lambda n: (order.get(self.family(n).phase, 99), given[n]))
        out = []
        for w in range(first_world, first_world + n_worlds):
            for name in names:
                for i in range(per_family):
                    try:
                        out.append(self.instance(master_seed, split, name, index=i, world_index=w, options=options))
                    except NoInstance:
                        if i == 0:
                            raise
                        break
        return out


_LOADED: dict[tuple[str, str], Suite] = {}


def register_suite(world: str, protocol: str, entry_point: str) -> None:
    """Add a protocol's suite factory ``"module:function"`` (imported lazily) to a registered world."""
    get_world(world).suites[protocol] = entry_point


def available() -> list[tuple[str, str]]:
    return sorted((w, p) for w, entry in WORLDS.items() for p in entry.suites)


def get_suite(world: str, protocol: str = "rigorous") -> Suite:
    key = (world, protocol)
    if key not in _LOADED:
        suites = get_world(world).suites
        if protocol not in suites:
            raise KeyError(f"unknown protocol {protocol!r} for world {world!r}; available: {sorted(suites)}")
        module, _, attr = suites[protocol].partition(":")
        _LOADED[key] = getattr(importlib.import_module(module), attr)()
    return _LOADED[key]
