"""The paper's DataCorp fixture as constants: clock, sizes, names, schemas, validation codes, DC_CONVERT rates."""

from __future__ import annotations

from typing import Any

# -- facts of the paper's fixture --------------------------------------------------
STATUSES: tuple[str, ...] = ("completed", "pending", "failed", "refunded", "processing")
CURRENCIES: tuple[str, ...] = ("USD", "EUR", "GBP", "JPY", "CAD", "AUD")
CUSTOMER_EMAILS: tuple[str, ...] = tuple(
    f"{n}@corp.com"
    for n in (
        "alice", "bob", "carol", "dave", "eve", "frank", "grace", "henry",
        "iris", "jack", "kate", "liam", "mia", "noah", "olivia", "peter",
    )
)  # fmt: skip
CUSTOMER_NAMES: tuple[str, ...] = (
    "Alice Smith", "Bob Jones", "Carol White", "Dave Brown", "Eve Davis", "Frank Miller",
    "Grace Wilson", "Henry Moore", "Iris Taylor", "Jack Anderson", "Kate Thomas", "Liam Jackson",
    "Mia Harris", "Noah Martin", "Olivia Garcia", "Peter Martinez",
)  # fmt: skip
PRODUCT_NAMES: tuple[str, ...] = (
    "widget-a", "widget-b", "gadget-pro", "gadget-lite", "service-basic",
    "service-premium", "addon-x", "addon-y", "bundle-starter", "bundle-enterprise",
)  # fmt: skip
PRODUCT_CURRENCIES: tuple[str, ...] = ("USD", "EUR", "GBP")
CATEGORIES: tuple[str, ...] = ("hardware", "software", "service", "bundle")
COUNTRIES: tuple[str, ...] = ("US", "DE", "GB", "FR", "CA", "AU", "JP")
TIERS: tuple[str, ...] = ("free", "basic", "premium", "enterprise")

ORDER_COLUMNS: tuple[str, ...] = ("order_id", "customer", "amount", "currency", "status", "timestamp")
PRODUCT_COLUMNS: tuple[str, ...] = ("product_id", "name", "price", "currency", "category", "in_stock")
CUSTOMER_COLUMNS: tuple[str, ...] = ("customer_id", "email", "name", "country", "tier", "joined_ts")
SCHEMA_NAMES: tuple[str, ...] = ("orders", "products", "customers")
COLUMNS: dict[str, tuple[str, ...]] = {
    "orders": ORDER_COLUMNS,
    "products": PRODUCT_COLUMNS,
    "customers": CUSTOMER_COLUMNS,
}

N_ORDERS, N_PRODUCTS, N_CUSTOMERS = 50, 20, 16
FIRST_ORDER_ID, FIRST_PRODUCT_ID, FIRST_CUSTOMER_ID = 101, 201, 301
T_START = 1_710_000_000
ORDER_WINDOW = 7 * 86_400  # order timestamps: T_START + U{0..7 days}
JOINED_START = 1_680_000_000
JOINED_WINDOW = 365 * 86_400
NOW = T_START + ORDER_WINDOW
EXPORTED = "2024-03-01"
EXPORT_VERSION = "DataCorp Export v2"
EXPORT_DIR = "exports"

VALIDATION_HOST = "validation.datacorp.internal"
VALIDATION_URL = f"http://{VALIDATION_HOST}"

VALIDATION_CODES: dict[str, str] = {
    "DC-001": "missing required field",
    "DC-002": "invalid field type",
    "DC-003": "value out of range",
    "DC-004": "invalid enum value",
    "DC-005": "field length exceeded",
    "DC-006": "invalid timestamp format",
    "DC-007": "cross-field constraint violation",
    "DC-008": "duplicate primary key",
    "DC-009": "reference integrity violation",
    "DC-010": "schema not found",
}

# The schema definitions GET /schemas/{name} serves (the paper's, field for field).
SCHEMAS: dict[str, dict[str, Any]] = {
    "orders": {
        "name": "orders",
        "description": "Customer order records",
        "fields": {
            "order_id": {"type": "integer", "required": True, "min": 1},
            "customer": {"type": "email", "required": True, "max_length": 100},
            "amount": {"type": "float", "required": True, "min": 0.01, "max": 999999.99},
            "currency": {"type": "enum", "required": True, "values": list(CURRENCIES)},
            "status": {"type": "enum", "required": True, "values": list(STATUSES)},
            "timestamp": {"type": "unix_timestamp", "required": True, "min": 0},
        },
        "constraints": [
            {"type": "cross_field", "rule": "if status == 'refunded' then amount > 0", "code": "DC-007"},
        ],
        "primary_key": "order_id",
    },
    "products": {
        "name": "products",
        "description": "Product catalog records",
        "fields": {
            "product_id": {"type": "integer", "required": True, "min": 1},
            "name": {"type": "string", "required": True, "max_length": 50},
            "price": {"type": "float", "required": True, "min": 0.01},
            "currency": {"type": "enum", "required": True, "values": list(PRODUCT_CURRENCIES)},
            "category": {"type": "enum", "required": True, "values": list(CATEGORIES)},
            "in_stock": {"type": "boolean", "required": True},
        },
        "constraints": [],
        "primary_key": "product_id",
    },
    "customers": {
        "name": "customers",
        "description": "Customer account records",
        "fields": {
            "customer_id": {"type": "integer", "required": True, "min": 1},
            "email": {"type": "email", "required": True, "max_length": 100},
            "name": {"type": "string", "required": True, "max_length": 100},
            "country": {"type": "enum", "required": True, "values": list(COUNTRIES)},
            "tier": {"type": "enum", "required": True, "values": list(TIERS)},
            "joined_ts": {"type": "unix_timestamp", "required": True, "min": 0},
        },
        "constraints": [],
        "primary_key": "customer_id",
    },
}

# DC_CONVERT's fixed rates: value of one unit in USD.
RATES: dict[str, float] = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27, "JPY": 0.0067, "CAD": 0.74, "AUD": 0.65}
