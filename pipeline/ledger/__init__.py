"""The ledger: schema, migrations and the repository functions the stages write through."""
