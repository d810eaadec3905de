-- Order expiry. Money in fen (BIGINT), instants in Unix ms. The state machine (ARCHITECTURE.md):
-- an order is pending, then paid (it stays here) or cancelled (it moves to cancelled_orders, in
-- the same transaction that restores its stock).
CREATE TABLE goods (
    id               BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    sku              VARCHAR(64)  NOT NULL,
    name             VARCHAR(191) NOT NULL,
    price_fen        BIGINT       NOT NULL,
    stock_available  BIGINT       NOT NULL,
    stock_locked     BIGINT       NOT NULL DEFAULT 0,
    stock_sold       BIGINT       NOT NULL DEFAULT 0,
    updated_at       BIGINT       NOT NULL,
    CONSTRAINT goods_sku_unique UNIQUE (sku),
    CONSTRAINT goods_price_positive CHECK (price_fen > 0),
    CONSTRAINT goods_stock_never_negative CHECK (stock_available >= 0 AND stock_locked >= 0 AND stock_sold >= 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE orders (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_no    VARCHAR(64)  NOT NULL,
    user_id     BIGINT       NOT NULL,
    kind        VARCHAR(16)  NOT NULL,
    amount_fen  BIGINT       NOT NULL,
    status      VARCHAR(16)  NOT NULL DEFAULT 'pending',
    created_at  BIGINT       NOT NULL,
    expires_at  BIGINT       NOT NULL,
    paid_at     BIGINT       NULL,
    trade_no    VARCHAR(64)  NULL,
    CONSTRAINT orders_no_unique UNIQUE (order_no),
    CONSTRAINT orders_kind_known CHECK (kind IN ('goods', 'top_up')),
    CONSTRAINT orders_status_known CHECK (status IN ('pending', 'paid')),
    CONSTRAINT orders_amount_positive CHECK (amount_fen > 0),
    CONSTRAINT orders_paid_has_time CHECK ((status = 'paid') = (paid_at IS NOT NULL)),
    INDEX orders_status_expiry (status, expires_at),
    INDEX orders_user (user_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE order_items (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_id    BIGINT NOT NULL,
    goods_id    BIGINT NOT NULL,
    quantity    BIGINT NOT NULL,
    price_fen   BIGINT NOT NULL,
    CONSTRAINT order_items_quantity_positive CHECK (quantity > 0),
    CONSTRAINT order_items_goods FOREIGN KEY (goods_id) REFERENCES goods (id),
    INDEX order_items_order (order_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE cancelled_orders (
    id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_id      BIGINT       NOT NULL,
    order_no      VARCHAR(64)  NOT NULL,
    user_id       BIGINT       NOT NULL,
    kind          VARCHAR(16)  NOT NULL,
    amount_fen    BIGINT       NOT NULL,
    created_at    BIGINT       NOT NULL,
    expires_at    BIGINT       NOT NULL,
    cancelled_at  BIGINT       NOT NULL,
    reason        TEXT         NOT NULL,
    cancelled_by  VARCHAR(191) NOT NULL,
    CONSTRAINT cancelled_orders_no_unique UNIQUE (order_no),
    INDEX cancelled_orders_time (cancelled_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE user_balances (
    user_id      BIGINT NOT NULL PRIMARY KEY,
    balance_fen  BIGINT NOT NULL DEFAULT 0,
    updated_at   BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE order_events (
    id        BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_no  VARCHAR(64)  NOT NULL,
    at        BIGINT       NOT NULL,
    event     VARCHAR(32)  NOT NULL,
    detail    TEXT         NULL,
    who       VARCHAR(191) NOT NULL,
    run_key   VARCHAR(191) NULL,
    INDEX order_events_order (order_no, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE payment_conflicts (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_no    VARCHAR(64)  NOT NULL,
    trade_no    VARCHAR(64)  NOT NULL,
    amount_fen  BIGINT       NOT NULL,
    source      VARCHAR(32)  NOT NULL,
    at          BIGINT       NOT NULL,
    CONSTRAINT payment_conflicts_unique UNIQUE (order_no, trade_no)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
