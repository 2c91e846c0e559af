"""One episode: its row in the episodes table and its own page.

The page tells the episode's story in the order a reader asks about it: the task and the
verdict, the final answer against the truth key by key, every step (the action, the tool call
and what came back, errors, the simulated model's note), the tools offered against the tools
called, then usage and cost.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from experiments.view import paths
from experiments.view.html import as_json, badge, clip, esc, kv_table, link, page, table

# The columns of a job's episode rows (data/<job>.js); app.js reads them by name.
COLUMNS = (
    "key", "episode", "condition", "family", "phase", "split", "difficulty", "success", "score", "llm_failure",
    "truncated", "n_steps", "tools_called", "n_calls", "cost_usd", "category", "task", "answer",
)  # fmt: skip


@dataclass(frozen=True)
class JobContext:
    """What an episode page needs to know about its job."""

    slug: str
    label: str  # the job's arm
    condition: str
    seed: int
    path: str  # the job directory (where episodes.jsonl is)
    has_evolution: bool


def cost(record: dict[str, Any]) -> float | None:
    usage = (record.get("llm") or {}).get("usage") or {}
    value = usage.get("cost_usd")
    return float(value) if isinstance(value, (int, float)) else None


def called_tools(record: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(str(c.get("tool")) for c in record.get("tools_called") or []))


def short(value: Any, n: int = 80) -> str:
    text = value if isinstance(value, str) else as_json(value)
    return text if len(text) <= n else text[: n - 3] + "..."


def row(record: dict[str, Any], key: str, job: JobContext, category: str | None) -> list[Any]:
    task = record.get("task") or {}
    values = {
        "key": key,
        "episode": record.get("episode"),
        "condition": record.get("condition") or job.condition,
        "family": task.get("family"),
        "phase": task.get("phase"),
        "split": record.get("protocol_phase") or task.get("split"),
        "difficulty": task.get("difficulty"),
        "success": bool(record.get("success")),
        "score": record.get("score"),
        "llm_failure": bool(record.get("llm_failure")),
        "truncated": bool(record.get("truncated")),
        "n_steps": record.get("n_steps", len(record.get("steps") or [])),
        "tools_called": " ".join(called_tools(record)),
        "n_calls": len(record.get("tools_called") or []),
        "cost_usd": cost(record),
        "category": category or "",
        "task": task.get("id"),
        "answer": short(record.get("answer")),
    }
    return [values[c] for c in COLUMNS]


def _grade_section(record: dict[str, Any]) -> str:
    grade = record.get("grade") or {}
    detail = dict(grade.get("detail") or {})
    answer, truth = record.get("answer"), (record.get("task") or {}).get("truth")
    parts = [
        kv_table(
            [
                ("answer", f"<pre>{esc(as_json(answer) if not isinstance(answer, str) else answer)}</pre>"),
                ("truth", f"<pre>{esc(as_json(truth))}</pre>"),
                ("score", esc(record.get("score"))),
                ("verdict", badge(bool(record.get("success")))),
            ]
        )
    ]
    per_key = detail.pop("keys", None)
    if isinstance(per_key, dict):
        got = _parsed_answer(answer)
        want = truth if isinstance(truth, dict) else {}
        rows = [
            [esc(k), f"<code>{esc(short(got.get(k, '-')))}</code>", f"<code>{esc(short(want.get(k, '-')))}</code>",
             badge(v == "ok", "ok", esc(v))]
            for k, v in per_key.items()
        ]  # fmt: skip
        parts.append("<h3>Per key</h3>" + table(["key", "answer", "truth", "grade"], rows, "grade-keys"))
    if detail:
        parts.append(
            "<h3>Grader's notes</h3>" + kv_table((k, f"<code>{esc(as_json(v))}</code>") for k, v in detail.items())
        )
    return "".join(parts)


def _parsed_answer(answer: Any) -> dict[str, Any]:
    """The answer as an object when it is one (directly or as JSON text), for the per-key table."""
    if isinstance(answer, dict):
        return answer
    if isinstance(answer, str):
        start, end = answer.find("{"), answer.rfind("}")
        if start >= 0 and end > start:
            try:
                value = json.loads(answer[start : end + 1])
            except ValueError:
                return {}
            return value if isinstance(value, dict) else {}
    return {}


def _responses(record: dict[str, Any]) -> list[dict[str, Any]]:
    return list((record.get("llm") or {}).get("responses") or [])


def _sim_note(response: dict[str, Any]) -> str:
    """The simulated model's reason for a response (its chosen action and the events it noted)."""
    sim = (response.get("raw") or {}).get("sim")
    if not isinstance(sim, dict):
        return ""
    parts = []
    if sim.get("action"):
        parts.append(f"action: {sim['action']}")
    for event in sim.get("events") or []:
        rest = {k: v for k, v in event.items() if k != "event"} if isinstance(event, dict) else {}
        name = event.get("event") if isinstance(event, dict) else event
        parts.append(f"{name}" + (f" {as_json(rest)}" if rest else ""))
    return "; ".join(parts)


