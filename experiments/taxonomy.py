"""Classify failed episode records into the ARISE paper's error taxonomy (Table 5).

The paper sorts 30 failures into five categories (37% / 23% / 17% / 13% / 10%)::

    incorrect_invocation  Incorrect tool invocation         a relevant tool was called wrongly: bad arguments,
                                                            an error never recovered from, a tool in its place
    not_called            Tool exists but not called        a tool that solves the task was offered, unused
    missing_tool          Missing tool                      no offered tool fits: done by hand, or given up
    wrong_reasoning       Correct call but wrong reasoning  the needed calls succeeded, the answer is wrong
    grader_strictness     Grader strictness                 the answer is right in substance, the grader
                                                            rejected it

``classify(record)`` reads only what an episode record holds (``task``, ``prompt``,
``tools_shown``/``tools_offered``, ``steps``/``tools_called``, ``answer``, ``grade``,
``truncated``, ``llm.error``), never simulator internals (``raw.sim.events`` is not read),
so it applies to real models as well as to the simulated one. ``taxonomy(records)`` counts
the failures per category. ``python -m experiments.taxonomy <job dirs>`` prints a table.

Relevant tools: the oracle plan
-------------------------------
Each task family has a scripted solver (``TaskFamily.solve``) that reaches the answer
with the world's reference tools. ``oracle_plan(record)`` rebuilds the instance from
``record["task"]`` (world seed, options, family, params: no instance lookup, no truth
recomputation), drives the solver against that world through the reference tools and
affordances by ``envs.oracle.trace_oracle``, and keeps every call with the
output it got. Those are the record's *needed calls*; their tools (affordances included:
arise_v1 plans call ``http_get`` for the metrics API) are the *needed tools*. Plans are
cached per instance (about 10 ms each, one world build per new world).

The tools the agent could call are ``tools_shown`` (what the model saw after adaptive
injection) when the record has it, else ``tools_offered``. A needed tool is *shown*
when a shown tool has its name (reference tools, library tools the evolution pipeline
named after them, affordances), or, failing that, when a shown tool whose name the world
does not know (not a reference tool, not an affordance, not ``run_python``: an evolved
tool with a name of its own) resembles it: ``difflib`` ratio >= 0.8 or the same set of
``_``-separated words. Reference names never stand for each other (``log_count`` is not
``log_group_count``, ratio 0.75): they are different capabilities.

An ``ok`` agent call *makes* a needed call when it has the same arguments (JSON values
compared by value, strings trimmed, an omitted argument equal to its default), or, if
its arguments match no needed call, when it returned the same output as the needed call
closest to it in arguments (equivalent arguments spelt another way). A ``run_python``
snippet makes a needed call of a tool that is not shown when it returned that tool's
output. Arguments of a look-alike library tool are not judged (its signature is its own).

The decision list (the first rule that fires wins)
--------------------------------------------------
0. ``record["success"]``: ``ValueError`` (only failures are classified).
   ``record["llm_failure"]``: ``llm_failure`` (rule L), a class of its own: the model could not be
   reached or answered garbage, so the episode is not a result and says nothing about the agent.
1. grader_strictness, only on the grader's own evidence:
   a. *S-rewrite*: a meaning-preserving respelling of the answer passes the record's own
      comparator (rebuilt from the family and params, graded against the recorded truth).
      Free text (arise_v1): a truth value written in another letter case (whole word),
      with thousands separators or trailing zeros, as a percentage, rounded to >= 1
      decimal within 0.1% of a non-integer truth, or an ISO-8601 time equal to an epoch
      truth, respelt as the grader spells it. Typed answers (rigorous): a string equal
      to the truth up to case and whitespace, the one number in a string ("152 entries"),
      a one-element list or one-key object around a scalar. Stated tolerances are never
      widened: "outside tolerance", off-by-one and missing items stay wrong answers.
   b. *S-oracle*: the grader rejects the reference solution's own answer on this
      instance and the agent gave that same answer (arise_v1 log tasks 1-5 show 100 lines
      and grade on 500: the right answer for what the prompt shows is rejected).
   Without such evidence the category is never used.
2. Walk the needed calls in plan order; the first one not made right decides (a later
   break is a consequence: an agent that spent its steps doing a missing tool's work by
   hand never reaches the next call). For needed call ``T(args)``:
   a. made with the plan's arguments, but the shown ``T`` returned something else than the
      reference tool (an evolved tool with a bug) -> missing_tool, *M-faulty*: no
      offered tool does the job.
   b. ``T`` not shown -> incorrect_invocation (*I-error*) when ``run_python`` snippets
      written in its place errored and never ran after (code_agent); else
      missing_tool (*M-absent*: no_evolution, arise_v1 without tools, a library lacking
      it, an injection that left it out).
   c. ``T`` errored and was never called successfully afterwards -> incorrect_invocation
      (*I-error*, the reason quotes the error).
   d. ``T`` was called successfully, but only with arguments that make no needed call
      -> incorrect_invocation (*I-args*, the reason names the argument and the value the
      plan used).
   e. ``T`` was never called successfully, and the agent called another tool (not an
      affordance) that makes no needed call, a sibling preferred (same name word), or a
      name not on offer -> incorrect_invocation (*I-wrong-tool*). An errored call of such
      a tool directly followed by a successful call of a shown needed tool was recovered
      from and does not count.
   f. otherwise -> not_called (*N*): ``T`` was never called, or was called for other
      inputs but never for this one (an agent that does some calls by hand or stops
      part-way through a multi-call plan).
3. Every needed call was made right, or the plan needs none (arise_v1 DataCorp csv and
   query tasks paste their data inline) -> wrong_reasoning (*W*); truncation and LLM
   errors are named in the reason.

Conditions: ``no_evolution`` fails as missing_tool (its plans need reference tools it is
not offered) unless a needed affordance was misused (``http_get`` in arise_v1 DataCorp
validation tasks) or nothing was needed; ``fixed_tools`` and ``arise`` exercise every
rule; ``code_agent``'s ``run_python`` stands in for the tools it lacks (2b).

Without a plan (an unknown suite, a solver that fails) the shown non-affordance tools
stand in for the needed ones: an unrecovered error on one is incorrect_invocation, none
shown is missing_tool, none called is not_called, else wrong_reasoning ("plan unknown"
in the reason).

``FailureClassification.rule`` holds the rule id (``S-rewrite``, ``S-oracle``, ``M-faulty``, ``M-absent``,
``I-error``, ``I-args``, ``I-wrong-tool``, ``N``, ``W``) for finer tables.
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import json
import math
import re
import sys
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envs.access import ALL_AFFORDANCES

CATEGORIES: tuple[str, ...] = (
    "incorrect_invocation",
    "not_called",
    "missing_tool",
    "wrong_reasoning",
    "grader_strictness",
)
# Its own class, outside the paper's five: the episode's model could not be reached or answered
# garbage after every retry (``record["llm_failure"]``). Not an agent failure, and not a result.
LLM_FAILURE = "llm_failure"
ALL_CATEGORIES: tuple[str, ...] = (*CATEGORIES, LLM_FAILURE)
LABELS: dict[str, str] = {
    LLM_FAILURE: "LLM failure (not a result)",
    "incorrect_invocation": "Incorrect tool invocation",
    "not_called": "Tool exists but not called",
    "missing_tool": "Missing tool",
    "wrong_reasoning": "Correct call but wrong reasoning",
    "grader_strictness": "Grader strictness",
}
# The paper's shares over its 30 analysed failures (Table 5), for side-by-side tables.
PAPER_SHARES: dict[str, float] = {
    "incorrect_invocation": 0.37,
    "not_called": 0.23,
    "missing_tool": 0.17,
    "wrong_reasoning": 0.13,
    "grader_strictness": 0.10,
}

AFFORDANCES: frozenset[str] = frozenset(ALL_AFFORDANCES)
RUN_PYTHON = "run_python"
FUZZY_RATIO = 0.8  # difflib ratio above which an unknown (library) tool name stands for a needed tool


@dataclass(frozen=True)
class FailureClassification:
    """Why one failed episode failed: a category of ``CATEGORIES``, a one-line reason, the rule id."""

    category: str
    reason: str
    rule: str = ""

    @property
    def label(self) -> str:
        return LABELS[self.category]


@dataclass(frozen=True)
class PlannedCall:
    """One call of the oracle plan: tool, arguments, and the output it returned (None: it errored)."""

    tool: str
    args: dict[str, Any]
    output: str | None = None


@dataclass(frozen=True)
class OraclePlan:
    """What the reference solution of one task instance does.

    ``defaults`` maps tool names to their parameters' defaults (an omitted argument equal
    to its default is the same call); ``known_tools`` are the world's reference tool names
    (never fuzzy-matched to each other); ``answer_success`` is the grader's verdict on the
    oracle's own answer (None when unknown).
    """

    calls: tuple[PlannedCall, ...]
    answer: Any = None
    answer_success: bool | None = None
    known_tools: frozenset[str] = frozenset()
    defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def tools(self) -> tuple[str, ...]:
        """Needed tool names, in first-use order."""
        return tuple(dict.fromkeys(c.tool for c in self.calls))


@dataclass(frozen=True)
class _Call:
    index: int
    tool: str
    args: dict[str, Any]
    ok: bool
    error: str | None
    output: str | None


# =============================================================================
# Oracle plans
# =============================================================================
_PLANS: OrderedDict[str, OraclePlan | None] = OrderedDict()
_PLAN_CACHE_SIZE = 4096


def _plan_key(task: Mapping[str, Any]) -> str:
    keys = ("world", "protocol", "world_seed", "options", "family", "params", "truth")
    return json.dumps([task.get(k) for k in keys], sort_keys=True, default=str)


def oracle_plan(record: Mapping[str, Any]) -> OraclePlan | None:
    """The oracle plan of a record's task instance (cached), or None when it cannot be computed.

    The instance is rebuilt from ``record["task"]`` (world seed, options, family, params)
    and the family's solver is driven against that world through the reference tools and
    affordances by ``envs.oracle.trace_oracle``, keeping each call's output.
    """
    task = record.get("task") or {}
    key = _plan_key(task)
    if key in _PLANS:
        _PLANS.move_to_end(key)
        return _PLANS[key]
    try:
        plan: OraclePlan | None = _compute_plan(task)
    except Exception:  # an unknown suite or family, a solver that chokes: no plan
        plan = None
    _PLANS[key] = plan
    while len(_PLANS) > _PLAN_CACHE_SIZE:
        _PLANS.popitem(last=False)
    return plan


def _compute_plan(task: Mapping[str, Any]) -> OraclePlan:
    from envs.access import ALL_AFFORDANCES, WorldAccess
    from envs.affordances import Affordances
    from envs.grading import grade_answer
    from envs.oracle import trace_oracle
    from envs.tasks import get_suite
    from envs.tools import InProcessRunner

    suite = get_suite(str(task["world"]), str(task["protocol"]))
    family = suite.family(str(task["family"]))
    params = dict(task.get("params") or {})
    runner = InProcessRunner.of(suite.reference_tools())
    defaults: dict[str, dict[str, Any]] = {}
    world = suite.get_world(int(task["world_seed"]), dict(task.get("options") or {}))
    for spec in [*runner.specs(), *Affordances(WorldAccess(world)).specs(ALL_AFFORDANCES)]:
        props = spec.parameters.get("properties", {})
        defaults[spec.name] = {k: v["default"] for k, v in props.items() if "default" in v}
    trace = trace_oracle(
        suite, family.name, int(task["world_seed"]), params, dict(task.get("options") or {}), runner, max_calls=200
    )
    calls = [PlannedCall(s.call.tool, dict(s.call.args), s.output) for s in trace.steps]
    answer = trace.answer
    success: bool | None = None
    try:
        comparator = family.comparator(params)
        success = grade_answer(answer, task.get("truth"), comparator, family.answer_schema).success
    except Exception:
        success = None
    return OraclePlan(
        calls=tuple(calls),
        answer=answer,
        answer_success=success,
        known_tools=frozenset(spec.name for spec in runner.specs()),
        defaults=defaults,
    )


# =============================================================================
# Matching calls
# =============================================================================
def _words(name: str) -> set[str]:
    return {w for w in re.split(r"[_\W]+", name.lower()) if w}


def _resembles(a: str, b: str) -> bool:
    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio() >= FUZZY_RATIO or _words(a) == _words(b)


def _norm(value: Any) -> Any:
    """JSON value in a comparable form: numbers by value, strings trimmed, containers recursively."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, Mapping):
        return {str(k): _norm(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_norm(v) for v in value]
    return str(value)


def _args_diff(agent: Mapping[str, Any], planned: Mapping[str, Any], defaults: Mapping[str, Any]) -> list[str]:
    """Argument names whose values differ (an omitted argument takes its default)."""
    out = []
    for key in sorted(set(agent) | set(planned)):
        a = agent[key] if key in agent else defaults.get(key)
        p = planned[key] if key in planned else defaults.get(key)
        if _norm(a) != _norm(p):
            out.append(key)
    return out


def _common_prefix(a: str, b: str) -> int:
    """Length of the longest common prefix of two strings."""
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def _closeness(agent: Mapping[str, Any], planned: Mapping[str, Any], defaults: Mapping[str, Any]) -> tuple[int, int]:
    """How close two argument sets are: fewer differing arguments, then a longer common JSON prefix."""
    a = json.dumps(_norm(agent), sort_keys=True, default=str)
    b = json.dumps(_norm(planned), sort_keys=True, default=str)
    prefix = _common_prefix(a, b)
    return -len(_args_diff(agent, planned, defaults)), prefix


_TRUNC = re.compile(r"\n\.\.\.\[truncated (\d+) characters\]$")
_CUT = re.compile(r"\.\.\. \[(\d+) chars cut\]$")


def _same_output(observed: str | None, reference: str | None) -> bool:
    """Same tool output, allowing for the env's sanitising and truncation, and JSON formatting."""
    if observed is None or reference is None:
        return False
    from envs.toolenv import sanitize

    ref = sanitize(reference, len(reference) + 1)
    if observed == ref or observed.strip() == ref.strip():
        return True
    m = _TRUNC.search(observed)
    if m:
        prefix = observed[: m.start()]
        return ref.startswith(prefix) and len(prefix) + int(m.group(1)) + len(m.group(0)) == len(ref)
    m = _CUT.search(observed)  # run_python's own output cap
    if m:
        prefix = observed[: m.start()]
        return ref.startswith(prefix) and len(prefix) + int(m.group(1)) == len(ref)
    try:
        return bool(json.loads(observed) == json.loads(ref))
    except (ValueError, RecursionError):
        return False


def _agent_calls(record: Mapping[str, Any]) -> list[_Call]:
    """The agent's tool calls with their observations (from ``steps``; ``tools_called`` if absent)."""
    out: list[_Call] = []
    steps = record.get("steps")
    if isinstance(steps, list) and steps:
        for step in steps:
            info = step.get("info") or {}
            if info.get("kind") != "tool":
                continue
            ok = bool(info.get("ok"))
            args: dict[str, Any] = info["args"] if isinstance(info.get("args"), dict) else {}
            obs = step.get("observation") if ok else None
            out.append(_Call(len(out), str(info.get("tool")), dict(args), ok, info.get("error"), obs))
        return out
    for c in record.get("tools_called") or []:
        args = c["args"] if isinstance(c.get("args"), dict) else {}
        out.append(_Call(len(out), str(c.get("tool")), dict(args), bool(c.get("ok")), c.get("error"), None))
    return out


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _value_diff(key: str, got: Any, needed: Any) -> str:
    """``key=<got> (needed <needed>)``; long strings are shown around their first difference."""
    if isinstance(got, str) and isinstance(needed, str) and max(len(got), len(needed)) > 40:
        at = _common_prefix(got, needed)
        start = max(0, at - 15)
        return f"{key} differs at character {at}: {got[start : at + 15]!r} (needed {needed[start : at + 15]!r})"
    return f"{key}={_short(got, 40)} (needed {_short(needed, 40)})"


def _tally(calls: Sequence[_Call], limit: int = 4) -> str:
    counts = Counter(c.tool for c in calls)
    if not counts:
        return "no calls"
    parts = [f"{t} x{n}" if n > 1 else t for t, n in counts.most_common(limit)]
    more = len(counts) - limit
    return ", ".join(parts) + (f", +{more} more" if more > 0 else "")


# =============================================================================
# Grader strictness
# =============================================================================
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?%?(?![\w])")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")


