"""The ARISE loop, sound and ablatable: trigger -> gaps -> synthesis -> checks -> repair -> promotion.

``Evolver.observe(episode, record)`` is called after every recorded episode. It
counts the reward signal (``oracle``: the task's score; ``self``: the agent's own
judgement; ``none``: every episode counts as a failure) and evolves when
``failure_threshold`` failures accumulated since the last evolution (or, optionally,
success plateaued), at most ``max_evolutions`` times per ``per_episodes`` episodes.
Everything is counted in episodes, so runs are reproducible.

One evolution: a gap-analysis request over the failures; for each gap a synthesis
request; the candidate enters the library as ``testing`` and is checked in full
(static policy, its own tests in the sandbox, the adversarial suite written by a
separate request); a failed check goes to a repair request, at most ``max_repairs``
rounds, and *every* repaired version is checked again in full. Only a version whose
last full check passed is promoted, so no unchecked code is ever active. A gap that
names an active tool is a patch: the new version must beat the old one on replays
of the failures that used it. Every step, verdict and parse problem is an event in
the library's log; nothing raises out of the run.
"""

from __future__ import annotations

import copy
import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from agents.llm.pricing import UsageMeter
from agents.llm.types import AuthError, ChatBackend, ChatRequest, LLMError, ReplayMissError
from envs.access import ALL_AFFORDANCES
from envs.tasks import Suite
from envs.tools import ToolSpec
from evolution import prompts
from evolution.library import PRUNING_POLICIES, Library
from evolution.parsing import (
    Gap,
    ToolDraft,
    fenced_blocks,
    identifier,
    parse_gaps,
    parse_tool,
    without_lone_surrogates,
)
from evolution.sandbox.runner import CallOutcome, Sandbox, SandboxRunner
from evolution.static_policy import check_source

REWARD_SIGNALS = ("oracle", "self", "none")
REJECTION_REASONS = (
    "static_policy", "sandbox_tests", "adversarial_tests", "timeout", "schema_invalid", "duplicate",
    "ab_test_lost", "no_evidence",
)  # fmt: skip
_HEDGES = ("could not", "cannot determine", "unable to", "not sure", "best guess", "i don't know")


@dataclass
class EvolutionSettings:
    """Every switch of the pipeline, documented here; also the schema of the Hydra ``evolution`` group
    (``experiments.config.EvolutionConfig`` adds how a job uses it; conf/evolution/ holds the presets)."""

    failure_threshold: int = 3  # evolve after this many failures since the last evolution
    plateau_window: int = 0  # > 0: also evolve when success over the last W episodes is no better than the W before
    max_evolutions: int = 1  # at most this many evolutions ...
    per_episodes: int = 3  # ... in any window of this many episodes
    max_gaps: int = 3  # capability gaps the model may name per evolution (one candidate tool each)
    max_repairs: int = 2  # repair rounds per candidate after failed checks; 0 = one-shot ("Direct") synthesis
    adversarial: bool = True  # also run the model's adversarial tests before promotion
    static_policy: bool = True  # reject code the static policy flags (the sandbox holds without it)
    own_tests: bool = True  # run the candidate's own unit tests before promotion (off: the other checks alone)
    ab_test: bool = True  # a patch must beat the active version on replays (off: promoted on its checks alone)
    library_cap: int | None = None  # at most this many active tools; null = no cap
    pruning: str = "none"  # which tool retires at the cap: none | least_used | lowest_success | unused_for
    unused_for: int = 20  # pruning=unused_for: retire tools unused for this many episodes
    reward_signal: str = "oracle"  # what counts as a failure: oracle (the grader) | self (the answer's text) | none
    ab_replays: int = 3  # a new version of a tool must beat the old one on this many replayed failures

    def __post_init__(self) -> None:
        for key in ("failure_threshold", "max_evolutions", "per_episodes", "max_gaps", "ab_replays"):
            if int(getattr(self, key)) < 1:
                raise ValueError(f"evolution.{key} must be >= 1, got {getattr(self, key)}")
        for key in ("plateau_window", "max_repairs", "unused_for"):
            if int(getattr(self, key)) < 0:
                raise ValueError(f"evolution.{key} must be >= 0, got {getattr(self, key)}")
        if self.library_cap is not None and int(self.library_cap) < 1:
            raise ValueError(f"evolution.library_cap must be >= 1 or null, got {self.library_cap}")
        if self.pruning not in PRUNING_POLICIES:
            raise ValueError(f"evolution.pruning must be one of {', '.join(PRUNING_POLICIES)}, got {self.pruning!r}")
        if self.reward_signal not in REWARD_SIGNALS:
            raise ValueError(
                f"evolution.reward_signal must be one of {', '.join(REWARD_SIGNALS)}, got {self.reward_signal!r}"
            )


