"""The simulated model: profiles, what it observes, its mechanism, determinism, and what it may not read."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from agents.llm import ChatRequest, ContextLengthError, make_backend
from agents.react import ReActAgent
from agents.sim import PROFILES, SimChat, get_profile
from agents.sim.behaviour import _guess_value, _slip
from agents.sim.memory import NeedData, ObservedWorld
from agents.sim.shown import shown_world
from envs import ENV_IDS
from envs.access import AccessPolicy, WorldAccess
from envs.affordances import Affordances
from envs.grading import Comparator
from envs.oracle import run_oracle, tool_executor, trace_solver
from envs.tasks import TaskFamily, get_suite
from envs.tools import InProcessRunner
from experiments.episodes import run_episode


def play(
    world: str,
    protocol: str,
    profile: str,
    tools: str,
    seed: int = 3,
    families: list[str] | None = None,
    affordances: tuple[str, ...] | None = None,
) -> list[dict[str, Any]]:
    suite = get_suite(world, protocol)
    env = gym.make(ENV_IDS[world], protocol=protocol, max_episode_steps=30, affordances=affordances)
    agent = ReActAgent(SimChat(profile), seed=seed)
    out = []
    for inst in suite.instances(seed, "test", n_worlds=1, families=families):
        rec = run_episode(env, agent, inst, tools)[0].to_json()
        out.append(rec)
    return out


# -- profiles ---------------------------------------------------------------------------------
def test_profiles_validate_and_overrides_name_what_is_accepted():
    assert {"sim-4o-mini-like", "sim-sonnet-like"} <= set(PROFILES)
    weak, strong = PROFILES["sim-4o-mini-like"], PROFILES["sim-sonnet-like"]
    assert strong.p_wrong_tool < weak.p_wrong_tool and strong.context_chars > weak.context_chars
    assert get_profile("sim-4o-mini-like", {"p_slip": 0.5}).p_slip == 0.5
    with pytest.raises(ValueError, match="p_slip must be a probability"):
        get_profile("sim-4o-mini-like", {"p_slip": 1.5})
    with pytest.raises(ValueError, match=r"unknown; accepted: .*p_wrong_tool"):
        get_profile("sim-4o-mini-like", {"p_wrongtool": 0.0})
    with pytest.raises(ValueError, match="unknown sim profile 'gpt-9'; accepted: sim-4o-mini-like"):
        get_profile("gpt-9")
    backend = make_backend({"provider": "sim", "profile": "sim-sonnet-like", "overrides": {"max_chain": 2}})
    assert isinstance(backend, SimChat) and backend.profile.max_chain == 2 and backend.model == "sim-sonnet-like"
    with pytest.raises(ValueError, match="unknown config key"):
        make_backend({"provider": "sim", "temperature": 0})


# -- what it observes -------------------------------------------------------------------------
def test_observed_world_reads_pages_and_asks_for_what_it_has_not_seen():
    mem = ObservedWorld(page_lines=2)
    with pytest.raises(NeedData) as need:
        mem.read_file("logs/a.log")
    assert (need.value.tool, need.value.call_args) == ("read_file", {"path": "logs/a.log", "offset": 0, "limit": 2})
    mem.observe(
        "read_file",
        {"path": "logs/a.log", "offset": 0, "limit": 2},
        "[logs/a.log: lines 0-1 of 3; next offset=2]\nfirst\nsecond",
    )
    with pytest.raises(NeedData) as need:
        mem.read_file("logs/a.log")
    assert need.value.call_args["offset"] == 2
    mem.observe(
        "read_file", {"path": "logs/a.log", "offset": 2, "limit": 2}, "[logs/a.log: lines 2-2 of 3; end of file]\nthird"
    )
    assert mem.read_file("/logs/a.log") == "first\nsecond\nthird\n"
    assert mem.read_chars == len("first\nsecond\nthird\n")
    # A truncated page keeps only its complete lines.
    mem.observe(
        "read_file",
        {"path": "b", "offset": 0, "limit": 3},
        "[b: lines 0-2 of 3; end of file]\nx1\nx2-cut\n...[truncated 40 characters]",
    )
    with pytest.raises(NeedData) as need:
        mem.read_file("b")
    assert need.value.call_args["offset"] == 1
    mem.partial = True
    assert mem.read_file("b") == "x1\n"
    # Errors are remembered as errors; a broad `except Exception` cannot swallow NeedData.
    mem.observe("read_file", {"path": "nope"}, "Error: no such file: 'nope'")
    with pytest.raises(Exception, match="no such file"):
        mem.read_file("nope")
    assert not issubclass(NeedData, Exception)


def test_observed_world_http_retries_429_and_counts_base64():
    mem = ObservedWorld()
    url = "http://metrics.acme.internal/metrics/payments"
    with pytest.raises(NeedData):
        mem.http_get(url, params={"window": "5m"})
    mem.observe("http_get", {"url": url, "params": {"window": "5m"}}, "HTTP 429\nretry-after: 1\n\nslow down")
    with pytest.raises(NeedData):  # rate-limited: ask again
        mem.http_get(url, params={"window": "5m"})
    body = "QUJD" * 40
    mem.observe("http_get", {"url": url, "params": {"window": "5m"}}, f"HTTP 200\ncontent-type: text/plain\n\n{body}")
    resp = mem.http_get(url.replace("http://", "https://"), params={"window": "5m"})
    assert resp == {"status": 200, "headers": {"content-type": "text/plain"}, "body": body}
    assert mem.encoded_chars == len(body)


# -- the mechanism ----------------------------------------------------------------------------
@pytest.mark.parametrize("world", ["acmecorp", "datacorp"])
def test_perfect_profile_with_reference_tools_solves_every_rigorous_family(world: str):
    """Rigorous plans run with world=None: every datum comes through real tool calls."""
    recs = play(world, "rigorous", "sim-perfect", "reference")
    assert len(recs) == len(get_suite(world).families)
    failed = [r["task"]["family"] for r in recs if not r["success"]]
    assert failed == []
    assert all(r["tools_called"] for r in recs)


def test_without_tools_it_reads_raw_data_through_affordances():
    recs = play(
        "acmecorp",
        "rigorous",
        "sim-perfect",
        "none",
        families=["config.effective_replicas", "metrics.current_value", "logs.severity_count"],
    )
    by_family = {r["task"]["family"]: r for r in recs}
    config = by_family["config.effective_replicas"]
    assert config["success"] and {c["tool"] for c in config["tools_called"]} <= {"list_files", "read_file"}
    metrics = by_family["metrics.current_value"]
    assert metrics["success"] and any(c["tool"] == "http_get" for c in metrics["tools_called"])
    logs = by_family["logs.severity_count"]  # ~2 MB of logs cannot be paged through in 30 steps
    assert not logs["success"] and logs["truncated"] is False
    events = [e["event"] for e in logs["llm"]["responses"][-1]["raw"]["sim"]["events"]]
    assert "out_of_steps" in events
    assert sum(c["tool"] == "read_file" for c in logs["tools_called"]) >= 25


def test_arise_v1_no_tools_cannot_reach_the_metrics_api():
    recs = play(
        "acmecorp", "arise_v1", "sim-perfect", "none", affordances=(), families=["v1.metrics.02", "v1.config.01"]
    )
    metrics, config = recs
    assert metrics["tools_offered"] == [] and metrics["tools_called"] == []
    events = [e["event"] for e in metrics["llm"]["responses"][-1]["raw"]["sim"]["events"]]
    assert "data_unreachable" in events and not metrics["success"]
    assert config["success"]  # inline data, reasoned over in context


def test_mistake_rates_drive_outcomes():
    """Forcing one mistake kind makes it happen on every call, and it shows in the outcome."""
    fams = ["metrics.current_value", "config.effective_replicas", "logs.severity_count"]

    def run(overrides: dict[str, Any]) -> list[dict[str, Any]]:
        suite = get_suite("acmecorp")
        env = gym.make(ENV_IDS["acmecorp"], max_episode_steps=30)
        agent = ReActAgent(SimChat(get_profile("sim-perfect", overrides)), seed=5)
        return [run_episode(env, agent, i, "reference")[0].to_json() for i in suite.instances(5, "test", families=fams)]

    wrong = run({"p_wrong_tool": 1.0, "p_recover": 0.0})
    assert not any(r["success"] for r in wrong)
    assert all(e["event"] == "wrong_tool" for r in wrong for e in r["llm"]["responses"][-1]["raw"]["sim"]["events"][:1])
    recovered = run({"p_wrong_tool": 1.0, "p_recover": 1.0})
    assert all(r["success"] for r in recovered)
    assert all(r["tools_called"][0]["tool"] != r["tools_called"][-1]["tool"] for r in recovered)
    skip = run({"p_use_tool": 0.0})  # tool exists but not called: raw data instead
    assert all(
        not any(c["tool"] in {"metrics_get", "acmeconf_effective", "log_count"} for c in r["tools_called"])
        for r in skip
    )
    slips = run({"p_slip": 1.0})
    assert not any(r["success"] for r in slips)


def test_slips_change_the_answer_and_guesses_fit_the_schema():
    rng = np.random.default_rng(0)
    for value in [7, 3.5, "payments", "a, b, c", ["a", "b"], {"service": "x", "errors": 4}, True, 1710000000]:
        assert _slip(value, rng) != value
    schema = {"type": "object", "properties": {"service": {"type": "string"}, "errors": {"type": "integer"}}}
    guess = _guess_value(schema, "Which service 'payments' or 'search'?", rng)
    assert set(guess) == {"service", "errors"} and guess["service"] in {"payments", "search"}
    assert isinstance(guess["errors"], int)


# -- determinism and the rules ------------------------------------------------------------
def test_same_seed_same_episodes_and_seeds_differ():
    fams = [f.name for f in get_suite("acmecorp").families[::4]]
    a = play("acmecorp", "rigorous", "sim-4o-mini-like", "reference", seed=2, families=fams)
    b = play("acmecorp", "rigorous", "sim-4o-mini-like", "reference", seed=2, families=fams)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    c = play("acmecorp", "rigorous", "sim-4o-mini-like", "reference", seed=4, families=fams)
    assert json.dumps(a, sort_keys=True) != json.dumps(c, sort_keys=True)


def test_the_sim_never_reads_truth_or_graders(monkeypatch: pytest.MonkeyPatch):
    suite = get_suite("datacorp")
    instances = suite.instances(6, "test", families=[f.name for f in suite.families[::3]])  # truths computed here

    touched: list[str] = []

    class Forbidden(BaseException):  # not an Exception: the sim's own `except Exception` cannot swallow it
        pass

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        touched.append("truth or grader")
        raise Forbidden("the simulated model touched ground truth or a grader")

    backend = SimChat("sim-sonnet-like")
    env = gym.make(ENV_IDS["datacorp"], max_episode_steps=30)
    monkeypatch.setattr(TaskFamily, "truth", forbidden)
    for cls in {type(f) for f in suite.families}:
        monkeypatch.setattr(cls, "truth", forbidden)
    for inst in instances:
        agent = ReActAgent(backend, seed=6)
        obs, info = env.reset(options={"instance": inst, "tools": "reference"})
        agent.reset(env.unwrapped, obs, info)  # type: ignore[arg-type]
        with monkeypatch.context() as m:
            m.setattr(Comparator, "compare", forbidden)
            m.setattr(Comparator, "grade", forbidden)
            for _ in range(30):
                action = agent.act(obs)
                if '"answer"' in action[:12]:
                    break
                obs, *_ = env.step(action)
    assert touched == []  # also when something between the hook and here caught the exception


def test_arise_v1_plans_only_read_what_the_prompt_shows():
    """arise_v1 plans read inline data from the world: every long text they pass is in the prompt."""
    checked = 0
    for world in ("acmecorp", "datacorp"):
        suite = get_suite(world, "arise_v1")
        for inst in suite.instances(42, "test"):
            _, calls = run_oracle(suite, inst)  # the plan driven by real tool outputs: every call it makes
            for call in calls:
                for value in call.args.values():
                    if isinstance(value, str) and len(value) >= 200:
                        assert value.strip() in inst.prompt, f"{inst.family} passes text not in its prompt"
                        checked += 1
    assert checked >= 20  # the inline-data tasks really were exercised (26 long arguments at seed 42)


def _executor(suite: Any, access: WorldAccess) -> Any:
    """Run a plan's calls as the oracle does: affordances directly, tools through the reference runner."""
    tools = tool_executor(InProcessRunner.of(suite.reference_tools()), access)

    def execute(call: Any) -> tuple[str, str | None]:
        if call.tool in suite.affordances:
            out = Affordances(access).call(call.tool, dict(call.args))
            return out, out
        return tools(call)

    return execute