def _steps_section(record: dict[str, Any], where: str) -> str:
    steps = record.get("steps") or []
    responses = _responses(record)
    # One response per step when the agent made one call per step (ReAct); otherwise they are listed apart.
    aligned = len(responses) == len(steps)
    rows = []
    for i, step in enumerate(steps):
        info = step.get("info") or {}
        kind = info.get("kind", "")
        if info.get("tool"):
            action = f"<b>{esc(info['tool'])}</b> <code>{esc(as_json(info.get('args')))}</code>"
        else:
            action = clip(str(step.get("action", "")), where)
        error = info.get("error")
        status = badge(info.get("ok"), "ok", "error") if "ok" in info else ""
        note = esc(_sim_note(responses[i])) if aligned else ""
        text = (responses[i].get("text") or "") if aligned else ""
        model = (f'<div class="said">{esc(short(text, 400))}</div>' if text else "") + (
            f'<div class="sim">{note}</div>' if note else ""
        )
        rows.append(
            [
                str(i),
                esc(kind),
                action + model,
                status + (f'<div class="error">{esc(error)}</div>' if error else ""),
                clip(str(step.get("observation", "")), where),
            ]
        )
    out = table(["#", "kind", "action", "result", "observation"], rows, "steps")
    if responses and not aligned:
        extra = [
            [str(i), esc(r.get("finish_reason")), esc(short(r.get("text") or "", 400)),
             f"<code>{esc(as_json(r.get('tool_calls') or []))}</code>", esc(_sim_note(r))]
            for i, r in enumerate(responses)
        ]  # fmt: skip
        out += "<h3>Model responses</h3>" + table(["#", "finish", "text", "tool calls", "simulated model"], extra)
    return out


def _tools_section(record: dict[str, Any]) -> str:
    offered = [str(t) for t in record.get("tools_offered") or []]
    shown = record.get("tools_shown")
    calls = record.get("tools_called") or []
    count = Counter(str(c.get("tool")) for c in calls)
    errors = Counter(str(c.get("tool")) for c in calls if not c.get("ok"))
    names = list(dict.fromkeys([*offered, *count]))
    rows = [
        [
            f"<code>{esc(n)}</code>",
            "yes" if n in offered else '<span class="bad">not offered</span>',
            ("yes" if n in shown else "no") if isinstance(shown, list) else "-",
            str(count[n]),
            str(errors[n]),
        ]
        for n in names
    ]
    return table(["tool", "offered", "shown to the model", "calls", "failed calls"], rows, "tools")


def _usage_section(record: dict[str, Any]) -> str:
    llm = record.get("llm") or {}
    usage = llm.get("usage") or {}
    items = [(k, esc(v)) for k, v in usage.items()]
    if llm.get("error"):
        items.append(("error", f'<span class="error">{esc(llm["error"])}</span>'))
    if not items:
        return "<p>No LLM usage: a scripted policy.</p>"
    return kv_table(items)


def render(record: dict[str, Any], key: str, job: JobContext, line: int, category: tuple[str, str] | None,
           neighbours: tuple[str | None, str | None], compared: bool) -> str:  # fmt: skip
    """The episode's page (``line``: its line in episodes.jsonl, 1-based; ``category``: the taxonomy's
    (category, reason) of a failed LLM episode; ``neighbours``: the previous and next episodes' keys)."""
    task = record.get("task") or {}
    where = f"{job.path}/episodes.jsonl line {line}"
    up = "../../"
    facts = [
        ("task", f"<code>{esc(task.get('id'))}</code>"),
        ("job", link(up + paths.job_page(job.slug), job.label) + f" (seed {esc(job.seed)})"),
        ("family / phase", esc(f"{task.get('family')} / {task.get('phase')} ({task.get('difficulty', '-')})")),
        ("verdict", badge(bool(record.get("success"))) + f" score {esc(record.get('score'))}"),
        ("steps", esc(f"{record.get('n_steps')} (truncated: {bool(record.get('truncated'))})")),
        ("policy", esc(record.get("policy"))),
        ("record", esc(where)),
    ]
    if record.get("llm_failure"):
        facts.append(("LLM failure (not a result)", f'<span class="error">{esc(record["llm_failure"])}</span>'))
    if record.get("cut_off"):
        facts.append(("cut off", "the final answer stopped at the output-token limit"))
    if category:
        facts.append(("failure category", f'<span class="category">{esc(category[0])}</span>: {esc(category[1])}'))
    links = []
    prev_key, next_key = neighbours
    if prev_key is not None:
        links.append(link(f"{prev_key}.html", "previous episode", "prev"))
    if next_key is not None:
        links.append(link(f"{next_key}.html", "next episode", "next"))
    if compared:
        links.append(link(up + paths.compare_page(str(task.get("id"))), "this task in other jobs", "compare"))
    if job.has_evolution:
        links.append(
            link(up + paths.evolution_page(job.slug) + f"#at={record.get('episode')}", "library at this episode")
        )
    body = [
        f'<p class="links">{" | ".join(links)}</p>',
        kv_table(facts, "kv facts"),
        "<h2>Prompt</h2>",
        clip(str(record.get("prompt", "")), where),
    ]
    system = (record.get("llm") or {}).get("system_prompt")
    if system:
        body.append(f"<details><summary>System prompt</summary>{clip(str(system), where)}</details>")
    sim_final = [n for n in (_sim_note(r) for r in _responses(record)[-1:]) if n]
    body += [
        "<h2>Final answer and grade</h2>",
        _grade_section(record),
        f"<h2>Steps ({len(record.get('steps') or [])})</h2>",
        _steps_section(record, where),
    ]
    if sim_final:
        body.append(f'<h2>Simulated model\'s reasons</h2><p class="sim">{esc(sim_final[0])}</p>')
    body += [
        "<h2>Tools offered and called</h2>",
        _tools_section(record),
        "<h2>Usage and cost</h2>",
        _usage_section(record),
    ]
    title = f"Episode {key} - {task.get('family', '')}"
    return page(title, "".join(body), depth=2, crumbs=[(job.label, paths.job_page(job.slug)), (f"episode {key}", "")])