def _truth_tokens(truth: Any) -> list[Any]:
    """Scalars a free-text grader can look for: strings, numbers, dict keys (recursively)."""
    out: list[Any] = []
    if isinstance(truth, Mapping):
        for k, v in truth.items():
            out.append(str(k))
            out.extend(_truth_tokens(v))
    elif isinstance(truth, (list, tuple)):
        for v in truth:
            out.extend(_truth_tokens(v))
    elif isinstance(truth, bool) or truth is None:
        pass
    elif isinstance(truth, (int, float, str)):
        out.append(truth)
    return out


def _decimals(text: str) -> int:
    return len(text.split(".", 1)[1]) if "." in text else 0


def _number_matches(mention: str, truth: float) -> bool:
    """Is a number written in the answer the truth value in another format (not another value)?"""
    percent = mention.endswith("%")
    digits = mention.rstrip("%").replace(",", "")
    try:
        value = float(digits)
    except ValueError:
        return False
    d = _decimals(digits)
    candidates = [truth * 100.0] if percent else [truth]
    for t in candidates:
        if math.isclose(value, t, rel_tol=1e-9, abs_tol=1e-12):
            return True
        if float(t).is_integer():
            continue  # an integer truth must be written exactly (no rounding of counts)
        if d >= 1 and math.isclose(round(t, d), value, abs_tol=10 ** -(d + 3)) and abs(value - t) <= 1e-3 * abs(t):
            return True
    return False


