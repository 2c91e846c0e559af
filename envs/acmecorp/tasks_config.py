"""Task families of the Config phase (AcmeCorp, protocol ``rigorous``).

Every family samples parameters from the world's generator facts
(``world.facts["config"]``, ``["topology"]``), computes ground truth by evaluating
the AcmeConf files through ``WorldAccess`` (exactly what an agent can read), and has
an oracle ``solve`` that reaches the answer with the reference tools of
``envs.acmecorp.config_tools``. Ties and degenerate truths raise ``DegenerateTask``.

"The deployed configuration" is ``config/main.acme`` with everything it includes
(see the handbook page ``acmeconf``).
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

from envs.access import WorldAccess
from envs.acmecorp import acmeconf as ac
from envs.grading import Comparator, ExactInt, ExactStr, ListOfRecords, OrderedList, SetOf, Tolerance
from envs.tasks import Call, DegenerateTask, Solver, TaskFamily
from envs.world import World

SERVICE_NAME_SCHEMA = {"type": "string", "pattern": "^[a-z][a-z0-9_-]*$"}
_JSON_VALUE = {"type": ["integer", "number", "string", "boolean", "array", "null"]}


@dataclass(frozen=True)
class JsonValue(Comparator):
    """Same JSON value: numbers within ``tol`` (booleans are not numbers), strings exact, lists item-wise."""

    tol: float = 1e-6

    def compare(self, pred: Any, truth: Any) -> tuple[bool, str]:
        ok = self._eq(pred, truth)
        return ok, "" if ok else "wrong value"

    def _eq(self, p: Any, t: Any) -> bool:
        if t is None or isinstance(t, (bool, str)):
            return type(p) is type(t) and p == t
        if isinstance(t, (int, float)):
            if isinstance(p, str):  # numbers written as strings count, as in every numeric comparator
                try:
                    p = float(p.strip())
                except ValueError:
                    return False
            return (
                isinstance(p, (int, float)) and not isinstance(p, bool) and math.isfinite(p) and abs(p - t) <= self.tol
            )
        if isinstance(t, list):
            return isinstance(p, list) and len(p) == len(t) and all(self._eq(a, b) for a, b in zip(p, t, strict=True))
        return bool(p == t)

    def describe(self) -> str:
        return "JSON value (numbers within 1e-6, also when written as strings)"


# -- helpers ------------------------------------------------------------------
def config_files(access: WorldAccess) -> ac.FileView:
    return ac.FileView(access.list_files, access.read_file)


def config_tree(access: WorldAccess) -> ac.Config:
    return ac.load_tree(config_files(access))


def _facts(world: World) -> dict[str, Any]:
    facts = world.facts.get("config")
    if not isinstance(facts, dict):
        raise DegenerateTask("world has no config facts")
    return facts


def _choice(rng: Any, items: list[Any]) -> Any:
    if not items:
        raise DegenerateTask("nothing to sample from")
    return items[int(rng.integers(len(items)))]


def _deps_of(world: World) -> dict[str, tuple[str, ...]]:
    return dict(world.facts["topology"].deps)


def snapshot_values(files: ac.FileView, version: str, service: str) -> dict[str, Any]:
    return ac.load_snapshot(files, version, service).services.get(service, {})


def _loads(text: str) -> Any:
    return json.loads(text)


DEPLOYED = "the deployed AcmeConf configuration (config/main.acme and everything it includes)"

# answer schemas (module constants: the families share them read-only)
_EFFECTIVE_REPLICAS_SCHEMA: dict[str, Any] = {"type": "integer"}
_TIMEOUT_SECONDS_SCHEMA: dict[str, Any] = {"type": "number"}
_DIRECT_DEPS_SCHEMA: dict[str, Any] = {"type": "array", "items": SERVICE_NAME_SCHEMA}
_TRANSITIVE_DEPENDENTS_SCHEMA: dict[str, Any] = {"type": "array", "items": SERVICE_NAME_SCHEMA}
_VALIDATION_CODES_SCHEMA: dict[str, Any] = {"type": "array", "items": {"enum": sorted(ac.CODES)}, "uniqueItems": True}
_FILE_ISSUES_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"code": {"enum": sorted(ac.CODES)}, "line": {"type": "integer", "minimum": 1}},
        "required": ["code", "line"],
    },
}
_DEPLOY_DIFF_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"key": {"type": "string"}, "old": _JSON_VALUE, "new": _JSON_VALUE},
        "required": ["key", "old", "new"],
    },
}
_LAST_CHANGE_SCHEMA: dict[str, Any] = {"type": "string", "pattern": "^d-[0-9a-f]{6}$"}
_ENV_FALLBACKS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
}
_TOTAL_REPLICAS_SCHEMA: dict[str, Any] = {"type": "integer", "minimum": 0}
_LONGEST_CHAIN_SCHEMA: dict[str, Any] = {"type": "array", "items": SERVICE_NAME_SCHEMA, "minItems": 1}


# -- families -----------------------------------------------------------------
class EffectiveReplicas(TaskFamily):
    name = "config.effective_replicas"
    phase = "config"
    difficulty = "easy"
    answer_schema = _EFFECTIVE_REPLICAS_SCHEMA

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {"service": _choice(rng, list(_facts(world)["services"]))}

    def question(self, world: World, params: dict[str, Any]) -> str:
        return f"How many replicas does service '{params['service']}' run with in {DEPLOYED}?"

    def truth(self, access: WorldAccess, params: dict[str, Any]) -> Any:
        value = config_tree(access).services.get(params["service"], {}).get("replicas")
        if value is None:
            raise DegenerateTask("service has no valid replicas value")
        return value

    def comparator(self, params: dict[str, Any]) -> Comparator:
        return ExactInt()

    def solve(self, world: World, params: dict[str, Any]) -> Solver:
        out = yield Call("acmeconf_effective", {"service": params["service"]})
        return _loads(out)["values"]["replicas"]


class TimeoutSeconds(TaskFamily):
    name = "config.timeout_seconds"
    phase = "config"
    difficulty = "easy"
    answer_schema = _TIMEOUT_SECONDS_SCHEMA

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {"service": _choice(rng, list(_facts(world)["services"]))}

    def question(self, world: World, params: dict[str, Any]) -> str:
        return f"What is the effective request timeout of service '{params['service']}', in seconds, in {DEPLOYED}?"

    def truth(self, access: WorldAccess, params: dict[str, Any]) -> Any:
        value = config_tree(access).services.get(params["service"], {}).get("timeout")
        if value is None:
            raise DegenerateTask("service has no valid timeout")
        return value

    def comparator(self, params: dict[str, Any]) -> Comparator:
        return Tolerance(abs_tol=0.001)

    def solve(self, world: World, params: dict[str, Any]) -> Solver:
        out = yield Call("acmeconf_effective", {"service": params["service"]})
        return _loads(out)["values"]["timeout"]


class DirectDeps(TaskFamily):
    name = "config.direct_deps"
    phase = "config"
    difficulty = "easy"
    answer_schema = _DIRECT_DEPS_SCHEMA

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        deps = _deps_of(world)
        return {"service": _choice(rng, sorted(s for s, d in deps.items() if d))}

    def question(self, world: World, params: dict[str, Any]) -> str:
        return (
            f"Which services does '{params['service']}' list as its direct dependencies (its effective 'deps') "
            f"in {DEPLOYED}? Include every name listed, declared or not."
        )

    def truth(self, access: WorldAccess, params: dict[str, Any]) -> Any:
        deps = config_tree(access).services.get(params["service"], {}).get("deps")
        if not deps:
            raise DegenerateTask("no deps")
        return sorted(set(deps))

    def comparator(self, params: dict[str, Any]) -> Comparator:
        return SetOf()

    def solve(self, world: World, params: dict[str, Any]) -> Solver:
        out = yield Call("acmeconf_effective", {"service": params["service"]})
        return sorted(set(_loads(out)["values"]["deps"]))


class TransitiveDependents(TaskFamily):
    name = "config.transitive_dependents"
    phase = "config"
    difficulty = "medium"
    answer_schema = _TRANSITIVE_DEPENDENTS_SCHEMA

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        topo = world.facts["topology"]
        return {"service": _choice(rng, [s for s in topo.services if topo.dependents(s)])}

    def question(self, world: World, params: dict[str, Any]) -> str:
        return (
            f"Which services depend on '{params['service']}' directly or transitively through 'deps' in "
            f"{DEPLOYED}? Consider only declared services and leave '{params['service']}' itself out."
        )

    def truth(self, access: WorldAccess, params: dict[str, Any]) -> Any:
        cfg = config_tree(access)
        callers: dict[str, set[str]] = {}
        for svc, vals in cfg.services.items():
            for dep in vals.get("deps", []):
                callers.setdefault(dep, set()).add(svc)
        seen: set[str] = set()
        frontier = {params["service"]}
        while frontier:
            frontier = {c for f in frontier for c in callers.get(f, ())} - seen
            seen |= frontier
        seen.discard(params["service"])
        if not seen:
            raise DegenerateTask("no dependents")
        if seen == set(cfg.services) - {params["service"]}:
            raise DegenerateTask("everything else depends on it (guessable without reading the config)")
        return sorted(seen)

    def comparator(self, params: dict[str, Any]) -> Comparator:
        return SetOf()

    def solve(self, world: World, params: dict[str, Any]) -> Solver:
        out = yield Call("acmeconf_dependents", {"service": params["service"]})
        return [s for s in _loads(out) if s != params["service"]]


class ValidationCodes(TaskFamily):
    name = "config.validation_codes"
    phase = "config"
    difficulty = "hard"
    answer_schema = _VALIDATION_CODES_SCHEMA

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {"entry": ac.ENTRY}

    def question(self, world: World, params: dict[str, Any]) -> str:
        return (
            f"Validate {DEPLOYED}. Which validation codes does it produce? "
            "List each code once (an empty list if the tree is clean)."
        )

    def truth(self, access: WorldAccess, params: dict[str, Any]) -> Any:
        return ac.load_tree(config_files(access), params["entry"]).codes()

    def comparator(self, params: dict[str, Any]) -> Comparator:
        return SetOf()

    def solve(self, world: World, params: dict[str, Any]) -> Solver:
        out = yield Call("acmeconf_validate", {"entry": params["entry"]})
        return sorted({i["code"] for i in _loads(out)})


class FileIssues(TaskFamily):
    name = "config.file_issues"
    phase = "config"
    difficulty = "hard"
    answer_schema = _FILE_ISSUES_SCHEMA

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        facts = _facts(world)
        files = list(facts.get("issue_files") or [])
        if not files:  # a clean world: ask about a service file (the answer is then [])
            files = [f"config/services/{s}.acme" for s in facts["services"]]
        return {"file": _choice(rng, sorted(files))}

    def question(self, world: World, params: dict[str, Any]) -> str:
        return (
            f"Validating {DEPLOYED} reports issues at locations in several files. List every issue located in "
            f"'{params['file']}' as {{code, line}} (line numbers are 1-based)."
        )

    def truth(self, access: WorldAccess, params: dict[str, Any]) -> Any:
        issues = [i for i in config_tree(access).issues if i.file == params["file"]]
        return [{"code": i.code, "line": i.line} for i in issues]

    def comparator(self, params: dict[str, Any]) -> Comparator:
        return ListOfRecords(fields=(("code", ExactStr()), ("line", ExactInt())))

    def solve(self, world: World, params: dict[str, Any]) -> Solver:
        out = yield Call("acmeconf_validate", {})
        return [{"code": i["code"], "line": i["line"]} for i in _loads(out) if i["file"] == params["file"]]


class DeployDiff(TaskFamily):
    name = "config.deploy_diff"
    phase = "config"
    difficulty = "hard"
    answer_schema = _DEPLOY_DIFF_SCHEMA

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        deploys = _facts(world)["deploys"]
        svc = _choice(rng, sorted({d["service"] for d in deploys}))
        versions = [ac.INITIAL] + [
            d["deploy_id"] for d in sorted(deploys, key=lambda d: d["ts"]) if d["service"] == svc
        ]
        i, j = sorted(int(x) for x in rng.choice(len(versions), size=2, replace=False))
        return {"service": svc, "deploy_a": versions[i], "deploy_b": versions[j]}

    def _label(self, version: str) -> str:
        return "its initial version (before its first deploy)" if version == ac.INITIAL else f"deploy {version}"

    def question(self, world: World, params: dict[str, Any]) -> str:
        return (
            f"Compare the effective configuration of service '{params['service']}' as of "
            f"{self._label(params['deploy_a'])} with the one as of {self._label(params['deploy_b'])}, evaluating the "
            "service file saved for each version in the config history. Which keys differ? Give one record "
            "{key, old, new} per differing key; durations in seconds, null for a key that is not set."
        )

    def truth(self, access: WorldAccess, params: dict[str, Any]) -> Any:
        files = config_files(access)
        a = snapshot_values(files, params["deploy_a"], params["service"])
        b = snapshot_values(files, params["deploy_b"], params["service"])
        diff = ac.diff_values(a, b)
        if not diff:
            raise DegenerateTask("no difference between the two versions")
        return diff

    def comparator(self, params: dict[str, Any]) -> Comparator:
        return ListOfRecords(fields=(("key", ExactStr()), ("old", JsonValue()), ("new", JsonValue())))

    def solve(self, world: World, params: dict[str, Any]) -> Solver:
        out = yield Call(
            "acmeconf_diff",
            {"deploy_a": params["deploy_a"], "deploy_b": params["deploy_b"], "service": params["service"]},
        )
        return _loads(out)


class LastChange(TaskFamily):
    name = "config.last_change"
    phase = "config"
    difficulty = "medium"
    answer_schema = _LAST_CHANGE_SCHEMA

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        pairs = sorted({(d["service"], c["key"]) for d in _facts(world)["deploys"] for c in d["changes"]})
        svc, key = _choice(rng, pairs)
        return {"service": svc, "key": key}

    def question(self, world: World, params: dict[str, Any]) -> str:
        return (
            f"Which config deploy most recently changed the effective value of '{params['key']}' for service "
            f"'{params['service']}' (comparing the service file saved in the config history before and after "
            "each deploy)? Answer with the deploy id."
        )

    def truth(self, access: WorldAccess, params: dict[str, Any]) -> Any:
        files = config_files(access)
        svc, key = params["service"], params["key"]
        versions = ac.service_versions(ac.parse_deploy_log(files[ac.DEPLOY_LOG]), svc)
        last = None
        prev = snapshot_values(files, versions[0], svc)
        for version in versions[1:]:
            cur = snapshot_values(files, version, svc)
            if (key in prev) != (key in cur) or not ac.same_value(prev.get(key), cur.get(key)):
                last = version
            prev = cur
        if last is None:
            raise DegenerateTask("no deploy changed that key")
        return last

    def comparator(self, params: dict[str, Any]) -> Comparator:
        return ExactStr()

    def solve(self, world: World, params: dict[str, Any]) -> Solver:
        svc = params["service"]
        deploys = _loads((yield Call("acmeconf_deploys", {"service": svc})))
        versions = [ac.INITIAL] + [d["deploy_id"] for d in deploys]
        last = None
        for a, b in itertools.pairwise(versions):
            diff = _loads((yield Call("acmeconf_diff", {"deploy_a": a, "deploy_b": b, "service": svc})))
            if any(r["key"] == params["key"] for r in diff):
                last = b
        return last


class EnvFallbacks(TaskFamily):
    name = "config.env_fallbacks"
    phase = "config"
    difficulty = "medium"
    answer_schema = _ENV_FALLBACKS_SCHEMA

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {"entry": ac.ENTRY}

    def question(self, world: World, params: dict[str, Any]) -> str:
        return (
            f"Which variables referenced in {DEPLOYED} take the inline default of a ${{NAME:-default}} reference "
            "because the world's env file does not give them a value? List each variable name once."
        )

    def truth(self, access: WorldAccess, params: dict[str, Any]) -> Any:
        names = sorted(
            {v.name for v in ac.load_tree(config_files(access), params["entry"]).variables if v.source == "default"}
        )
        if not names:
            raise DegenerateTask("no variable falls back to its default")
        return names

    def comparator(self, params: dict[str, Any]) -> Comparator:
        return SetOf()

    def solve(self, world: World, params: dict[str, Any]) -> Solver:
        out = yield Call("acmeconf_variables", {"entry": params["entry"]})
        return sorted({v["name"] for v in _loads(out) if v["source"] == "default"})


class TotalReplicas(TaskFamily):
    name = "config.total_replicas"
    phase = "config"
    difficulty = "medium"
    answer_schema = _TOTAL_REPLICAS_SCHEMA

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {"entry": ac.ENTRY}

    def question(self, world: World, params: dict[str, Any]) -> str:
        return (
            f"What is the total number of replicas over all services declared in {DEPLOYED}? "
            "A service without a valid replicas value counts as 0."
        )

    def truth(self, access: WorldAccess, params: dict[str, Any]) -> Any:
        cfg = ac.load_tree(config_files(access), params["entry"])
        return sum(int(v.get("replicas", 0)) for v in cfg.services.values())

    def comparator(self, params: dict[str, Any]) -> Comparator:
        return ExactInt()

    def solve(self, world: World, params: dict[str, Any]) -> Solver:
        out = yield Call("acmeconf_table", {"key": "replicas", "entry": params["entry"]})
        return sum(v for v in _loads(out).values() if v is not None)


class LongestChain(TaskFamily):
    name = "config.longest_chain"
    phase = "config"
    difficulty = "hard"
    answer_schema = _LONGEST_CHAIN_SCHEMA

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        deps = {s: list(d) for s, d in _deps_of(world).items()}
        cands = [(s, len(longest_chain(deps, s))) for s in sorted(deps) if deps[s]]
        long = [s for s, n in cands if n >= 3]  # prefer chains of 3+ services
        return {"service": _choice(rng, long or [s for s, _ in cands])}

    def question(self, world: World, params: dict[str, Any]) -> str:
        return (
            f"Following 'deps' edges between declared services in {DEPLOYED}, what is the longest dependency "
            f"chain that starts at '{params['service']}' and never visits a service twice? If several are "
            "equally long, give the one that comes first alphabetically, comparing service by service. Answer "
            f"with the services in order, starting with '{params['service']}'."
        )

    def truth(self, access: WorldAccess, params: dict[str, Any]) -> Any:
        graph = config_tree(access).graph()
        if params["service"] not in graph:
            raise DegenerateTask("service not declared")
        return longest_chain(graph, params["service"])

    def comparator(self, params: dict[str, Any]) -> Comparator:
        return OrderedList()

    def solve(self, world: World, params: dict[str, Any]) -> Solver:
        graph = _loads((yield Call("acmeconf_graph", {})))
        return longest_chain(graph, params["service"])


def longest_chain(graph: dict[str, list[str]], start: str) -> list[str]:
    """Longest simple path from ``start`` along ``graph`` edges; ties go to the alphabetically first path.

    Exhaustive depth-first search over simple paths (graphs here have at most a dozen services).
    """
    best = [start]
    path = [start]
    on_path = {start}

    def dfs(node: str) -> None:
        nonlocal best
        if len(path) > len(best) or (len(path) == len(best) and path < best):
            best = list(path)
        for nxt in graph.get(node, []):
            if nxt not in on_path:
                path.append(nxt)
                on_path.add(nxt)
                dfs(nxt)
                on_path.discard(nxt)
                path.pop()

    dfs(start)
    return best


CONFIG_FAMILIES: list[TaskFamily] = [
    EffectiveReplicas(),
    TimeoutSeconds(),
    DirectDeps(),
    TransitiveDependents(),
    ValidationCodes(),
    FileIssues(),
    DeployDiff(),
    LastChange(),
    EnvFallbacks(),
    TotalReplicas(),
    LongestChain(),
]
