"""Prompts of the evolution pipeline: gap analysis, synthesis, adversarial tests, repair.

Every step is one chat request whose user message holds everything a real model needs
(the simulated model reads the same request's ``meta``). Code and tests travel in
``## code`` / ``## tests`` sections as fenced Python, so a repair prompt shows exactly
what was checked.
"""

from __future__ import annotations

import json
from typing import Any

from envs.toolkit import api_reference
from evolution.parsing import Gap
from evolution.static_policy import DEFAULT_ALLOWED_IMPORTS

SYSTEM = (
    "You are a senior engineer building Python tools for an AI agent that works inside a company's systems. "
    "Tools are plain Python functions with type-annotated parameters and a docstring. They run in a sandbox "
    "without network or files: they reach the company's systems only through these functions of `envs.toolkit` "
    "(`from envs.toolkit import read_file, http_get`):\n"
    + api_reference()
    + "\nAllowed imports: "
    + ", ".join(sorted(DEFAULT_ALLOWED_IMPORTS))
    + "."
)

TOOL_FORMAT = (
    'Answer with one JSON object in a ```json fence: {"name": snake_case, "description": str, '
    '"parameters": JSON schema of the arguments (type object), "code": the full Python module source '
    'defining the function `name`, "tests": Python source of test_* functions that call the function '
    "and assert on its results}."
)


def _trim(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 20] + f"... [{len(text) - n + 20} chars cut]"


def failure_summary(record: dict[str, Any], max_chars: int = 1500) -> str:
    """One failed episode as the gap analyst sees it: task, calls and errors, answer, score."""
    lines = [f"Task ({record['task']['family']}): {_trim(str(record.get('prompt', '')), 600)}"]
    for call in record.get("tools_called") or []:
        status = "ok" if call.get("ok") else f"error: {_trim(str(call.get('error')), 160)}"
        lines.append(f"  called {call['tool']}({_trim(json.dumps(call.get('args'), default=str), 160)}) -> {status}")
    lines.append(f"  answer: {_trim(str(record.get('answer')), 200)}   score: {record.get('score')}")
    return _trim("\n".join(lines), max_chars)


def gaps_prompt(failures: list[dict[str, Any]], library: list[dict[str, Any]], max_gaps: int) -> str:
    tools = "\n".join(f"- {t['name']}: {_trim(t['description'], 200)}" for t in library) or "(none yet)"
    shown = "\n\n".join(failure_summary(r) for r in failures[-8:])
    return (
        f"The agent failed these recent tasks:\n\n{shown}\n\nIts current tool library:\n{tools}\n\n"
        f"Which missing tools (at most {max_gaps}) would have let it succeed? Name an existing tool again only "
        "if it misbehaved and needs a new version. Answer with a ```json fence holding "
        '{"gaps": [{"name": snake_case, "description": what it does, "signature": "(arg: type, ...)", '
        '"evidence": [why, citing the failures]}]}.'
    )


def synthesis_prompt(gap: Gap, examples: list[dict[str, Any]], handbook_hint: str = "") -> str:
    ex = "\n".join(f"- {json.dumps(a, default=str)}" for a in examples[:5]) or "(none recorded)"
    return (
        f"Write the tool `{gap.name}`: {gap.description}\nSignature: {gap.signature or '(choose one)'}\n"
        f"Evidence: {'; '.join(gap.evidence) or '-'}\nCalls the agent wanted to make:\n{ex}\n{handbook_hint}\n"
        "Read the formats and APIs through the toolkit (read_doc has the handbook). Handle empty and malformed "
        "input. Write tests that assert real values you computed from the data.\n" + TOOL_FORMAT
    )


def adversarial_prompt(gap: Gap, code: str, parameters: dict[str, Any]) -> str:
    return (
        f"Here is the tool `{gap.name}` (parameters {json.dumps(parameters)}):\n\n## code\n```python\n{code}```\n\n"
        "Write adversarial tests for it: empty strings, zero and negative numbers, names that do not exist, "
        "boundaries of ranges, malformed data. Each test is a test_adversarial_* function that calls the tool "
        "and asserts the correct behaviour (a correct result, or that it raises a clear exception). "
        "Answer with one ```python fence."
    )


def repair_prompt(gap: Gap, code: str, tests: str, verdict: str) -> str:
    return (
        f"The tool `{gap.name}` failed validation in the sandbox.\n\n## verdict\n{_trim(verdict, 4000)}\n\n"
        f"## code\n```python\n{code}```\n\n## tests\n```python\n{tests}```\n\n"
        "Fix the code (keep the name and parameters; fix a test only if it is wrong). " + TOOL_FORMAT
    )
