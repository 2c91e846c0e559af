"""AcmeConf language semantics and the config/deploy-history generator."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter

import numpy as np
import pytest

from envs import seeding
from envs.acmecorp import acmeconf as ac
from envs.acmecorp.configgen import ConfigWorld, generate_config
from envs.acmecorp.topology import CAUSES, Incident, Topology, generate_incident, generate_topology


# -- durations ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("30s", 30),
        ("5m", 300),
        ("2h", 7200),
        ("1d", 86400),
        ("1h30m", 5400),
        ("1m30s", 90),
        ("1m30s500ms", 90.5),
        ("1500ms", 1.5),
        ("90000ms", 90),
        ("1d2h3m4s5ms", 93784.005),
        ("0s", 0),
        (" 45s ", 45),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    got = ac.parse_duration(text)
    assert got == pytest.approx(seconds)
    # whole seconds are ints, fractions floats
    assert isinstance(got, int) == float(seconds).is_integer()


@pytest.mark.parametrize("bad", ["", "10", "1.5s", "30sec", "5 min", "30s5m", "1m1m", "-5s", "s", "ms", "5M", "1h 30m"])
def test_parse_duration_rejects_with_clear_message(bad: str) -> None:
    with pytest.raises(ValueError, match=r"units d, h, m, s, ms"):
        ac.parse_duration(bad)


@pytest.mark.parametrize(
    ("seconds", "text"), [(5400, "1h30m"), (90.5, "1m30s500ms"), (0.25, "250ms"), (0, "0s"), (86401, "1d1s")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert ac.format_duration(seconds) == text
    assert ac.parse_duration(text) == pytest.approx(seconds)


def test_format_duration_roundtrip_and_errors() -> None:
    rng = np.random.default_rng(0)
    for ms in rng.integers(0, 10**9, size=200):
        secs = int(ms) / 1000
        assert ac.parse_duration(ac.format_duration(secs)) == pytest.approx(secs)
    with pytest.raises(ValueError, match="negative"):
        ac.format_duration(-1)
    with pytest.raises(ValueError):
        ac.format_duration(True)


# -- values ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("42", "int", 42),
        ("-3", "int", -3),
        ("1.25", "float", 1.25),
        ("true", "bool", True),
        ("false", "bool", False),
        ("True", "word", "True"),
        ("/healthz", "word", "/healthz"),
        ("10.0.0.1", "word", "10.0.0.1"),
        ("1500ms", "duration", 1.5),
        ('"a \\"b\\" \\\\ c\\td"', "string", 'a "b" \\ c\td'),
        ('"8080"', "string", "8080"),
        ("[]", "list", []),
        ('[a, "b, c", 3, 2s]', "list", ["a", "b, c", 3, 2]),
    ],
)
def test_parse_value_types(text: str, kind: str, value: object) -> None:
    v = ac.parse_value(text)
    assert v.kind == kind
    assert v.plain() == value


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('"abc', "unterminated"),
        ('"a\\qb"', "unknown escape"),
        ('"a" b', "after the closing quote"),
        ("[a, b", "not closed"),
        ("[a, , b]", "empty list element"),
        ("[a, b,]", "empty list element"),
        ("[[a]]", "cannot be nested"),
        ("two words", "quote it"),
        ("", "missing value"),
    ],
)
def test_parse_value_errors(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=re.escape(fragment)):
        ac.parse_value(text)


def test_comment_stripping_respects_quotes() -> None:
    assert ac.strip_comment('x = "a#b"  # note') == 'x = "a#b"  '
    assert ac.strip_comment('x = "a\\"#b" # c') == 'x = "a\\"#b" '
    assert ac.strip_comment("# all") == ""


# -- evaluation -----------------------------------------------------------------
BASE = "defaults {\n  timeout = 30s\n  retries = 2\n  pool_size = 10\n}\n"


def svc_block(name: str, body: str = "", deps: str = "[]") -> str:
    return f'service {name} {{\n  replicas = 1\n  deps = {deps}\n  health_check = "/h"\n{body}}}\n'


def load(files: dict[str, str], entry: str = "main.acme", env: str = "") -> ac.Config:
    return ac.load_config(files, [entry], env)


def test_includes_applied_first_and_later_wins() -> None:
    files = {
        # the include line stands after the block, yet the include is applied first
        "main.acme": 'service x {\n  retries = 9\n}\n@include "a.acme"\n@include "b.acme"\n',
        "a.acme": svc_block("x", "  retries = 1\n  pool_size = 5\n") + "defaults {\n  timeout = 1m\n}\n",
        "b.acme": "service x {\n  pool_size = 7\n}\n",
    }
    cfg = load(files)
    assert cfg.files == ["a.acme", "b.acme", "main.acme"]
    assert cfg.services["x"]["retries"] == 9  # main's own block is applied after its includes
    assert cfg.services["x"]["pool_size"] == 7  # b after a
    assert cfg.services["x"]["timeout"] == 60
    assert cfg.sources["x"]["pool_size"] == "b.acme:2"
    assert cfg.issues == []


def test_each_file_applied_once_and_include_cycles_are_skipped() -> None:
    files = {
        "main.acme": '@include "a.acme"\n@include "b.acme"\n',
        "base.acme": BASE + svc_block("x", "  retries = 1\n"),
        "a.acme": '@include "base.acme"\nservice x {\n  retries = 2\n}\n',
        # b includes base again (no re-application, so a's value stands) and includes main (a cycle)
        "b.acme": '@include "base.acme"\n@include "main.acme"\n',
    }
    cfg = load(files)
    assert cfg.services["x"]["retries"] == 2
    assert cfg.files == ["base.acme", "a.acme", "b.acme", "main.acme"]
    assert cfg.issues == []


def test_include_paths_relative_and_absolute() -> None:
    files = {
        "config/services/x.acme": '@include "../base.acme"\n@include "/config/extra/e.acme"\n' + svc_block("x"),
        "config/base.acme": BASE,
        "config/extra/e.acme": "service x {\n  owner = ops\n}\n",
    }
    cfg = load(files, "config/services/x.acme")
    assert cfg.services["x"]["owner"] == "ops"
    assert cfg.services["x"]["timeout"] == 30


def test_defaults_apply_to_services_that_do_not_set_the_key() -> None:
    files = {
        "main.acme": '@include "base.acme"\n@include "late.acme"\n'
        + svc_block("x", "  timeout = 5s\n")
        + svc_block("y"),
        "base.acme": BASE,
        # a defaults block in any applied file applies to every service; later wins
        "late.acme": "defaults {\n  retries = 4\n  memory_mb = 256\n}\n",
    }
    cfg = load(files)
    assert cfg.services["x"]["timeout"] == 5
    assert cfg.services["y"]["timeout"] == 30
    assert cfg.services["y"]["retries"] == 4
    assert cfg.services["x"]["memory_mb"] == 256
    assert cfg.defaults == {"timeout": 30, "retries": 4, "pool_size": 10, "memory_mb": 256}
    assert cfg.sources["y"]["timeout"] == "base.acme:2"


def test_env_variables_defaults_and_typing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTVAR", "99")  # the host environment must never be consulted
    body = (
        "  replicas = ${R:-3}\n"
        "  timeout = ${T:-1m30s}\n"
        "  pool_size = ${EMPTY:-12}\n"
        "  retries = ${HOSTVAR:-1}\n"
        '  owner = "${OWNER}-team"\n'
        '  description = "${NESTED}"\n'
        "  port = $8080\n"
    )
    files = {"main.acme": 'service x {\n  deps = []\n  health_check = "/h"\n' + body + "}\n"}
    cfg = load(files, env="# comment\nR=5\nEMPTY=\nOWNER = core \nNESTED=${R}\n")
    x = cfg.services["x"]
    assert x["replicas"] == 5 and isinstance(x["replicas"], int)
    assert x["timeout"] == 90
    assert x["pool_size"] == 12  # empty counts as unset for :-
    assert x["retries"] == 1
    assert x["owner"] == "core-team"
    assert x["description"] == "${R}"  # substituted text is not rescanned
    assert [i.code for i in cfg.issues] == [ac.E_TYPE]  # port = $8080 is a bare word, not an int
    sources = {v.name: v.source for v in cfg.variables}
    assert sources == {
        "R": "env",
        "T": "default",
        "EMPTY": "default",
        "HOSTVAR": "default",
        "OWNER": "env",
        "NESTED": "env",
    }


def test_unresolved_variable_ignores_the_assignment() -> None:
    files = {"main.acme": BASE + svc_block("x", "  pool_size = ${NOPE}\n")}
    cfg = load(files)
    assert cfg.services["x"]["pool_size"] == 10  # the default stays in effect
    [issue] = cfg.issues
    assert (issue.code, issue.line, issue.service, issue.key) == (ac.E_UNRESOLVED, 10, "x", "pool_size")
    assert "NOPE" in issue.message and "default" in issue.message


@pytest.mark.parametrize(
    ("line", "key", "fragment"),
    [
        ('port = "8080"', "port", "expects an integer between 1 and 65535, got string"),
        ("port = 70000", "port", "above the maximum"),
        ("enabled = yes", "enabled", "true or false"),
        ("replicas = 2.5", "replicas", "expects an integer"),
        ("replicas = -1", "replicas", "below the minimum"),
        ("memory_mb = 2GB", "memory_mb", "expects an integer"),
        ("timeout = 30sec", "timeout", "expects a duration"),
        ("timeout = 1.5s", "timeout", "expects a duration"),
        ("pool_size = 30s", "pool_size", "got duration 30s"),
        ("log_level = loud", "log_level", "one of debug, info, warn, error"),
        ("health_check = healthz", "health_check", "starting with '/'"),
        ("deps = [Auth]", "deps", "service names"),
        ("deps = auth", "deps", "list of service names"),
        ("cpu_limit = 0", "cpu_limit", "> 0"),
        ("owner = 3", "owner", "a string"),
    ],
)
def test_type_errors(line: str, key: str, fragment: str) -> None:
    files = {"main.acme": BASE + svc_block("x", f"  {line}\n") + svc_block("auth")}
    cfg = load(files)
    issues = [i for i in cfg.issues if i.code == ac.E_TYPE]
    assert len(issues) == 1, cfg.issues
    assert issues[0].key == key and issues[0].line == 10
    assert fragment in issues[0].message


def test_schema_conversions() -> None:
    body = "  cpu_limit = 2\n  timeout = 45\n  connect_timeout = 2.0\n  extra = [1, two]\n  log_level = warn\n"
    cfg = load({"main.acme": svc_block("x", body)})
    x = cfg.services["x"]
    assert x["cpu_limit"] == 2.0 and isinstance(x["cpu_limit"], float)
    assert x["timeout"] == 45 and x["connect_timeout"] == 2 and isinstance(x["connect_timeout"], int)
    assert x["extra"] == [1, "two"]  # unknown keys keep their literal type
    assert cfg.issues == []


def test_missing_required_reported_at_first_header() -> None:
    files = {
        "main.acme": '@include "a.acme"\nservice x {\n  replicas = 2\n}\n',
        "a.acme": "\nservice x {\n  timeout = 5s\n}\n",
    }
    cfg = load(files)
    got = sorted((i.code, i.file, i.line, i.key) for i in cfg.issues)
    assert got == [(ac.E_MISSING, "a.acme", 2, "deps"), (ac.E_MISSING, "a.acme", 2, "health_check")]


def test_invalid_required_value_is_also_missing() -> None:
    cfg = load({"main.acme": 'service x {\n  replicas = two\n  deps = []\n  health_check = "/h"\n  timeout = 1s\n}\n'})
    assert sorted(i.code for i in cfg.issues) == [ac.E_MISSING, ac.E_TYPE]


def test_unknown_dependency_and_graph() -> None:
    files = {"main.acme": BASE + svc_block("x", deps="[y, ghost, other]") + svc_block("y")}
    cfg = load(files)
    issues = [(i.code, i.line, i.service) for i in cfg.issues]
    assert issues == [(ac.E_UNKNOWN_DEP, 8, "x"), (ac.E_UNKNOWN_DEP, 8, "x")]
    assert {m for i in cfg.issues for m in re.findall(r"depends on '(\w+)'", i.message)} == {"ghost", "other"}
    assert cfg.services["x"]["deps"] == ["y", "ghost", "other"]  # effective value as written
    assert cfg.graph() == {"x": ["y"], "y": []}
    assert cfg.dependents("y") == ["x"]


def test_dependency_cycles_one_issue_per_component() -> None:
    files = {
        "main.acme": BASE
        + svc_block("c", deps="[a]")
        + svc_block("a", deps="[b]")
        + svc_block("b", deps="[c, d]")
        + svc_block("d", deps="[d]")
        + svc_block("e", deps="[a]")
    }
    cfg = load(files)
    cycles = [i for i in cfg.issues if i.code == ac.E_CYCLE]
    assert [(i.service, i.message) for i in cycles] == [
        ("a", "dependency cycle: a -> b -> c -> a"),
        ("d", "dependency cycle: d -> d"),
    ]
    # located at the deps assignment of the alphabetically first member
    assert (cycles[0].file, cycles[0].line) == ("main.acme", 13)
    assert cfg.sources["a"]["deps"] == "main.acme:13"
    assert cfg.dependents("a") == ["a", "b", "c", "e"]


def test_missing_include() -> None:
    files = {"main.acme": BASE + '@include "nope.acme"\n@include "../../outside.acme"\n' + svc_block("x")}
    cfg = load(files)
    assert [(i.code, i.line) for i in cfg.issues] == [(ac.E_INCLUDE, 6), (ac.E_INCLUDE, 7)]
    assert "nope.acme" in cfg.issues[0].message
    assert cfg.services["x"]["timeout"] == 30  # evaluation continues


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("service x {\n  retries 3\n}\n", 2, "expected 'key = value'"),
        ("service x {\n  service y {\n}\n", 2, "cannot be nested"),
        ("}\n", 1, "without an open block"),
        ("retries = 3\n", 1, "must be inside"),
        ('service x {\n  @include "a.acme"\n}\n', 2, "only allowed outside blocks"),
        ("service x {\n  retries = 3\n", 1, "not closed"),
        ("service X_Bad {\n  retries = 3\n}\n", 1, "invalid service name"),
        ("@include base.acme\n", 1, "one quoted path"),
        ('service x {\n  owner = "team\n}\n', 2, "unterminated"),
        ("service x {\n  owner = ${BAD\n}\n", 2, "not closed"),
        ("service x {\n  owner = ${1X}\n}\n", 2, "malformed variable"),
        ("hello\n", 1, "unrecognised line"),
    ],
)
def test_syntax_errors(text: str, line: int, fragment: str) -> None:
    cfg = load({"main.acme": text})
    syntax = [i for i in cfg.issues if i.code == ac.E_SYNTAX]
    assert len(syntax) == 1, cfg.issues
    assert syntax[0].line == line
    assert fragment in syntax[0].message


def test_unclosed_block_still_counts_and_invalid_block_is_skipped() -> None:
    cfg = load({"main.acme": "service Bad {\n  retries = 1\n}\nservice x {\n  retries = 3\n"})
    assert list(cfg.services) == ["x"]
    assert cfg.services["x"]["retries"] == 3


def test_env_file_syntax_errors() -> None:
    env, issues = ac.parse_env("A=1\nnot a pair\n1BAD=2\nA=3\n")
    assert env == {"A": "3"}
    assert [(i.code, i.file, i.line) for i in issues] == [
        (ac.E_SYNTAX, "config/env", 2),
        (ac.E_SYNTAX, "config/env", 3),
    ]


def test_every_code_reachable_with_location() -> None:
    files = {
        "config/main.acme": '@include "services/a.acme"\n@include "services/b.acme"\n@include "services/gone.acme"\n',
        "config/base.acme": BASE,
        "config/services/a.acme": '@include "../base.acme"\n'
        "service a {\n"
        "  replicas = 2\n"
        "  deps = [b, ghost]\n"
        '  health_check = "/h"\n'
        '  port = "80"\n'
        "  owner = ${UNSET}\n"
        "  retries 2\n"
        "}\n",
        "config/services/b.acme": '@include "../base.acme"\nservice b {\n  replicas = 1\n  deps = [a]\n}\n',
    }
    cfg = ac.load_config(files, ["config/main.acme"], "")
    got = [(i.code, i.file, i.line, i.service, i.key) for i in cfg.issues]
    assert got == [
        (ac.E_INCLUDE, "config/main.acme", 3, None, None),
        (ac.E_UNKNOWN_DEP, "config/services/a.acme", 4, "a", "deps"),
        (ac.E_CYCLE, "config/services/a.acme", 4, "a", "deps"),
        (ac.E_TYPE, "config/services/a.acme", 6, "a", "port"),
        (ac.E_UNRESOLVED, "config/services/a.acme", 7, "a", "owner"),
        (ac.E_SYNTAX, "config/services/a.acme", 8, "a", None),
        (ac.E_MISSING, "config/services/b.acme", 2, "b", "health_check"),
    ]
    assert cfg.codes() == sorted(ac.CODES)
    assert ac.validate(files, ["config/main.acme"], "") == cfg.issues


def test_unknown_entry_point_is_a_clear_error() -> None:
    with pytest.raises(ac.AcmeConfError, match=r"entry point 'nope.acme' does not exist; .acme files: a.acme"):
        ac.load_config({"a.acme": ""}, ["nope.acme"], "")


def test_deploy_log_parsing() -> None:
    text = "# header\n1 | d-00000a | x | al | change | a | b\n2 | d-00000b | x | bo | rollback | rollback d-00000a\n"
    deploys = ac.parse_deploy_log(text)
    assert [d.deploy_id for d in deploys] == ["d-00000a", "d-00000b"]
    assert deploys[0].summary == "a | b"
    assert ac.service_versions(deploys, "x") == ["initial", "d-00000a", "d-00000b"]
    with pytest.raises(ac.AcmeConfError, match=r"deploys.log:1"):
        ac.parse_deploy_log("oops")


def test_diff_values_is_type_strict() -> None:
    diff = ac.diff_values({"a": 1, "b": True, "c": 2, "d": [1]}, {"a": 1.5, "b": 1, "c": 2, "e": "x", "d": [1]})
    assert diff == [
        {"key": "a", "old": 1, "new": 1.5},
        {"key": "b", "old": True, "new": 1},
        {"key": "e", "old": None, "new": "x"},
    ]


def test_to_literal_roundtrip() -> None:
    for value in [3, 1.5, True, "plain", "two words", 'q"uote', "30s", "42", "true", ["a", 1]]:
        assert ac.parse_value(ac.to_literal(value)).plain() == value


# -- generator ------------------------------------------------------------------
def world(seed: int, options: dict[str, object] | None = None) -> tuple[Topology, Incident, ConfigWorld]:
    topo = generate_topology(seeding.rng(seed, "topology"))
    inc = generate_incident(seeding.rng(seed, "incident"), topo)
    return topo, inc, generate_config(seeding.rng(seed, "config"), topo, inc, options or {})


WORLDS = {s: world(s) for s in range(40)}


def test_generator_is_deterministic() -> None:
    np.random.seed(123)  # global state must not matter
    a = world(7)[2]
    np.random.seed(999)
    b = world(7)[2]
    assert a.files == b.files and a.facts == b.facts
    assert world(8)[2].files != a.files


def test_generator_bytes_do_not_depend_on_the_hash_seed() -> None:
    script = (
        "import hashlib, json\n"
        "from envs import seeding\n"
        "from envs.acmecorp.acmeconf import load_tree\n"
        "from envs.acmecorp.configgen import generate_config\n"
        "from envs.acmecorp.topology import generate_incident, generate_topology\n"
        "t = generate_topology(seeding.rng(11, 'topology'))\n"
        "c = generate_config(seeding.rng(11, 'config'), t, generate_incident(seeding.rng(11, 'incident'), t))\n"
        "blob = json.dumps([c.files, c.facts, [i.to_json() for i in load_tree(c.files).issues]], sort_keys=True)\n"
        "print(hashlib.sha256(blob.encode()).hexdigest())\n"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": str(h)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for h in (1, 2)
    }
    assert len(digests) == 1


def test_layout() -> None:
    topo, _, cw = WORLDS[0]
    files = cw.files
    for path in (ac.ENTRY, ac.ENV_PATH, "config/base.acme", ac.DEPLOY_LOG):
        assert path in files
    for svc in topo.services:
        text = files[f"config/services/{svc}.acme"]
        assert '@include "../base.acme"' in text
        assert files[ac.snapshot_path(ac.INITIAL, svc)]
    assert any(p.startswith("config/shared/") for p in files)
    assert any(p.startswith("config/overrides/") for p in files)
    assert "defaults {" in files["config/base.acme"]
    assert all(p.startswith("config/") for p in files)


@pytest.mark.parametrize("seed", range(0, 40, 3))
def test_effective_config_matches_topology(seed: int) -> None:
    topo, inc, cw = WORLDS[seed]
    cfg = ac.load_tree(cw.files)
    assert sorted(cfg.services) == sorted(topo.services)
    edge = cw.facts["cycle_edge"]
    for svc in topo.services:
        vals = cfg.services[svc]
        for key in ("timeout", "pool_size", "memory_mb", "rate_limit"):
            assert key in vals, (svc, key)
        if "deps" not in vals:  # the missing-field defect may only drop an empty deps list
            assert cw.facts["defects"][ac.E_MISSING] == {**cw.facts["defects"][ac.E_MISSING], "service": svc}
            assert topo.deps[svc] == ()
            continue
        declared = [d for d in vals["deps"] if d in cfg.services]
        expected = list(topo.deps[svc]) + ([edge[1]] if edge and edge[0] == svc else [])
        assert sorted(declared) == sorted(expected), svc
    # the blast radius of the incident is the topology's
    assert set(cfg.dependents(inc.service)) - {inc.service} == topo.dependents(inc.service)


def test_incident_deploy_and_rollback() -> None:
    for _seed, (topo, inc, cw) in WORLDS.items():
        deploys = ac.parse_deploy_log(cw.files[ac.DEPLOY_LOG])
        ids = [d.deploy_id for d in deploys]
        assert len(set(ids)) == len(ids) and all(re.fullmatch(r"d-[0-9a-f]{6}", i) for i in ids)
        assert [d.ts for d in deploys] == sorted(d.ts for d in deploys)
        assert all(topo.t0 <= d.ts < topo.now for d in deploys)
        assert 15 <= len(deploys) <= 40
        trig = [d for d in deploys if d.service == inc.service and 120 <= inc.start_ts - d.ts <= 2700]
        assert len(trig) == 1, "exactly one deploy of the root-cause service 2-45 minutes before the start"
        t = trig[0]
        versions = ac.service_versions(deploys, inc.service)
        prev = versions[versions.index(t.deploy_id) - 1]
        before = ac.load_snapshot(cw.files, prev, inc.service).services[inc.service]
        after = ac.load_snapshot(cw.files, t.deploy_id, inc.service).services[inc.service]
        assert ac.diff_values(before, after) == [{"key": inc.key, "old": before[inc.key], "new": after[inc.key]}]
        assert after[inc.key] <= before[inc.key] * 0.6, "the bad value is clearly lower"
        [rb] = [d for d in deploys if d.ts == inc.end_ts]
        assert (rb.service, rb.kind, rb.summary) == (inc.service, "rollback", f"rollback {t.deploy_id}")
        restored = ac.load_snapshot(cw.files, rb.deploy_id, inc.service).services[inc.service]
        assert restored[inc.key] == before[inc.key]
        # no other deploy of the root-cause service near the incident
        near = [d for d in deploys if d.service == inc.service and t.ts - 3600 < d.ts < inc.end_ts + 1200]
        assert near == [t, rb]
        facts = cw.facts["incident"]
        assert facts["trigger_deploy"] == t.deploy_id and facts["rollback_deploy"] == rb.deploy_id
        assert {CAUSES[inc.cause][0]} == {facts["key"]}


def test_decoy_hard_cuts_hide_the_trigger_among_other_services() -> None:
    """Other services get cuts as drastic as the trigger's, so the deploy log alone names no culprit."""
    cut_keys = {v[0] for v in CAUSES.values()}
    near = 0
    for _seed, (_topo, inc, cw) in WORLDS.items():
        cuts = [
            d
            for d in cw.facts["deploys"]
            if d["service"] != inc.service
            and any(
                c["key"] in cut_keys and c["new"] is not None and c["old"] and c["new"] <= c["old"] / 2
                for c in d["changes"]
            )
        ]
        assert len(cuts) >= 3, [d["deploy_id"] for d in cuts]
        near += any(abs(d["ts"] - inc.start_ts) <= 10_800 for d in cuts)
    assert near >= 0.9 * len(WORLDS), "a decoy cut usually lands within 3 h of the incident"


