"""An arise job's evolution timeline, from its ``library.sqlite``.

Each evolution in order: the trigger and the failed episodes behind it, the gaps the model
named, each candidate with its code, tests and adversarial suite, every check verdict with its
reason, each repair as a diff against the version it replaced, and how it ended (promotion,
rejection, A/B test, pruning). Below: every tool version, the library as it stood at any
episode, and for each promoted tool the episodes that called it and how they ended.

Libraries of every landed version are read: those written before ``revised`` events kept the
replaced code, or before the adversarial suite was logged, show what they have and say what
they lack.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evolution.library import Library, ToolVersion
from experiments.view import paths
from experiments.view.html import as_json, badge, clip, esc, kv_table, link, page, script_json, table


@dataclass(frozen=True)
class EpisodeRef:
    """What the timeline needs of one episode of the job."""

    key: str
    episode: int | None
    task: str
    success: bool
    calls: dict[str, tuple[int, int]]  # tool -> (calls, failed calls)


@dataclass
class LibraryHistory:
    versions: list[ToolVersion]
    events: list[dict[str, Any]]
    snapshots: list[dict[str, Any]]  # {id, episode, reason, active}

    @classmethod
    def read(cls, path: Path) -> LibraryHistory:
        lib = Library.read_only(path)
        try:
            return cls(
                lib.versions(),
                lib.events(),
                [{"id": s.id, "episode": s.episode, "reason": s.reason, "active": s.active} for s in lib.snapshots()],
            )
        finally:
            lib.close()

    def stages(self, name: str, version: int, final: str) -> list[str]:
        """The code of ``name`` v``version`` at each round: the synthesized code, then each repair's (from
        the ``revised`` events' replaced code). Libraries that did not keep it give the final code only."""
        revised = [e for e in self.events if e["kind"] == "revised" and e.get("name") == name
                   and e.get("version") == version]  # fmt: skip
        if not revised or any("previous_code" not in e for e in revised):
            return [final]
        return [*(str(e["previous_code"]) for e in revised), final]


def _diff(old: str, new: str, label: str) -> str:
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), f"{label} before", f"{label} after", lineterm="")
    out = []
    for line in lines:
        cls = (
            "add" if line.startswith("+") else "del" if line.startswith("-") else "hunk" if line.startswith("@") else ""
        )
        out.append(f'<span class="{cls}">{esc(line)}</span>' if cls else esc(line))
    return '<pre class="diff">' + "\n".join(out) + "</pre>" if out else "<p>(no change in the code)</p>"


def _version_anchor(name: str, version: Any) -> str:
    return f"tool-{name}-v{version}"


@dataclass(frozen=True)
class _Codes:
    """Each version's code as synthesized (before any repair) and as it ended."""

    first: dict[tuple[str, int], str]
    final: dict[tuple[str, int], str]


