"""Bulk writes and whole-result reads go a part at a time (memory stays bounded for a million rows), and the
parts add up to exactly what one pass would give: every row once, in order, with the same columns."""
from __future__ import annotations

import pandas as pd
from sqlalchemy import select

from pipeline.config import Settings
from pipeline.ledger import open_ledger
from pipeline.ledger import repository as repo
from pipeline.ledger.schema import creditors


def test_rows_are_inserted_and_fetched_in_parts_each_once_in_order(tmp_path, database_url, monkeypatch):
    monkeypatch.setattr(repo, "INSERT_ROWS", 3)
    monkeypatch.setattr(repo, "FETCH_ROWS", 2)
    ids = [f"c{n}" for n in range(7)]
    engine = open_ledger(Settings(tmp_path, database_url))
    try:
        with engine.begin() as conn:
            repo.insert_rows(conn, creditors, id=pd.Series(ids, index=range(10, 17)),
                             name=[f"Creditor {n}" for n in range(7)], vat_id="DK13585628", country="DK",
                             currency="DKK", iban="DK5000400440116243", bic="NDEADKKK",
                             fee_plan=pd.Series(["standard", "aged"] * 3 + ["standard"]).to_numpy())
        with engine.connect() as conn:
            found = repo.fetch_frame(conn, select(creditors.c.id, creditors.c.name, creditors.c.fee_plan)
                                     .order_by(creditors.c.id))
            none = repo.fetch_frame(conn, select(creditors.c.id, creditors.c.name).where(creditors.c.id == "none"))
    finally:
        engine.dispose()
    assert found.to_dict("list") == {"id": ids, "name": [f"Creditor {n}" for n in range(7)],
                                     "fee_plan": ["standard", "aged"] * 3 + ["standard"]}
    assert found.index.tolist() == list(range(7))
    assert none.empty and none.columns.tolist() == ["id", "name"]
