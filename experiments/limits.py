"""When a job stops early (``limits.*``): a model that keeps failing, and spending limits.

``Breaker``: after ``max_consecutive_llm_failures`` episodes in a row whose model failed, the
job stops (a dead endpoint costs one short wait, not a whole job of failures).

Spending limits of a job and of a sweep are checked before the first episode and after every one.

A job's spend is its LLM use over every role (``usage.total``: agent, evolution, diagnostics).
A sweep's spend is the sum of its jobs': each job keeps its own running total in
``<sweep dir>/.spend/<job>.json`` (written atomically; no lock needed, as no file has two
writers), so processes of any launcher share the limit. Jobs running at the same moment may
overshoot a sweep limit by one episode each. When a limit is reached the job stops with every
record kept and says what was spent; raising the limit and running the same command continues it
(limits are not part of a job's plan).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class JobStopped(RuntimeError):
    """The job stopped before its end for a reason outside the config; every record is kept and
    the same command continues it."""


class BudgetReached(JobStopped):
    """A spending limit was reached."""


class Breaker:
    """Counts consecutive episodes whose model failed; raises ``JobStopped`` at ``limit``."""

    def __init__(self, limit: int, out_dir: Path) -> None:
        self.limit, self.out_dir, self.run = limit, out_dir, 0

    def update_evolution(self, evolver: Any) -> None:
        """The tool author's calls in a row that failed (``Evolver.consecutive_llm_failures``)."""
        if evolver.consecutive_llm_failures >= self.limit:
            raise JobStopped(
                f"stopped after {evolver.consecutive_llm_failures} consecutive tool-author calls failed (last: "
                f"{evolver.last_llm_failure}); every record is kept in {self.out_dir}; fix the endpoint and run "
                f"the same command again (limits.max_consecutive_llm_failures={self.limit})"
            )

    def update(self, record: dict[str, Any]) -> None:
        self.run = self.run + 1 if record.get("llm_failure") else 0
        if self.run >= self.limit:
            raise JobStopped(
                f"stopped after {self.run} consecutive episodes whose LLM calls failed (last: "
                f"{record['llm_failure']}); every record is kept in {self.out_dir}; fix the endpoint and run "
                f"the same command again to retry them (limits.max_consecutive_llm_failures={self.limit})"
            )


@dataclass(frozen=True)
class Spend:
    cost_usd: float | None  # None: unknown (a call without a price or usage)
    tokens: int  # of the calls whose usage is known
    calls: int
    unknown_usage_calls: int = 0  # calls whose server sent no usable token counts
    unpriced_calls: int = 0

    @classmethod
    def of(cls, totals: dict[str, Any]) -> Spend:
        return cls(
            totals.get("cost_usd"),
            int(totals.get("tokens_in") or 0) + int(totals.get("tokens_out") or 0),
            int(totals.get("llm_calls") or 0),
            int(totals.get("unknown_usage_calls") or 0),
            int(totals.get("unpriced_calls") or 0),
        )

    def describe(self) -> str:
        cost = "unknown cost" if self.cost_usd is None else f"${self.cost_usd:.4f}"
        return f"{cost}, {self.tokens:,} tokens, {self.calls:,} calls"


@dataclass
class Budget:
    max_cost_usd: float | None = None
    max_tokens: int | None = None
    sweep_max_cost_usd: float | None = None
    sweep_max_tokens: int | None = None
    ledger: Path | None = None  # this job's file in the sweep's .spend directory (None: not in a sweep)

    def __post_init__(self) -> None:
        for name in ("max_cost_usd", "max_tokens", "sweep_max_cost_usd", "sweep_max_tokens"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"limits.{name} must be > 0 or null (no limit), got {value}")

    @property
    def sweep_limited(self) -> bool:
        return self.sweep_max_cost_usd is not None or self.sweep_max_tokens is not None

    def check(self, totals: dict[str, Any]) -> None:
        """Record the job's spend so far (``UsageMeter.to_dict`` totals) and stop at a limit."""
        job = Spend.of(totals)
        if self.ledger is not None:
            self.ledger.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.ledger.with_suffix(".tmp")
            tmp.write_text(json.dumps({"cost_usd": job.cost_usd, "tokens": job.tokens, "calls": job.calls,
                                       "unknown_usage_calls": job.unknown_usage_calls,
                                       "unpriced_calls": job.unpriced_calls}))  # fmt: skip
            os.replace(tmp, self.ledger)
        _over("this job", job, self.max_cost_usd, self.max_tokens, "limits.max_cost_usd", "limits.max_tokens")
        if self.sweep_limited:
            if self.ledger is None:
                raise BudgetReached("limits.sweep_max_* need a sweep (-m); use limits.max_cost_usd / max_tokens")
            sweep = self.sweep_spend()
            _over(
                f"the sweep ({self.ledger.parent.parent})", sweep, self.sweep_max_cost_usd, self.sweep_max_tokens,
                "limits.sweep_max_cost_usd", "limits.sweep_max_tokens",
            )  # fmt: skip

    def sweep_spend(self) -> Spend:
        assert self.ledger is not None
        cost: float | None = 0.0
        tokens = calls = unknown = unpriced = 0
        for path in sorted(self.ledger.parent.glob("*.json")):
            try:
                entry = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                continue  # being replaced right now: counted at the next check
            tokens += int(entry.get("tokens") or 0)
            calls += int(entry.get("calls") or 0)
            unknown += int(entry.get("unknown_usage_calls") or 0)
            unpriced += int(entry.get("unpriced_calls") or 0)
            if entry.get("cost_usd") is None and entry.get("calls"):
                cost = None
            elif cost is not None:
                cost += float(entry.get("cost_usd") or 0.0)
        return Spend(cost, tokens, calls, unknown, unpriced)


def _over(who: str, spend: Spend, max_cost: float | None, max_tokens: int | None, cost_key: str, tok_key: str) -> None:
    if (max_cost is not None and spend.cost_usd is None and spend.calls) or (
        max_tokens is not None and spend.unknown_usage_calls
    ):
        why = []
        if spend.unknown_usage_calls:
            why.append(f"{spend.unknown_usage_calls} call(s) came back without usable token counts")
        if spend.unpriced_calls > spend.unknown_usage_calls:
            why.append("the model has no price in llm.prices")
        key, value = (cost_key, f"{max_cost:g}") if max_cost is not None else (tok_key, f"{max_tokens:,}")
        raise BudgetReached(
            f"{who} has spent {spend.describe()} and its spend is unknown ({'; '.join(why)}), so {key}={value} "
            "cannot be enforced; lift the limit (null) to continue without it, or use a server that reports usage"
        )
    if max_cost is not None and spend.cost_usd is not None and spend.cost_usd >= max_cost:
        raise BudgetReached(
            f"{who} reached {cost_key}={max_cost:g} (spent {spend.describe()}); every record is kept: raise "
            "the limit and run the same command to continue"
        )
    if max_tokens is not None and spend.tokens >= max_tokens:
        raise BudgetReached(
            f"{who} reached {tok_key}={max_tokens:,} (spent {spend.describe()}); every record is kept: raise "
            "the limit and run the same command to continue"
        )
