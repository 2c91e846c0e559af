"""AcmeConf: AcmeCorp's line-based service configuration language.

The handbook page ``envs/acmecorp/handbook/acmeconf.md`` is the user-facing
specification; this module implements exactly that text. In short:

* one statement per line: ``# comment`` lines, ``@include "path"`` (top level only),
  ``defaults {`` / ``service <name> {`` block headers, ``}`` and ``key = value``
  inside a block. A ``#`` outside a quoted string starts a comment.
* ``${VAR}`` and ``${VAR:-default}`` are substituted from the world's env file
  (``config/env``, never the host's environment) in the value text *before* the
  value is typed, so ``replicas = ${N:-3}`` is an integer.
* values: integers, floats, ``true``/``false``, quoted strings (escapes ``\\"``,
  ``\\\\``, ``\\n``, ``\\t``), bare words (strings), one-line lists ``[a, "b", 3]`` and
  durations (``500ms``, ``30s``, ``5m``, ``2h``, ``1d`` and compounds such as
  ``1h30m``), which become seconds (an ``int`` when whole, else a ``float``).
* evaluation: the files an entry point includes are applied before the entry point
  itself (depth first, in order, each file at most once); the same service in
  several places is merged key by key, later wins; ``defaults`` keys apply to every
  service that does not set them.
* validation against ``SCHEMA`` with stable issue codes (``CODES``).

Public API: ``parse_duration``, ``format_duration``, ``parse_value``, ``parse_env``,
``load_config`` (-> ``Config``), ``validate``, ``load_tree``, ``load_snapshot``,
``parse_deploy_log``, ``service_versions``, ``diff_values``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# -- layout of a world's configuration ------------------------------------------
ENTRY = "config/main.acme"
ENV_PATH = "config/env"
DEPLOY_LOG = "config/deploys.log"
HISTORY_DIR = "config/history"
INITIAL = "initial"  # pseudo deploy id: each service file before its first deploy

# -- issue codes -----------------------------------------------------------------
E_MISSING = "ACME-E001"
E_UNKNOWN_DEP = "ACME-E002"
E_CYCLE = "ACME-E003"
E_TYPE = "ACME-E004"
E_UNRESOLVED = "ACME-E005"
E_INCLUDE = "ACME-E006"
E_SYNTAX = "ACME-E007"

CODES: dict[str, str] = {
    E_MISSING: "missing required field",
    E_UNKNOWN_DEP: "unknown dependency",
    E_CYCLE: "dependency cycle",
    E_TYPE: "type error",
    E_UNRESOLVED: "unresolved variable",
    E_INCLUDE: "missing include",
    E_SYNTAX: "syntax error",
}


class AcmeConfError(ValueError):
    """Bad input to the API itself (unknown entry point, malformed deploy log, ...)."""


class _ValueSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class Issue:
    """One validation finding, located at a file and 1-based line."""

    code: str
    file: str
    line: int
    service: str | None
    key: str | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "file": self.file,
            "line": self.line,
            "service": self.service,
            "key": self.key,
            "message": self.message,
        }

    def sort_key(self) -> tuple[str, int, str, str, str, str]:
        return (self.file, self.line, self.code, self.service or "", self.key or "", self.message)


# -- schema ----------------------------------------------------------------------
@dataclass(frozen=True)
class KeySpec:
    """Type and constraints of a known service key.

    ``type`` is one of: int, float, bool, string, path, duration, enum, services.
    """

    name: str
    type: str
    required: bool = False
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    doc: str = ""

    def expects(self) -> str:
        """Human description of the accepted values (used in messages and the handbook)."""
        if self.type == "int":
            rng = ""
            if self.min is not None and self.max is not None:
                rng = f" between {self.min:g} and {self.max:g}"
            elif self.min is not None:
                rng = f" >= {self.min:g}"
            return f"an integer{rng}"
        if self.type == "float":
            return "a number" + (f" > {self.min:g}" if self.min is not None else "")
        if self.type == "bool":
            return "true or false"
        if self.type == "string":
            return "a string (quoted or a bare word)"
        if self.type == "path":
            return "a string starting with '/'"
        if self.type == "duration":
            return "a duration such as 30s, 1m30s or 1500ms (or a plain number of seconds)"
        if self.type == "enum":
            return "one of " + ", ".join(self.choices)
        if self.type == "services":
            return "a list of service names, e.g. [auth, database] or []"
        raise AssertionError(self.type)


SCHEMA: dict[str, KeySpec] = {
    s.name: s
    for s in (
        KeySpec("replicas", "int", required=True, min=0, doc="number of instances"),
        KeySpec("timeout", "duration", required=True, min=0, doc="upstream request timeout"),
        KeySpec("deps", "services", required=True, doc="services this service calls (may be empty)"),
        KeySpec("health_check", "path", required=True, doc="HTTP path of the health endpoint"),
        KeySpec("port", "int", min=1, max=65535, doc="listening port"),
        KeySpec("memory_mb", "int", min=1, doc="memory limit per instance, MiB"),
        KeySpec("pool_size", "int", min=1, doc="connection pool size per instance"),
        KeySpec("rate_limit", "int", min=1, doc="accepted requests per second per instance"),
        KeySpec("retries", "int", min=0, doc="retries of a failed upstream call"),
        KeySpec("enabled", "bool", doc="whether the service is deployed"),
        KeySpec("owner", "string", doc="owning team"),
        KeySpec("cpu_limit", "float", min=0, doc="CPU cores per instance (must be > 0)"),
        KeySpec("connect_timeout", "duration", min=0, doc="TCP connect timeout"),
        KeySpec("log_level", "enum", choices=("debug", "info", "warn", "error"), doc="minimum log severity"),
        KeySpec("description", "string", doc="free text"),
    )
}
REQUIRED_KEYS: tuple[str, ...] = tuple(k for k, s in SCHEMA.items() if s.required)

# -- durations -------------------------------------------------------------------
_UNIT_MS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1))
_DURATION = re.compile(r"(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m(?!s))?(?:([0-9]+)s)?(?:([0-9]+)ms)?")
_DURATION_HELP = (
    "expected one or more <integer><unit> parts with units d, h, m, s, ms in that order, "
    "each at most once, e.g. 30s, 1h30m, 1m30s500ms, 1500ms"
)


def _seconds(total_ms: int) -> int | float:
    return total_ms // 1000 if total_ms % 1000 == 0 else total_ms / 1000


def _duration_ms(text: str) -> int | None:
    m = _DURATION.fullmatch(text)
    if not text or m is None or not any(m.groups()):
        return None
    return sum(int(g) * mult for g, (_, mult) in zip(m.groups(), _UNIT_MS, strict=True) if g)


def parse_duration(text: str) -> int | float:
    """Seconds denoted by a duration literal: ``"1h30m"`` -> 5400, ``"1500ms"`` -> 1.5.

    The result is an ``int`` when it is a whole number of seconds, else a ``float``.
    Raises ``ValueError`` naming the accepted forms when ``text`` is not a duration.
    """
    if not isinstance(text, str):
        raise ValueError(f"duration must be a string such as '30s', got {type(text).__name__}")
    ms = _duration_ms(text.strip())
    if ms is None:
        raise ValueError(f"invalid duration {text!r}: {_DURATION_HELP}")
    return _seconds(ms)


def format_duration(seconds: float) -> str:
    """Canonical literal for a number of seconds (rounded to ms): 5400 -> ``"1h30m"``, 0.25 -> ``"250ms"``."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds != seconds:
        raise ValueError(f"seconds must be a number, got {seconds!r}")
    if seconds < 0:
        raise ValueError(f"durations cannot be negative, got {seconds!r}")
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    parts = []
    for unit, mult in _UNIT_MS:
        q, ms = divmod(ms, mult)
        if q:
            parts.append(f"{q}{unit}")
    return "".join(parts)


