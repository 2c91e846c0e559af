"""The simulated model's built-in knowledge of each world: how to solve a task, and the formats.

For a task family it knows a *plan*: the family's scripted solver (``TaskFamily.solve``),
a generator that asks for tool calls and computes the answer from their outputs. It also
knows how each of the world's reference tools works (their code), which is what it
"runs in its head" when it reasons over raw data instead of calling a tool, and what
the tool-author side writes tools from.

What it never touches: ``TaskInstance.truth``, comparators, the scored world's
``World.facts`` or any grader. Rigorous solvers get ``world=None`` (they reach every
datum through calls, and a test enforces it). ``arise_v1`` prompts paste the data
inline, and its solvers read that inline text from a world: the model gives them
``shown.shown_world`` (only the files the prompt pastes, facts re-read off the prompt),
and tests check the plans answer there as on the full world and never read its facts.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from agents.sim.shown import shown_world
from envs.tasks import Solver, Suite, TaskFamily, get_suite
from envs.tools import InProcessRunner
from envs.world import World

# Protocols whose prompts carry the data inline (the solver reads it from the world).
INLINE_PROTOCOLS = frozenset({"arise_v1"})


@dataclass(frozen=True)
class TaskKnowledge:
    """What the model knows about one task: the family's plan and the world's tools."""

    suite: Suite
    family: TaskFamily
    params: dict[str, Any]
    world: World | None

    @property
    def runner(self) -> InProcessRunner:
        """The world's tools as the model runs them in its head (built once per suite: specs are not free)."""
        return _runner(self.suite.world, self.suite.protocol)

    @property
    def answer_schema(self) -> dict[str, Any]:
        return dict(self.family.answer_schema)

    @property
    def free_text(self) -> bool:
        return self.suite.protocol in INLINE_PROTOCOLS

    def plan(self) -> Solver:
        # Solvers are typed with a World; rigorous ones must not use it (None enforces that).
        return self.family.solve(self.world, self.params)  # type: ignore[arg-type]


@functools.cache
def _runner(world: str, protocol: str) -> InProcessRunner:
    return InProcessRunner.of(get_suite(world, protocol).reference_tools())


def knowledge_for(meta: dict[str, Any], prompt: str) -> TaskKnowledge | None:
    """The knowledge matching a request's ``meta``; ``None`` when the task is unknown to it.

    For inline-data protocols the plan gets the world as ``prompt`` shows it (``shown``), never the
    scored world itself.
    """
    try:
        suite = get_suite(str(meta["world"]), str(meta["protocol"]))
        family = suite.family(str(meta["family"]))
    except KeyError:
        return None
    world = None
    if suite.protocol in INLINE_PROTOCOLS:
        if "world_seed" not in meta:
            return None
        world = shown_world(suite.get_world(int(meta["world_seed"]), dict(meta.get("options") or {})), prompt)
    return TaskKnowledge(suite, family, dict(meta.get("params") or {}), world)
