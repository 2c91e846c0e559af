"""AcmeCorp's shape: services, their dependency DAG, hosts, the clock and the incident.

Everything else in the world (logs, metrics, configs, deploys) is generated from a
``Topology`` and an ``Incident`` so the three views agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

SERVICE_POOL = (
    "payments",
    "gateway",
    "database",
    "auth",
    "frontend",
    "worker",
    "search",
    "notifications",
    "inventory",
    "billing",
    "cache",
    "scheduler",
)

# cause -> (config key whose bad value causes it, error code it produces, log message)
CAUSES: dict[str, tuple[str, str, str]] = {
    "timeout_misconfig": ("timeout", "E-UPSTREAM-TIMEOUT", "upstream call timed out"),
    "pool_exhaustion": ("pool_size", "E-POOL-EXHAUSTED", "connection pool exhausted"),
    "memory_limit": ("memory_mb", "E-OOM-KILLED", "worker killed: out of memory"),
    "rate_limit_misconfig": ("rate_limit", "E-RATE-LIMITED", "request rejected by rate limiter"),
}

# error code seen in *dependents* of the incident's root (they fail calling it)
DEPENDENT_ERROR = "E-DEPENDENCY-FAILED"

BASE_TS = 1_710_000_000


@dataclass(frozen=True)
class Topology:
    services: tuple[str, ...]
    deps: dict[str, tuple[str, ...]]  # service -> services it calls
    hosts: dict[str, tuple[str, ...]]
    t0: int
    now: int

    def dependents(self, service: str) -> set[str]:
        """Services that (transitively) call ``service``."""
        out: set[str] = set()
        frontier = [service]
        while frontier:
            cur = frontier.pop()
            for s, ds in self.deps.items():
                if cur in ds and s not in out:
                    out.add(s)
                    frontier.append(s)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "services": list(self.services),
            "deps": {k: list(v) for k, v in self.deps.items()},
            "hosts": {k: list(v) for k, v in self.hosts.items()},
            "t0": self.t0,
            "now": self.now,
        }


@dataclass(frozen=True)
class Incident:
    service: str  # root cause
    cause: str  # key of CAUSES
    start_ts: int  # first bad minute (minute aligned)
    end_ts: int  # recovery (rollback deploy), minute aligned, exclusive

    @property
    def key(self) -> str:
        return CAUSES[self.cause][0]

    @property
    def error_code(self) -> str:
        return CAUSES[self.cause][1]

    @property
    def message(self) -> str:
        return CAUSES[self.cause][2]

    def active(self, ts: int) -> bool:
        return self.start_ts <= ts < self.end_ts

    def to_json(self) -> dict[str, Any]:
        return {"service": self.service, "cause": self.cause, "start_ts": self.start_ts, "end_ts": self.end_ts}


def generate_topology(rng: np.random.Generator, n_services: int = 8, hours: int = 24) -> Topology:
    if not 4 <= n_services <= len(SERVICE_POOL):
        raise ValueError(f"n_services must be in [4, {len(SERVICE_POOL)}], got {n_services}")
    if not 12 <= hours <= 24 * 14:  # windows of up to 12 h must fit in the period
        raise ValueError(f"hours must be in [12, 336], got {hours}")
    # payments is always present (it logs the charges); the rest vary with the seed.
    others = [s for s in SERVICE_POOL if s != "payments"]
    picked = [others[i] for i in rng.choice(len(others), size=n_services - 1, replace=False)]
    picked.insert(int(rng.integers(0, n_services)), "payments")
    # Position in `picked` is the DAG order: a service only calls services after it.
    deps: dict[str, tuple[str, ...]] = {}
    for i, svc in enumerate(picked):
        later = picked[i + 1 :]
        if not later:
            deps[svc] = ()
            continue
        k = int(rng.integers(1, min(3, len(later)) + 1)) if i < n_services - 1 else 0
        chosen = sorted(str(x) for x in rng.choice(later, size=k, replace=False))
        deps[svc] = tuple(chosen)
    hosts = {svc: tuple(f"{svc}-{j}.acme.internal" for j in range(1, int(rng.integers(2, 5)) + 1)) for svc in picked}
    t0 = BASE_TS + int(rng.integers(0, 365)) * 86_400
    return Topology(tuple(sorted(picked)), {k: deps[k] for k in sorted(deps)}, hosts, t0, t0 + hours * 3600)


def generate_incident(rng: np.random.Generator, topo: Topology) -> Incident:
    # Root causes are services something depends on (the blast radius is real) but not
    # everything (so "all services" is never a safe guess for the blast radius).
    everyone = len(topo.services) - 1
    candidates = [s for s in topo.services if 0 < len(topo.dependents(s)) < everyone]
    candidates = candidates or [s for s in topo.services if topo.dependents(s)]
    service = str(rng.choice(candidates))
    cause = str(rng.choice(sorted(CAUSES)))
    span = topo.now - topo.t0
    lo = topo.t0 + span // 4
    hi = topo.now - span // 5
    start = int(rng.integers(lo // 60, hi // 60)) * 60
    end = start + int(rng.integers(20, 91)) * 60
    return Incident(service, cause, start, end)
