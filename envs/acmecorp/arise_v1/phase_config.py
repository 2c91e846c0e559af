"""Phase 3 of the AcmeCorp paper tasks: config (15 tasks over inline AcmeConf files)."""

from __future__ import annotations

from typing import Any

from envs.acmecorp.arise_v1.analyses import _VAR, dep_graph, find_cycles, names_or, resolve, service_block, unknown_deps
from envs.acmecorp.arise_v1.checks import CHECKS
from envs.acmecorp.arise_v1.oracle_calls import call_tool_json, tool_all_conf, tool_conf, tool_replicas
from envs.acmecorp.arise_v1.prompts import (
    VAR_NOTE,
    all_config_blocks,
    config_block,
    config_texts,
    file_of,
    picked_services,
    service_or_first,
)
from envs.acmecorp.arise_v1.world import (
    CONFIG_DIR,
    CONFIG_V2_DIR,
    V1Data,
    parse_conf_text,
)
from envs.arise_v1 import PhaseTable, Question
from envs.tasks import Solver
from envs.world import World

CONFIG_TASKS = PhaseTable("config", CHECKS, bands=(5, 5, 5))


def _first(world: World) -> dict[str, Any]:
    return {"service": picked_services(world)[0]}


def _second(world: World) -> dict[str, Any]:
    picked = picked_services(world)
    return {"service": picked[1] if len(picked) > 1 else "gateway"}


def _database_or_first(world: World) -> dict[str, Any]:
    return {"service": service_or_first(world, "database")}


def _one_conf_q(ask: str, note: str = "") -> Question:
    def q(world: World, params: dict[str, Any]) -> str:
        svc = params["service"]
        text = f"{ask.format(service=svc)}\n\n{config_block(f'{svc}.acme', file_of(world, svc))}"
        return f"{text}\n\n{note}" if note else text

    return q


def _all_conf_q(ask: str) -> Question:
    def q(world: World, params: dict[str, Any]) -> str:
        return f"{ask.format(**params)}\n\n{all_config_blocks(world)}"

    return q


@CONFIG_TASKS.task(
    1, "contains", "replicas of the first service (variable default)",
    _one_conf_q(
        "Parse the following AcmeConf config and return the replicas count for the '{service}' service.", VAR_NOTE
    ),
    lambda d, p: service_block(d, p["service"]).get("replicas"),
    params=_first,
)  # fmt: skip
def _config_01(world: World, params: dict[str, Any]) -> Solver:
    return (yield from tool_replicas(world, params["service"]))


@CONFIG_TASKS.task(
    2, "contains", "timeout in seconds of the second service",
    _one_conf_q(
        "Parse the following AcmeConf config and return the timeout value (in seconds) for the '{service}' service.",
        "Note: Durations like '30s' = 30, '5m' = 300, '1h' = 3600.",
    ),
    lambda d, p: service_block(d, p["service"]).get("timeout"),
    params=_second,
)  # fmt: skip
def _config_02(world: World, params: dict[str, Any]) -> Solver:
    blocks = yield from tool_conf(file_of(world, params["service"]))
    return str(blocks[params["service"]]["timeout"])


@CONFIG_TASKS.task(
    3, "all_present", "list services",
    _all_conf_q("Look at these AcmeConf config files and list all services defined (excluding 'defaults')."),
    lambda d, p: sorted(d.service_blocks()),
)  # fmt: skip
def _config_03(world: World, params: dict[str, Any]) -> Solver:
    blocks = yield from tool_all_conf(world)
    return names_or(blocks)


@CONFIG_TASKS.task(
    4, "all_present", "deps of the first service",
    _one_conf_q("Parse the following AcmeConf config and list the dependencies of the '{service}' service."),
    lambda d, p: list(service_block(d, p["service"]).get("deps", [])),
    params=_first,
)  # fmt: skip
def _config_04(world: World, params: dict[str, Any]) -> Solver:
    blocks = yield from tool_conf(file_of(world, params["service"]))
    return names_or(blocks[params["service"]].get("deps", []))


@CONFIG_TASKS.task(
    5, "contains", "health_check path",
    _one_conf_q("Parse the following AcmeConf config and return the health_check path for the '{service}' service."),
    lambda d, p: service_block(d, p["service"]).get("health_check", ""),
    params=_database_or_first,
)  # fmt: skip
def _config_05(world: World, params: dict[str, Any]) -> Solver:
    blocks = yield from tool_conf(file_of(world, params["service"]))
    return str(blocks[params["service"]]["health_check"])