# -- values ----------------------------------------------------------------------
@dataclass(frozen=True)
class Value:
    """A lexically typed value. ``kind``: int, float, bool, string, word, duration, list."""

    kind: str
    value: Any
    text: str

    def plain(self) -> Any:
        if self.kind == "list":
            return [v.plain() for v in self.value]
        return self.value


_INT = re.compile(r"-?[0-9]+")
_FLOAT = re.compile(r"-?[0-9]+\.[0-9]+")
_BARE = re.compile(r"[^\s\"'\[\]{},=#]+")
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}


def _parse_quoted(text: str) -> tuple[str, int]:
    """Parse a quoted string at the start of ``text``; returns (value, index after the closing quote)."""
    out = []
    i = 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if i + 1 >= len(text):
                break
            nxt = text[i + 1]
            if nxt not in _ESCAPES:
                raise _ValueSyntaxError(
                    f'unknown escape \\{nxt} in a quoted string; accepted escapes: \\" \\\\ \\n \\t'
                )
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        if ch == '"':
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise _ValueSyntaxError('unterminated quoted string (missing closing ")')


def _parse_scalar(text: str, in_list: bool = False) -> Value:
    t = text.strip()
    if not t:
        raise _ValueSyntaxError("empty list element" if in_list else "missing value after '='")
    if t[0] == '"':
        s, end = _parse_quoted(t)
        if t[end:].strip():
            raise _ValueSyntaxError(f"unexpected text {t[end:].strip()!r} after the closing quote")
        return Value("string", s, t)
    if t[0] == "[":
        raise _ValueSyntaxError("lists cannot be nested")
    if t in ("true", "false"):
        return Value("bool", t == "true", t)
    if _INT.fullmatch(t):
        return Value("int", int(t), t)
    if _FLOAT.fullmatch(t):
        return Value("float", float(t), t)
    ms = _duration_ms(t)
    if ms is not None:
        return Value("duration", _seconds(ms), t)
    if _BARE.fullmatch(t):
        return Value("word", t, t)
    raise _ValueSyntaxError(
        f'unquoted value {t!r} contains whitespace or one of " \' [ ] {{ }} , = #; quote it like "..."'
    )