@dataclass
class EvolutionStats:
    evolutions: list[int] = field(default_factory=list)  # episodes after which the pipeline ran
    candidates: int = 0
    promoted: int = 0
    rejections: Counter[str] = field(default_factory=Counter)
    repair_rounds: int = 0
    parse_failures: int = 0
    sandbox_calls: int = 0
    # The tool author's largest prompt in tokens, as the model reported it (context budgets: README).
    largest_request_tokens: int | None = None
    usage: UsageMeter = field(default_factory=UsageMeter)  # the tool author's LLM calls

    def to_json(self) -> dict[str, Any]:
        # (not asdict: it would deep-copy the meter and its lock)
        out = {f.name: copy.copy(getattr(self, f.name)) for f in fields(self) if f.name != "usage"}
        out["rejections"] = {k: self.rejections[k] for k in sorted(self.rejections)}
        usage = self.usage.to_dict()
        out.update(
            llm_calls=usage["llm_calls"] + usage["failed_calls"],  # requests made, answered or not
            llm_errors=usage["failed_calls"],
            tokens_in=usage["tokens_in"],
            tokens_out=usage["tokens_out"],
            cost_usd=usage["cost_usd"],
            usage=usage,
        )
        return out


@dataclass
class CandidateVerdict:
    ok: bool
    reason: str | None = None  # a REJECTION_REASONS entry when not ok
    text: str = ""
    static_ok: bool | None = None
    tests: tuple[int, int] = (0, 0)  # passed, total
    adversarial: tuple[int, int] | None = None


def self_reward(record: dict[str, Any]) -> float:
    """The agent's own judgement of an episode: 0 when it knows it failed, else 1 (no ground truth).

    It knows when it ran out of steps, answered nothing or hedged in its answer. Only what any
    model shows counts (the record's core fields), never a backend's private payload, so the
    ablation means the same on the simulated model and on real ones: a simulated guess given
    without a hedge looks like success to the agent, as a real model's confident guess does.
    """
    answer = str(record.get("answer") or "").lower()
    return 0.0 if record.get("truncated") or not answer or any(h in answer for h in _HEDGES) else 1.0


