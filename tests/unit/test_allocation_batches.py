"""How reconciliation cuts a creditor's matched payments into transactions (`reconcile.allocation_batches`):
about ALLOCATION_BATCH payments each, a case's payments never split, each batch in the payments' order."""
from __future__ import annotations

import pandas as pd
import pytest

from pipeline.stages import reconcile

PAYMENTS = pd.DataFrame({"id": range(7), "case_id": [5, 3, 5, 9, 3, 7, 1]})


@pytest.mark.parametrize("size, batches", [
    (1, [[0, 2], [1, 4], [3], [5], [6]]),
    (2, [[0, 2], [1, 4], [3, 5], [6]]),
    (3, [[0, 1, 2, 4], [3, 5], [6]]),     # a case begun in a batch ends in it
    (100, [[0, 1, 2, 3, 4, 5, 6]]),
])
def test_a_cases_payments_stay_in_one_batch(monkeypatch, size, batches):
    monkeypatch.setattr(reconcile, "ALLOCATION_BATCH", size)
    assert [batch["id"].tolist() for batch in reconcile.allocation_batches(PAYMENTS)] == batches
