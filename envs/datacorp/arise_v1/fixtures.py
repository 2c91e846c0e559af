"""The paper's fixed DataCorp inputs: the validation records and the ten DCQL queries (identical at every seed)."""

from __future__ import annotations

from typing import Any

# -- the paper's fixed validation records (identical at every seed) ----------------
VALID_RECORD: dict[str, Any] = {
    "order_id": 999, "customer": "test@example.com", "amount": 150.0,
    "currency": "USD", "status": "completed", "timestamp": 1710000000,
}  # fmt: skip
INVALID_RECORDS: list[dict[str, Any]] = [
    # no timestamp (DC-001)
    {"order_id": 1001, "customer": "a@b.com", "amount": 50.0, "currency": "USD", "status": "completed"},
    # amount is not a number (DC-002)
    {"order_id": 1002, "customer": "c@d.com", "amount": "not-a-number", "currency": "EUR", "status": "pending",
     "timestamp": 1710000000},
    # unknown currency (DC-004)
    {"order_id": 1003, "customer": "e@f.com", "amount": 75.0, "currency": "XYZ", "status": "pending",
     "timestamp": 1710000000},
    # unknown status (DC-004)
    {"order_id": 1004, "customer": "g@h.com", "amount": 200.0, "currency": "USD", "status": "shipped",
     "timestamp": 1710000000},
    # negative amount (DC-003) on a refunded order (DC-007)
    {"order_id": 1005, "customer": "i@j.com", "amount": -10.0, "currency": "GBP", "status": "refunded",
     "timestamp": 1710000000},
]  # fmt: skip
DUPLICATE_RECORDS: list[dict[str, Any]] = [
    {"order_id": 2001, "customer": "alice@test.com", "amount": 100.0, "currency": "USD", "status": "completed",
     "timestamp": 1710000000},
    {"order_id": 2001, "customer": "bob@test.com", "amount": 200.0, "currency": "EUR", "status": "pending",
     "timestamp": 1710003600},
]  # fmt: skip
FIXABLE_RECORDS: list[dict[str, Any]] = [
    # amount as text: the API coerces it, so this record actually passes
    {"order_id": 3001, "customer": "fix@test.com", "amount": "299.99", "currency": "USD", "status": "completed",
     "timestamp": 1710000000},
    # lower-case currency (DC-004)
    {"order_id": 3002, "customer": "fix2@test.com", "amount": 49.99, "currency": "usd", "status": "pending",
     "timestamp": 1710003600},
]  # fmt: skip
CROSS_FIELD_RECORDS: list[dict[str, Any]] = [
    {"order_id": 5001, "customer": "ok@test.com", "amount": 50.0, "currency": "USD", "status": "refunded",
     "timestamp": 1710000000},
    {"order_id": 5002, "customer": "bad@test.com", "amount": -5.0, "currency": "USD", "status": "refunded",
     "timestamp": 1710000000},
    {"order_id": 5003, "customer": "fine@test.com", "amount": 200.0, "currency": "EUR", "status": "completed",
     "timestamp": 1710007200},
]  # fmt: skip

# -- the paper's ten DCQL queries ---------------------------------------------------
QUERIES: dict[int, str] = {
    1: 'SELECT order_id, customer, amount FROM orders WHERE status = "completed"',
    2: "SELECT order_id, customer, amount, currency FROM orders WHERE amount > 500.0",
    3: 'SELECT * FROM orders WHERE currency = "USD" LIMIT 5',
    4: 'SELECT order_id, amount FROM orders WHERE status = "completed" AND currency = "USD"',
    5: "SELECT currency FROM orders GROUP BY currency",
    6: 'SELECT order_id, DC_CONVERT(amount, "USD") AS amount_usd FROM orders WHERE status = "completed" LIMIT 3',
    7: "SELECT order_id, DC_HASH(customer) AS customer_hash FROM orders LIMIT 3",
    8: "SELECT status FROM orders GROUP BY status ORDER BY status ASC",
    9: 'SELECT order_id, customer, amount FROM orders WHERE DC_TIMERANGE(timestamp, "24h") AND status = "completed"',
    10: (
        'SELECT order_id, customer, DC_CONVERT(amount, "EUR") AS eur_amount FROM orders '
        'WHERE status = "completed" AND amount > 200 ORDER BY amount DESC LIMIT 5'
    ),
}
