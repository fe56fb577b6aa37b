-- v2: every entry gets a currency.
ALTER TABLE ledger ADD COLUMN currency TEXT NOT NULL DEFAULT 'EUR';
