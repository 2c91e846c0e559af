"""OpenAI-compatible client: payloads, tool calls, usage/cost, fallback mode, keys, factory."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from agents.llm import (
    AuthError,
    ChatRequest,
    MalformedResponseError,
    OpenAIChat,
    PriceTable,
    RetryPolicy,
    UsageMeter,
    assistant_message,
    make_backend,
    tool_message,
)
from agents.llm.openai_client import parse_json_action
from tests.agents.conftest import FAKE_KEY

TOOLS = [
    {
        "name": "read_doc",
        "description": "Read a handbook page.",
        "parameters": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
    }
]
PRICES = PriceTable.from_config({"gpt-test": {"input": 1.0, "output": 4.0}})


def completion(message: dict, usage: dict | None = None, finish: str = "stop") -> dict:
    return {
        "id": "chatcmpl-1",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
        "usage": usage or {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500},
    }


def make_client(base_url: str, key_env: str | None, policy: RetryPolicy, **kw) -> OpenAIChat:
    return OpenAIChat(
        model="gpt-test",
        base_url=base_url,
        api_key_env=key_env,
        client=httpx.Client(),
        retry=policy,
        prices=PRICES,
        **kw,
    )


def request(**kw) -> ChatRequest:
    base = {
        "model": "",
        "messages": [{"role": "system", "content": "You are an agent."}, {"role": "user", "content": "How many?"}],
        "tools": TOOLS,
        "temperature": 0.0,
        "seed": 3,
        "meta": {"family": "secret-sim-context"},
    }
    base.update(kw)
    return ChatRequest(**base)


def test_success_with_tool_calls_usage_and_cost(base_url, fake_key, policy):
    call = {"id": "call_a", "type": "function", "function": {"name": "read_doc", "arguments": '{"name": "ops"}'}}
    with respx.mock:
        route = respx.post(f"{base_url}/chat/completions").respond(
            200, json=completion({"content": None, "tool_calls": [call]}, finish="tool_calls")
        )
        resp = make_client(base_url, fake_key, policy).complete(request())
    sent = route.calls.last.request
    payload = json.loads(sent.content)
    assert sent.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert payload["model"] == "gpt-test"
    assert payload["tools"] == [{"type": "function", "function": TOOLS[0]}]
    assert payload["temperature"] == 0.0 and payload["seed"] == 3 and "max_tokens" not in payload
    assert "meta" not in payload and "secret-sim-context" not in sent.content.decode()
    assert resp.text == "" and resp.finish_reason == "tool_calls"
    (tc,) = resp.tool_calls
    assert (tc.id, tc.name, tc.arguments, tc.error) == ("call_a", "read_doc", {"name": "ops"}, None)
    assert resp.usage.tokens_in == 1000 and resp.usage.tokens_out == 500
    assert resp.usage.cost_usd == pytest.approx((1000 * 1.0 + 500 * 4.0) / 1e6)
    assert resp.raw["id"] == "chatcmpl-1" and resp.latency_s >= 0
    # the transcript helpers produce the common shape back
    msg = assistant_message(resp)
    assert msg["tool_calls"][0]["function"] == {"name": "read_doc", "arguments": '{"name": "ops"}'}
    assert tool_message("call_a", "42") == {"role": "tool", "tool_call_id": "call_a", "content": "42"}


def test_malformed_tool_arguments_become_errors_not_exceptions(base_url, fake_key, policy):
    calls = [
        {"id": "c1", "type": "function", "function": {"name": "read_doc", "arguments": '{"name": "ops"'}},
        {"id": "c2", "type": "function", "function": {"name": "read_doc", "arguments": "[1, 2]"}},
        {"id": "c3", "type": "function", "function": {"name": "read_doc", "arguments": ""}},
    ]
    with respx.mock:
        respx.post(f"{base_url}/chat/completions").respond(200, json=completion({"content": "", "tool_calls": calls}))
        resp = make_client(base_url, fake_key, policy).complete(request())
    c1, c2, c3 = resp.tool_calls
    assert c1.error and "not valid JSON" in c1.error and c1.raw_arguments == '{"name": "ops"' and c1.arguments == {}
    assert c2.error and "JSON object" in c2.error
    assert c3.error is None and c3.arguments == {}


@pytest.mark.parametrize(
    "body",
    [b"<html>502 Bad Gateway</html>", b'{"object": "list", "data": []}', b'{"choices": []}', b"[1, 2]"],
)
def test_malformed_body_raises(base_url, fake_key, policy, body):
    with respx.mock:
        respx.post(f"{base_url}/chat/completions").respond(200, content=body)
        with pytest.raises(MalformedResponseError) as err:
            make_client(base_url, fake_key, policy).complete(request())
    assert "openai" in str(err.value)


def test_unknown_model_price_is_none_and_meter_counts_it(base_url, fake_key, policy):
    with respx.mock:
        respx.post(f"{base_url}/chat/completions").respond(200, json=completion({"content": "7"}))
        client = make_client(base_url, fake_key, policy)
        priced = client.complete(request())
        unpriced = client.complete(request(model="other-model"))
    assert unpriced.usage.cost_usd is None and unpriced.usage.tokens_in == 1000
    meter = UsageMeter()
    meter.add(priced.usage)
    meter.add(unpriced.usage)
    total = meter.to_dict()
    assert total["llm_calls"] == 2 and total["tokens_in"] == 2000 and total["tokens_out"] == 1000
    # One call of unknown cost makes the total unknown: a partial sum would read as the whole bill.
    assert total["cost_usd"] is None and total["unpriced_calls"] == 1
    run = UsageMeter()
    run.merge(meter)
    assert run.to_dict() == total
    only_priced = UsageMeter()
    only_priced.add(priced.usage)
    assert only_priced.to_dict()["cost_usd"] == pytest.approx(0.003)
    assert UsageMeter().to_dict()["cost_usd"] is None  # no call, no known cost (was a made-up 0.0)


def test_price_table_rejects_bad_entries():
    with pytest.raises(ValueError, match="USD per 1M"):
        PriceTable.from_config({"m": {"in": 1, "out": 2}})


def test_json_fallback_mode(base_url, fake_key, policy):
    action = 'Sure.\n```json\n{"tool": "read_doc", "arguments": {"name": "ops"}}\n```'
    transcript = [
        {"role": "system", "content": "You are an agent."},
        {"role": "user", "content": "How many?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c0", "type": "function", "function": {"name": "read_doc", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c0", "content": "page text"},
    ]
    with respx.mock:
        route = respx.post(f"{base_url}/chat/completions").respond(
            200, json=completion({"content": '```json\n{"tool": "read_doc", "arguments": {"name": "ops"}}\n```'})
        )
        client = make_client(base_url, fake_key, policy, native_tools=False)
        resp = client.complete(request(messages=transcript))
    payload = json.loads(route.calls.last.request.content)
    assert "tools" not in payload
    system = payload["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("You are an agent.")
    assert '"read_doc"' in system["content"] and '"tool"' in system["content"]
    assert [m["role"] for m in payload["messages"]] == ["system", "user", "assistant", "user"]
    assert json.loads(payload["messages"][2]["content"]) == {"tool": "read_doc", "arguments": {}}
    assert payload["messages"][3]["content"] == "Result of read_doc:\npage text"
    (tc,) = resp.tool_calls
    assert (tc.name, tc.arguments, tc.error) == ("read_doc", {"name": "ops"}, None)
    assert client.adapter_version.endswith("-jsontext")
    # parsing alone: final answers (even JSON ones) are not tool calls; broken actions are errors
    assert parse_json_action("The answer is 42.") == []
    assert parse_json_action('{"answer": [1, 2]}') == []
    assert parse_json_action(action) == []  # prose around the JSON: a final answer
    (broken,) = parse_json_action('{"tool": "read_doc", "arguments": {"name": ')
    assert broken.error and "not valid JSON" in broken.error
    (bad_args,) = parse_json_action('{"tool": "read_doc", "arguments": "ops"}')
    assert bad_args.error and bad_args.name == "read_doc"


def test_no_key_env_sends_no_auth_header(base_url, policy):
    with respx.mock:
        route = respx.post(f"{base_url}/chat/completions").respond(200, json=completion({"content": "ok"}))
        make_client(base_url, None, policy).complete(request())
    assert "authorization" not in route.calls.last.request.headers


def test_missing_key_variable_is_auth_error_naming_it(base_url, policy, monkeypatch):
    monkeypatch.delenv("ARISE_ABSENT_KEY", raising=False)
    with respx.mock:
        route = respx.post(f"{base_url}/chat/completions").respond(200, json=completion({"content": "ok"}))
        with pytest.raises(AuthError, match="ARISE_ABSENT_KEY"):
            make_client(base_url, "ARISE_ABSENT_KEY", policy).complete(request())
    assert route.call_count == 0


def test_key_never_in_repr_or_errors(base_url, fake_key, policy):
    client = make_client(base_url, fake_key, policy)
    assert FAKE_KEY not in repr(client) and fake_key in repr(client)
    echo = {"error": {"message": f"Incorrect API key provided: {FAKE_KEY}"}}
    with respx.mock:
        respx.post(f"{base_url}/chat/completions").respond(401, json=echo)
        with pytest.raises(AuthError) as err:
            client.complete(request())
    assert FAKE_KEY not in str(err.value) and FAKE_KEY not in repr(err.value)
    assert fake_key in str(err.value) and "***" in str(err.value)
    with respx.mock:
        respx.post(f"{base_url}/chat/completions").respond(200, text=f"not json {FAKE_KEY}")
        with pytest.raises(MalformedResponseError) as err2:
            client.complete(request())
    assert FAKE_KEY not in str(err2.value)


def test_factory_builds_and_validates(base_url, fake_key):
    backend = make_backend(
        {
            "provider": "openai",
            "model": "gpt-test",
            "base_url": base_url,
            "api_key_env": fake_key,
            "native_tools": False,
            "max_attempts": 2,
            "prices": {"gpt-test": {"input": 1.0, "output": 4.0}},
        },
        client=httpx.Client(),
    )
    assert isinstance(backend, OpenAIChat) and not backend.native_tools and backend.retry.max_attempts == 2
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['temprature'\]; accepted: .*native_tools"):
        make_backend({"provider": "openai", "model": "m", "temprature": 0})
    with pytest.raises(ValueError, match="accepted: anthropic, openai, replay"):
        make_backend({"provider": "gpt"})
    with pytest.raises(ValueError, match="'model' is required"):
        make_backend({"provider": "openai"})
    replay = make_backend(
        {"provider": "replay", "cache_dir": "/tmp/x", "mode": "off", "inner": {"provider": "anthropic", "model": "c"}}
    )
    assert replay.name == "replay"
    with pytest.raises(ValueError, match="replay mode must be one of"):
        make_backend(
            {"provider": "replay", "cache_dir": "/tmp/x", "mode": "live", "inner": {"provider": "openai", "model": "m"}}
        )
