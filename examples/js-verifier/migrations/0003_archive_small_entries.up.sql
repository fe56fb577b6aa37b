-- v3 (bad): moves entries under ten euros out of the ledger into an archive table. The ledger loses
-- money on every shard it reaches, which ledger-guard sees on the canary by comparing it with the
-- shards still on v2.
CREATE TABLE ledger_archive AS SELECT * FROM ledger WHERE amount_cents < 1000;
DELETE FROM ledger WHERE amount_cents < 1000;
