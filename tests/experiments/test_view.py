"""experiments.view: the static site, opened in headless Chromium (DOM after scripts ran).

The sweep is small and written by hand (records shaped as experiments.records writes them, the
library through evolution.library), so every count the pages show is known here. Browser tests
skip when Chromium is missing, except in CI (``CI`` set), where a missing browser is a failure.
"""

from __future__ import annotations

import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from evolution.library import Library
from experiments.records import EpisodeRecord, JobResult, ToolCallRecord
from experiments.view import paths
from experiments.view.browser import Page, dump_dom, file_url, find_chromium, screenshot
from experiments.view.build import build_site
from experiments.view.cli import main

needs_browser = pytest.mark.skipif(
    find_chromium() is None and not os.environ.get("CI"),
    reason="chromium is not installed (make browser-deps); in CI this is a failure, not a skip",
)

SEED = 7
# (success, tools called) per episode of the arise job; episodes 3-5 call the promoted tool.
ARISE = [(False, ["read_file"]), (False, []), (True, ["read_file"]), (False, ["log_count", "mystery"]),
         (True, ["log_count"]), (True, ["log_count", "read_file"])]  # fmt: skip
BASELINE = [(False, ["read_file"]), (True, ["read_file"]), (False, []), (False, []), (True, []), (False, [])]
CODE_V0 = "def log_count(service: str) -> int:\n    return 0\n"
CODE_V1 = "def log_count(service: str) -> int:\n    return len(service)\n"
ADVERSARIAL = "def test_empty():\n    assert log_count('') == 0\n"


def _record(i: int, success: bool, tools: list[str], condition: str) -> dict[str, Any]:
    task = {"id": f"acmecorp/rigorous/test/s{SEED}/w0/logs.breakdown/{i}", "world": "acmecorp",
            "family": "logs.breakdown" if i % 2 else "logs.severity_count", "phase": "logs", "difficulty": "easy",
            "split": "test", "truth": {"errors": 4, "warns": 9}, "world_seed": SEED}  # fmt: skip
    answer = {"errors": 4, "warns": 9 if success else 8}
    calls = [
        ToolCallRecord(t, {"service": "api"}, t != "mystery", None if t != "mystery" else "unknown tool") for t in tools
    ]
    long = "x" * 5000  # longer than a page shows
    steps = [{"action": json.dumps({"tool": c.tool, "args": c.args}), "observation": f"result of {c.tool} {long}",
              "reward": 0.0, "info": {"kind": "tool", "tool": c.tool, "args": c.args, "ok": c.ok, "error": c.error}}
             for c in calls]  # fmt: skip
    responses = [{"text": "", "raw": {"sim": {"action": c.tool}}} for c in calls]
    responses.append({"text": json.dumps(answer), "raw": {"sim": {"events": [{"event": "guessed"}]}}})
    steps.append({"action": json.dumps({"answer": answer}), "observation": "", "reward": float(success), "info": {}})
    record = EpisodeRecord(
        task=task, prompt=f"Count the errors and warnings (episode {i}).", policy="react",
        tools_offered=["read_file", "log_count"], tools_called=calls, steps=steps, n_steps=len(steps),
        truncated=False, answer=json.dumps(answer),
        grade={"score": 1.0 if success else 0.5, "success": success,
               "detail": {"keys": {"errors": "ok", "warns": "ok" if success else "wrong value"}}},
        score=1.0 if success else 0.5, success=success, episode=i, condition=condition, seed=SEED,
        extras={"llm": {"system_prompt": "You are an SRE.", "responses": responses, "error": None,
                        "usage": {"llm_calls": len(responses), "tokens_in": 100 * (i + 1), "tokens_out": 7,
                                  "cost_usd": 0.001 * (i + 1)}}},
    )  # fmt: skip
    return record.to_json()


