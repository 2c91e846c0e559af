"""Typed Hydra configuration: dataclass schemas for every config group.

The YAML files under ``conf/`` are presets that extend these schemas, so a misspelt
key or a wrong type fails when the config is composed, not an hour into a run.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from agents.llm.config import PROVIDER_CONFIGS
from agents.llm.replay import MODES as REPLAY_MODES
from envs.tasks import SPLITS
from evolution.pipeline import EvolutionSettings
from evolution.sandbox.runner import ISOLATIONS


class ConfigError(ValueError):
    """A job that cannot run as configured (bad config, foreign records in its directory...)."""


# Closed choices are enums: a wrong value fails at composition with the accepted ones listed.
# Choices owned by another module are derived from it.
Split = StrEnum("Split", [(v, v) for v in SPLITS])  # type: ignore[misc]


class AgentKind(StrEnum):
    scripted = "scripted"  # a baseline from agents/scripted.py, named by the condition
    llm = "llm"  # a ReAct agent over the `llm` backend


class ToolSource(StrEnum):
    none = "none"  # the affordances only
    reference = "reference"  # the world's hand-written tools
    library = "library"  # the evolved library (arise)
    code = "code"  # run_python in the sandbox (code_agent)


class EvolutionProtocol(StrEnum):
    online = "online"  # evolve while scored, as in the paper
    train_test = "train_test"  # evolve on the train split, then freeze for the scored test split


# OmegaConf matches a value to a member *name*, so names with a hyphen need the functional form.
Isolation = StrEnum("Isolation", [(v, v) for v in ISOLATIONS])  # type: ignore[misc]
ReplayMode = StrEnum("ReplayMode", [(v, v) for v in REPLAY_MODES])  # type: ignore[misc]


@dataclass
class WorldConfig:
    name: str = "acmecorp"
    # Generator knobs (see envs/<world>/world.py DEFAULT_OPTIONS); {} = the defaults.
    options: dict[str, Any] = field(default_factory=dict)
    # System prompt of LLM agents in this world; null = agents.react.DEFAULT_SYSTEM_PROMPT.
    system_prompt: str | None = None
    # A plugin world's module, imported before the world is looked up (it calls envs.registry.register_world);
    # null for the built-in worlds (importing `envs` registers them). Not part of a job's plan hash.
    module: str | None = None


@dataclass
class ProtocolConfig:
    name: str = "rigorous"  # rigorous | arise_v1
    # Affordances of a condition under this protocol when the condition sets none
    # (arise_v1: no_evolution has no tools at all, as in the paper).
    condition_affordances: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class ConditionConfig:
    name: str = "oracle"
    kind: AgentKind = AgentKind.scripted
    tools: ToolSource = ToolSource.none
    # Affordances offered; null = the protocol's default for this condition.
    affordances: list[str] | None = None
    # Adaptive tool injection: offer only the k library tools most relevant to the task (null = all).
    tool_top_k: int | None = None


@dataclass
class EvolutionConfig(EvolutionSettings):
    """The pipeline's switches (``EvolutionSettings``, conf/evolution/default.yaml documents them) plus
    how a job uses them; read by `tools: library` conditions."""

    name: str = "default"  # label of the preset (conf/evolution/*.yaml), used by reports to name ablations
    protocol: EvolutionProtocol = EvolutionProtocol.online
    # Output tokens per tool-author request (a tool, its tests and a repair fit well within it); null = the
    # provider's own limit, which on a local server can mean generating for many minutes.
    max_tokens: int | None = 4096


@dataclass
class DiagnosticsConfig:
    """Tool-Genesis diagnostics at the end of every arise job (experiments/diagnostics.py, downstream.py)."""

    enabled: bool = True  # L1-L3 of the library (and candidates), L4 if `downstream`; result.json["diagnostics"]
    candidates: bool = True  # also L1/L3 of every candidate version, promoted or not (Direct vs closed loop)
    downstream: bool = True  # L4: the job's agent on held-out instances with library / reference / no tools
    per_family: int = 1  # L4 held-out instances per family
    held_out_seed: int | None = None  # null = derived from `seed` (never a world the job saw)
    edge_per_tool: int = 12  # L3 boundary/negative cases per reference tool
    threshold: float = 0.5  # L2: least similarity of a match
    behaviour_weight: float = 0.5  # L2: similarity = w * behaviour agreement + (1 - w) * argument Jaccard


@dataclass
class SandboxConfig:
    isolation: Isolation = Isolation["auto"]
    wall_s: float = 5.0  # per call / per test suite
    memory_mb: int = 512


@dataclass
class ReplayConfig:
    # A content-addressed cache of LLM responses around the `llm` backend.
    mode: ReplayMode = ReplayMode["off"]
    cache_dir: str = "llm_cache"  # shared across jobs; relative paths are relative to the working directory
    # With mode=off and a real (non-sim) model: record every response in <job dir>/llm_cache, so an
    # interrupted job resumes exactly (the library is rebuilt and the torn episode replayed from the
    # record, without paying for those calls again). The simulated model is deterministic and needs none.
    job_cache: bool = True


@dataclass
class AgentConfig:
    temperature: float | None = 0.0
    # Output tokens per agent turn (an action or a JSON answer is short); null = the provider's own limit.
    # A reply cut off at the limit is flagged `truncated` in the record.
    max_tokens: int | None = 2048


@dataclass
class LimitsConfig:
    """When a job stops early (not part of its plan: a stopped job continues under raised limits)."""

    # Consecutive episodes whose LLM calls failed (after every retry) before the job stops.
    max_consecutive_llm_failures: int = 5
    # Spending limits over every LLM role (agent, evolution, diagnostics); null = none. A job stops when
    # it reaches them, keeping every record; raise them and run the same command to continue.
    max_cost_usd: float | None = None  # needs the model's price (llm.prices)
    max_tokens: int | None = None  # input + output tokens
    # The same over all jobs of a sweep (-m), across processes (experiments/limits.py).
    sweep_max_cost_usd: float | None = None
    sweep_max_tokens: int | None = None


@dataclass
class RunConfig:
    world: WorldConfig = field(default_factory=WorldConfig)
    protocol: ProtocolConfig = field(default_factory=ProtocolConfig)
    condition: ConditionConfig = field(default_factory=ConditionConfig)
    # The LLM backend of `kind: llm` conditions (conf/llm/*.yaml; typed per provider by agents/llm/config.py).
    llm: Any = None
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    evolution: EvolutionConfig = field(default_factory=EvolutionConfig)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    diagnostics: DiagnosticsConfig = field(default_factory=DiagnosticsConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    # Episodes played side by side when they do not depend on each other (every condition but an evolving
    # arise phase; LLM agents only). null = llm.max_concurrency for an HTTP model, else 1. Records are
    # written in plan order and are the same as a sequential run's.
    episode_workers: int | None = None
    seed: int = 42
    split: Split = Split["test"]  # which instance stream is evaluated
    n_worlds: int = 1  # worlds of the split (world 0 of the test split is built from `seed` itself)
    per_family: int = 1  # instances per family per world
    train_worlds: int = 3  # train worlds used by baselines that learn (null_majority)
    families: list[str] = field(default_factory=list)  # [] = every family
    max_steps: int = 30
    max_observation_chars: int | None = None  # null = the suite's default (12k rigorous, 400k arise_v1)
    progress: bool = True
    # The preset (conf/experiment/) a job belongs to; names the sweep directory runs/<experiment>.
    experiment: str | None = None


def register_configs() -> None:
    """Store the schemas outside the config groups, so that only the presets under ``conf/`` are choices on
    the command line (``condition=schema_condition`` is no condition). A preset extends its schema with
    ``defaults: [/schema_<group>@_here_]`` (``/schema_llm_<provider>@_here_`` for the llm group)."""
    cs = ConfigStore.instance()
    cs.store(name="schema_run", node=RunConfig)
    cs.store(name="schema_world", node=WorldConfig)
    cs.store(name="schema_protocol", node=ProtocolConfig)
    cs.store(name="schema_condition", node=ConditionConfig)
    cs.store(name="schema_evolution", node=EvolutionConfig)
    for provider, schema in PROVIDER_CONFIGS.items():
        cs.store(name=f"schema_llm_{provider}", node=schema)


def compose_run_config(overrides: list[str] | tuple[str, ...] = ()) -> Any:
    """The job config for ``overrides`` (as on the command line), without running Hydra's app.

    For scripts and tests: ``run_job(compose_run_config(["condition=fixed_tools"]), out_dir)``.
    """
    from pathlib import Path

    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_configs()
    conf_dir = str(Path(__file__).resolve().parents[1] / "conf")
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=conf_dir, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def _schema_fields(schema: type) -> dict[str, Any]:
    """Field name -> type of a config dataclass (types resolved: the module uses postponed annotations)."""
    hints = typing.get_type_hints(schema)
    return {f.name: hints[f.name] for f in dataclasses.fields(schema)}


def unknown_key(path: list[str], llm_provider: str | None) -> str | None:
    """Why the config key ``path`` (e.g. ["condition", "toolz"]) is not in the schema, naming the
    accepted keys; None when it is (keys under free-form mappings such as world.options are the
    owner's to check)."""
    schema: Any = RunConfig
    for depth, name in enumerate(path):
        if schema is Any and depth == 1 and path[0] == "llm":
            schema = PROVIDER_CONFIGS.get(llm_provider or "", Any)
        if not (isinstance(schema, type) and dataclasses.is_dataclass(schema)):
            return None  # a mapping, Any or a leaf value
        fields = _schema_fields(schema)
        if name not in fields:
            where = ".".join(path[:depth]) or "the run config"
            return f"unknown config key {'.'.join(path)!r}; accepted keys of {where}: {', '.join(fields)}"
        schema = fields[name]
    return None


def check_keys(cfg: Any) -> None:
    """Every key of a composed config is in its schema (``+key=value`` can add keys Hydra lets through)."""

    def walk(node: Any, path: list[str]) -> None:
        if not OmegaConf.is_dict(node):
            return
        for key in node:
            problem = unknown_key([*path, str(key)], cfg.get("llm", {}).get("provider") if cfg.get("llm") else None)
            if problem:
                raise ConfigError(problem)
            walk(node._get_node(key), [*path, str(key)])

    walk(cfg, [])
