import json
import pickle
import re

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import envs
from envs.registry import WORLDS, all_phases
from envs.tasks import available, get_suite
from envs.toolenv import sanitize


@pytest.fixture
def env():
    e = gym.make("arise_gym/AcmeCorp-v0", tools="reference", render_mode="ansi")
    yield e
    e.close()


def test_registered_with_string_entry_point_and_time_limit():
    spec = gym.spec("arise_gym/AcmeCorp-v0")
    assert spec.entry_point == "envs.toolenv:ToolUseEnv"
    assert spec.max_episode_steps == envs.MAX_EPISODE_STEPS
    json.loads(spec.to_json())  # the spec serialises, so results can store it


@pytest.mark.parametrize("world,protocol", available())
def test_check_env_passes_for_every_registered_world_and_protocol(world, protocol):
    e = gym.make(envs.ENV_IDS[world], protocol=protocol, tools="reference").unwrapped  # made: it has a spec
    check_env(e)
    e.close()


@pytest.mark.parametrize("world,protocol", available())
def test_an_env_pickles_mid_episode_and_continues_identically(world, protocol):
    env = gym.make(envs.ENV_IDS[world], protocol=protocol, tools="reference", render_mode="ansi")
    assert pickle.loads(pickle.dumps(env)).unwrapped.instance is None  # before any reset
    env.reset(seed=11)
    env.reset()  # unseeded: the task is drawn from the env's random stream, which the pickle must carry
    first_tool = env.unwrapped.tool_specs[0].name
    for action in (json.dumps({"tool": first_tool, "args": {}}), "not json", json.dumps({"tool": "nope"})):
        env.step(action)
    clone = pickle.loads(pickle.dumps(env))
    assert clone.render() == env.render() and clone.unwrapped.instance == env.unwrapped.instance
    assert clone.unwrapped.access.world.world_hash() == env.unwrapped.access.world.world_hash()
    answer = json.dumps({"answer": 42})
    assert clone.step(answer) == env.step(answer)
    again = pickle.loads(pickle.dumps(clone))  # and further unseeded resets continue it
    assert [again.reset()[0] for _ in range(3)] == [clone.reset()[0] for _ in range(3)]


def test_worlds_protocols_and_phases_come_from_the_registry():
    assert available() == [(w, p) for w in sorted(WORLDS) for p in sorted(WORLDS[w].suites)]
    assert all_phases()[:7] == ("logs", "metrics", "config", "incidents", "csv", "validation", "query")
    assert all_phases() == tuple(dict.fromkeys(p for entry in WORLDS.values() for p in entry.phases))
    for name, entry in WORLDS.items():
        assert envs.ENV_IDS[name] == entry.env_id and gym.spec(entry.env_id).kwargs == {"world": name}
        for protocol in entry.suites:
            assert get_suite(name, protocol).phase_order == entry.phases
        assert set(entry.tool_phases) <= set(entry.phases)
    with pytest.raises(KeyError, match=re.escape(f"unknown world 'nowhere'; available worlds: {sorted(WORLDS)}")):
        get_suite("nowhere")
    with pytest.raises(
        KeyError, match=r"unknown protocol 'x' for world 'acmecorp'; available: \['arise_v1', 'rigorous'\]"
    ):
        get_suite("acmecorp", "x")


def test_reset_returns_prompt_and_tool_schemas(env):
    obs, info = env.reset(seed=42, options={"task": "logs.severity_count"})
    assert env.observation_space.contains(obs)
    assert "Answer JSON schema" in obs and "AcmeCorp" in obs
    assert info["task"]["family"] == "logs.severity_count" and info["task"]["truth"] is None
    names = [t["name"] for t in info["tools"]]
    assert names[:5] == ["http_get", "http_post", "list_files", "read_file", "read_doc"]
    assert "log_count" in names


