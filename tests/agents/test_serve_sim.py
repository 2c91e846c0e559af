"""The sim behind its OpenAI-compatible loopback server: the official client and ours both work."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import httpx
import openai
import pytest

from agents.llm import OpenAIChat
from agents.react import ReActAgent
from agents.serve_sim import SimServer
from agents.sim import SimChat
from envs import ENV_IDS
from envs.tasks import get_suite
from experiments.episodes import run_episode


@pytest.fixture(scope="module")
def server() -> Iterator[SimServer]:
    with SimServer("127.0.0.1", 0) as srv:
        yield srv


def _instance(family: str, seed: int = 2) -> Any:
    return get_suite("acmecorp").instances(seed, "test", families=[family])[0]


def _meta(inst: Any, turn: int = 0) -> dict[str, Any]:
    return {
        "world": inst.world, "protocol": inst.protocol, "family": inst.family, "phase": inst.phase,
        "params": inst.params, "world_seed": inst.world_seed, "options": inst.options, "max_steps": 30, "turn": turn,
    }  # fmt: skip


def test_official_openai_client_gets_tool_calls_then_an_answer(server: SimServer):
    client = openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)
    assert "sim-sonnet-like" in {m.id for m in client.models.list().data}
    inst = _instance("metrics.current_value")
    env = gym.make(ENV_IDS["acmecorp"], max_episode_steps=30)
    obs, info = env.reset(options={"instance": inst, "tools": "reference"})
    tools = [{"type": "function", "function": t} for t in info["tools"]]
    messages: list[dict[str, Any]] = [{"role": "user", "content": obs}]
    for turn in range(10):
        resp = client.chat.completions.create(
            model="sim-perfect", messages=messages, tools=tools, seed=2,  # type: ignore[arg-type]
            extra_body={"arise_meta": _meta(inst, turn)},
        )  # fmt: skip
        msg = resp.choices[0].message
        assert resp.usage is not None and resp.usage.prompt_tokens > 0
        if not msg.tool_calls:
            break
        call = msg.tool_calls[0]
        assert resp.choices[0].finish_reason == "tool_calls" and call.function.name == "metrics_get"
        messages.append(msg.model_dump(exclude_none=True))
        obs, *_ = env.step(json.dumps({"tool": call.function.name, "args": json.loads(call.function.arguments)}))
        messages.append({"role": "tool", "tool_call_id": call.id, "content": obs})
    assert msg.content is not None
    _, reward, terminated, _, info = env.step(json.dumps({"answer": json.loads(msg.content)}))
    assert terminated and info["success"] and reward == 1.0


def test_official_client_sees_openai_shaped_errors(server: SimServer):
    client = openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)
    with pytest.raises(openai.NotFoundError, match="model 'gpt-9' not found; available"):
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match="context_length_exceeded"):
        client.chat.completions.create(model="sim-4o-mini-like", messages=[{"role": "user", "content": "z" * 600_000}])
    bad = httpx.post(server.base_url + "/chat/completions", content=b"{not json", timeout=5)
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]["message"]
    bad = httpx.post(server.base_url + "/chat/completions", json={"model": "sim-perfect"}, timeout=5)
    assert bad.status_code == 400 and "'messages' list" in bad.json()["error"]["message"]


@pytest.mark.parametrize("family", ["config.effective_replicas", "logs.top_error_service"])
def test_our_openai_client_over_the_server_plays_exactly_like_the_in_process_sim(server: SimServer, family: str):
    inst = _instance(family, seed=4)
    env = gym.make(ENV_IDS["acmecorp"], max_episode_steps=30)
    remote = OpenAIChat(model="sim-4o-mini-like", base_url=server.base_url, api_key_env=None, send_meta=True)
    over_http = run_episode(env, ReActAgent(remote, seed=4), inst, "reference")[0].to_json()
    in_process = run_episode(env, ReActAgent(SimChat("sim-4o-mini-like"), seed=4), inst, "reference")[0].to_json()
    assert over_http["steps"] == in_process["steps"] and over_http["grade"] == in_process["grade"]
    usage_http, usage_local = over_http["llm"]["usage"], in_process["llm"]["usage"]
    assert usage_http["llm_calls"] == usage_local["llm_calls"] and usage_http["tokens_out"] == usage_local["tokens_out"]