def _split_list(inner: str) -> list[str]:
    items, cur, in_q, esc = [], [], False, False
    for ch in inner:
        if in_q:
            cur.append(ch)
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_q = False
        elif ch == '"':
            in_q = True
            cur.append(ch)
        elif ch == ",":
            items.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    items.append("".join(cur))
    return items


def parse_value(text: str) -> Value:
    """Lexically type one value (after variable substitution).

    Raises ``ValueError`` with a message saying what is wrong and what is accepted.
    """
    t = text.strip()
    if t.startswith("["):
        if not t.endswith("]"):
            raise _ValueSyntaxError("list is not closed: a list must end with ']' on the same line, nothing after it")
        inner = t[1:-1]
        if not inner.strip():
            return Value("list", [], t)
        return Value("list", [_parse_scalar(x, in_list=True) for x in _split_list(inner)], t)
    return _parse_scalar(t)


def check_key(key: str, val: Value) -> Any:
    """The typed value of ``key`` per ``SCHEMA``; raises ``ValueError`` (a type error) when it does not fit.

    Keys outside the schema keep their lexical type (lists as lists of plain values).
    """
    spec = SCHEMA.get(key)
    if spec is None:
        return val.plain()
    got = f"{_KIND_NAMES[val.kind]} {val.text}"
    v: Any = val.value
    kind = val.kind
    if spec.type == "int":
        if kind != "int":
            raise ValueError(f"key '{key}' expects {spec.expects()}, got {got}")
    elif spec.type == "float":
        if kind not in ("int", "float"):
            raise ValueError(f"key '{key}' expects {spec.expects()}, got {got}")
        v = float(v)
        if spec.min is not None and v <= spec.min:
            raise ValueError(f"key '{key}' expects {spec.expects()}, got {val.text}")
        return v
    elif spec.type == "bool":
        if kind != "bool":
            raise ValueError(f"key '{key}' expects {spec.expects()}, got {got}")
        return v
    elif spec.type in ("string", "path", "enum"):
        if kind not in ("string", "word"):
            raise ValueError(f"key '{key}' expects {spec.expects()}, got {got}")
        if spec.type == "path" and not v.startswith("/"):
            raise ValueError(f"key '{key}' expects {spec.expects()}, got {v!r}")
        if spec.type == "enum" and v not in spec.choices:
            raise ValueError(f"key '{key}' expects {spec.expects()}, got {v!r}")
        return v
    elif spec.type == "duration":
        if kind not in ("duration", "int", "float"):
            raise ValueError(f"key '{key}' expects {spec.expects()}, got {got}")
        if kind == "float" and float(v).is_integer():
            v = int(v)
    elif spec.type == "services":
        if kind != "list":
            raise ValueError(f"key '{key}' expects {spec.expects()}, got {got}")
        names = []
        for item in val.value:
            if item.kind not in ("string", "word") or not _SERVICE_NAME.fullmatch(item.value):
                raise ValueError(
                    f"key '{key}' expects service names (lowercase letters, digits, '-' and '_', "
                    f"starting with a letter), got {item.text}"
                )
            names.append(item.value)
        return names
    # numeric range checks (int and duration)
    if spec.min is not None and v < spec.min:
        raise ValueError(f"key '{key}' expects {spec.expects()}, got {val.text} (below the minimum)")
    if spec.max is not None and v > spec.max:
        raise ValueError(f"key '{key}' expects {spec.expects()}, got {val.text} (above the maximum)")
    return v