def _validation_truth(d: V1Data, p: dict[str, Any]) -> list[str]:
    return [
        f"{svc} is missing required field {f}"
        for svc, fields in d.service_blocks().items()
        for f in ("replicas", "timeout", "health_check")
        if f not in fields
    ]


@CONFIG_TASKS.task(
    6, "validation", "missing required fields (expected none)",
    _all_conf_q(
        "Validate the following AcmeConf configs. Check if any services are missing required fields "
        "(replicas, timeout, health_check). Report any issues found."
    ),
    _validation_truth,
)  # fmt: skip
def _config_06(world: World, params: dict[str, Any]) -> Solver:
    issues: list[dict[str, Any]] = []
    for text in config_texts(world).values():
        issues += yield from call_tool_json("validate_acmeconf", config_text=text)
    if not issues:
        return "No issues found: every service defines replicas, timeout and health_check."
    return "\n".join(f"{i['service']}: {i['issue']}" for i in issues)


@CONFIG_TASKS.task(
    7, "none_or_all_present", "who depends on database (or the first service)",
    _all_conf_q(
        "From the following AcmeConf configs, which services depend on the '{service}' service? Check the 'deps' field."
    ),
    lambda d, p: sorted(s for s, f in d.service_blocks().items() if p["service"] in f.get("deps", [])),
    params=_database_or_first,
)  # fmt: skip
def _config_07(world: World, params: dict[str, Any]) -> Solver:
    blocks = yield from tool_all_conf(world)
    return names_or(sorted(s for s, deps in dep_graph(blocks).items() if params["service"] in deps))


@CONFIG_TASKS.task(
    8, "none_or_all_present", "services with replicas > 2",
    _all_conf_q(
        "Parse all the following AcmeConf configs and list services with replicas > 2. "
        "If replicas uses a variable like ${{VAR:-N}}, use the default value N."
    ),
    lambda d, p: sorted(s for s, f in d.service_blocks().items() if _int_above(f.get("replicas"), 2)),
)  # fmt: skip
def _config_08(world: World, params: dict[str, Any]) -> Solver:
    blocks = yield from tool_all_conf(world)
    big = []
    for s, f in blocks.items():
        replicas = resolve(f.get("replicas"))
        if isinstance(replicas, int) and replicas > 2:
            big.append(s)
    return names_or(sorted(big))


