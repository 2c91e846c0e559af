"""The ARISE paper's protocol (``arise_v1``): the machinery every world's paper suite shares.

A world's paper tasks are numbered per phase (``v1.<phase>.<NN>``). Each phase module
declares a ``PhaseTable`` and registers its tasks on it with the ``task`` decorator (the
decorated generator function is the task's oracle); ``ordered_specs`` checks the tables
against the world's phases and returns the specs in the paper's order; ``PaperTask`` turns
a spec into a ``TaskFamily`` graded by the world's free-text check; ``paper_suite`` binds
them with the protocol's fixed choices (GET-only affordances, free-text answers).

The worlds' own parts live in ``envs.acmecorp.arise_v1`` and ``envs.datacorp.arise_v1``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from envs.access import WorldAccess
from envs.grading import FreeTextCheck
from envs.tasks import Solver, Suite, TaskFamily
from envs.world import World

# The paper's agent could only GET (so e.g. DataCorp's POST /validate is out of its reach).
AFFORDANCES: tuple[str, ...] = ("http_get",)
# The end of every paper suite's intro: how to call a tool and answer.
ANSWER_RULES = (
    'Call a tool with {"tool": "<name>", "args": {...}}; when done, reply {"answer": "<your answer as text>"}. '
    "The answer is read as free text."
)
DIFFICULTY_BANDS = ("easy", "medium", "hard")

Question = Callable[[World, dict[str, Any]], str]
# A truth reads the world's graders' view (``PaperTask.view``): the access itself or data loaded from it.
Truth = Callable[[Any, dict[str, Any]], Any]
SolveFn = Callable[[World, dict[str, Any]], Solver]
ParamsFn = Callable[[World], dict[str, Any]]


def task_name(phase: str, number: int) -> str:
    return f"v1.{phase}.{number:02d}"


@dataclass(frozen=True)
class PaperSpec:
    """One paper task: its place in the table, its check kind, prompt, truth and oracle."""

    phase: str
    number: int
    difficulty: str
    check: str
    summary: str
    question: Question
    truth: Truth
    solve: SolveFn
    params: ParamsFn | None = None

    @property
    def name(self) -> str:
        return task_name(self.phase, self.number)


class PhaseTable:
    """One phase's paper tasks, numbered 1..n; ``bands`` is how many are easy, medium and hard, in that order."""

    def __init__(self, phase: str, checks: Mapping[str, object], bands: Sequence[int]) -> None:
        if len(bands) != len(DIFFICULTY_BANDS) or any(n < 0 for n in bands):
            raise ValueError(f"bands gives the easy, medium and hard task counts, got {tuple(bands)}")
        self.phase = phase
        self.checks = checks
        self.bands = tuple(bands)
        self.size = sum(bands)
        self._specs: dict[int, PaperSpec] = {}

    def difficulty(self, number: int) -> str:
        if not 1 <= number <= self.size:
            raise ValueError(f"{self.phase} task number {number} is outside 1..{self.size}")
        upper = 0
        for band, count in zip(DIFFICULTY_BANDS, self.bands):
            upper += count
            if number <= upper:
                return band
        raise AssertionError("unreachable: number <= size")

    def task(
        self,
        number: int,
        check: str,
        summary: str,
        question: Question,
        truth: Truth,
        params: ParamsFn | None = None,
    ) -> Callable[[SolveFn], SolveFn]:
        """Register task ``number``; the decorated generator function is its oracle."""

        def deco(solve: SolveFn) -> SolveFn:
            if check not in self.checks:
                raise ValueError(f"unknown check {check!r}")
            if number in self._specs:
                raise ValueError(f"task {task_name(self.phase, number)} is registered twice")
            difficulty = self.difficulty(number)
            self._specs[number] = PaperSpec(
                self.phase, number, difficulty, check, summary, question, truth, solve, params
            )
            return solve

        return deco

    def __contains__(self, number: object) -> bool:
        return number in self._specs

    def specs(self) -> list[PaperSpec]:
        return [self._specs[n] for n in sorted(self._specs)]


def ordered_specs(world: str, phases: Sequence[str], tables: Iterable[PhaseTable]) -> list[PaperSpec]:
    """Every table's specs in the paper's order (phase as in ``phases``, then number); a gap is an error."""
    by_phase: dict[str, PhaseTable] = {}
    for table in tables:
        if table.phase not in phases:
            raise ValueError(f"{world} arise_v1: phase {table.phase!r} is not one of the world's phases {list(phases)}")
        if table.phase in by_phase:
            raise ValueError(f"{world} arise_v1: two task tables for phase {table.phase!r}")
        by_phase[table.phase] = table
    missing = [task_name(t.phase, n) for t in by_phase.values() for n in range(1, t.size + 1) if n not in t]
    if missing:
        raise RuntimeError(f"{world} arise_v1 task table is incomplete: {missing}")
    return [s for p in phases if p in by_phase for s in by_phase[p].specs()]


class PaperTask(TaskFamily):
    """One paper task as a family: free-text answer, graded by the world's check (``check_type``)."""

    check_type: ClassVar[type[FreeTextCheck]]
    answer_schema = {"type": "string", "description": "free text"}  # the paper graded free text

    def __init__(self, spec: PaperSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.phase = spec.phase
        self.difficulty = spec.difficulty

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}: {self.spec.summary})"

    def view(self, access: WorldAccess) -> Any:
        """What the spec's truth reads: the access itself unless a world loads its graders' view."""
        return access

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return self.spec.params(world) if self.spec.params else {}

    def question(self, world: World, params: dict[str, Any]) -> str:
        return self.spec.question(world, params)

    def prompt(self, world: World, params: dict[str, Any]) -> str:
        # The paper graded free text: no schema, no grading recipe.
        return self.question(world, params)

    def truth(self, access: WorldAccess, params: dict[str, Any]) -> Any:
        return self.spec.truth(self.view(access), params)

    def comparator(self, params: dict[str, Any]) -> FreeTextCheck:
        return self.check_type(self.spec.check)

    def solve(self, world: World, params: dict[str, Any]) -> Solver:
        return self.spec.solve(world, params)


def paper_suite(
    world: str,
    build_world: Callable[[int, dict[str, Any]], World],
    families: Sequence[TaskFamily],
    reference_tools: Sequence[Callable[..., Any]],
    phases: tuple[str, ...],
    intro: str,
    max_observation_chars: int,
) -> Suite:
    """A world's ``arise_v1`` suite: its paper tasks and tools behind the protocol's GET-only affordances."""
    return Suite(
        world=world,
        protocol="arise_v1",
        build_world=build_world,
        families=list(families),
        reference_tools=lambda: list(reference_tools),
        phase_order=phases,
        affordances=AFFORDANCES,
        intro=intro,
        max_observation_chars=max_observation_chars,
    )


__all__ = [
    "AFFORDANCES",
    "ANSWER_RULES",
    "DIFFICULTY_BANDS",
    "PaperSpec",
    "PaperTask",
    "ParamsFn",
    "PhaseTable",
    "Question",
    "SolveFn",
    "Truth",
    "ordered_specs",
    "paper_suite",
    "task_name",
]