_KIND_NAMES = {
    "int": "integer",
    "float": "float",
    "bool": "boolean",
    "string": "string",
    "word": "bare word",
    "duration": "duration",
    "list": "list",
}

# -- variables -------------------------------------------------------------------
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class VarUse:
    """One ``${...}`` reference: where, and how it resolved (source: env, default or unresolved)."""

    name: str
    default: str | None
    source: str
    value: str | None
    file: str
    line: int
    service: str | None
    key: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "default": self.default,
            "source": self.source,
            "value": self.value,
            "file": self.file,
            "line": self.line,
            "service": self.service,
            "key": self.key,
        }


def substitute(text: str, env: Mapping[str, str]) -> tuple[str, list[tuple[str, str | None, str, str | None]]]:
    """Expand ``${VAR}`` / ``${VAR:-default}`` once (substituted text is not rescanned).

    ``${VAR:-default}`` takes ``default`` when VAR is unset *or empty*; ``${VAR}`` with an
    unset VAR is unresolved (it expands to nothing and is reported). A ``$`` not followed
    by ``{`` is literal. Returns (text, [(name, default, source, value)]); raises
    ``ValueError`` for a malformed reference.
    """
    if "${" not in text:
        return text, []
    out: list[str] = []
    uses: list[tuple[str, str | None, str, str | None]] = []
    i = 0
    while True:
        j = text.find("${", i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        end = text.find("}", j + 2)
        if end < 0:
            raise _ValueSyntaxError("variable reference '${' is not closed with '}'")
        body = text[j + 2 : end]
        name, sep, default = body.partition(":-")
        if not _VAR_NAME.fullmatch(name) or (not sep and body != name):
            raise _ValueSyntaxError(
                f"malformed variable reference ${{{body}}}; accepted forms: ${{NAME}} and ${{NAME:-default}}"
            )
        dflt = default if sep else None
        val = env.get(name)
        if dflt is not None:
            if val:
                uses.append((name, dflt, "env", val))
                out.append(val)
            else:
                uses.append((name, dflt, "default", dflt))
                out.append(dflt)
        elif val is not None:
            uses.append((name, None, "env", val))
            out.append(val)
        else:
            uses.append((name, None, "unresolved", None))
        i = end + 1
    return "".join(out), uses


def parse_env(text: str, path: str = ENV_PATH) -> tuple[dict[str, str], list[Issue]]:
    """Parse an env file: ``NAME=value`` lines, full-line ``#`` comments, blank lines.

    The value is everything after the first ``=``, trimmed; a later line for the same
    name wins. Malformed lines are reported as ``ACME-E007`` and ignored.
    """
    env: dict[str, str] = {}
    issues: list[Issue] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not _VAR_NAME.fullmatch(name):
            issues.append(
                Issue(E_SYNTAX, path, n, None, None, f"env line must look like NAME=value, got {raw.strip()!r}")
            )
            continue
        env[name] = value.strip()
    return env, issues


# -- parsing files ---------------------------------------------------------------
_SERVICE_NAME = re.compile(r"[a-z][a-z0-9_-]*")
_SERVICE_HEADER = re.compile(r"service\s+([^\s{]+)\s*\{")
_DEFAULTS_HEADER = re.compile(r"defaults\s*\{")
_INCLUDE = re.compile(r"@include\b\s*(.*)")
_ASSIGN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)")
_INVALID = "\0invalid"  # block state after a header with an invalid service name


def strip_comment(line: str) -> str:
    """``line`` without its comment: a ``#`` outside a quoted string starts one."""
    if "#" not in line:
        return line
    in_q = esc = False
    for i, ch in enumerate(line):
        if in_q:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_q = False
        elif ch == '"':
            in_q = True
        elif ch == "#":
            return line[:i]
    return line


@dataclass
class _Stmt:
    service: str | None  # None: the defaults block
    key: str
    value: Any
    line: int