@pytest.mark.parametrize(
    "action, fragment",
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"foo": 1}', "unrecognised action"),
        ('{"tool": "read_file", "args": [1]}', "'args' must be a JSON object"),
        ('{"tool": 3}', "'tool' must be a string"),
        ('{"tool": "nope"}', "unknown tool 'nope'"),
        ('{"tool": "read_file", "args": {}}', "missing required argument"),
        ('{"tool": "read_file", "args": {"path": "x", "bogus": 1}}', "unknown argument"),
        ('{"tool": "read_file", "args": {"path": "nope.log"}}', "no such file"),
        ('{"tool": "read_file", "args": {"path": "logs/acme.log", "limit": 100000}}', "limit must be"),
        ('{"tool": "http_get", "args": {"url": "ftp://x"}}', "not an absolute http URL"),
        ('{"tool": "log_count", "args": {"severity": "LOUD"}}', "unknown severity"),
        ('{"answer": 1, "extra": 2}', "only the key 'answer'"),
    ],
)
def test_malformed_actions_yield_error_observations(env, action, fragment):
    env.reset(seed=42, options={"task": "logs.severity_count"})
    obs, reward, terminated, truncated, _info = env.step(action)
    assert obs.startswith("Error:") and fragment in obs, obs
    assert reward == 0.0 and not terminated and not truncated


def test_affordances_page_files_and_serve_the_api(env):
    env.reset(seed=42, options={"task": "logs.severity_count"})
    obs, *_ = env.step('{"tool": "list_files", "args": {"path": "logs/"}}')
    assert "logs/acme.log\t" in obs and "lines" in obs
    obs, *_ = env.step('{"tool": "read_file", "args": {"path": "logs/acme.log.1", "offset": 10, "limit": 5}}')
    header, *lines = obs.split("\n")
    assert header.startswith("[logs/acme.log.1: lines 10-14 of ") and "next offset=15" in header
    assert len(lines) == 5
    obs, *_ = env.step('{"tool": "http_get", "args": {"url": "http://metrics.acme.internal/services"}}')
    assert obs.startswith("HTTP 200") and "payments" in obs
    obs, *_ = env.step('{"tool": "read_doc", "args": {"name": "logging"}}')
    assert "Line format" in obs


def test_answer_terminates_with_score_and_breakdown(env):
    obs, info = env.reset(seed=42, options={"task": "logs.severity_count"})
    inst = env.unwrapped.instance
    obs, reward, terminated, _truncated, info = env.step(json.dumps({"answer": inst.truth}))
    assert terminated and reward == 1.0 and info["success"] and "correct" in obs
    obs, reward, terminated, *_ = env.step('{"answer": 1}')
    assert "episode is over" in obs and terminated
    env.reset(seed=42, options={"task": "logs.severity_count"})
    _, reward, terminated, _, info = env.step(json.dumps({"answer": inst.truth + 1}))
    assert terminated and reward == 0.0 and not info["success"]


def test_time_limit_truncates():
    e = gym.make("arise_gym/AcmeCorp-v0", max_episode_steps=3)
    e.reset(seed=1, options={"task": "logs.malformed_lines"})
    flags = [e.step('{"tool": "read_doc"}')[3] for _ in range(3)]
    assert flags == [False, False, True]


def test_render_ansi_shows_the_transcript(env):
    env.reset(seed=42, options={"task": "metrics.current_value"})
    env.step('{"tool": "read_doc"}')
    text = env.render()
    assert text.startswith("TASK acmecorp/rigorous/test/s42/w0/metrics.current_value/0")
    assert '> {"tool": "read_doc"}' in text and "Handbook pages" in text


def test_observations_are_truncated_and_sanitized():
    e = gym.make("arise_gym/AcmeCorp-v0", max_observation_chars=500)
    e.reset(seed=42, options={"task": "logs.severity_count"})
    obs, *_ = e.step('{"tool": "read_file", "args": {"path": "logs/acme.log.1", "limit": 200}}')
    assert len(obs) == 500 and "truncated" in obs[-60:]
    assert e.observation_space.contains(obs)
    assert sanitize("a\x00b\U0001f600c", 100) == "a\ufffdb\ufffdc"


def test_reset_options_are_validated(env):
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(seed=1, options={"tsk": "x"})
    with pytest.raises(KeyError, match="unknown task family"):
        env.reset(seed=1, options={"task": "nope"})
    with pytest.raises(ValueError, match="split must be"):
        env.reset(seed=1, options={"split": "dev", "task": "logs.severity_count"})


