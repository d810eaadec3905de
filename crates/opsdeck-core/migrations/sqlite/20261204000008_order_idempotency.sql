-- Idempotency keys of `POST /api/orders` (the shop's `Idempotency-Key` header): a retried
-- request with the same key and the same body is answered with the order it placed, and never
-- places (or locks stock for) a second one. Inserted in the order's own transaction, so the
-- unique key is what makes two concurrent requests with one key place one order.
CREATE TABLE order_idempotency (
    idem_key      TEXT    NOT NULL PRIMARY KEY,
    -- SHA-256 (hex) of the request's order, to refuse the key reused for another order.
    request_hash  TEXT    NOT NULL,
    order_no      TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);
