"""Anthropic Messages adapter: headers, system prompt, tool_use / tool_result mapping."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from agents.llm import (
    AnthropicChat,
    ChatRequest,
    LLMError,
    MalformedResponseError,
    PriceTable,
    assistant_message,
    tool_message,
)
from tests.agents.conftest import FAKE_KEY

BASE = "https://anthropic.test"
FINAL = {
    "content": [{"type": "text", "text": "done"}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 5, "output_tokens": 1},
}
TOOLS = [{"name": "http_get", "description": "GET a URL.", "parameters": {"type": "object", "properties": {}}}]


def backend(key_env: str, policy) -> AnthropicChat:
    return AnthropicChat(
        model="claude-test",
        base_url=BASE,
        api_key_env=key_env,
        client=httpx.Client(),
        retry=policy,
        prices=PriceTable.from_config({"claude-test": {"input": 3.0, "output": 15.0}}),
    )


def test_tool_use_round_trip(fake_key, policy):
    first = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_1", "name": "http_get", "input": {"url": "http://m/x"}},
            {"type": "tool_use", "id": "toolu_2", "name": "http_get", "input": "oops"},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 200, "output_tokens": 20},
    }
    final = {"content": [{"type": "text", "text": "17"}], "stop_reason": "end_turn", "usage": {"input_tokens": 300}}
    messages = [
        {"role": "system", "content": "You are an agent."},
        {"role": "user", "content": "How many?"},
    ]
    with respx.mock:
        route = respx.post(f"{BASE}/v1/messages")
        route.side_effect = [httpx.Response(200, json=first), httpx.Response(200, json=final)]
        client = backend(fake_key, policy)
        resp = client.complete(ChatRequest(model="", messages=messages, tools=TOOLS, temperature=0.2, seed=1))
        ok, bad = resp.tool_calls
        assert (ok.id, ok.name, ok.arguments, ok.error) == ("toolu_1", "http_get", {"url": "http://m/x"}, None)
        assert bad.error and bad.arguments == {}
        assert resp.text == "Let me look." and resp.finish_reason == "tool_use"
        assert resp.usage.cost_usd == pytest.approx((200 * 3 + 20 * 15) / 1e6)
        transcript = [
            *messages,
            assistant_message(resp),
            tool_message("toolu_1", "{'n': 17}"),
            tool_message("toolu_2", "error: bad arguments"),
        ]
        resp2 = client.complete(ChatRequest(model="", messages=transcript, tools=TOOLS))
    # output_tokens missing from usage: unknown, not 0, and so is the cost
    assert resp2.text == "17" and resp2.tool_calls == [] and resp2.usage.tokens_out is None
    assert resp2.usage.tokens_in == 300 and resp2.usage.cost_usd is None
    req1, req2 = (c.request for c in route.calls)
    assert req1.headers["x-api-key"] == FAKE_KEY and req1.headers["anthropic-version"] == "2023-06-01"
    p1 = json.loads(req1.content)
    assert p1["system"] == "You are an agent." and p1["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "How many?"}]}
    ]
    assert p1["tools"] == [{"name": "http_get", "description": "GET a URL.", "input_schema": TOOLS[0]["parameters"]}]
    assert p1["temperature"] == 0.2 and p1["max_tokens"] == 4096 and "seed" not in p1
    p2 = json.loads(req2.content)
    assert [m["role"] for m in p2["messages"]] == ["user", "assistant", "user"]
    assert p2["messages"][1]["content"] == [
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "toolu_1", "name": "http_get", "input": {"url": "http://m/x"}},
        {"type": "tool_use", "id": "toolu_2", "name": "http_get", "input": {}},
    ]
    assert p2["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "{'n': 17}"},
        {"type": "tool_result", "tool_use_id": "toolu_2", "content": "error: bad arguments"},
    ]


def test_malformed_anthropic_body(fake_key, policy, sleeps):
    req = ChatRequest(model="", messages=[{"role": "user", "content": "q"}])
    with respx.mock:
        route = respx.post(f"{BASE}/v1/messages").respond(200, json={"content": "not blocks"})
        with pytest.raises(MalformedResponseError, match=r"content block list.*gave up after 3 attempts") as err:
            backend(fake_key, policy).complete(req)
    assert route.call_count == 3 and len(sleeps) == 2  # retried like a 5xx
    assert [a.kind for a in err.value.attempts] == ["malformed"] * 3


def test_overloaded_error_sent_as_200_is_retried_and_named(fake_key, policy, sleeps):
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    req = ChatRequest(model="", messages=[{"role": "user", "content": "q"}])
    with respx.mock:
        route = respx.post(f"{BASE}/v1/messages")
        route.side_effect = [httpx.Response(200, json=overloaded), httpx.Response(200, json=FINAL)]
        resp = backend(fake_key, policy).complete(req)
    assert resp.text == "done" and route.call_count == 2
    assert [(r["kind"], r["status"]) for r in resp.retries] == [("provider_error", 200)]
    assert "overloaded_error: Overloaded" in resp.retries[0]["reason"]
    with respx.mock:
        respx.post(f"{BASE}/v1/messages").respond(200, json=overloaded)
        with pytest.raises(LLMError, match="overloaded_error: Overloaded") as err:
            backend(fake_key, policy).complete(req)
    assert "base_url" not in str(err.value)  # the provider's trouble, not the config's


def test_key_not_in_repr(fake_key, policy):
    assert FAKE_KEY not in repr(backend(fake_key, policy))
