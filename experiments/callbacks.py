"""Hydra callbacks of the experiment app (registered in conf/config.yaml).

``SweepProgress`` gives a multirun one progress bar over its jobs and ends it with the summary
table. It watches the sweep directory for ``result.json`` files instead of counting jobs in
``on_job_end``, because launchers that run jobs in other processes (joblib, submitit) call the job
hooks there, not in the process that started the sweep.
"""

from __future__ import annotations

import math
import sys
import threading
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm


def sweep_size(config: DictConfig) -> int | None:
    """Number of jobs the basic sweeper will launch: the product of the sweep lengths of the
    preset's ``hydra.sweeper.params`` and the command line's overrides (which win per key)."""
    try:
        params = config.hydra.sweeper.get("params") or {}
        lines = [f"{k}={v}" for k, v in params.items()] + list(config.hydra.overrides.task)
        by_key: dict[str, int] = {}
        for override in OverridesParser.create().parse_overrides(lines):
            n = len(list(override.sweep_string_iterator())) if override.is_sweep_override() else 1
            by_key[override.get_key_element()] = n
        return math.prod(by_key.values())
    except Exception:  # an exotic sweeper or override syntax: no total, the bar still counts
        return None


def sweep_job_dirs(config: DictConfig) -> set[str] | None:
    """Paths of this sweep's jobs relative to the sweep directory (``hydra.job.override_dirname`` of each
    combination the basic sweeper launches), so jobs of other sweeps in the same directory are neither
    counted nor summarised. A value with ``/`` (a URL) nests the job's directory, so these are relative
    paths, normalised as the file system sees them. None when that cannot be told (another subdir
    pattern, an exotic sweeper): then every job counts."""
    try:
        from hydra._internal.config_loader_impl import get_overrides_dirname
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

        subdir = OmegaConf.to_container(config.hydra.sweep, resolve=False).get("subdir")  # type: ignore[union-attr]
        if subdir != "${hydra.job.override_dirname}":
            return None
        params = config.hydra.sweeper.get("params") or {}
        parser = OverridesParser.create()
        by_key = {
            o.get_key_element(): o
            for o in parser.parse_overrides([f"{k}={v}" for k, v in params.items()] + list(config.hydra.overrides.task))
        }
        dirname = config.hydra.job.config.override_dirname
        names = set()
        for job in BasicSweeper.split_arguments(list(by_key.values()), None)[0]:
            overrides = parser.parse_overrides(job)
            name = get_overrides_dirname(overrides, list(dirname.exclude_keys), dirname.item_sep, dirname.kv_sep)
            names.add(Path(name).as_posix())
        return names
    except Exception:  # Hydra internals may change: fall back to every job in the directory
        return None


class SweepProgress(Callback):
    """A progress bar over the jobs of a sweep, then the sweep's summary table."""

    def __init__(self, poll_s: float = 0.5) -> None:
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # Launchers that run jobs in other processes pickle the callbacks with each job: the watcher
    # thread stays in the process that started the sweep.
    def __getstate__(self) -> dict[str, Any]:
        return {"poll_s": self.poll_s}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        total = sweep_size(config)
        jobs = sweep_job_dirs(config)
        done = _count_results(sweep_dir, jobs)
        print(
            f"sweep: {total if total is not None else '?'} jobs into {sweep_dir}"
            + (f" ({done} complete from an earlier run: skipped)" if done else ""),
            file=sys.stderr,
        )
        bar = tqdm(total=total, initial=done, desc="sweep jobs", unit="job", file=sys.stderr, disable=None)

        def watch() -> None:
            while not self._stop.wait(self.poll_s):
                bar.update(_count_results(sweep_dir, jobs) - bar.n)
            bar.update(_count_results(sweep_dir, jobs) - bar.n)
            bar.close()

        self._stop.clear()
        self._thread = threading.Thread(target=watch, name="sweep-progress", daemon=True)
        self._thread.start()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=5)
        from experiments.summary import find_results, table

        sweep_dir = Path(config.hydra.sweep.dir)
        jobs = sweep_job_dirs(config)
        # This sweep's jobs only: other sweeps may share the directory (python -m experiments.summary shows all).
        results = [r for path, r in find_results(sweep_dir) if _is_ours(path, sweep_dir, jobs)]
        if results:
            print("\n" + table(results))
            print(f"\nrecords and results: {sweep_dir}\nreport: python -m experiments.report {sweep_dir}")
        unfinished = [r for r in results if r.get("llm_failures") or r.get("evolution_llm_failures")]
        if unfinished:
            # A sweep with jobs whose model failed is not finished either (exit 3, like such a job alone).
            print(
                f"\n{len(unfinished)} job(s) have LLM failures and are not finished: run the same command again "
                "to retry them",
                file=sys.stderr,
            )
            raise SystemExit(3)


def _is_ours(job_dir: Path, sweep_dir: Path, jobs: set[str] | None) -> bool:
    return jobs is None or job_dir.relative_to(sweep_dir).as_posix() in jobs


def _count_results(sweep_dir: Path, jobs: set[str] | None) -> int:
    if jobs is not None:
        return sum(1 for name in jobs if (sweep_dir / name / "result.json").exists())
    # Unknown job names: one level down, where the default subdir pattern puts jobs.
    return sum(1 for p in sweep_dir.glob("*/result.json"))