@dataclass
class ParsedFile:
    path: str
    includes: list[tuple[str, int]] = field(default_factory=list)  # (resolved path, line)
    statements: list[_Stmt] = field(default_factory=list)
    headers: list[tuple[str, int]] = field(default_factory=list)  # service blocks (name, line)
    issues: list[Issue] = field(default_factory=list)
    variables: list[VarUse] = field(default_factory=list)


def _normalise(parts: list[str]) -> str | None:
    """Join path segments resolving ``.`` and ``..`` (None if it climbs above the root)."""
    out: list[str] = []
    for part in parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not out:
                return None
            out.pop()
        else:
            out.append(part)
    return "/".join(out) or None


def resolve_include(including: str, target: str) -> str | None:
    """World path of ``@include "target"`` written in ``including``; None if it leaves the tree.

    Pure string work (no ``posixpath``), so the format's code can run inside the tool sandbox.
    """
    base = [] if target.startswith("/") else including.split("/")[:-1]
    return _normalise([*base, *target.split("/")])


def parse_file(path: str, text: str, env: Mapping[str, str]) -> ParsedFile:
    """Parse one file: statements with typed values, includes, service headers and issues."""
    pf = ParsedFile(path)
    block: str | None = None  # "" = defaults, name = service
    block_line = 0

    def issue(code: str, n: int, msg: str, key: str | None = None) -> None:
        svc = block if block and block != _INVALID else None
        pf.issues.append(Issue(code, path, n, svc, key, msg))

    for n, raw in enumerate(text.splitlines(), 1):
        line = strip_comment(raw).strip()
        if not line:
            continue
        if block is not None:
            if line == "}":
                block = None
                continue
            if block == _INVALID:
                continue  # lines of a block with an invalid header are skipped (the header was reported)
            m = _ASSIGN.fullmatch(line)
            if m:
                _assignment(pf, block or None, m.group(1), m.group(2), n, env)
                continue
            if _SERVICE_HEADER.fullmatch(line) or _DEFAULTS_HEADER.fullmatch(line):
                issue(E_SYNTAX, n, f"blocks cannot be nested: close the block opened on line {block_line} with '}}'")
            elif line.startswith("@include"):
                issue(E_SYNTAX, n, "@include is only allowed outside blocks")
            else:
                issue(E_SYNTAX, n, f"expected 'key = value' or '}}' inside a block, got {line!r}")
            continue
        m = _INCLUDE.fullmatch(line)
        if m:
            arg = m.group(1).strip()
            try:
                target, end = _parse_quoted(arg) if arg.startswith('"') else ("", -1)
            except _ValueSyntaxError:
                target, end = "", -1
            if end < 0 or arg[end:].strip() or not target:
                issue(E_SYNTAX, n, f'@include needs one quoted path, e.g. @include "../base.acme"; got {arg!r}')
                continue
            resolved = resolve_include(path, target)
            if resolved is None:
                issue(E_INCLUDE, n, f"included file {target!r} resolves outside the file tree")
                continue
            pf.includes.append((resolved, n))
            continue
        m = _SERVICE_HEADER.fullmatch(line)
        if m:
            name = m.group(1)
            if not _SERVICE_NAME.fullmatch(name):
                issue(
                    E_SYNTAX,
                    n,
                    f"invalid service name {name!r}: use lowercase letters, digits, '-' and '_', "
                    "starting with a letter",
                )
                block, block_line = _INVALID, n
                continue
            block, block_line = name, n
            pf.headers.append((name, n))
            continue
        if _DEFAULTS_HEADER.fullmatch(line):
            block, block_line = "", n
            continue
        if line == "}":
            issue(E_SYNTAX, n, "'}' without an open block")
        elif _ASSIGN.fullmatch(line):
            issue(E_SYNTAX, n, "'key = value' must be inside a 'service <name> {' or 'defaults {' block")
        else:
            issue(
                E_SYNTAX,
                n,
                f"unrecognised line {line!r}; expected @include \"...\", 'service <name> {{', 'defaults {{', "
                "'}', 'key = value' or a # comment",
            )
    if block is not None:
        issue(E_SYNTAX, block_line, "block is not closed with '}' before the end of the file")
    return pf


