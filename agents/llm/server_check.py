"""What an OpenAI-compatible server does, checked at job start instead of assumed.

Local servers differ from the API they imitate, silently. llama-cpp-python's server with
Gemma 3 answers requests carrying ``tools`` with plain text (no tool calls unless
``tool_choice`` forces one), drops ``role: "tool"`` messages (a tool's result never reaches
the model), drops the system prompt (Gemma's template has no system role), ignores ``model``
and refuses prompts beyond its ``--n_ctx``. A job over such a server used to complete with
every native episode one rambling reply. ``check_server`` runs before the first episode:

* **identity**: ``GET /v1/models`` (and llama.cpp's ``/props``): the ids served and, when the
  server reports it, the context window (vLLM ``max_model_len``, llama.cpp ``n_ctx``). An id
  that differs from the configured ``model`` names the weights in replay keys (``weights``;
  a user's ``model_label`` wins), since such servers answer whatever ``model`` says.
* **tool probe** (``tool_probe``: warn | fallback | stop): two short requests through the job's
  own backend (so a replay-only rerun replays them): does a tool call come back when the model
  is asked to call a tool, and does the tool's result (a code word) reach the model? A server
  that fails either gets a warning and, by config, JSON actions (``fallback``) or a stop.
* **context**: the job's first request (system prompt, tools, first task) counted with the
  server's tokenizer where it has one (llama-cpp-python ``/extras/tokenize``, llama.cpp and vLLM
  ``/tokenize``), else estimated; with ``max_tokens`` of room it must fit the context window,
  or the job stops with a clear error before any call is spent.

In replay-only mode the server is not contacted: the facts recorded with the cache are used.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import httpx

from agents.llm.pricing import UsageMeter
from agents.llm.types import (
    ChatBackend,
    ChatRequest,
    ChatResponse,
    LLMError,
    assistant_message,
    tool_message,
)

TOOL_PROBE_ACTIONS = (None, "off", "warn", "fallback", "stop")
CHARS_PER_TOKEN_ESTIMATE = 4.0  # without a tokenizer (English prose ~4, JSON and code fewer)
MESSAGE_OVERHEAD_TOKENS = 8  # a chat template's role markers per message

PROBE_CODEWORD = "PELICAN-4127"
PROBE_TOOL = {
    "name": "get_codeword",
    "description": "Returns today's code word.",
    "parameters": {"type": "object", "properties": {}, "required": []},
}
PROBE_PROMPT = "Call the get_codeword tool to learn today's code word, then reply with the code word only."


class ServerCheckError(ValueError):
    """The server cannot run this job as configured (the message says why and what to change)."""


@dataclass
class ServerFacts:
    """What the job-start check found (result.json ``llm_server``); None = not known."""

    served_models: list[str] | None = None
    weights: str | None = None  # names the weights in replay keys (model_label, or the served id)
    context_window: int | None = None
    context_source: str | None = None  # config | server
    first_request_tokens: int | None = None
    first_request_counted: str | None = None  # tokenizer | estimate
    tool_calls: bool | None = None  # a native tool call came back when asked for
    tool_results: bool | None = None  # the tool's result reached the model
    probe_action: str | None = None  # what the job did about it
    warnings: list[str] = field(default_factory=list)
    probe_usage: UsageMeter = field(default_factory=UsageMeter)  # the probe's calls (result.json usage.probe)

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "probe_usage"}
        return {k: v for k, v in data.items() if v not in (None, [])}


def api_root(base_url: str) -> str:
    """``http://host:port`` of ``http://host:port/v1`` (llama.cpp's extra endpoints live there)."""
    return base_url[: -len("/v1")] if base_url.endswith("/v1") else base_url


