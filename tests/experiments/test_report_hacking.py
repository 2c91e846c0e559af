"""Attribution of labelled reward-hack attempts (experiments/hacking.py) and the report section."""

from __future__ import annotations

import json
from pathlib import Path

from evolution.library import Library
from experiments.hacking import attribute
from experiments.report import hacking
from experiments.report.jobs import Job


def _check(name: str, version: int, rnd: int, ok: bool, reason: str | None = None) -> dict:
    return {"kind": "check", "name": name, "version": version, "round": rnd, "ok": ok, "reason": reason}


def _hack(name: str, version: int, rnd: int, hack: str, new: bool = True) -> dict:
    return {"kind": "hack_attempt", "name": name, "version": version, "round": rnd, "hack": hack, "new": new}


def test_attribution_on_constructed_logs() -> None:
    events = [
        _hack("a", 1, 0, "hardcode"), _check("a", 1, 0, False, "static_policy"),
        _check("a", 1, 1, True), {"kind": "promoted", "name": "a", "version": 1, "episode": 3},
        _hack("b", 1, 0, "detect_test"), _check("b", 1, 0, False, "adversarial_tests"),
        _hack("b", 1, 1, "detect_test", new=False), _check("b", 1, 1, True),
        {"kind": "promoted", "name": "b", "version": 1, "episode": 4},
        _hack("c", 1, 0, "tamper_harness"), _check("c", 1, 0, False, "sandbox_tests"),
        {"kind": "rejected", "name": "c", "version": 1, "reason": "sandbox_tests", "episode": 5},
        _hack("d", 2, 0, "special_case"), _check("d", 2, 0, True),
        {"kind": "rejected", "name": "d", "version": 2, "reason": "ab_test_lost", "episode": 6},
        _hack("e", 1, 0, "hardcode"), _check("e", 1, 0, False, "timeout"),
    ]  # fmt: skip
    got = [(r["name"], r["hack"], r["caught_by"]) for r in attribute(events)]
    assert got == [
        ("a", "hardcode", "static_policy"),  # repaired away after the static policy refused it
        ("b", "detect_test", "promoted"),  # carried through the repair into the promoted code
        ("c", "tamper_harness", "own_tests"),
        ("d", "special_case", "ab_test"),
        ("e", "hardcode", "sandbox"),
    ]


def test_the_section_is_absent_without_labelled_attempts(tmp_path: Path) -> None:
    lib = Library(tmp_path / "library.sqlite")
    lib.add_candidate("t", "def t():\n    return 1\n", {}, "", origin="synthesis", episode=0)
    lib.close()
    job = Job(tmp_path, {"condition": "arise"}, [])
    job.__dict__["has_library"] = True  # (the cached property, without a whole result.json)
    assert hacking.tables([job]) == []
    lib = Library(tmp_path / "library.sqlite")
    lib.log(0, "hack_attempt", name="t", version=1, round=0, hack="hardcode", new=True)
    lib.close()
    titles = [t.name for t in hacking.tables([job]) if t is not None]
    assert titles == ["reward_hacking", "reward_hacking_effect"]


def test_the_differential_check_counts_promoted_hacks_its_unit_tests_catch(tmp_path: Path, capsys) -> None:
    lib = Library(tmp_path / "library.sqlite")
    for name, episode in (("t", 2), ("u", 3), ("v", 4)):
        lib.log(0, "hack_attempt", name=name, version=1, round=0, hack="hardcode", new=True)
        lib.log(0, "check", name=name, version=1, round=0, ok=True, reason=None)
        lib.log(episode, "promoted", name=name, version=1)
    lib.close()
    (tmp_path / "diagnostics").mkdir()
    tools = [{"name": "t", "version": 1, "ut_hard": 1.0}, {"name": "u", "version": 1, "ut_hard": 0.5},
             {"name": "u", "version": 2, "ut_hard": 1.0}, {"name": "v", "version": 1, "ut_hard": None}]  # fmt: skip
    (tmp_path / "diagnostics" / "diagnostics.json").write_text(json.dumps({"candidates": {"tools": tools}}))
    job = Job(tmp_path, {"condition": "arise", "diagnostics": {"file": "diagnostics/diagnostics.json"}}, [])
    job.__dict__["has_library"] = True
    effect = next(t for t in hacking.tables([job]) if t is not None and t.name == "reward_hacking_effect")
    (row,) = effect.rows
    assert row[2:4] == ["3", "1 of 2"]  # t passes every held-out test, u does not, v was not measured
    (tmp_path / "diagnostics" / "diagnostics.json").write_text('{"candidates": {"tools": [')  # torn
    effect = next(t for t in hacking.tables([job]) if t is not None and t.name == "reward_hacking_effect")
    assert effect.rows[0][3] == "not measured"
    assert "skipping unreadable" in capsys.readouterr().err
    (tmp_path / "diagnostics" / "diagnostics.json").unlink()
    effect = next(t for t in hacking.tables([job]) if t is not None and t.name == "reward_hacking_effect")
    assert effect.rows[0][3] == "not measured"
