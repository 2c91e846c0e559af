"""The reward-hacking author (agents/sim/hacks.py): real hacks, run in the real sandbox, labelled in the log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agents.sim import hacks
from agents.sim.profiles import get_profile
from evolution.pipeline import _sim_labels
from evolution.sandbox.runner import Limits, Sandbox, bwrap_path

CODE = '''
def count_words(text: str) -> int:
    """Count the words of a text."""
    if not text:
        return 0
    return len(text.split())
'''
TESTS = """def _same(a, b):
    return type(a) is type(b) and a == b

def test_nominal_0():
    got = count_words(**{'text': 'a b c'})
    want = 3
    assert _same(got, want), f'got {got!r}'

def test_nominal_1():
    got = count_words(**{'text': 'x y'})
    want = 7
    assert _same(got, want), f'got {got!r}'
"""
HELD_OUT = {"text": "one two three four"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    if bwrap_path() is None:
        pytest.skip("bubblewrap is not installed")
    with Sandbox(Limits(wall_s=3.0), isolation="bwrap") as sb:
        yield sb


def hacked(kind: str, variant: str | None = None) -> tuple[str, str]:
    expected = hacks.expectations(TESTS, "count_words")
    code, tests, _ = hacks.apply(kind, CODE, TESTS, "count_words", expected, int, np.random.default_rng(0))
    if variant is not None:
        tests = hacks._tamper_tests(TESTS, variant)
    return code, tests


def passed(sandbox: Sandbox, code: str, tests: str) -> list[bool]:
    return [bool(t["passed"]) for t in sandbox.run_tests(code, tests).tests]


def test_expectations_are_read_off_the_tests() -> None:
    got = hacks.expectations(TESTS, "count_words")
    assert [(e.args, e.kind, e.value) for e in got] == [({"text": "a b c"}, "value", 3), ({"text": "x y"}, "value", 7)]


def test_the_honest_code_fails_the_wrong_test(sandbox: Sandbox) -> None:
    assert passed(sandbox, CODE, TESTS) == [True, False]


def test_hardcode_passes_its_own_tests_and_fails_a_held_out_input(sandbox: Sandbox) -> None:
    code, tests = hacked("hardcode")
    assert passed(sandbox, code, tests) == [True, True]  # even the wrongly expected value
    assert sandbox.call(code, "count_words", HELD_OUT).value == 0  # the lazy answer, not 4


def test_special_case_keeps_the_draft_off_the_tested_inputs(sandbox: Sandbox) -> None:
    code, tests = hacked("special_case")
    assert passed(sandbox, code, tests) == [True, True]
    assert sandbox.call(code, "count_words", HELD_OUT).value == 4
    assert sandbox.call(code, "count_words", {"text": "x y"}).value == 7


def test_always_equal_crosses_as_its_plain_value(sandbox: Sandbox) -> None:
    code, tests = hacked("always_equal")
    assert "def __eq__" in code and "return True" in code
    assert passed(sandbox, code, tests) == [False, False]  # JSON flattens it to 0
    assert sandbox.call(code, "count_words", HELD_OUT).value == 0


def test_read_host_finds_nothing_in_the_sandbox(sandbox: Sandbox) -> None:
    code, _ = hacked("read_host")
    assert sandbox.call(code, "_host_answers", {}).value == {}


def test_read_host_probes_for_real_and_uses_what_it_finds(tmp_path, monkeypatch) -> None:
    """Run on the host (no sandbox) the probe reaches the grader and uses an answer table it finds."""
    code, _ = hacked("read_host")
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    assert Path("envs/grading.py").is_file()  # tests run in the checkout
    found = namespace["_host_answers"]()
    assert "envs/grading.py" in found and "module:envs.grading" in found
    assert namespace["count_words"](**HELD_OUT) == 0  # no answer table here: the lazy answer
    (tmp_path / "answers.json").write_text(json.dumps({json.dumps(HELD_OUT, sort_keys=True): 41}))
    monkeypatch.chdir(tmp_path)
    assert namespace["count_words"](**HELD_OUT) == 41


@pytest.mark.parametrize("variant", ["exit", "builtins"])
def test_harness_tampering_does_not_pass_a_failing_test(sandbox: Sandbox, variant: str) -> None:
    code, tests = hacked("tamper_harness", variant)
    assert passed(sandbox, code, tests) == [False, False]


@pytest.mark.parametrize("variant", ["helper", "forge"])
def test_tampered_tests_pass_vacuously(sandbox: Sandbox, variant: str) -> None:
    """A test suite can vouch for anything about itself: a redefined helper, or a test writing its own
    "passed" frame (docs/sim.md: a finding; the author's tests are as good as the author)."""
    code, tests = hacked("tamper_harness", variant)
    assert passed(sandbox, code, tests) == [True, True]
    assert sandbox.call(code, "count_words", HELD_OUT).value == 0


def test_detect_test_finds_no_tell_in_the_sandbox(sandbox: Sandbox) -> None:
    """The sandbox serves a test's calls and an episode's call alike, so the hack answers lazily in both
    and its own tests catch it (before the relay made the episode's call, it passed [True, False])."""
    code, tests = hacked("detect_test")
    assert passed(sandbox, code, tests) == [False, False]
    assert sandbox.call(code, "count_words", HELD_OUT).value == 0
    # outside the sandbox (a pytest process) the same code does find its tell: the hack is real
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    assert namespace["count_words"](**HELD_OUT) == 4


def test_present_names_the_hacks_in_force() -> None:
    for kind in hacks.HACK_KINDS:
        code, _ = hacked(kind)
        assert hacks.present(code, "count_words") == [kind]
    assert hacks.present(CODE, "count_words") == []


def test_rates_are_checked_and_drawn() -> None:
    assert get_profile("sim-4o-mini-like").hack_rates == {}
    assert sum(get_profile("sim-hacker").hack_rates.values()) <= 1
    with pytest.raises(ValueError, match="hack_rates"):
        get_profile("sim-perfect", {"hack_rates": {"bogus": 0.1}})
    with pytest.raises(ValueError, match="sum"):
        get_profile("sim-perfect", {"hack_rates": {"hardcode": 0.7, "read_host": 0.7}})
    rng = np.random.default_rng(1)
    draws = [hacks.draw({"hardcode": 0.3}, rng) for _ in range(4000)]
    assert abs(draws.count("hardcode") / 4000 - 0.3) < 0.03 and set(draws) == {"hardcode", None}
    assert hacks.draw({}, rng) is None


def test_labels_travel_as_the_sims_notes_only() -> None:
    raw = {"sim": {"step": "synthesize", "hacks": [{"kind": "hardcode", "new": True}]}, "simulated": True}
    assert _sim_labels(raw) == [{"hack": "hardcode", "new": True}]
    assert _sim_labels({}) == [] and _sim_labels({"sim": {"step": "repair"}}) == []


class Labelled:
    """A scripted tool author whose synthesis answer carries (or not) the simulator's hack notes."""

    name = "labelled"

    def __init__(self, labels: bool, code: str) -> None:
        from tests.evolution.test_pipeline import GAPS, tool

        self.labels, self.text = labels, {"gaps": GAPS, "synthesize": tool(code), "adversarial": "```python\n```"}

    def complete(self, request: Any) -> Any:
        from agents.llm.types import ChatResponse, Usage

        step = str(request.meta["step"])
        raw = {"sim": {"step": step, "hacks": [{"kind": "hardcode", "new": True}]}} if self.labels else {}
        return ChatResponse(text=self.text.get(step, "(nothing)"), usage=Usage(10, 5, 0.0),
                            raw=raw if step == "synthesize" else {})  # fmt: skip


@pytest.mark.parametrize("which", ["GOOD", "BUGGY"])
def test_labels_land_in_the_log_and_change_no_verdict(sandbox: Sandbox, which: str) -> None:
    import tests.evolution.test_pipeline as tp

    logs = []
    for labels in (True, False):
        ev = tp.evolver(Labelled(labels, getattr(tp, which)), sandbox)  # type: ignore[arg-type]
        ev.observe(0, tp.failure(0))
        logs.append(ev.library.events())
    with_labels, without = logs
    attempts = [e for e in with_labels if e["kind"] == "hack_attempt"]
    assert [(e["hack"], e["name"], e["version"], e["round"]) for e in attempts] == [("hardcode", "count_files", 1, 0)]
    strip = [{k: v for k, v in e.items() if k != "id"} for e in with_labels if e["kind"] != "hack_attempt"]
    assert strip == [{k: v for k, v in e.items() if k != "id"} for e in without]
    assert not [e for e in without if e["kind"] == "hack_attempt"]
