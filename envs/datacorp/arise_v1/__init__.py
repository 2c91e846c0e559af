"""DataCorp under the ARISE paper's protocol (``arise_v1``): the suite, its checks and oracle.

The paper-compatible protocol: 30 tasks in 3 phases of 10 (csv, validation, query),
the exports pasted inline into the prompts, the validation API behind a URL, free-text
answers graded by the paper's substring checks with their known flaws. It exists so
published numbers can be compared on the same footing; ``docs/arise_v1_datacorp.md``
lists what it cannot measure.

    from envs.datacorp.arise_v1 import arise_v1_suite, CONSTANT_BLOB
    from envs.oracle import run_oracle
    suite = arise_v1_suite()
    inst = suite.instance(42, "test", "v1.query.07")
    answer, calls = run_oracle(suite, inst)
    inst.grade(answer).success, inst.grade(CONSTANT_BLOB).success

Two reference flaws are part of the suite itself: the affordances are ``("http_get",)``
only, so ``POST /validate`` is out of the agent's reach, and ``reference_tools`` (what
the ``fixed_tools`` condition offers) are the seven *AcmeCorp* paper tools, as in the
paper's DataCorp runs.

Package layout: ``world`` (handbook, assembly, graders' view ``DcData``) over ``constants``,
``dc_exports`` (the .dc dialect), ``validation`` (rules and API) and ``lenient_dcql`` (the
paper's DCQL semantics); ``checks`` (the paper's free-text checks),
``fixtures`` (the fixed validation records and queries), ``analyses``, ``prompts`` and
``oracle_reads`` (what truths, prompts and oracles share), one ``phase_<name>`` module per
phase's 10 tasks; this module binds them into a ``Suite`` with the protocol's shared
machinery (``envs.arise_v1``).
"""

from __future__ import annotations

from envs.acmecorp.arise_v1.tools import PAPER_TOOLS
from envs.arise_v1 import AFFORDANCES, ANSWER_RULES, PaperSpec, PaperTask, ordered_specs, paper_suite
from envs.datacorp import PHASES
from envs.datacorp.arise_v1.checks import CHECKS, DataCorpPaperCheck
from envs.datacorp.arise_v1.constants import (
    COLUMNS,
    CURRENCIES,
    CUSTOMER_EMAILS,
    SCHEMA_NAMES,
    SCHEMAS,
    STATUSES,
    VALIDATION_CODES,
    VALIDATION_HOST,
    VALIDATION_URL,
)
from envs.datacorp.arise_v1.dc_exports import parse_dc
from envs.datacorp.arise_v1.fixtures import QUERIES
from envs.datacorp.arise_v1.lenient_dcql import DcqlResult, parse_dcql, run_dcql
from envs.datacorp.arise_v1.oracle_reads import check_against_schema
from envs.datacorp.arise_v1.phase_csv import CSV_TASKS
from envs.datacorp.arise_v1.phase_query import QUERY_TASKS
from envs.datacorp.arise_v1.phase_validation import VALIDATION_TASKS
from envs.datacorp.arise_v1.validation import validate_batch
from envs.datacorp.arise_v1.world import DcData, build_arise_v1_world
from envs.oracle import OracleError
from envs.tasks import Suite

PHASE_TABLES = (CSV_TASKS, VALIDATION_TASKS, QUERY_TASKS)

INTRO = (
    "You are a data engineer onboarding at DataCorp. Each task pastes the data you need (DataCorp .dc exports) "
    f"into the question; the validation API is at {VALIDATION_URL}. " + ANSWER_RULES
)


class DataCorpPaperTask(PaperTask):
    """One of the paper's 30 DataCorp tasks; its truth reads the world through ``WorldAccess``."""

    check_type = DataCorpPaperCheck


def specs() -> list[PaperSpec]:
    return ordered_specs("datacorp", PHASES, PHASE_TABLES)


def families() -> list[DataCorpPaperTask]:
    """The 30 tasks in the paper's order (phase, then number)."""
    return [DataCorpPaperTask(s) for s in specs()]


def arise_v1_suite() -> Suite:
    """The ``(datacorp, arise_v1)`` suite: 30 paper tasks, the AcmeCorp paper tools, GET-only HTTP."""
    return paper_suite(
        "datacorp",
        build_arise_v1_world,
        families(),
        # The paper's fixed_tools runs on DataCorp got AcmeCorp's seven tools: reproduced, not fixed.
        PAPER_TOOLS,
        PHASES,
        INTRO,
        # The largest prompt (orders + customers inline) is about 4 KB and the largest GET answer
        # about 1 KB; the AcmeCorp tools echo their input, so leave room for a few pasted exports.
        max_observation_chars=50_000,
    )


BLOB_KEYWORDS: tuple[str, ...] = ("valid", "invalid", "fix", "fixed", "duplicate", "error", "none", "count", "rows")
BLOB_NAMES: tuple[str, ...] = (
    *SCHEMA_NAMES,
    *dict.fromkeys(c for cols in COLUMNS.values() for c in cols),
    *CURRENCIES,
    *STATUSES,
    *CUSTOMER_EMAILS,
)


def constant_blob(max_int: int = 999) -> str:
    """Codes first (so the DC_HASH check's first 20 characters hold hex digits), names, keywords, 0..max_int."""
    return " ".join([*VALIDATION_CODES, *BLOB_NAMES, *BLOB_KEYWORDS, *(str(i) for i in range(max_int + 1))])


CONSTANT_BLOB: str = constant_blob()
"""An input-independent answer: DC-001..DC-010, schema and column names, currency and
status codes, the customer emails, a few keywords, and the integers 0..999.

The paper's checks accept it on almost every task (see docs/arise_v1_datacorp.md); it
is the null baseline that shows how much of a score this protocol hands out for free.
"""

__all__ = [
    "AFFORDANCES",
    "CHECKS",
    "CONSTANT_BLOB",
    "INTRO",
    "PAPER_TOOLS",
    "PHASES",
    "PHASE_TABLES",
    "QUERIES",
    "SCHEMAS",
    "VALIDATION_CODES",
    "VALIDATION_HOST",
    "VALIDATION_URL",
    "DataCorpPaperCheck",
    "DataCorpPaperTask",
    "DcData",
    "DcqlResult",
    "OracleError",
    "arise_v1_suite",
    "build_arise_v1_world",
    "check_against_schema",
    "constant_blob",
    "families",
    "parse_dc",
    "parse_dcql",
    "run_dcql",
    "specs",
    "validate_batch",
]
