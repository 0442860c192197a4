"""The BgMax parser (pipeline/parsers/bgmax.py) on Bankgirot's own example file, copied unchanged with its
SOURCES.tsv line into tests/data/bgmax, on variants of it, and on small files written here."""
from __future__ import annotations

import csv
import hashlib
from datetime import date
from pathlib import Path

import pytest

from pipeline.parsers import FileRejected
from pipeline.parsers.bgmax import read_bgmax
from pipeline.parsers.payments import Payment

SAMPLES = Path(__file__).parent.parent / "data" / "bgmax"
SAMPLE = SAMPLES / "fabhed-bgmax-parser" / (
    "bankgiroinbetalningar_exempelfil_avtal-om-ocr-kontroll_checksiffra_langd_sv.txt")
LIMIT = 1 << 20
PAY_DATE = date(2004, 5, 25)


def sample_lines() -> list[str]:
    return SAMPLE.read_bytes().decode("iso-8859-1").split("\r\n")


def write(tmp_path: Path, lines: list[str], separator: str = "\r\n") -> Path:
    path = tmp_path / "bgmax.txt"
    path.write_bytes(separator.join(lines).encode("iso-8859-1"))
    return path


def test_the_sample_is_the_copy_its_sources_line_names():
    (source,) = csv.DictReader((SAMPLES / "SOURCES.tsv").open(encoding="utf-8"), delimiter="\t")
    assert SAMPLES.parent / source["local_file"] == SAMPLE           # local_file is relative to the samples root
    assert hashlib.sha256(SAMPLE.read_bytes()).hexdigest() == source["sha256"]
    assert SAMPLE.stat().st_size == int(source["bytes"])


def test_the_sample_gives_each_payment_deduction_and_extra_reference():
    read = read_bgmax(SAMPLE, LIMIT)
    # Record 2 (05): payee bankgiro 3-12 "0009912346", currency 23-25 "SEK". Records 23 and 49 (15): pay date
    # 38-45 "20040525", deposit serials 46-50 "00074" and "00075", amounts 51-68 190000 and 800000 öre,
    # payment counts 72-79 3 and 4 (the 20 and 21 records of each section).
    assert (read.source, read.account, read.ignored) == ("bgmax", "9912346", [])
    # Each line: record number, key (payee:date:deposit serial:BGC serial 58-69), amount 38-55 (21 negative),
    # reference 13-37; the payer's 26 name 3-37, 27 street 3-37 and postcode 38-46, 28 city 3-37, 29 id 3-14.
    kalle = ("Kalles Plåt AB", "Storgatan 2, 12345 Storåker", "005500001234")
    olle = ("Olles färg AB", "Lillagatan 3, 12345 Storåker", "005500004322")
    berit = ("Berits Garn", "Storgatan 10, 12345 Storåker", "005500002222")
    # record 18, a 25 after the 22s of record 13 (14-17: extra references 13-37, 0 öre, 16 trimmed to 70
    # characters, 17 with its spaces saved as tabs); records 41 and 42 (22s), 43 and 44 (25s)
    extra_refnr = "Betalning med extra refnr 657965 extra references: 657866 658765 657767 657965"
    fakturor = "Faktura 658369 Faktura 658468 extra references: 658369 658468"
    d74, d75 = "9912346:20040525:00074:", "9912346:20040525:00075:"
    expected = [
        (3, d74 + "000000000010", 100000, "655969", "", kalle),
        (8, d74 + "000230000111", -50000, "89853", "", kalle),                   # 21: a deduction
        (13, d74 + "000000000014", 140000, "657866 658765 657767", extra_refnr, kalle),
        (25, d75 + "000000000012", 110000, "650861", "", olle),
        (30, d75 + "000000000013", 120000, "", "", berit),                       # reference code 1: none
        (35, d75 + "000000000016", 70000, "659763", "", berit),
        (40, d75 + "000000000016#2", 500000, "658260", fakturor, kalle),         # BGC serial 16 again
    ]
    assert read.payments == [
        Payment(key=key, amount_minor=amount, currency="SEK", value_date=PAY_DATE, booking_date=PAY_DATE,
                reference=reference, text=text, payer_name=name, payer_address=address, payer_id=payer_id,
                reversal=amount < 0, position=f"deposit {key.split(':')[2]} record {number}")
        for number, key, amount, reference, text, (name, address, payer_id) in expected]
    assert sum(p.amount_minor for p in read.payments if p.key.startswith(d74)) == 190000
    assert sum(p.amount_minor for p in read.payments if p.key.startswith(d75)) == 800000


