"""Prices (USD per 1M input / output tokens, from config) and usage accounting.

``PriceTable.from_config({"gpt-4o-mini": {"input": 0.15, "output": 0.60}})``. A model
without a price gets ``cost_usd=None`` (recorded as unknown, never a crash), and a
``UsageMeter`` counts such calls in ``unpriced_calls`` so a total is never silently low.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
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

    def cost(self, model: str, tokens_in: int, tokens_out: int) -> float | None:
        price = self.prices.get(model)
        if price is None:
            return None
        return (tokens_in * price.input_per_m + tokens_out * price.output_per_m) / 1_000_000

    def usage(self, model: str, tokens_in: int, tokens_out: int) -> Usage:
        return Usage(tokens_in, tokens_out, self.cost(model, tokens_in, tokens_out))


class UsageMeter:
    """Thread-safe running totals of calls, tokens and cost (one per episode, cycle or run)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls = 0
        self.tokens_in = 0
        self.tokens_out = 0
        self.cost_usd = 0.0
        self.unpriced_calls = 0

    def add(self, usage: Usage) -> None:
        with self._lock:
            self.calls += 1
            self.tokens_in += usage.tokens_in
            self.tokens_out += usage.tokens_out
            if usage.cost_usd is None:
                self.unpriced_calls += 1
            else:
                self.cost_usd += usage.cost_usd

    def merge(self, other: UsageMeter) -> None:
        snap = other.to_dict()
        with self._lock:
            self.calls += snap["llm_calls"]
            self.tokens_in += snap["tokens_in"]
            self.tokens_out += snap["tokens_out"]
            self.cost_usd += snap["cost_usd"] or 0.0
            self.unpriced_calls += snap["unpriced_calls"]

    def to_dict(self) -> dict[str, Any]:
        """Totals; ``cost_usd`` is ``None`` when no call had a price."""
        with self._lock:
            priced = self.calls - self.unpriced_calls
            return {
                "llm_calls": self.calls,
                "tokens_in": self.tokens_in,
                "tokens_out": self.tokens_out,
                "cost_usd": round(self.cost_usd, 10) if priced or not self.calls else None,
                "unpriced_calls": self.unpriced_calls,
            }
