"""One court handoff run of the tests' week (2026-W51) in a process of its own, for the SIGKILL test:

    python -m tests.integration.handoff_run HOME DATABASE_URL STEP MARKER

The run writes the file MARKER when it reaches the checkpoint STEP and waits there to be killed.
"""
from __future__ import annotations

import sys
from pathlib import Path

from pipeline.config import Settings
from pipeline.stages import handoff
from tests.integration.bank_intake import _wait_at
from tests.integration.test_handoff import MONDAY

if __name__ == "__main__":
    home, url, step, marker = sys.argv[1:]
    handoff.run(Settings(Path(home), url), MONDAY, "to-be-killed", checkpoint=_wait_at(step, Path(marker)))
