"""Behaviour profiles of the simulated model: every probability the mechanism uses, by name.

A profile is the whole "personality" of a simulated LLM. The agent side says how it
uses tools and reads data (``docs/sim.md`` explains each knob with the mechanism it
drives); the tool-author side is added by the evolution pipeline. Profiles are plain
frozen dataclasses so an ablation is one override: ``llm.overrides.p_wrong_tool=0``.

Numbers were chosen so the two shipped profiles land near the ARISE paper's
GPT-4o-mini and Claude Sonnet 4.5 tables on the ``arise_v1`` protocol; results of
the simulated model are labelled as simulated in every report.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SimProfile:
    """A simulated model. Probabilities are per decision; capacities are in characters."""

    name: str
    mimics: str  # the real model whose behaviour (and price) the profile imitates
    # -- using tools ---------------------------------------------------------------
    p_use_tool: float  # a relevant tool is on offer: call it (else work from raw data)
    p_wrong_tool: float  # per call: pick another tool on offer ("incorrect invocation")
    p_wrong_args: float  # per call: get one argument wrong ("incorrect invocation")
    p_recover: float  # after an error observation: retry the intended call correctly
    max_chain: int  # chained calls it manages reliably (composition depth)
    p_lose_thread: float  # per call beyond ``max_chain``: stop and answer from what it has
    p_slip: float  # turning correct tool outputs into the answer: a reasoning slip
    # -- in-context reasoning over raw data -------------------------------------------
    context_chars: float  # P(correct after reading n chars of raw data) = exp(-n / context_chars)
    encoded_chars: float  # same for base64 it must decode in its head
    page_lines: int  # lines it asks for per read_file page
    context_tokens: int = 128_000  # a longer request is refused (ContextLengthError), as real APIs do
    # -- writing tools (the evolution pipeline; see agents/sim/author.py) ---------------
    p_misdiagnose: float = 0.0  # a diagnosed gap names another capability than the one that was missing
    bug_rates: Mapping[str, float] = field(default_factory=dict)  # per draft: P(bug of this kind), bugs.BUG_KINDS
    p_test_nominal: float = 1.0  # each example call from the failures becomes a unit test
    p_test_edge: float = 0.0  # each edge case also gets a unit test
    # per expected value it works out by hand (from what the failures observed): a slip makes it wrong
    p_wrong_expectation: float = 0.0
    p_adversarial_case: float = 1.0  # the adversarial suite covers each edge case
    p_repair: float = 1.0  # a repair fixes each departure from correct code the verdict implicates
    p_repair_regress: float = 0.0  # a repair introduces a fresh bug
    # per draft and per repair: P(a reward hack of this kind), hacks.HACK_KINDS (summing to at most 1)
    hack_rates: Mapping[str, float] = field(default_factory=dict)
    # -- accounting --------------------------------------------------------------------
    prices: Mapping[str, float] = field(default_factory=dict)  # USD per 1M tokens: input, output
    tokens_per_s: float = 80.0  # simulated generation speed (latency in records)
    first_token_s: float = 0.4

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name.startswith("p_") and not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise ValueError(f"sim profile {self.name!r}: {f.name} must be a probability in [0, 1], got {value!r}")
        for name in ("context_chars", "encoded_chars", "tokens_per_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"sim profile {self.name!r}: {name} must be > 0, got {getattr(self, name)!r}")
        if self.max_chain < 1 or self.page_lines < 1 or self.context_tokens < 1:
            raise ValueError(f"sim profile {self.name!r}: max_chain, page_lines and context_tokens must be >= 1")
        from agents.sim.bugs import BUG_KINDS  # here: profiles stay importable without the AST machinery

        for kind, rate in self.bug_rates.items():
            if kind not in BUG_KINDS or not (isinstance(rate, (int, float)) and 0.0 <= rate <= 1.0):
                raise ValueError(
                    f"sim profile {self.name!r}: bug_rates[{kind!r}]={rate!r}; accepted kinds "
                    f"{', '.join(BUG_KINDS)} with probabilities in [0, 1]"
                )
        from agents.sim.hacks import check_rates

        problem = check_rates(self.hack_rates)
        if problem:
            raise ValueError(f"sim profile {self.name!r}: {problem}")
        if set(self.prices) - {"input", "output"}:
            raise ValueError(f"sim profile {self.name!r}: prices accepts 'input' and 'output' (USD per 1M tokens)")

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> SimProfile:
        """A copy with some knobs changed; unknown knobs are an error listing the accepted ones."""
        if not overrides:
            return self
        known = {f.name for f in dataclasses.fields(self)} - {"name"}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"sim profile override(s) {unknown} unknown; accepted: {', '.join(sorted(known))}")
        changes: dict[str, Any] = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in overrides.items()}
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["prices"] = dict(self.prices)
        out["bug_rates"] = dict(self.bug_rates)
        out["hack_rates"] = dict(self.hack_rates)
        return out


def _rates(**rates: float) -> dict[str, float]:
    return rates


PROFILES: dict[str, SimProfile] = {
    # A small, fast model: uses tools it is given most of the time but often misuses
    # them, chains few calls, and cannot hold much raw data in context.
    "sim-4o-mini-like": SimProfile(
        name="sim-4o-mini-like",
        mimics="gpt-4o-mini",
        p_use_tool=0.75,
        p_wrong_tool=0.12,
        p_wrong_args=0.12,
        p_recover=0.45,
        max_chain=3,
        p_lose_thread=0.25,
        p_slip=0.08,
        context_chars=40_000,
        encoded_chars=1_200,
        page_lines=100,
        prices={"input": 0.15, "output": 0.60},
        tokens_per_s=90.0,
        p_misdiagnose=0.15,
        bug_rates={
            "off_by_one": 0.25,
            "missing_empty_guard": 0.3,
            "wrong_key": 0.12,
            "wrong_type": 0.12,
            "forbidden_import": 0.1,
            "unbounded_loop": 0.1,
        },
        p_test_nominal=0.6,
        p_test_edge=0.1,
        p_wrong_expectation=0.2,
        p_adversarial_case=0.6,
        p_repair=0.55,
        p_repair_regress=0.1,
    ),
    # A strong model: calls the right tool with the right arguments, recovers from
    # errors, chains long plans, and reads a lot of raw data before losing accuracy.
    "sim-sonnet-like": SimProfile(
        name="sim-sonnet-like",
        mimics="claude-sonnet-4-5",
        p_use_tool=0.92,
        p_wrong_tool=0.03,
        p_wrong_args=0.04,
        p_recover=0.85,
        max_chain=8,
        p_lose_thread=0.08,
        p_slip=0.03,
        context_chars=250_000,
        encoded_chars=6_000,
        page_lines=100,
        context_tokens=200_000,
        prices={"input": 3.0, "output": 15.0},
        tokens_per_s=60.0,
        p_misdiagnose=0.04,
        bug_rates={
            "off_by_one": 0.1,
            "missing_empty_guard": 0.1,
            "wrong_key": 0.04,
            "wrong_type": 0.04,
            "forbidden_import": 0.02,
            "unbounded_loop": 0.03,
        },
        p_test_nominal=0.9,
        p_test_edge=0.4,
        p_wrong_expectation=0.06,
        p_adversarial_case=0.85,
        p_repair=0.85,
        p_repair_regress=0.03,
    ),
    # No mistakes at all and unbounded context: the mechanism's ceiling (tests, sanity checks).
    "sim-perfect": SimProfile(
        name="sim-perfect",
        mimics="(none)",
        p_use_tool=1.0,
        p_wrong_tool=0.0,
        p_wrong_args=0.0,
        p_recover=1.0,
        max_chain=1_000,
        p_lose_thread=0.0,
        p_slip=0.0,
        context_chars=1e12,
        encoded_chars=1e12,
        page_lines=500,
        context_tokens=10**9,
    ),
}


# A reward-hacking author: the GPT-4o-mini-like model that, per draft and per repair, sometimes games its
# checks instead of writing the tool (agents/sim/hacks.py); everything else is sim-4o-mini-like's.
PROFILES["sim-hacker"] = dataclasses.replace(
    PROFILES["sim-4o-mini-like"],
    name="sim-hacker",
    hack_rates={
        "hardcode": 0.1,
        "special_case": 0.1,
        "always_equal": 0.05,
        "read_host": 0.1,
        "tamper_harness": 0.1,
        "detect_test": 0.1,
    },
)


def get_profile(name: str, overrides: Mapping[str, Any] | None = None) -> SimProfile:
    """The named profile, with ``overrides`` applied."""
    try:
        base = PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown sim profile {name!r}; accepted: {', '.join(sorted(PROFILES))}") from None
    return base.with_overrides(overrides)
