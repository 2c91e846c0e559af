"""Typed Hydra configuration: dataclass schemas for every config group.

The YAML files under ``conf/`` are presets that extend these schemas, so a misspelt
key or a wrong type fails when the config is composed, not an hour into a run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore


class ConfigError(ValueError):
    """A job that cannot run as configured (bad config, foreign records in its directory...)."""


@dataclass
class WorldConfig:
    name: str = "acmecorp"
    # Generator knobs (see envs/<world>/world.py DEFAULT_OPTIONS); {} = the defaults.
    options: dict[str, Any] = field(default_factory=dict)
    # System prompt of LLM agents in this world; null = agents.react.DEFAULT_SYSTEM_PROMPT.
    system_prompt: str | None = None


@dataclass
class ProtocolConfig:
    name: str = "rigorous"  # rigorous | arise_v1
    # Affordances of a condition under this protocol when the condition sets none
    # (arise_v1: no_evolution has no tools at all, as in the paper).
    condition_affordances: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class ConditionConfig:
    name: str = "oracle"
    kind: str = "scripted"  # scripted | llm (a ReAct agent over the `llm` backend)
    # none | reference (hand-written) | library (the evolved library: arise) | code (run_python: code_agent)
    tools: str = "none"
    # Affordances offered; null = the protocol's default for this condition.
    affordances: list[str] | None = None
    # Adaptive tool injection: offer only the k library tools most relevant to the task (null = all).
    tool_top_k: int | None = None


@dataclass
class EvolutionConfig:
    """Switches of the evolution pipeline (evolution.pipeline.EvolutionSettings); used by `tools: library`."""

    name: str = "default"  # label of the preset (conf/evolution/*.yaml), used by reports to name ablations
    protocol: str = "online"  # online (evolve while scored, as in the paper) | train_test (evolve on train, freeze)
    failure_threshold: int = 3  # evolve after this many failures (reward < 0.5) since the last evolution
    plateau_window: int = 0  # > 0: also evolve when success over W episodes is no better than the W before
    max_evolutions: int = 1  # at most this many evolutions ...
    per_episodes: int = 3  # ... per this many episodes (episode-counted: runs stay reproducible)
    max_gaps: int = 3  # tools asked for per evolution
    max_repairs: int = 2  # repair rounds per candidate (0 = one-shot "Direct" synthesis)
    adversarial: bool = True  # adversarial test suite written by a separate request
    static_policy: bool = True  # AST policy check before anything runs
    library_cap: int | None = None  # max active tools (null = no cap)
    pruning: str = "none"  # none | least_used | lowest_success | unused_for
    unused_for: int = 20  # episodes, for pruning=unused_for
    reward_signal: str = "oracle"  # oracle (task grader) | self (agent's own judgement) | none
    ab_replays: int = 3  # patch path: replayed failures each version of a patched tool is tried on


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
    isolation: str = "auto"  # auto (bwrap if installed, else rlimits-only with a loud warning) | bwrap | rlimits-only
    wall_s: float = 5.0  # per call / per test suite
    memory_mb: int = 512


@dataclass
class ReplayConfig:
    # off | record | replay-only: a content-addressed cache of LLM responses around the `llm` backend.
    mode: str = "off"
    cache_dir: str = "llm_cache"  # shared across jobs; relative paths are relative to the working directory
    # With mode=off and a real (non-sim) model: record every response in <job dir>/llm_cache, so an
    # interrupted job resumes exactly (the library is rebuilt and the torn episode replayed from the
    # record, without paying for those calls again). The simulated model is deterministic and needs none.
    job_cache: bool = True


@dataclass
class AgentConfig:
    temperature: float | None = 0.0
    max_tokens: int | None = None


@dataclass
class RunConfig:
    world: WorldConfig = field(default_factory=WorldConfig)
    protocol: ProtocolConfig = field(default_factory=ProtocolConfig)
    condition: ConditionConfig = field(default_factory=ConditionConfig)
    # The LLM backend of `kind: llm` conditions (conf/llm/*.yaml; agents.llm.factory documents the keys).
    llm: Any = None
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    evolution: EvolutionConfig = field(default_factory=EvolutionConfig)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    diagnostics: DiagnosticsConfig = field(default_factory=DiagnosticsConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    seed: int = 42
    split: str = "test"  # which instance stream is evaluated: train | test
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
    cs = ConfigStore.instance()
    cs.store(name="base_run", node=RunConfig)
    cs.store(group="world", name="base_world", node=WorldConfig)
    cs.store(group="protocol", name="base_protocol", node=ProtocolConfig)
    cs.store(group="condition", name="base_condition", node=ConditionConfig)
    cs.store(group="evolution", name="base_evolution", node=EvolutionConfig)


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
