"""Shared helpers for the LLM client tests: a fake key, recorded sleeps, unique endpoints."""

from __future__ import annotations

import itertools

import pytest

from agents.llm.retry import RetryPolicy

FAKE_KEY = "sk-test-SECRET-5f0c2a91d7e4"
_endpoint_ids = itertools.count()


@pytest.fixture
def fake_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ARISE_TEST_LLM_KEY", FAKE_KEY)
    return "ARISE_TEST_LLM_KEY"


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def policy(sleeps: list[float]) -> RetryPolicy:
    return RetryPolicy(max_attempts=3, base_delay_s=0.5, max_delay_s=4.0, jitter=0.25, seed=7, sleep=sleeps.append)


@pytest.fixture
def base_url() -> str:
    """A fresh endpoint per test, so the process-wide concurrency registry never leaks between tests."""
    return f"https://llm{next(_endpoint_ids)}.test/v1"
