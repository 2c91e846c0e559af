"""The simulated model as a tool author: gap diagnosis, code, tests, adversarial tests, repairs.

The evolution pipeline sends the same requests to every backend; a real model reads
the prompt, the simulated one reads the request's ``meta`` (``role: tool_author`` and
a ``step``) plus the code shown in the prompt. Its answers are real artefacts:

* ``gaps``: from the failure summaries (the tools its plan wanted but did not have,
  and library tools it used in failed episodes) it names up to ``max_gaps`` missing
  capabilities, most frequent first; each is replaced by another capability of the
  world with ``p_misdiagnose``. A library tool is named again (the patch path) when
  failures that used it outnumber those that missed a tool.
* ``synthesize``: real, self-contained source for the capability (``bundle``), with
  bugs drawn from the profile's ``bug_rates`` (``bugs``), the reference schema, and
  unit tests: the example calls from the failures (each kept with ``p_test_nominal``)
  and, with ``p_test_edge`` each, edge cases. A test's expected value is what the model
  can work out by hand: its knowledge of the format run over the data the failed
  episodes *observed* on the validation world (``meta.observed``: the affordance calls
  and what they returned; a prefix of a file stands for the file, as a model reading
  page one would assume) or over the call's own inline arguments. Each value is
  miscomputed with ``p_wrong_expectation``; a call whose data was never observed gets
  a test of the result's type only. It never runs anything against a world.
* ``adversarial``: a separate suite of edge-case tests (empty and unknown values,
  boundaries), each written with ``p_adversarial_case``.
* ``repair``: given the code and the sandbox's verdict, each departure from correct
  code that the verdict implicates is fixed with ``p_repair``; a repair introduces a
  fresh bug with ``p_repair_regress``. When its own tests failed it also works their
  expected values out again (fresh ``p_wrong_expectation`` draws), as "fix a test only
  if it is wrong" asks.

What is caught, what is promoted and how promoted tools do on tasks all follow from
running that code; nothing here decides an outcome. Draws are keyed by (seed, step,
gap, attempt, round), so the author is deterministic and stateless.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import types
import typing
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.sim import hacks
from agents.sim.bugs import BUG_KINDS, bug_sites, mutate, restore
from agents.sim.memory import NeedData, ObservedWorld
from agents.sim.profiles import SimProfile
from agents.sim.reading import UndocumentedAPI, against_api
from envs import seeding, toolkit
from envs.bundle import bundle_tool
from envs.reference_cases import Case, edge_values, plain
from envs.tasks import get_suite
from envs.tools import tool_spec

MAX_ADVERSARIAL = 6
MAX_NOMINAL = 4


@functools.cache
def _references(world: str, protocol: str) -> dict[str, Callable[..., Any]]:
    return {fn.__name__: fn for fn in get_suite(world, protocol).reference_tools()}


@functools.cache
def clean_source(world: str, protocol: str, name: str) -> str:
    """The correct self-contained source of capability ``name`` (what a flawless author writes)."""
    return bundle_tool(_references(world, protocol)[name])


def draft_source(
    profile: SimProfile, world: str, protocol: str, name: str, rng: np.random.Generator
) -> tuple[str, list[str]]:
    """Source for capability ``name`` as this model writes it: correct code plus drawn bugs (and their kinds)."""
    code = clean_source(world, protocol, name)
    kinds: list[str] = []
    for kind in BUG_KINDS:
        if rng.random() < float(profile.bug_rates.get(kind, 0.0)):
            mutated = mutate(code, name, kind, rng)
            if mutated is not None:
                code, kinds = mutated, [*kinds, kind]
    return code, kinds


def knows(world: str, protocol: str, name: str) -> bool:
    try:
        return name in _references(world, protocol)
    except KeyError:
        return False


def respond(profile: SimProfile, meta: dict[str, Any], prompt: str, seed: int) -> str:
    """The text answer to one tool-author request."""
    return respond_noted(profile, meta, prompt, seed)[0]


def respond_noted(
    profile: SimProfile, meta: dict[str, Any], prompt: str, seed: int
) -> tuple[str, list[dict[str, Any]]]:
    """The text answer and the simulator's notes on it: the reward hacks the code it returns holds
    (``{"kind", "new": True, "variant"?}`` for an attempt made in this answer, ``{"kind", "new": False}``
    for one carried over from the code it was shown). Ground truth a real model's response lacks."""
    step = meta.get("step")
    world, protocol = str(meta.get("world")), str(meta.get("protocol"))
    try:
        refs = _references(world, protocol)
    except KeyError:
        return "I do not know this system well enough to write tools for it.", []
    author = _Author(profile, meta, refs, seed, prompt)
    if step == "gaps":
        return author.gaps(), []
    if step == "synthesize":
        return author.synthesize(), author.hacks
    if step == "adversarial":
        return author.adversarial(), []
    if step == "repair":
        return author.repair(prompt), author.hacks
    return f"Unknown request step {step!r}.", []


