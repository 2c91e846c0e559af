"""Assemble a rigorous AcmeCorp world from a seed.

Order matters and is fixed: topology -> incident -> metric series -> logs (driven
by the series) -> config tree and deploy history (with the incident's deploy) ->
handbook. Each part draws from its own named seed stream, so changing one
generator never shifts another.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Any

import numpy as np

from envs import seeding
from envs.acmecorp import configgen, logs, metrics
from envs.acmecorp.topology import CAUSES, DEPENDENT_ERROR, generate_incident, generate_topology
from envs.http import WorldHttp
from envs.world import World

DEFAULT_OPTIONS: dict[str, Any] = {
    "n_services": 8,
    "hours": 24,
    "log_lines": 12_000,
    "log_lines_per_file": 4_000,
    "log_malformed_rate": 0.004,
    "log_stack_trace_rate": 0.35,
    "log_escaped_separator_rate": 0.08,
    "log_non_ascii": True,
    "metrics_rate_limit_every": 0,
    "metrics_auth": False,
    "config_defects": True,
}

HANDBOOK_PAGES = ("overview", "logging", "metrics-api", "acmeconf", "incidents", "tools")


def handbook() -> dict[str, str]:
    pkg = resources.files("envs.acmecorp") / "handbook"
    return {name: (pkg / f"{name}.md").read_text(encoding="utf-8") for name in HANDBOOK_PAGES}


def check_options(options: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise ValueError(f"unknown AcmeCorp world option(s) {unknown}; accepted: {sorted(DEFAULT_OPTIONS)}")
    for key, value in options.items():
        default = DEFAULT_OPTIONS[key]
        ok = (
            isinstance(value, bool)
            if isinstance(default, bool)
            else (
                isinstance(value, (int, float)) and not isinstance(value, bool)
                if isinstance(default, float)
                else isinstance(value, int) and not isinstance(value, bool)
            )
        )
        if not ok:
            kind = {bool: "true/false", int: "an integer", float: "a number"}[type(default)]
            raise ValueError(f"world option {key} must be {kind}, got {value!r}")
    opts = {**DEFAULT_OPTIONS, **options}
    if int(opts["metrics_rate_limit_every"]) < 0:
        raise ValueError("metrics_rate_limit_every must be >= 0 (0 disables rate limiting)")
    return opts


def build_world(seed: int, options: dict[str, Any] | None = None) -> World:
    opts = check_options(dict(options or {}))
    topo = generate_topology(seeding.rng(seed, "topology"), int(opts["n_services"]), int(opts["hours"]))
    incident = generate_incident(seeding.rng(seed, "incident"), topo)
    series = metrics.generate_series(seeding.rng(seed, "metrics"), topo, incident)

    activity = {svc: s.requests.astype(float) for svc, s in series.items()}
    error_share = {
        svc: np.clip(0.06 + 2.0 * s.errors / np.maximum(s.requests, 1), 0.0, 0.8) for svc, s in series.items()
    }
    log_files = logs.generate_logs(
        seeding.rng(seed, "logs"), topo, incident, activity, error_share, logs.LogOptions.from_options(opts)
    )
    cfg = configgen.generate_config(seeding.rng(seed, "config"), topo, incident, opts)

    files: dict[str, str] = {**log_files, **cfg.files}
    token = ""
    if opts["metrics_auth"]:
        token = hashlib.sha256(f"acme-token-{seed}".encode()).hexdigest()[:24]
        files["secrets/metrics.token"] = token + "\n"

    http = WorldHttp()
    metrics.MetricsApi(http, topo, series, int(opts["metrics_rate_limit_every"]), token)

    entities = sorted(
        set(topo.services)
        | {h for hs in topo.hosts.values() for h in hs}
        | set(logs.GENERIC_ERRORS)
        | {v[1] for v in CAUSES.values()}
        | {DEPENDENT_ERROR}
        | set(CAUSES)
        | set(cfg.facts.get("deploy_ids", []))
        | set(cfg.facts.get("keys", []))
    )
    return World(
        name="acmecorp",
        protocol="rigorous",
        seed=seed,
        now=topo.now,
        files=files,
        docs=handbook(),
        http=http,
        facts={"topology": topo, "incident": incident, "series": series, "config": cfg.facts},
        api_fingerprint=metrics.series_fingerprint(series) + token.encode(),
        entities=entities,
        options=opts,
    )