def _event_html(e: dict[str, Any], hist: LibraryHistory, codes: _Codes, episode_link: Any, where: str) -> str:
    kind = e["kind"]
    name, version = e.get("name"), e.get("version")
    tool = link(f"#{_version_anchor(name, version)}", f"{name} v{version}") if name and version else esc(name or "")
    head = f'<span class="kind">{esc(kind)}</span> <span class="ep">episode {esc(e["episode"])}</span> '
    if kind == "trigger":
        failures = ", ".join(episode_link(t, e["episode"]) for t in e.get("failures") or [])
        return head + f"{esc(e.get('reason'))}<div>failures: {failures or '-'}</div>"
    if kind == "gaps":
        described = e.get("descriptions") or {}  # logged since the viewer; absent from older libraries
        return (
            head
            + "gaps named: "
            + ", ".join(
                f"<code>{esc(g)}</code>" + (f" ({esc(described[g])})" if g in described else "")
                for g in e.get("gaps") or []
            )
        )
    if kind == "candidate":
        origin = esc(e.get("origin"))
        parent = f", patching v{esc(e['parent'])}" if e.get("parent") else ""
        code = codes.first.get((str(name), int(version or 0)))
        shown = f"<details><summary>synthesized code</summary>{clip(code, where)}</details>" if code else ""
        return head + f"{tool} ({origin}{parent}){shown}"
    if kind == "adversarial":
        suite = clip(str(e.get("tests") or "(none parsed)"), where)
        return head + f"<details><summary>adversarial tests for {tool}</summary>{suite}</details>"
    if kind == "check":
        verdict = badge(bool(e.get("ok")), "passed", f"failed: {esc(e.get('reason'))}")
        tests = e.get("tests") or [0, 0]
        adv = e.get("adversarial")
        facts = [
            f"round {esc(e.get('round'))}",
            f"static policy {esc(e.get('static_policy'))}"
            + ("" if e.get("static_policy_enforced", True) else " (not enforced)"),
            f"own tests {esc(tests[0])}/{esc(tests[1])}",
            f"adversarial {esc(adv[0])}/{esc(adv[1])}" if adv else "adversarial -",
        ]
        return head + f'{tool} {verdict} <span class="facts">{esc(", ").join(facts)}</span>'
    if kind == "revised":
        if "previous_code" not in e:
            return (
                head
                + f"{tool} repair round {esc(e.get('round'))} (this library did not keep the replaced code: no diff)"
            )
        stages = hist.stages(str(name), int(version or 0), codes.final.get((str(name), int(version or 0)), ""))
        rnd = int(e.get("round") or 1)
        new = stages[rnd] if rnd < len(stages) else ""
        return head + f"{tool} repair round {rnd}" + _diff(str(e["previous_code"]), new, f"{name} v{version}")
    if kind == "rejected":
        detail = e.get("detail")
        return (
            head
            + f'{tool} <span class="bad">rejected: {esc(e.get("reason"))}</span>'
            + (clip(str(detail), where) if detail else "")
        )
    if kind == "promoted":
        return head + f'{tool} <span class="ok">promoted</span> ({esc(e.get("reason"))})'
    if kind == "ab_test":
        return head + (f"{tool} A/B test over {esc(e.get('replays'))} replayed failures: old "
                       f"{esc(e.get('old_successes'))}, new {esc(e.get('new_successes'))}")  # fmt: skip
    if kind == "deprecated":
        return head + f"{tool} deprecated: {esc(e.get('reason'))}"
    if kind == "pruned":
        return head + "pruned: " + ", ".join(f"<code>{esc(n)}</code>" for n in e.get("names") or [])
    rest = {k: v for k, v in e.items() if k not in ("id", "episode", "kind")}
    return head + f"<code>{esc(as_json(rest))}</code>"


