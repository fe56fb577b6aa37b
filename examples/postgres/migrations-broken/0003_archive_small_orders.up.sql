-- v3 (broken): moves small orders into an archive table. Every order must stay in `orders` (the
-- "orders-kept" check), so the checks catch this on the canary database.
CREATE TABLE orders_archive AS SELECT * FROM orders WHERE amount_cents < 1000;
DELETE FROM orders WHERE amount_cents < 1000;
