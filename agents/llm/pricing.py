"""Prices (USD per 1M input / output tokens, from config) and usage accounting.

``PriceTable.from_config({"gpt-4o-mini": {"input": 0.15, "output": 0.60}})``. A model
without a price, or a call without known token counts, gets ``cost_usd=None`` (recorded as
unknown, never a crash, never 0), and a ``UsageMeter`` counts such calls so a total is
never silently low.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agents.llm.types import Usage


@dataclass(frozen=True)
class Price:
    input_per_m: float
    output_per_m: float


@dataclass(frozen=True)
class PriceTable:
    prices: Mapping[str, Price] = field(default_factory=dict)

    @classmethod
    def from_config(cls, table: Mapping[str, Any] | None) -> PriceTable:
        """Build from ``{model: {"input": usd_per_m, "output": usd_per_m}}``."""
        prices: dict[str, Price] = {}
        for model, entry in (table or {}).items():
            if not isinstance(entry, Mapping) or set(entry) != {"input", "output"}:
                raise ValueError(
                    f"price of {model!r} must be a mapping with exactly the keys 'input' and 'output' "
                    f"(USD per 1M tokens), got {entry!r}"
                )
            prices[str(model)] = Price(float(entry["input"]), float(entry["output"]))
        return cls(prices)

    def cost(self, model: str, tokens_in: int | None, tokens_out: int | None) -> float | None:
        price = self.prices.get(model)
        if price is None or tokens_in is None or tokens_out is None:
            return None
        return (tokens_in * price.input_per_m + tokens_out * price.output_per_m) / 1_000_000

    def usage(self, model: str, tokens_in: int | None, tokens_out: int | None) -> Usage:
        return Usage(tokens_in, tokens_out, self.cost(model, tokens_in, tokens_out))


class UsageMeter:
    """Thread-safe running totals of one role's LLM use (an episode, an evolution cycle, a job).

    A call's tokens or cost may be unknown (a server without usable ``usage``, a model without
    a price): they are counted in ``unknown_usage_calls`` / ``unpriced_calls`` and the total cost
    is ``None`` unless every call had a cost. Failed calls (every attempt failed) and failed
    attempts (retried or final) are counted apart from the calls that answered.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls = 0
        self.tokens_in = 0
        self.tokens_out = 0
        self.cost_usd = 0.0
        self.unpriced_calls = 0
        self.unknown_usage_calls = 0
        self.failed_calls = 0
        self.failed_attempts = 0

    def add(self, usage: Usage, retries: int = 0) -> None:
        """A call that answered, after ``retries`` failed attempts."""
        with self._lock:
            self.calls += 1
            self.failed_attempts += retries
            if usage.known:
                self.tokens_in += usage.tokens_in or 0
                self.tokens_out += usage.tokens_out or 0
            else:
                self.unknown_usage_calls += 1
            if usage.cost_usd is None:
                self.unpriced_calls += 1
            else:
                self.cost_usd += usage.cost_usd

    def add_failure(self, attempts: int) -> None:
        """A call that never answered, after ``attempts`` failed attempts."""
        with self._lock:
            self.failed_calls += 1
            self.failed_attempts += max(1, attempts)

    def add_recorded(self, totals: Mapping[str, Any]) -> None:
        """Add totals as ``to_dict`` wrote them (records of earlier versions lack the newer keys)."""
        calls = int(totals.get("llm_calls") or 0)
        cost = totals.get("cost_usd")
        with self._lock:
            self.calls += calls
            self.tokens_in += int(totals.get("tokens_in") or 0)
            self.tokens_out += int(totals.get("tokens_out") or 0)
            if cost is None:
                self.unpriced_calls += int(totals.get("unpriced_calls") or calls)
            else:
                self.cost_usd += float(cost)
                self.unpriced_calls += int(totals.get("unpriced_calls") or 0)
            self.unknown_usage_calls += int(totals.get("unknown_usage_calls") or 0)
            self.failed_calls += int(totals.get("failed_calls") or 0)
            self.failed_attempts += int(totals.get("failed_attempts") or 0)

    @classmethod
    def summed(cls, totals: Iterable[Mapping[str, Any]]) -> UsageMeter:
        """One meter over many recorded totals (episodes of a job, roles of a job)."""
        meter = cls()
        for t in totals:
            meter.add_recorded(t)
        return meter

    def merge(self, other: UsageMeter) -> None:
        with other._lock:
            counts = (other.calls, other.tokens_in, other.tokens_out, other.cost_usd, other.unpriced_calls)
            more = (other.unknown_usage_calls, other.failed_calls, other.failed_attempts)
        with self._lock:
            self.calls += counts[0]
            self.tokens_in += counts[1]
            self.tokens_out += counts[2]
            self.cost_usd += counts[3]
            self.unpriced_calls += counts[4]
            self.unknown_usage_calls += more[0]
            self.failed_calls += more[1]
            self.failed_attempts += more[2]

    def to_dict(self) -> dict[str, Any]:
        """Totals; ``cost_usd`` is ``None`` unless every call that answered had a known cost (and
        there was one)."""
        with self._lock:
            return {
                "llm_calls": self.calls,
                "tokens_in": self.tokens_in,
                "tokens_out": self.tokens_out,
                "cost_usd": round(self.cost_usd, 10) if self.calls and not self.unpriced_calls else None,
                "unpriced_calls": self.unpriced_calls,
                "unknown_usage_calls": self.unknown_usage_calls,
                "failed_calls": self.failed_calls,
                "failed_attempts": self.failed_attempts,
            }
