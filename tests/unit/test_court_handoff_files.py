"""The court handoff's CSV and manifest (`pipeline.exporters.court_handoff`, formats.md §3.1)."""
from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date

from pipeline.exporters.court_handoff import COLUMNS, file_stem, manifest, write_court_handoff

LINE = dict(case_number="10000001", payment_reference="000000100000017", creditor_name="Acme ApS",
            creditor_vat_id="DK13585628", creditor_address="Industrivej 4, 8000 Aarhus C",
            creditor_bank_account="DK5000400440116243", debtor_type="consumer", debtor_name="=HYPERLINK(\"x\")",
            debtor_national_id="0101801234", debtor_address_line1="Vej 1", debtor_address_line2=None,
            debtor_postcode="2100", debtor_city="København Ø", debtor_country="DK", debtor_email="",
            debtor_phone="+4512345678", invoice_number="A-1", invoice_date=date(2026, 9, 1),
            due_date=date(2026, 10, 1), principal_original=200000, principal_outstanding=150000,
            interest_accrued=3577, interest_rate_basis="reference+8pp", interest_from_date=date(2026, 10, 1),
            reminder_fees=10000, collection_fees=70000, compensation_fee=0, other_costs=0, payments_received=50000,
            total_outstanding=233577, currency="DKK", inkassovarsel_date=date(2026, 11, 26),
            inkassovarsel_deadline=date(2026, 12, 7), creditor_approval_date=date(2026, 12, 1),
            documents="invoices_2026.csv", notes="")


def test_a_line_per_claim_with_amounts_in_kroner_and_text_protected():
    sink = io.BytesIO()
    write_court_handoff(sink, [LINE, dict(LINE, invoice_number="A-2", total_outstanding=-5, currency="SEK")])
    text = sink.getvalue().decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(COLUMNS) and len(rows) == 2
    assert (rows[0]["debtor_name"], rows[0]["debtor_phone"], rows[0]["debtor_address_line2"]) == (
        "'=HYPERLINK(\"x\")", "'+4512345678", "")
    assert (rows[0]["principal_outstanding"], rows[0]["interest_accrued"], rows[0]["total_outstanding"],
            rows[0]["due_date"]) == ("1500.00", "35.77", "2335.77", "2026-10-01")
    assert rows[1]["total_outstanding"] == "-0.05" and text.endswith("\r\n")


def test_the_manifest_counts_cases_and_lines_totals_each_currency_and_names_the_csvs_sha256():
    sink = io.BytesIO()
    lines = [LINE, dict(LINE, invoice_number="A-2"), dict(LINE, case_number="10000002", currency="SEK")]
    write_court_handoff(sink, lines)
    digest = hashlib.sha256(sink.getvalue()).hexdigest()
    body = json.loads(manifest("alektum:2026-W50", "alektum", "2026-W50", "2026-12-07T06:00:00+01:00", lines, digest))
    assert body == {"batch_id": "alektum:2026-W50", "partner": "alektum", "iso_week": "2026-W50",
                    "created_at": "2026-12-07T06:00:00+01:00", "case_count": 2, "line_count": 3,
                    "totals": {"DKK": "4671.54", "SEK": "2335.77"}, "sha256": digest, "schema_version": "1"}
    assert manifest("b", "p", "w", "t", lines, digest) == manifest("b", "p", "w", "t", lines, digest)
    assert file_stem("alektum", "2026-W50") == "court_handoff_alektum_2026W50"
