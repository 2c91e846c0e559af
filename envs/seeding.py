"""One master seed, many independent streams.

Every random choice in arise-gym derives from a master seed through
``numpy.random.SeedSequence`` spawn keys built from *names* (e.g. ``("world",
"logs")``), so adding a new stream never shifts an existing one and no global RNG
state is ever touched.
"""

from __future__ import annotations

import hashlib

import numpy as np


def _name_key(name: str | int) -> int:
    if isinstance(name, int):
        return name
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


def seed_sequence(seed: int, *names: str | int) -> np.random.SeedSequence:
    """The SeedSequence for the stream ``names`` under master ``seed``."""
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    return np.random.SeedSequence(entropy=seed, spawn_key=tuple(_name_key(n) for n in names))


def rng(seed: int, *names: str | int) -> np.random.Generator:
    """A fresh ``numpy.random.Generator`` for the stream ``names`` under ``seed``."""
    return np.random.default_rng(seed_sequence(seed, *names))


def derive_seed(seed: int, *names: str | int) -> int:
    """A 31-bit integer seed for a child stream (for APIs that take plain ints)."""
    return int(seed_sequence(seed, *names).generate_state(1, dtype=np.uint32)[0] >> 1)