def _write_job(root: Path, condition: str, outcomes: list[tuple[bool, list[str]]], library: bool) -> Path:
    job = root / f"condition={condition}"
    job.mkdir(parents=True)
    records = [_record(i, ok, tools, condition) for i, (ok, tools) in enumerate(outcomes)]
    (job / "episodes.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    result = JobResult(
        world="acmecorp", protocol="rigorous", condition=condition, seed=SEED, split="test",
        n_episodes=len(records), success_rate=sum(r["success"] for r in records) / len(records),
        mean_score=sum(r["score"] for r in records) / len(records), by_phase={}, by_family={}, by_difficulty={},
        tasks=[{"id": r["task"]["id"], "success": r["success"], "score": r["score"]} for r in records],
        config={"condition": {"name": condition}, "seed": SEED}, config_hash=f"hash-{condition}", llm="sim",
        model="sim-4o-mini-like", simulated=True,
        evolution={"candidates": 2} if library else None, tools_promoted=1 if library else None,
    )  # fmt: skip
    (job / "result.json").write_text(json.dumps(result.to_json()))
    if library:
        with Library(job / "library.sqlite") as lib:
            lib.log(1, "trigger", reason="2 failures since the last evolution", failures=[records[0]["task"]["id"],
                    records[1]["task"]["id"]], index=0)  # fmt: skip
            lib.log(1, "gaps", gaps=["log_count", "bad_tool"], descriptions={"log_count": "counts log lines"})
            lib.add_candidate("log_count", CODE_V0, {"description": "Count log lines."}, "def test_a(): pass\n",
                              "synthesis", episode=1)  # fmt: skip
            lib.log(1, "adversarial", name="log_count", version=1, tests=ADVERSARIAL)
            lib.log(1, "check", name="log_count", version=1, round=0, ok=False, reason="sandbox_tests",
                    static_policy=True, static_policy_enforced=True, tests=[0, 1], adversarial=None)  # fmt: skip
            lib.revise("log_count", 1, CODE_V1, "def test_a(): pass\n", episode=1, round=1)
            lib.log(1, "check", name="log_count", version=1, round=1, ok=True, reason=None, static_policy=True,
                    static_policy_enforced=True, tests=[1, 1], adversarial=[1, 1])  # fmt: skip
            lib.promote("log_count", 1, episode=1)
            bad = lib.add_candidate("bad_tool", "import os\n", {}, "", "synthesis", episode=1)
            lib.reject("bad_tool", bad.version, "static_policy", episode=1, detail="import of 'os'")
    return job


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sweep")
    _write_job(root, "arise", ARISE, library=True)
    _write_job(root, "no_evolution", BASELINE, library=False)
    return root


@pytest.fixture(scope="module")
def site(sweep: Path) -> Path:
    build_site([sweep], sweep / "view", progress=False)
    return sweep / "view"


def slug(condition: str) -> str:
    return paths.job_slug({"condition": condition, "seed": SEED, "config_hash": f"hash-{condition}"}, Path("."))


def row_links(dom: str) -> list[str]:
    """The episode links of the rendered table, in order."""
    return re.findall(r'<td data-column="key"><a href="([^"]+)">', dom)


def count_text(dom: str) -> str:
    match = re.search(r'<p id="count" class="count">([^<]*)</p>', dom)
    assert match, "the table's row count was not rendered (scripts did not run?)"
    return match.group(1)


@pytest.fixture(scope="module")
def pages(site: Path) -> dict[str, Page]:
    """Every page the browser tests look at, loaded side by side (one headless browser each)."""
    arise = slug("arise")
    urls = {
        "index": file_url(site / "index.html"),
        "job": file_url(site / paths.job_page(arise)),
        "failed": file_url(site / paths.job_page(arise), "success=false"),
        "tool": file_url(site / paths.job_page(arise), "tools_called=log_count"),
        "search": file_url(site / paths.job_page(arise), "q=logs.breakdown%2F4"),
        "all": file_url(site / "episodes.html", "success=true"),
        "episode": file_url(site / paths.episode_page(arise, "3")),
        "evolution": file_url(site / paths.evolution_page(arise), "at=2"),
        "compare": file_url(site / paths.compare_page(f"acmecorp/rigorous/test/s{SEED}/w0/logs.breakdown/3")),
    }
    if find_chromium() is None:
        pytest.fail("chromium is missing and CI is set: install it (make browser-deps)")
    with ThreadPoolExecutor(max_workers=2) as pool:
        loaded = dict(zip(urls, pool.map(dump_dom, urls.values())))
    return loaded


@needs_browser
def test_runs_index_lists_every_job_with_its_numbers(pages: dict[str, Page], site: Path):
    dom = pages["index"].dom
    assert count_text(dom) == "2 of 2 jobs"
    links = re.findall(r'<td data-column="arm"><a href="([^"]+)">([^<]+)</a>', dom)
    assert sorted(text for _, text in links) == ["arise", "no_evolution"]
    assert all((site / href).is_file() for href, _ in links)
    # headline numbers as result.json has them (the report's loader)
    arise_row = dom[dom.index(f"jobs/{slug('arise')}.html") :].split("</tr>")[0]
    assert '<td data-column="success_rate">0.500</td>' in arise_row
    assert f'href="evolution/{slug("arise")}.html"' in arise_row


