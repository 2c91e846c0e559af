"""The command line of ``python -m experiments.run``, read before Hydra sees it.

Hydra's parser takes its overrides as one run of positional arguments, so an override after a flag
(``... -m seed=1,2``) was "unrecognized arguments"; flags may stand anywhere here and are moved
before the overrides. Override keys are checked against the schemas (``experiments/config.py`` and
Hydra's own ``HydraConf``) so that a misspelt or unknown key, added with ``+`` or not, fails at once
with the accepted keys named. ``--plan`` is ours: print the jobs the command would run
(``experiments/plan.py``) instead of running them.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.conf import HydraConf
from omegaconf import OmegaConf

from experiments.config import unknown_key

PROG = "python -m experiments.run"
USAGE = f"usage: {PROG} [-m] [--plan] [--cfg {{job,hydra,all}}] [group=option ...] [key=value ...] [+key=value ...]"
CONF_DIR = Path(__file__).resolve().parents[1] / "conf"

# Hydra 1.3's own flags (hydra._internal.utils.get_args_parser), by whether they take a value.
_HYDRA_SWITCHES = frozenset({"-h", "--help", "--hydra-help", "--version", "--resolve", "-r", "--run",
                             "-sc", "--shell-completion"})  # fmt: skip
_HYDRA_VALUED = frozenset({"-c", "--cfg", "-p", "--package", "-cp", "--config-path", "-cn", "--config-name",
                           "-cd", "--config-dir", "--experimental-rerun"})  # fmt: skip
_INFO = frozenset({"-i", "--info"})  # an optional value from a closed set
_INFO_CHOICES = frozenset({"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"})
_MULTIRUN = frozenset({"-m", "--multirun"})
PLAN = "--plan"


class UsageError(ValueError):
    """A command line that cannot run; the message names what is wrong and what is accepted."""


@dataclass(frozen=True)
class RunCommand:
    """A parsed command line: Hydra's flags, then its overrides (what Hydra's parser accepts)."""

    flags: list[str]
    overrides: list[str]
    multirun: bool
    plan: bool

    def hydra_argv(self) -> list[str]:
        return [*(["-m"] if self.multirun else []), *self.flags, *self.overrides]


def parse_command_line(argv: list[str]) -> RunCommand:
    """Split ``argv`` into flags and overrides wherever they stand; unknown flags are a UsageError."""
    flags: list[str] = []
    overrides: list[str] = []
    multirun = plan = False
    i = 0
    while i < len(argv):
        arg = argv[i]
        name = arg.split("=", 1)[0] if arg.startswith("--") else arg
        if arg in _MULTIRUN:
            multirun = True
        elif arg == PLAN:
            plan = True
        elif name in _HYDRA_SWITCHES:
            flags.append(arg)
        elif name in _HYDRA_VALUED:
            if "=" in arg:
                flags.append(arg)
            elif i + 1 < len(argv):
                flags += [arg, argv[i + 1]]
                i += 1
            else:
                raise UsageError(f"{arg} needs a value\n{USAGE}")
        elif name in _INFO:
            flags.append(arg)
            if "=" not in arg and i + 1 < len(argv) and argv[i + 1] in _INFO_CHOICES:
                flags.append(argv[i + 1])
                i += 1
        elif arg.startswith("-"):
            known = sorted(_MULTIRUN | _HYDRA_SWITCHES | _HYDRA_VALUED | _INFO | {PLAN})
            raise UsageError(f"unknown option {arg!r}; accepted options: {', '.join(known)}\n{USAGE}")
        else:
            overrides.append(arg)
        i += 1
    return RunCommand(flags=flags, overrides=overrides, multirun=multirun, plan=plan)


def unknown_hydra_key(path: list[str]) -> str | None:
    """Why ``hydra.<path>`` is not a key of Hydra's config (``HydraConf``), naming the accepted keys;
    None when it is (keys under free-form nodes such as ``hydra.launcher`` are the plugin's to check)."""
    schema: Any = HydraConf
    for depth, name in enumerate(path):
        if not (isinstance(schema, type) and dataclasses.is_dataclass(schema)):
            return None
        hints = typing.get_type_hints(schema)
        fields = {f.name: hints[f.name] for f in dataclasses.fields(schema)}
        if name not in fields:
            where = ".".join(["hydra", *path[:depth]])
            return f"unknown config key {'.'.join(['hydra', *path])!r}; accepted keys of {where}: {', '.join(fields)}"
        schema = fields[name]
    return None


def _llm_provider(overrides: list[str]) -> str | None:
    """The provider of the llm preset the overrides choose (or the default one): llm.* keys are typed by it."""
    choices = dict(o.split("=", 1) for o in overrides if "=" in o and not o.startswith(("+", "~")))
    defaults = OmegaConf.load(CONF_DIR / "config.yaml").defaults
    choice = choices.get("llm") or next(d["llm"] for d in defaults if OmegaConf.is_dict(d) and "llm" in d)
    llm_file = CONF_DIR / "llm" / f"{choice}.yaml"
    if not llm_file.exists():
        return None  # Hydra names the unknown preset
    preset = OmegaConf.to_container(OmegaConf.load(llm_file))
    provider = preset.get("provider") if isinstance(preset, dict) else None
    return None if provider is None else str(provider)


def check_override_keys(overrides: list[str]) -> None:
    """Every ``key=value``, ``+key=value`` and ``~key`` names a key of the run config or of Hydra's,
    or a config group; a UsageError names the key and the accepted ones (Hydra itself names only the
    key, and lets ``+key`` add anything)."""
    provider = _llm_provider(overrides)
    for override in overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        if "@" in key:
            continue  # a group chosen into another package: Hydra checks it
        if "/" in key or (CONF_DIR / key).is_dir():
            if not key.startswith("hydra/") and not (CONF_DIR / key).is_dir():
                groups = sorted(p.name for p in CONF_DIR.iterdir() if p.is_dir())
                raise UsageError(f"unknown config group {key!r}; config groups: {', '.join(groups)}")
            continue  # a config group choice: Hydra checks the option and lists the available ones
        parts = key.split(".")
        problem = unknown_hydra_key(parts[1:]) if parts[0] == "hydra" else unknown_key(parts, provider)
        if problem:
            raise UsageError(problem)
