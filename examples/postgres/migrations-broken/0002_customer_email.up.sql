-- v2: customers get an email address, backfilled for existing rows, then required.
ALTER TABLE customers ADD COLUMN email text;
UPDATE customers SET email = 'customer' || id || '@example.com';
ALTER TABLE customers ALTER COLUMN email SET NOT NULL;
