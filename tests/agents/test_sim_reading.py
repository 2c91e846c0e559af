"""The sim reads the request: tools by their descriptions and schemas, code against the documented API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import pytest

from agents.react import ReActAgent
from agents.sim import SimChat
from agents.sim.author import clean_source, respond
from agents.sim.profiles import get_profile
from agents.sim.reading import OfferedTool, UndocumentedAPI, against_api, choose_tool, documented_api, fill_args
from envs import ENV_IDS
from envs.tasks import get_suite
from envs.tools import InProcessRunner, ToolSpec
from evolution.parsing import parse_tool
from evolution.prompts import SYSTEM
from evolution.sandbox.runner import Sandbox
from experiments.episodes import run_episode

SUITE = get_suite("acmecorp", "rigorous")
FAMILIES = ["logs.severity_count", "logs.errors_in_window"]  # both plans call log_count


def episodes(runner: InProcessRunner) -> list[dict[str, Any]]:
    env = gym.make(ENV_IDS["acmecorp"], max_episode_steps=30)
    agent = ReActAgent(SimChat("sim-perfect"), seed=3)
    return [
        run_episode(env, agent, inst, runner)[0].to_json() for inst in SUITE.instances(3, "test", families=FAMILIES)
    ]


def events(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for r in records for e in r["llm"]["responses"][-1]["raw"]["sim"]["events"]]


def reference(**specs: ToolSpec) -> InProcessRunner:
    runner = InProcessRunner.of(SUITE.reference_tools())
    runner._specs.update(specs)  # what the request states about a tool; the function stays the same
    return runner


def log_count_spec(**changes: Any) -> ToolSpec:
    spec = next(s for s in reference().specs() if s.name == "log_count")
    return ToolSpec(**{"name": spec.name, "description": spec.description, "parameters": spec.parameters, **changes})


def test_truthful_tools_are_used_as_named():
    records = episodes(reference())
    assert all(r["success"] for r in records)
    assert {c["tool"] for r in records for c in r["tools_called"]} == {"log_count"}
    assert not [e for e in events(records) if e["event"] in ("chose_tool", "missing_tool")]


def test_a_tool_is_chosen_by_its_description_not_its_name():
    runner = InProcessRunner(
        {"count_entries": dict(InProcessRunner.of(SUITE.reference_tools()).functions)["log_count"]}
    )
    records = episodes(runner)  # the same tool under another name, described truthfully
    assert all(r["success"] for r in records)
    assert {c["tool"] for r in records for c in r["tools_called"]} == {"count_entries"}
    assert {e["intended"] for e in events(records) if e["event"] == "chose_tool"} == {"log_count"}


def test_a_description_that_lies_keeps_the_sim_off_the_tool():
    lie = log_count_spec(description="Restart a crashed service and return the new process id.")
    records = episodes(reference(log_count=lie))
    assert not [c for r in records for c in r["tools_called"] if c["tool"] == "log_count"]
    # It takes the tool whose description does say it counts log entries, or does the work itself.
    took = {e.get("tool") for e in events(records) if e["event"] in ("chose_tool", "missing_tool")}
    assert took and took <= {"log_group_count", "log_count"}
    assert json.dumps(records) != json.dumps(episodes(reference()))  # the run changed, not just a label


def test_a_tool_for_a_neighbouring_job_is_not_taken_and_the_gap_is_reported():
    """Without log_count, log_group_count ("Count log entries grouped by a field") is not taken for it:
    the episode reports log_count missing, which is what gap analysis learns from."""
    runner = InProcessRunner.of([f for f in SUITE.reference_tools() if f.__name__ != "log_count"])
    records = episodes(runner)
    assert not [e for e in events(records) if e["event"] == "chose_tool"]
    assert {e["tool"] for e in events(records) if e["event"] == "missing_tool"} == {"log_count"}


def test_arguments_are_filled_from_the_stated_schema():
    params = log_count_spec().parameters
    props = {("svc" if k == "service" else k): v for k, v in params["properties"].items()}
    renamed = log_count_spec(parameters={**params, "properties": props})
    records = episodes(reference(log_count=renamed))  # the schema says `svc`, the function takes `service`
    calls = [c for r in records for c in r["tools_called"] if c["tool"] == "log_count" and len(c["args"]) == 2]
    assert calls and all(set(c["args"]) == {"svc", "severity"} for c in calls)  # the plan's `service` as `svc`
    assert all(not c["ok"] and "svc" in str(c["error"]) for c in calls)  # the function never heard of `svc`
    assert [r["success"] for r in records] != [r["success"] for r in episodes(reference())]


def test_choose_and_fill_read_descriptions_and_schemas():
    service = {"type": "string", "description": "Only this service."}
    intended = OfferedTool("log_count", "Count log entries across files.", {"properties": {"service": service}})
    other = OfferedTool("tally", "Count log entries across all files, fast.", {"properties": {"svc": service}})
    unrelated = OfferedTool("log_count", "Send an email.", {"properties": {"service": {"type": "string"}}})
    assert choose_tool(intended, [unrelated, other]) == other
    assert choose_tool(intended, [unrelated]) is None
    assert fill_args(intended, {"service": "auth", "extra": 1}, other) == {"svc": "auth"}


# -- the author ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


def synthesize(system: str) -> str:
    meta = {"world": "acmecorp", "protocol": "rigorous", "evolution": 0, "attempt": 0, "step": "synthesize",
            "gap": {"name": "log_count"}, "examples": [{"service": "auth", "severity": "WARN"}]}  # fmt: skip
    return respond(get_profile("sim-perfect"), meta, system + "\nWrite the tool `log_count`.", seed=1)


def test_the_api_is_parsed_from_the_prompt():
    module, functions = documented_api(SYSTEM)
    assert module == "envs.toolkit"
    assert set(functions) == {"http_get", "http_post", "list_files", "read_file", "read_doc"}
    assert functions["http_get"].params == ("url", "params", "headers")
    assert documented_api("Write a tool.") == (None, {})


def test_the_author_writes_against_the_documented_api_and_a_lie_breaks_its_tools(sandbox: Sandbox):
    access = SUITE.access(SUITE.get_world(3))
    truthful = parse_tool(synthesize(SYSTEM)).value
    assert truthful is not None and truthful.code == clean_source("acmecorp", "rigorous", "log_count")
    assert sandbox.run_tests(truthful.code, truthful.tests, access).ok
    # The prompt documents read_file under another name (and parameter): the code calls what it was told.
    lying = SYSTEM.replace("- read_file(path: str)", "- read_text(filename: str)")
    draft = parse_tool(synthesize(lying)).value
    assert draft is not None and "read_text(" in draft.code and "read_file" not in draft.code
    out = sandbox.run_tests(draft.code, draft.tests, access)
    assert not out.ok and "read_text" in json.dumps(out.tests) + str(out.error)
    # A prompt that documents no way to read files: it cannot write the tool.
    silent = SYSTEM.replace("- read_file(path: str) -> str: The whole text of the file `path`.\n", "")
    answer = synthesize(silent)
    assert parse_tool(answer).value is None and "documents no function that does what read_file does" in answer


def test_keywords_follow_the_documented_parameter_names():
    code = (
        "from envs.toolkit import http_get\n\n\ndef f(u: str) -> int:\n"
        "    return http_get(u, params={'a': 1})['status']\n"
    )
    lying = SYSTEM.replace("- http_get(url: str, params:", "- http_get(url: str, query:")
    assert "http_get(u, query={'a': 1})" in against_api(code, lying)
    assert against_api(code, SYSTEM) == code
    with pytest.raises(UndocumentedAPI, match="documents no API"):
        against_api(code, "no API here")