def _int_above(value: Any, threshold: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > threshold


def _collect_vars(value: Any, into: set[str]) -> None:
    if isinstance(value, list):
        for v in value:
            _collect_vars(v, into)
    elif isinstance(value, str):
        into.update(m.group(1) for m in _VAR.finditer(value))


@CONFIG_TASKS.task(
    9, "none_or_all_present", "environment variables referenced",
    _all_conf_q(
        "What environment variables are referenced in the following AcmeConf configs? "
        "Look for patterns like ${{VARIABLE_NAME}} or ${{VARIABLE_NAME:-default}}."
    ),
    lambda d, p: d.variables(),
)  # fmt: skip
def _config_09(world: World, params: dict[str, Any]) -> Solver:
    found: set[str] = set()
    for text in config_texts(world).values():
        blocks = yield from tool_conf(text)
        for fields in blocks.values():
            for v in fields.values():
                _collect_vars(v, found)
    return names_or(sorted(found))


@CONFIG_TASKS.task(
    10, "contains", "resolve variables of the first file (graded like task 1)",
    _one_conf_q(
        "Parse the following AcmeConf config and resolve any variable references using their default values "
        "(e.g., ${{VAR:-3}} resolves to 3). Return the resolved values for all fields."
    ),
    lambda d, p: service_block(d, p["service"]).get("replicas"),
    params=_first,
)  # fmt: skip
def _config_10(world: World, params: dict[str, Any]) -> Solver:
    blocks = yield from tool_conf(file_of(world, params["service"]))
    fields = blocks[params["service"]]
    return "\n".join(
        f"{k} = {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in resolve(dict(fields)).items()
    )


def _diff_params(world: World) -> dict[str, Any]:
    return {"file": f"{picked_services(world)[0]}.acme"}


def _diff_q(world: World, params: dict[str, Any]) -> str:
    name = params["file"]
    a = world.files[f"{CONFIG_DIR}/{name}"]
    b = world.files[f"{CONFIG_V2_DIR}/{name}"]
    return (
        "Compare these two versions of an AcmeConf config and list the differences.\n\n"
        f"Version A ({name}):\n```\n{a}```\n\nVersion B ({name}):\n```\n{b}```"
    )


def _diff_truth(d: V1Data, p: dict[str, Any]) -> list[dict[str, Any]]:
    a = parse_blocks(d.configs[p["file"]])
    b = parse_blocks(d.config_v2[p["file"]])
    return [
        {"service": s, "field": f, "old": a[s].get(f), "new": b.get(s, {}).get(f)}
        for s in a
        for f in a[s]
        if a[s].get(f) != b.get(s, {}).get(f)
    ]


def parse_blocks(text: str) -> dict[str, dict[str, Any]]:
    return parse_conf_text(text).blocks


@CONFIG_TASKS.task(
    11, "mentions_replicas", "diff two versions (graded on 'replicas')",
    _diff_q, _diff_truth, params=_diff_params,
)  # fmt: skip
def _config_11(world: World, params: dict[str, Any]) -> Solver:
    name = params["file"]
    changes = yield from call_tool_json(
        "diff_acmeconf",
        config_a=world.files[f"{CONFIG_DIR}/{name}"],
        config_b=world.files[f"{CONFIG_V2_DIR}/{name}"],
    )
    if not changes:
        return "The two versions are identical: no differences."
    return "\n".join(f"{c['service']}.{c['field']}: {c['old']} -> {c['new']}" for c in changes)


@CONFIG_TASKS.task(
    12, "cycles", "circular dependencies (always true)",
    _all_conf_q(
        "Check for circular dependencies in the following service configs. A circular dependency is when service A "
        "depends on B and B depends on A (directly or transitively)."
    ),
    lambda d, p: find_cycles({s: list(f.get("deps", [])) for s, f in d.service_blocks().items()}),
)  # fmt: skip
def _config_12(world: World, params: dict[str, Any]) -> Solver:
    blocks = yield from tool_all_conf(world)
    cycles = find_cycles(dep_graph(blocks))
    if not cycles:
        return "No circular dependencies."
    return "Circular dependencies found:\n" + "\n".join(" -> ".join([*c, c[0]]) for c in cycles)


@CONFIG_TASKS.task(
    13, "dep_refs", "deps point to existing services (expected empty)",
    _all_conf_q(
        "Validate that all dependency references in the configs point to existing services. Check the 'deps' field "
        "of each service and verify each referenced service is actually defined."
    ),
    lambda d, p: unknown_deps({s: list(f.get("deps", [])) for s, f in d.service_blocks().items()}),
)  # fmt: skip
def _config_13(world: World, params: dict[str, Any]) -> Solver:
    blocks = yield from tool_all_conf(world)
    issues = unknown_deps(dep_graph(blocks))
    return "\n".join(issues) if issues else "All dependency references are valid: every dep is a defined service."


@CONFIG_TASKS.task(
    14, "all_present", "dependency graph (names)",
    _all_conf_q(
        "Generate a dependency graph from the following configs. For each service, list which services it depends on."
    ),
    lambda d, p: {s: list(f.get("deps", [])) for s, f in d.service_blocks().items()},
)  # fmt: skip
def _config_14(world: World, params: dict[str, Any]) -> Solver:
    blocks = yield from tool_all_conf(world)
    return "\n".join(f"{s} -> {names_or(deps, '(none)')}" for s, deps in dep_graph(blocks).items())


@CONFIG_TASKS.task(
    15, "all_present", "full audit (names)",
    _all_conf_q(
        "Perform a full config audit on the following AcmeConf files. Check for: (1) missing required fields "
        "(replicas, timeout, health_check), (2) unresolved variable references, (3) invalid dependency references "
        "(deps pointing to non-existent services)."
    ),
    lambda d, p: sorted(d.service_blocks()),
)  # fmt: skip
def _config_15(world: World, params: dict[str, Any]) -> Solver:
    issues: list[dict[str, Any]] = []
    for text in config_texts(world).values():
        issues += yield from call_tool_json("validate_acmeconf", config_text=text)
    blocks = yield from tool_all_conf(world)
    unknown = unknown_deps(dep_graph(blocks))
    lines = []
    for s, f in blocks.items():
        missing = [i["field"] for i in issues if i["service"] == s]
        found: set[str] = set()
        for v in f.values():
            _collect_vars(v, found)
        variables = f"variables with defaults: {', '.join(sorted(found))}" if found else "no variables"
        lines.append(
            f"{s}: {'missing ' + ', '.join(missing) if missing else 'all required fields present'}; {variables}"
        )
    lines.append("Invalid dependency references: " + (names_or(unknown, "none")))
    return "\n".join(lines)