def test_history_is_consistent_with_current_files_and_facts() -> None:
    for topo, _, cw in WORLDS.values():
        deploys = ac.parse_deploy_log(cw.files[ac.DEPLOY_LOG])
        for svc in topo.services:
            last = ac.service_versions(deploys, svc)[-1]
            assert cw.files[ac.snapshot_path(last, svc)] == cw.files[f"config/services/{svc}.acme"]
        for d, fact in zip(deploys, cw.facts["deploys"], strict=True):
            assert d.deploy_id == fact["deploy_id"]
            versions = ac.service_versions(deploys, d.service)
            prev = versions[versions.index(d.deploy_id) - 1]
            a = ac.load_snapshot(cw.files, prev, d.service).services[d.service]
            b = ac.load_snapshot(cw.files, d.deploy_id, d.service).services[d.service]
            assert ac.diff_values(a, b) == fact["changes"]


def test_defects_each_present_in_about_half_the_worlds() -> None:
    counts: Counter[str] = Counter()
    for _topo, _inc, cw in WORLDS.values():
        codes = ac.load_tree(cw.files).codes()
        assert codes == sorted(cw.facts["defects"]), "each injected defect yields exactly its code"
        counts.update(codes)
    for code in ac.CODES:
        assert 8 <= counts[code] <= 32, (code, counts[code])  # ~Binomial(40, 0.5)


