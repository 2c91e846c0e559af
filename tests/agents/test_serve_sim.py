"""The sim behind its OpenAI-compatible loopback server: the official client and ours both work.

Streaming (SSE chunks reassembled equal the plain answer), OpenAI-shaped 400s naming the
field, and 64 concurrent clients without retries, raw and through the official clients.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
from collections.abc import Callable, Iterator
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
    assert bad.status_code == 400 and bad.json()["error"] == {
        "message": "Missing required parameter: 'messages'.", "type": "invalid_request_error", "param": "messages",
        "code": "missing_required_parameter",
    }  # fmt: skip
    bad = httpx.post(server.base_url + "/chat/completions", json=[1], timeout=5)
    assert bad.status_code == 400 and "must be a JSON object" in bad.json()["error"]["message"]


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


# -- streaming ----------------------------------------------------------------------


def _task(family: str = "metrics.current_value") -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """A task's prompt, its reference tools (OpenAI shape) and its ``arise_meta``."""
    inst = _instance(family)
    env = gym.make(ENV_IDS["acmecorp"], max_episode_steps=30)
    obs, info = env.reset(options={"instance": inst, "tools": "reference"})
    return obs, [{"type": "function", "function": t} for t in info["tools"]], _meta(inst)


def _client(server: SimServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=10)


def _reassemble(chunks: list[Any]) -> tuple[dict[str, Any], str | None, Any]:
    """The message, finish_reason and usage a client rebuilds from streamed chunks."""
    content, calls, finish, usage = "", {}, None, None
    for chunk in chunks:
        assert chunk.object == "chat.completion.chunk"
        if chunk.usage is not None:
            assert chunk.choices == [] and usage is None  # usage comes once, in its own chunk
            usage = chunk.usage
        for choice in chunk.choices:
            assert choice.index == 0 and finish is None  # nothing after the finish_reason
            content += choice.delta.content or ""
            for tc in choice.delta.tool_calls or []:
                call = calls.setdefault(tc.index, {"id": None, "name": "", "arguments": ""})
                call["id"] = tc.id or call["id"]
                call["name"] += (tc.function and tc.function.name) or ""
                call["arguments"] += (tc.function and tc.function.arguments) or ""
            finish = choice.finish_reason
    message = {"content": content or None, "tool_calls": [calls[i] for i in sorted(calls)]}
    return message, finish, usage


def _plain(message: Any) -> dict[str, Any]:
    calls = [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments} for c in message.tool_calls or []]
    return {"content": message.content, "tool_calls": calls}


@pytest.mark.parametrize("with_tools", [False, True], ids=["text", "tool_calls"])
def test_streamed_chunks_reassemble_to_the_plain_answer_with_a_usage_chunk(server: SimServer, with_tools: bool):
    obs, tools, meta = _task()
    client = _client(server)
    kwargs: dict[str, Any] = {
        "model": "sim-perfect", "messages": [{"role": "user", "content": obs}], "seed": 2,
        "extra_body": {"arise_meta": meta}, **({"tools": tools} if with_tools else {}),
    }  # fmt: skip
    plain = client.chat.completions.create(**kwargs)
    chunks = list(client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True}))
    message, finish, usage = _reassemble(chunks)
    assert message == _plain(plain.choices[0].message) and finish == plain.choices[0].finish_reason
    assert usage is not None and usage.model_dump() == plain.usage.model_dump()  # type: ignore[union-attr]
    assert chunks[0].choices[0].delta.role == "assistant" and chunks[-1].choices == []
    assert {c.id for c in chunks} == {plain.id} and {c.system_fingerprint for c in chunks} == {"arise-gym-sim"}
    if with_tools:  # the call: name and id first, then its arguments in pieces
        (call,) = message["tool_calls"]
        assert finish == "tool_calls" and call["name"] == "metrics_get" and json.loads(call["arguments"])
        deltas = [tc for c in chunks for ch in c.choices for tc in ch.delta.tool_calls or []]
        assert deltas[0].id == call["id"] and deltas[0].type == "function" and len(deltas) > 2
        assert all(d.index == 0 and d.id is None for d in deltas[1:])
    else:
        assert finish == "stop" and message["content"] and message["tool_calls"] == []
        assert sum(1 for c in chunks for ch in c.choices if ch.delta.content) > 1  # a few pieces
    # Without stream_options there is no usage chunk; the last chunk carries the finish_reason.
    bare = list(client.chat.completions.create(**kwargs, stream=True))
    assert bare and all(c.usage is None for c in bare) and bare[-1].choices[0].finish_reason == finish
    assert _reassemble(bare)[0] == message