def _assignment(pf: ParsedFile, service: str | None, key: str, raw: str, n: int, env: Mapping[str, str]) -> None:
    where = f"service {service}" if service else "defaults"
    try:
        text, uses = substitute(raw, env)
    except ValueError as exc:
        pf.issues.append(Issue(E_SYNTAX, pf.path, n, service, key, f"{where}: {exc}"))
        return
    unresolved = False
    for name, dflt, source, value in uses:
        pf.variables.append(VarUse(name, dflt, source, value, pf.path, n, service, key))
        if source == "unresolved":
            unresolved = True
            pf.issues.append(
                Issue(
                    E_UNRESOLVED,
                    pf.path,
                    n,
                    service,
                    key,
                    f"{where}: variable {name} is not defined in the env file and has no default "
                    f"(write ${{{name}:-<default>}} or define {name}); '{key}' is ignored",
                )
            )
    if unresolved:
        return
    try:
        val = parse_value(text)
    except ValueError as exc:
        pf.issues.append(Issue(E_SYNTAX, pf.path, n, service, key, f"{where}: {exc}"))
        return
    try:
        typed = check_key(key, val)
    except ValueError as exc:
        pf.issues.append(Issue(E_TYPE, pf.path, n, service, key, f"{where}: {exc}; the assignment is ignored"))
        return
    pf.statements.append(_Stmt(service, key, typed, n))


# -- evaluation ------------------------------------------------------------------
@dataclass
class Config:
    """The evaluated configuration of one or more entry points.

    Attributes:
        services: service -> {key: typed value}, defaults applied (services sorted by name).
        issues: validation findings, sorted by (file, line, code).
        defaults: the merged defaults block.
        sources: service -> {key: "file:line"} of the assignment that won.
        declared_at: service -> "file:line" of its first block header.
        files: the files applied, in application order.
        variables: every ``${...}`` reference in the applied files.
        env: the parsed env file.
    """

    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    defaults: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, dict[str, str]] = field(default_factory=dict)
    declared_at: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    variables: list[VarUse] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def graph(self) -> dict[str, list[str]]:
        """service -> its deps that are declared services (unknown names left out)."""
        return {s: [d for d in vals.get("deps", []) if d in self.services] for s, vals in sorted(self.services.items())}

    def dependents(self, service: str) -> list[str]:
        """Services that transitively depend on ``service`` (sorted; ``service`` itself only via a cycle)."""
        rev: dict[str, list[str]] = {}
        for s, ds in self.graph().items():
            for d in ds:
                rev.setdefault(d, []).append(s)
        seen: set[str] = set()
        stack = [service]
        while stack:
            for caller in rev.get(stack.pop(), []):
                if caller not in seen:
                    seen.add(caller)
                    stack.append(caller)
        return sorted(seen)

    def codes(self) -> list[str]:
        return sorted({i.code for i in self.issues})


