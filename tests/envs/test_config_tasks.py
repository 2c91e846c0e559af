"""Config-phase task families and reference tools: oracle, null policies, truth variation."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import jsonschema
import numpy as np
import pytest

from envs import seeding
from envs.access import WorldAccess
from envs.acmecorp import acmeconf as ac
from envs.acmecorp.config_tools import CONFIG_TOOLS
from envs.acmecorp.configgen import generate_config
from envs.acmecorp.tasks_config import CONFIG_FAMILIES, JsonValue, longest_chain
from envs.acmecorp.topology import generate_incident, generate_topology
from envs.http import WorldHttp
from envs.oracle import tool_executor, trace_solver
from envs.tasks import DegenerateTask, TaskFamily
from envs.tools import InProcessRunner, tool_spec
from envs.world import World

TEST_SEEDS = range(20)
TRAIN_SEEDS = range(1000, 1020)
RUNNER = InProcessRunner.of(CONFIG_TOOLS)


def build_world(seed: int) -> World:
    topo = generate_topology(seeding.rng(seed, "topology"))
    inc = generate_incident(seeding.rng(seed, "incident"), topo)
    cfg = generate_config(seeding.rng(seed, "config"), topo, inc, {})
    return World(
        name="acmecorp",
        protocol="rigorous",
        seed=seed,
        now=topo.now,
        files=cfg.files,
        docs={},
        http=WorldHttp(),
        facts={"topology": topo, "incident": inc, "config": cfg.facts},
    )


def instance(fam: TaskFamily, world: World) -> tuple[dict[str, Any], Any]:
    access = WorldAccess(world)
    for attempt in range(200):
        try:
            params = fam.sample(world, seeding.rng(world.seed, "task", fam.name, 0, attempt))
            return params, fam.truth(access, params)
        except DegenerateTask:
            continue
    raise AssertionError(f"{fam.name}: no instance on world {world.seed}")


def run_oracle(fam: TaskFamily, world: World, params: dict[str, Any]) -> Any:
    trace = trace_solver(fam.solve(world, params), tool_executor(RUNNER, WorldAccess(world)), fam.name)
    failed = [s for s in trace.steps if s.output is None]
    assert not failed, f"{fam.name}: {failed[0].call} failed: {failed[0].observation}"
    return trace.answer


@pytest.fixture(scope="module")
def table() -> dict[str, dict[str, list[Any]]]:
    """family -> {"test": [(world, params, truth)], "train": [truth, ...]}."""
    out: dict[str, dict[str, list[Any]]] = {f.name: {"test": [], "train": []} for f in CONFIG_FAMILIES}
    for seed in TEST_SEEDS:
        world = build_world(seed)
        for fam in CONFIG_FAMILIES:
            params, truth = instance(fam, world)
            out[fam.name]["test"].append((world, params, truth))
    for seed in TRAIN_SEEDS:
        world = build_world(seed)
        for fam in CONFIG_FAMILIES:
            out[fam.name]["train"].append(instance(fam, world)[1])
    return out


def test_family_contract() -> None:
    names = [f.name for f in CONFIG_FAMILIES]
    assert len(names) == len(set(names)) >= 8
    assert {f.phase for f in CONFIG_FAMILIES} == {"config"}
    assert {f.difficulty for f in CONFIG_FAMILIES} == {"easy", "medium", "hard"}
    for fam in CONFIG_FAMILIES:
        assert fam.name.startswith("config.")
        jsonschema.Draft202012Validator.check_schema(fam.answer_schema)


@pytest.mark.parametrize("fam", CONFIG_FAMILIES, ids=lambda f: f.name)
def test_oracle_scores_one(fam: TaskFamily, table: dict[str, dict[str, list[Any]]]) -> None:
    for world, params, truth in table[fam.name]["test"]:
        answer = json.loads(json.dumps(run_oracle(fam, world, params)))  # through JSON, as an agent would
        grade = fam.comparator(params).grade(answer, truth)
        assert grade.score == 1.0 and grade.success, (world.seed, params, truth, answer, grade)
        jsonschema.validate(truth, fam.answer_schema)
        prompt = fam.prompt(world, params)
        assert fam.comparator(params).describe() in prompt


@pytest.mark.parametrize("fam", CONFIG_FAMILIES, ids=lambda f: f.name)
def test_truth_varies_across_seeds(fam: TaskFamily, table: dict[str, dict[str, list[Any]]]) -> None:
    truths = {json.dumps(t, sort_keys=True) for _, _, t in table[fam.name]["test"]}
    assert len(truths) >= 5, truths


def _random_from_schema(schema: dict[str, Any], rng: np.random.Generator, services: list[str]) -> Any:
    if "enum" in schema:
        return schema["enum"][int(rng.integers(len(schema["enum"])))]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = kind[int(rng.integers(len(kind)))]
    if kind == "integer":
        return int(rng.integers(0, 40))
    if kind == "number":
        return float(rng.integers(0, 300))
    if kind == "boolean":
        return bool(rng.integers(2))
    if kind == "null":
        return None
    if kind == "string":
        if "pattern" in schema and schema["pattern"].startswith("^d-"):
            return f"d-{int(rng.integers(0, 16**6)):06x}"
        return services[int(rng.integers(len(services)))]
    if kind == "array":
        items = schema.get("items", {"type": "string"})
        return [_random_from_schema(items, rng, services) for _ in range(int(rng.integers(0, 4)))]
    if kind == "object":
        props = schema.get("properties", {})
        return {k: _random_from_schema(v, rng, services) for k, v in props.items()}
    return None


@pytest.mark.parametrize("fam", CONFIG_FAMILIES, ids=lambda f: f.name)
def test_null_policies_fail(fam: TaskFamily, table: dict[str, dict[str, list[Any]]]) -> None:
    rows = table[fam.name]["test"]
    majority = Counter(json.dumps(t, sort_keys=True) for t in table[fam.name]["train"]).most_common(1)[0][0]
    rng = np.random.default_rng(0)
    policies: dict[str, Any] = {
        "empty_string": lambda w, p: "",
        "null": lambda w, p: None,
        "empty_list": lambda w, p: [],
        "empty_object": lambda w, p: {},
        "zero": lambda w, p: 0,
        "all_services": lambda w, p: list(w.facts["topology"].services),
        "all_codes": lambda w, p: sorted(ac.CODES),
        "integers": lambda w, p: list(range(50)),
        "echo": lambda w, p: fam.prompt(w, p),
        "majority": lambda w, p: json.loads(majority),
        "schema_random": lambda w, p: _random_from_schema(fam.answer_schema, rng, list(w.facts["topology"].services)),
    }
    for k in range(1, 17):  # integer dumps: every small constant
        policies[f"int_{k}"] = lambda w, p, k=k: k
    for name, policy in policies.items():
        wins = sum(fam.comparator(p).grade(policy(w, p), t).success for w, p, t in rows)
        assert wins / len(rows) <= 0.25, (fam.name, name, wins)


def test_tools_have_documented_schemas() -> None:
    for fn in CONFIG_TOOLS:
        spec = tool_spec(fn)
        assert spec.description
        for pname, prop in spec.parameters["properties"].items():
            assert prop.get("description"), (fn.__name__, pname)


def test_tools_report_clear_errors() -> None:
    world = build_world(0)
    access = WorldAccess(world)
    res = RUNNER.call("acmeconf_effective", {"service": "nope"}, access)
    assert not res.ok and "unknown service 'nope'; services:" in (res.error or "")
    res = RUNNER.call("acmeconf_diff", {"deploy_a": "d-000000", "deploy_b": "current", "service": "nope"}, access)
    assert not res.ok and "versions" in (res.error or "")
    res = RUNNER.call("acmeconf_validate", {"entry": "config/missing.acme"}, access)
    assert not res.ok and "no AcmeConf file or directory" in (res.error or "")


def test_tools_agree_with_the_library() -> None:
    world = build_world(4)
    access = WorldAccess(world)
    cfg = ac.load_tree(world.files)

    def call(name: str, **args: Any) -> Any:
        res = RUNNER.call(name, args, access)
        assert res.ok, res.error
        return json.loads(res.output)

    svc = sorted(cfg.services)[0]
    assert call("acmeconf_effective", service=svc)["values"] == cfg.services[svc]
    assert call("acmeconf_validate") == [i.to_json() for i in cfg.issues]
    assert call("acmeconf_graph") == cfg.graph()
    assert call("acmeconf_table", key="replicas") == {s: v.get("replicas") for s, v in cfg.services.items()}
    deploys = call("acmeconf_deploys")
    assert [d["deploy_id"] for d in deploys] == [d["deploy_id"] for d in world.facts["config"]["deploys"]]
    d = deploys[-1]
    versions = ac.service_versions(ac.parse_deploy_log(world.files[ac.DEPLOY_LOG]), d["service"])
    diff = call("acmeconf_diff", deploy_a=versions[-2], deploy_b=d["deploy_id"], service=d["service"])
    assert diff == world.facts["config"]["deploys"][-1]["changes"]
    # 'current' equals the last version; a directory entry evaluates every file in it
    assert call("acmeconf_diff", deploy_a=versions[-1], deploy_b="current", service=d["service"]) == []
    by_dir = call("acmeconf_effective", service=svc, entry="config/services")["values"]
    assert by_dir["deps"] == cfg.services[svc]["deps"] or svc == world.facts["config"]["cycle_edge"][0]
    at_initial = call("acmeconf_effective", service=d["service"], deploy="initial")["values"]
    assert at_initial == ac.load_snapshot(world.files, "initial", d["service"]).services[d["service"]]


def test_json_value_comparator() -> None:
    comp = JsonValue()
    assert comp.compare(1.5, 1.5000001)[0]
    assert not comp.compare(True, 1)[0]
    assert not comp.compare(1, True)[0]
    assert comp.compare("1", 1)[0] and comp.compare(" 30 ", 30)[0]  # numeric strings count, as elsewhere
    assert not comp.compare("one", 1)[0] and not comp.compare(1, "1")[0]
    assert comp.compare(None, None)[0] and not comp.compare(0, None)[0]
    assert comp.compare(["a", 2], ["a", 2.0])[0]


def test_longest_chain_tie_break_and_cycles() -> None:
    graph = {"a": ["c", "b"], "b": ["d"], "c": ["d"], "d": ["a"]}
    assert longest_chain(graph, "a") == ["a", "b", "d"]  # never revisits a; b before c
    assert longest_chain({"x": []}, "x") == ["x"]
