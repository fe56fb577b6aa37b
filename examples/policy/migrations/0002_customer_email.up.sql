-- v2: customers get an email address, backfilled for existing rows.
ALTER TABLE customers ADD COLUMN email TEXT;
UPDATE customers SET email = 'customer' || id || '@example.com';
