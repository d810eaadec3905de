-- Idempotency keys of `POST /api/orders` (the shop's `Idempotency-Key` header): a retried
-- request with the same key and the same body is answered with the order it placed, and never
-- places (or locks stock for) a second one. Inserted in the order's own transaction, so the
-- unique key is what makes two concurrent requests with one key place one order.
CREATE TABLE order_idempotency (
    idem_key      VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    -- SHA-256 (hex) of the request's order, to refuse the key reused for another order.
    request_hash  CHAR(64)     NOT NULL,
    order_no      VARCHAR(64)  NOT NULL,
    created_at    BIGINT       NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
