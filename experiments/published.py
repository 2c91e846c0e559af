"""Published reference numbers the report puts next to ours (facts from the papers, in %).

Source: the ARISE paper (Tables 2-6 and its tool-quality paragraph) and the Tool-Genesis paper,
as collected in ``shared/reference/published-numbers.md``. Each table names the setting our sweep
must match for a side-by-side (world, protocol, model profile); rows of ours made with the
simulated model are marked as simulated in the report, never silently compared as equals.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PublishedRow:
    condition: str  # our condition name
    by_phase: dict[str, float]  # phase -> success % (mean over the paper's seeds)
    overall: float
    sd: dict[str, float] = field(default_factory=dict)  # phase/"overall" -> std over seeds, when published
    tools: str = ""  # tools evolved, as published
    note: str = ""


@dataclass(frozen=True)
class PublishedTable:
    key: str
    title: str
    world: str
    protocol: str
    profile: str  # the simulated profile that stands in for the paper's model
    model: str  # the paper's model
    seeds: str
    rows: tuple[PublishedRow, ...]


ACME = ("logs", "metrics", "config", "incidents")

TABLES: tuple[PublishedTable, ...] = (
    PublishedTable(
        key="table2",
        title="ARISE Table 2 (AcmeCorp, GPT-4o-mini, mean ± sd over seeds 42/123/456)",
        world="acmecorp",
        protocol="arise_v1",
        profile="sim-4o-mini-like",
        model="gpt-4o-mini",
        seeds="42, 123, 456",
        rows=(
            PublishedRow(
                "arise",
                dict(zip(ACME, (18, 29, 95, 33))),
                44,
                sd={"logs": 8, "metrics": 10, "config": 4, "incidents": 0, "overall": 4},
                tools="10 ± 2",
            ),
            PublishedRow(
                "no_evolution",
                dict(zip(ACME, (29, 7, 98, 60))),
                48,
                sd={"logs": 8, "metrics": 0, "config": 4, "incidents": 0, "overall": 2},
                tools="0",
            ),
            PublishedRow("fixed_tools", dict(zip(ACME, (13, 53, 87, 40))), 43, tools="7 (hand-written)"),
        ),
    ),
    PublishedTable(
        key="table3",
        title="ARISE Table 3 (AcmeCorp, Claude Sonnet 4.5, seed 42)",
        world="acmecorp",
        protocol="arise_v1",
        profile="sim-sonnet-like",
        model="claude-sonnet-4.5",
        seeds="42",
        rows=(
            PublishedRow("arise", dict(zip(ACME, (60, 73, 100, 80))), 78, tools="2"),
            PublishedRow("no_evolution", dict(zip(ACME, (60, 13, 100, 80))), 63, tools="0"),
        ),
    ),
    PublishedTable(
        key="table4",
        title="ARISE Table 4 (DataCorp, GPT-4o-mini, quick mode; overall only)",
        world="datacorp",
        protocol="arise_v1",
        profile="sim-4o-mini-like",
        model="gpt-4o-mini",
        seeds="one run",
        rows=(
            PublishedRow("arise", {}, 92),
            PublishedRow("no_evolution", {}, 50),
        ),
    ),
)

# Table 5: error categories of 30 failed ARISE trajectories (GPT-4o-mini), counts.
ERROR_TAXONOMY = {
    "incorrect_invocation": 11,
    "not_called": 7,
    "missing_tool": 5,
    "wrong_reasoning": 4,
    "grader_strictness": 3,
}


@dataclass(frozen=True)
class ToolQuality:
    candidates: str  # per run, mean ± sd as published
    promotion_rate: float  # %
    active_tools: str
    rejections: dict[str, float]  # rejection reason -> % of rejections


# The tool-quality paragraph (per run, GPT-4o-mini).
TOOL_QUALITY = ToolQuality(
    candidates="21 ± 3",
    promotion_rate=50.0,
    active_tools="10 ± 2",
    rejections={"sandbox_tests": 41.0, "adversarial_tests": 35.0, "static_policy": 24.0},
)


@dataclass(frozen=True)
class CostRow:
    model: str
    condition: str
    duration: str
    llm_calls: str
    cost_usd: float


# Table 6: per 60-episode run.
COST = (
    CostRow("gpt-4o-mini", "no_evolution", "8 min", "60", 0.18),
    CostRow("gpt-4o-mini", "arise", "3-4 h", "~120", 0.44),
    CostRow("gpt-4o-mini", "fixed_tools", "2.5 h", "~240", 0.18),
    CostRow("claude-sonnet-4.5", "no_evolution", "10 min", "60", 3.00),
    CostRow("claude-sonnet-4.5", "arise", "5 h", "~65", 5.50),
)
# Which paper model a simulated profile stands in for.
PROFILE_MODEL = {"sim-4o-mini-like": "gpt-4o-mini", "sim-sonnet-like": "claude-sonnet-4.5"}


@dataclass(frozen=True)
class GenesisRow:
    setting: str  # Direct | Code-Agent
    model: str
    compliance: float | None
    exec: float | None
    schema_f1: float | None
    ut_hard: float | None
    sr: float | None


# Tool-Genesis: Direct (one-shot) vs Code-Agent (closed repair loop); None = not published.
TOOL_GENESIS = (
    GenesisRow("Direct", "GPT-5.1", 0.826, 0.759, 0.688, 0.161, 0.372),
    GenesisRow("Direct", "Claude Haiku 3.5", 0.744, 0.012, 0.012, 0.000, 0.012),
    GenesisRow("Code-Agent", "GPT-5.1", 0.895, 0.941, 0.867, 0.246, 0.604),
    GenesisRow("Code-Agent", "Claude Haiku 3.5", 0.733, 0.964, 0.821, 0.180, 0.472),
    GenesisRow("Code-Agent", "Kimi-K2", None, None, None, None, 0.585),
    GenesisRow("Code-Agent", "Gemini-3-Flash", None, None, None, None, 0.581),
    GenesisRow("Code-Agent", "Qwen3-235B", None, None, None, None, 0.472),
    GenesisRow("Code-Agent", "DeepSeek-V3.2", None, None, None, None, 0.449),
)
