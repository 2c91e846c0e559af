"""Both HTTP clients against a real loopback server that misbehaves (tests/agents/fault_server.py).

Each fault class of the field: it is retried when another attempt may succeed, every failed
attempt is in the answer's ``retries`` (or the error's ``attempts``), a call never outlives
``timeout_s``, and unknown usage stays unknown.
"""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from agents.llm import AnthropicChat, ChatRequest, LLMError, MalformedResponseError, OpenAIChat, PriceTable, RetryPolicy
from tests.agents.fault_server import FaultServer

REQ = ChatRequest(model="", messages=[{"role": "user", "content": "q"}])
PRICES = PriceTable.from_config({"m": {"input": 1.0, "output": 2.0}})


def client(provider: str, base_url: str, sleeps: list[float], *, attempts: int = 3, timeout_s: float = 5.0, **kw):
    policy = RetryPolicy(max_attempts=attempts, base_delay_s=0.01, jitter=0, sleep=sleeps.append, **kw)
    common = {"model": "m", "api_key_env": None, "client": httpx.Client(), "retry": policy, "prices": PRICES}
    if provider == "openai":
        return OpenAIChat(base_url=f"{base_url}/v1", timeout_s=timeout_s, **common)
    return AnthropicChat(base_url=base_url, timeout_s=timeout_s, **common)


PROVIDERS = ["openai", "anthropic"]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    ("fault", "kind", "status"),
    [
        ("http_500", "status", 500),
        ("drop", "connection", None),
        ("html_200", "malformed", 200),
        ("truncated_json", "malformed", 200),
        ("provider_error_200", "provider_error", 200),
    ],
)
def test_transient_fault_is_retried_and_recorded(provider, fault, kind, status):
    sleeps: list[float] = []
    with FaultServer([fault]) as server:
        resp = client(provider, server.base_url, sleeps).complete(REQ)
    assert resp.text == "42" and len(server.requests) == 2 and sleeps == [0.01]
    assert [(r["kind"], r["status"], r["wait_s"]) for r in resp.retries] == [(kind, status, 0.01)]
    assert resp.usage.tokens_in == 11 and resp.usage.cost_usd == pytest.approx((11 + 3 * 2) / 1e6)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_attempt_failing_raises_with_the_attempts(provider):
    sleeps: list[float] = []
    with FaultServer(default="provider_error_200") as server, pytest.raises(LLMError, match="instead of a") as err:
        client(provider, server.base_url, sleeps).complete(REQ)
    assert len(server.requests) == 3 and len(err.value.attempts) == 3
    assert [a.wait_s for a in err.value.attempts] == [0.01, 0.02, None]  # seeded exponential backoff
    assert "base_url" not in str(err.value)  # the provider said what went wrong; the config is fine
    with FaultServer(default="html_200") as server, pytest.raises(MalformedResponseError, match=r"not JSON.*gave up"):
        client(provider, server.base_url, sleeps).complete(REQ)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("fault", ["trickle", "stall"])
def test_timeout_bounds_the_whole_attempt(provider, fault):
    """A server trickling a valid answer a byte at a time (or stalling after the headers) is cut
    off at timeout_s, connect to last byte (httpx's own timeouts are per read: the trickle took
    minutes)."""
    sleeps: list[float] = []
    with FaultServer([fault, fault]) as server:
        backend = client(provider, server.base_url, sleeps, attempts=2, timeout_s=1.0)
        t0 = time.monotonic()
        with pytest.raises(LLMError, match=r"timed out after 1 s .*gave up after 2 attempts") as err:
            backend.complete(REQ)
        elapsed = time.monotonic() - t0
    assert 2.0 <= elapsed < 3.0, elapsed
    assert [a.kind for a in err.value.attempts] == ["timeout", "timeout"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_retry_after_is_honoured_up_to_its_cap(provider):
    sleeps: list[float] = []
    with FaultServer(["http_429_retry_after", "http_429_retry_after"]) as server:
        resp = client(provider, server.base_url, sleeps, max_retry_after_s=2.5).complete(REQ)
    assert sleeps == [2.5, 2.5] and [r["status"] for r in resp.retries] == [429, 429]
    sleeps.clear()
    with FaultServer(["http_429_retry_after"]) as server:
        client(provider, server.base_url, sleeps).complete(REQ)
    assert sleeps == [7.0]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("fault", ["usage_na", "usage_missing"])
def test_unusable_usage_is_unknown_never_zero_or_a_crash(provider, fault):
    sleeps: list[float] = []
    with FaultServer([fault]) as server:
        resp = client(provider, server.base_url, sleeps).complete(REQ)
    assert resp.text == "42" and resp.retries == []
    assert (resp.usage.tokens_in, resp.usage.tokens_out, resp.usage.cost_usd) == (None, None, None)
    assert not resp.usage.known


@pytest.mark.parametrize("provider", PROVIDERS)
def test_truncated_answer_is_flagged(provider):
    with FaultServer(["length", "ok"]) as server:
        backend = client(provider, server.base_url, [])
        cut, whole = backend.complete(REQ), backend.complete(REQ)
    assert cut.truncated and cut.finish_reason in ("length", "max_tokens") and cut.text == "partial"
    assert not whole.truncated


@pytest.mark.parametrize("provider", PROVIDERS)
def test_server_not_running(provider):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps: list[float] = []
    with pytest.raises(LLMError, match=r"connection failed.*check that the server is up") as err:
        client(provider, f"http://127.0.0.1:{port}", sleeps).complete(REQ)
    assert [a.kind for a in err.value.attempts] == ["connection"] * 3 and len(sleeps) == 2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_body_its_encoding_does_not_describe_is_retried(provider):
    sleeps: list[float] = []
    with FaultServer(["bad_gzip"]) as server:
        resp = client(provider, server.base_url, sleeps).complete(REQ)
    assert resp.text == "42" and [r["kind"] for r in resp.retries] == ["malformed"]
    assert "cannot be decoded" in resp.retries[0]["reason"]