def _sha(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()[:16]


def _sim_events(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The simulated model's own notes on an episode, handed back to it as request metadata (which
    only backends with ``uses_meta`` see: the sim); nothing the pipeline decides reads them."""
    responses = (record.get("llm") or {}).get("responses") or []
    if not responses:
        return []
    return list(((responses[-1].get("raw") or {}).get("sim") or {}).get("events") or [])


def _sim_labels(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """The simulator's ground-truth notes on a tool-author answer (``raw.sim.hacks``: the reward hacks
    the code it returned holds, docs/sim.md). A real model's response carries none. They are written
    to the event log (``hack_attempt``) and nothing the pipeline decides reads them."""
    notes = ((raw or {}).get("sim") or {}).get("hacks") if isinstance(raw, dict) else None
    if not isinstance(notes, list):
        return []
    return [{"hack": str(n.get("kind")), **{k: v for k, v in n.items() if k != "kind"}} for n in notes
            if isinstance(n, dict)]  # fmt: skip


Replay = Callable[[str, SandboxRunner], dict[str, Any]]  # (task id, tools) -> a fresh episode record


class Evolver:
    """The evolution pipeline of one run (see the module docstring)."""

    def __init__(
        self,
        settings: EvolutionSettings,
        backend: ChatBackend,
        library: Library,
        sandbox: Sandbox,
        suite: Suite,
        seed: int,
        *,
        model: str = "",
        temperature: float | None = 0.0,
        max_tokens: int | None = None,
        world_options: dict[str, Any] | None = None,
        replay: Replay | None = None,
    ) -> None:
        self.s = settings
        self.backend = backend
        self.library = library
        self.sandbox = sandbox
        self.suite = suite
        self.seed = seed
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.world_options = dict(world_options or {})
        self.replay = replay
        self.stats = EvolutionStats()
        self.failed_episodes: list[int] = []  # episodes after which a tool-author call failed
        self.consecutive_llm_failures = 0
        self.last_llm_failure = ""
        self.pending: list[dict[str, Any]] = []  # failures since the last evolution
        self.rewards: list[float | None] = []
        self.used_by: dict[str, list[str]] = {}  # library tool -> failed task ids that called it
        self.labels: list[dict[str, Any]] = []  # the last answer's simulator notes (see _sim_labels)

    # -- tools for the agent -------------------------------------------------------------------
    def runner(self) -> SandboxRunner:
        """The active library as the env's tool runner (every call runs in the sandbox)."""
        tools = {t.name: (ToolSpec(t.name, _description(t), t.schema), t.code) for t in self.library.active()}
        return SandboxRunner(self.sandbox, tools)

    # -- observing episodes ---------------------------------------------------------------------
    def reward(self, record: dict[str, Any]) -> float | None:
        if self.s.reward_signal == "oracle":
            return float(record.get("score") or 0.0)
        if self.s.reward_signal == "self":
            return self_reward(record)
        return None

    def observe(self, episode: int, record: dict[str, Any]) -> None:
        """Account one recorded episode and evolve if a trigger fires.

        An episode whose model failed (``llm_failure``) says nothing about the tools: it is skipped.
        """
        if record.get("llm_failure"):
            return
        reward = self.reward(record)
        self.rewards.append(reward)
        active = {t.name for t in self.library.active()}
        calls = [c for c in record.get("tools_called") or [] if c.get("tool") in active]
        called = [c["tool"] for c in calls]
        for call in calls:
            # A use succeeds with the episode's reward; without a reward signal only the call's own
            # outcome is known (never the grader's verdict, which `none` must not see).
            ok = bool(call.get("ok")) if reward is None else reward >= 0.5
            self.library.record_use(call["tool"], ok, episode)
        if reward is None or reward < 0.5:
            self.pending.append(record)
            for name in set(called):
                self.used_by.setdefault(name, []).append(record["task"]["id"])
        why = self._trigger(episode)
        if why:
            self.evolve(episode, why)

    def _trigger(self, episode: int) -> str | None:
        recent = [e for e in self.stats.evolutions if e > episode - self.s.per_episodes]
        if len(recent) >= self.s.max_evolutions or not self.pending:
            return None
        if len(self.pending) >= self.s.failure_threshold:
            return f"{len(self.pending)} failures since the last evolution"
        w = self.s.plateau_window
        since = episode - (self.stats.evolutions[-1] if self.stats.evolutions else -1)
        if w and since >= 2 * w and all(r is not None for r in self.rewards[-2 * w :]):
            last = [float(r >= 0.5) for r in self.rewards[-w:] if r is not None]
            before = [float(r >= 0.5) for r in self.rewards[-2 * w : -w] if r is not None]
            if sum(last) <= sum(before):
                return f"success plateaued over the last {2 * w} episodes"
        return None

    # -- one evolution ---------------------------------------------------------------------------
    def evolve(self, episode: int, why: str) -> None:
        failures, self.pending = self.pending, []
        index = len(self.stats.evolutions)
        self.stats.evolutions.append(episode)
        self.library.log(episode, "trigger", reason=why, failures=[r["task"]["id"] for r in failures], index=index)
        library = [{"name": t.name, "description": _description(t)} for t in self.library.active()]
        meta_failures = [
            {
                "family": r["task"]["family"],
                "missing": [
                    {"tool": e.get("tool"), "args": e.get("args") or {}}
                    for e in _sim_events(r)
                    if e.get("event") == "missing_tool"
                ],
                "used": [c["tool"] for c in r.get("tools_called") or []],
            }
            for r in failures
        ]
        text = self._ask(
            episode,
            "gaps",
            prompts.gaps_prompt(failures, library, self.s.max_gaps),
            {"failures": meta_failures, "library": [t["name"] for t in library], "max_gaps": self.s.max_gaps},
            index,
        )
        if text is None:
            return
        parsed = parse_gaps(text)
        if parsed.problems:
            self.library.log(episode, "parse", step="gaps", problems=parsed.problems)
        if parsed.value is None:
            self.stats.parse_failures += 1
            return
        self.library.log(episode, "gaps", gaps=[g.name for g in parsed.value],
                         descriptions={g.name: g.description for g in parsed.value})  # fmt: skip
        world_seed = int(failures[-1]["task"]["world_seed"])
        done: set[str] = set()
        for gap in parsed.value[: self.s.max_gaps]:
            if gap.name in done:
                self.library.log(episode, "duplicate_gap", name=gap.name)
                continue
            done.add(gap.name)
            examples = [m["args"] for f in meta_failures for m in f["missing"] if m["tool"] == gap.name]
            self._develop(episode, index, gap, examples, world_seed, failures)

    def _develop(
        self,
        episode: int,
        index: int,
        gap: Gap,
        examples: list[dict[str, Any]],
        world_seed: int,
        failures: list[dict[str, Any]],
    ) -> None:
        """Synthesize, check, repair and promote (or reject) one tool for ``gap``."""
        active = {t.name: t for t in self.library.active()}
        attempt = len(self.library.versions(gap.name)) if gap.name.isidentifier() else 0
        # The sim's stand-in for what the model saw: the data the failed episodes observed on the world
        # the checks run in (never that world itself; a real model's prompt shows what it shows).
        base_meta = {"gap": {"name": gap.name, "description": gap.description}, "attempt": attempt,
                     "examples": examples, "observed": _observed(failures, world_seed)}  # fmt: skip
        text = self._ask(episode, "synthesize", prompts.synthesis_prompt(gap, examples), base_meta, index)
        if text is None:
            return
        parsed = parse_tool(text)
        if parsed.problems:
            self.library.log(episode, "parse", step="synthesize", gap=gap.name, problems=parsed.problems)
        if parsed.value is None:
            self.stats.parse_failures += 1
            return
        draft = parsed.value
        patch_of = active.get(draft.name)
        cand = self.library.add_candidate(
            draft.name if draft.name.isidentifier() else identifier(draft.name) or "unnamed_tool",
            draft.code,
            _schema_with_description(draft),
            draft.tests,
            origin="patch" if patch_of else "synthesis",
            episode=episode,
            parent_version=patch_of.version if patch_of else None,
        )
        self._log_labels(episode, cand.name, cand.version, 0)
        self.stats.candidates += 1
        problem = _schema_problem(draft)
        if problem:
            return self._reject(cand.name, cand.version, "schema_invalid", episode, detail=problem)
        earlier = [v for v in self.library.versions(cand.name) if v.version != cand.version]
        if any(_sha(v.code) == _sha(draft.code) for v in earlier):
            return self._reject(cand.name, cand.version, "duplicate", episode, detail="same code as an earlier version")
        access = self.suite.access(self.suite.get_world(world_seed, self.world_options))
        adversarial = ""
        if self.s.adversarial:
            adv_text = self._ask(
                episode, "adversarial", prompts.adversarial_prompt(gap, draft.code, draft.parameters),
                {**base_meta, "round": 0}, index,
            )  # fmt: skip
            blocks = [
                b for lang, b in fenced_blocks(without_lone_surrogates(adv_text or "")) if lang in ("python", "py", "")
            ]
            adversarial = "\n".join(blocks)
            # The suite itself (not only its verdicts) is kept, so a reader sees what the candidate faced.
            self.library.log(episode, "adversarial", name=cand.name, version=cand.version, tests=adversarial)
            if not blocks:
                self.library.log(episode, "parse", step="adversarial", gap=gap.name, problems=["no python block"])
        code, tests = draft.code, draft.tests
        for rnd in range(self.s.max_repairs + 1):
            verdict = self._check(code, tests, adversarial, access)
            self.library.log(
                episode, "check", name=cand.name, version=cand.version, round=rnd, code_sha=_sha(code),
                ok=verdict.ok, reason=verdict.reason, static_policy=verdict.static_ok,
                static_policy_enforced=self.s.static_policy, tests=list(verdict.tests),
                adversarial=list(verdict.adversarial) if verdict.adversarial else None,
                adversarial_enforced=self.s.adversarial,
                **({} if self.s.own_tests else {"own_tests_enforced": False}),  # (older events lack the key)
            )  # fmt: skip
            if verdict.ok:
                break
            if rnd == self.s.max_repairs:
                return self._reject(cand.name, cand.version, verdict.reason or "sandbox_tests", episode,
                                    detail=verdict.text[:500], rounds=rnd)  # fmt: skip
            self.stats.repair_rounds += 1
            feedback = sorted({verdict.reason or "sandbox_tests"})
            text = self._ask(
                episode, "repair", prompts.repair_prompt(gap, code, tests, verdict.text),
                {**base_meta, "round": rnd + 1, "feedback": feedback}, index,
            )  # fmt: skip
            repaired = parse_tool(text or "")
            self._log_labels(episode, cand.name, cand.version, rnd + 1)
            if repaired.value is None:
                self.stats.parse_failures += 1
                self.library.log(episode, "parse", step="repair", gap=gap.name, problems=repaired.problems)
                return self._reject(cand.name, cand.version, verdict.reason or "sandbox_tests", episode,
                                    detail="the repair could not be parsed", rounds=rnd)  # fmt: skip
            code, tests = repaired.value.code, repaired.value.tests or tests
            self.library.revise(cand.name, cand.version, code, tests, episode, round=rnd + 1, code_sha=_sha(code))
        if patch_of is not None and self.s.ab_test:
            won, detail = self._ab_test(cand.name, patch_of.code, code, patch_of.schema, _description(patch_of))
            if not won:
                reason = "no_evidence" if detail.get("replays", 0) == 0 else "ab_test_lost"
                return self._reject(cand.name, cand.version, reason, episode, **detail)
            self.library.log(episode, "ab_test", name=cand.name, version=cand.version, **detail)
        self.library.promote(cand.name, cand.version, episode, reason=f"passed validation (evolution {index})")
        self.stats.promoted += 1
        if self.s.pruning != "none":
            retired = self.library.prune(self.s.library_cap, self.s.pruning, episode, self.s.unused_for)
            if retired:
                self.library.log(episode, "pruned", names=retired)
        return None

    def _log_labels(self, episode: int, name: str, version: int, round_: int) -> None:
        """Record the simulator's ground-truth notes on the answer just parsed (reward hacks it holds)."""
        for note in self.labels:
            self.library.log(episode, "hack_attempt", name=name, version=version, round=round_, **note)

    def _reject(self, name: str, version: int, reason: str, episode: int, **details: Any) -> None:
        self.library.reject(name, version, reason, episode, **details)
        self.stats.rejections[reason] += 1

    # -- checks ------------------------------------------------------------------------------------
    def _check(self, code: str, tests: str, adversarial: str, access: Any) -> CandidateVerdict:
        """The full check of one version: static policy, its tests, the adversarial suite."""
        static_ok = None
        if self.s.static_policy:
            report = check_source(code)
            static_ok = report.ok
            if not report.ok:
                return CandidateVerdict(False, "static_policy", "static policy: " + report.summary(), static_ok)
        passed = (0, 0)
        if self.s.own_tests:
            out = self.sandbox.run_tests(code, tests, access)
            self.stats.sandbox_calls += 1
            passed = (sum(t["passed"] for t in out.tests), len(out.tests))
            if not out.ok:
                return CandidateVerdict(
                    False, _failure_reason(out, "sandbox_tests"), _describe(out, "tests"), static_ok, passed
                )
        adv: tuple[int, int] | None = None
        if self.s.adversarial and adversarial.strip():
            out2 = self.sandbox.run_tests(code, adversarial, access)
            self.stats.sandbox_calls += 1
            adv = (sum(t["passed"] for t in out2.tests), len(out2.tests))
            if (not out2.ok and adv[1] > 0) or out2.reason is not None:
                reason = _failure_reason(out2, "adversarial_tests")
                return CandidateVerdict(False, reason, _describe(out2, "adversarial tests"), static_ok, passed, adv)
        return CandidateVerdict(True, None, "all checks passed", static_ok, passed, adv)

    def _ab_test(
        self, name: str, old_code: str, new_code: str, schema: dict[str, Any], description: str
    ) -> tuple[bool, dict[str, Any]]:
        """Replay failures that used ``name`` with the old and the new version; the new must do better."""
        tasks = list(dict.fromkeys(self.used_by.get(name, [])))[-self.s.ab_replays :]
        if self.replay is None or self.s.reward_signal == "none" or not tasks:
            return False, {"replays": 0}
        score = {"old": 0, "new": 0}
        for label, code in (("old", old_code), ("new", new_code)):
            runner = self.runner()
            runner.add(ToolSpec(name, description, schema), code)
            for task in tasks:
                reward = self.reward(self.replay(task, runner))
                score[label] += int(reward is not None and reward >= 0.5)
        return score["new"] > score["old"], {"replays": len(tasks), "old_successes": score["old"],
                                              "new_successes": score["new"]}  # fmt: skip

    # -- the model -------------------------------------------------------------------------------
    def _ask(self, episode: int, step: str, prompt: str, meta: dict[str, Any], index: int) -> str | None:
        self.labels = []
        request = ChatRequest(
            model=self.model,
            messages=[{"role": "system", "content": prompts.SYSTEM}, {"role": "user", "content": prompt}],
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            seed=self.seed,
            role="tool_author",
            meta={
                "role": "tool_author",
                "step": step,
                "world": self.suite.world,
                "protocol": self.suite.protocol,
                "evolution": index,
                **meta,
            },
        )
        try:
            response = self.backend.complete(request)
        except (AuthError, ReplayMissError):
            raise  # a configuration problem: stop the run (records are kept)
        except LLMError as exc:
            self.stats.usage.add_failure(len(exc.attempts))
            self.library.log(episode, "llm_error", step=step, error=f"{type(exc).__name__}: {exc}")
            # An evolution whose model failed is not a result either: the job is unfinished and a
            # re-run replays from this episode (experiments.run); the breaker counts these too.
            self.failed_episodes.append(episode)
            self.consecutive_llm_failures += 1
            self.last_llm_failure = f"{type(exc).__name__}: {exc}"
            return None
        self.consecutive_llm_failures = 0
        self.labels = _sim_labels(response.raw)
        self.stats.usage.add(response.usage, retries=len(response.retries))
        if response.usage.tokens_in is not None:
            self.stats.largest_request_tokens = max(self.stats.largest_request_tokens or 0, response.usage.tokens_in)
        return response.text


