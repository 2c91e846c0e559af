"""What a command would run, without running it: ``python -m experiments.run ... --plan``.

The command's configs are composed the way Hydra composes them for a run (a sweep is expanded by
Hydra's basic sweeper, with a preset's ``hydra.sweeper.params``), each job is planned as
``run_job`` plans it (the same config checks, task list and plan hash), and one line per job says
where it would write and whether that directory already holds it (complete, partly done, or new).
Nothing is written: no directory, no Hydra files, no records.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from hydra import initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import setup_globals
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from experiments.config import ConfigError, register_configs

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


@dataclass(frozen=True)
class PlannedJob:
    overrides: list[str]  # the job's own overrides (a sweep's values for it), as Hydra names its directory
    label: str  # world/protocol/condition/seed
    out_dir: Path
    episodes: int  # scored episodes (plus train episodes, when the condition evolves on the train split)
    train_episodes: int
    plan_hash: str
    status: str  # "complete", "partial: k/n episodes recorded", "new", or why the directory cannot be used

    def line(self) -> str:
        train = f" + {self.train_episodes} train" if self.train_episodes else ""
        return f"{self.label}: {self.episodes} episodes{train} -> {self.out_dir} ({self.status})"


def _status(out_dir: Path, plan_hash: str, n_planned: int) -> str:
    if not out_dir.exists():
        return "new"
    plan_file = out_dir / "plan.json"
    if plan_file.exists():
        recorded = json.loads(plan_file.read_text(encoding="utf-8")).get("plan_hash")
        if recorded != plan_hash:
            return f"REFUSED: the directory holds another plan ({recorded})"
    try:
        result = json.loads((out_dir / "result.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        result = {}
    if result.get("config_hash") == plan_hash and not result.get("llm_failures"):
        return "complete: would be skipped"
    episodes = out_dir / "episodes.jsonl"
    lines = episodes.read_text(encoding="utf-8").splitlines() if episodes.exists() else []
    done = sum(1 for line in lines if line.strip())
    return f"partial: {done}/{n_planned} episodes recorded" if done else "new"


def _job_config(master: DictConfig) -> DictConfig:
    """The job's config as the task function receives it (without the ``hydra`` node)."""
    cfg = OmegaConf.masked_copy(master, [str(k) for k in master if k != "hydra"])
    assert isinstance(cfg, DictConfig)
    return cfg


def _out_dir(cfg: DictConfig, multirun: bool) -> Path:
    hydra = cfg.hydra
    if multirun:
        return Path(str(hydra.sweep.dir)) / str(hydra.sweep.subdir)
    return Path(str(hydra.run.dir))


def plan_command(overrides: list[str], multirun: bool) -> list[PlannedJob]:
    """The jobs ``python -m experiments.run [-m] <overrides>`` would run, in launch order.

    Raises ConfigError (a job's config check), or Hydra's own exceptions for configs that do not compose.
    """
    # Imported here: run.py imports this module's caller, and planning needs its plan_job.
    from experiments.run import InstanceCache, import_world_module, plan_job

    register_configs()
    setup_globals()  # Hydra's resolvers (${now:...}) as in a real run
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3", job_name="run"):
        loader = GlobalHydra.instance().config_loader()
        mode = RunMode.MULTIRUN if multirun else RunMode.RUN
        master = loader.load_configuration("config", list(overrides), mode)
        if multirun:
            params = master.hydra.sweeper.get("params") or {}
            sweep = [f"{k}={v}" for k, v in params.items()] + list(overrides)
            parsed = OverridesParser.create(config_loader=loader).parse_overrides(sweep)
            job_overrides = [list(job) for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]
        else:
            job_overrides = [list(overrides)]
        jobs: list[PlannedJob] = []
        instances: InstanceCache = {}  # jobs of the same seed and setting share their task instances
        for own in job_overrides:
            cfg = loader.load_sweep_config(master, own) if multirun else master
            out_dir = _out_dir(cfg, multirun)
            job_cfg = _job_config(cfg)
            import_world_module(job_cfg)
            plan = plan_job(job_cfg, instances)
            jobs.append(
                PlannedJob(
                    overrides=own if multirun else list(overrides),
                    label=plan.label,
                    out_dir=out_dir,
                    episodes=len(plan.planned),
                    train_episodes=len(plan.train),
                    plan_hash=plan.hash,
                    status=_status(out_dir, plan.hash, len(plan.planned)),
                )
            )
    GlobalHydra.instance().clear()
    return jobs


def render_plan(jobs: list[PlannedJob], multirun: bool) -> str:
    """The lines ``--plan`` prints: one per job, then a total."""
    lines = [f"[{i}/{len(jobs)}] {job.line()}" for i, job in enumerate(jobs, 1)]
    episodes = sum(j.episodes + j.train_episodes for j in jobs)
    complete = sum(j.status.startswith("complete") for j in jobs)
    kind = "sweep (-m)" if multirun else "run"
    lines.append(f"plan: {len(jobs)} job(s), {episodes} episodes, {complete} complete; a {kind}, nothing was run")
    return "\n".join(lines)


def print_plan(overrides: list[str], multirun: bool) -> int:
    """``--plan``'s output and exit status (1 with an ``error:`` line when a job cannot run as configured)."""
    from hydra.errors import HydraException

    try:
        jobs = plan_command(overrides, multirun)
    except (ConfigError, HydraException) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(render_plan(jobs, multirun))
    return 0
