"""AcmeCorp under the ARISE paper's protocol (``arise_v1``): the suite, its tools and oracle.

The paper-compatible protocol: 60 tasks in 4 phases of 15, data pasted inline into
the prompts (except the metrics API), free-text answers graded by the paper's
substring checks with their known flaws. It exists so published numbers can be
compared on the same footing; ``docs/arise_v1.md`` lists what it cannot measure.

    from envs.tasks import get_suite
    suite = get_suite("acmecorp", "arise_v1")
    inst = suite.instance(42, "test", "v1.metrics.02")
    answer, calls = run_oracle(suite, inst)  # from envs.oracle
    inst.grade(answer)

Package layout: ``world`` (generator, metrics API, graders' view ``V1Data``), ``tools``
(the seven paper tools), ``checks`` (the paper's free-text checks), ``analyses``,
``prompts`` and ``oracle_calls`` (what truths, prompts and oracles share), one
``phase_<name>`` module per phase's 15 tasks; this module binds them into a ``Suite``
with the protocol's shared machinery (``envs.arise_v1``).
"""

from __future__ import annotations

from envs.access import WorldAccess
from envs.acmecorp import PHASES
from envs.acmecorp.arise_v1.checks import CHECKS, AcmePaperCheck
from envs.acmecorp.arise_v1.phase_config import CONFIG_TASKS
from envs.acmecorp.arise_v1.phase_incidents import INCIDENT_TASKS
from envs.acmecorp.arise_v1.phase_logs import LOG_TASKS
from envs.acmecorp.arise_v1.phase_metrics import METRIC_TASKS
from envs.acmecorp.arise_v1.tools import (
    PAPER_TOOLS,
    count_acme_errors,
    diff_acmeconf,
    fetch_acme_metrics,
    filter_acme_logs,
    parse_acme_log,
    parse_acmeconf,
    validate_acmeconf,
)
from envs.acmecorp.arise_v1.world import (
    METRICS_HOST,
    METRICS_URL,
    SERVICES,
    SEVERITIES,
    V1Data,
    build_arise_v1_world,
)
from envs.arise_v1 import AFFORDANCES, ANSWER_RULES, PaperSpec, PaperTask, ordered_specs, paper_suite
from envs.oracle import OracleError
from envs.tasks import Suite

PHASE_TABLES = (LOG_TASKS, METRIC_TASKS, CONFIG_TASKS, INCIDENT_TASKS)

INTRO = (
    "You are an SRE onboarding at AcmeCorp. Each task pastes the data you need (log lines, AcmeConf files) "
    f"into the question, except metrics, which come from the HTTP API at {METRICS_URL}. " + ANSWER_RULES
)


class AcmePaperTask(PaperTask):
    """One of the paper's 60 AcmeCorp tasks; its truth reads the graders' view ``V1Data``."""

    check_type = AcmePaperCheck

    def view(self, access: WorldAccess) -> V1Data:
        return V1Data.load(access)


def specs() -> list[PaperSpec]:
    return ordered_specs("acmecorp", PHASES, PHASE_TABLES)


def families() -> list[AcmePaperTask]:
    """The 60 tasks in the paper's order (phase, then number)."""
    return [AcmePaperTask(s) for s in specs()]


def arise_v1_suite() -> Suite:
    """The ``(acmecorp, arise_v1)`` suite: 60 paper tasks, the 7 paper tools, GET-only HTTP."""
    return paper_suite(
        "acmecorp",
        build_arise_v1_world,
        families(),
        PAPER_TOOLS,
        PHASES,
        INTRO,
        # Prompts paste up to 500 log lines inline (about 60 KB), as the paper did.
        max_observation_chars=400_000,
    )


BLOB_KEYWORDS: tuple[str, ...] = ("error", "cause", "healthy", "none", "valid", "replicas", "no", "rate")
CONSTANT_BLOB: str = " ".join([*SERVICES, *SEVERITIES, *BLOB_KEYWORDS, *(str(i) for i in range(1000))])
"""An input-independent answer: service and severity names, a few keywords, 0..999.

The paper's checks accept it on most tasks (see docs/arise_v1.md); it is the null
baseline that shows how much of a score this protocol can hand out for free.
"""

__all__ = [
    "AFFORDANCES",
    "CHECKS",
    "CONSTANT_BLOB",
    "INTRO",
    "METRICS_HOST",
    "METRICS_URL",
    "PAPER_TOOLS",
    "PHASES",
    "PHASE_TABLES",
    "SERVICES",
    "AcmePaperCheck",
    "AcmePaperTask",
    "OracleError",
    "V1Data",
    "arise_v1_suite",
    "build_arise_v1_world",
    "count_acme_errors",
    "diff_acmeconf",
    "families",
    "fetch_acme_metrics",
    "filter_acme_logs",
    "parse_acme_log",
    "parse_acmeconf",
    "specs",
    "validate_acmeconf",
]
