"""The partner's remittance CSV (formats.md §2): each line adds up, or is rejected with the reason."""
from __future__ import annotations

from datetime import date

import pytest

from pipeline.parsers import FileRejected
from pipeline.parsers.partner_remittance import RejectedLine, RemittanceLine, read_remittance

HEADER = ("partner_case_ref,case_number,payment_date,collected_amount,principal_part,interest_part,fees_part,"
          "partner_commission,net_remitted,currency\n")
LIMIT = 1 << 20


def remittance(tmp_path, *lines: str, header: str = HEADER, encoding: str = "utf-8"):
    path = tmp_path / "remittance.csv"
    path.write_bytes((header + "".join(line + "\n" for line in lines)).encode(encoding))
    return read_remittance(path, LIMIT)


def test_lines_that_add_up_are_taken_in_minor_units(tmp_path):
    read = remittance(tmp_path, "AL-77,10000001,2026-11-03,1250.50,1000.00,150.50,100.00,312.63,937.87,DKK",
                      "AL-78,10000002,2026-11-04,300,300,0,0,0.00,300.00,SEK")
    assert read.rejected == []
    assert read.lines == [
        RemittanceLine(2, "AL-77", "10000001", date(2026, 11, 3), "DKK", 125050, 100000, 15050, 10000, 31263, 93787),
        RemittanceLine(3, "AL-78", "10000002", date(2026, 11, 4), "SEK", 30000, 30000, 0, 0, 0, 30000)]


def test_columns_in_any_order_with_a_bom_and_semicolons(tmp_path):
    header = ("currency;net_remitted;partner_commission;fees_part;interest_part;principal_part;collected_amount;"
              "payment_date;case_number;partner_case_ref\n")
    read = remittance(tmp_path, "DKK;90.00;10.00;0;0;100.00;100.00;2026-11-03;10000001;AL-1",
                      header="\ufeff" + header)
    assert [(line.case_number, line.collected_minor, line.net_minor) for line in read.lines] == [("10000001", 10000,
                                                                                                 9000)]


@pytest.mark.parametrize("line, code, message", [
    ("AL-1,10000001,2026-11-03,1000.00,900.00,50.00,49.99,0,1000.00,DKK", "BAD_AMOUNT",
     "collected_amount 1000.00 DKK is not principal_part + interest_part + fees_part = 999.99 DKK"),
    ("AL-1,10000001,2026-11-03,1000.00,1000.00,0,0,250.00,750.01,DKK", "BAD_AMOUNT",
     "net_remitted 750.01 DKK is not collected_amount - partner_commission = 750.00 DKK"),
    ("AL-1,10000001,2026-11-03,-5.00,-5.00,0,0,0,-5.00,DKK", "BAD_AMOUNT",
     "collected_amount '-5.00' is not an amount (0 or more, '.' decimal)"),
    ("AL-1,10000001,2026-11-03,1.005,1.005,0,0,0,1.005,DKK", "BAD_AMOUNT",
     "collected_amount '1.005' has more decimals than DKK has"),
    ("AL-1,10000001,03.11.2026,1,1,0,0,0,1,DKK", "BAD_DATE",
     "payment_date '03.11.2026' is not a date (YYYY-MM-DD)"),
    ("AL-1,10000001,2026-11-03,1,1,0,0,0,1,KRONER", "BAD_CURRENCY", "currency 'KRONER' is not an ISO 4217 code"),
    ("AL-1,,2026-11-03,1,1,0,0,0,1,DKK", "MISSING_FIELD", "missing case_number"),
    ("AL-1,10000001,2026-11-03,1,1,0,0,0,1", "MISSING_FIELD", "the line has 9 fields, the header 10"),
])
def test_a_line_that_does_not_add_up_is_rejected_with_the_reason_and_the_others_stand(tmp_path, line, code, message):
    read = remittance(tmp_path, line, "AL-2,10000002,2026-11-03,10.00,10.00,0,0,1.00,9.00,DKK")
    assert read.rejected == [RejectedLine(2, "" if code == "MISSING_FIELD" and ",," in line else "10000001", code,
                                          message)]
    assert [(line.line, line.case_number) for line in read.lines] == [(3, "10000002")]


@pytest.mark.parametrize("content, code", [
    ("", "EMPTY_FILE"),
    (HEADER, "EMPTY_FILE"),
    ("partner_case_ref,case_number\nAL-1,10000001\n", "MISSING_COLUMN"),
    ("hello,world\n1,2\n", "NO_HEADER"),
])
def test_a_file_that_is_not_a_remittance_is_rejected_whole(tmp_path, content, code):
    path = tmp_path / "remittance.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(FileRejected) as rejected:
        read_remittance(path, LIMIT)
    assert rejected.value.code == code
