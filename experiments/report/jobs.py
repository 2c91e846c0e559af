"""The jobs of a sweep: each job directory's result.json and episode records, loaded once."""

from __future__ import annotations

import functools
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from experiments.arms import arm_labels
from experiments.records import JobResult
from experiments.summary import find_results


@dataclass
class Job:
    """One job directory of a sweep: its result and its episode records."""

    path: Path
    result: dict[str, Any]
    records: list[dict[str, Any]]  # the episodes that are results (in plan order)
    # Episodes whose model failed: not results, so no table scores them; the tables count them.
    llm_failures: list[dict[str, Any]] = field(default_factory=list)
    # The row name: the condition, with every config value that tells it from other jobs of the same
    # world/protocol/condition/model (experiments.arms); set by load_jobs.
    arm: str = ""

    @functools.cached_property
    def has_library(self) -> bool:
        """An evolved library (arise), as opposed to a condition without one."""
        return JobResult.from_json(self.result).has_library

    @property
    def world(self) -> str:
        return str(self.result["world"])

    @property
    def protocol(self) -> str:
        return str(self.result["protocol"])

    @property
    def seed(self) -> int:
        return int(self.result["seed"])

    @property
    def condition(self) -> str:
        return str(self.result["condition"])

    @property
    def evolution(self) -> str | None:
        """The evolution preset of a library job (None for conditions without a library)."""
        if not self.has_library:
            return None
        return str((self.result.get("config") or {}).get("evolution", {}).get("name") or "default")

    @property
    def label(self) -> str:
        """The row name: the job's arm (the condition, and what else tells it from its neighbours)."""
        return self.arm or self.condition

    @property
    def llm(self) -> bool:
        return bool(self.result.get("llm"))

    @property
    def profile(self) -> str:
        return str(self.result.get("model") or "-") if self.llm else "-"

    @property
    def simulated(self) -> bool:
        return bool(self.result.get("simulated"))

    @property
    def model(self) -> str:
        return f"{self.profile} (sim)" if self.simulated else self.profile


def load_jobs(dirs: Iterable[Path], progress: bool = True, with_records: bool = True) -> list[Job]:
    """Every job below ``dirs`` (each once), with its episode records, in a fixed order.

    ``with_records=False`` reads only the results (``records`` stay empty): a cheap scan for readers
    that stream each job's ``episodes.jsonl`` themselves (the viewer), with the same jobs, order and arms."""
    found = find_results(*dirs)
    jobs = []
    for path, result in tqdm(
        found, desc="reading jobs", unit="job", disable=None if progress else True, file=sys.stderr
    ):
        episodes = path / "episodes.jsonl"
        records: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        if with_records and episodes.exists():
            for line in episodes.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    record = json.loads(line)
                    (failures if record.get("llm_failure") else records).append(record)
        if with_records and len(records) != result.get("n_episodes"):
            print(
                f"warning: {path}: {len(records)} records for n_episodes={result.get('n_episodes')}; "
                "the job is incomplete or was edited (using result.json's task outcomes)",
                file=sys.stderr,
            )
        jobs.append(Job(path, result, records, failures))
    for job, arm in zip(jobs, arm_labels([j.result for j in jobs])):
        job.arm = arm
    jobs.sort(key=lambda j: (j.world, j.protocol, j.condition, j.arm, j.seed, str(j.path)))
    return jobs


def group_by(jobs: list[Job], key: Callable[[Job], Any]) -> dict[Any, list[Job]]:
    out: dict[Any, list[Job]] = defaultdict(list)
    for j in jobs:
        out[key(j)].append(j)
    return dict(out)
