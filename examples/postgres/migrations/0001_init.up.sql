-- v1: customers and their orders, with sample data.
CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (
    id integer PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers (id),
    amount_cents integer NOT NULL
);
INSERT INTO customers (id, name) SELECT i, 'customer ' || i FROM generate_series(1, 200) AS i;
INSERT INTO orders (id, customer_id, amount_cents)
SELECT i, 1 + (i * 7) % 200, 100 + (i * 37) % 9900 FROM generate_series(1, 1000) AS i;
