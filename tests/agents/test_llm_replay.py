"""Replay cache: record, replay-only with zero backend calls, misses, keys, atomic shared files."""

from __future__ import annotations

import dataclasses
import json
import threading

import httpx
import pytest
import respx

from agents.llm import (
    ChatRequest,
    ContextLengthError,
    OpenAIChat,
    ReplayBackend,
    ReplayMissError,
    RetryPolicy,
    make_backend,
)
from agents.sim import SimChat, get_profile
from tests.agents.conftest import FAKE_KEY

TOOLS = [{"name": "read_doc", "description": "Read.", "parameters": {"type": "object", "properties": {}}}]


def completion(text: str) -> dict:
    return {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": text,
                    "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "read_doc", "arguments": "{}"}}
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 5},
    }


def request(content: str = "How many errors?", **kw) -> ChatRequest:
    return ChatRequest(model="", messages=[{"role": "user", "content": content}], tools=TOOLS, **kw)


def inner(base_url: str, key_env: str | None = None) -> OpenAIChat:
    return OpenAIChat(
        model="gpt-test",
        base_url=base_url,
        api_key_env=key_env,
        client=httpx.Client(),
        retry=RetryPolicy(max_attempts=1),
    )


def test_record_then_replay_only(tmp_path, base_url, fake_key):
    with respx.mock:
        route = respx.post(f"{base_url}/chat/completions").respond(200, json=completion("thinking"))
        rec = ReplayBackend(inner(base_url, fake_key), tmp_path, mode="record")
        first = rec.complete(request())
        again = rec.complete(request())
        other = rec.complete(request("different"))
    assert route.call_count == 2
    assert rec.stats() == {"hits": 1, "misses": 2, "backend_requests": 2}
    assert again == first and other.text == "thinking"
    files = sorted(tmp_path.rglob("*.json"))
    assert len(files) == 2 and not list(tmp_path.rglob("*.tmp"))
    key = rec.key(request())
    assert rec.path(key).parent.name == key[:2]
    text = "".join(f.read_text() for f in files)
    assert FAKE_KEY not in text and "authorization" not in text.lower()

    # a new process-like backend in replay-only mode never touches the network (no key either)
    with respx.mock:
        route2 = respx.post(f"{base_url}/chat/completions").respond(500)
        replay = ReplayBackend(inner(base_url, "ARISE_UNSET_KEY_VAR"), tmp_path, mode="replay-only")
        replayed = replay.complete(request())
    assert route2.call_count == 0 and replay.stats() == {"hits": 1, "misses": 0, "backend_requests": 0}
    assert json.dumps(replayed.to_dict(), sort_keys=True) == json.dumps(first.to_dict(), sort_keys=True)
    assert replayed.latency_s == first.latency_s and replayed.usage == first.usage


def test_replay_only_miss_names_the_request(tmp_path, base_url):
    replay = ReplayBackend(inner(base_url), tmp_path, mode="replay-only")
    with respx.mock:
        route = respx.post(f"{base_url}/chat/completions").respond(200, json=completion("x"))
        with pytest.raises(ReplayMissError) as err:
            replay.complete(request("Which service failed most on 2024-03-02?", sample_index=3))
    msg = str(err.value)
    assert route.call_count == 0
    assert "'gpt-test'" in msg and "Which service failed most" in msg and "read_doc" in msg
    assert (
        "sample_index 3" in msg
        and replay.key(request("Which service failed most on 2024-03-02?", sample_index=3))[:16] in msg
    )
    assert "mode=record" in msg and replay.stats()["misses"] == 1


def test_key_ignores_meta_and_tracks_what_matters(tmp_path, base_url):
    replay = ReplayBackend(inner(base_url), tmp_path)
    base = request(temperature=0.0)
    key = replay.key(base)
    assert replay.key(dataclasses.replace(base, meta={"family": "errors", "truth_free": True})) == key
    assert replay.key(dataclasses.replace(base, model="gpt-test")) == key  # "" means the configured model
    for changed in (
        dataclasses.replace(base, sample_index=1),
        dataclasses.replace(base, temperature=0.7),
        dataclasses.replace(base, seed=2),
        dataclasses.replace(base, tools=[]),
        dataclasses.replace(base, model="gpt-other"),
        request("other question", temperature=0.0),
    ):
        assert replay.key(changed) != key
    assert ReplayBackend(inner(base_url + "x"), tmp_path).key(base) != key
    fallback = OpenAIChat(model="gpt-test", base_url=base_url, api_key_env=None, native_tools=False)
    assert ReplayBackend(fallback, tmp_path).key(base) != key


def test_off_mode_passes_through(tmp_path, base_url):
    with respx.mock:
        route = respx.post(f"{base_url}/chat/completions").respond(200, json=completion("x"))
        off = ReplayBackend(inner(base_url), tmp_path, mode="off")
        off.complete(request())
        off.complete(request())
    assert route.call_count == 2 and off.stats()["backend_requests"] == 2 and not list(tmp_path.iterdir())


