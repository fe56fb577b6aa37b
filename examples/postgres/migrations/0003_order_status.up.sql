-- v3: orders get a status (a type of its own) and lookups by customer an index. PostgreSQL's DDL is
-- transactional: if any statement here fails, the database stays at v2 as if none had run.
CREATE TYPE order_status AS ENUM ('open', 'paid', 'shipped');
ALTER TABLE orders ADD COLUMN status order_status NOT NULL DEFAULT 'open';
CREATE INDEX orders_by_customer ON orders (customer_id);