@needs_browser
def test_job_table_filters_search_and_links(pages: dict[str, Page], site: Path):
    job_dir = site / "jobs"
    assert count_text(pages["job"].dom) == f"{len(ARISE)} of {len(ARISE)} episodes"
    failed = row_links(pages["failed"].dom)
    assert [Path(h).stem for h in failed] == [str(i) for i, (ok, _) in enumerate(ARISE) if not ok]
    assert count_text(pages["failed"].dom) == f"3 of {len(ARISE)} episodes"
    assert [Path(h).stem for h in row_links(pages["tool"].dom)] == ["3", "4", "5"]  # a tool among those called
    assert [Path(h).stem for h in row_links(pages["search"].dom)] == ["4"]
    assert all((job_dir / h).resolve().is_file() for h in row_links(pages["job"].dom))


@needs_browser
def test_all_episodes_page_loads_every_jobs_rows_lazily(pages: dict[str, Page]):
    wins = sum(ok for ok, _ in ARISE) + sum(ok for ok, _ in BASELINE)
    assert count_text(pages["all"].dom) == f"{wins} of {len(ARISE) + len(BASELINE)} episodes"
    assert 'data-column="job"' in pages["all"].dom


@needs_browser
def test_episode_page_tells_the_whole_story(pages: dict[str, Page]):
    dom = pages["episode"].dom
    assert "Count the errors and warnings (episode 3)." in dom  # the prompt
    keys = re.findall(
        r"<tr><td>(\w+)</td><td><code>([^<]*)</code></td><td><code>([^<]*)</code></td><td>(.*?)</td></tr>", dom
    )
    assert [(k, a, t) for k, a, t, _ in keys] == [("errors", "4", "4"), ("warns", "8", "9")]
    assert "wrong value" in keys[1][3] and "ok" in keys[0][3]
    tools = dom[dom.index('<table class="tools">') :].split("</table>")[0]
    cells = re.findall(
        r"<tr><td><code>(\w+)</code></td><td>(.*?)</td><td>[^<]*</td><td>(\d+)</td><td>(\d+)</td></tr>", tools
    )
    assert cells == [("read_file", "yes", "0", "0"), ("log_count", "yes", "1", "0"),
                     ("mystery", '<span class="bad">not offered</span>', "1", "1")]  # fmt: skip
    assert "unknown tool" in dom  # the failed call's error, in its step
    assert "characters not shown" in dom  # long observations are cut, saying so
    assert "cost_usd" in dom and "0.004" in dom  # usage
    assert "guessed" in dom and "action: log_count" in dom  # the simulated model's reasons
    assert 'class="compare"' in dom and 'class="next"' in dom


@needs_browser
def test_evolution_timeline_and_library_at_an_episode(pages: dict[str, Page], site: Path):
    dom = pages["evolution"].dom
    # at=2: the tool promoted after episode 1 was active (computed by the page's script from the snapshots)
    assert re.findall(r'<li class="active-tool"><a href="#tool-(\w+)-v(\d+)">', dom) == [("log_count", "1")]
    assert (
        '<span class="del">-    return 0</span>' in dom and '<span class="add">+    return len(service)</span>' in dom
    )
    assert "assert log_count(&#x27;&#x27;) == 0" in dom or "assert log_count('') == 0" in dom  # adversarial suite
    assert "<code>log_count</code> (counts log lines), <code>bad_tool</code>" in dom  # the gaps, described if logged
    assert "rejected: static_policy" in dom and "failed: sandbox_tests" in dom and "promoted" in dom
    assert 'id="tool-log_count-v1"' in dom and 'id="tool-bad_tool-v1"' in dom
    usage = dom[dom.index("Promoted tools in use") :]
    assert "called in 3 episodes, 2 succeeded" in usage
    trigger_links = re.findall(r'href="(\.\./episodes/[^"]+)"', dom.split("gaps named")[0])
    assert [Path(h).stem for h in trigger_links] == ["0", "1"]
    assert all((site / "evolution" / h).resolve().is_file() for h in trigger_links)


@needs_browser
def test_compare_page_shows_the_task_in_both_jobs(pages: dict[str, Page]):
    dom = pages["compare"].dom
    assert "in 2 jobs" in dom and ">arise<" in dom and ">no_evolution<" in dom
    assert re.findall(r"<code>(\{[^<]*)</code>", dom) == ['{"errors": 4, "warns": 8}'] * 2  # both answered wrong


@needs_browser
def test_screenshot_is_a_png(site: Path, tmp_path: Path):
    out = screenshot(file_url(site / "index.html"), tmp_path / "index.png", width=800, height=600)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000


