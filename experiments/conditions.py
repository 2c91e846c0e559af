"""How a condition (``conf/condition/*.yaml``) becomes a job's agent and tools.

A condition is an agent kind (``kind``) and a tool source (``tools``). ``AGENT_KINDS`` and
``TOOL_SOURCES`` map each value to what it builds, so a new condition is one YAML file, and a
new kind of agent or of tool source is one entry here (docs/architecture.md, "Adding a condition").

``build_condition`` is the one place a job's policy, LLM backend, sandbox and evolver are made;
``Condition.tools()`` is what each episode is offered.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from agents.llm import ChatBackend, ChatRequest, make_backend
from agents.llm.openai_client import OpenAIChat
from agents.llm.replay import ReplayBackend
from agents.llm.server_check import ServerCheckError, ServerFacts, check_server
from agents.policy import Policy
from agents.react import DEFAULT_SYSTEM_PROMPT, ReActAgent
from agents.scripted import make_scripted
from envs.registry import get_world
from envs.tasks import Suite
from envs.tools import ToolRunner
from evolution.code_agent import CodeRunner
from evolution.library import Library
from evolution.pipeline import EvolutionSettings, Evolver
from evolution.sandbox.runner import Limits, Sandbox
from experiments.config import AgentKind, ConfigError, ToolSource


@dataclass
class Condition:
    """What a condition contributes to a job: the policy and what its tools need."""

    policy: Policy
    tool_source: ToolSource
    backend: ChatBackend | None = None  # kind: llm
    sandbox: Sandbox | None = None  # tool sources that run model-written code
    evolver: Evolver | None = None  # tools: library

    def tools(self) -> str | ToolRunner:
        """The tools of the next episode (the library as it stands now, for arise)."""
        return TOOL_SOURCES[self.tool_source].runner(self)

    def close(self) -> None:
        if self.evolver is not None:
            self.evolver.library.close()
        if self.sandbox is not None:
            self.sandbox.close()


@dataclass(frozen=True)
class ToolSourceSpec:
    runner: Callable[[Condition], str | ToolRunner]  # the episode's tools
    sandboxed: bool = False  # runs model-written code: the job starts a sandbox
    needs_llm: bool = False  # only an agent that writes or picks tools can use it


def _library_runner(condition: Condition) -> ToolRunner:
    assert condition.evolver is not None
    return condition.evolver.runner()


def _code_runner(condition: Condition) -> ToolRunner:
    assert condition.sandbox is not None
    return CodeRunner(condition.sandbox)


TOOL_SOURCES: dict[ToolSource, ToolSourceSpec] = {
    ToolSource.none: ToolSourceSpec(lambda c: "none"),
    ToolSource.reference: ToolSourceSpec(lambda c: "reference"),
    ToolSource.library: ToolSourceSpec(_library_runner, sandboxed=True, needs_llm=True),
    ToolSource.code: ToolSourceSpec(_code_runner, sandboxed=True, needs_llm=True),
}


def _scripted_agent(cfg: DictConfig, suite: Suite, options: dict[str, Any], backend: ChatBackend | None) -> Policy:
    return make_scripted(
        cfg.condition.name,
        suite,
        int(cfg.seed),
        int(cfg.train_worlds),
        options,
        evaluated=(str(cfg.split), int(cfg.n_worlds)),
    )


def _react_agent(cfg: DictConfig, suite: Suite, options: dict[str, Any], backend: ChatBackend | None) -> Policy:
    assert backend is not None
    return ReActAgent(
        backend,
        system_prompt=cfg.world.system_prompt or DEFAULT_SYSTEM_PROMPT,
        temperature=cfg.agent.temperature,
        max_tokens=cfg.agent.max_tokens,
        seed=int(cfg.seed),
        max_steps=int(cfg.max_steps),
        tool_top_k=cfg.condition.tool_top_k,
    )


# kind -> (builds the policy, needs an LLM backend)
AGENT_KINDS: dict[AgentKind, tuple[Callable[..., Policy], bool]] = {
    AgentKind.scripted: (_scripted_agent, False),
    AgentKind.llm: (_react_agent, True),
}


def check_condition(cfg: DictConfig) -> None:
    """Combinations the schema cannot express, as config errors naming the fix."""
    needs_backend = AGENT_KINDS[AgentKind(cfg.condition.kind)][1]
    if needs_backend and not cfg.llm:
        raise ConfigError(
            f"condition {cfg.condition.name!r} needs an LLM: add llm=sim-4o-mini-like (offline), llm=openai, "
            f"llm=anthropic or llm=local (see conf/llm/)"
        )
    if TOOL_SOURCES[ToolSource(cfg.condition.tools)].needs_llm and not needs_backend:
        raise ConfigError(f"condition.tools={cfg.condition.tools} needs kind: llm (an agent that uses the tools)")
    if cfg.condition.kind == AgentKind.scripted and cfg.condition.name == "null_blob":
        world = get_world(str(cfg.world.name))
        if world.constant_blob_ref is None:
            raise ConfigError(
                f"condition null_blob answers the world's constant blob, and world {world.name!r} registers none "
                "(register_world(..., constant_blob='module:NAME')); pick another null baseline"
            )
    if cfg.condition.tool_top_k is not None and int(cfg.condition.tool_top_k) < 0:
        raise ConfigError(f"condition.tool_top_k must be >= 0 or null, got {cfg.condition.tool_top_k}")
    sandbox_limits(cfg)
    evolution_settings(cfg)  # checked whatever the condition: a bad value is an error, not ignored


def sandbox_limits(cfg: DictConfig) -> Limits:
    """The sandbox's limits from ``cfg.sandbox``; a bad value is a config error naming the key and range."""
    try:
        return Limits(wall_s=cfg.sandbox.wall_s, cpu_s=cfg.sandbox.wall_s, memory_mb=cfg.sandbox.memory_mb)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def evolution_settings(cfg: DictConfig) -> EvolutionSettings:
    """The pipeline's settings: the ``EvolutionSettings`` fields of ``cfg.evolution`` (validated)."""
    names = [f.name for f in dataclasses.fields(EvolutionSettings)]
    try:
        return EvolutionSettings(**{name: cfg.evolution[name] for name in names})
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from None


