"""Tool-Genesis-style diagnostics of an evolved tool library against the world's reference tools.

Two populations are diagnosed: the **library** (the active tools the agent ends with) and the
**candidates** (every version the pipeline produced, promoted or not, in its final form after
repairs: what the model wrote, as Tool-Genesis scores it). L4, downstream success, is measured
by running episodes (``experiments.downstream``); ``run_job`` runs all layers at the end of
every arise job. Layers:

* **L1 compliance / executability**, per evolved tool: ``parse`` (the source parses and
  defines a top-level function named like the tool), ``schema`` (the tool spec
  ``{name, description, parameters}`` validates against ``TOOL_SPEC_SCHEMA`` and
  ``parameters`` is a valid JSON schema under ``Draft202012Validator.check_schema``; the
  description falls back to the function's docstring, since the library stores only the
  parameters), ``signature`` (the function's parameter names equal the schema's
  properties, and its parameters without defaults equal ``required``), ``policy``
  (``evolution.static_policy.check_source``). ``compliance`` = all four. ``exec``: a smoke
  call in the sandbox succeeds (no exception), on the arguments of a reference case of
  the matched reference tool (the first case where the reference succeeds, nominal
  first), or on schema-derived dummy arguments when unmatched. Code failing ``parse``
  or ``policy`` is never run (``exec`` is false, it is not matched, it scores nothing).
* **L2 Schema-F1**: evolved tools are matched to reference tools in scope: an exact
  name match first (accepted whatever its similarity, reported), then a Hungarian
  assignment (``scipy.optimize.linear_sum_assignment``) of the remaining runnable tools
  to the remaining reference tools on ``similarity = w * behaviour + (1 - w) * args``,
  where ``behaviour`` is the fraction of the reference tool's held-out nominal cases
  (all its cases if it has no nominal one) on which the evolved tool agrees with it
  (``envs.reference_cases.same``; both failing cleanly agrees), ``args`` the Jaccard
  index of the (name, type) sets of the two tools' parameters; pairs with similarity
  below ``threshold`` stay unmatched. Tool level: precision = matched / evolved tools,
  recall = matched / reference tools in scope. Argument level (micro over matched
  pairs, parameter names): precision = shared / evolved parameters, recall = shared /
  reference parameters; over the shared names, ``type_agreement`` (same JSON type) and
  ``required_agreement`` (both required or both optional) are reported separately.
* **L3 UT-soft / UT-hard**: held-out cases on a world built from ``held_out_seed``
  (default ``derive_seed(seed, "diagnostics", "held_out")``, checked against every world
  seed the job's episodes used): ``nominal`` (the oracle plans' reference calls,
  ``differential.nominal_cases``), ``boundary`` (``differential.edge_cases``, edge values
  valid under the reference schema, where the reference succeeds) and ``negative``
  (those edge cases where the reference raises: the evolved tool must fail too, cleanly,
  not by timing out or crashing). The evolved tool gets the case's arguments its schema
  declares; a case missing one of its required arguments cannot be called and scores
  0. Per case: hard = the output equals the reference's (typed); soft = the fraction of
  fields right (dict: keys of the union with equal values; list: positions up to the
  longer length with equal elements; scalar or failure: 0/1). Per reference tool: the
  means over its cases; a reference tool without a matched evolved tool scores 0 on
  every case (failures, not dropped). Library UT-soft/UT-hard: the mean over reference
  tools in scope that have at least one case.
* **funnel**, nested over all evolved tools: ``evolved`` -> ``compliant`` (L1 compliance)
  -> ``executable`` (and exec) -> ``matched`` (and matched in L2) -> ``ut_hard_ge_0_5``
  (and the matched reference tool's UT-hard >= 0.5). Each stage reports its count, its
  share of evolved tools (non-increasing by construction) and its rate given the stage
  before.
* **candidates**: every candidate version gets L1 and, when runnable, a match of its own (an
  exact name, else the reference tool of highest similarity if >= ``threshold``; no
  assignment, since the versions of one tool all compete for the same reference tool), its
  UT-soft/UT-hard against that reference tool, and the same funnel. Compliance and exec of
  the candidates are where one-shot ("Direct") and closed-loop synthesis differ: a promoted
  tool passed the pipeline's checks by construction.

"Reference tools in scope" defaults to every reference tool of the world and protocol
the job ran on (``reference_tools=None``); pass a list of names to narrow it.

    diagnose_library("runs/job", world="acmecorp", protocol="rigorous", seed=3)
    diagnose_reference("acmecorp", "rigorous", 3)   # the reference against itself: 1.0 everywhere
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from scipy.optimize import linear_sum_assignment

from envs import seeding
from envs.reference_cases import Case, Expected, edge_cases, expected_output, nominal_cases, same
from envs.tasks import SPLITS, Suite, get_suite
from envs.tools import tool_spec
from evolution.sandbox.runner import CallOutcome, Sandbox
from evolution.static_policy import check_source
from experiments.differential import HARD_FAILURES

KINDS = ("nominal", "boundary", "negative")
JSON_TYPES = ("string", "integer", "number", "boolean", "array", "object", "null")
TOOL_SPEC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "description", "parameters"],
    "properties": {
        "name": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
        "description": {"type": "string", "minLength": 1},
        "parameters": {
            "type": "object",
            "required": ["type", "properties"],
            "properties": {
                "type": {"const": "object"},
                "properties": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "required": ["type"],
                        "properties": {"type": {"enum": list(JSON_TYPES)}},
                    },
                },
                "required": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
            },
        },
    },
}
_DUMMY: dict[str, Any] = {"string": "", "integer": 0, "number": 0.0, "boolean": False, "array": [], "object": {}}


@dataclass(frozen=True)
class EvolvedTool:
    """One tool to diagnose: its name, source, JSON-schema parameters and (optional) description."""

    name: str
    code: str
    parameters: dict[str, Any]
    description: str = ""
    version: int | None = None
    status: str | None = None  # library status (active, rejected, deprecated, testing) when loaded from a job


@dataclass(frozen=True)
class HeldOutCase:
    case: Case
    kind: str  # nominal | boundary | negative
    expected: Expected


# -- held-out cases -------------------------------------------------------------------------------
def default_held_out_seed(seed: int) -> int:
    return seeding.derive_seed(seed, "diagnostics", "held_out")


@functools.lru_cache(maxsize=8)
def _held_out(
    world: str, protocol: str, held_out_seed: int, options_json: str, edge_per_tool: int
) -> tuple[HeldOutCase, ...]:
    suite = get_suite(world, protocol)
    options = json.loads(options_json)
    refs = {fn.__name__: fn for fn in suite.reference_tools()}
    nominal = nominal_cases(suite, held_out_seed, "test", options=options or None)
    edges = edge_cases([tool_spec(fn) for fn in refs.values()], nominal, held_out_seed, per_tool=edge_per_tool)
    out = []
    for case in [*nominal, *edges]:
        want = expected_output(suite, refs[case.tool], case)
        kind = "negative" if not want.ok else ("nominal" if case.kind == "nominal" else "boundary")
        out.append(HeldOutCase(case, kind, want))
    return tuple(out)


def held_out_cases(
    world: str, protocol: str, held_out_seed: int, options: dict[str, Any] | None = None, edge_per_tool: int = 12
) -> list[HeldOutCase]:
    """Reference cases (with the reference outputs) on the held-out world; memoised."""
    return list(_held_out(world, protocol, held_out_seed, json.dumps(options or {}, sort_keys=True), edge_per_tool))


# -- comparison -------------------------------------------------------------------------------------
def field_fraction(want: Any, got: Any) -> float:
    """Fraction of output fields right: dict keys (union), list positions (longer length), else 0/1."""
    if isinstance(want, dict) and isinstance(got, dict):
        keys = set(want) | set(got)
        if not keys:
            return 1.0
        return sum(k in want and k in got and same(want[k], got[k]) for k in keys) / len(keys)
    if isinstance(want, list) and isinstance(got, list):
        n = max(len(want), len(got))
        if n == 0:
            return 1.0
        return sum(same(a, b) for a, b in zip(want, got)) / n
    return 1.0 if same(want, got) else 0.0


def score_case(want: Expected, got: CallOutcome | None) -> tuple[float, float]:
    """(soft, hard) of one case; ``got`` None = the tool could not be called with the case's arguments."""
    if got is None:
        return 0.0, 0.0
    if not want.ok:
        agree = float(not got.ok and got.reason not in HARD_FAILURES)
        return agree, agree
    if not got.ok:
        return 0.0, 0.0
    hard = float(same(want.value, got.value))
    return (1.0 if hard else field_fraction(want.value, got.value)), hard