def test_the_official_stream_helper_and_async_client_rebuild_the_same_tool_call(server: SimServer):
    obs, tools, meta = _task("config.effective_replicas")
    kwargs: dict[str, Any] = {
        "model": "sim-4o-mini-like", "messages": [{"role": "user", "content": obs}], "tools": tools, "seed": 4,
        "extra_body": {"arise_meta": meta},
    }  # fmt: skip
    client = _client(server)
    plain = client.chat.completions.create(**kwargs).choices[0].message
    with client.chat.completions.stream(**kwargs) as stream:
        final = stream.get_final_completion().choices[0].message
    assert _plain(final) == _plain(plain) and plain.tool_calls

    async def streamed() -> list[Any]:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=10) as aio:
            return [chunk async for chunk in await aio.chat.completions.create(**kwargs, stream=True)]

    assert _reassemble(asyncio.run(streamed()))[0] == _plain(plain)


def test_a_stream_leaves_the_keep_alive_connection_usable_and_http10_gets_it_closed(server: SimServer):
    host, port = server.server_address[:2]
    body = json.dumps({"model": "sim-perfect", "messages": [{"role": "user", "content": "hi"}], "stream": True})
    conn = http.client.HTTPConnection(str(host), int(port), timeout=5)  # one connection, three requests
    for _ in range(3):
        conn.request("POST", "/v1/chat/completions", body=body, headers={"content-type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 200 and resp.getheader("content-type", "").startswith("text/event-stream")
        assert resp.getheader("transfer-encoding") == "chunked"
        events = resp.read().decode().split("\n\n")
        assert events[-2:] == ["data: [DONE]", ""] and all(e.startswith("data: {") for e in events[:-2])
    conn.close()
    with socket.create_connection((str(host), int(port)), timeout=5) as sock:  # HTTP/1.0: the stream, then EOF
        sock.sendall(f"POST /v1/chat/completions HTTP/1.0\r\ncontent-length: {len(body)}\r\n\r\n{body}".encode())
        raw = b""
        while data := sock.recv(65536):
            raw += data
    head, _, stream = raw.partition(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n")[0] and stream.endswith(b"data: [DONE]\n\n")


def test_errors_found_before_streaming_are_json_errors_with_their_status(server: SimServer):
    client = _client(server)
    with pytest.raises(openai.NotFoundError, match="model 'gpt-9' not found"):
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}], stream=True)
    with pytest.raises(openai.BadRequestError, match="context_length_exceeded") as exc:
        client.chat.completions.create(
            model="sim-4o-mini-like", messages=[{"role": "user", "content": "z" * 600_000}], stream=True
        )
    assert exc.value.code == "context_length_exceeded" and exc.value.param == "messages"
    bad = httpx.post(server.base_url + "/chat/completions", json={"model": "sim-perfect", "stream": True}, timeout=5)
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/json"


def test_a_failure_inside_the_sim_is_a_500_not_a_dropped_connection(monkeypatch: pytest.MonkeyPatch):
    with SimServer() as srv:
        monkeypatch.setattr(srv.backends["sim-perfect"], "complete", lambda request: 1 / 0)
        with pytest.raises(openai.InternalServerError, match="ZeroDivisionError") as exc:
            _client(srv).chat.completions.create(model="sim-perfect", messages=[USER])
        assert exc.value.type == "server_error"


# -- validation ---------------------------------------------------------------------

