"""Typed Hydra configuration: dataclass schemas for every config group.

The YAML files under ``conf/`` are presets that extend these schemas, so a misspelt
key or a wrong type fails when the config is composed, not an hour into a run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore


@dataclass
class WorldConfig:
    name: str = "acmecorp"
    # Generator knobs (see envs/<world>/world.py DEFAULT_OPTIONS); {} = the defaults.
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProtocolConfig:
    name: str = "rigorous"  # rigorous | arise_v1


@dataclass
class ConditionConfig:
    name: str = "oracle"
    kind: str = "scripted"  # scripted (more kinds arrive with LLM agents)
    tools: str = "none"  # none | reference
    # Affordances offered; null = the protocol's default set.
    affordances: list[str] | None = None


@dataclass
class RunConfig:
    world: WorldConfig = field(default_factory=WorldConfig)
    protocol: ProtocolConfig = field(default_factory=ProtocolConfig)
    condition: ConditionConfig = field(default_factory=ConditionConfig)
    llm: str | None = None
    seed: int = 42
    split: str = "test"  # which instance stream is evaluated: train | test
    n_worlds: int = 1  # worlds of the split (world 0 of the test split is built from `seed` itself)
    per_family: int = 1  # instances per family per world
    train_worlds: int = 3  # train worlds used by baselines that learn (null_majority)
    families: list[str] = field(default_factory=list)  # [] = every family
    max_steps: int = 30
    max_observation_chars: int | None = None  # null = the suite's default (12k rigorous, 400k arise_v1)
    progress: bool = True


def register_configs() -> None:
    cs = ConfigStore.instance()
    cs.store(name="base_run", node=RunConfig)
    cs.store(group="world", name="base_world", node=WorldConfig)
    cs.store(group="protocol", name="base_protocol", node=ProtocolConfig)
    cs.store(group="condition", name="base_condition", node=ConditionConfig)