def _iso_epoch(text: str) -> int | None:
    try:
        stamp = dt.datetime.fromisoformat(text.replace(" ", "T").replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return int(stamp.timestamp())


def _rewrite_text(text: str, truth: Any) -> str:
    """The answer with each truth value it states in another form respelt as the grader spells it."""
    for token in _truth_tokens(truth):
        if isinstance(token, str):
            if not token.strip() or token in text:
                continue
            pattern = re.compile(r"(?<![\w])" + re.escape(token) + r"(?![\w])", re.IGNORECASE)
            text = pattern.sub(token.replace("\\", "\\\\"), text)
            continue
        spelt = str(token)
        if spelt in text:
            continue
        text = _NUMBER.sub(_respell_number(float(token), spelt), text)
        if isinstance(token, int) and 10**9 <= token < 10**10:
            text = _ISO.sub(_respell_time(token, spelt), text)
    return text


def _respell_number(value: float, spelt: str) -> Callable[[re.Match[str]], str]:
    def sub(m: re.Match[str]) -> str:
        return spelt if _number_matches(m.group(0), value) else m.group(0)

    return sub


def _respell_time(epoch: int, spelt: str) -> Callable[[re.Match[str]], str]:
    def sub(m: re.Match[str]) -> str:
        return spelt if _iso_epoch(m.group(0)) == epoch else m.group(0)

    return sub


_ONE_NUMBER = re.compile(r"^[^\d-]*?([-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)[^\d]*$")


def _align(pred: Any, truth: Any) -> Any:
    """A typed answer in the truth's form where it is the same value in another form."""
    if isinstance(truth, bool):
        if isinstance(pred, str) and pred.strip().lower() in ("true", "false"):
            return pred.strip().lower() == "true"
        return pred
    if isinstance(truth, (int, float)):
        if isinstance(pred, (list, tuple)) and len(pred) == 1:
            pred = pred[0]
        if isinstance(pred, Mapping) and len(pred) == 1:
            pred = next(iter(pred.values()))
        if isinstance(pred, str):
            m = _ONE_NUMBER.match(pred.strip())
            if m:
                num = float(m.group(1).replace(",", ""))
                return int(num) if num.is_integer() and isinstance(truth, int) else num
        return pred
    if isinstance(truth, str):
        if isinstance(pred, (list, tuple)) and len(pred) == 1:
            pred = pred[0]
        if isinstance(pred, Mapping) and len(pred) == 1:
            pred = next(iter(pred.values()))
        if isinstance(pred, str) and " ".join(pred.split()).casefold() == " ".join(truth.split()).casefold():
            return truth
        return pred
    if isinstance(truth, (list, tuple)) and isinstance(pred, (list, tuple)):
        out = []
        for i, p in enumerate(pred):
            if i < len(truth) and _align(p, truth[i]) == truth[i]:
                out.append(truth[i])
                continue
            out.append(next((t for t in truth if _align(p, t) == t), p))
        return out
    if isinstance(truth, Mapping) and isinstance(pred, Mapping):
        keys = {str(k).strip().casefold(): k for k in truth}
        aligned: dict[Any, Any] = {}
        for k, v in pred.items():
            tk = keys.get(str(k).strip().casefold(), k)
            aligned[tk] = _align(v, truth[tk]) if tk in truth else v
        return aligned
    return pred


def _strictness(record: Mapping[str, Any], plan: OraclePlan | None) -> FailureClassification | None:
    task = record.get("task") or {}
    answer = record.get("answer")
    if answer is None or "truth" not in task:
        return None
    truth = task["truth"]
    try:
        from envs.grading import extract_answer, grade_answer
        from envs.tasks import get_suite

        family = get_suite(str(task["world"]), str(task["protocol"])).family(str(task["family"]))
        comparator = family.comparator(dict(task.get("params") or {}))
        schema = family.answer_schema
    except Exception:
        return None
    note = _grade_note(record)
    if getattr(comparator, "free_text", False):
        text = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)
        rewritten = _rewrite_text(text, truth)
        if rewritten != text and grade_answer(rewritten, truth, comparator, schema).success:
            return FailureClassification(
                "grader_strictness",
                f"the answer states the expected values in another form ({note}); respelt "
                f"{_short(rewritten, 80)} passes the same check",
                "S-rewrite",
            )
    else:
        try:
            value, _ = extract_answer(answer)
        except ValueError:
            value = None
        if value is not None:
            aligned = _align(value, truth)
            if aligned != value and grade_answer(aligned, truth, comparator, schema).success:
                return FailureClassification(
                    "grader_strictness",
                    f"the answer {_short(value)} is the expected value in another form ({note}); "
                    f"as {_short(aligned)} it passes",
                    "S-rewrite",
                )
    if plan is not None and plan.answer_success is False and _same_answer(answer, plan.answer):
        return FailureClassification(
            "grader_strictness",
            f"the answer {_short(answer)} is the reference solution's, which the grader also rejects ({note})",
            "S-oracle",
        )
    return None


