"""The episode record and the job result: the typed shape of ``episodes.jsonl`` lines and ``result.json``.

Writers build ``EpisodeRecord`` / ``JobResult`` and store ``to_json()``; readers use
``from_json``, which accepts the JSON of every landed version (fields added later get
their defaults), so existing runs still load. The JSON layout is unchanged from the
untyped days: a policy's own data (``Policy.episode_extras``: the ReAct agent's ``llm`` and
``tools_shown``, a scripted solver's ``solver_error``) sits at the top level of a record for
byte-identical files, but in the type it lives in ``extras``, and a policy can never write a
core field (``EpisodeRecord`` refuses the clash).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


class RecordError(ValueError):
    """A record or result that does not have the shape of any landed version."""


@dataclass(frozen=True)
class ToolCallRecord:
    """One tool call of an episode, as the env saw it."""

    tool: str
    args: Any
    ok: bool
    error: str | None


@dataclass
class EpisodeRecord:
    """One episode: deterministic (everything follows from the config and the seed)."""

    task: dict[str, Any]  # envs.tasks.TaskInstance.to_json(): id, world, family, phase, truth, ...
    prompt: str
    policy: str  # the policy's name
    tools_offered: list[str]
    tools_called: list[ToolCallRecord]
    steps: list[dict[str, Any]]  # {action, observation, reward, info} per env step
    n_steps: int
    truncated: bool  # out of steps without an answer
    answer: Any
    grade: dict[str, Any]  # {score, success, detail}
    score: float
    success: bool
    # Set by experiments.run (absent from a bare run_episode record):
    episode: int | None = None  # position in its phase's file
    condition: str | None = None
    seed: int | None = None
    protocol_phase: str | None = None  # train | test, in jobs with a train phase (train_test protocol)
    arm: str | None = None  # L4 diagnostics episodes: the tool set (library | reference | none)
    # The episode ended because the model failed (unreachable, garbage after every retry): not a result.
    llm_failure: str | None = None
    cut_off: bool = False  # the final answer stopped at the output-token limit (graded as it stands)
    extras: dict[str, Any] = field(default_factory=dict)  # the policy's own data (see the module docstring)

    def __post_init__(self) -> None:
        clash = sorted(set(self.extras) & CORE_FIELDS)
        if clash:  # an agent's extras never overwrite what the env measured (success, grade, steps ...)
            raise RecordError(f"policy {self.policy!r} returned episode extras {clash} that are core record fields")

    @property
    def task_id(self) -> str:
        return str(self.task["id"])

    @property
    def llm(self) -> dict[str, Any]:
        """The LLM agent's part (system_prompt, usage, responses, error); {} for other policies."""
        value = self.extras.get("llm")
        return value if isinstance(value, dict) else {}

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "extras":
                out.update(value)
            elif f.name == "tools_called":
                out[f.name] = [dataclasses.asdict(c) for c in value]
            elif not (f.name in _OMITTED_WHEN_UNSET and (value is None or value is False)):
                out[f.name] = value
        return out

    @classmethod
    def from_json(cls, data: Any) -> EpisodeRecord:
        if not isinstance(data, dict):
            raise RecordError(f"an episode record is a JSON object, got {type(data).__name__}")
        missing = sorted(k for k in ("task", "score", "success") if k not in data)
        if missing or not isinstance(data.get("task"), dict) or "id" not in data["task"]:
            raise RecordError(f"episode record without {missing or ['task.id']}: not a record of this project")
        known = {k: data[k] for k in CORE_FIELDS if k in data}
        calls = [
            ToolCallRecord(**{k: c.get(k) for k in ("tool", "args", "ok", "error")})
            for c in data.get("tools_called", [])
        ]
        steps = list(data.get("steps", []))
        return cls(
            **{
                "prompt": "",
                "policy": "",
                "tools_offered": [],
                "n_steps": len(steps),
                "truncated": False,
                "answer": None,
                "grade": {"score": data["score"], "success": data["success"], "detail": {}},
                **known,
                "tools_called": calls,
                "steps": steps,
            },
            extras={k: v for k, v in data.items() if k not in CORE_FIELDS},
        )


