"""The arise_v1 protocol's shared machinery (envs/arise_v1.py): tables, ordering, families, suites."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from envs.access import WorldAccess
from envs.acmecorp.arise_v1 import AcmePaperTask
from envs.acmecorp.arise_v1 import specs as acme_specs
from envs.arise_v1 import AFFORDANCES, PaperTask, PhaseTable, ordered_specs, paper_suite
from envs.datacorp.arise_v1 import DataCorpPaperTask
from envs.datacorp.arise_v1 import specs as datacorp_specs
from envs.grading import FreeTextCheck
from envs.tasks import Solver
from envs.world import World

CHECKS = {"contains": None, "exact": None}


def _question(world: World, params: dict[str, Any]) -> str:
    return f"question {params.get('n', 0)}"


def _solve(world: World, params: dict[str, Any]) -> Solver:
    yield from ()
    return "answer"


def _table(phase: str, numbers: list[int], bands: tuple[int, int, int] = (1, 1, 1)) -> PhaseTable:
    table = PhaseTable(phase, CHECKS, bands)
    for n in numbers:
        table.task(n, "contains", f"{phase} {n}", _question, lambda d, p, n=n: n)(_solve)
    return table


def test_difficulty_follows_the_bands() -> None:
    table = PhaseTable("a", CHECKS, (4, 4, 2))
    assert [table.difficulty(n) for n in range(1, 11)] == ["easy"] * 4 + ["medium"] * 4 + ["hard"] * 2
    assert PhaseTable("a", CHECKS, (0, 2, 1)).difficulty(1) == "medium"
    with pytest.raises(ValueError, match=r"outside 1\.\.10"):
        table.difficulty(11)
    with pytest.raises(ValueError, match="bands"):
        PhaseTable("a", CHECKS, (5, 5))


def test_task_registers_a_spec_and_returns_the_oracle() -> None:
    table = PhaseTable("logs", CHECKS, (1, 1, 0))
    assert table.task(2, "exact", "second", _question, lambda d, p: 7)(_solve) is _solve
    table.task(1, "contains", "first", _question, lambda d, p: 3, params=lambda w: {"n": 1})(_solve)
    specs = table.specs()
    assert [(s.name, s.number, s.difficulty, s.check, s.summary) for s in specs] == [
        ("v1.logs.01", 1, "easy", "contains", "first"),
        ("v1.logs.02", 2, "medium", "exact", "second"),
    ]
    assert specs[0].params is not None and specs[0].params(None) == {"n": 1}  # type: ignore[arg-type]
    assert specs[1].truth(None, {}) == 7 and 1 in table and 3 not in table


def test_duplicate_numbers_unknown_checks_and_out_of_range_numbers_are_rejected() -> None:
    table = _table("logs", [1])
    with pytest.raises(ValueError, match=r"v1\.logs\.01 is registered twice"):
        table.task(1, "contains", "again", _question, lambda d, p: 0)(_solve)
    with pytest.raises(ValueError, match="unknown check 'fuzzy'"):
        table.task(2, "fuzzy", "x", _question, lambda d, p: 0)(_solve)
    with pytest.raises(ValueError, match=r"outside 1\.\.3"):
        table.task(4, "contains", "x", _question, lambda d, p: 0)(_solve)
    assert [s.summary for s in table.specs()] == ["logs 1"]


def test_ordered_specs_follow_the_world_phases_then_numbers() -> None:
    b, a = _table("b", [3, 1, 2]), _table("a", [2, 3, 1])
    names = [s.name for s in ordered_specs("w", ("a", "b"), [b, a])]
    assert names == ["v1.a.01", "v1.a.02", "v1.a.03", "v1.b.01", "v1.b.02", "v1.b.03"]
    names = [s.name for s in ordered_specs("w", ("b", "a"), [a, b])]
    assert names[:3] == ["v1.b.01", "v1.b.02", "v1.b.03"]


def test_ordered_specs_reject_an_unlisted_phase_a_second_table_and_a_gap() -> None:
    with pytest.raises(ValueError, match="phase 'c' is not one of the world's phases"):
        ordered_specs("w", ("a", "b"), [_table("a", [1, 2, 3]), _table("c", [1, 2, 3])])
    with pytest.raises(ValueError, match="two task tables for phase 'a'"):
        ordered_specs("w", ("a",), [_table("a", [1, 2, 3]), _table("a", [1, 2, 3])])
    with pytest.raises(RuntimeError, match=r"w arise_v1 task table is incomplete: \['v1.a.02'\]"):
        ordered_specs("w", ("a",), [_table("a", [1, 3])])


class _Check(FreeTextCheck):
    checks = {"contains": (lambda text, truth: (str(truth) in text, ""), "substring")}


class _Task(PaperTask):
    check_type = _Check

    def view(self, access: WorldAccess) -> Any:
        return {"loaded": access}


def test_paper_task_reads_its_view_and_grades_free_text() -> None:
    spec = _table("a", [1, 2, 3]).specs()[1]
    fam = _Task(spec)
    assert (fam.name, fam.phase, fam.difficulty) == ("v1.a.02", "a", "medium")
    assert repr(fam) == "_Task('v1.a.02': a 2)"
    assert fam.truth("access", {}) == 2  # type: ignore[arg-type]
    seen: list[Any] = []
    fam2 = _Task(dataclasses.replace(spec, truth=lambda d, p: seen.append(d)))
    fam2.truth("acc", {})  # type: ignore[arg-type]
    assert seen == [{"loaded": "acc"}]
    assert fam.prompt(None, {"n": 5}) == "question 5"  # type: ignore[arg-type]  # no schema appended
    cmp = fam.comparator({})
    assert isinstance(cmp, _Check) and cmp.kind == "contains"
    assert PaperTask.view(fam, "raw") == "raw"  # type: ignore[arg-type]  # the default view is the access


def test_paper_suite_binds_the_protocol_choices() -> None:
    fams = [_Task(s) for s in ordered_specs("w", ("a", "b"), [_table("a", [1, 2, 3]), _table("b", [1, 2, 3])])]
    tools = [len]
    suite = paper_suite("w", lambda seed, opts: None, fams, tools, ("a", "b"), "intro", 1234)  # type: ignore[arg-type,return-value]
    assert (suite.world, suite.protocol) == ("w", "arise_v1")
    assert suite.affordances == AFFORDANCES == ("http_get",)
    assert suite.reference_tools() == [len] and suite.reference_tools() is not suite.reference_tools()
    assert (suite.intro, suite.max_observation_chars, suite.phase_order) == ("intro", 1234, ("a", "b"))
    assert [f.name for f in suite.families] == [f.name for f in fams]


def test_both_worlds_tables_are_complete_and_banded_as_in_the_paper() -> None:
    acme = acme_specs()
    assert len(acme) == 60 and acme[0].name == "v1.logs.01" and acme[-1].name == "v1.incidents.15"
    assert [s.difficulty for s in acme[:15]] == ["easy"] * 5 + ["medium"] * 5 + ["hard"] * 5
    dc = datacorp_specs()
    assert [s.name for s in dc[::10]] == ["v1.csv.01", "v1.validation.01", "v1.query.01"]
    assert [s.difficulty for s in dc[20:30]] == ["easy"] * 4 + ["medium"] * 4 + ["hard"] * 2
    assert issubclass(AcmePaperTask, PaperTask) and issubclass(DataCorpPaperTask, PaperTask)