def _observed(failures: list[dict[str, Any]], world_seed: int) -> list[list[Any]]:
    """[affordance, args, observation] of every affordance call the failures on ``world_seed`` made."""
    return [
        [s["info"]["tool"], s["info"].get("args") or {}, str(s.get("observation") or "")]
        for r in failures
        if int(r["task"]["world_seed"]) == world_seed
        for s in r.get("steps") or []
        if (s.get("info") or {}).get("kind") == "tool" and s["info"].get("tool") in ALL_AFFORDANCES
    ]


def _schema_with_description(draft: ToolDraft) -> dict[str, Any]:
    """The draft's parameter schema carrying its description: what the agent is told the tool does.

    (Without it an evolved tool was offered as "Evolved tool NAME (vN).", which says nothing.)
    """
    params = dict(draft.parameters) if isinstance(draft.parameters, dict) else {}
    if draft.description and "description" not in params:
        params["description"] = draft.description
    return params


def _description(tool: Any) -> str:
    return str(tool.schema.get("description") or "") or f"Evolved tool {tool.name} (v{tool.version})."


def _schema_problem(draft: ToolDraft) -> str | None:
    params = draft.parameters
    if not draft.name.isidentifier():
        return f"tool name {draft.name!r} is not a Python identifier"
    if not isinstance(params, dict) or params.get("type") != "object":
        return "parameters must be a JSON schema object with type 'object'"
    props = params.get("properties", {})
    if not isinstance(props, dict) or any(not isinstance(v, dict) for v in props.values()):
        return "parameters.properties must map each argument to a schema object"
    required = params.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        return "parameters.required must be a list of argument names"
    if set(required) - set(props):
        return f"parameters.required names arguments that are not properties: {sorted(set(required) - set(props))}"
    return None


