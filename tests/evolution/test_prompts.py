"""The tool-author prompt documents the toolkit that tools really get."""

from __future__ import annotations

import inspect
import re

import pytest

from envs import toolkit
from envs.access import ALL_AFFORDANCES, WorldAccess
from evolution import prompts


def _documented() -> dict[str, list[str]]:
    """Affordance name -> parameter names, as the system prompt states them."""
    found = {}
    for name, params in re.findall(r"^- (\w+)\(([^)]*)\) ->", prompts.SYSTEM, flags=re.M):
        found[name] = re.findall(r"(?:^|, )(\w+):", params)
    return found


@pytest.mark.parametrize("name", ALL_AFFORDANCES)
def test_the_author_prompt_states_each_affordance_as_the_code_defines_it(name: str):
    documented = _documented()
    assert name in documented, f"{name} is missing from the tool-author prompt"
    for impl in (getattr(toolkit, name), getattr(WorldAccess, name)):  # what tools import, what answers
        params = [p for p in inspect.signature(impl).parameters if p != "self"]
        assert documented[name] == params, f"prompt says {name}({documented[name]}), code has {params}"


def test_the_prompt_documents_nothing_that_does_not_exist():
    assert set(_documented()) == set(ALL_AFFORDANCES)
    for name, params in _documented().items():
        inspect.signature(getattr(toolkit, name)).bind(*(["x"] * len(params)))  # every stated arg is accepted
