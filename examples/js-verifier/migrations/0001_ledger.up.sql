-- v1: the ledger, with the same 500 sample entries on every shard.
CREATE TABLE ledger (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    amount_cents INTEGER NOT NULL
);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
INSERT INTO ledger (id, account, amount_cents) SELECT i, 'acct-' || (1 + (i * 13) % 40), 50 + (i * 37) % 4950 FROM n;