def identify(inner: Any, facts: ServerFacts) -> None:
    """The ids the server serves and its context window, where it reports them."""
    client: httpx.Client = inner.client
    try:
        resp = client.get(f"{inner.base_url}/models", timeout=min(inner.timeout_s, 10.0))
        data = resp.json() if resp.status_code == 200 else None
    except (httpx.HTTPError, json.JSONDecodeError) as exc:
        facts.warnings.append(f"GET {inner.base_url}/models failed ({type(exc).__name__}: {exc})")
        return
    entries = data.get("data") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        facts.warnings.append(f"GET {inner.base_url}/models answered no model list (HTTP {resp.status_code})")
        return
    entries = [e for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)]
    facts.served_models = [e["id"] for e in entries]
    served = next((e for e in entries if e["id"] == inner.model), entries[0] if len(entries) == 1 else None)
    if served is not None:
        if served["id"] != inner.model:
            facts.weights = served["id"]
        for key in ("max_model_len", "context_length", "context_window"):  # vLLM, OpenRouter, others
            if isinstance(served.get(key), int) and served[key] > 0:
                facts.context_window, facts.context_source = served[key], "server"
    if facts.context_window is None:  # llama.cpp's own server reports the slot context in /props
        try:
            props = client.get(f"{api_root(inner.base_url)}/props", timeout=5.0)
            settings = props.json().get("default_generation_settings", {}) if props.status_code == 200 else {}
        except (httpx.HTTPError, json.JSONDecodeError, AttributeError):
            settings = {}
        n_ctx = settings.get("n_ctx") if isinstance(settings, dict) else None
        if isinstance(n_ctx, int) and n_ctx > 0:
            facts.context_window, facts.context_source = n_ctx, "server"


def count_tokens(inner: Any, payload: dict[str, Any]) -> tuple[int, str]:
    """Tokens of ``payload``'s messages and tools: (count, "tokenizer" | "estimate")."""
    parts = [str(m.get("content") or "") for m in payload.get("messages", [])]
    if payload.get("tools"):
        parts.append(json.dumps(payload["tools"]))
    text = "\n".join(parts)
    overhead = MESSAGE_OVERHEAD_TOKENS * len(payload.get("messages", []))
    root = api_root(inner.base_url)
    attempts = (
        (f"{root}/extras/tokenize", {"input": text, "model": inner.model}),  # llama-cpp-python
        (f"{root}/tokenize", {"content": text}),  # llama.cpp
        (f"{root}/tokenize", {"model": inner.model, "prompt": text}),  # vLLM
    )
    for url, body in attempts:
        try:
            resp = inner.client.post(url, json=body, timeout=10.0)
            tokens = resp.json().get("tokens") if resp.status_code == 200 else None
        except (httpx.HTTPError, json.JSONDecodeError, AttributeError):
            continue
        if isinstance(tokens, list):
            return len(tokens) + overhead, "tokenizer"
    return math.ceil(len(text) / CHARS_PER_TOKEN_ESTIMATE) + overhead, "estimate"


def probe_tools(backend: ChatBackend, model: str, facts: ServerFacts) -> None:
    """Ask for a tool call, then give its result: did the call come back, did the result arrive?"""
    messages: list[dict[str, Any]] = [{"role": "user", "content": PROBE_PROMPT}]

    def ask(index: int) -> ChatResponse:
        response = backend.complete(
            ChatRequest(
                model=model,
                messages=list(messages),
                tools=[PROBE_TOOL],
                temperature=0.0,
                max_tokens=64,
                seed=0,
                sample_index=index,
                meta={"probe": "tool_calling"},
            )
        )
        facts.probe_usage.add(response.usage, retries=len(response.retries))
        return response

    first = ask(0)
    calls = [c for c in first.tool_calls if c.name == PROBE_TOOL["name"]]
    facts.tool_calls = bool(calls)
    if not calls:
        return
    messages += [assistant_message(first), tool_message(calls[0].id, f"Today's code word is {PROBE_CODEWORD}.")]
    second = ask(1)
    seen = second.text + " ".join(c.raw_arguments for c in second.tool_calls)
    facts.tool_results = PROBE_CODEWORD.split("-")[1] in seen


