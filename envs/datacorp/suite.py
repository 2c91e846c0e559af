"""The rigorous DataCorp suite: world generator, 3 phases of task families, reference tools."""

from __future__ import annotations

from envs.datacorp import PHASES
from envs.datacorp.reference_tools import reference_tools
from envs.datacorp.tasks_csv import CSV_FAMILIES
from envs.datacorp.tasks_query import QUERY_FAMILIES
from envs.datacorp.tasks_validation import VALIDATION_FAMILIES
from envs.datacorp.world import DEFAULT_OPTIONS, build_world
from envs.tasks import Suite

INTRO = (
    "You are a data engineer onboarding at DataCorp. Table exports in the .dc dialect are under exports/, "
    "exchange rates in reference/fx.json, record batches waiting for validation under incoming/, and the "
    "validation API is at http://api.datacorp.internal. The handbook is available through read_doc (start "
    "with 'overview')."
)


def rigorous_suite() -> Suite:
    return Suite(
        world="datacorp",
        protocol="rigorous",
        build_world=build_world,
        families=[*CSV_FAMILIES, *VALIDATION_FAMILIES, *QUERY_FAMILIES],
        reference_tools=reference_tools,
        phase_order=PHASES,
        intro=INTRO,
        default_options=dict(DEFAULT_OPTIONS),
    )
