"""Generate a world's AcmeConf tree, its deploy log and per-deploy history.

``generate_config(rng, topo, incident, options)`` returns a ``ConfigWorld``:

``files`` (all under ``config/``)::

    config/env                                  NAME=value lines for ${VAR} substitution
    config/main.acme                            entry point: includes every service file, then overrides
    config/base.acme                            the defaults block
    config/shared/<group>.acme                  settings shared by a group of services (1-2 files)
    config/services/<svc>.acme                  one per service; includes ../base.acme (and a shared file)
    config/overrides/<name>.acme                late overrides (applied last, so they win)
    config/deploys.log                          ts | deploy_id | service | author | kind | summary
    config/history/initial/services/<svc>.acme  every service file before its first deploy
    config/history/<deploy_id>/services/<svc>.acme   the deployed service's file after that deploy

``facts`` (generator-side, for sampling task parameters only; never ground truth)::

    entry, env_file, deploy_log, history_dir   the paths above
    services                 service names
    deploys                  [{deploy_id, ts, service, author, kind, summary, rollback_of, changes:[{key, old, new}]}]
    incident                 {service, key, old, new, trigger_deploy, rollback_deploy}
    defects                  {code: {service, file, key, detail}} for the injected defects
    issue_codes, issue_files codes and files reported by validating config/main.acme
    variables                {env: [...], fallback: [...], unresolved: [...]} variable names by resolution
    overrides                [[service, key], ...] set by config/overrides/*
    cycle_edge               [a, b] when the cycle defect added "a depends on b", else None

Deps in the configuration equal ``topo.deps`` except for the injected defects: the
unknown-dependency defect adds a name no service block declares, and the cycle defect
adds one edge ``a -> b`` in an override file, chosen so that the incident service's
transitive dependents (its blast radius) are unchanged. Defects never touch the
incident service.

Knobs (``options``): ``config_defects`` (default True) turns defect injection on;
``config_defect_rate`` (default 0.5) is the per-code probability.
Only ``rng`` is used for randomness: same seed, same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from envs.acmecorp import acmeconf as ac
from envs.acmecorp.topology import SERVICE_POOL, Incident, Topology

DESCRIPTIONS = {
    "payments": "card payment authorisation and capture",
    "gateway": "public API gateway and request routing",
    "database": "primary relational database proxy",
    "auth": "authentication, sessions and API tokens",
    "frontend": "server-side rendered web frontend",
    "worker": "background job workers",
    "search": "product search index and query service",
    "notifications": "email, SMS and push notifications",
    "inventory": "stock levels and reservations",
    "billing": "invoices, subscriptions and dunning",
    "cache": "shared cache tier",
    "scheduler": "cron-style job scheduler",
}
TEAMS = ("team-core", "team-edge", "team-data", "team-growth", "platform", "team-money", "sre")
AUTHORS = ("alice", "bob", "chen", "dana", "emeka", "farah", "gus", "hana", "ivan", "jo", "kofi", "lena")
GHOST_SERVICES = ("ledger", "mailer", "reporting", "geoip", "audit", "legacy-billing", "recommender", "fraud")
GHOST_INCLUDES = ("tls", "observability", "quotas", "legacy", "tracing", "canary")
OVERRIDE_NAMES = ("peak-traffic", "black-friday", "dr-drill", "capacity-q3", "load-test")
GROUPS = {
    "datastores": ("database", "cache", "search", "inventory"),
    "edge": ("gateway", "frontend", "auth"),
    "money": ("payments", "billing"),
    "async": ("worker", "scheduler", "notifications"),
}
TIMEOUTS = (0.75, 1.5, 2, 2.5, 3, 5, 8, 10, 12, 15, 20, 25, 30, 40, 45, 60, 75, 90, 120, 150, 180, 240, 300)
MEMORY = (256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096)
CPU = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
HEALTH = ("/healthz", "/health", "/status", "/_health", "/ping", "/readyz")
LOG_LEVELS = ("debug", "info", "warn", "error")
CUT_KEYS = ("timeout", "pool_size", "memory_mb", "rate_limit")  # the keys incidents are caused by
DECOY_KEYS = ("replicas", "timeout", "pool_size", "memory_mb", "rate_limit", "retries", "cpu_limit", "log_level")
COMMENTS = (
    "see runbook",
    "bumped after INC-{n}",
    "per capacity review",
    "p99 budget",
    "do not lower without SRE sign-off",
    "tuned {d} days ago",
    "matches upstream SLA",
)
SUMMARIES = {
    "replicas": ("scale {svc} to {new} replicas", "adjust replica count", "capacity tuning for {svc}"),
    "timeout": ("tune upstream timeout", "adjust timeout per SLO review", "timeout alignment with callers"),
    "pool_size": ("resize connection pool", "tune pool_size", "connection pool tuning"),
    "memory_mb": ("adjust memory limit", "right-size memory for {svc}", "memory tuning"),
    "rate_limit": ("tune rate limiter thresholds", "adjust rate_limit", "rate limiter review"),
    "retries": ("change retry policy", "adjust retries", "retry budget tuning"),
    "cpu_limit": ("adjust cpu limit", "right-size cpu for {svc}", "cpu tuning"),
    "log_level": ("set log level to {new}", "logging verbosity change", "log level tweak"),
}
GENERIC_SUMMARIES = ("routine config sync", "capacity review follow-up", "config cleanup", "tuning after load test")


@dataclass
class ConfigWorld:
    """The generated config tree (``files``) and generator-side ``facts`` (see module docstring)."""

    files: dict[str, str]
    facts: dict[str, Any]


@dataclass
class _Entry:
    key: str | None  # None: a raw line written verbatim (a comment or a malformed line)
    text: str
    comment: str = ""


@dataclass
class _ServiceFile:
    service: str
    intro: list[str]
    includes: list[str]
    entries: list[_Entry]
    tail_includes: list[str] = field(default_factory=list)  # includes written after the block

    def find(self, key: str) -> int:
        for i, e in enumerate(self.entries):
            if e.key == key:
                return i
        return -1

    def set(self, key: str, text: str, comment: str = "") -> None:
        i = self.find(key)
        if i >= 0:
            self.entries[i] = _Entry(key, text, comment)
        else:
            self.entries.append(_Entry(key, text, comment))

    def render(self) -> str:
        lines = [*self.intro, *(f'@include "{inc}"' for inc in self.includes), "", f"service {self.service} {{"]
        for e in self.entries:
            if e.key is None:
                lines.append(f"    {e.text}")
            else:
                lines.append(f"    {e.key} = {e.text}" + (f"  # {e.comment}" if e.comment else ""))
        lines.append("}")
        if self.tail_includes:
            lines += ["", *(f'@include "{inc}"' for inc in self.tail_includes)]
        return "\n".join(lines) + "\n"


def render_duration(rng: np.random.Generator, seconds: float, allow_plain: bool = True) -> str:
    """One of the equivalent literals of ``seconds`` (``90`` -> ``1m30s`` | ``90s`` | ``90000ms`` | ``90``)."""
    ms = round(seconds * 1000)
    forms = [ac.format_duration(seconds)]
    if ms % 1000 == 0:
        s = ms // 1000
        forms.append(f"{s}s")
        if s % 60 == 0 and s >= 60:
            forms.append(f"{s // 60}m")
        if allow_plain and rng.random() < 0.3:
            forms.append(str(s))
    if ms < 10_000 or ms % 1000:
        forms.append(f"{ms}ms")
    if ms % 1000 and ms > 1000:
        forms.append(f"{ms // 1000}s{ms % 1000}ms" if ms < 60_000 else ac.format_duration(seconds))
    uniq = list(dict.fromkeys(forms))
    return uniq[int(rng.integers(len(uniq)))]


def _pick(rng: np.random.Generator, seq: Any) -> Any:
    items = list(seq)
    return items[int(rng.integers(len(items)))]


def _var_name(service: str, key: str) -> str:
    return f"{service}_{key}".upper().replace("-", "_")


class _Generator:
    def __init__(self, rng: np.random.Generator, topo: Topology, incident: Incident, options: Mapping[str, Any]):
        self.rng = rng
        self.topo = topo
        self.inc = incident
        self.services = list(topo.services)
        self.defects_on = bool(options.get("config_defects", True))
        self.defect_rate = float(options.get("config_defect_rate", 0.5))
        if not 0.0 <= self.defect_rate <= 1.0:
            raise ValueError(f"config_defect_rate must be in [0, 1], got {self.defect_rate}")
        if incident.service not in self.services:
            raise ValueError(f"incident service {incident.service!r} is not a service of the topology")
        self.env: dict[str, str] = {}
        self.env_lines: list[str] = []
        self.files: dict[str, _ServiceFile] = {}
        self.static: dict[str, str] = {}  # base, shared, overrides, main
        self.frozen: set[tuple[str, str]] = set()  # (service, key) decoys must not touch
        self.overrides: list[tuple[str, str]] = []
        self.override_files: dict[str, list[str]] = {}
        self.defects: dict[str, dict[str, Any]] = {}
        self.var_sources: dict[str, list[str]] = {"env": [], "fallback": [], "unresolved": []}
        self.main_extra: list[str] = []
        self.cycle_edge: list[str] | None = None

    # -- helpers --------------------------------------------------------------
    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def comment(self) -> str:
        return str(_pick(self.rng, COMMENTS)).format(
            n=int(self.rng.integers(100, 9999)), d=int(self.rng.integers(2, 90))
        )

    # -- base, variables, shared groups ---------------------------------------
    def build(self) -> ConfigWorld:
        rng = self.rng
        self.defaults = {
            "timeout": _pick(rng, (10, 15, 20, 30, 45, 60)),
            "connect_timeout": _pick(rng, (0.5, 1, 1.5, 2, 2.5)),
            "pool_size": _pick(rng, (8, 10, 16, 20, 25, 32)),
            "memory_mb": _pick(rng, (256, 512, 768, 1024)),
            "rate_limit": _pick(rng, (200, 250, 400, 500, 800, 1000)),
            "retries": _pick(rng, (1, 2, 3)),
            "cpu_limit": _pick(rng, (0.5, 1.0)),
            "enabled": True,
            "log_level": _pick(rng, ("info", "warn")),
        }
        self._plan_variables()
        self._build_base()
        self._build_services()
        self._build_shared()
        self._build_overrides()
        if self.defects_on:
            self._inject_defects()
        self._finish_env()
        return self._history_and_render()

    def _plan_variables(self) -> None:
        """Choose which values are written as ${VAR} references and how each resolves."""
        rng = self.rng
        slots = [(s, k) for s in self.services for k in ("replicas", "timeout", "owner", "pool_size", "health_check")]
        slots = [slots[int(i)] for i in rng.permutation(len(slots))]
        n = int(rng.integers(4, 8))
        chosen = slots[:n]
        # resolution per slot: env (defined), fallback (undefined or empty -> default), bare (no default, defined)
        modes = [_pick(rng, ("env", "env", "fallback", "fallback", "bare")) for _ in chosen]
        if "env" not in modes and "bare" not in modes:
            modes[0] = "env"
        if "fallback" not in modes:
            modes[-1] = "fallback"
        self.var_slots = dict(zip(chosen, modes, strict=True))
        self.frozen.update(self.var_slots)  # decoys and defects keep variable references intact
        self.default_timeout_var = self.chance(0.5)

    def _var_text(self, service: str, key: str, default_text: str, env_text: str, quote: bool = False) -> str:
        """Value text for a variable slot; records the env line and the resolution."""
        mode = self.var_slots[(service, key)]
        name = _var_name(service, key)
        if mode == "env":
            self.env[name] = env_text
            self.var_sources["env"].append(name)
            ref = f"${{{name}:-{default_text}}}"
        elif mode == "bare":
            self.env[name] = env_text
            self.var_sources["env"].append(name)
            ref = f"${{{name}}}"
        else:
            if self.chance(0.3):
                self.env[name] = ""  # empty counts as unset for ${NAME:-default}
            self.var_sources["fallback"].append(name)
            ref = f"${{{name}:-{default_text}}}"
        return f'"{ref}"' if quote else ref

    def _build_base(self) -> None:
        d = self.defaults
        rng = self.rng
        timeout = render_duration(rng, d["timeout"], allow_plain=False)
        if self.default_timeout_var:
            if self.chance(0.5):
                other = _pick(rng, [t for t in (10, 15, 20, 30, 45, 60) if t != d["timeout"]])
                self.env["DEFAULT_TIMEOUT"] = render_duration(rng, other, allow_plain=False)
                self.defaults["timeout"] = other
                self.var_sources["env"].append("DEFAULT_TIMEOUT")
            else:
                self.var_sources["fallback"].append("DEFAULT_TIMEOUT")
            timeout = f"${{DEFAULT_TIMEOUT:-{timeout}}}"
        lines = [
            "# AcmeCorp service defaults.",
            "# Every service file includes this file. A key set in a service block wins over",
            "# the value here; keys not set by a service take these values.",
            "",
            "defaults {",
            f"    timeout = {timeout}",
            f"    connect_timeout = {render_duration(rng, d['connect_timeout'], allow_plain=False)}",
            f"    pool_size = {d['pool_size']}",
            f"    memory_mb = {d['memory_mb']}  # per instance",
            f"    rate_limit = {d['rate_limit']}  # requests/s per instance",
            f"    retries = {d['retries']}",
            f"    cpu_limit = {d['cpu_limit']}",
            "    enabled = true",
            f"    log_level = {d['log_level']}",
            "}",
        ]
        self.static["config/base.acme"] = "\n".join(lines) + "\n"

    def _build_services(self) -> None:
        rng = self.rng
        ports = rng.choice(np.arange(8000, 9000, 10), size=len(self.services), replace=False)
        for i, svc in enumerate(self.services):
            entries: list[_Entry] = []
            replicas = int(rng.integers(1, 17))
            if (svc, "replicas") in self.var_slots:
                env_val = int(_pick(rng, [r for r in range(1, 25) if r != replicas]))
                text = self._var_text(svc, "replicas", str(replicas), str(env_val))
            else:
                text = str(replicas)
            entries.append(_Entry("replicas", text, self.comment() if self.chance(0.15) else ""))
            if (svc, "timeout") in self.var_slots or self.chance(0.8):
                t = _pick(rng, TIMEOUTS)
                if (svc, "timeout") in self.var_slots:
                    env_t = _pick(rng, [x for x in TIMEOUTS if x != t])
                    text = self._var_text(svc, "timeout", render_duration(rng, t), render_duration(rng, env_t))
                else:
                    text = render_duration(rng, t)
                entries.append(_Entry("timeout", text, self.comment() if self.chance(0.15) else ""))
            deps = list(self.topo.deps[svc])
            entries.append(_Entry("deps", self._deps_text(deps)))
            hc = _pick(rng, HEALTH)
            if (svc, "health_check") in self.var_slots:
                other = _pick(rng, [h for h in HEALTH if h != hc])
                text = self._var_text(svc, "health_check", hc, other, quote=True)
            else:
                text = f'"{hc}"' if self.chance(0.6) else hc
            entries.append(_Entry("health_check", text))
            entries.append(_Entry("port", str(int(ports[i]))))
            optional: list[_Entry] = []
            if (svc, "pool_size") in self.var_slots or self.chance(0.6):
                p = int(rng.integers(5, 101))
                if (svc, "pool_size") in self.var_slots:
                    text = self._var_text(svc, "pool_size", str(p), str(int(rng.integers(5, 101))))
                else:
                    text = str(p)
                optional.append(_Entry("pool_size", text))
            if self.chance(0.6):
                optional.append(_Entry("memory_mb", str(_pick(rng, MEMORY))))
            if self.chance(0.5):
                optional.append(_Entry("rate_limit", str(int(rng.integers(2, 101)) * 50)))
            if self.chance(0.4):
                optional.append(_Entry("retries", str(int(rng.integers(0, 7)))))
            if self.chance(0.4):
                c = _pick(rng, CPU)
                optional.append(
                    _Entry("cpu_limit", str(int(c)) if float(c).is_integer() and self.chance(0.5) else str(c))
                )
            if self.chance(0.3):
                optional.append(_Entry("log_level", _pick(rng, LOG_LEVELS)))
            if self.chance(0.2):
                optional.append(
                    _Entry("connect_timeout", render_duration(rng, _pick(rng, (0.25, 0.5, 1, 2, 3)), allow_plain=False))
                )
            team = _pick(rng, TEAMS) if self.chance(0.5) else f"team-{svc}"
            if (svc, "owner") in self.var_slots:
                other = _pick(rng, [t for t in TEAMS if t != team])
                optional.append(_Entry("owner", self._var_text(svc, "owner", team, other)))
            elif self.chance(0.8):
                optional.append(_Entry("owner", f'"{team}"' if self.chance(0.5) else team))
            if self.chance(0.5):
                desc = DESCRIPTIONS.get(svc, f"{svc} service")
                fancy = _pick(rng, (desc, f"Tier #{int(rng.integers(1, 4))}: {desc}", f'{desc} (\\"{svc}-v2\\")'))
                optional.append(_Entry("description", f'"{fancy}"'))
            if self.chance(0.15):
                optional.append(_Entry("enabled", "true"))
            order = rng.permutation(len(optional))
            entries += [optional[int(j)] for j in order]
            if self.chance(0.25):
                pos = int(rng.integers(0, len(entries) + 1))
                entries.insert(pos, _Entry(None, f"# {self.comment()}"))
            intro = [f"# {svc} - {DESCRIPTIONS.get(svc, 'AcmeCorp service')}"]
            if self.chance(0.5):
                intro.append(f"# on-call: #{svc}-oncall")
            self.files[svc] = _ServiceFile(svc, intro, ["../base.acme"], entries)

    def _deps_text(self, deps: list[str]) -> str:
        return "[" + ", ".join(f'"{d}"' if self.chance(0.3) else d for d in deps) + "]"

    def _build_shared(self) -> None:
        rng = self.rng
        groups = [(g, [s for s in members if s in self.services]) for g, members in GROUPS.items()]
        groups = [(g, m) for g, m in groups if len(m) >= 2]
        if not groups:
            groups = [("tier1", sorted(str(s) for s in rng.choice(self.services, size=2, replace=False)))]
        order = rng.permutation(len(groups))
        picked = [groups[int(i)] for i in order[: int(rng.integers(1, 3))]]
        for name, members in picked:
            path = f"config/shared/{name}.acme"
            keys = [DECOY_KEYS[int(i)] for i in rng.choice([2, 3, 4, 5, 6, 7], size=2, replace=False)]
            lines = [
                f"# Settings shared by the {name} group ({', '.join(members)}).",
                "# Each member's service file includes this file; its own block overrides these keys.",
            ]
            for svc in members:
                lines += ["", f"service {svc} {{"]
                for key in keys:
                    lines.append(f"    {key} = {self._random_value(key)}")
                lines.append("}")
                sf = self.files[svc]
                if self.chance(0.15):
                    sf.tail_includes.append(f"../shared/{name}.acme")
                else:
                    sf.includes.append(f"../shared/{name}.acme")
                key = str(_pick(rng, keys))
                if self.chance(0.3) and (svc, key) not in self.frozen:  # the member overrides a shared key
                    sf.set(key, self._random_value(key), "overrides shared/" + name)
            self.static[path] = "\n".join(lines) + "\n"

    def _random_value(self, key: str) -> str:
        rng = self.rng
        if key == "replicas":
            return str(int(rng.integers(1, 17)))
        if key == "timeout":
            return render_duration(rng, _pick(rng, TIMEOUTS))
        if key == "pool_size":
            return str(int(rng.integers(5, 101)))
        if key == "memory_mb":
            return str(_pick(rng, MEMORY))
        if key == "rate_limit":
            return str(int(rng.integers(2, 101)) * 50)
        if key == "retries":
            return str(int(rng.integers(0, 7)))
        if key == "cpu_limit":
            return str(_pick(rng, CPU))
        if key == "log_level":
            return str(_pick(rng, LOG_LEVELS))
        raise AssertionError(key)

    def _build_overrides(self) -> None:
        rng = self.rng
        candidates = [s for s in self.services if s != self.inc.service]
        n = int(rng.integers(1, 3))
        names = [OVERRIDE_NAMES[int(i)] for i in rng.choice(len(OVERRIDE_NAMES), size=n, replace=False)]
        targets = [candidates[int(i)] for i in rng.choice(len(candidates), size=n, replace=False)]
        for name, svc in zip(names, targets, strict=True):
            keys = ["replicas"] + (["rate_limit"] if self.chance(0.4) else [])
            lines = [f"# {name}: temporary capacity override (remove after the event).", "", f"service {svc} {{"]
            for key in keys:
                lines.append(f"    {key} = {self._random_value(key)}")
                self.overrides.append((svc, key))
                self.frozen.add((svc, key))
            lines.append("}")
            self.override_files[f"config/overrides/{name}.acme"] = lines

    # -- defects --------------------------------------------------------------
    def _inject_defects(self) -> None:
        rng = self.rng
        override_svcs = {s for s, _ in self.overrides}
        pool = [s for s in self.services if s != self.inc.service and s not in override_svcs]
        if not pool:
            pool = [s for s in self.services if s != self.inc.service]
        used: list[str] = []

        def target(options: Any) -> tuple[str, Any] | None:
            """A service (fresh if possible) and one of its non-empty ``options(svc)``."""
            cands = [s for s in pool if options(s)]
            fresh = [s for s in cands if s not in used]
            choice_from = fresh or cands
            if not choice_from:
                return None
            s = str(_pick(rng, choice_from))
            used.append(s)
            return s, _pick(rng, options(s))

        def free_keys(svc: str, keys: Any) -> list[str]:
            return [k for k in keys if (svc, k) not in self.frozen]

        codes = [ac.E_CYCLE, ac.E_MISSING, ac.E_UNKNOWN_DEP, ac.E_TYPE, ac.E_UNRESOLVED, ac.E_INCLUDE, ac.E_SYNTAX]
        wanted = {c: self.chance(self.defect_rate) for c in codes}
        if wanted[ac.E_CYCLE]:
            self._defect_cycle()
        cycle_a = self.cycle_edge[0] if self.cycle_edge else None
        if wanted[ac.E_MISSING]:
            picked = target(
                lambda s: (
                    free_keys(s, ["replicas", "health_check"] + (["deps"] if not self.topo.deps[s] else []))
                    if s != cycle_a
                    else []
                )
            )
            if picked is not None:
                svc, key = picked
                sf = self.files[svc]
                del sf.entries[sf.find(key)]
                self._record(ac.E_MISSING, svc, key, f"removed required key {key}")
        if wanted[ac.E_UNKNOWN_DEP]:
            picked = target(lambda s: free_keys(s, ["deps"]) if s != cycle_a else [])
            if picked is not None:
                svc, _ = picked
                ghost = str(_pick(rng, [g for g in GHOST_SERVICES if g not in self.services]))
                deps = list(self.topo.deps[svc])
                deps.insert(int(rng.integers(0, len(deps) + 1)), ghost)
                self.files[svc].set("deps", self._deps_text(deps))
                self._record(ac.E_UNKNOWN_DEP, svc, "deps", f"depends on undeclared service {ghost}")
        if wanted[ac.E_TYPE]:
            bad_values = {
                "port": None,  # the service's own port, quoted
                "enabled": ("yes", "on", '"true"'),
                "memory_mb": ("1GB", "2GB", "512MB"),
                "retries": ("three", "none", "2.5"),
                "timeout": ("30sec", '"5 min"', "1.5s", "2m30"),
                "cpu_limit": ("2cores", "half", '"1.5"'),
            }
            picked = target(lambda s: free_keys(s, bad_values))
            if picked is not None:
                svc, key = picked
                sf = self.files[svc]
                choices = bad_values[key]
                bad = '"' + sf.entries[sf.find("port")].text + '"' if choices is None else str(_pick(rng, choices))
                sf.set(key, bad)
                self._record(ac.E_TYPE, svc, key, f"{key} = {bad}")
        if wanted[ac.E_UNRESOLVED]:
            picked = target(lambda s: free_keys(s, ("rate_limit", "pool_size", "owner", "port", "retries")))
            if picked is not None:
                svc, key = picked
                name = _var_name(svc, key) + "_OVERRIDE"
                self.files[svc].set(key, f"${{{name}}}")
                self.var_sources["unresolved"].append(name)
                self._record(ac.E_UNRESOLVED, svc, key, f"${{{name}}} is not defined")
        if wanted[ac.E_INCLUDE]:
            picked = None if self.chance(0.5) else target(lambda s: list(GHOST_INCLUDES))
            if picked is None:
                ghost = str(_pick(rng, [g for g in GHOST_SERVICES if g not in self.services]))
                self.main_extra.append(f"services/{ghost}.acme")
                self.defects[ac.E_INCLUDE] = {
                    "service": None,
                    "file": ac.ENTRY,
                    "key": None,
                    "detail": f"includes missing services/{ghost}.acme",
                }
            else:
                svc, ghost = picked
                self.files[svc].includes.append(f"../shared/{ghost}.acme")
                self._record(ac.E_INCLUDE, svc, None, f"includes missing ../shared/{ghost}.acme")
        if wanted[ac.E_SYNTAX]:
            picked = target(lambda s: free_keys(s, ("owner", "retries", "description", "enabled")))
            if picked is not None:
                svc, key = picked
                sf = self.files[svc]
                raw = {
                    "owner": f'owner = "team-{svc}',
                    "retries": f"retries {int(rng.integers(1, 5))}",
                    "description": f"description = {DESCRIPTIONS.get(svc, svc + ' service')}",
                    "enabled": "enabled: true",
                }[key]
                i = sf.find(key)
                if i >= 0:
                    sf.entries[i] = _Entry(None, raw)
                else:
                    sf.entries.insert(int(rng.integers(0, len(sf.entries) + 1)), _Entry(None, raw))
                self._record(ac.E_SYNTAX, svc, key, raw)

    def _record(self, code: str, svc: str, key: str | None, detail: str) -> None:
        if key is not None:
            self.frozen.add((svc, key))
        self.defects[code] = {"service": svc, "file": f"config/services/{svc}.acme", "key": key, "detail": detail}

    def _defect_cycle(self) -> None:
        """Add one edge a -> b (a now depends on b) where b already reaches a, in an override file."""
        deps = {s: list(self.topo.deps[s]) for s in self.services}
        inc = self.inc.service
        override_svcs = {s for s, _ in self.overrides}

        def dependents(graph: dict[str, list[str]], node: str) -> set[str]:
            out: set[str] = set()
            stack = [node]
            while stack:
                cur = stack.pop()
                for s in sorted(graph):
                    if cur in graph[s] and s not in out:
                        out.add(s)
                        stack.append(s)
            return out

        base = dependents(deps, inc)
        pairs = []
        for a in self.services:
            if a in (inc,) or a in override_svcs:
                continue
            for b in sorted(dependents(deps, a)):
                if b == inc:
                    continue
                trial = {**deps, a: [*deps[a], b]}
                if dependents(trial, inc) == base:
                    pairs.append((a, b))
        if not pairs:  # a self-loop never changes another service's dependents
            pairs = [(a, a) for a in self.services if a != inc and a not in override_svcs]
        a, b = pairs[int(self.rng.integers(len(pairs)))]
        self.cycle_edge = [a, b]
        self.frozen.add((a, "deps"))
        path = sorted(self.override_files)[int(self.rng.integers(len(self.override_files)))]
        ticket = int(self.rng.integers(1000, 9999))
        self.override_files[path] += [
            "",
            f"# OPS-{ticket}: temporary callback path during the {b} migration.",
            f"service {a} {{",
            f"    deps = {self._deps_text([*deps[a], b])}",
            "}",
        ]
        self.defects[ac.E_CYCLE] = {"service": a, "file": path, "key": "deps", "detail": f"{a} -> {b}"}

    def _finish_env(self) -> None:
        rng = self.rng
        head = [
            "# AcmeCorp production environment.",
            "# AcmeConf substitutes ${NAME} and ${NAME:-default} from this file.",
            "ACME_ENV=production",
            f"REGION={_pick(rng, ('eu-west-1', 'us-east-1', 'ap-southeast-2'))}",
            "LOG_FORMAT=json",
        ]
        names = sorted(self.env)
        body = [f"{n}={self.env[n]}" for n in (names[int(i)] for i in rng.permutation(len(names)))]
        self.env_lines = [*head, *body]

    # -- files, deploys and history --------------------------------------------
    def _static_files(self) -> dict[str, str]:
        files = dict(self.static)
        for path, lines in self.override_files.items():
            files[path] = "\n".join(lines) + "\n"
        files[ac.ENV_PATH] = "\n".join(self.env_lines) + "\n"
        includes = sorted([f"services/{s}.acme" for s in self.services] + self.main_extra)
        includes += [p.removeprefix("config/") for p in sorted(self.override_files)]
        main = [
            "# AcmeCorp deployed configuration: the entry point.",
            "# Service files first (alphabetical), then overrides, which are applied last and win.",
            *(f'@include "{p}"' for p in includes),
        ]
        files[ac.ENTRY] = "\n".join(main) + "\n"
        return files

    def _effective(self, static: dict[str, str], svc: str) -> dict[str, Any]:
        live = f"config/services/{svc}.acme"
        view = {**static, live: self.files[svc].render()}
        return ac.load_config(view, [live], static[ac.ENV_PATH]).services.get(svc, {})

    def _schedule(self) -> list[dict[str, Any]]:
        rng, topo, inc = self.rng, self.topo, self.inc
        events: list[dict[str, Any]] = []
        busy: dict[str, list[tuple[int, int]]] = {s: [] for s in self.services}
        # 2-45 min before the start, so "start = deploy + constant" is not a shortcut.
        trig_ts = inc.start_ts - int(rng.integers(120, 2701))
        events.append({"ts": trig_ts, "service": inc.service, "kind": "change", "role": "trigger", "pair": "inc"})
        events.append({"ts": inc.end_ts, "service": inc.service, "kind": "rollback", "role": "rollback", "pair": "inc"})
        busy[inc.service].append((trig_ts - 5400, inc.end_ts + 1800))

        def free(svc: str, lo: int, hi: int) -> bool:
            if any(abs(e["ts"] - t) < 60 for e in events for t in (lo, hi)):
                return False
            return all(hi < a or lo > b for a, b in busy[svc])

        lo_ts, hi_ts = topo.t0 + 60, topo.now - 120
        # Decoy hard cuts: other services get the same kind of drastic change as the trigger
        # (and nothing breaks), so the deploy log alone cannot name the culprit; the first
        # one lands within 3 h of the incident so timing alone cannot either.
        others = [x for x in self.services if x != inc.service]
        n_cuts = int(rng.integers(3, 7))
        cuts = attempts = 0
        while cuts < n_cuts and attempts < 500:
            attempts += 1
            svc = str(_pick(rng, others))
            near = cuts == 0 and attempts < 200
            t1 = (
                int(rng.integers(max(lo_ts, inc.start_ts - 10_800), min(hi_ts, inc.start_ts + 10_800)))
                if near
                else (int(rng.integers(lo_ts, hi_ts)))
            )
            paired = self.chance(0.5)
            t2 = t1 + int(rng.integers(20, 181)) * 60
            if (paired and t2 >= hi_ts) or not free(svc, t1, t2 if paired else t1):
                continue
            pair = f"c{attempts}" if paired else None
            events.append({"ts": t1, "service": svc, "kind": "change", "role": "cut", "pair": pair})
            if paired:
                events.append({"ts": t2, "service": svc, "kind": "rollback", "role": "decoy", "pair": pair})
            busy[svc].append((t1, t2 if paired else t1))
            cuts += 1
        target = int(rng.integers(10, 26))
        count = attempts = 0
        while count < target and attempts < 2000:
            attempts += 1
            svc = str(_pick(rng, self.services))
            t1 = int(rng.integers(lo_ts, hi_ts))
            if count + 2 <= target and self.chance(0.3):
                t2 = t1 + int(rng.integers(10, 91)) * 60 + int(rng.integers(0, 60))
                if t2 >= hi_ts or not free(svc, t1, t2):
                    continue
                pair = f"p{attempts}"
                events.append({"ts": t1, "service": svc, "kind": "change", "role": "decoy", "pair": pair})
                events.append({"ts": t2, "service": svc, "kind": "rollback", "role": "decoy", "pair": pair})
                busy[svc].append((t1, t2))
                count += 2
            else:
                if not free(svc, t1, t1):
                    continue
                events.append({"ts": t1, "service": svc, "kind": "change", "role": "decoy", "pair": None})
                busy[svc].append((t1, t1))
                count += 1
        events.sort(key=lambda e: e["ts"])
        ids: set[str] = set()
        for e in events:
            while True:
                did = f"d-{int(rng.integers(0, 16**6)):06x}"
                if did not in ids:
                    ids.add(did)
                    e["deploy_id"] = did
                    break
            e["author"] = str(_pick(rng, AUTHORS))
        return events

    def _bad_value(self, key: str, old: Any) -> str:
        """Literal of a much lower value of ``key`` (the incident's bad change)."""
        rng = self.rng
        # Cut factors span moderate (2x) to drastic (40x): the size of a change is no tell.
        if key == "timeout":
            ms = max(100, round(float(old) * 1000 / int(rng.integers(2, 41)) / 50) * 50)
            return render_duration(rng, ac.parse_duration(f"{ms}ms"), allow_plain=False)
        if key == "pool_size":
            new = max(1, int(old) // int(rng.integers(2, 21)))
        elif key == "memory_mb":
            new = max(32, (int(old) // int(_pick(rng, (2, 4, 8, 16))) // 32) * 32)
        elif key == "rate_limit":
            new = max(1, int(old) // int(rng.integers(2, 41)))
        else:
            raise AssertionError(key)
        return str(new)

    def _decoy_value(self, key: str, old: Any) -> str:
        """Literal of a moderately different value of ``key`` (a routine tuning deploy)."""
        rng = self.rng
        for _ in range(50):
            if key == "replicas":
                new: Any = max(1, int(old) + int(_pick(rng, (-3, -2, -1, 1, 2, 3, 4))))
            elif key == "timeout":
                new = float(old) * float(_pick(rng, (0.5, 0.75, 1.5, 2.0, 3.0)))
                new = max(1, round(new * 2) / 2)
                new = int(new) if float(new).is_integer() else new
            elif key == "pool_size":
                new = max(2, round(int(old) * float(_pick(rng, (0.75, 1.25, 1.5, 2.0)))))
            elif key == "memory_mb":
                new = max(128, round(int(old) * float(_pick(rng, (0.75, 1.5, 2.0))) / 64) * 64)
            elif key == "rate_limit":
                new = max(10, round(int(old) * float(_pick(rng, (0.8, 1.25, 1.5, 2.0))) / 10) * 10)
            elif key == "retries":
                new = int(_pick(rng, [r for r in range(0, 7) if r != old]))
            elif key == "cpu_limit":
                new = float(_pick(rng, [c for c in CPU if c != old]))
            elif key == "log_level":
                new = str(_pick(rng, [lv for lv in LOG_LEVELS if lv != old]))
            else:
                raise AssertionError(key)
            if not ac.same_value(new, old):
                break
        if key == "timeout":
            return render_duration(rng, new)
        return ac.to_literal(new)

    def _summary(self, svc: str, changes: list[dict[str, Any]]) -> str:
        rng = self.rng
        if len(changes) != 1 or self.chance(0.2):
            return str(_pick(rng, GENERIC_SUMMARIES))
        ch = changes[0]
        return str(_pick(rng, SUMMARIES[ch["key"]])).format(svc=svc, new=ch["new"])

    def _history_and_render(self) -> ConfigWorld:
        static = self._static_files()
        out: dict[str, str] = dict(static)
        for svc in self.services:
            out[ac.snapshot_path(ac.INITIAL, svc)] = self.files[svc].render()
        events = self._schedule()
        undo: dict[str, list[tuple[str, _Entry | None]]] = {}
        change_of_pair: dict[str, str] = {}
        deploys: list[dict[str, Any]] = []
        incident_info: dict[str, Any] = {"service": self.inc.service, "key": self.inc.key}
        for e in events:
            svc = e["service"]
            sf = self.files[svc]
            before = self._effective(static, svc)
            changes: list[dict[str, Any]] = []
            rollback_of = None
            if e["kind"] == "change":
                saved: list[tuple[str, _Entry | None]] = []
                if e["role"] == "trigger":
                    keys = [self.inc.key]
                elif e["role"] == "cut":
                    cut_keys = [k for k in CUT_KEYS if (svc, k) not in self.frozen and k in before]
                    keys = [str(_pick(self.rng, cut_keys))] if cut_keys else []
                else:
                    eligible = [k for k in DECOY_KEYS if (svc, k) not in self.frozen and k in before]
                    n = min(len(eligible), 2 if self.chance(0.2) else 1)
                    keys = [eligible[int(i)] for i in self.rng.choice(len(eligible), size=n, replace=False)]
                    if not keys:  # nothing tunable left: the deploy only re-syncs the file
                        sf.entries.append(_Entry(None, f"# synced by {e['author']}"))
                for key in keys:
                    i = sf.find(key)
                    saved.append((key, sf.entries[i] if i >= 0 else None))
                    if e["role"] in ("trigger", "cut"):
                        text = self._bad_value(key, before[key])
                    else:
                        text = self._decoy_value(key, before[key])
                    sf.set(key, text)
                undo[e["deploy_id"]] = saved
                if e["pair"] is not None:
                    change_of_pair[e["pair"]] = e["deploy_id"]
            else:
                rollback_of = change_of_pair[e["pair"]]
                for key, prev in undo[rollback_of]:
                    i = sf.find(key)
                    if prev is None:
                        del sf.entries[i]
                    else:
                        sf.entries[i] = prev
            after = self._effective(static, svc)
            changes = ac.diff_values(before, after)
            if e["kind"] == "change":
                summary = self._summary(svc, changes)
            else:
                summary = f"rollback {rollback_of}"
            if e["role"] == "trigger":
                incident_info.update(old=before[self.inc.key], new=after[self.inc.key], trigger_deploy=e["deploy_id"])
            elif e["role"] == "rollback":
                incident_info["rollback_deploy"] = e["deploy_id"]
            out[ac.snapshot_path(e["deploy_id"], svc)] = sf.render()
            deploys.append(
                {
                    "deploy_id": e["deploy_id"],
                    "ts": e["ts"],
                    "service": svc,
                    "author": e["author"],
                    "kind": e["kind"],
                    "summary": summary,
                    "rollback_of": rollback_of,
                    "changes": changes,
                }
            )
        for svc in self.services:
            out[f"config/services/{svc}.acme"] = self.files[svc].render()
        log = [
            "# AcmeCorp config deploys, oldest first.",
            "# ts | deploy_id | service | author | kind | summary",
            *(
                f"{d['ts']} | {d['deploy_id']} | {d['service']} | {d['author']} | {d['kind']} | {d['summary']}"
                for d in deploys
            ),
        ]
        out[ac.DEPLOY_LOG] = "\n".join(log) + "\n"
        cfg = ac.load_tree(out)
        facts = {
            "deploy_ids": [d["deploy_id"] for d in deploys],
            "keys": sorted(ac.SCHEMA),
            "entry": ac.ENTRY,
            "env_file": ac.ENV_PATH,
            "deploy_log": ac.DEPLOY_LOG,
            "history_dir": ac.HISTORY_DIR,
            "services": list(self.services),
            "deploys": deploys,
            "incident": incident_info,
            "defects": self.defects,
            "issue_codes": cfg.codes(),
            "issue_files": sorted({i.file for i in cfg.issues}),
            "variables": {k: sorted(set(v)) for k, v in self.var_sources.items()},
            "overrides": [list(o) for o in self.overrides],
            "cycle_edge": self.cycle_edge,
        }
        return ConfigWorld(files=dict(sorted(out.items())), facts=facts)


def generate_config(
    rng: np.random.Generator, topo: Topology, incident: Incident, options: Mapping[str, Any] | None = None
) -> ConfigWorld:
    """The config tree, deploy log and history of one world (see the module docstring)."""
    if set(SERVICE_POOL) & set(GHOST_SERVICES):
        raise AssertionError("ghost service names must not be real service names")
    return _Generator(rng, topo, incident, options or {}).build()