def load_config(
    files: Mapping[str, str],
    entry_points: Sequence[str],
    env_text: str,
    env_path: str = ENV_PATH,
) -> Config:
    """Evaluate ``entry_points`` (world paths into ``files``) with variables from ``env_text``.

    Raises ``AcmeConfError`` when an entry point is not in ``files``; everything wrong
    *inside* the files is reported as an ``Issue`` instead.
    """
    if isinstance(entry_points, str):
        entry_points = [entry_points]
    for ep in entry_points:
        if ep not in files:
            known = sorted(p for p in files if p.endswith(".acme"))[:20]
            raise AcmeConfError(f"entry point {ep!r} does not exist; .acme files: {', '.join(known) or 'none'}")
    env, issues = parse_env(env_text, env_path)
    cfg = Config(env=env)
    parsed: dict[str, ParsedFile] = {}
    order: list[str] = []
    visiting: set[str] = set()

    def visit(path: str) -> None:
        # iterative depth-first walk: includes first (in order), then the file; each file once
        stack: list[tuple[str, Iterator[tuple[str, int]]]] = []
        if path in visiting:
            return
        visiting.add(path)
        pf = parse_file(path, files[path], env)
        parsed[path] = pf
        stack.append((path, iter(pf.includes)))
        while stack:
            cur, it = stack[-1]
            for inc, line in it:
                if inc in visiting:
                    continue
                if inc not in files:
                    issues.append(Issue(E_INCLUDE, cur, line, None, None, f"included file {inc!r} does not exist"))
                    continue
                visiting.add(inc)
                child = parse_file(inc, files[inc], env)
                parsed[inc] = child
                stack.append((inc, iter(child.includes)))
                break
            else:
                stack.pop()
                order.append(cur)

    for ep in entry_points:
        visit(ep)
    cfg.files = order

    own: dict[str, dict[str, tuple[Any, str]]] = {}
    defaults: dict[str, tuple[Any, str]] = {}
    for path in order:
        pf = parsed[path]
        issues.extend(pf.issues)
        cfg.variables.extend(pf.variables)
        for name, line in pf.headers:
            own.setdefault(name, {})
            cfg.declared_at.setdefault(name, f"{path}:{line}")
        for st in pf.statements:
            target = defaults if st.service is None else own.setdefault(st.service, {})
            target[st.key] = (st.value, f"{path}:{st.line}")

    cfg.defaults = {k: v for k, (v, _) in defaults.items()}
    for svc in sorted(own):
        merged = {**defaults, **own[svc]}
        cfg.services[svc] = {k: merged[k][0] for k in sorted(merged)}
        cfg.sources[svc] = {k: merged[k][1] for k in sorted(merged)}

    def at(loc: str) -> tuple[str, int]:
        f, _, ln = loc.rpartition(":")
        return f, int(ln)

    for svc, vals in cfg.services.items():
        f, ln = at(cfg.declared_at[svc])
        for key in REQUIRED_KEYS:
            if key not in vals:
                issues.append(
                    Issue(
                        E_MISSING,
                        f,
                        ln,
                        svc,
                        key,
                        f"service {svc} has no valid value for required key '{key}' "
                        f"(expects {SCHEMA[key].expects()}; set it in the service or in defaults)",
                    )
                )
        for dep in vals.get("deps", []):
            if dep not in cfg.services:
                df, dl = at(cfg.sources[svc]["deps"])
                issues.append(
                    Issue(
                        E_UNKNOWN_DEP,
                        df,
                        dl,
                        svc,
                        "deps",
                        f"service {svc} depends on {dep!r}, which is not declared by any 'service' block",
                    )
                )
    for cycle in _cycles(cfg.graph()):
        head = cycle[0]
        df, dl = at(cfg.sources[head]["deps"])
        issues.append(Issue(E_CYCLE, df, dl, head, "deps", "dependency cycle: " + " -> ".join([*cycle, head])))
    cfg.issues = sorted(dict.fromkeys(issues), key=Issue.sort_key)  # total order: no hash-seed dependence
    return cfg


