"""The world as an inline-data prompt shows it: all the sim's ``arise_v1`` plans may read.

``arise_v1`` prompts paste their data (logs, config files, exports) into the text, and
the paper's plans are written against a ``World`` (they read those files from it). The
sim hands them ``shown_world(world, prompt)`` instead of the scored world: a world
holding only

* the files whose text the prompt pastes verbatim, or a leading run of a file's lines
  the prompt pastes (the 100-line log sample), at least ``MIN_SHOWN_CHARS`` long;
* facts re-derived from the prompt by the world's ``FACTS_FROM_PROMPT`` reader (AcmeCorp:
  the config files in the order the prompt shows them), never the generator's facts;
* no handbook, no HTTP routes (APIs are reached by real calls), a fresh cache.

So a plan reads exactly what the model was shown; a test runs every plan on the shown
world and checks it answers as on the full one, and one plants a read of the scored
world's facts.
"""

from __future__ import annotations

import dataclasses
import json
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from envs.http import WorldHttp
from envs.world import World

MIN_SHOWN_CHARS = 200  # a shorter run of lines may be in the prompt by coincidence (a shared `@include` line)


def _shown_text(text: str, prompt: str) -> str | None:
    """``text`` if the prompt pastes it, else its longest leading run of lines the prompt pastes."""
    if text.strip() and text.strip() in prompt:
        return text
    lines = text.split("\n")
    lo, hi = 0, len(lines)  # the prefix of lo lines is in the prompt; of hi + 1 lines it is not
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if "\n".join(lines[:mid]) in prompt:
            lo = mid
        else:
            hi = mid - 1
    shown = "\n".join(lines[:lo])
    return shown + "\n" if lo >= 2 and len(shown) >= MIN_SHOWN_CHARS else None


def _acmecorp_facts(files: dict[str, str], prompt: str) -> dict[str, Any]:
    """The config files in the order the prompt shows them (``base.acme`` first in the paper's prompts)."""
    from envs.acmecorp.arise_v1.world import BASE_CONFIG, CONFIG_DIR

    configs = [p for p in files if p.startswith(CONFIG_DIR + "/")]
    order = sorted(configs, key=lambda p: prompt.find(files[p].strip()))
    names = [p.removeprefix(CONFIG_DIR + "/") for p in order]
    return {"config_order": names, "config_services": [n.removesuffix(".acme") for n in names if n != BASE_CONFIG]}


# Per world: the facts its arise_v1 prompt helpers need, read off the prompt and the shown files.
FACTS_FROM_PROMPT: dict[str, Callable[[dict[str, str], str], dict[str, Any]]] = {"acmecorp": _acmecorp_facts}


_CACHE: OrderedDict[tuple[str, str, int, str, str], World] = OrderedDict()  # every request replays the plan


def shown_world(world: World, prompt: str) -> World:
    """``world`` reduced to what ``prompt`` shows (see the module docstring)."""
    key = (world.name, world.protocol, world.seed, json.dumps(world.options, sort_keys=True), prompt)
    shown = _CACHE.get(key)
    if shown is None:
        shown = _CACHE[key] = _shown(world, prompt)
        while len(_CACHE) > 16:
            _CACHE.popitem(last=False)
    return shown


def _shown(world: World, prompt: str) -> World:
    files = {}
    for path, text in world.files.items():
        shown = _shown_text(text, prompt)
        if shown is not None:
            files[path] = shown
    reader = FACTS_FROM_PROMPT.get(world.name)
    return dataclasses.replace(
        world,
        files=files,
        docs={},
        http=WorldHttp(),
        facts=reader(files, prompt) if reader else {},
        api_fingerprint=b"",
        cache={},
    )