def _same_answer(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return " ".join(a.split()) == " ".join(b.split())
    from envs.grading import extract_answer

    try:
        va = extract_answer(a)[0] if isinstance(a, str) else a
        vb = extract_answer(b)[0] if isinstance(b, str) else b
    except ValueError:
        return False
    return bool(_norm(va) == _norm(vb))


def _grade_note(record: Mapping[str, Any]) -> str:
    detail = (record.get("grade") or {}).get("detail") or {}
    parts = []
    for key in ("note", "parse_error", "schema_error"):
        if detail.get(key):
            parts.append(f"{key.replace('_', ' ') if key != 'note' else 'grader'}: {detail[key]}")
    keys = detail.get("keys")
    if isinstance(keys, Mapping):
        bad = [f"{k} {v}" for k, v in keys.items() if v != "ok"]
        if bad:
            parts.append("keys: " + ", ".join(bad[:3]))
    if "right" in detail and "of" in detail:
        parts.append(f"{detail['right']}/{detail['of']} counts right")
    if not parts:
        score = (record.get("grade") or {}).get("score")
        parts.append(f"score {score}" if score is not None else "no grade detail")
    return "; ".join(str(p) for p in parts)[:160]


# =============================================================================
# The decision list
# =============================================================================
def classify(record: Mapping[str, Any], *, plan: OraclePlan | None = None) -> FailureClassification:
    """The taxonomy category of one failed episode record (see the module docstring's rules).

    ``plan`` overrides the oracle plan (default: ``oracle_plan(record)``, computed and
    cached). Raises ``ValueError`` for a successful record.
    """
    if record.get("success"):
        task_id = (record.get("task") or {}).get("id", "?")
        raise ValueError(f"record {task_id} is a success; only failed episodes are classified")
    if record.get("llm_failure"):
        return FailureClassification(LLM_FAILURE, f"the model failed: {_short(record['llm_failure'], 120)}", "L")
    if plan is None:
        plan = oracle_plan(record)
    verdict = _strictness(record, plan)
    if verdict is not None:
        return verdict
    shown_raw = record.get("tools_shown")
    shown = [str(t) for t in (shown_raw if isinstance(shown_raw, list) else record.get("tools_offered") or [])]
    calls = _agent_calls(record)
    note = _grade_note(record)
    if plan is None:
        return _classify_without_plan(record, shown, calls, note)

    known = plan.known_tools | AFFORDANCES | {RUN_PYTHON}
    # needed tool -> the shown tool that stands for it (None: not shown)
    stand_in: dict[str, str | None] = {}
    for tool in plan.tools:
        if tool in shown:
            stand_in[tool] = tool
            continue
        fuzzy = [s for s in shown if s not in known and tool not in AFFORDANCES and _resembles(s, tool)]
        fuzzy.sort(key=lambda s: -difflib.SequenceMatcher(None, s, tool).ratio())
        stand_in[tool] = fuzzy[0] if fuzzy else None
    relevant = {s for s in stand_in.values() if s is not None}
    by_tool: dict[str, list[_Call]] = {}
    for c in calls:
        by_tool.setdefault(c.tool, []).append(c)

    # Which needed calls each agent call makes: same arguments, else (a call matching no needed
    # call's arguments) the same output as the needed call closest to it in arguments.
    made: dict[int, set[int]] = {}
    for c in calls:
        if not c.ok:
            continue
        if c.tool == RUN_PYTHON:
            hits = {
                i for i, pc in enumerate(plan.calls) if stand_in[pc.tool] is None and _same_output(c.output, pc.output)
            }
        else:
            needed = [i for i, pc in enumerate(plan.calls) if stand_in[pc.tool] == c.tool]
            if needed and c.tool not in plan.tools:  # a library tool with a name of its own: its arguments are its own
                hits = set(needed)
            else:
                hits = {i for i in needed if not _args_diff(c.args, plan.calls[i].args, plan.defaults.get(c.tool, {}))}
                if not hits:
                    same = [i for i in needed if _same_output(c.output, plan.calls[i].output)]
                    if same:
                        near = {i: _closeness(c.args, plan.calls[i].args, plan.defaults.get(c.tool, {})) for i in same}
                        hits = {i for i in same if near[i] == max(near.values())}
        if hits:
            made[c.index] = hits

    def makes(c: _Call, pc_index: int) -> bool:
        return pc_index in made.get(c.index, set())

    def recovered(c: _Call) -> bool:
        later = [o for o in calls if o.index > c.index]
        return bool(later) and later[0].ok and later[0].tool in relevant

    # Calls that make no needed call: stray tool calls (affordances are the agent's hands, not tools).
    stray = [
        c
        for c in calls
        if c.tool not in AFFORDANCES
        and c.tool != RUN_PYTHON
        and c.index not in made
        and not (not c.ok and c.tool not in relevant and recovered(c))
    ]
    n_made = sum(1 for i in range(len(plan.calls)) if any(makes(c, i) for c in calls))
    progress = f"{n_made} of {len(plan.calls)} needed calls made"

    # Walk the plan in order: the first needed call that was not made right decides.
    for i, pc in enumerate(plan.calls):
        s = stand_in[pc.tool]
        label = f"{pc.tool}({_short(pc.args, 60)})"
        makers = [c for c in calls if makes(c, i)]
        if makers:
            reference = pc.output
            if (
                s == pc.tool
                and reference is not None
                and not any(_same_output(c.output, reference) for c in makers)
                and not any(c.output is None or _TRUNC.search(c.output) for c in makers)
            ):
                c = makers[0]
                return FailureClassification(
                    "missing_tool",
                    f"faulty tool: {s}({_short(c.args, 50)}) returned {_short(c.output, 50)} where the "
                    f"reference returns {_short(reference, 50)}; no offered tool does the job ({progress})",
                    "M-faulty",
                )
            continue
        if s is None:
            code = by_tool.get(RUN_PYTHON, [])
            failed = [c for c in code if not c.ok and not any(o.ok and o.index > c.index for o in code)]
            if failed:
                return FailureClassification(
                    "incorrect_invocation",
                    f"run_python, written in place of the missing {pc.tool}, errored and never ran after: "
                    f"{_short(failed[0].error or 'error', 90)}",
                    "I-error",
                )
            tools = [t for t in shown if t not in AFFORDANCES]
            if not shown:
                what = "nothing was offered, not even an affordance"
            elif not tools:
                what = f"only the affordances were offered: {', '.join(shown)}"
            else:
                what = f"{len(tools)} tool{'s were' if len(tools) != 1 else ' was'} offered, none of them this one"
            if any(c.ok for c in code):
                what += "; the run_python snippets written in its place never returned what it returns"
            return FailureClassification(
                "missing_tool",
                f"the task needs {label}, which was not offered ({what}); the agent made: {_tally(calls)}; {note}",
                "M-absent",
            )
        own = by_tool.get(s, [])
        errors = [c for c in own if not c.ok and not any(o.ok and o.index > c.index for o in own)]
        if errors:
            c = errors[0]
            return FailureClassification(
                "incorrect_invocation",
                f"{s}({_short(c.args, 70)}) errored and was never called successfully after: "
                f"{_short(c.error or 'error', 90)}",
                "I-error",
            )
        wrong = [c for c in stray if c.tool == s and c.ok]
        if wrong:
            defaults = plan.defaults.get(pc.tool, {})
            best = min(wrong, key=lambda c: len(_args_diff(c.args, pc.args, defaults)))
            diff = _args_diff(best.args, pc.args, defaults)
            parts = [
                _value_diff(k, best.args.get(k, defaults.get(k)), pc.args.get(k, defaults.get(k))) for k in diff[:2]
            ]
            return FailureClassification(
                "incorrect_invocation",
                f"{s} was called with wrong arguments: {', '.join(parts) or 'its output differs'} ({progress})",
                "I-args",
            )
        if not any(c.ok for c in own):
            instead = [c for c in stray if c.tool != s]
            if instead:
                instead.sort(key=lambda c: (not (_words(c.tool) & _words(s)), c.index))
                c = instead[0]
                what = f"errored: {_short(c.error or '', 60)}" if not c.ok else "it does not serve this task"
                return FailureClassification(
                    "incorrect_invocation",
                    f"called {c.tool} in place of {s} ({what}); {s} was never called",
                    "I-wrong-tool",
                )
        others = _tally([c for c in calls if c.tool != s])
        if own:
            why = f"{s} was called, but never for {label} ({progress}; the agent also made: {others})"
        else:
            why = f"{s} was offered and does {label}, but was never called (the agent made: {others})"
        return FailureClassification("not_called", f"{why}; {note}", "N")

    # Every needed call was made right (or none is needed): the reasoning over the outputs failed.
    extra = []
    if record.get("truncated"):
        extra.append("ran out of steps without answering")
    llm_error = (record.get("llm") or {}).get("error")
    if llm_error:
        extra.append(f"LLM error: {_short(llm_error, 60)}")
    if len(plan.calls) == 1:
        head = f"the needed call {plan.calls[0].tool}({_short(plan.calls[0].args, 50)}) was made right"
    elif plan.calls:
        head = f"all {len(plan.calls)} needed calls ({_tally_names([pc.tool for pc in plan.calls])}) were made right"
    else:
        head = "the task needs no tool call (its data is in the prompt)"
    tail = f" ({'; '.join(extra)})" if extra else ""
    return FailureClassification("wrong_reasoning", f"{head}{tail}, but the answer is wrong: {note}", "W")


def _tally_names(names: Iterable[str], limit: int = 4) -> str:
    counts = Counter(names)
    parts = [f"{t} x{n}" if n > 1 else t for t, n in counts.most_common(limit)]
    more = len(counts) - limit
    return ", ".join(parts) + (f", +{more} more" if more > 0 else "")


def _classify_without_plan(
    record: Mapping[str, Any], shown: list[str], calls: list[_Call], note: str
) -> FailureClassification:
    """Fallback when no oracle plan is known: every shown non-affordance tool counts as relevant."""
    tools = [t for t in shown if t not in AFFORDANCES]
    for c in calls:
        if c.tool in tools and not c.ok and not any(o.ok and o.tool == c.tool and o.index > c.index for o in calls):
            return FailureClassification(
                "incorrect_invocation",
                f"{c.tool} errored and was never called successfully after: {_short(c.error or 'error', 90)} "
                "(plan unknown)",
                "I-error",
            )
    if not tools:
        return FailureClassification(
            "missing_tool", f"no tools beyond the affordances were shown (plan unknown); {note}", "M-absent"
        )
    if not any(c.tool in tools for c in calls):
        return FailureClassification(
            "not_called",
            f"none of the shown tools ({_tally_names(tools)}) was called (plan unknown); {note}",
            "N",
        )
    used = _tally([c for c in calls if c.tool in tools])
    return FailureClassification(
        "wrong_reasoning", f"tools were called ({used}) but the answer is wrong (plan unknown); {note}", "W"
    )


def taxonomy(records: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Counts per category over the failed records (successes are skipped); every category present,
    ``llm_failure`` included (episodes whose model failed: not agent failures)."""
    counts = dict.fromkeys(ALL_CATEGORIES, 0)
    for record in records:
        if record.get("success"):
            continue
        counts[classify(record).category] += 1
    return counts


def shares(counts: Mapping[str, int]) -> dict[str, float]:
    """The paper's five categories as fractions of the agent failures (LLM failures left out: they are
    not failures of the agent; all zeros when there is none)."""
    counts = {k: counts.get(k, 0) for k in CATEGORIES}
    total = sum(counts.values())
    return {k: (counts.get(k, 0) / total if total else 0.0) for k in CATEGORIES}


# =============================================================================
# Command line: python -m experiments.taxonomy <job dirs or episodes.jsonl files>
# =============================================================================
def _load(paths: Sequence[str]) -> list[tuple[str, list[dict[str, Any]]]]:
    out = []
    for raw in paths:
        path = Path(raw)
        files = [path] if path.is_file() else sorted(path.rglob("episodes.jsonl"))
        for f in files:
            records = [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
            out.append((str(f.parent if f.name == "episodes.jsonl" else f), records))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.taxonomy", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("paths", nargs="+", help="job directories (searched for episodes.jsonl) or JSONL files")
    parser.add_argument("--reasons", action="store_true", help="print one line per failed record")
    ns = parser.parse_args(argv)
    header = "| job | failures | " + " | ".join(LABELS[c] for c in CATEGORIES) + " |"
    print(header)
    print("|" + "---|" * (len(CATEGORIES) + 2))
    total = dict.fromkeys(CATEGORIES, 0)
    for name, records in _load(ns.paths):
        first = records[0] if records else {}
        task = first.get("task") or {}
        label = f"{task.get('world', '?')}/{task.get('protocol', '?')}/{first.get('condition', Path(name).name)}"
        counts = taxonomy(records)
        n = sum(counts.values())
        cells = " | ".join(f"{counts[c]} ({counts[c] / n:.0%})" if n else "0" for c in CATEGORIES)
        print(f"| {label} | {n} | {cells} |")
        for c in CATEGORIES:
            total[c] += counts[c]
        if ns.reasons:
            for r in records:
                if not r.get("success"):
                    v = classify(r)
                    print(f"    {r['task']['family']}: {v.category} [{v.rule}] {v.reason}", file=sys.stderr)
    n = sum(total.values())
    cells = " | ".join(f"{total[c]} ({total[c] / n:.0%})" if n else "0" for c in CATEGORIES)
    print(f"| **all** | {n} | {cells} |")
    paper = " | ".join(f"{PAPER_SHARES[c]:.0%}" for c in CATEGORIES)
    print(f"| paper (30 failures) | 30 | {paper} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
