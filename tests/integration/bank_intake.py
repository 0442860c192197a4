"""A party that is not a creditor, for the tests of the intake (`pipeline.intake`): the bank's inbox, with a
test handler of its own. Run as a module, it is one bank pass in a process of its own (the SIGKILL test):

    python -m tests.integration.bank_intake HOME DATABASE_URL [STEP MARKER]

With STEP and MARKER, the pass writes the file MARKER when the intake reaches STEP and then waits there,
so that the test kills it at a known point, not after a guessed delay.
"""
from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path

from sqlalchemy import BigInteger, Column, Connection, Integer, MetaData, String, Table

from pipeline.config import Settings
from pipeline.home import Home
from pipeline.intake import Context, Handled, Intake, Party, Taken, no_checkpoint
from pipeline.ledger import open_ledger
from pipeline.parsers import FileRejected
from pipeline.transport.local import LocalInbox

AS_OF = date(2026, 11, 26)
BANK = Party("bank", "bank", "bank", "bank")
HEADER = "reference,amount_minor"
BATCH = 100
lines = Table("test_bank_lines", MetaData(),
              Column("file_id", Integer, primary_key=True), Column("line", Integer, primary_key=True),
              Column("reference", String(35), nullable=False), Column("amount_minor", BigInteger, nullable=False))


class BankLines:
    """A made-up bank format: ``reference,amount_minor`` lines, written in batches of a hundred."""

    kind = "bank_lines"

    def handle(self, conn: Connection, path: Path, context: Context) -> Handled:
        rows = path.read_text(encoding="utf-8").splitlines()
        if not rows or rows[0] != HEADER:
            raise FileRejected("UNSUPPORTED_FILE", f"not a bank line file (the first line must be {HEADER})")
        parsed = [dict(file_id=context.file_id, line=number, reference=reference, amount_minor=int(amount))
                  for number, (reference, amount) in enumerate((row.split(",") for row in rows[1:]), start=2)]
        for start in range(0, len(parsed), BATCH):
            conn.execute(lines.insert(), parsed[start:start + BATCH])
            context.checkpoint("lines_written")
        return Handled(rows=len(parsed), taken=len(parsed))


def bank_pass(settings: Settings, checkpoint=no_checkpoint, run_id: str = "bank-pass") -> list[Taken]:
    """One pass over the bank's inbox: every file taken at once (no settle time), no answer owed."""
    engine = open_ledger(settings)
    lines.create(engine, checkfirst=True)
    try:
        inbox = LocalInbox(settings.home / BANK.inbox)
        intake = Intake(engine, Home(settings.home), BANK, inbox, None, lambda name: BankLines(), None,
                        AS_OF, run_id, checkpoint)
        return intake.run(inbox.list_ready(0, time.time()))
    finally:
        engine.dispose()


def _wait_at(step: str, marker: Path):
    def checkpoint(name: str) -> None:
        if name == step:
            marker.write_text(step)
            time.sleep(600)  # the test kills the process here
    return checkpoint


if __name__ == "__main__":
    home, url, *stop = sys.argv[1:]
    bank_pass(Settings(Path(home), url), _wait_at(stop[0], Path(stop[1])) if stop else no_checkpoint)