def _cycles(graph: Mapping[str, list[str]]) -> list[list[str]]:
    """One cycle per strongly connected component that has one (Tarjan, iterative).

    Each cycle starts at the component's smallest name and follows a shortest path back.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    sccs: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph.get(nxt, []))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    sccs.append(comp)
    out = []
    for comp in sccs:
        members = set(comp)
        head = min(comp)
        if len(comp) == 1 and head not in graph.get(head, []):
            continue
        # shortest path head -> ... -> head inside the component (BFS)
        prev: dict[str, str] = {}
        frontier = [head]
        found = False
        while frontier and not found:
            nxt_frontier = []
            for u in frontier:
                for v in sorted(graph.get(u, [])):
                    if v not in members:
                        continue
                    if v == head:
                        prev[head] = u
                        found = True
                        break
                    if v not in prev:
                        prev[v] = u
                        nxt_frontier.append(v)
                if found:
                    break
            frontier = nxt_frontier
        path = []
        cur = prev[head]
        while cur != head:
            path.append(cur)
            cur = prev[cur]
        out.append([head, *reversed(path)])
    return sorted(out)


def validate(files: Mapping[str, str], entry_points: Sequence[str], env_text: str) -> list[Issue]:
    """The issues of ``load_config(files, entry_points, env_text)``."""
    return load_config(files, entry_points, env_text).issues


# -- the world's tree, history and deploy log ------------------------------------
def load_tree(files: Mapping[str, str], entry: str = ENTRY) -> Config:
    """Evaluate ``entry`` of a world (variables from ``config/env``; a missing env file is empty)."""
    env_text = files.get(ENV_PATH, "")
    return load_config(files, [entry], env_text)


class _Overlay(Mapping[str, str]):
    def __init__(self, base: Mapping[str, str], extra: dict[str, str]) -> None:
        self.base, self.extra = base, extra

    def __getitem__(self, key: str) -> str:
        return self.extra[key] if key in self.extra else self.base[key]

    def __contains__(self, key: object) -> bool:
        return key in self.extra or key in self.base

    def __iter__(self) -> Iterator[str]:
        yield from self.extra
        yield from (k for k in self.base if k not in self.extra)

    def __len__(self) -> int:
        return len(set(self.base) | set(self.extra))


class FileView(Mapping[str, str]):
    """A lazy, read-only mapping over a world's files given a listing and a reader function.

    Tools build it from ``envs.toolkit`` (``FileView(list_files, read_file)``), graders from a
    ``WorldAccess``; only the files an evaluation actually touches are read.
    """

    def __init__(self, list_fn: Callable[[str], list[str]], read_fn: Callable[[str], str]) -> None:
        self._paths = set(list_fn(""))
        self._read = read_fn
        self._cache: dict[str, str] = {}

    def __getitem__(self, key: str) -> str:
        if key not in self._paths:
            raise KeyError(key)
        if key not in self._cache:
            self._cache[key] = self._read(key)
        return self._cache[key]

    def __contains__(self, key: object) -> bool:
        return key in self._paths

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._paths))

    def __len__(self) -> int:
        return len(self._paths)


def snapshot_path(deploy_id: str, service: str) -> str:
    return f"{HISTORY_DIR}/{deploy_id}/services/{service}.acme"


def load_snapshot(files: Mapping[str, str], deploy_id: str, service: str) -> Config:
    """Evaluate a historical service file on its own, as if it were ``config/services/<service>.acme``."""
    snap = snapshot_path(deploy_id, service)
    if snap not in files:
        raise AcmeConfError(
            f"no snapshot {snap!r}: deploy {deploy_id!r} did not deploy service {service!r} "
            f"(use '{INITIAL}' for the version before the first deploy)"
        )
    live = f"config/services/{service}.acme"
    view = _Overlay(files, {live: files[snap]})
    env_text = files.get(ENV_PATH, "")
    return load_config(view, [live], env_text)


@dataclass(frozen=True)
class Deploy:
    deploy_id: str
    ts: int
    service: str
    author: str
    kind: str  # "change" | "rollback"
    summary: str

    def to_json(self) -> dict[str, Any]:
        return {
            "deploy_id": self.deploy_id,
            "ts": self.ts,
            "service": self.service,
            "author": self.author,
            "kind": self.kind,
            "summary": self.summary,
        }


_DEPLOY_ID = re.compile(r"d-[0-9a-f]{6}")


def parse_deploy_log(text: str, path: str = DEPLOY_LOG) -> list[Deploy]:
    """Parse ``ts | deploy_id | service | author | kind | summary`` lines (``#`` comments, blanks skipped)."""
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(" | ", 5)]
        if len(parts) != 6:
            raise AcmeConfError(f"{path}:{n}: expected 6 fields 'ts | deploy_id | service | author | kind | summary'")
        ts, did, svc, author, kind, summary = parts
        if not ts.isdigit() or not _DEPLOY_ID.fullmatch(did) or kind not in ("change", "rollback"):
            raise AcmeConfError(f"{path}:{n}: malformed deploy line {line!r}")
        out.append(Deploy(did, int(ts), svc, author, kind, summary))
    return out


def service_versions(deploys: Sequence[Deploy], service: str) -> list[str]:
    """Version ids of a service's file, oldest first: ``initial`` then its deploys by time."""
    return [INITIAL] + [d.deploy_id for d in sorted(deploys, key=lambda d: d.ts) if d.service == service]


def same_value(a: Any, b: Any) -> bool:
    """Equality that does not confuse ``True`` with ``1`` or ``2`` with ``2.0``."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def diff_values(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``[{key, old, new}]`` for keys whose value differs (``None`` when absent on one side), sorted by key."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if (key in old) != (key in new) or not same_value(a, b):
            out.append({"key": key, "old": a, "new": b})
    return out


def to_literal(value: Any) -> str:
    """AcmeConf text for a plain value (durations must be formatted by the caller)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(to_literal(v) for v in value) + "]"
    if isinstance(value, str):
        lexical = _duration_ms(value) is not None or _INT.fullmatch(value) or _FLOAT.fullmatch(value)
        if _BARE.fullmatch(value) and not lexical and value not in ("true", "false"):
            return value
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'
    raise TypeError(f"cannot write {type(value).__name__} as an AcmeConf value")
