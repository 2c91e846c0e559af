"""The rigorous Orchard suite: generator, families, reference tools."""

from __future__ import annotations

from envs.tasks import Suite
from tests.worlds.orchard import PHASES
from tests.worlds.orchard.tasks import FAMILIES
from tests.worlds.orchard.tools import reference_tools
from tests.worlds.orchard.world import DEFAULT_OPTIONS, build_world

INTRO = (
    "You are onboarding at Orchard, a fruit farm. The tree register is registry/trees.csv, monthly harvest "
    "logs are under harvest/, and the market price API is at http://market.orchard.internal. The handbook "
    "is available through read_doc (start with 'overview')."
)


def rigorous_suite() -> Suite:
    return Suite(
        world="orchard",
        protocol="rigorous",
        build_world=build_world,
        families=list(FAMILIES),
        reference_tools=reference_tools,
        phase_order=PHASES,
        intro=INTRO,
        default_options=dict(DEFAULT_OPTIONS),
    )