@pytest.mark.parametrize("world", ["acmecorp", "datacorp"])
def test_arise_v1_plans_answer_from_the_shown_world_as_from_the_full_one(world: str):
    """The sim's plans get only what the prompt pastes (shown_world), and that is all they need."""
    suite = get_suite(world, "arise_v1")
    compared = 0
    for seed in (42, 3):
        full = suite.get_world(seed)
        for inst in suite.instances(seed, "test"):
            shown = shown_world(full, inst.prompt)
            assert shown.facts is not full.facts and not shown.docs
            for path, text in shown.files.items():  # nothing the prompt does not paste
                assert text.strip() in inst.prompt, f"{inst.family}: {path} is not in the prompt"
            want = run_oracle(suite, inst)[0]
            full.http.reset_session()
            solver = suite.family(inst.family).solve(shown, inst.params)
            got = str(trace_solver(solver, _executor(suite, WorldAccess(full, AccessPolicy(suite.affordances)))).answer)
            assert got == want, f"{inst.family} (seed {seed}) answers differently on the shown world"
            compared += 1
    assert compared == 2 * len(suite.families)


def test_arise_v1_sim_never_reads_the_scored_worlds_facts(monkeypatch: pytest.MonkeyPatch):
    """Episodes of the sim on arise_v1 with the scored world's facts booby-trapped (config tasks read them)."""
    suite = get_suite("acmecorp", "arise_v1")
    instances = suite.instances(42, "test", families=[f.name for f in suite.families if ".config." in f.name][:6])
    assert len(instances) == 6
    touched: list[str] = []

    class Trapped(dict):  # the generator's facts: any read is recorded (and fails the plan)
        def __getitem__(self, key: Any) -> Any:
            touched.append(str(key))
            raise KeyError(key)

    real_get_world = type(suite).get_world

    def get_world(self: Any, seed: int, options: Any = None) -> Any:
        world = real_get_world(self, seed, options)
        return dataclasses.replace(world, facts=Trapped(world.facts), cache={})

    monkeypatch.setattr(type(suite), "get_world", get_world)
    env = gym.make(ENV_IDS["acmecorp"], protocol="arise_v1", max_episode_steps=10)
    for inst in instances:
        rec = run_episode(env, ReActAgent(SimChat("sim-perfect"), seed=1), inst, "reference")[0].to_json()
        assert rec["success"], f"{inst.family}: {rec['answer']!r}"
    assert touched == []


