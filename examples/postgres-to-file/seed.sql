-- A shop's own orders table, as the example pipeline reads it: one row per
-- order header, amounts in numeric (exact), times in timestamptz, and an
-- updated_at that the shop sets on every change (the pipeline's cursor).
--
--   psql "$SHOP_DB_URL" -f seed.sql
--
-- Running it again starts over: the table is dropped and filled again.
-- (Delete out/ too, or the pipeline's state store remembers the rows.)

DROP TABLE IF EXISTS orders;

CREATE TABLE orders (
    id                 bigint PRIMARY KEY,
    order_number       text NOT NULL,
    status             text NOT NULL,          -- new | paid | shipped | cancelled | refunded
    customer_email     text,
    customer_name      text,
    currency           char(3) NOT NULL,
    prices_include_tax boolean NOT NULL,
    subtotal           numeric(12,2) NOT NULL,
    discount           numeric(12,2) NOT NULL DEFAULT 0,
    shipping           numeric(12,2) NOT NULL DEFAULT 0,
    tax                numeric(12,2) NOT NULL DEFAULT 0,
    total              numeric(12,2) NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- The pipeline asks for rows past its cursor, in cursor order.
CREATE INDEX orders_updated_at ON orders (updated_at);

INSERT INTO orders (id, order_number, status, customer_email, customer_name, currency, prices_include_tax,
                    subtotal, discount, shipping, tax, total, created_at, updated_at)
VALUES
    (1001, '#1001', 'paid', ' Anna.Berg@Example.com', 'Anna Berg', 'EUR', true,
     59.90, 0.00, 4.95, 10.35, 64.85, '2026-03-02 10:14:07+01', '2026-03-02 10:15:00+01'),
    (1002, '#1002', 'shipped', 'li.wei@example.org', 'Li Wei', 'USD', false,
     120.00, 12.00, 0.00, 8.91, 116.91, '2026-03-02 08:30:00-05', '2026-03-03 14:02:11+00'),
    (1003, '#1003', 'new', 'sam.taylor@example.co.uk', 'Sam Taylor', 'GBP', true,
     19.99, 0.00, 3.50, 3.92, 23.49, '2026-03-03 11:00:00+00', '2026-03-03 11:00:00+00'),
    -- Invalid: the e-mail has no @. This order goes to the dead letter.
    (1004, '#1004', 'paid', 'marta.example.com', 'Marta Nowak', 'EUR', true,
     45.00, 0.00, 4.95, 8.69, 49.95, '2026-03-03 16:40:00+00', '2026-03-03 16:45:00+00'),
    (1005, '#1005', 'cancelled', 'j.doe@example.com', NULL, 'EUR', true,
     9.90, 0.00, 4.95, 2.37, 14.85, '2026-03-04 08:58:00+00', '2026-03-04 09:00:00+00');