USER = {"role": "user", "content": "hi"}
TOOL = {"type": "function", "function": {"name": "metrics_get", "parameters": {"type": "object"}}}
INVALID = [  # (what the request sets, the param the 400 names, its code)
    ({"messages": []}, "messages", "empty_array"),
    ({"messages": "hi"}, "messages", "invalid_type"),
    ({"messages": [{"content": "hi"}]}, "messages[0].role", "missing_required_parameter"),
    ({"messages": [{"role": "bot", "content": "hi"}]}, "messages[0].role", "invalid_value"),
    ({"messages": [USER, {"role": "user", "content": 42}]}, "messages[1].content", "invalid_type"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}, "messages[0].content[0].text",
     "invalid_type"),
    ({"messages": [{"role": "system", "content": [{"type": "image_url"}]}]}, "messages[0].content[0].type",
     "invalid_value"),
    ({"messages": [{"role": "user"}]}, "messages[0].content", "missing_required_parameter"),
    ({"messages": [USER, {"role": "assistant", "content": None}]}, "messages[1].content",
     "missing_required_parameter"),
    ({"messages": [USER, {"role": "tool", "content": "42"}]}, "messages[1].tool_call_id",
     "missing_required_parameter"),
    ({"messages": [USER, {"role": "assistant", "tool_calls": [{"id": "c", "type": "function"}]}]},
     "messages[1].tool_calls[0].function", "missing_required_parameter"),
    ({"tools": {"type": "function"}}, "tools", "invalid_type"),
    ({"tools": []}, "tools", "empty_array"),
    ({"tools": [{"type": "function", "function": {"description": "no name"}}]}, "tools[0].function.name",
     "missing_required_parameter"),
    ({"tools": [{"type": "retrieval"}]}, "tools[0].type", "invalid_value"),
    ({"tools": [{"type": "function", "function": {"name": "a b"}}]}, "tools[0].function.name", "invalid_value"),
    ({"tools": [TOOL], "tool_choice": "sometimes"}, "tool_choice", "invalid_value"),
    ({"tools": [TOOL], "tool_choice": ["auto"]}, "tool_choice", "invalid_type"),
    ({"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
     "tool_choice.function.name", "invalid_value"),
    ({"tool_choice": "auto"}, "tool_choice", "invalid_value"),
    ({"temperature": "hot"}, "temperature", "invalid_type"),
    ({"temperature": 2.5}, "temperature", "decimal_above_max_value"),
    ({"temperature": -0.1}, "temperature", "decimal_below_min_value"),
    ({"top_p": 1.5}, "top_p", "decimal_above_max_value"),
    ({"max_tokens": 0}, "max_tokens", "integer_below_min_value"),
    ({"max_tokens": 1.5}, "max_tokens", "invalid_type"),
    ({"max_tokens": True}, "max_tokens", "invalid_type"),
    ({"max_completion_tokens": "10"}, "max_completion_tokens", "invalid_type"),
    ({"seed": "7"}, "seed", "invalid_type"),
    ({"seed": 2**64}, "seed", "integer_above_max_value"),
    ({"n": 0}, "n", "integer_below_min_value"),
    ({"n": 129}, "n", "integer_above_max_value"),
    ({"n": 2.0}, "n", "invalid_type"),
    ({"stream": "yes"}, "stream", "invalid_type"),
    ({"stream_options": {"include_usage": True}}, "stream_options", "invalid_value"),
    ({"stream": True, "stream_options": {"include_usage": "yes"}}, "stream_options.include_usage", "invalid_type"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "array_above_max_length"),
    ({"parallel_tool_calls": "no"}, "parallel_tool_calls", "invalid_type"),
    ({"model": 5}, "model", "invalid_type"),
    ({"arise_meta": "acmecorp"}, "arise_meta", "invalid_type"),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "param", "code"), INVALID, ids=[f"{p}:{c}" for _, p, c in INVALID])
def test_each_invalid_field_is_an_openai_bad_request_naming_it(
    server: SimServer, fields: dict[str, Any], param: str, code: str
):
    body: dict[str, Any] = {"model": "sim-perfect", "messages": [USER], **fields}
    with pytest.raises(openai.BadRequestError) as exc:  # extra_body: the SDK sends the values as they are
        _client(server).chat.completions.create(model=body.pop("model"), messages=body.pop("messages"), extra_body=body)
    err = exc.value
    assert (err.status_code, err.param, err.code, err.type) == (400, param, code, "invalid_request_error")
    assert f"'{param}'" in err.message  # the message names the field ...
    assert any(
        w in err.message for w in ("expected", "Expected", "Supported", "Missing", "only allowed")
    )  # ... and what is accepted


def test_every_valid_optional_field_is_accepted(server: SimServer):
    obs, tools, meta = _task()
    messages: list[dict[str, Any]] = [
        {"role": "developer", "content": [{"type": "text", "text": "be brief"}]},
        {"role": "user", "content": [{"type": "text", "text": obs}, {"type": "image_url", "image_url": {"url": "x"}}]},
    ]
    resp = _client(server).chat.completions.create(
        model="sim-perfect", messages=messages, tools=tools,  # type: ignore[arg-type]
        tool_choice={"type": "function", "function": {"name": "metrics_get"}}, temperature=0, top_p=1, n=2,
        max_completion_tokens=100, seed=-3, stop=["\n\n"], user="u", parallel_tool_calls=False,
        presence_penalty=-2, frequency_penalty=2, extra_body={"arise_meta": meta, "unknown_field": 1},
    )  # fmt: skip
    assert [c.index for c in resp.choices] == [0, 1] and resp.choices[0].message == resp.choices[1].message
    assert resp.choices[0].message.tool_calls  # the sim read the text parts
    text_only = _client(server).chat.completions.create(
        model="sim-perfect", messages=messages, tools=tools, tool_choice="none",  # type: ignore[arg-type]
        extra_body={"arise_meta": meta},
    )  # fmt: skip
    assert text_only.choices[0].finish_reason == "stop" and not text_only.choices[0].message.tool_calls
    model = _client(server).models.retrieve("sim-perfect")
    assert model.id == "sim-perfect"
    with pytest.raises(openai.NotFoundError):
        _client(server).models.retrieve("gpt-9")