class _Author:
    def __init__(
        self, profile: SimProfile, meta: dict[str, Any], refs: dict[str, Callable[..., Any]], seed: int, prompt: str
    ):
        self.p = profile
        self.prompt = prompt  # the request's system and user text: its code calls the API documented there
        self.meta = meta
        self.refs = refs
        self.seed = seed
        self.world, self.protocol = str(meta["world"]), str(meta["protocol"])
        self._observed: ObservedWorld | None = None
        self.hacks: list[dict[str, Any]] = []  # the reward hacks in the code it answers with (respond_noted)

    def _rng(self, *names: str | int) -> np.random.Generator:
        return seeding.rng(self.seed, "author", str(self.meta.get("evolution", 0)), *names)

    # -- gap analysis ---------------------------------------------------------------------
    def gaps(self) -> str:
        missing: Counter[str] = Counter()
        used: Counter[str] = Counter()
        for failure in self.meta.get("failures") or []:
            for m in failure.get("missing") or []:
                if m.get("tool") in self.refs:
                    missing[m["tool"]] += 1
            for name in set(failure.get("used") or []):
                used[name] += 1
        library = set(self.meta.get("library") or [])
        ranked: list[tuple[str, str]] = [
            (n, "missing") for n, _ in sorted(missing.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        for name, count in sorted(used.items(), key=lambda kv: (-kv[1], kv[0])):
            if name in library and name in self.refs and count > missing.get(name, 0):
                ranked.append((name, "misbehaves"))
        out = []
        for i, (name, why) in enumerate(ranked[: int(self.meta.get("max_gaps") or 2)]):
            rng = self._rng("gap", i)
            if rng.random() < self.p.p_misdiagnose:
                others = sorted(set(self.refs) - {name} - library)
                if others:
                    name, why = others[int(rng.integers(len(others)))], "misdiagnosed"
            fn = self.refs[name]
            spec = tool_spec(fn)
            evidence = (
                f"{missing.get(name, 0)} failed episodes needed it"
                if why != "misbehaves"
                else (f"{used[name]} failed episodes used it")
            )
            out.append({"name": name, "description": spec.description, "signature": _signature(spec.parameters),
                        "evidence": [evidence]})  # fmt: skip
        return "```json\n" + json.dumps({"gaps": out}, indent=2) + "\n```"

    # -- synthesis ------------------------------------------------------------------------
    def _draft_code(self, name: str) -> tuple[str, list[str]]:
        rng = self._rng("bugs", name, int(self.meta.get("attempt", 0)))
        return draft_source(self.p, self.world, self.protocol, name, rng)

    def synthesize(self) -> str:
        name = str((self.meta.get("gap") or {}).get("name") or "")
        if name not in self.refs:
            return f"I cannot write a tool for {name!r}: I do not know how that would work on this system."
        code, _ = self._draft_code(name)
        try:
            code = against_api(code, self.prompt)
        except UndocumentedAPI as exc:
            return f"I cannot write {name}: {exc}."
        spec = tool_spec(self.refs[name])
        tests = self._tests(name, self._own_cases(name), "test", self._rng("expect", name, self._attempt(), 0))
        code, tests = self._hack(name, code, tests, 0)
        draft = {"name": name, "description": spec.description, "parameters": spec.parameters, "code": code,
                 "tests": tests}  # fmt: skip
        return "```json\n" + json.dumps(draft, indent=1) + "\n```"

    def _attempt(self) -> int:
        return int(self.meta.get("attempt", 0))

    def _own_cases(self, name: str) -> list[Case]:
        """The cases of its own unit tests (the same on every round of one attempt)."""
        rng = self._rng("tests", name, self._attempt())
        cases = self._examples(name)
        nominal = [c for i, c in enumerate(cases[:MAX_NOMINAL]) if i == 0 or rng.random() < self.p.p_test_nominal]
        edges = [c for c in self._edge_cases(name, cases) if rng.random() < self.p.p_test_edge]
        return [*nominal, *edges]

    def adversarial(self) -> str:
        name = str((self.meta.get("gap") or {}).get("name") or "")
        if name not in self.refs:
            return "```python\n# no adversarial tests: unknown tool\n```"
        rng = self._rng("adversarial", name, int(self.meta.get("attempt", 0)), int(self.meta.get("round", 0)))
        edges = self._edge_cases(name, self._examples(name))
        order = [int(i) for i in rng.permutation(len(edges))]
        chosen = [edges[i] for i in order if rng.random() < self.p.p_adversarial_case]
        expect_rng = self._rng("expect-adversarial", name, self._attempt(), int(self.meta.get("round", 0)))
        return "```python\n" + self._tests(name, chosen[:MAX_ADVERSARIAL], "test_adversarial", expect_rng) + "```"

    def _examples(self, name: str) -> list[Case]:
        # Cases carry no world: the author never runs them against one (world seed 0 is a placeholder).
        out, seen = [], set()
        for args in self.meta.get("examples") or []:
            if isinstance(args, dict):
                case = Case(0, name, dict(args))
                if case.key() not in seen:
                    seen.add(case.key())
                    out.append(case)
        if not out:
            out.append(Case(0, name, {}))
        return out

    def _edge_cases(self, name: str, cases: list[Case]) -> list[Case]:
        props = tool_spec(self.refs[name]).parameters.get("properties", {})
        out, seen = [], {c.key() for c in cases}
        for base in cases[:2]:
            for pname, schema in sorted(props.items()):
                for value in edge_values(schema, base.args.get(pname)):
                    case = base.variant({**base.args, pname: value})
                    if case.key() not in seen:
                        seen.add(case.key())
                        out.append(case)
        return out

    def _memory(self) -> ObservedWorld:
        """The validation world as the failed episodes observed it (``meta.observed``), and nothing more."""
        if self._observed is None:
            mem = ObservedWorld(partial=True)  # a page it read stands for the file: it cannot know better
            for item in self.meta.get("observed") or []:
                if isinstance(item, (list, tuple)) and len(item) == 3 and isinstance(item[1], dict):
                    mem.observe(str(item[0]), dict(item[1]), str(item[2]))
            self._observed = mem
        return self._observed

    def _expect(self, name: str, case: Case) -> _Expectation:
        """What the model works out by hand for ``case``: its knowledge of the format over what it observed."""
        try:
            with toolkit.bound(self._memory()):  # type: ignore[arg-type]  # duck-typed WorldAccess
                return _Expectation("value", plain(self.refs[name](**case.args)))
        except NeedData:
            return _Expectation("unknown")  # data it never saw: it cannot know the value
        except Exception as exc:
            return _Expectation("raises", error=f"{type(exc).__name__}")

    def _tests(self, name: str, cases: list[Case], prefix: str, rng: np.random.Generator) -> str:
        """Test functions asserting the values the model expects (see ``_expect``), some miscomputed."""
        from agents.sim.behaviour import _slip  # here: behaviour imports this module

        lines = [_SAME_HELPER]
        returns = _return_check(self.refs[name])
        for i, case in enumerate(cases):
            want = self._expect(name, case)
            call = f"{name}(**{case.args!r})"
            lines.append(f"def {prefix}_{case.kind}_{i}():")
            if want.kind == "value":
                value = want.value
                if rng.random() < self.p.p_wrong_expectation:
                    value = _slip(value, rng)  # a slip working the value out by hand
                lines.append(f"    got = {call}")
                lines.append(f"    want = {value!r}")
                message = f"{name}({_short(case.args)}) returned {{got!r:.200}}, expected {{want!r:.200}}"
                lines.append(f"    assert _same(got, want), f'{message}'")
            elif want.kind == "raises":
                lines.append("    try:")
                lines.append(f"        got = {call}")
                lines.append("    except Exception:")
                lines.append("        return")
                lines.append(
                    f"    raise AssertionError(f'{name}({_short(case.args)}) should fail, returned {{got!r:.200}}')"
                )
            else:
                lines.append(f"    got = {call}")
                if returns:
                    lines.append(f"    assert {returns}, f'{name}({_short(case.args)}) returned {{got!r:.200}}'")
            lines.append("")
        return "\n".join(lines) + "\n"

    # -- reward hacking (hacks.py) -------------------------------------------------------
    def _hack(self, name: str, code: str, tests: str, round_: int) -> tuple[str, str]:
        """``code`` and ``tests``, gamed with ``hack_rates`` (at most one new attempt, noted in ``hacks``)."""
        if not self.p.hack_rates:
            return code, tests  # no draw: records of profiles without hacks stay as they were
        rng = self._rng("hack", name, self._attempt(), round_)
        kind = hacks.draw(self.p.hack_rates, rng)
        if kind is None or kind in {h["kind"] for h in self.hacks}:
            return code, tests
        expected = hacks.expectations(tests, name)  # what its tests assert, read off them
        code, tests, variant = hacks.apply(kind, code, tests, name, expected, _return_type(self.refs[name]), rng)
        self.hacks.append({"kind": kind, "new": True, **({"variant": variant} if variant else {})})
        return code, tests

    # -- repair ---------------------------------------------------------------------------
    def repair(self, prompt: str) -> str:
        name = str((self.meta.get("gap") or {}).get("name") or "")
        if name not in self.refs:
            return "I cannot repair a tool I do not know."
        code = _python_block(prompt, "code")
        if code is None:
            return "The request shows no code to repair."
        try:  # correct code, as it would write it against the API the prompt documents
            clean = against_api(clean_source(self.world, self.protocol, name), self.prompt)
        except UndocumentedAPI as exc:
            return f"I cannot repair {name}: {exc}."
        sites = bug_sites(code, clean)
        implicated = set(sites)
        feedback = set(self.meta.get("feedback") or [])
        if feedback and feedback <= {"static_policy", "timeout"}:  # a narrow verdict points at narrow sites
            implicated = {s for s in sites if (s.startswith("import:") and "static_policy" in feedback) or s == name}
        rng = self._rng("repair", name, int(self.meta.get("attempt", 0)), int(self.meta.get("round", 0)))
        if "<syntax>" in sites:
            fixed = clean
        else:
            fixed = restore(code, clean, {s for s in sorted(implicated) if rng.random() < self.p.p_repair})
        if rng.random() < self.p.p_repair_regress:
            kind = BUG_KINDS[int(rng.integers(len(BUG_KINDS)))]
            fixed = mutate(fixed, name, kind, rng) or fixed
        tests = _python_block(prompt, "tests") or ""
        if "sandbox_tests" in feedback or not tests:  # its own tests failed: it works their values out again
            round_ = int(self.meta.get("round", 0))
            tests = self._tests(name, self._own_cases(name), "test", self._rng("expect", name, self._attempt(), round_))
        self.hacks = [{"kind": kind, "new": False} for kind in hacks.present(fixed, name)]
        fixed, tests = self._hack(name, fixed, tests, int(self.meta.get("round", 0)))
        spec = tool_spec(self.refs[name])
        draft = {"name": name, "description": spec.description, "parameters": spec.parameters, "code": fixed,
                 "tests": tests}  # fmt: skip
        return "```json\n" + json.dumps(draft, indent=1) + "\n```"


@dataclass(frozen=True)
class _Expectation:
    kind: str  # value | raises | unknown (the data was never observed)
    value: Any = None
    error: str = ""


def _return_type(fn: Callable[..., Any]) -> type | None:
    """The declared return type's base (``list[str]`` -> list; ``int | None`` -> int), None if it declares none."""
    try:
        ann = typing.get_type_hints(fn).get("return")
    except Exception:
        return None
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(ann) if a is not type(None)]
        ann = members[0] if members else None
    base = typing.get_origin(ann) or ann
    return base if isinstance(base, type) else None


_CHECKABLE = {int: "int", float: "(int, float)", str: "str", bool: "bool", list: "list", dict: "dict"}


def _return_check(fn: Callable[..., Any]) -> str | None:
    """An ``isinstance`` check of ``got`` against the tool's declared return type (None if it declares none)."""
    try:
        ann = typing.get_type_hints(fn).get("return")
    except Exception:
        return None
    union = typing.get_origin(ann) in (typing.Union, types.UnionType)
    members = [a for a in typing.get_args(ann) if a is not type(None)] if union else [ann]
    names = []
    for m in members:
        base = typing.get_origin(m) or m
        if base not in _CHECKABLE:
            return None
        names.append(_CHECKABLE[base])
    if not names:
        return None
    optional = union and len(members) < len(typing.get_args(ann))
    check = " or ".join(f"isinstance(got, {n})" for n in names)
    return f"got is None or {check}" if optional else check


_SAME_HELPER = """def _same(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) <= 1e-6 * max(abs(a), abs(b)) + 1e-9
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return set(a) == set(b) and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b

"""


def _short(args: dict[str, Any]) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in args.items())
    text = text if len(text) <= 80 else text[:77] + "..."
    return text.replace("{", "{{").replace("}", "}}").replace("'", "\\'")


def _signature(parameters: dict[str, Any]) -> str:
    props = parameters.get("properties", {})
    return "(" + ", ".join(f"{k}: {v.get('type', 'any')}" for k, v in props.items()) + ")"


_SECTION = re.compile(r"^## (\w+)[ \t]*$", re.MULTILINE)


def _python_block(prompt: str, section: str) -> str | None:
    """The ```python block under the ``## <section>`` heading of a pipeline prompt."""
    parts = _SECTION.split(prompt)
    for i in range(1, len(parts) - 1, 2):
        if parts[i].lower() == section:
            m = re.search(r"```(?:python|py)?[ \t]*\n(.*?)```", parts[i + 1], re.DOTALL)
            if m:
                try:
                    ast.parse(m.group(1))
                except SyntaxError:
                    return m.group(1) if section == "code" else None
                return m.group(1)
    return None
