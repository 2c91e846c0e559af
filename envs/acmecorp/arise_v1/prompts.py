"""What the AcmeCorp paper prompts show: the hints and the inline data (which the oracles therefore see).

The texts are the reference harness's, byte for byte on the same data (github.com/abekek/arise at
54de0da2e7ec6896469ce454520deba0e8e85a61, ``benchmarks/tasks/phase{1_logs,2_metrics,3_config,4_incident}.py``);
only the metrics base URL differs, since ours is a virtual host rather than ``localhost:<port>``.
"""

from __future__ import annotations

from envs.acmecorp.arise_v1.world import (
    CONFIG_DIR,
    LOG_PATH,
)
from envs.world import World

SAMPLE_LINES = 100  # log tasks 1-5 show this many lines (and are graded on all of them)
LOG_HINT = "The format is [ACME:severity:service:unix_timestamp] message | ctx={json}."
METRICS_HINT = (
    "The API returns base64-encoded data. Decode the base64 string to get the format: "
    "ACME_METRICS|service|timestamp|json. Parse the JSON portion to get metrics."
)
# Phase 4 words it differently from phase 2 ("to get format", no "the"), as the reference does.
INCIDENT_METRICS_HINT = (
    "The metrics API returns base64-encoded data. Decode the base64 string to get "
    "format: ACME_METRICS|service|timestamp|json. Parse the JSON for metrics."
)
VAR_NOTE = "Note: If replicas uses a variable like ${VAR:-N}, return the default value N."


def log_lines(world: World) -> list[str]:
    return [ln for ln in world.files[LOG_PATH].splitlines() if ln.strip()]


def shown_logs(world: World, scope: str) -> str:
    lines = log_lines(world)
    return "\n".join(lines[:SAMPLE_LINES] if scope == "sample" else lines)


def config_texts(world: World) -> dict[str, str]:
    """Config files in the paper's order (base.acme, then the picked services)."""
    return {name: world.files[f"{CONFIG_DIR}/{name}"] for name in world.facts["config_order"]}


def picked_services(world: World) -> list[str]:
    return list(world.facts["config_services"])


def config_block(name: str, text: str) -> str:
    """A pasted config file as phase 3 shows it."""
    return f"Config file ({name}):\n```\n{text}```"


def all_config_blocks(world: World) -> str:
    return "\n\n".join(config_block(n, t) for n, t in config_texts(world).items())


def incident_config_block(name: str, text: str) -> str:
    """A pasted config file as phase 4 shows it (the reference says "Config", not "Config file", there)."""
    return f"Config ({name}):\n```\n{text}```"


def all_incident_config_blocks(world: World) -> str:
    return "\n\n".join(incident_config_block(n, t) for n, t in config_texts(world).items())


def incident_logs(world: World) -> str:
    """The full log as phase 4 pastes it: the format hint in the heading, no file name (the agent cannot read files)."""
    return f"Logs ({LOG_HINT}):\n{shown_logs(world, 'all')}"


def service_or_first(world: World, preferred: str) -> str:
    picked = picked_services(world)
    return preferred if preferred in picked else picked[0]


def file_of(world: World, service: str) -> str:
    return config_texts(world).get(f"{service}.acme", "")