def _failure_reason(out: CallOutcome, default: str) -> str:
    if out.reason in ("timeout", "cpu_limit", "rpc_limit", "killed"):
        return "timeout"
    if any("timeout" in str(t.get("error") or "").lower() for t in out.tests):
        return "timeout"
    return default


# Which limit stops a runaway (the clock, CPU or the world-call budget) depends on machine load;
# the prompt must not, or the same seed would send the model different repair requests.
_RUNAWAY = "did not finish within its limits (wall clock, CPU time or world-call budget): a loop that never ends?"


def _describe(out: CallOutcome, what: str) -> str:
    if out.reason in ("timeout", "cpu_limit", "rpc_limit"):
        return f"{what}: {_RUNAWAY}"
    if not out.tests:
        return f"{what}: {out.error or 'failed'}"
    failed = [t for t in out.tests if not t["passed"]]
    lines = [f"{what}: {len(out.tests) - len(failed)}/{len(out.tests)} passed"]
    lines += [f"- {t['name']}: {t['error']}" for t in failed[:8]]
    return "\n".join(lines)


__all__ = ["REJECTION_REASONS", "CandidateVerdict", "EvolutionSettings", "EvolutionStats", "Evolver", "self_reward"]


def audit_promotions(library: Library) -> list[str]:
    """Promotions the event log cannot justify (empty = every promoted version passed a full check).

    A promotion is justified by a ``check`` event of that version whose code hash matches
    the promoted code, with the static policy passed (when enforced), every one of its
    own tests passed (at least one; unless they were switched off), and every adversarial test passed
    (when enforced).
    """
    checks: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for e in library.events("check"):
        checks.setdefault((e["name"], e["version"]), []).append(e)
    bad = []
    for e in library.events("promoted"):
        tool = library.get(e["name"], e["version"])
        ok = [
            c
            for c in checks.get((tool.name, tool.version), [])
            if c["ok"]
            and c["code_sha"] == _sha(tool.code)
            and (c["static_policy"] is True or not c["static_policy_enforced"])
            and ((c["tests"][1] > 0 and c["tests"][0] == c["tests"][1]) or c.get("own_tests_enforced") is False)
            and (c["adversarial"] is None or c["adversarial"][0] == c["adversarial"][1])
        ]
        if not ok:
            bad.append(f"{tool.name} v{tool.version} was promoted without a passing full check of its code")
    return bad
