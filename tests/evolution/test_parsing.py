"""Tolerant parsing of model output: fences, wrapped lists, extra keys; failures are data."""

from __future__ import annotations

import pytest

from evolution.parsing import extract_json, identifier, parse_gaps, parse_tool


def test_extract_json_finds_fenced_and_bare_json():
    assert extract_json('Sure!\n```json\n{"a": [1, 2]}\n```\nDone.').value == {"a": [1, 2]}
    assert extract_json('The answer: [1, {"b": 2}] as requested').value == [1, {"b": 2}]
    nothing = extract_json("no json here {broken")
    assert nothing.value is None and nothing.problems == ["no JSON object or array found in the model output"]


@pytest.mark.parametrize(
    "text",
    [
        '[{"name": "parse acme log", "description": "parse lines"}]',
        '```json\n{"gaps": [{"name": "Parse-Acme-Log", "description": "parse lines"}]}\n```',
        '{"name": "parse_acme_log", "description": "parse lines"}',
    ],
)
def test_gaps_in_every_common_shape(text: str):
    parsed = parse_gaps(text)
    assert parsed.ok and [g.name for g in parsed.value] == ["parse_acme_log"]
    assert parsed.value[0].description == "parse lines"


def test_bad_gap_entries_are_skipped_and_noted():
    parsed = parse_gaps('{"gaps": ["oops", {"description": "no name"}, {"name": "ok_tool", "priority": 1}]}')
    assert [g.name for g in parsed.value] == ["ok_tool"]
    assert parsed.problems == [
        "gap #0 is a str, not an object; skipped",
        "gap #1 has no usable name; skipped",
        "gap 'ok_tool': ignored extra keys ['priority']",
    ]
    empty = parse_gaps("[]")
    assert empty.value is None and "no usable gap in the output" in empty.problems
    assert parse_gaps('"just a string"').value is None


CODE = 'def count_errors(text: str, service: str = \'\') -> int:\n    """Count errors."""\n    return 0\n'


def test_tool_from_json_with_fenced_code_and_test_list():
    text = (
        '{"name": "count_errors", "description": "Count ERROR lines", "parameters": {"type": "object"}, '
        '"code": "```python\\n' + CODE.replace("\n", "\\n").replace('"', '\\"') + '```", '
        '"tests": ["def test_a():\\n    assert count_errors(\'\') == 0"], "rationale": "because"}'
    )
    parsed = parse_tool(text)
    assert parsed.ok, parsed.problems
    draft = parsed.value
    assert draft.name == "count_errors" and draft.code.startswith("def count_errors")
    assert "def test_a" in draft.tests and draft.parameters == {"type": "object"}
    assert parsed.problems == ["ignored extra keys ['rationale']"]


def test_tool_from_markdown_blocks_derives_the_schema():
    tests = "def test_zero():\n    assert count_errors('') == 0\n"
    text = f"Here you go:\n```python\n{CODE}```\nAnd tests:\n```python\n{tests}```"
    parsed = parse_tool(text)
    draft = parsed.value
    assert draft.name == "count_errors" and draft.description == "Count errors."
    assert draft.parameters == {
        "type": "object",
        "properties": {"text": {"type": "string"}, "service": {"type": "string"}},
        "required": ["text"],
    }
    assert "def test_zero" in draft.tests and "def test_zero" not in draft.code


def test_unusable_tool_output_is_a_parse_failure_not_an_exception():
    assert parse_tool("I cannot help with that.").value is None
    broken = parse_tool('{"name": "x", "code": "def x(:\\n  pass"}')
    assert broken.value is None and "does not parse" in broken.problems[-1]
    no_fn = parse_tool('{"name": "x", "code": "x = 1"}')
    assert no_fn.value is None and "defines no top-level function" in no_fn.problems[-1]
    renamed = parse_tool('{"name": "wanted", "code": "def other():\\n    return 1\\n", "parameters": {}}')
    assert renamed.value.name == "other" and "named 'wanted'" in renamed.problems[0]


def test_identifier():
    assert identifier("Parse ACME log!") == "parse_acme_log"
    assert identifier("3rd-party") == "tool_3rd_party"
    assert identifier("  ") is None and identifier(None) is None


def test_hostile_model_output_is_a_problem_not_an_exception():
    """Red-team round 7: each of these escaped Evolver.observe and ended the job."""
    import json as _json

    from evolution.parsing import ToolDraft
    from evolution.pipeline import _schema_problem

    draft = parse_tool(
        '{"name": "count_files", "description": "d \\ud800", "parameters": {"type": "object", "properties": '
        '{"prefix": {"type": "string"}}}, "code": "def count_files(prefix):\\n    return 1\\n", '
        '"tests": "def test_a():\\n    assert count_files(\'x\') == 1  # \\ud800\\n"}'
    )
    assert draft.value is not None
    _json.dumps([draft.value.tests, draft.value.description], ensure_ascii=False).encode("utf-8")  # raised before
    assert "\\ud800" in draft.value.tests
    deep = extract_json("[" * 5000)
    assert deep.value is None and deep.problems == ["the JSON in the model output nests too deeply to read"]
    assert parse_gaps('{"gaps": ' + "[" * 5000).value is None
    bad = ToolDraft("count_files", "d", {"type": "object", "properties": {"prefix": {}}, "required": [["prefix"]]},
                    "def count_files(prefix):\n    return 1\n", "")  # fmt: skip
    assert _schema_problem(bad) == "parameters.required must be a list of argument names"
