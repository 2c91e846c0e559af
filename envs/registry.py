"""The worlds arise-gym knows: one ``register_world`` call per world, everything else derived.

A world is a package (``envs.acmecorp``) whose ``__init__`` states its facts: ``PHASES``
(curriculum order; every suite of the world orders its task stream by it) and
``TOOL_PHASES`` (the phases whose data sits behind an API or in large files, where tools
should pay off). Its registration names the Gymnasium id and the suite factory of each
protocol. Lists of worlds, protocols and phases anywhere in the project come from here.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType

from gymnasium.envs.registration import register, registry

MAX_EPISODE_STEPS = 30


@dataclass(frozen=True)
class WorldEntry:
    name: str
    env_id: str  # the Gymnasium id
    package: str  # defines PHASES and TOOL_PHASES
    suites: dict[str, str] = field(default_factory=dict)  # protocol -> "module:function" (imported lazily)
    # "module:NAME" of the world's constant, input-independent answer blob (the null_blob baseline), if any.
    constant_blob_ref: str | None = None

    @property
    def module(self) -> ModuleType:
        return importlib.import_module(self.package)

    @property
    def phases(self) -> tuple[str, ...]:
        return tuple(self.module.PHASES)

    @property
    def tool_phases(self) -> tuple[str, ...]:
        return tuple(getattr(self.module, "TOOL_PHASES", self.phases))

    @property
    def constant_blob(self) -> str:
        if self.constant_blob_ref is None:
            raise ValueError(f"world {self.name!r} registers no constant blob (register_world(constant_blob=...))")
        module, _, attr = self.constant_blob_ref.partition(":")
        return str(getattr(importlib.import_module(module), attr))


WORLDS: dict[str, WorldEntry] = {}
# world -> Gymnasium id, kept in step with WORLDS (a view many callers read).
ENV_IDS: dict[str, str] = {}


def register_world(
    name: str, env_id: str, package: str, suites: Mapping[str, str], constant_blob: str | None = None
) -> WorldEntry:
    """Register a world, its environment and its suites (``protocol -> "module:function"``, imported lazily)."""
    entry = WorldEntry(name, env_id, package, dict(suites), constant_blob)
    WORLDS[name] = entry
    ENV_IDS[name] = env_id
    if env_id not in registry:
        register(
            id=env_id,
            entry_point="envs.toolenv:ToolUseEnv",
            kwargs={"world": name},
            max_episode_steps=MAX_EPISODE_STEPS,
        )
    return entry


def get_world(name: str) -> WorldEntry:
    if name not in WORLDS:
        raise KeyError(f"unknown world {name!r}; available worlds: {sorted(WORLDS)}")
    return WORLDS[name]


def all_phases() -> tuple[str, ...]:
    """Every registered world's phases, world by world in registration order."""
    out: list[str] = []
    for entry in WORLDS.values():
        out += [p for p in entry.phases if p not in out]
    return tuple(out)


__all__ = ["ENV_IDS", "MAX_EPISODE_STEPS", "WORLDS", "WorldEntry", "all_phases", "get_world", "register_world"]