def test_same_seed_same_episode():
    def play(seed):
        e = gym.make("arise_gym/AcmeCorp-v0")
        obs, _ = e.reset(seed=seed)
        obs2, *_ = e.step('{"tool": "read_file", "args": {"path": "logs/acme.log", "limit": 20}}')
        return obs, obs2

    assert play(3) == play(3)
    assert play(3) != play(4)


@pytest.mark.parametrize(
    "action, fragment",
    [
        ('{"tool": "http_get", "args": {"url": "http://metrics.acme.internal:abc/services"}}', "Error:"),
        ('{"tool": "http_get", "args": {"url": "http://metrics.acme.internal/\\u0000x"}}', "Error:"),
        ("[" * 100_000, "could not be decoded"),
        ("[" * 50 + "]" * 50, "must be a JSON object"),
    ],
)
def test_pathological_actions_never_raise(env, action, fragment):
    env.reset(seed=42, options={"task": "logs.severity_count"})
    obs, reward, terminated, *_ = env.step(action)
    assert fragment in obs and reward == 0.0 and not terminated


def test_https_urls_are_served_like_http(env):
    env.reset(seed=42, options={"task": "logs.severity_count"})
    obs, *_ = env.step('{"tool": "http_get", "args": {"url": "https://metrics.acme.internal/services"}}')
    assert obs.startswith("HTTP 200")


@pytest.mark.parametrize("answer", ["9" * 400, '"' + "9" * 5000 + '"', '"[' + "[" * 5000 + '"'])
def test_pathological_answers_are_graded_not_raised(env, answer):
    env.reset(seed=42, options={"task": "logs.mean_duration"})
    _obs, reward, terminated, _, info = env.step('{"answer": ' + answer + "}")
    assert terminated and reward == 0.0 and not info["success"]


def test_paths_cannot_climb_out_of_the_world(env):
    env.reset(seed=42, options={"task": "logs.severity_count"})
    obs, *_ = env.step('{"tool": "read_file", "args": {"path": "../logs/acme.log"}}')
    assert obs.startswith("Error: no such file")
    obs, *_ = env.step('{"tool": "read_file", "args": {"path": "./logs/acme.log", "limit": 1}}')
    assert obs.startswith("[./logs/acme.log: lines 0-0")


def test_envs_sharing_a_world_do_not_share_rate_limits():
    def codes(other_steps: int) -> list[str]:
        a = gym.make("arise_gym/AcmeCorp-v0", world_options={"metrics_rate_limit_every": 3})
        b = gym.make("arise_gym/AcmeCorp-v0", world_options={"metrics_rate_limit_every": 3})
        a.reset(seed=42, options={"task": "metrics.current_value"})
        b.reset(seed=42, options={"task": "metrics.current_value"})
        call = '{"tool": "http_get", "args": {"url": "http://metrics.acme.internal/services"}}'
        out = []
        for _ in range(6):
            for _ in range(other_steps):
                b.step(call)
            out.append(a.step(call)[0].split("\n")[0])
        return out

    assert codes(0) == codes(2) == ["HTTP 200", "HTTP 200", "HTTP 429"] * 2


def test_rate_limits_and_auth_do_not_change_ground_truth():
    """Truths go through a privileged path: the same with and without API limits (and no crash)."""
    from envs.tasks import get_suite

    suite = get_suite("acmecorp", "rigorous")
    families = ("incidents.root_cause", "metrics.peak_error_minute", "metrics.total_requests")
    plain = {f: suite.instance(5, "test", f).truth for f in families}
    for options in ({"metrics_rate_limit_every": 2}, {"metrics_auth": True}):
        e = gym.make("arise_gym/AcmeCorp-v0", tools="reference", world_options=options)
        for fam in families:
            e.reset(seed=5, options={"task": fam})
            inst = e.unwrapped.instance
            assert inst.options == options and inst.truth == plain[fam], (options, fam)


def test_the_instance_world_is_the_one_the_env_serves():
    from envs.tasks import get_suite

    inst = get_suite("acmecorp", "rigorous").instance(42, "test", "logs.malformed_lines", options={"log_lines": 3000})
    e = gym.make("arise_gym/AcmeCorp-v0", tools="reference")  # env default options differ
    e.reset(options={"instance": inst})
    obs, *_ = e.step('{"tool": "log_malformed"}')
    assert json.loads(obs)["total"] == inst.truth
