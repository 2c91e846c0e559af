"""DataCorp: the data-engineering onboarding world (``.dc`` exports, validation API, DCQL)."""

# The world's phases in curriculum order. Every suite of this world orders its task stream
# (which online evolution learns from) by it; a family with a phase not listed is an error.
PHASES: tuple[str, ...] = ("csv", "validation", "query")
# The phases whose data sits behind an API or in large files: where tools should pay off
# (experiments.sim_check and evolution_check measure tool use on them).
TOOL_PHASES: tuple[str, ...] = ("csv", "validation", "query")
