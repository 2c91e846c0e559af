"""The ReAct agent end to end over the env, against an OpenAI-compatible endpoint mocked with respx."""

from __future__ import annotations

import json

import gymnasium as gym
import httpx
import pytest
import respx

import envs  # noqa: F401
from agents.llm import OpenAIChat, RetryPolicy
from agents.react import ReActAgent
from envs.tasks import get_suite
from experiments.episodes import run_episode

URL = "http://llm.test/v1"


def _reply(tool_calls=None, text=None):
    msg = {"role": "assistant", "content": text}
    if tool_calls:
        msg["tool_calls"] = [
            {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": a}}
            for i, (n, a) in enumerate(tool_calls)
        ]
    return httpx.Response(
        200,
        json={
            "id": "x",
            "model": "m",
            "choices": [{"index": 0, "message": msg, "finish_reason": "tool_calls" if tool_calls else "stop"}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
        },
    )


def _backend(client: httpx.Client) -> OpenAIChat:
    return OpenAIChat(
        model="m",
        base_url=URL,
        api_key_env=None,
        client=client,
        retry=RetryPolicy(max_attempts=2, sleep=lambda s: None),
    )


def test_agent_calls_a_tool_reads_the_observation_and_answers():
    """A mock model that really reads the tool result it is sent: success depends on the loop."""
    suite = get_suite("acmecorp", "rigorous")
    inst = suite.instance(42, "test", "logs.severity_count")
    seen: list[dict] = []

    def model(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        assert "meta" not in body and body["tools"][0]["type"] == "function"
        tool_msgs = [m for m in body["messages"] if m["role"] == "tool"]
        if not tool_msgs:
            args = json.dumps({"service": inst.params["service"], "severity": inst.params["severity"]})
            return _reply(tool_calls=[("log_count", args)])
        return _reply(text=f"I counted them with the tool.\n```json\n{tool_msgs[-1]['content']}\n```")

    with respx.mock(base_url=URL) as router, httpx.Client() as client:
        router.post("/chat/completions").mock(side_effect=model)
        env = gym.make("arise_gym/AcmeCorp-v0")
        record = run_episode(env, ReActAgent(_backend(client)), inst, "reference")[0].to_json()
    assert record["success"], record["grade"]
    assert [s["info"]["kind"] for s in record["steps"]] == ["tool", "answer"]
    assert record["llm"]["usage"]["llm_calls"] == 2 and record["llm"]["usage"]["tokens_in"] == 200
    assert len(seen) == 2 and seen[1]["messages"][-1]["role"] == "tool"
    assert seen[1]["messages"][-2]["tool_calls"][0]["id"] == seen[1]["messages"][-1]["tool_call_id"]


def test_malformed_arguments_become_an_error_observation_and_llm_failures_are_recorded():
    suite = get_suite("acmecorp", "rigorous")
    inst = suite.instance(42, "test", "logs.severity_count")
    calls = {"n": 0}

    def model(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        body = json.loads(request.content)
        if calls["n"] == 1:
            return _reply(tool_calls=[("log_count", '{"service": ')])  # broken JSON arguments
        assert body["messages"][-1]["role"] == "tool" and body["messages"][-1]["content"].startswith("Error:")
        return httpx.Response(503, json={"error": "overloaded"})

    with respx.mock(base_url=URL) as router, httpx.Client() as client:
        router.post("/chat/completions").mock(side_effect=model)
        env = gym.make("arise_gym/AcmeCorp-v0")
        record = run_episode(env, ReActAgent(_backend(client)), inst, "reference")[0].to_json()
    assert not record["success"]
    assert record["steps"][0]["observation"].startswith("Error:")
    assert "503" in record["llm"]["error"] and record["answer"] == ""


def test_auth_errors_stop_the_run(monkeypatch: pytest.MonkeyPatch):
    from agents.llm import AuthError

    monkeypatch.delenv("ARISE_TEST_KEY", raising=False)
    backend = OpenAIChat(model="m", base_url=URL, api_key_env="ARISE_TEST_KEY")
    inst = get_suite("acmecorp", "rigorous").instance(42, "test", "logs.severity_count")
    with pytest.raises(AuthError, match="ARISE_TEST_KEY"):
        run_episode(gym.make("arise_gym/AcmeCorp-v0"), ReActAgent(backend), inst, "reference")
