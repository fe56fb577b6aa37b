DROP INDEX orders_by_customer;
ALTER TABLE orders DROP COLUMN status;
DROP TYPE order_status;