CORE_FIELDS = frozenset(f.name for f in dataclasses.fields(EpisodeRecord)) - {"extras"}
# Written only when set: job fields (absent from a bare run_episode record) and the failure flags
# (absent from the records of episodes that had none, and from records of earlier versions).
_OMITTED_WHEN_UNSET = frozenset({"episode", "condition", "seed", "protocol_phase", "arm", "llm_failure", "cut_off"})


@dataclass
class JobResult:
    """result.json: what one job measured, and the config and versions that produced it."""

    world: str
    protocol: str
    condition: str
    seed: int
    split: str
    n_episodes: int
    success_rate: float
    mean_score: float
    by_phase: dict[str, float]
    by_family: dict[str, float]
    by_difficulty: dict[str, float]
    tasks: list[dict[str, Any]]  # {id, success, score} per scored episode, in order
    config: dict[str, Any]  # the resolved config
    config_hash: str  # the plan hash (experiments.run)
    n_families: int = 0
    # LLM conditions (None / 0 for scripted ones):
    llm: str | None = None  # provider
    model: str | None = None
    simulated: bool = False  # answered by the simulated model (in process or behind agents.serve_sim)
    llm_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = 0.0  # None: unknown (a call without a price or usable usage)
    # Episodes whose model failed (not results: excluded from the rates; the job is not finished).
    llm_failures: int = 0
    evolution_llm_failures: int | None = None  # arise: tool-author calls that failed (the job is unfinished)
    # LLM use by role: agent (the scored and train episodes), evolution (the tool author), diagnostics
    # (L4 episodes), and total; each as agents.llm.UsageMeter.to_dict(). llm_calls/tokens/cost above
    # are the agent's (their meaning in every landed version).
    usage: dict[str, dict[str, Any]] | None = None
    cut_off: int | None = None  # LLM conditions: episodes whose final answer stopped at the token limit
    replay: dict[str, Any] | None = None  # the replay cache's mode and hit counts
    # OpenAI-compatible servers: what the job-start check found (agents.llm.server_check.ServerFacts).
    llm_server: dict[str, Any] | None = None
    # Conditions with model-written code (arise, code_agent):
    sandbox: str | None = None  # the isolation that ran it
    # Conditions with an evolved library (arise); None for the others:
    evolution: dict[str, Any] | None = None
    tools_promoted: int | None = None
    candidates: int | None = None
    rejections: dict[str, int] | None = None
    evolution_llm_calls: int | None = None
    evolution_tokens_in: int | None = None
    evolution_tokens_out: int | None = None
    evolution_cost_usd: float | None = None
    diagnostics: dict[str, Any] | None = None  # Tool-Genesis L1-L4 (experiments.downstream.diagnose_job)
    wall_s: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)
    env_spec: Any = None
    skipped: bool = False  # returned for a job an earlier run had finished (never stored)

    @property
    def has_library(self) -> bool:
        """An evolved library (its numbers are meaningful), as opposed to a condition without one."""
        return self.evolution is not None

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for key in _ABSENT_WHEN_NONE:
            if out[key] is None:
                del out[key]
        if not out["skipped"]:
            del out["skipped"]
        return out

    @classmethod
    def from_json(cls, data: Any) -> JobResult:
        if not isinstance(data, dict):
            raise RecordError(f"result.json holds a JSON object, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        required = [
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]  # type: ignore[misc]
        missing = [k for k in required if k not in data]
        if missing:
            raise RecordError(f"result.json without {missing}: not a result of this project")
        if "llm_errors" in data and "llm_failures" not in data:  # its name before failures were not results
            data = {**data, "llm_failures": data["llm_errors"] or 0}
        return cls(**{k: v for k, v in data.items() if k in names})


# Keys result.json has only for the conditions they concern (the layout of every landed version).
_ABSENT_WHEN_NONE = (
    "cut_off", "usage", "evolution_llm_failures", "llm_server",
    "replay", "evolution", "tools_promoted", "candidates", "rejections", "evolution_llm_calls",
    "evolution_tokens_in", "evolution_tokens_out", "evolution_cost_usd", "diagnostics",
)  # fmt: skip
