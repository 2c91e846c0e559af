"""Shared fixtures: worlds are cached per seed because generation dominates test time."""

from __future__ import annotations

import functools

import pytest

import envs  # noqa: F401  (registers the environments)
import tests.worlds.orchard  # noqa: F401  (the example plugin world: registry-parametrised tests cover it too)
from envs.tasks import Suite, get_suite
from envs.world import World


@functools.cache
def acme_world(seed: int) -> World:
    return get_suite("acmecorp", "rigorous").get_world(seed)


@pytest.fixture(scope="session")
def acme_suite() -> Suite:
    return get_suite("acmecorp", "rigorous")


@pytest.fixture
def world42() -> World:
    return acme_world(42)