def test_concurrent_jobs_share_a_directory(tmp_path, base_url):
    with respx.mock:
        respx.post(f"{base_url}/chat/completions").respond(200, json=completion("x"))
        backends = [ReplayBackend(inner(base_url), tmp_path) for _ in range(4)]
        errors: list[BaseException] = []

        def work(b: ReplayBackend) -> None:
            try:
                for i in range(5):
                    b.complete(request(f"q{i}"))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(b,)) for b in backends]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    assert len(list(tmp_path.rglob("*.json"))) == 5 and not list(tmp_path.rglob("*.tmp"))
    for f in tmp_path.rglob("*.json"):
        json.loads(f.read_text())  # every entry whole


def test_corrupt_entry_is_a_clear_error(tmp_path, base_url):
    replay = ReplayBackend(inner(base_url), tmp_path, mode="replay-only")
    path = replay.path(replay.key(request()))
    path.parent.mkdir(parents=True)
    path.write_text("{torn")
    with pytest.raises(Exception, match="delete it to re-record"):
        replay.complete(request())


def test_factory_replay_over_openai(tmp_path, base_url):
    cfg = {
        "provider": "replay",
        "cache_dir": str(tmp_path),
        "mode": "record",
        "inner": {"provider": "openai", "model": "gpt-test", "base_url": base_url, "api_key_env": None},
    }
    with respx.mock:
        route = respx.post(f"{base_url}/chat/completions").respond(200, json=completion("x"))
        backend = make_backend(cfg, client=httpx.Client())
        recorded = backend.complete(request())
    assert route.call_count == 1 and isinstance(backend, ReplayBackend)
    replayed = make_backend({**cfg, "mode": "replay-only"}).complete(request())
    assert replayed == recorded


def test_a_context_length_verdict_is_cached_and_replayed(tmp_path):
    sim = SimChat(get_profile("sim-4o-mini-like", {"context_tokens": 10}))
    request = ChatRequest(model="", messages=[{"role": "user", "content": "x" * 200}], meta={"turn": 0})
    recorder = ReplayBackend(sim, tmp_path, mode="record")
    with pytest.raises(ContextLengthError, match="context_length_exceeded"):
        recorder.complete(request)
    assert recorder.stats() == {"hits": 0, "misses": 1, "backend_requests": 1}
    replayer = ReplayBackend(sim, tmp_path, mode="replay-only")
    with pytest.raises(ContextLengthError, match="context_length_exceeded"):
        replayer.complete(request)
    assert replayer.stats() == {"hits": 1, "misses": 0, "backend_requests": 0}
    other_meta = ChatRequest(model="", messages=request.messages, meta={"turn": 1})  # the sim answers from meta
    with pytest.raises(ReplayMissError):
        replayer.complete(other_meta)


def test_keys_of_landed_caches_are_unchanged_when_no_new_option_is_set(tmp_path):
    """Options and served weights enter the key only when set: caches recorded before they existed hit."""
    call = {"id": "c", "type": "function", "function": {"name": "read_doc", "arguments": "{}"}}
    req = ChatRequest(
        model="",
        messages=[{"role": "user", "content": "q"}, {"role": "assistant", "content": None, "tool_calls": [call]}],
        tools=TOOLS,
        temperature=0.0,
    )
    native = OpenAIChat(model="m", base_url="http://h/v1", api_key_env=None)
    json_actions = OpenAIChat(model="m", base_url="http://h/v1", api_key_env=None, native_tools=False)
    # the keys the landed version (7f8af4d) computes for this request
    assert (
        ReplayBackend(native, tmp_path).key(req) == "bb7dc981a088657d181921b3119f8fedd81262af7028265fd55a1dab803b2ccc"
    )
    assert ReplayBackend(json_actions, tmp_path).key(req) == (
        "1224b125fc3d0a8d808c026c157c11ce2643632eaf71dbea6f5fcfaa8cd78474"
    )
    base = ReplayBackend(native, tmp_path).key(req)
    native.weights = "gemma-3-270m-it-q4_k_m"  # what a llama.cpp server reports it serves
    assert ReplayBackend(native, tmp_path).key(req) != base
    native.weights = None
    forced = OpenAIChat(
        model="m", base_url="http://h/v1", api_key_env=None, request_options={"agent": {"tool_choice": "required"}}
    )
    assert ReplayBackend(forced, tmp_path).key(req) != base
    # ... for the role it is set for only
    assert ReplayBackend(forced, tmp_path).key(dataclasses.replace(req, role="tool_author")) == base
    folded = OpenAIChat(model="m", base_url="http://h/v1", api_key_env=None, fold_system_prompt=True)
    assert ReplayBackend(folded, tmp_path).key(req) != base
