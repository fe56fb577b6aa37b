ALTER TABLE ledger DROP COLUMN currency;
