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

Module layout: ``arise_v1_world`` (generator, .dc dialect, validation API, the paper's
DCQL semantics, graders' view), ``arise_v1_tasks`` (checks, tasks, oracles, the constant
blob); this module binds them into a ``Suite``.
"""

from __future__ import annotations

from envs.acmecorp.arise_v1_tools import PAPER_TOOLS
from envs.datacorp.arise_v1_tasks import (
    CHECKS,
    CONSTANT_BLOB,
    PHASES,
    QUERIES,
    SPECS,
    DcCheck,
    DcSpec,
    DcV1Task,
    OracleError,
    check_against_schema,
    constant_blob,
    families,
)
from envs.datacorp.arise_v1_world import (
    ERROR_CODES,
    SCHEMAS,
    VALIDATION_HOST,
    VALIDATION_URL,
    DcData,
    DcqlResult,
    build_arise_v1_world,
    parse_dc,
    parse_dcql,
    run_dcql,
    validate_batch,
)
from envs.tasks import Suite

AFFORDANCES: tuple[str, ...] = ("http_get",)

INTRO = (
    "You are a data engineer onboarding at DataCorp. Each task pastes the data you need (DataCorp .dc exports) "
    f"into the question; the validation API is at {VALIDATION_URL}. "
    'Call a tool with {"tool": "<name>", "args": {...}}; when done, reply {"answer": "<your answer as text>"}. '
    "The answer is read as free text."
)


def arise_v1_suite() -> Suite:
    """The ``(datacorp, arise_v1)`` suite: 30 paper tasks, the AcmeCorp paper tools, GET-only HTTP."""
    return Suite(
        world="datacorp",
        protocol="arise_v1",
        build_world=build_arise_v1_world,
        families=list(families()),
        # The paper's fixed_tools runs on DataCorp got AcmeCorp's seven tools: reproduced, not fixed.
        reference_tools=lambda: list(PAPER_TOOLS),
        phase_order=PHASES,
        affordances=AFFORDANCES,
        intro=INTRO,
        # The largest prompt (orders + customers inline) is about 4 KB and the largest GET answer
        # about 1 KB; the AcmeCorp tools echo their input, so leave room for a few pasted exports.
        max_observation_chars=50_000,
    )


__all__ = [
    "AFFORDANCES",
    "CHECKS",
    "CONSTANT_BLOB",
    "ERROR_CODES",
    "INTRO",
    "PAPER_TOOLS",
    "PHASES",
    "QUERIES",
    "SCHEMAS",
    "SPECS",
    "VALIDATION_HOST",
    "VALIDATION_URL",
    "DcCheck",
    "DcData",
    "DcSpec",
    "DcV1Task",
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
    "validate_batch",
]
