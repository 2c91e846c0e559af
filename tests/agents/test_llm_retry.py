"""Retries, backoff, Retry-After, timeouts, auth errors and the per-endpoint concurrency limit."""

from __future__ import annotations

import threading
import time
from email.utils import formatdate

import httpx
import pytest
import respx

from agents.llm import AuthError, ChatRequest, LLMError, OpenAIChat, RateLimitError, RetryPolicy
from agents.llm.retry import endpoint_limiter, parse_retry_after

OK = {"choices": [{"message": {"role": "assistant", "content": "42"}, "finish_reason": "stop"}], "usage": {}}
REQ = ChatRequest(model="m", messages=[{"role": "user", "content": "q"}])


def client(base_url: str, policy: RetryPolicy, **kw) -> OpenAIChat:
    return OpenAIChat(model="m", base_url=base_url, api_key_env=None, client=httpx.Client(), retry=policy, **kw)


def test_429_honours_retry_after_seconds(base_url, policy, sleeps):
    with respx.mock:
        route = respx.post(f"{base_url}/chat/completions")
        route.side_effect = [httpx.Response(429, headers={"retry-after": "2"}), httpx.Response(200, json=OK)]
        assert client(base_url, policy).complete(REQ).text == "42"
    assert route.call_count == 2 and sleeps == [2.0]


def test_retry_after_http_date(base_url, sleeps):
    now = 1_700_000_000.0
    policy = RetryPolicy(max_attempts=2, sleep=sleeps.append, now=lambda: now)
    with respx.mock:
        route = respx.post(f"{base_url}/chat/completions")
        date = formatdate(now + 5, usegmt=True)
        route.side_effect = [httpx.Response(429, headers={"retry-after": date}), httpx.Response(200, json=OK)]
        client(base_url, policy).complete(REQ)
    assert sleeps == [5.0]
    assert parse_retry_after("garbage", now) is None
    assert parse_retry_after(formatdate(now - 10, usegmt=True), now) == 0.0
    assert RetryPolicy(max_retry_after_s=60).delay(1, "3600") == 60


def test_5xx_retried_with_seeded_exponential_backoff(base_url, policy, sleeps):
    with respx.mock:
        route = respx.post(f"{base_url}/chat/completions")
        route.side_effect = [httpx.Response(503), httpx.Response(500, text="oops"), httpx.Response(200, json=OK)]
        assert client(base_url, policy).complete(REQ).text == "42"
    assert route.call_count == 3 and len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 0.5 * 1.25 and 1.0 <= sleeps[1] <= 1.0 * 1.25
    again = RetryPolicy(base_delay_s=0.5, jitter=0.25, seed=7)
    assert [again.backoff(1), again.backoff(2)] == sleeps  # same seed, same jitter
    assert RetryPolicy(base_delay_s=1, max_delay_s=4, jitter=0).backoff(10) == 4


def test_retries_exhausted(base_url, policy, sleeps):
    with respx.mock:
        route = respx.post(f"{base_url}/chat/completions").respond(429)
        with pytest.raises(RateLimitError, match="gave up after 3 attempts") as err:
            client(base_url, policy).complete(REQ)
    assert route.call_count == 3 and len(sleeps) == 2 and err.value.status == 429
    with respx.mock:
        respx.post(f"{base_url}/chat/completions").respond(502)
        with pytest.raises(LLMError, match="502") as err2:
            client(base_url, policy).complete(REQ)
    assert not isinstance(err2.value, RateLimitError)


def test_timeouts_and_connection_errors_retried(base_url, policy, sleeps):
    with respx.mock:
        route = respx.post(f"{base_url}/chat/completions")
        route.side_effect = [httpx.ReadTimeout("slow"), httpx.ConnectError("refused"), httpx.Response(200, json=OK)]
        assert client(base_url, policy, timeout_s=1.5).complete(REQ).text == "42"
    assert route.call_count == 3 and len(sleeps) == 2
    with respx.mock:
        respx.post(f"{base_url}/chat/completions").mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(LLMError, match=r"timed out after 1.5 s .*gave up after 3 attempts"):
            client(base_url, policy, timeout_s=1.5).complete(REQ)


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_not_retried(base_url, policy, sleeps, fake_key, status):
    with respx.mock:
        route = respx.post(f"{base_url}/chat/completions").respond(status, json={"error": "bad key"})
        backend = OpenAIChat(model="m", base_url=base_url, api_key_env=fake_key, client=httpx.Client(), retry=policy)
        with pytest.raises(AuthError, match=f"check that {fake_key} holds a valid key"):
            backend.complete(REQ)
    assert route.call_count == 1 and sleeps == []


def test_other_4xx_not_retried(base_url, policy, sleeps):
    with respx.mock:
        route = respx.post(f"{base_url}/chat/completions").respond(400, json={"error": "model not found"})
        with pytest.raises(LLMError, match="model not found"):
            client(base_url, policy).complete(REQ)
    assert route.call_count == 1 and sleeps == []


def test_concurrency_limit_shared_per_endpoint(base_url):
    in_flight = 0
    peak = 0
    lock = threading.Lock()

    def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.03)
        with lock:
            in_flight -= 1
        return httpx.Response(200, json=OK)

    policy = RetryPolicy(max_attempts=1)
    with respx.mock:
        respx.post(f"{base_url}/chat/completions").mock(side_effect=slow)
        # two clients on one endpoint share its limit of 2
        clients = [client(base_url, policy, max_concurrency=2), client(base_url, policy, max_concurrency=2)]
        threads = [threading.Thread(target=clients[i % 2].complete, args=(REQ,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert peak == 2
    assert endpoint_limiter(base_url, 5) is endpoint_limiter(base_url + "/", 1)
    with pytest.raises(ValueError):
        endpoint_limiter(base_url, 0)
