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

Module layout: ``arise_v1_world`` (generator, metrics API, graders' view),
``arise_v1_tools`` (the seven paper tools), ``arise_v1_tasks`` (checks, tasks,
oracles, the constant blob); this module binds them into a ``Suite``.
"""

from __future__ import annotations

from envs.acmecorp.arise_v1_tasks import (
    CHECKS,
    CONSTANT_BLOB,
    PHASES,
    SPECS,
    OracleError,
    PaperCheck,
    V1Spec,
    V1Task,
    families,
)
from envs.acmecorp.arise_v1_tools import (
    PAPER_TOOLS,
    count_acme_errors,
    diff_acmeconf,
    fetch_acme_metrics,
    filter_acme_logs,
    parse_acme_log,
    parse_acmeconf,
    validate_acmeconf,
)
from envs.acmecorp.arise_v1_world import METRICS_HOST, METRICS_URL, SERVICES, V1Data, build_arise_v1_world
from envs.tasks import Suite

AFFORDANCES: tuple[str, ...] = ("http_get",)

INTRO = (
    "You are an SRE onboarding at AcmeCorp. Each task pastes the data you need (log lines, AcmeConf files) "
    f"into the question, except metrics, which come from the HTTP API at {METRICS_URL}. "
    'Call a tool with {"tool": "<name>", "args": {...}}; when done, reply {"answer": "<your answer as text>"}. '
    "The answer is read as free text."
)


def arise_v1_suite() -> Suite:
    """The ``(acmecorp, arise_v1)`` suite: 60 paper tasks, the 7 paper tools, GET-only HTTP."""
    return Suite(
        world="acmecorp",
        protocol="arise_v1",
        build_world=build_arise_v1_world,
        families=list(families()),
        reference_tools=lambda: list(PAPER_TOOLS),
        phase_order=PHASES,
        affordances=AFFORDANCES,
        intro=INTRO,
        # Prompts paste up to 500 log lines inline (about 60 KB), as the paper did.
        max_observation_chars=400_000,
    )


__all__ = [
    "AFFORDANCES",
    "CHECKS",
    "CONSTANT_BLOB",
    "INTRO",
    "METRICS_HOST",
    "METRICS_URL",
    "PAPER_TOOLS",
    "PHASES",
    "SERVICES",
    "SPECS",
    "OracleError",
    "PaperCheck",
    "V1Data",
    "V1Spec",
    "V1Task",
    "arise_v1_suite",
    "build_arise_v1_world",
    "count_acme_errors",
    "diff_acmeconf",
    "families",
    "fetch_acme_metrics",
    "filter_acme_logs",
    "parse_acme_log",
    "parse_acmeconf",
    "validate_acmeconf",
]
