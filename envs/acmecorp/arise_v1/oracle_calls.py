"""The AcmeCorp paper oracles' steps: tool calls through the seven paper tools, failures as ``OracleError``."""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

from envs.acmecorp.arise_v1.analyses import Entry, Metrics, resolve
from envs.acmecorp.arise_v1.prompts import config_texts, file_of
from envs.acmecorp.arise_v1.world import (
    METRICS_URL,
)
from envs.oracle import OracleError, http_json
from envs.tasks import Call
from envs.world import World


def call_tool(name: str, **args: Any) -> Generator[Call, str, str]:
    out = yield Call(name, args)
    if out.startswith("Error"):
        raise OracleError(f"{name} failed: {out[:300]}")
    return out


def call_tool_json(name: str, **args: Any) -> Generator[Call, str, Any]:
    out = yield from call_tool(name, **args)
    return json.loads(out)


def tool_entries(text: str) -> Generator[Call, str, list[Entry]]:
    out = yield from call_tool_json("parse_acme_log", log_text=text)
    return list(out)


def tool_errors(text: str) -> Generator[Call, str, dict[str, int]]:
    out = yield from call_tool_json("count_acme_errors", log_text=text)
    return dict(out)


def count_lines(text: str) -> int:
    return sum(1 for ln in text.splitlines() if ln.strip())


def tool_metrics_of(service: str) -> Generator[Call, str, dict[str, Any]]:
    out = yield from call_tool_json("fetch_acme_metrics", url=f"{METRICS_URL}/metrics/{service}")
    return dict(out["data"])


def tool_all_metrics() -> Generator[Call, str, Metrics]:
    services = yield from http_json(f"{METRICS_URL}/services")
    out: Metrics = {}
    for s in services:
        out[s] = yield from tool_metrics_of(s)
    return out


def tool_conf(text: str) -> Generator[Call, str, dict[str, dict[str, Any]]]:
    out = yield from call_tool_json("parse_acmeconf", config_text=text)
    return dict(out["services"])


def tool_replicas(world: World, service: str) -> Generator[Call, str, str]:
    """The resolved replicas of ``service``, parsed from its config file (config task 1, incident task 3)."""
    blocks = yield from tool_conf(file_of(world, service))
    return str(resolve(blocks[service]["replicas"]))


def tool_all_conf(world: World) -> Generator[Call, str, dict[str, dict[str, Any]]]:
    """Service blocks of every shown config file (the defaults block dropped)."""
    out: dict[str, dict[str, Any]] = {}
    for text in config_texts(world).values():
        blocks = yield from tool_conf(text)
        for name, fields in blocks.items():
            if name != "defaults":
                out.setdefault(name, fields)
    return out