def test_context_window_overflow_is_an_llm_error_the_episode_records():
    backend = SimChat(get_profile("sim-4o-mini-like", {"context_tokens": 50}))
    request = ChatRequest(model="", messages=[{"role": "user", "content": "x" * 400}])
    with pytest.raises(ContextLengthError, match="context_length_exceeded"):
        backend.complete(request)
    recs = []
    suite = get_suite("acmecorp")
    env = gym.make(ENV_IDS["acmecorp"], max_episode_steps=30)
    inst = suite.instances(1, "test", families=["config.effective_replicas"])[0]
    recs.append(run_episode(env, ReActAgent(backend, seed=1), inst, "none")[0].to_json())
    assert "ContextLengthError" in recs[0]["llm"]["error"] and not recs[0]["success"]


def test_usage_is_estimated_and_priced_like_the_mimicked_model():
    backend = SimChat("sim-4o-mini-like")
    request = ChatRequest(model="", messages=[{"role": "user", "content": "y" * 4000}], seed=1)
    response = backend.complete(request)
    assert response.usage.tokens_in == 1000 and response.usage.tokens_out is not None
    assert response.usage.cost_usd == pytest.approx((1000 * 0.15 + response.usage.tokens_out * 0.60) / 1e6)
    assert response.raw["simulated"] is True and "could not" in response.text  # no meta: no task known