def make_llm(cfg: DictConfig, out_dir: Path) -> ChatBackend:
    """The job's LLM backend, behind the replay cache when ``replay`` asks for one."""
    llm_cfg = OmegaConf.to_container(cfg.llm, resolve=True, enum_to_str=True)
    if not isinstance(llm_cfg, dict):
        raise ConfigError(f"llm must be a mapping with a 'provider' key (see conf/llm/), got {llm_cfg!r}")
    try:
        backend = make_backend({str(k): v for k, v in llm_cfg.items()})
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if cfg.replay.mode != "off":
        backend = ReplayBackend(backend, cfg.replay.cache_dir, mode=str(cfg.replay.mode))
    elif cfg.replay.job_cache and cfg.llm.provider != "sim":
        backend = ReplayBackend(backend, out_dir / "llm_cache", mode="record")
    return backend


def check_llm_server(
    cfg: DictConfig, backend: ChatBackend, first_request: Callable[[], ChatRequest | None]
) -> ServerFacts | None:
    """The job-start check of an OpenAI-compatible server (agents.llm.server_check); None for others.

    ``first_request`` builds the job's first request (only for such servers: it resets an env).
    May switch the backend to JSON actions (``llm.tool_probe: fallback``); a server that cannot run
    the job as configured is a ConfigError raised before any episode."""
    inner = backend.inner if isinstance(backend, ReplayBackend) else backend
    if not isinstance(inner, OpenAIChat):
        return None
    try:
        return check_server(
            backend,
            inner,
            tool_probe=cfg.llm.get("tool_probe"),
            first_request=first_request(),
            facts_dir=backend.cache_dir if isinstance(backend, ReplayBackend) else None,
            replay_only=isinstance(backend, ReplayBackend) and backend.mode == "replay-only",
        )
    except ServerCheckError as exc:
        raise ConfigError(str(exc)) from None


def model_name(backend: ChatBackend | None) -> str:
    """The model that answers (the wrapped one behind a replay cache)."""
    inner = backend.inner if isinstance(backend, ReplayBackend) else backend
    return str(getattr(inner, "model", "") or "")


def another_policy(cfg: DictConfig, suite: Suite, options: dict[str, Any], condition: Condition) -> Policy:
    """A second policy of the condition, sharing its backend: for episodes played side by side."""
    return AGENT_KINDS[AgentKind(cfg.condition.kind)][0](cfg, suite, options, condition.backend)


def build_condition(cfg: DictConfig, suite: Suite, options: dict[str, Any], out_dir: Path) -> Condition:
    """The job's policy, backend, sandbox and evolver (started; ``Condition.close`` releases them)."""
    build_policy, needs_backend = AGENT_KINDS[AgentKind(cfg.condition.kind)]
    source = ToolSource(cfg.condition.tools)
    backend = make_llm(cfg, out_dir) if needs_backend else None
    condition = Condition(build_policy(cfg, suite, options, backend), source, backend=backend)
    if TOOL_SOURCES[source].sandboxed:
        condition.sandbox = Sandbox(sandbox_limits(cfg), isolation=str(cfg.sandbox.isolation))
        condition.sandbox.start()
    if source == ToolSource.library:
        assert backend is not None and condition.sandbox is not None
        db = out_dir / "library.sqlite"
        for suffix in ("", "-wal", "-shm"):  # rebuilt from the kept records (see experiments.run)
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        condition.evolver = Evolver(
            evolution_settings(cfg),
            backend,
            Library(db),
            condition.sandbox,
            suite,
            int(cfg.seed),
            model=model_name(backend),
            temperature=cfg.agent.temperature,
            max_tokens=cfg.evolution.max_tokens,
            world_options=options,
        )
    return condition