def test_build_is_deterministic_and_reads_old_libraries(sweep: Path, tmp_path: Path):
    a = build_site([sweep], tmp_path / "a", progress=False)
    b = build_site([sweep], tmp_path / "b", progress=False)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    assert (a.jobs, a.episodes, a.evolution_pages) == (b.jobs, b.episodes, b.evolution_pages) == (2, 12, 1)
    assert a.pages == 1 + 1 + 2 + 12 + 1 + len(ARISE) + 1  # index, all episodes, jobs, episodes, evolution, compare
    # A library written before revisions kept the replaced code: the timeline says so instead of a diff.
    old = tmp_path / "old"
    _write_job(old, "arise", ARISE[:2], library=False)
    with Library(old / "condition=arise" / "library.sqlite") as lib:
        lib.add_candidate("t", CODE_V0, {}, "", "synthesis", episode=0)
        lib.log(0, "revised", name="t", version=1, round=1)  # the payload of earlier versions
    result = json.loads((old / "condition=arise" / "result.json").read_text())
    (old / "condition=arise" / "result.json").write_text(json.dumps({**result, "evolution": {}}))
    build_site([old], old / "view", progress=False)
    page = (old / "view" / paths.evolution_page(slug("arise"))).read_text()
    assert "did not keep the replaced code" in page and "adversarial tests: not in this library" in page


def test_cli_errors_name_the_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit):
        main([str(tmp_path / "missing")])
    assert "is not a directory" in capsys.readouterr().err
    assert main([str(tmp_path), "--no-progress"]) == 1
    assert "no result.json under" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(tmp_path), "--port", "70000"])
    assert "--port must be between 0 and 65535" in capsys.readouterr().err


@needs_browser
def test_report_links_into_the_viewer(sweep: Path, site: Path):
    from experiments.report.jobs import load_jobs
    from experiments.report.tables import taxonomy_table
    from experiments.report.viewer import ViewerLinks

    report_dir = sweep / "report"  # build_report's default place, next to the viewer's
    links = ViewerLinks(report_dir, site)
    jobs = load_jobs([sweep], progress=False)
    table, _ = taxonomy_table(jobs, links.episode)
    assert table is not None
    md = "\n".join([*table.notes, *links.section(jobs)])
    found = re.findall(r"\]\((\.\./view/[^)#]+)(?:#([^)]*))?\)", md)
    targets = {(Path(href).parent.name, Path(href).stem) for href, _ in found}
    # the taxonomy's examples link to their episodes, the jobs table to each job's (filtered) episodes
    assert ("arise-s7-hash-arise", "0") in targets and ("jobs", slug("arise")) in targets
    assert all((report_dir / href).resolve().is_file() for href, _ in found)
    category = next(frag for href, frag in found if frag and frag.startswith("category=") and "no_evol" in href)
    count = re.search(rf"\[[^\]]+: (\d+)\]\(\.\./view/jobs/{re.escape(slug('no_evolution'))}\.html#{category}\)", md)
    assert count
    dom = dump_dom(file_url(site / paths.job_page(slug("no_evolution")), category)).dom
    assert count_text(dom) == f"{count.group(1)} of {len(BASELINE)} episodes"  # the episodes behind the count


@needs_browser
def test_large_tables_draw_in_pages_and_the_bench_synthesises_real_records(sweep: Path, tmp_path: Path):
    from experiments.view.bench import synthesise

    big = synthesise([sweep], tmp_path / "sweep", n_jobs=6, per_job=100)
    stats = build_site([big], tmp_path / "view", taxonomy=False, progress=False)
    assert (stats.jobs, stats.episodes) == (6, 600)
    dom = dump_dom(file_url(tmp_path / "view" / "episodes.html")).dom
    assert count_text(dom) == "600 of 600 episodes"  # every row counted and searchable ...
    assert len(row_links(dom)) == 500 and "show 100 more (500 of 600 shown)" in dom  # ... the first 500 drawn


def test_the_smallest_records_of_early_versions_build(tmp_path: Path):
    """A record with only what every landed version wrote (task id, score, success) gets its pages."""
    job = tmp_path / "job"
    job.mkdir()
    (job / "episodes.jsonl").write_text(json.dumps({"task": {"id": "t/0"}, "score": 0.0, "success": False}) + "\n")
    result = JobResult(world="acmecorp", protocol="rigorous", condition="x", seed=1, split="test", n_episodes=1,
                       success_rate=0.0, mean_score=0.0, by_phase={}, by_family={}, by_difficulty={},
                       tasks=[{"id": "t/0", "success": False, "score": 0.0}], config={}, config_hash="h")  # fmt: skip
    (job / "result.json").write_text(json.dumps(result.to_json()))
    stats = build_site([tmp_path], tmp_path / "view", progress=False)
    assert (stats.jobs, stats.episodes, stats.evolution_pages) == (1, 1, 0)
    page = (tmp_path / "view" / paths.episode_page("x-s1-h", "t_0")).read_text()
    assert "No LLM usage: a scripted policy." in page and "<h2>Steps (0)</h2>" in page
