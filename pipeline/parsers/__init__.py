"""Parsers turn bytes into typed rows. They never touch the ledger and never judge by date."""


class FileRejected(Exception):
    """The whole file is rejected; ``code`` goes into its one receipt line."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message
