"""The paper's free-text checks for the DataCorp tasks (``DataCorpPaperCheck``), flaws included.

Each kind reproduces the paper's substring-style check; ``docs/arise_v1_datacorp.md`` lists what
each one lets through (e.g. the DC_HASH check passes on any hex character).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from envs.grading import FreeTextCheck

PIVOT_STATUSES: tuple[str, ...] = ("completed", "pending", "failed")  # the paper's check looks for these only
HEX_DIGITS = "0123456789abcdef"


def _present(text: str, items: Iterable[Any]) -> tuple[bool, str]:
    missing = [str(x) for x in items if str(x) not in text]
    return not missing, "" if not missing else f"missing: {', '.join(missing[:6])}"


def _c_contains(text: str, truth: Any) -> tuple[bool, str]:
    ok = str(truth) in text
    return ok, "" if ok else f"{str(truth)!r} not in the answer"


def _c_contains_ci(text: str, truth: Any) -> tuple[bool, str]:
    ok = str(truth).lower() in text.lower()
    return ok, "" if ok else f"{str(truth)!r} not in the answer (case-insensitive)"


def _c_all_present(text: str, truth: Any) -> tuple[bool, str]:
    return _present(text, truth)


def _c_empty_or_any(text: str, truth: Any) -> tuple[bool, str]:
    if not truth:
        return True, "expected list is empty: passes"
    ok = any(str(x) in text for x in truth)
    return ok, "" if ok else "none of the expected values in the answer"


def _c_any_present(text: str, truth: Any) -> tuple[bool, str]:
    ok = any(str(x) in text for x in truth if x)
    return ok, "" if ok else "none of the expected values in the answer"


def _c_pivot(text: str, truth: Any) -> tuple[bool, str]:
    if not any(c in text for c in truth):
        return False, "no currency of the pivot in the answer"
    ok = any(s in text for s in PIVOT_STATUSES)
    return ok, "" if ok else f"none of {', '.join(PIVOT_STATUSES)} in the answer"


def is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _c_float_near(text: str, truth: Any) -> tuple[bool, str]:
    # Paper: any whitespace token (commas count as spaces) parsing as a float within 0.5.
    target = float(truth)
    ok = any(abs(float(tok) - target) < 0.5 for tok in text.replace(",", " ").split() if is_float(tok))
    return ok, "" if ok else f"no number within 0.5 of {target}"


def _c_mentions_valid(text: str, truth: Any) -> tuple[bool, str]:
    ok = "valid" in text.lower()
    return ok, "" if ok else "'valid' not in the answer (case-insensitive)"


def _c_dc00(text: str, truth: Any) -> tuple[bool, str]:
    first = str(truth[0]) if truth else "DC-001"
    ok = first in text or "DC-00" in text
    return ok, "" if ok else f"neither {first!r} nor 'DC-00' in the answer"


def _c_both_counts(text: str, truth: Any) -> tuple[bool, str]:
    return _present(text, [truth["valid_count"], truth["invalid_count"]])


def _c_either_count(text: str, truth: Any) -> tuple[bool, str]:
    ok = str(truth["valid_count"]) in text or str(truth["invalid_count"]) in text
    return ok, "" if ok else "neither count in the answer"


def _c_any_key(text: str, truth: Any) -> tuple[bool, str]:
    ok = any(str(k) in text for k in truth)
    return ok, "" if ok else f"none of {list(truth)} in the answer"


def _c_code_and_ids(text: str, truth: Any) -> tuple[bool, str]:
    return _present(text, [truth["code"], *truth["ids"]])


def _c_valid_and_fix(text: str, truth: Any) -> tuple[bool, str]:
    low = text.lower()
    if "valid" not in low:
        return False, "'valid' not in the answer"
    ok = "fix" in low or any(str(k) in text for k in truth)
    return ok, "" if ok else "neither 'fix' nor a record id in the answer"


def _c_hash_or_hex(text: str, truth: Any) -> tuple[bool, str]:
    # Paper: len(h) > 0 and (h in output or any hex digit among the first 20 characters).
    if not truth:
        return False, "no expected hash (the paper's check fails)"
    if truth in text:
        return True, ""
    ok = any(c in HEX_DIGITS for c in text[:20])
    return ok, "hash absent; passed on a hex digit in the first 20 characters" if ok else "no hex digit early on"


def _c_count_of(text: str, truth: Any) -> tuple[bool, str]:
    return _c_contains(text, truth["row_count"])


CHECKS: dict[str, tuple[Callable[[str, Any], tuple[bool, str]], str]] = {
    "contains": (_c_contains, "passes if str(expected) is a substring of the answer"),
    "contains_ci": (_c_contains_ci, "the expected text is a substring, case-insensitive"),
    "all_present": (_c_all_present, "every expected name is a substring"),
    "all_keys": (_c_all_present, "every currency code of the expected totals is a substring (totals unchecked)"),
    "empty_or_any": (_c_empty_or_any, "any one expected value is a substring; an empty expectation passes"),
    "any_present": (_c_any_present, "any one of the expected values is a substring"),
    "pivot": (_c_pivot, "any currency of the pivot and any of completed/pending/failed are substrings"),
    "float_near": (_c_float_near, "any whitespace/comma-separated token is a number within 0.5 of the expected"),
    "mentions_valid": (_c_mentions_valid, "'valid' is a substring, case-insensitive (so is 'invalid')"),
    "dc00": (_c_dc00, "the expected code or 'DC-00' is a substring (any of DC-001..DC-009 passes)"),
    "both_counts": (_c_both_counts, "the valid count and the invalid count are substrings (independently)"),
    "either_count": (_c_either_count, "the valid count or the invalid count is a substring"),
    "any_key": (_c_any_key, "any one of the expected error codes is a substring"),
    "code_and_ids": (_c_code_and_ids, "the expected error code and every affected id are substrings"),
    "valid_and_fix": (_c_valid_and_fix, "'valid' and ('fix' or a record id) are substrings, case-insensitive"),
    "hash_or_hex": (_c_hash_or_hex, "the first hash is a substring, or any hex digit is among the first 20 chars"),
    "count_of": (_c_count_of, "the row count is a substring (the rows are unchecked)"),
}


class DataCorpPaperCheck(FreeTextCheck):
    """One of the paper's free-text DataCorp checks (``kind`` selects it from ``CHECKS``)."""

    checks = CHECKS
    label = "DataCorp paper"
