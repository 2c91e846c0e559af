"""Orchard: a minimal third world, kept under tests/ as a plugin (not part of the benchmark).

It proves a world slots in without edits to generic code: this package states the world's
facts and registers it (``register_world`` at import); ``conf/world/orchard.yaml`` names this
module as ``world.module``, so ``python -m experiments.run world=orchard`` imports it first.
A tiny fruit farm: a tree register (``registry/trees.csv``), monthly harvest logs
(``harvest/<YYYY-MM>.csv``) and a market price API (``http://market.orchard.internal``).
"""

from envs.registry import register_world

# The world's phases in curriculum order (every suite orders its task stream by it).
PHASES: tuple[str, ...] = ("inventory", "sales")
# Phases whose data sits behind an API or spread over files: where tools should pay off.
TOOL_PHASES: tuple[str, ...] = ("inventory", "sales")
# An example world, smaller than the benchmark worlds' eight families per phase (the sanity gates read it).
MIN_FAMILIES_PER_PHASE = 3

register_world("orchard", "arise_gym/Orchard-v0", __name__, {"rigorous": f"{__name__}.suite:rigorous_suite"})
