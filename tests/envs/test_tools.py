import pytest

from envs.access import AccessError, WorldAccess
from envs.http import WorldHttp
from envs.toolkit import NoWorldBound, read_file
from envs.tools import InProcessRunner, check_args, tool_spec
from envs.world import World


def sample_tool(path: str, limit: int = 3, flags: list[str] | None = None) -> dict:
    """Read the head of a file.

    Args:
        path: File to read.
        limit: How many lines.
        flags: Optional flags.

    Returns:
        The lines.
    """
    return {"lines": read_file(path).splitlines()[:limit]}


def crashing_tool(x: int) -> int:
    """Always fails.

    Args:
        x: Anything.
    """
    raise ValueError(f"bad x={x}")


@pytest.fixture
def tiny_world() -> World:
    return World("t", "rigorous", 0, 0, {"a.txt": "1\n2\n3\n4\n"}, {"page": "hello"}, WorldHttp())


def test_spec_is_derived_from_signature_and_docstring():
    spec = tool_spec(sample_tool)
    assert spec.name == "sample_tool"
    assert spec.description.startswith("Read the head of a file.") and "Returns: The lines." in spec.description
    props = spec.parameters["properties"]
    assert props["path"] == {"type": "string", "description": "File to read."}
    assert props["limit"] == {"type": "integer", "description": "How many lines.", "default": 3}
    assert props["flags"]["type"] == "array" and props["flags"]["items"] == {"type": "string"}
    assert spec.parameters["required"] == ["path"]
    assert spec.parameters["additionalProperties"] is False


def test_check_args_names_the_problem():
    spec = tool_spec(sample_tool)
    assert check_args(spec, {"path": "a"}) is None
    assert "missing required" in check_args(spec, {})
    assert "unknown argument" in check_args(spec, {"path": "a", "bogus": 1})
    assert "must be of type integer" in check_args(spec, {"path": "a", "limit": "3"})
    assert "must be a JSON object" in check_args(spec, ["a"])


def test_runner_binds_world_and_turns_exceptions_into_results(tiny_world):
    runner = InProcessRunner.of([sample_tool, crashing_tool])
    access = WorldAccess(tiny_world)
    ok = runner.call("sample_tool", {"path": "a.txt", "limit": 2}, access)
    assert ok.ok and ok.output == '{"lines":["1","2"]}'
    bad = runner.call("crashing_tool", {"x": 4}, access)
    assert not bad.ok and bad.error == "ValueError: bad x=4"
    missing = runner.call("sample_tool", {"path": "nope.txt"}, access)
    assert not missing.ok and "no such file" in missing.error
    unknown = runner.call("nope", {}, access)
    assert not unknown.ok and "available" in unknown.error


def test_toolkit_outside_a_runner_fails_clearly():
    with pytest.raises(NoWorldBound):
        read_file("a.txt")


def test_access_policy_blocks_affordances_not_offered(tiny_world):
    from envs.access import AccessPolicy

    access = WorldAccess(tiny_world, AccessPolicy(("http_get",)))
    with pytest.raises(AccessError, match="not available"):
        access.read_file("a.txt")
    with pytest.raises(AccessError, match="not an absolute http URL"):
        access.http_get("metrics/x")