def full_records(lines: list[str]) -> list[str]:
    """The sample's records as an unbroken file has them: 80 characters each, tabs expanded."""
    return [line.expandtabs(8).ljust(80) for line in lines]


@pytest.mark.parametrize("variant", [
    pytest.param(lambda lines: "\n".join(lines) + "\n", id="LF with a final line break"),
    pytest.param(lambda lines: "\r".join(lines), id="CR"),
    pytest.param(lambda lines: "".join(lines), id="line breaks removed (records 16, 17 and 50 trimmed)"),
    pytest.param(lambda lines: "".join(full_records(lines)), id="no line breaks, full records"),
    pytest.param(lambda lines: "\r\n".join(full_records(lines)) + "\r\n\r\n", id="CRLF, full records, blank line"),
])
def test_line_breaks_or_none_give_the_same_payments(tmp_path, variant):
    path = tmp_path / "variant.txt"
    path.write_bytes(variant(sample_lines()).encode("iso-8859-1"))
    assert read_bgmax(path, LIMIT) == read_bgmax(SAMPLE, LIMIT)


def test_a_trimmed_text_record_in_a_file_without_line_breaks_puts_the_records_out_of_step(tmp_path):
    """Record 4, the 26 name "Kalles Plåt AB", trimmed: nothing marks where it ends, so it is rejected."""
    lines = full_records(sample_lines())
    path = write(tmp_path, [*lines[:3], lines[3].rstrip(), *lines[4:]], separator="")
    with pytest.raises(FileRejected) as rejected:
        read_bgmax(path, LIMIT)
    assert (rejected.value.code, rejected.value.message) == ("BAD_FORMAT", (
        "the file does not end with a 70 end record (its last record, 49, is of type '00'): it may be cut short, "
        "or its records out of step"))


def changed(lines: list[str], number: int, first: int, text: str) -> list[str]:
    """The lines with record ``number`` (1-based) overwritten from position ``first`` (1-based) by ``text``."""
    line = lines[number - 1].expandtabs(8).ljust(80)
    return [*lines[:number - 1], line[:first - 1] + text + line[first - 1 + len(text):], *lines[number:]]


@pytest.mark.parametrize("change, code, message", [
    (lambda lines: changed(lines, 3, 38, "000000000000100100"), "BAD_TOTALS",
     "the payments of deposit 00074 (record 23) add up to 190100 öre (20 less 21); "
     "its 15 record says 190000 öre"),
    (lambda lines: changed(lines, 50, 3, "00000007"), "BAD_TOTALS",
     "the 70 end record counts 7 payment records (20); the file holds 6"),
    (lambda lines: changed(lines, 50, 19, "00000005"), "BAD_TOTALS",
     "the 70 end record counts 5 extra reference records (22, 23); the file holds 6"),
    (lambda lines: changed(lines, 49, 72, "00000005"), "BAD_TOTALS",
     "deposit 00075 (record 49) holds 4 payment and deduction records (20, 21); its 15 record says 5"),
    (lambda lines: changed(lines, 1, 3, "BGMIN"), "BAD_FORMAT",
     "the file does not start with a BgMax start record '01BGMAX' (it starts '01BGMIN')"),
    (lambda lines: lines[1:], "BAD_FORMAT",
     "the file does not start with a BgMax start record '01BGMAX' (it starts '050009912346')"),
    (lambda lines: lines[:-1], "BAD_FORMAT",
     "the file does not end with a 70 end record (its last record, 49, is of type '15'): it may be cut short, "
     "or its records out of step"),
    (lambda lines: [*lines[:3], "99 a record type BgMax does not have", *lines[3:]], "BAD_FORMAT",
     "record 4: '99' is not a record type BgMax has between its 01 start and 70 end records"),
    (lambda lines: changed(lines, 49, 69, "EUR"), "BAD_CURRENCY",
     "the 05 opening record 24 says 'SEK', its 15 deposit record 49 says 'EUR'"),
    (lambda lines: changed(lines, 24, 3, "0005555555"), "MIXED_ACCOUNTS",
     "the file credits bankgiros 9912346, 5555555; a BgMax file is read for one bankgiro"),
    (lambda lines: changed(lines, 23, 38, "20040532"), "BAD_DATE",
     "record 23: '20040532' (positions 38–45) is not a date (YYYYMMDD)"),
])
def test_a_changed_sample_is_rejected_whole_with_the_reason(tmp_path, change, code, message):
    with pytest.raises(FileRejected) as rejected:
        read_bgmax(write(tmp_path, change(sample_lines())), LIMIT)
    assert (rejected.value.code, rejected.value.message) == (code, message)