# -- concurrency --------------------------------------------------------------------

CONCURRENT = 64


def _bodies(n: int) -> list[dict[str, Any]]:
    """``n`` requests over several tasks, with and without tools (calls and answers), half of them streamed."""
    env = gym.make(ENV_IDS["acmecorp"], max_episode_steps=30)
    tasks = []
    for inst in get_suite("acmecorp").instances(3, "test")[:16]:
        obs, info = env.reset(options={"instance": inst, "tools": "reference"})
        tasks.append((obs, [{"type": "function", "function": t} for t in info["tools"]], _meta(inst)))
    bodies = []
    for i in range(n):
        obs, tools, meta = tasks[i % len(tasks)]
        body = {"model": "sim-4o-mini-like", "messages": [{"role": "user", "content": obs}], "seed": i,
                "arise_meta": meta, "stream": i % 2 == 1, **({"tools": tools} if i % 4 < 2 else {})}  # fmt: skip
        bodies.append(body)
    return bodies


def _at_once(fn: Callable[[int], Any], n: int = CONCURRENT) -> list[Any]:
    """``fn(0..n-1)`` in ``n`` threads released together; each result, or the exception it raised."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn(i)
        except BaseException as exc:  # a reset or refused connection: what a drop looks like
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _raw_post(server: SimServer, body: dict[str, Any]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(str(server.server_address[0]), int(server.server_address[1]), timeout=20)
    try:
        conn.request(
            "POST", "/v1/chat/completions", body=json.dumps(body), headers={"content-type": "application/json"}
        )
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _create_kwargs(body: dict[str, Any]) -> dict[str, Any]:
    """A raw body as the official client's arguments."""
    keys = ("model", "messages", "seed", "tools")
    return {**{k: body[k] for k in keys if k in body}, "extra_body": {"arise_meta": body["arise_meta"]}}


def _answer(resp: Any) -> dict[str, Any]:
    """The message of a completion or of streamed chunks."""
    return _reassemble(resp)[0] if isinstance(resp, list) else _plain(resp.choices[0].message)


def test_64_concurrent_raw_clients_without_retries_all_get_the_sequential_answers():
    # A fresh server each round: its accept queue and cold caches are what concurrent clients met.
    bodies = _bodies(CONCURRENT)
    for _ in range(3):
        with SimServer() as srv:
            results = _at_once(lambda i, srv=srv: _raw_post(srv, bodies[i]))  # type: ignore[misc]
            failed = [r for r in results if not (isinstance(r, tuple) and r[0] == 200)]
            assert not failed, f"{len(failed)} of {CONCURRENT} concurrent requests failed: {failed[:3]}"
            sequential = [_raw_post(srv, b) for b in bodies]
            assert results == sequential  # the same bytes as one at a time: no cross-talk between threads


async def _async_round(base_url: str, bodies: list[dict[str, Any]]) -> list[Any]:
    async with openai.AsyncOpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=20) as aio:

        async def one(body: dict[str, Any]) -> Any:
            if body["stream"]:
                return [c async for c in await aio.chat.completions.create(**_create_kwargs(body), stream=True)]
            return await aio.chat.completions.create(**_create_kwargs(body))

        return await asyncio.gather(*(one(b) for b in bodies), return_exceptions=True)


def _sync_call(client: openai.OpenAI, body: dict[str, Any]) -> Any:
    if body["stream"]:
        return list(client.chat.completions.create(**_create_kwargs(body), stream=True))
    return client.chat.completions.create(**_create_kwargs(body))


def test_64_concurrent_official_clients_sync_and_async_without_retries():
    bodies = _bodies(CONCURRENT)
    for _ in range(3):
        with SimServer() as srv:
            got = asyncio.run(_async_round(srv.base_url, bodies))
            errors = [r for r in got if isinstance(r, BaseException)]
            assert not errors, f"async: {len(errors)} of {CONCURRENT} failed: {errors[:3]!r}"
            with openai.OpenAI(base_url=srv.base_url, api_key="unused", max_retries=0, timeout=20) as client:
                sync = _at_once(lambda i, client=client: _sync_call(client, bodies[i]))  # type: ignore[misc]
            errors = [r for r in sync if isinstance(r, BaseException)]
            assert not errors, f"sync: {len(errors)} of {CONCURRENT} failed: {errors[:3]!r}"
            assert [_answer(r) for r in got] == [_answer(r) for r in sync]
            assert all(_answer(r)["tool_calls"] or _answer(r)["content"] for r in got)  # streams too
            assert any(_answer(r)["tool_calls"] for r in got) and any(_answer(r)["content"] for r in got)
