"""Parsers turn bytes into typed rows. They never touch the ledger and never judge by date."""
