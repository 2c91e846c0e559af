"""Phase 4 (Incidents), continued: tasks that need the config tree and deploy history."""

from __future__ import annotations

import itertools
import json
from typing import Any

from envs.access import WorldAccess
from envs.acmecorp import acmeconf as ac
from envs.acmecorp.tasks_config import JsonValue, config_files, config_tree, snapshot_values
from envs.acmecorp.tasks_incidents import CAUSE_ENUM, STR, _cause, _detect, _obj, cause_from_logs, root_and_start
from envs.acmecorp.topology import CAUSES
from envs.grading import Comparator, DictOf, ExactStr, SetOf, Tolerance
from envs.tasks import Call, DegenerateTask, Solver, TaskFamily
from envs.world import World

DEPLOY_ID = {"type": "string", "pattern": "^d-[0-9a-f]{6}$"}
CHANGE = _obj(key=STR, old={}, new={})


def trigger(access: WorldAccess) -> dict[str, Any]:
    """Root cause, start, cause and the triggering deploy with its change (handbook definitions)."""
    cache = access.world.cache
    if "incident_trigger" in cache:
        cached: dict[str, Any] = cache["incident_trigger"]
        return cached
    root, start = root_and_start(access)
    cause = cause_from_logs(access, root, start)
    key = CAUSES[cause][0]
    files = config_files(access)
    deploys = {d.deploy_id: d for d in ac.parse_deploy_log(files[ac.DEPLOY_LOG])}
    versions = ac.service_versions(list(deploys.values()), root)
    found = None
    prev = snapshot_values(files, versions[0], root)
    for version in versions[1:]:
        cur = snapshot_values(files, version, root)
        if deploys[version].ts < start and not ac.same_value(prev.get(key), cur.get(key)):
            found = {"deploy_id": version, "key": key, "old": prev.get(key), "new": cur.get(key)}
        prev = cur
    if found is None:
        raise DegenerateTask("no deploy of the root cause changed the cause's key before the start")
    out = {"service": root, "start_ts": start, "cause": cause, **found}
    cache["incident_trigger"] = out
    return out


def affected_services(access: WorldAccess, root: str) -> list[str]:
    services = config_tree(access).services
    out = {root}
    frontier = [root]
    while frontier:
        cur = frontier.pop()
        for name, values in services.items():
            deps = values.get("deps") or []
            if cur in deps and name not in out:
                out.add(name)
                frontier.append(name)
    return sorted(out)


def _find_trigger(root: str, start: int, cause: str) -> Solver:
    key = CAUSES[cause][0]
    deploys = json.loads((yield Call("acmeconf_deploys", {"service": root})))
    versions = [ac.INITIAL] + [d["deploy_id"] for d in deploys]
    ts = {d["deploy_id"]: d["ts"] for d in deploys}
    found: dict[str, Any] = {}
    for a, b in itertools.pairwise(versions):
        diff = json.loads((yield Call("acmeconf_diff", {"deploy_a": a, "deploy_b": b, "service": root})))
        for rec in diff:
            if rec["key"] == key and ts[b] < start:
                found = {"deploy_id": b, **rec}
    return found


def _affected(root: str) -> Solver:
    out = yield Call("acmeconf_dependents", {"service": root})
    return sorted({root, *json.loads(out)})


class TriggerDeploy(TaskFamily):
    name, phase, difficulty = "incidents.trigger_deploy", "incidents", "hard"
    answer_schema = DEPLOY_ID

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return "Which config deploy triggered the incident (handbook definition)? Answer with the deploy id."

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> str:
        deploy: str = trigger(access)["deploy_id"]
        return deploy

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return ExactStr()

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        info = yield from _detect()
        cause = yield from _cause(info["root_cause"], info["start_ts"])
        found = yield from _find_trigger(info["root_cause"], info["start_ts"], cause)
        return found.get("deploy_id")


class BadChange(TaskFamily):
    name, phase, difficulty = "incidents.bad_change", "incidents", "hard"
    answer_schema = CHANGE

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            "The incident was triggered by a config deploy. Which key did it change, from which effective value "
            "to which (durations in seconds)?"
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> dict[str, Any]:
        t = trigger(access)
        return {"key": t["key"], "old": t["old"], "new": t["new"]}

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return DictOf((("key", ExactStr()), ("old", JsonValue()), ("new", JsonValue())))

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        info = yield from _detect()
        cause = yield from _cause(info["root_cause"], info["start_ts"])
        found = yield from _find_trigger(info["root_cause"], info["start_ts"], cause)
        return {"key": found.get("key"), "old": found.get("old"), "new": found.get("new")}


class BlastRadius(TaskFamily):
    name, phase, difficulty = "incidents.blast_radius", "incidents", "hard"
    answer_schema = {"type": "array", "items": STR}

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return "Which services were in the incident's blast radius (handbook definition, root cause included)?"

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> list[str]:
        root, _ = root_and_start(access)
        affected = affected_services(access, root)
        if len(affected) < 2:
            raise DegenerateTask("nothing depends on the root cause")
        return affected

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return SetOf(ExactStr())

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        info = yield from _detect()
        affected = yield from _affected(info["root_cause"])
        return affected


class IncidentReport(TaskFamily):
    name, phase, difficulty = "incidents.report", "incidents", "hard"
    answer_schema = _obj(
        service=STR, cause=CAUSE_ENUM, start_ts={"type": "integer"}, deploy_id=DEPLOY_ID, affected={"type": "array"}
    )

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            "Write the incident report: root-cause service, cause category, start time (unix seconds), "
            "triggering deploy id and the affected services (blast radius), all per the handbook definitions."
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> dict[str, Any]:
        t = trigger(access)
        return {
            "service": t["service"],
            "cause": t["cause"],
            "start_ts": t["start_ts"],
            "deploy_id": t["deploy_id"],
            "affected": affected_services(access, t["service"]),
        }

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return DictOf(
            (
                ("service", ExactStr()),
                ("cause", ExactStr()),
                ("start_ts", Tolerance(abs_tol=120)),
                ("deploy_id", ExactStr()),
                ("affected", SetOf(ExactStr())),
            )
        )

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        info = yield from _detect()
        root, start = info["root_cause"], info["start_ts"]
        cause = yield from _cause(root, start)
        found = yield from _find_trigger(root, start, cause)
        affected = yield from _affected(root)
        return {
            "service": root,
            "cause": cause,
            "start_ts": start,
            "deploy_id": found.get("deploy_id"),
            "affected": affected,
        }


DEPLOY_FAMILIES: list[TaskFamily] = [TriggerDeploy(), BadChange(), BlastRadius(), IncidentReport()]
__all__ = ["DEPLOY_FAMILIES"]
