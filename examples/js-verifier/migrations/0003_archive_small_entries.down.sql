INSERT INTO ledger SELECT * FROM ledger_archive;
DROP TABLE ledger_archive;