# -- L1 -----------------------------------------------------------------------------------------------
def _entry(tree: ast.Module, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    return next(
        (n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name), None
    )


def _props(parameters: Any) -> dict[str, Any]:
    props = parameters.get("properties") if isinstance(parameters, dict) else None
    return props if isinstance(props, dict) else {}


def _required(parameters: Any) -> list[str]:
    req = parameters.get("required") if isinstance(parameters, dict) else None
    return [r for r in req if isinstance(r, str)] if isinstance(req, list) else []


def _ptype(schema: Any) -> str:
    return str(schema.get("type")) if isinstance(schema, dict) else "?"


def compliance_checks(tool: EvolvedTool) -> dict[str, Any]:
    """The static L1 checks (parse, schema, signature, policy) with their problems."""
    problems: dict[str, list[str]] = {"parse": [], "schema": [], "signature": [], "policy": []}
    fn = None
    try:
        fn = _entry(ast.parse(tool.code), tool.name)
        if fn is None:
            problems["parse"].append(f"no top-level function {tool.name!r}")
    except (SyntaxError, ValueError, RecursionError) as exc:
        problems["parse"].append(f"{type(exc).__name__}: {exc}")
    description = tool.description or ((ast.get_docstring(fn) or "") if fn is not None else "")
    spec = {"name": tool.name, "description": description, "parameters": tool.parameters}
    problems["schema"] += [f"{'/'.join(map(str, e.path)) or '(spec)'}: {e.message}"
                           for e in Draft202012Validator(TOOL_SPEC_SCHEMA).iter_errors(spec)]  # fmt: skip
    try:
        Draft202012Validator.check_schema(tool.parameters)
    except SchemaError as exc:
        problems["schema"].append(f"parameters is not a valid JSON schema: {exc.message}")
    if not set(_required(tool.parameters)) <= set(_props(tool.parameters)):
        problems["schema"].append("required names arguments that are not properties")
    if fn is None:
        problems["signature"].append("no function to compare with the schema")
    else:
        a = fn.args
        if a.vararg or a.kwarg or a.posonlyargs:
            problems["signature"].append("*args, **kwargs or positional-only parameters")
        positional = a.args
        with_default = {p.arg for p in positional[len(positional) - len(a.defaults) :]} if a.defaults else set()
        with_default |= {p.arg for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None}
        names = [p.arg for p in [*positional, *a.kwonlyargs]]
        if set(names) != set(_props(tool.parameters)):
            props = sorted(_props(tool.parameters))
            problems["signature"].append(f"parameters {sorted(names)} != schema properties {props}")
        if {n for n in names if n not in with_default} != set(_required(tool.parameters)):
            problems["signature"].append(
                f"parameters without defaults {sorted(n for n in names if n not in with_default)} "
                f"!= schema required {sorted(_required(tool.parameters))}"
            )
    problems["policy"] = list(check_source(tool.code).violations)
    out: dict[str, Any] = {k: not v for k, v in problems.items()}
    out["compliance"] = all(out[k] for k in problems)
    out["problems"] = {k: v[:5] for k, v in problems.items() if v}
    return out


def dummy_args(parameters: dict[str, Any]) -> dict[str, Any]:
    """Arguments for a smoke call: required parameters only, each its default or an empty value of its type."""
    props = _props(parameters)
    out = {}
    for name in _required(parameters):
        schema = props.get(name, {})
        has_default = isinstance(schema, dict) and "default" in schema
        out[name] = schema["default"] if has_default else _DUMMY.get(_ptype(schema))
    return out


# -- running --------------------------------------------------------------------------------------------
class _Runner:
    """Sandboxed calls of evolved tools on held-out cases, memoised per (code, entry, args, world)."""

    def __init__(self, sandbox: Sandbox, suite: Suite) -> None:
        self.sandbox, self.suite = sandbox, suite
        self.memo: dict[str, CallOutcome] = {}
        self.calls = 0

    def call(self, tool: EvolvedTool, args: dict[str, Any], case: Case) -> CallOutcome:
        key = json.dumps([hashlib.sha256(tool.code.encode()).hexdigest(), tool.name, args, case.world_seed,
                          case.options], sort_keys=True, default=str)  # fmt: skip
        if key not in self.memo:
            self.calls += 1
            self.memo[key] = self.sandbox.call(tool.code, tool.name, args, self.suite.access(case.world(self.suite)))
        return self.memo[key]

    def on_case(self, tool: EvolvedTool, case: Case) -> CallOutcome | None:
        """The tool on ``case`` with the arguments its schema declares; None if a required one is missing."""
        props = _props(tool.parameters)
        args = {k: v for k, v in case.args.items() if k in props}
        if any(r not in args for r in _required(tool.parameters)):
            return None
        return self.call(tool, args, case)


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def _jaccard(a: EvolvedTool, ref_params: dict[str, Any]) -> float:
    sa = {(k, _ptype(v)) for k, v in _props(a.parameters).items()}
    sb = {(k, _ptype(v)) for k, v in _props(ref_params).items()}
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


@contextmanager
def _sandbox(sandbox: Sandbox | None) -> Iterator[Sandbox]:
    if sandbox is not None:
        yield sandbox
        return
    with Sandbox() as sb:
        yield sb


# -- the diagnosis ------------------------------------------------------------------------------------
_STAGES = ("evolved", "compliant", "executable", "matched", "ut_hard_ge_0_5")
_L1_KEYS = ("parse", "schema", "signature", "policy", "compliance", "exec")


def _funnel(per_tool: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Nested pass counts over ``per_tool`` (see the module docstring)."""
    keep = {
        "evolved": lambda i: True,
        "compliant": lambda i: i["compliance"],
        "executable": lambda i: i["exec"],
        "matched": lambda i: i["matched"] is not None,
        "ut_hard_ge_0_5": lambda i: (i["ut_hard"] or 0.0) >= 0.5,
    }
    alive, out = list(per_tool), []
    for stage in _STAGES:
        before = len(alive)
        alive = [i for i in alive if keep[stage](i)]
        out.append({"stage": stage, "count": len(alive), "share": _ratio(len(alive), len(per_tool)),
                    "rate_of_previous": _ratio(len(alive), before)})  # fmt: skip
    return out


def _l1_rates(per_tool: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """Pass rate of each L1 check; None without tools (undefined, not 0)."""
    if not per_tool:
        return dict.fromkeys(_L1_KEYS)
    return {k: sum(bool(i[k]) for i in per_tool) / len(per_tool) for k in _L1_KEYS}


class _Diagnosis:
    """Everything the layers share for one (world, protocol, held-out seed): reference cases and a memoised runner."""

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        world: str,
        protocol: str,
        seed: int,
        reference_tools: Sequence[str] | None,
        held_out_seed: int | None,
        options: dict[str, Any] | None,
        edge_per_tool: int,
        threshold: float,
        behaviour_weight: float,
        seen_world_seeds: Sequence[int],
    ) -> None:
        suite = get_suite(world, protocol)
        refs = {fn.__name__: fn for fn in suite.reference_tools()}
        self.scope = list(refs) if reference_tools is None else list(reference_tools)
        unknown = sorted(set(self.scope) - set(refs))
        if unknown:
            raise ValueError(f"unknown reference tools {unknown}; {world}/{protocol} has {sorted(refs)}")
        self.ho_seed = default_held_out_seed(seed) if held_out_seed is None else held_out_seed
        seen = set(seen_world_seeds) | {suite.world_seed(seed, sp, k) for sp in SPLITS for k in range(16)}
        if self.ho_seed in seen:
            raise ValueError(f"held-out seed {self.ho_seed} is a world seed the job may have seen")
        self.header = {"world": world, "protocol": protocol, "seed": seed, "held_out_seed": self.ho_seed,
                       "reference_scope": self.scope, "settings": {"edge_per_tool": edge_per_tool,
                       "threshold": threshold, "behaviour_weight": behaviour_weight}}  # fmt: skip
        self.options = dict(options or {})
        self.threshold, self.w = threshold, behaviour_weight
        self.ref_params = {n: tool_spec(refs[n]).parameters for n in self.scope}
        self.cases_by_ref: dict[str, list[HeldOutCase]] = {n: [] for n in self.scope}
        for hc in held_out_cases(world, protocol, self.ho_seed, options, edge_per_tool):
            if hc.case.tool in self.cases_by_ref:
                self.cases_by_ref[hc.case.tool].append(hc)
        self.run = _Runner(sandbox, suite)

    # -- per-tool pieces ---------------------------------------------------------------------------
    def behaviour(self, t: EvolvedTool, ref: str) -> float:
        """Fraction of ``ref``'s nominal cases (all its cases if none) on which ``t`` agrees with it."""
        hcs = [h for h in self.cases_by_ref[ref] if h.kind == "nominal"] or self.cases_by_ref[ref]
        return _ratio(sum(score_case(h.expected, self.run.on_case(t, h.case))[1] for h in hcs), len(hcs))

    def similarity(self, t: EvolvedTool, ref: str) -> dict[str, float]:
        args = _jaccard(t, self.ref_params[ref])
        callable_on = any(all(q in h.case.args for q in _required(t.parameters)) for h in self.cases_by_ref[ref])
        beh = self.behaviour(t, ref) if callable_on else 0.0  # no case it can be called on: no behaviour
        return {"similarity": self.w * beh + (1 - self.w) * args, "behaviour": beh, "args": args}

    def unit_tests(self, t: EvolvedTool | None, ref: str) -> dict[str, Any]:
        """UT-soft/UT-hard of ``t`` on ``ref``'s held-out cases (``t`` None: unmatched, 0 on every case)."""
        hcs = self.cases_by_ref[ref]
        scores = [score_case(h.expected, self.run.on_case(t, h.case)) if t else (0.0, 0.0) for h in hcs]
        entry: dict[str, Any] = {
            "matched": t.name if t else None,
            "n_cases": len(hcs),
            "ut_soft": float(np.mean([s for s, _ in scores])) if scores else None,
            "ut_hard": float(np.mean([h for _, h in scores])) if scores else None,
            "by_kind": {},
        }
        for kind in KINDS:
            ks = [sc for h, sc in zip(hcs, scores) if h.kind == kind]
            if ks:
                entry["by_kind"][kind] = {"n": len(ks), "ut_soft": float(np.mean([s for s, _ in ks])),
                                          "ut_hard": float(np.mean([h for _, h in ks]))}  # fmt: skip
        return entry

    def smoke(self, t: EvolvedTool, ref: str | None) -> dict[str, Any]:
        """One sandbox call: a case of the matched reference where it succeeds (nominal first), else dummy args."""
        ok_cases = [h for h in self.cases_by_ref[ref] if h.expected.ok] if ref else []
        ok_cases.sort(key=lambda h: h.kind != "nominal")
        if ok_cases:
            out = self.run.on_case(t, ok_cases[0].case)
            args_from = f"{ok_cases[0].kind} case of {ref}"
        else:
            out = self.run.call(t, dummy_args(t.parameters), Case(self.ho_seed, t.name, {}, options=self.options))
            args_from = "schema-derived dummy arguments"
        return {
            "args_from": args_from,
            "ok": bool(out is not None and out.ok),
            "error": "a required argument is missing from the case" if out is None else out.error,
            "reason": None if out is None else out.reason,
        }

    @staticmethod
    def runnable(info: dict[str, Any]) -> bool:
        return bool(info["parse"] and info["policy"])  # code failing either is never run

    # -- populations ----------------------------------------------------------------------------------
    def library(self, tools: Sequence[EvolvedTool]) -> dict[str, Any]:
        """L1-L3 and the funnel of a library: one evolved tool per reference tool at most (assignment)."""
        per_tool: dict[str, dict[str, Any]] = {}
        for t in tools:
            if t.name in per_tool:
                raise ValueError(f"two evolved tools named {t.name!r}")
            per_tool[t.name] = {"version": t.version, **compliance_checks(t)}
        runnable = [t for t in tools if self.runnable(per_tool[t.name])]

        # L2 matching: exact names, then the Hungarian assignment over the rest.
        matching: dict[str, dict[str, Any]] = {}  # evolved name -> {reference, how, similarity...}
        for t in runnable:
            if t.name in self.ref_params:
                matching[t.name] = {"reference": t.name, "how": "name", **self.similarity(t, t.name)}
        rest_tools = [t for t in runnable if t.name not in matching]
        rest_refs = [r for r in self.scope if r not in {m["reference"] for m in matching.values()}]
        candidates: dict[str, list[dict[str, Any]]] = {}
        if rest_tools and rest_refs:
            sims = np.zeros((len(rest_tools), len(rest_refs)))
            detail: dict[tuple[int, int], dict[str, float]] = {}
            for i, t in enumerate(rest_tools):
                for j, r in enumerate(rest_refs):
                    detail[(i, j)] = self.similarity(t, r)
                    sims[i, j] = detail[(i, j)]["similarity"]
                best = sorted(range(len(rest_refs)), key=lambda j: -sims[i, j])[:3]
                candidates[t.name] = [{"reference": rest_refs[j], **detail[(i, j)]} for j in best]
            rows, cols = linear_sum_assignment(-sims)
            for i, j in zip(rows, cols):
                if sims[i, j] >= self.threshold:
                    matching[rest_tools[i].name] = {"reference": rest_refs[j], "how": "hungarian", **detail[(i, j)]}
        by_ref = {m["reference"]: name for name, m in matching.items()}
        tools_by_name = {t.name: t for t in tools}

        # L2 scores.
        n_matched = len(matching)
        tool_p, tool_r = _ratio(n_matched, len(tools)), _ratio(n_matched, len(self.scope))
        shared = pred = gold = type_ok = req_ok = 0
        for name, m in matching.items():
            ev, rp = tools_by_name[name].parameters, self.ref_params[m["reference"]]
            common = set(_props(ev)) & set(_props(rp))
            shared, pred, gold = shared + len(common), pred + len(_props(ev)), gold + len(_props(rp))
            type_ok += sum(_ptype(_props(ev)[k]) == _ptype(_props(rp)[k]) for k in common)
            req_ok += sum((k in _required(ev)) == (k in _required(rp)) for k in common)
            m["arg_f1"] = _f1(_ratio(len(common), len(_props(ev))), _ratio(len(common), len(_props(rp)))) if (
                _props(ev) or _props(rp)) else 1.0  # fmt: skip
        if n_matched and not pred and not gold:
            arg_p = arg_r = 1.0
        else:
            arg_p, arg_r = _ratio(shared, pred), _ratio(shared, gold)
        l2 = {
            "n_evolved": len(tools),
            "n_reference": len(self.scope),
            "n_matched": n_matched,
            "tool_precision": tool_p,
            "tool_recall": tool_r,
            "tool_f1": _f1(tool_p, tool_r),
            "arg_precision": arg_p,
            "arg_recall": arg_r,
            "arg_f1": _f1(arg_p, arg_r),
            "type_agreement": _ratio(type_ok, shared) if shared else None,
            "required_agreement": _ratio(req_ok, shared) if shared else None,
        }

        # L3 per reference tool (unmatched ones score 0 on every case).
        l3 = {ref: self.unit_tests(tools_by_name.get(by_ref.get(ref, "")), ref) for ref in self.scope}
        measured = [e for e in l3.values() if e["n_cases"]]
        library_l3 = {
            "ut_soft": float(np.mean([e["ut_soft"] for e in measured])) if measured else 0.0,
            "ut_hard": float(np.mean([e["ut_hard"] for e in measured])) if measured else 0.0,
            "n_reference_measured": len(measured),
            "n_reference_unmeasured": len(self.scope) - len(measured),
            "n_cases": sum(e["n_cases"] for e in measured),
        }

        for t in tools:  # smoke calls (exec) and each tool's own L3 figures
            info = per_tool[t.name]
            ref = matching[t.name]["reference"] if t.name in matching else None
            info["smoke"] = self.smoke(t, ref) if t in runnable else None
            info["exec"] = bool(info["smoke"] and info["smoke"]["ok"])
            info["matched"] = ref
            info["ut_soft"] = l3[ref]["ut_soft"] if ref else None
            info["ut_hard"] = l3[ref]["ut_hard"] if ref else None
        return {
            **self.header,
            "tools": per_tool,
            "l1": _l1_rates(list(per_tool.values())),
            "matching": matching,
            "match_candidates": candidates,
            "l2": l2,
            "l3": {"per_reference": l3, "library": library_l3},
            "funnel": _funnel(list(per_tool.values())),
            "sandbox_calls": self.run.calls,
        }

    def candidates(self, cands: Sequence[EvolvedTool]) -> dict[str, Any]:
        """L1, a match and L3 for every candidate on its own (no assignment: versions of one tool may
        all match the same reference tool), and the funnel over what the pipeline produced."""
        rows: list[dict[str, Any]] = []
        for t in cands:
            info: dict[str, Any] = {"name": t.name, "version": t.version, "status": t.status, **compliance_checks(t)}
            ref: str | None = None
            if self.runnable(info):
                if t.name in self.ref_params:
                    ref, info["match"] = t.name, {"how": "name", **self.similarity(t, t.name)}
                else:
                    sims = {r: self.similarity(t, r) for r in self.scope}
                    best = max(self.scope, key=lambda r: (sims[r]["similarity"], -self.scope.index(r)), default=None)
                    if best is not None and sims[best]["similarity"] >= self.threshold:
                        ref, info["match"] = best, {"how": "best", **sims[best]}
            info["smoke"] = self.smoke(t, ref) if self.runnable(info) else None
            info["exec"] = bool(info["smoke"] and info["smoke"]["ok"])
            info["matched"] = ref
            ut = self.unit_tests(t, ref) if ref else None
            info["ut_soft"] = ut["ut_soft"] if ut else None
            info["ut_hard"] = ut["ut_hard"] if ut else None
            rows.append(info)
        return {
            "n": len(rows),
            "tools": rows,
            "l1": _l1_rates(rows),
            "funnel": _funnel(rows),
            "by_status": {s: sum(r["status"] == s for r in rows) for s in sorted({str(r["status"]) for r in rows})},
        }


def _diagnosis(sandbox: Sandbox, world: str, protocol: str, seed: int, **kw: Any) -> _Diagnosis:
    defaults = {"reference_tools": None, "held_out_seed": None, "options": None, "edge_per_tool": 12,
                "threshold": 0.5, "behaviour_weight": 0.5, "seen_world_seeds": ()}  # fmt: skip
    unknown = set(kw) - set(defaults)
    if unknown:
        raise TypeError(f"unknown diagnostics settings {sorted(unknown)}; accepted: {sorted(defaults)}")
    return _Diagnosis(sandbox, world=world, protocol=protocol, seed=seed, **{**defaults, **kw})


def diagnose_tools(
    tools: Sequence[EvolvedTool], *, world: str, protocol: str, seed: int, sandbox: Sandbox | None = None, **kw: Any
) -> dict[str, Any]:
    """L1-L3 and the funnel of a library ``tools`` against the reference tools of ``world``/``protocol``.

    Settings (keywords): ``reference_tools`` (scope; None = all), ``held_out_seed``, ``options``
    (world options), ``edge_per_tool``, ``threshold``, ``behaviour_weight``, ``seen_world_seeds``
    (world seeds the held-out seed must avoid). See the module docstring.
    """
    with _sandbox(sandbox) as sb:
        return _diagnosis(sb, world, protocol, seed, **kw).library(tools)


def diagnose_candidates(
    cands: Sequence[EvolvedTool], *, world: str, protocol: str, seed: int, sandbox: Sandbox | None = None, **kw: Any
) -> dict[str, Any]:
    """L1, a per-candidate match, L3 and the funnel of every candidate (settings as ``diagnose_tools``)."""
    with _sandbox(sandbox) as sb:
        d = _diagnosis(sb, world, protocol, seed, **kw)
        return {**d.header, **d.candidates(cands), "sandbox_calls": d.run.calls}


# -- entry points ----------------------------------------------------------------------------------------
def _job_paths(path: str | Path) -> tuple[Path | None, Path | None, Path]:
    """(library.sqlite, library/ export directory, job directory) for a job dir, its library/ or its sqlite."""
    p = Path(path)
    if p.is_file():
        return p, (p.parent / "library") if (p.parent / "library").is_dir() else None, p.parent
    if (p / "library.sqlite").is_file():
        return p / "library.sqlite", (p / "library") if (p / "library").is_dir() else None, p
    if (p.parent / "library.sqlite").is_file():
        return p.parent / "library.sqlite", p, p.parent
    return None, p if p.is_dir() else None, p.parent


def read_tools(path: str | Path, *, every_version: bool = False) -> list[EvolvedTool]:
    """The active tools of a job's library (``every_version``: every candidate version, any status).

    Code of active tools comes from ``library/<name>.py`` when exported, everything else from
    library.sqlite, opened read-only.
    """
    db_path, export, _ = _job_paths(path)
    if db_path is None:
        raise FileNotFoundError(f"no library.sqlite for {path} (its schemas are only stored there)")
    # Read-only; a checkpointed (finished) database is also opened immutable, since a WAL-mode reader
    # would otherwise leave -wal/-shm files in the job directory.
    wal = db_path.with_name(db_path.name + "-wal")
    db = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro{'' if wal.exists() else '&immutable=1'}", uri=True)
    try:
        where = "" if every_version else "WHERE status = 'active' "
        sql = f"SELECT name, version, code, schema, status FROM tools {where}ORDER BY name, version"
        rows = db.execute(sql).fetchall()
    finally:
        db.close()
    tools = []
    for name, version, code, schema, status in rows:
        py = export / f"{name}.py" if export and status == "active" else None
        src = py.read_text(encoding="utf-8") if py is not None and py.is_file() else code
        params = json.loads(schema)
        desc = params.get("description") if isinstance(params, dict) else None
        tools.append(EvolvedTool(name, src, params, str(desc or ""), int(version), str(status)))
    return tools


def load_library(path: str | Path, *, every_version: bool = False) -> tuple[list[EvolvedTool], dict[str, Any]]:
    """``read_tools`` plus ``meta``: the job's world, protocol, seed, options (from result.json) and
    the world seeds its episodes used (read from its records)."""
    tools = read_tools(path, every_version=every_version)
    db_path, _, job = _job_paths(path)
    meta: dict[str, Any] = {"job": str(job), "library": str(db_path)}
    result = job / "result.json"
    if result.is_file():
        r = json.loads(result.read_text(encoding="utf-8"))
        meta.update(world=r.get("world"), protocol=r.get("protocol"), seed=r.get("seed"),
                    options=((r.get("config") or {}).get("world") or {}).get("options") or {})  # fmt: skip
    seen: set[int] = set()
    for fname in ("episodes.jsonl", "train_episodes.jsonl"):
        f = job / fname
        if f.is_file():
            for line in f.read_text(encoding="utf-8").splitlines():
                try:
                    seen.add(int(json.loads(line)["task"]["world_seed"]))
                except (ValueError, KeyError, TypeError):
                    continue
    meta["seen_world_seeds"] = sorted(seen)
    return tools, meta


def diagnose_library(
    library_dir_or_job_dir: str | Path,
    *,
    world: str,
    protocol: str,
    seed: int,
    sandbox: Sandbox | None = None,
    options: dict[str, Any] | None = None,
    candidates: bool = True,
    **kw: Any,
) -> dict[str, Any]:
    """L1-L3 and the funnel of a finished arise job's active tools, plus (``candidates``) L1, L3 and
    the funnel of every candidate version it produced under ``"candidates"`` (JSON-serialisable).

    ``options`` defaults to the world options in the job's result.json; other settings as
    ``diagnose_tools``. The job's own world seeds are never used as the held-out world.
    """
    tools, meta = load_library(library_dir_or_job_dir)
    for key, want in (("world", world), ("protocol", protocol), ("seed", seed)):
        if meta.get(key) is not None and meta[key] != want:
            raise ValueError(f"the job ran with {key}={meta[key]!r}, not {want!r}")
    opts = options if options is not None else meta.get("options") or None
    seen = [*meta["seen_world_seeds"], *kw.pop("seen_world_seeds", ())]
    with _sandbox(sandbox) as sb:
        d = _diagnosis(sb, world, protocol, seed, options=opts, seen_world_seeds=seen, **kw)
        out = d.library(tools)
        if candidates:
            every = read_tools(library_dir_or_job_dir, every_version=True)
            out["candidates"] = d.candidates(every)
        out["sandbox_calls"] = d.run.calls
    out["job"] = {k: v for k, v in meta.items() if k != "seen_world_seeds"}
    return out


def reference_as_evolved(world: str, protocol: str) -> list[EvolvedTool]:
    """The world's reference tools as self-contained modules (``envs.bundle``) with their own schemas."""
    from envs.bundle import bundle_tool

    out = []
    for fn in get_suite(world, protocol).reference_tools():
        spec = tool_spec(fn)
        out.append(EvolvedTool(spec.name, bundle_tool(fn), spec.parameters, spec.description))
    return out


def diagnose_reference(
    world: str, protocol: str, seed: int, *, sandbox: Sandbox | None = None, **kw: Any
) -> dict[str, Any]:
    """The reference tools (bundled, run in the sandbox) scored against themselves: 1.0 on every layer."""
    return diagnose_tools(reference_as_evolved(world, protocol), world=world, protocol=protocol, seed=seed,
                          sandbox=sandbox, **kw)  # fmt: skip


__all__ = [
    "EvolvedTool",
    "HeldOutCase",
    "compliance_checks",
    "diagnose_candidates",
    "diagnose_library",
    "diagnose_reference",
    "diagnose_tools",
    "field_fraction",
    "held_out_cases",
    "load_library",
    "read_tools",
    "reference_as_evolved",
    "score_case",
]