def test_defects_can_be_switched_off() -> None:
    for seed in range(5):
        _, _, cw = world(seed, {"config_defects": False})
        assert ac.load_tree(cw.files).issues == []
        assert cw.facts["defects"] == {}
    with pytest.raises(ValueError, match="config_defect_rate"):
        world(0, {"config_defect_rate": 2})


def test_variables_resolve_both_ways_and_durations_vary() -> None:
    texts = ""
    for _, _, cw in WORLDS.values():
        sources = {v.source for v in ac.load_tree(cw.files).variables}
        assert {"env", "default"} <= sources
        texts += "".join(t for p, t in cw.files.items() if p.startswith("config/services/"))
    for pattern in (r"= \d+ms\b", r"= \d+m\d+s\b", r"= \d+m\b", r"= \d+s\b", r"\d+s\d+ms", r'"[^"\n]*#'):
        assert re.search(pattern, texts), pattern


def test_whole_tree_loads_in_a_few_ms() -> None:
    topo = generate_topology(seeding.rng(3, "topology"), n_services=12)
    cw = generate_config(seeding.rng(3, "config"), topo, generate_incident(seeding.rng(3, "incident"), topo))
    t0 = time.perf_counter()
    for _ in range(20):
        ac.load_tree(cw.files)
    assert (time.perf_counter() - t0) / 20 < 0.02
