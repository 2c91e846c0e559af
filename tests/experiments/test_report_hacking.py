"""Attribution of labelled reward-hack attempts (experiments/hacking.py) and the report section."""

from __future__ import annotations

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
