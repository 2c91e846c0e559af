"""The cross-process concurrency limit: flock-ed slot files shared by the jobs of a sweep."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
import respx
from omegaconf import OmegaConf

from agents.llm import ChatRequest, LLMError, OpenAIChat, make_backend
from agents.llm.retry import SharedSlots, SlotTimeoutError, endpoint_key, endpoint_limiter
from experiments.config import compose_run_config

OK = {"choices": [{"message": {"role": "assistant", "content": "42"}, "finish_reason": "stop"}], "usage": {}}
REPO = Path(__file__).resolve().parents[2]
SPAWN = mp.get_context("spawn")  # no inherited locks or threads from the test process


# -- child processes (module level, so 'spawn' can import them) ------------------------------
def _hold_and_record(directory: str, limit: int, hold_s: float, out: str, start: object) -> None:
    start.wait()  # type: ignore[attr-defined]  # a Barrier: every process competes at once
    with SharedSlots(directory, limit):
        entered = time.monotonic()  # after the slot is taken ...
        time.sleep(hold_s)
        left = time.monotonic()  # ... and before it is given back
    Path(out).write_text(f"{entered!r} {left!r}\n", encoding="utf-8")


def _hold_forever(directory: str, acquired: object) -> None:
    with SharedSlots(directory, 1):
        acquired.set()  # type: ignore[attr-defined]
        time.sleep(60)


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(t0, 1) for t0, _ in intervals] + [(t1, -1) for _, t1 in intervals], key=lambda e: (e[0], e[1]))
    peak = current = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


def test_limit_holds_across_processes(tmp_path: Path):
    slots, n = tmp_path / "slots", 5
    start = SPAWN.Barrier(n)
    procs = [
        SPAWN.Process(target=_hold_and_record, args=(str(slots), 2, 0.2, str(tmp_path / f"p{i}.txt"), start))
        for i in range(n)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert [p.exitcode for p in procs] == [0] * n
    intervals = []
    for i in range(n):
        t0, t1 = map(float, (tmp_path / f"p{i}.txt").read_text(encoding="utf-8").split())
        intervals.append((t0, t1))
    # at most 2 at once, and really 2 (the limit does not serialise everything)
    assert _max_overlap(intervals) == 2
    assert sorted(p.name for p in slots.iterdir()) == ["slot-0.lock", "slot-1.lock"]


def test_killed_holder_frees_its_slot(tmp_path: Path):
    slots = tmp_path / "slots"
    acquired = SPAWN.Event()
    proc = SPAWN.Process(target=_hold_forever, args=(str(slots), acquired))
    proc.start()
    try:
        assert acquired.wait(20), "the child never took the slot"
        with pytest.raises(SlotTimeoutError):
            SharedSlots(slots, 1, timeout_s=0.1).acquire()
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(10)
        assert proc.exitcode == -signal.SIGKILL
        t0 = time.monotonic()
        with SharedSlots(slots, 1, timeout_s=1.0):  # the OS dropped the dead process's flock
            pass
        assert time.monotonic() - t0 < 1.0
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join(5)


def test_endpoint_limiter_shares_slots_per_endpoint(tmp_path: Path, base_url: str):
    other_url = base_url.replace("/v1", "/v2")
    a = endpoint_limiter(base_url, 1, tmp_path)
    assert isinstance(a, SharedSlots)
    assert endpoint_limiter(base_url + "/", 3, str(tmp_path)) is a  # same endpoint: same slots, first limit wins
    b = endpoint_limiter(other_url, 1, tmp_path)
    assert isinstance(b, SharedSlots) and a.limit == 1
    assert a.directory == tmp_path / endpoint_key(base_url) and b.directory == tmp_path / endpoint_key(other_url)
    assert a.directory != b.directory and len(endpoint_key(base_url)) == 16
    # the process-wide semaphore is unchanged without shared_dir
    assert isinstance(endpoint_limiter(base_url, 1), threading.BoundedSemaphore)
    with a:
        # another holder of the same endpoint's directory (as another job would be) finds it full ...
        with pytest.raises(SlotTimeoutError):
            SharedSlots(tmp_path / endpoint_key(base_url), 1, timeout_s=0.1).acquire()
        # ... while another endpoint is free
        with b, SharedSlots(tmp_path / endpoint_key(other_url), 2, timeout_s=0.5):
            pass
    with SharedSlots(tmp_path / endpoint_key(base_url), 1, timeout_s=0.5):
        pass
    with pytest.raises(ValueError, match="max_concurrency must be >= 1"):
        endpoint_limiter(base_url, 0, tmp_path)


def test_threads_never_overlap_with_limit_one(tmp_path: Path):
    # two objects on one directory: threads of one process exclude each other through the files too
    limiters = [SharedSlots(tmp_path, 1), SharedSlots(tmp_path, 1)]
    in_flight = peak = done = 0
    lock = threading.Lock()

    def work(limiter: SharedSlots) -> None:
        nonlocal in_flight, peak, done
        for _ in range(5):
            with limiter:
                with lock:
                    in_flight += 1
                    peak = max(peak, in_flight)
                time.sleep(0.005)
                with lock:
                    in_flight -= 1
                    done += 1

    threads = [threading.Thread(target=work, args=(limiters[i % 2],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert peak == 1 and done == 20
    with pytest.raises(RuntimeError, match="without a slot held"):
        limiters[0].release()


def test_factory_backend_with_shared_dir_completes(tmp_path: Path, base_url: str):
    slots = tmp_path / "slots"
    cfg = {"provider": "openai", "model": "gpt-test", "base_url": base_url, "api_key_env": None}
    backend = make_backend({**cfg, "max_concurrency": 2, "shared_limit_dir": str(slots)}, client=httpx.Client())
    assert isinstance(backend, OpenAIChat) and backend.shared_limit_dir == slots
    with respx.mock:
        route = respx.post(f"{base_url}/chat/completions").respond(200, json=OK)
        resp = backend.complete(ChatRequest(model="", messages=[{"role": "user", "content": "q"}]))
    assert resp.text == "42" and route.call_count == 1
    endpoint_dir = slots / endpoint_key(base_url)
    assert endpoint_dir.is_dir() and (endpoint_dir / "slot-0.lock").exists()
    # null: the per-process limit only
    per_process = make_backend({**cfg, "base_url": base_url + "/other", "shared_limit_dir": None})
    assert isinstance(per_process, OpenAIChat) and per_process.shared_limit_dir is None
    with pytest.raises(ValueError, match="max_concurrency must be an integer >= 1, got 0"):
        make_backend({**cfg, "max_concurrency": 0})
    with pytest.raises(ValueError, match="shared_limit_dir must be a directory path or null"):
        make_backend({**cfg, "shared_limit_dir": 3})


@pytest.mark.parametrize("name", ["openai", "anthropic", "local"])
def test_config_defaults_resolve_and_build(name: str, tmp_path: Path, base_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ARISE_LLM_SLOTS", str(tmp_path / "env-slots"))
    llm = _composed_llm(name)
    assert llm["shared_limit_dir"] == str(tmp_path / "env-slots")
    backend = make_backend({**llm, "base_url": f"{base_url}/{name}"})
    assert getattr(backend, "shared_limit_dir", None) == tmp_path / "env-slots"
    monkeypatch.delenv("ARISE_LLM_SLOTS")
    assert _composed_llm(name)["shared_limit_dir"] == "/tmp/arise-gym-llm-slots"


def _composed_llm(name: str) -> dict:
    """The llm preset as a job sees it: composed by Hydra over its typed schema (the yaml alone has a
    defaults list) and resolved, as experiments.conditions.make_llm hands it to make_backend."""
    llm = OmegaConf.to_container(compose_run_config([f"llm={name}"]).llm, resolve=True, enum_to_str=True)
    assert isinstance(llm, dict)
    return llm


def test_timeout_when_all_slots_are_held(tmp_path: Path):
    waiting = SharedSlots(tmp_path, 2, timeout_s=0.2)
    with SharedSlots(tmp_path, 2), SharedSlots(tmp_path, 2):
        for _ in range(3):
            t0 = time.monotonic()
            with pytest.raises(SlotTimeoutError, match=r"no free LLM concurrency slot in .* after 0.2 s") as err:
                waiting.acquire()
            assert 0.15 <= time.monotonic() - t0 < 2.0
    assert isinstance(err.value, LLMError)
    with waiting, waiting:  # failed waits gave their in-process permits back: both slots are usable
        pass
    with pytest.raises(ValueError, match="max_concurrency must be >= 1"):
        SharedSlots(tmp_path, 0)