@pytest.mark.parametrize("content, limit, code", [(b"", LIMIT, "EMPTY_FILE"), (b"01BGMAX", 5, "FILE_TOO_LARGE")])
def test_the_size_is_checked_first(tmp_path, content, limit, code):
    path = tmp_path / "bgmax.txt"
    path.write_bytes(content)
    with pytest.raises(FileRejected) as rejected:
        read_bgmax(path, limit)
    assert rejected.value.code == code


START = "01BGMAX               0120261102120000000000P"
OPENING = "050009912346          SEK"


def payment_record(code: str, amount: int, reference: str, serial: int) -> str:
    """A 20, 21, 22 or 23 record, its trailing spaces trimmed: payer bankgiro, reference (right-aligned),
    amount in öre, reference code 2, channel 1, BGC serial, no image (and for a 21, deduction code 0)."""
    return f"{code}0003783511{reference:>25}{amount:018d}21{serial:012d}0" + ("0" if code == "21" else "")


def deposit_record(amount: int, count: int) -> str:
    return f"15{'0' * 35}20261102{7:05d}{amount:018d}SEK{count:08d} "


def synthetic(tmp_path: Path, deposit_amount: int, separator: str = "\n") -> Path:
    """A payment of 1000.00 naming a 300.00 extra reference (22) and a 100.00 one (23) of it, then a deduction
    of 250.00: 1000.00 - 250.00 = 750.00 deposited. Every record but the 26 text trimmed."""
    return write(tmp_path, [
        START, OPENING,
        payment_record("20", 100000, "7350011", 1),
        payment_record("22", 30000, "7350029", 1),
        payment_record("23", 10000, "7350037", 1),
        "26Åsa Öberg".ljust(80),
        payment_record("21", 25000, "7350045", 2),
        deposit_record(deposit_amount, 2),
        "70" + "00000001" + "00000001" + "00000002" + "00000001",
    ], separator=separator)


@pytest.mark.parametrize("separator", ["\n", ""], ids=["LF", "no line breaks"])
def test_a_deduction_is_negative_and_extra_references_are_references_of_their_payment(tmp_path, separator):
    read = read_bgmax(synthetic(tmp_path, 75000, separator), LIMIT)
    key = "9912346:20261102:00007:"
    assert [(p.key, p.amount_minor, p.reversal, p.reference, p.text, p.payer_name, p.position)
            for p in read.payments] == [
        (key + "000000000001", 100000, False, "7350011", "extra references: 7350029 7350037", "Åsa Öberg",
         "deposit 00007 record 3"),
        (key + "000000000002", -25000, True, "7350045", "", "", "deposit 00007 record 7"),
    ]
    assert sum(p.amount_minor for p in read.payments) == 75000
    assert {(p.currency, p.value_date, p.booking_date) for p in read.payments} == {("SEK", date(2026, 11, 2),
                                                                                   date(2026, 11, 2))}


def test_extra_reference_amounts_are_a_breakdown_never_money_of_their_own(tmp_path):
    """A deposit that counts the 22 and 23 amounts as well (950.00) does not add up: rejected, not read as
    money twice."""
    with pytest.raises(FileRejected) as rejected:
        read_bgmax(synthetic(tmp_path, 95000), LIMIT)
    assert (rejected.value.code, rejected.value.message) == (
        "BAD_TOTALS", "the payments of deposit 00007 (record 8) add up to 75000 öre (20 less 21); "
                      "its 15 record says 95000 öre")


def test_a_file_without_deposit_sections_credits_no_account(tmp_path):
    read = read_bgmax(write(tmp_path, [START, "70" + "0" * 32]), LIMIT)
    assert (read.source, read.account, read.payments, read.ignored) == ("bgmax", "", [], [])
