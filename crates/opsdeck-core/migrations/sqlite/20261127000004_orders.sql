-- Order expiry. Money in fen (BIGINT), instants in Unix ms. The state machine (ARCHITECTURE.md):
-- an order is pending, then paid (it stays here) or cancelled (it moves to cancelled_orders, in
-- the same transaction that restores its stock).
CREATE TABLE goods (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    sku              TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    price_fen        INTEGER NOT NULL,
    stock_available  INTEGER NOT NULL,
    stock_locked     INTEGER NOT NULL DEFAULT 0,
    stock_sold       INTEGER NOT NULL DEFAULT 0,
    updated_at       INTEGER NOT NULL,
    CONSTRAINT goods_sku_unique UNIQUE (sku),
    CONSTRAINT goods_price_positive CHECK (price_fen > 0),
    CONSTRAINT goods_stock_never_negative CHECK (stock_available >= 0 AND stock_locked >= 0 AND stock_sold >= 0)
);

CREATE TABLE orders (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    order_no    TEXT    NOT NULL,
    user_id     INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    amount_fen  INTEGER NOT NULL,
    status      TEXT    NOT NULL DEFAULT 'pending',
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    paid_at     INTEGER,
    trade_no    TEXT,
    CONSTRAINT orders_no_unique UNIQUE (order_no),
    CONSTRAINT orders_kind_known CHECK (kind IN ('goods', 'top_up')),
    CONSTRAINT orders_status_known CHECK (status IN ('pending', 'paid')),
    CONSTRAINT orders_amount_positive CHECK (amount_fen > 0),
    CONSTRAINT orders_paid_has_time CHECK ((status = 'paid') = (paid_at IS NOT NULL))
);
CREATE INDEX orders_status_expiry ON orders (status, expires_at);
CREATE INDEX orders_user ON orders (user_id, id);

CREATE TABLE order_items (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id    INTEGER NOT NULL,
    goods_id    INTEGER NOT NULL REFERENCES goods (id),
    quantity    INTEGER NOT NULL,
    price_fen   INTEGER NOT NULL,
    CONSTRAINT order_items_quantity_positive CHECK (quantity > 0)
);
CREATE INDEX order_items_order ON order_items (order_id);

CREATE TABLE cancelled_orders (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id      INTEGER NOT NULL,
    order_no      TEXT    NOT NULL,
    user_id       INTEGER NOT NULL,
    kind          TEXT    NOT NULL,
    amount_fen    INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    cancelled_at  INTEGER NOT NULL,
    reason        TEXT    NOT NULL,
    cancelled_by  TEXT    NOT NULL,
    CONSTRAINT cancelled_orders_no_unique UNIQUE (order_no)
);
CREATE INDEX cancelled_orders_time ON cancelled_orders (cancelled_at);

-- Top-up orders credit here when paid.
CREATE TABLE user_balances (
    user_id      INTEGER PRIMARY KEY,
    balance_fen  INTEGER NOT NULL DEFAULT 0,
    updated_at   INTEGER NOT NULL
);

-- Each order's timeline: placed, queried, closed, cancelled, stock_restored, paid, conflict.
CREATE TABLE order_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    order_no  TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    event     TEXT    NOT NULL,
    detail    TEXT,
    who       TEXT    NOT NULL,
    run_key   TEXT
);
CREATE INDEX order_events_order ON order_events (order_no, id);

-- A payment reported for an order already cancelled: kept for staff, never applied silently.
CREATE TABLE payment_conflicts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    order_no    TEXT    NOT NULL,
    trade_no    TEXT    NOT NULL,
    amount_fen  INTEGER NOT NULL,
    source      TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    CONSTRAINT payment_conflicts_unique UNIQUE (order_no, trade_no)
);
