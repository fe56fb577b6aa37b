-- v3: orders get a status, and lookups by customer an index.
ALTER TABLE orders ADD COLUMN status TEXT NOT NULL DEFAULT 'open';
CREATE INDEX orders_by_customer ON orders (customer_id);
