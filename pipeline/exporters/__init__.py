"""Exporters turn ledger rows into the bytes of the files we send. They never parse."""
