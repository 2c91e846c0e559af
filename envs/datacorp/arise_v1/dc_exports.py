"""The paper's ``.dc`` exports: generating the three tables, formatting them, and the graders' strict parser."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envs import seeding
from envs.datacorp.arise_v1.constants import (
    CATEGORIES,
    COLUMNS,
    COUNTRIES,
    CURRENCIES,
    CUSTOMER_EMAILS,
    CUSTOMER_NAMES,
    EXPORT_DIR,
    EXPORT_VERSION,
    EXPORTED,
    FIRST_CUSTOMER_ID,
    FIRST_ORDER_ID,
    FIRST_PRODUCT_ID,
    JOINED_START,
    JOINED_WINDOW,
    N_CUSTOMERS,
    N_ORDERS,
    N_PRODUCTS,
    ORDER_WINDOW,
    PRODUCT_CURRENCIES,
    PRODUCT_NAMES,
    SCHEMAS,
    STATUSES,
    T_START,
    TIERS,
)


# =================================================================================
# The .dc dialect
# =================================================================================
def export_path(schema: str) -> str:
    return f"{EXPORT_DIR}/{schema}.dc"


def format_dc(schema: str, rows: list[tuple[str, ...]]) -> str:
    """The paper's export text: metadata line, columns line, one ``|`` row per record."""
    lines = [
        f"## {EXPORT_VERSION} | schema={schema} | exported={EXPORTED}",
        "## columns: " + "|".join(COLUMNS[schema]),
    ]
    lines += ["|".join(r) for r in rows]
    return "\n".join(lines) + "\n"


def generate_orders(seed: int, n: int = N_ORDERS) -> list[tuple[str, ...]]:
    r = seeding.rng(seed, "arise_v1", "datacorp", "orders")
    customers = r.integers(0, len(CUSTOMER_EMAILS), size=n)
    amounts = r.uniform(10.0, 2000.0, size=n)
    currencies = r.integers(0, len(CURRENCIES), size=n)
    statuses = r.integers(0, len(STATUSES), size=n)
    offsets = r.integers(0, ORDER_WINDOW, size=n, endpoint=True)
    return [
        (
            str(FIRST_ORDER_ID + i),
            CUSTOMER_EMAILS[int(customers[i])],
            f"{round(float(amounts[i]), 2):.2f}",
            CURRENCIES[int(currencies[i])],
            STATUSES[int(statuses[i])],
            str(T_START + int(offsets[i])),
        )
        for i in range(n)
    ]


def generate_products(seed: int, n: int = N_PRODUCTS) -> list[tuple[str, ...]]:
    r = seeding.rng(seed, "arise_v1", "datacorp", "products")
    out: list[tuple[str, ...]] = []
    for i in range(n):
        out.append(
            (
                str(FIRST_PRODUCT_ID + i),
                PRODUCT_NAMES[int(r.integers(len(PRODUCT_NAMES)))],
                f"{round(float(r.uniform(5.0, 500.0)), 2):.2f}",
                PRODUCT_CURRENCIES[int(r.integers(len(PRODUCT_CURRENCIES)))],
                CATEGORIES[int(r.integers(len(CATEGORIES)))],
                ("true", "false")[int(r.integers(2))],
            )
        )
    return out


def generate_customers(seed: int) -> list[tuple[str, ...]]:
    """One record per known customer email, in the fixed email order (as the paper did)."""
    r = seeding.rng(seed, "arise_v1", "datacorp", "customers")
    out: list[tuple[str, ...]] = []
    for i, email in enumerate(CUSTOMER_EMAILS[:N_CUSTOMERS]):
        out.append(
            (
                str(FIRST_CUSTOMER_ID + i),
                email,
                CUSTOMER_NAMES[i % len(CUSTOMER_NAMES)],
                COUNTRIES[int(r.integers(len(COUNTRIES)))],
                TIERS[int(r.integers(len(TIERS)))],
                str(JOINED_START + int(r.integers(0, JOINED_WINDOW, endpoint=True))),
            )
        )
    return out


@dataclass
class DcTable:
    """A parsed ``.dc`` export: metadata, column names, typed rows."""

    metadata: dict[str, str]
    columns: list[str]
    rows: list[dict[str, Any]]


def _typed(schema: str | None, column: str, raw: str) -> Any:
    ftype = SCHEMAS.get(schema or "", {}).get("fields", {}).get(column, {}).get("type")
    if ftype in ("integer", "unix_timestamp"):
        return int(raw)
    if ftype == "float":
        return float(raw)
    if ftype == "boolean":
        # Kept as the text "true"/"false", as the reference's parser keeps it (its _auto_cast only casts
        # numbers: github.com/abekek/arise@54de0da, benchmarks/datacorp/csv_format.py), so the paper's
        # DCQL semantics apply: WHERE in_stock = "true" matches; the validation API coerces the text itself.
        if raw not in ("true", "false"):
            raise ValueError(f"column {column!r}: expected true or false, got {raw!r}")
        return raw
    return raw


def parse_dc(text: str) -> DcTable:
    """Strict ``.dc`` parser (graders' side): every row must have one value per column.

    Values are typed by the schema named in the metadata line: integers and floats become
    numbers; everything else stays text, booleans too (checked to be ``true``/``false``).
    """
    metadata: dict[str, str] = {}
    columns: list[str] = []
    raw_rows: list[tuple[int, list[str]]] = []
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s:
            continue
        if s.startswith("## columns:"):
            columns = [c.strip() for c in s[len("## columns:") :].split("|")]
        elif s.startswith("##"):
            for seg in s[2:].split("|"):
                key, eq, value = seg.strip().partition("=")
                if eq:
                    metadata[key.strip()] = value.strip()
                else:
                    metadata["version"] = seg.strip()
        else:
            if not columns:
                raise ValueError(f"line {n}: data row before the '## columns:' line")
            raw_rows.append((n, [v.strip() for v in s.split("|")]))
    schema = metadata.get("schema")
    rows: list[dict[str, Any]] = []
    for n, values in raw_rows:
        if len(values) != len(columns):
            raise ValueError(f"line {n}: {len(values)} values for {len(columns)} columns")
        rows.append({c: _typed(schema, c, v) for c, v in zip(columns, values, strict=True)})
    return DcTable(metadata, columns, rows)
