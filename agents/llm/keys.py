"""API keys: read only from environment variables named in config, never stored or shown.

Backends keep the *name* of the variable and read the value at call time, so no object
holds a key (nothing to leak through ``repr``, pickling or recorded files). ``redact``
scrubs a key from any text that might be shown (error bodies echoed by a server).
"""

from __future__ import annotations

import os

from agents.llm.types import AuthError


def read_key(env_var: str | None, provider: str) -> str | None:
    """The key in ``env_var`` (``None`` when no variable is configured, e.g. a local server)."""
    if not env_var:
        return None
    value = os.environ.get(env_var, "").strip()
    if not value:
        raise AuthError(
            f"{provider}: environment variable {env_var} is not set or empty; export it with your API key "
            f"(or set api_key_env to the variable that holds it, or to null for servers without auth)"
        )
    return value


def redact(text: str, key: str | None) -> str:
    """``text`` with every occurrence of ``key`` replaced by ``***``."""
    if key and len(key) >= 4:
        return text.replace(key, "***")
    return text
