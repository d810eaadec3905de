-- The Orders page's chart counts orders placed, paid and cancelled per minute over the last
-- hour, every few seconds while it is open: each count reads its time column through an index
-- instead of scanning every order ever placed (cancelled_orders (cancelled_at) exists already).
CREATE INDEX orders_created ON orders (created_at);
CREATE INDEX orders_paid ON orders (paid_at);
CREATE INDEX cancelled_orders_created ON cancelled_orders (created_at);