def render(hist: LibraryHistory, slug: str, label: str, job_path: str, episodes: list[EpisodeRef]) -> str:
    """The job's evolution page."""
    where = f"{job_path}/library.sqlite"
    up = "../"
    by_task: dict[str, list[EpisodeRef]] = defaultdict(list)
    for ref in episodes:
        by_task[ref.task].append(ref)

    def episode_link(task: str, at: int) -> str:
        # the latest episode of this task up to the trigger (a task id is unique per phase file)
        refs = [r for r in by_task.get(task, []) if r.episode is None or r.episode <= at] or by_task.get(task, [])
        if not refs:
            return f"<code>{esc(task)}</code>"
        ref = refs[-1]
        return link(up + paths.episode_page(slug, ref.key), f"episode {ref.key}", "bad" if not ref.success else "ok")

    codes = _Codes(
        first={(v.name, v.version): hist.stages(v.name, v.version, v.code)[0] for v in hist.versions},
        final={(v.name, v.version): v.code for v in hist.versions},
    )
    sections: list[tuple[str, list[str]]] = [("Before the first evolution", [])]
    for e in hist.events:
        if e["kind"] == "trigger":
            sections.append((f"Evolution {e.get('index', len(sections) - 1)} (after episode {e['episode']})", []))
        sections[-1][1].append(_event_html(e, hist, codes, episode_link, where))
    timeline = "".join(
        f'<section class="evolution"><h3>{esc(title)}</h3><ol class="events">'
        + "".join(f'<li class="event">{item}</li>' for item in items)
        + "</ol></section>"
        for title, items in sections
        if items
    )
    adversarial = {(e.get("name"), e.get("version")): e.get("tests") for e in hist.events if e["kind"] == "adversarial"}
    cards = []
    for v in hist.versions:
        adv = adversarial.get((v.name, v.version))
        cards.append(
            f'<section class="tool" id="{esc(_version_anchor(v.name, v.version))}"><h3>{esc(v.name)} v{v.version} '
            f'<span class="status {esc(v.status)}">{esc(v.status)}</span></h3>'
            + kv_table(
                [
                    ("origin", esc(v.origin) + (f" (parent v{v.parent_version})" if v.parent_version else "")),
                    ("created at episode", esc(v.created_episode)),
                    ("reason", esc(v.reason or "-")),
                    ("invocations / successes", esc(f"{v.invocations} / {v.successes}")),
                    ("description", esc(v.schema.get("description", "-"))),
                ]
            )
            + f"<details><summary>code</summary>{clip(v.code, where)}</details>"
            + f"<details><summary>tests</summary>{clip(v.tests or '(none)', where)}</details>"
            + (
                f"<details><summary>adversarial tests</summary>{clip(str(adv), where)}</details>"
                if adv is not None
                else '<p class="note">adversarial tests: not in this library\'s log</p>'
            )
            + "</section>"
        )
    promoted = sorted({(e["name"]) for e in hist.events if e["kind"] == "promoted"})
    usage = []
    for name in promoted:
        rows = [
            [link(up + paths.episode_page(slug, r.key), r.key), badge(r.success), esc(r.calls[name][0]),
             esc(r.calls[name][1]), f"v{esc(_active_at(hist.snapshots, r.episode).get(name, '?'))}"]
            for r in episodes
            if name in r.calls
        ]  # fmt: skip
        ok = sum(1 for r in episodes if name in r.calls and r.success)
        n = sum(1 for r in episodes if name in r.calls)
        usage.append(
            f'<section class="usage"><h3><code>{esc(name)}</code>: called in {n} episodes, {ok} succeeded</h3>'
            + (table(["episode", "outcome", "calls", "failed calls", "version active"], rows) if rows else "")
            + "</section>"
        )
    widget = (
        '<div id="library-at"><label>Library when episode <input id="at-episode" type="number" min="0" value="0"> '
        'was played:</label><ul id="at-tools"></ul></div>'
        f'<script type="application/json" id="snapshots">{script_json(hist.snapshots)}</script>'
    )
    counts: dict[str, int] = defaultdict(int)
    for e in hist.events:
        counts[e["kind"]] += 1
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    body = (
        f"<p>{esc(summary) or 'no events: nothing evolved in this job'}</p>"
        f"<h2>The library at any episode</h2>{widget}"
        f"<h2>Timeline</h2>{timeline or '<p>No evolution happened.</p>'}"
        f"<h2>Promoted tools in use</h2>{''.join(usage) or '<p>No tool was promoted.</p>'}"
        f"<h2>Every tool version</h2>{''.join(cards) or '<p>No candidates.</p>'}"
    )
    return page(f"Evolution of {label}", body, depth=1, crumbs=[(label, paths.job_page(slug)), ("evolution", "")])


def _active_at(snapshots: list[dict[str, Any]], episode: int | None) -> dict[str, int]:
    """The active set while ``episode`` was played: the last snapshot taken after an earlier episode
    (an evolution runs after the episode that triggered it)."""
    active: dict[str, int] = {}
    for s in snapshots:
        if episode is not None and s["episode"] < episode:
            active = s["active"]
    return active
