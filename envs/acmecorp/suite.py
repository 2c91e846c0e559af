"""The rigorous AcmeCorp suite: world generator, 4 phases of task families, reference tools."""

from __future__ import annotations

from envs.acmecorp import PHASES
from envs.acmecorp.reference_tools import reference_tools
from envs.acmecorp.tasks_config import CONFIG_FAMILIES
from envs.acmecorp.tasks_incident_deploys import DEPLOY_FAMILIES
from envs.acmecorp.tasks_incidents import INCIDENT_FAMILIES
from envs.acmecorp.tasks_logs import LOG_FAMILIES
from envs.acmecorp.tasks_metrics import METRIC_FAMILIES
from envs.acmecorp.world import DEFAULT_OPTIONS, build_world
from envs.tasks import Suite

INTRO = (
    "You are an SRE onboarding at AcmeCorp. Service logs are under logs/, configuration and the deploy "
    "history under config/, and the metrics API is at http://metrics.acme.internal. The handbook is "
    "available through read_doc (start with 'overview')."
)


def rigorous_suite() -> Suite:
    return Suite(
        world="acmecorp",
        protocol="rigorous",
        build_world=build_world,
        families=[*LOG_FAMILIES, *METRIC_FAMILIES, *CONFIG_FAMILIES, *INCIDENT_FAMILIES, *DEPLOY_FAMILIES],
        reference_tools=reference_tools,
        phase_order=PHASES,
        intro=INTRO,
        default_options=dict(DEFAULT_OPTIONS),
    )