def check_server(
    backend: ChatBackend,
    inner: Any,
    *,
    tool_probe: str | None,
    first_request: ChatRequest | None,
    facts_dir: Path | None,
    replay_only: bool,
) -> ServerFacts:
    """The job-start check of an OpenAI-compatible ``inner`` (``backend``: it, or a replay cache around it).

    Sets ``inner.weights`` (replay keys) and, for ``tool_probe: fallback``, switches ``inner`` to
    JSON actions. Raises ServerCheckError when the job cannot run (``stop``, or a first request
    that does not fit the context window). ``facts_dir``: where facts are kept with a replay cache.
    """
    facts_file = _facts_file(facts_dir, inner) if facts_dir is not None else None
    if replay_only:
        facts = _load_facts(facts_file) if facts_file is not None else ServerFacts()
    else:
        facts = ServerFacts()
        identify(inner, facts)
    if inner.weights is None and facts.weights is not None:
        inner.weights = facts.weights
    facts.weights = inner.weights
    if inner.context_window is not None:
        facts.context_window, facts.context_source = inner.context_window, "config"
    to_fit = first_request if facts.context_window is not None and not replay_only else None
    if to_fit is not None:
        _check_fits(inner, to_fit, facts, "No call was spent.")
    if tool_probe in (None, "off") or not inner.native_tools:
        _save_facts(facts_file, facts, replay_only)
        return facts
    try:
        probe_tools(backend, inner.resolve_model(first_request) if first_request else inner.model, facts)
    except LLMError as exc:
        raise ServerCheckError(f"the tool-calling probe got no answer from {inner.base_url}: {exc}") from None
    if facts.tool_calls and facts.tool_results:
        facts.probe_action = "native tools work"
        _save_facts(facts_file, facts, replay_only)
        return facts
    problem = (
        "returned no tool call when asked to call a tool (it ignores tools)"
        if not facts.tool_calls
        else "does not pass a tool's result to the model (its chat template drops role 'tool' messages)"
    )
    if tool_probe == "stop":
        raise ServerCheckError(
            f"the server at {inner.base_url} {problem}; native tool calling cannot work. Use "
            "llm.native_tools=false (JSON actions) or llm.tool_probe=fallback"
        )
    if tool_probe == "fallback":
        inner.use_json_actions()
        facts.probe_action = "fell back to JSON actions"
        facts.warnings.append(f"the server {problem}: this job uses JSON actions (llm.native_tools=false)")
        if to_fit is not None:  # the tools now travel in the prompt: what is sent grew
            _check_fits(inner, to_fit, facts, "Only the tool probe's calls were spent.")
    else:
        facts.probe_action = "warned"
        facts.warnings.append(
            f"the server {problem}: native episodes will not use tools; set llm.tool_probe=fallback "
            "or llm.native_tools=false"
        )
    _save_facts(facts_file, facts, replay_only)
    return facts


def _check_fits(inner: Any, first_request: ChatRequest, facts: ServerFacts, spent: str) -> None:
    """Count the first request as ``inner`` would send it now; a ServerCheckError when it cannot fit."""
    payload = inner._payload(first_request, inner.resolve_model(first_request))
    facts.first_request_tokens, facts.first_request_counted = count_tokens(inner, payload)
    room = first_request.max_tokens or 0
    if facts.first_request_tokens + room > (facts.context_window or 0):
        how = (
            "counted by the server's tokenizer"
            if facts.first_request_counted == "tokenizer"
            else (f"estimated at {CHARS_PER_TOKEN_ESTIMATE:g} characters per token")
        )
        mode = "native tool calls" if inner.native_tools else "JSON actions, the tools in the prompt"
        raise ServerCheckError(
            f"the job's first request ({mode}) needs {facts.first_request_tokens} prompt tokens ({how}) plus "
            f"{room} for the answer (agent.max_tokens), but the model's context window is "
            f"{facts.context_window} tokens ({facts.context_source}); start the server with a larger "
            f"context (llama.cpp: --n_ctx, vLLM: --max-model-len, Ollama: num_ctx), lower agent.max_tokens, "
            f"or pick a condition/protocol that needs less (README: context budgets). {spent}"
        )


# What a replay-only run takes from the recording run (the probe it replays itself).
_SERVER_SIDE = (
    "served_models", "weights", "context_window", "context_source", "first_request_tokens", "first_request_counted",
)  # fmt: skip


def _facts_file(facts_dir: Path, inner: Any) -> Path:
    ident = hashlib.sha256(f"{inner.base_url}\n{inner.model}".encode()).hexdigest()[:16]
    return facts_dir / "servers" / f"{ident}.json"


def _load_facts(path: Path | None) -> ServerFacts:
    if path is None or not path.exists():
        return ServerFacts()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ServerFacts(**{k: v for k, v in data.items() if k in _SERVER_SIDE})
    except (json.JSONDecodeError, TypeError) as exc:
        raise ServerCheckError(f"{path} is unreadable ({exc}); delete it and record again") from None


def _save_facts(path: Path | None, facts: ServerFacts, replay_only: bool) -> None:
    """Kept beside the replay cache so a replay-only run keys its requests the same way."""
    if path is None or replay_only:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".facts-", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(facts.to_json(), sort_keys=True, indent=1))
    os.replace(tmp, path)
