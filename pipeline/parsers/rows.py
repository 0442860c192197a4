"""Typed rows from text columns, shared by every invoice parser (CSV §1.1, UBL §1.2).

A parser reads its format into a pyarrow table of canonical text columns (``config.CANONICAL_COLUMNS``;
missing columns count as empty) and hands it to `RowConverter`, which converts every column with vectorised
Arrow compute functions according to a `config.CsvLayout` and gives each row it cannot read its outcome code
(MISSING_FIELD, BAD_DATE, BAD_AMOUNT, BAD_CURRENCY, BAD_COUNTRY). So a value is judged the same way whatever
file it came in.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
import pycountry

from pipeline.config import CANONICAL_COLUMNS, CsvLayout
from pipeline.money import minor_digits

MAX_MAJOR_DIGITS = 12          # 10^12 and above is an absurd amount
MAX_TEXT = 64
MAX_DESCRIPTION = 500
ALWAYS_REQUIRED = ("invoice_number", "invoice_date", "amount", "debtor_id", "debtor_type", "debtor_name",
                   "debtor_address_line1", "debtor_postcode", "debtor_city", "debtor_country")
DEBTOR_TYPES = {"consumer": "consumer", "private": "consumer", "b2c": "consumer",
                "business": "business", "company": "business", "b2b": "business"}
DOCUMENT_TYPES = {"": "invoice", "invoice": "invoice", "credit_note": "credit_note",
                  "creditnote": "credit_note", "credit note": "credit_note"}
BOOLEANS = {"": False, "false": False, "no": False, "0": False, "nej": False,
            "true": True, "yes": True, "1": True, "ja": True}
DATE_PATTERNS = {
    "YYYY-MM-DD": (r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})$"),
    "DD-MM-YYYY": (r"^(?P<d>\d{1,2})-(?P<m>\d{1,2})-(?P<y>\d{4})$"),
    "DD.MM.YYYY": (r"^(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})$"),
    "DD/MM/YYYY": (r"^(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})$"),
}
AMOUNT_PATTERNS = {  # thousands groups must be exactly three digits, so "1,50" is never 150
    ".": (r"^\d{1,3}([, \xa0]\d{3})*(\.\d+)?$|^\d+(\.\d+)?$", r"[, \xa0]"),
    ",": (r"^\d{1,3}([. \xa0]\d{3})*(,\d+)?$|^\d+(,\d+)?$", r"[. \xa0]"),
}
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s.]+$"
CURRENCIES = pa.array(sorted(c.alpha_3 for c in pycountry.currencies))
COUNTRIES = pa.array(sorted(c.alpha_2 for c in pycountry.countries))


class Outcomes:
    """First problem wins: each check only marks rows that no earlier check has marked."""

    def __init__(self, n: int):
        self.code = np.full(n, None, dtype=object)
        self.message = np.full(n, None, dtype=object)

    def mark(self, mask, code: str, template: str, values: pa.Array | np.ndarray | None = None) -> None:
        """Mark rows with ``code``; ``{!r}`` in the template is filled with the row's value of ``values``."""
        mask = np.asarray(mask, dtype=bool) & pd.isna(self.code)
        if mask.any():
            self.code[mask] = code
            if values is None:
                self.message[mask] = template
            else:
                chosen = _numpy(values)[mask]
                self.message[mask] = [template.format(v) for v in chosen]


class RowConverter:
    """Converts tables of canonical text columns into typed frames with outcome codes.

    The frame has the canonical columns converted (dates as ``datetime64[s]``, money as int64 minor units),
    plus ``line`` (``first_line`` onwards), ``notes``, ``outcome`` and ``message`` (outcome is None where the
    row could be read). A table with a ``_fields`` column (the CSV reader's field count per record) marks
    the records whose count differs from ``width`` MISSING_FIELD. A table with ``_outcome`` and ``_message``
    columns carries problems the parser found itself (null where none); they win over the converter's own.
    """

    def __init__(self, layout: CsvLayout, default_currency: str, width: int | None = None):
        self.layout = layout
        self.default_currency = default_currency
        self.width = width          # fields in the header, used columns or not

    def convert(self, table: pa.Table, first_line: int) -> pd.DataFrame:
        n = len(table)
        text = {name: pc.utf8_trim_whitespace(table[name].combine_chunks()) if name in table.column_names
                else pa.array([""] * n, pa.string()) for name in CANONICAL_COLUMNS}
        out = Outcomes(n)
        if "_outcome" in table.column_names:
            found = table["_outcome"].to_numpy(zero_copy_only=False)
            messages = table["_message"].to_numpy(zero_copy_only=False)
            for code in pd.unique(found[pd.notna(found)]):
                out.mark(found == code, code, "{}", messages)
        if "_fields" in table.column_names:
            fields = table["_fields"].to_numpy()
            out.mark(fields != self.width, "MISSING_FIELD",
                     f"the row has {{}} fields, the header {self.width}", fields)
        frame = pd.DataFrame({"line": np.arange(first_line, first_line + n, dtype=np.int64)})
        doc_type = pd.Series(pc.utf8_lower(text["document_type"]).to_numpy(zero_copy_only=False))
        frame["document_type"] = doc_type.map(DOCUMENT_TYPES).fillna(doc_type).to_numpy(dtype=object)
        is_credit = (frame["document_type"] == "credit_note").to_numpy()
        self._required(text, is_credit, out)
        out.mark(~frame["document_type"].isin(["invoice", "credit_note"]).to_numpy(), "MISSING_FIELD",
                 "document_type must be invoice or credit_note")
        for name in ("invoice_number", "credited_invoice_number", "debtor_id"):
            too_long = pc.greater(pc.utf8_length(text[name]), MAX_TEXT).to_numpy(zero_copy_only=False)
            out.mark(too_long, "MISSING_FIELD", f"{name} is longer than {MAX_TEXT} characters")
            frame[name] = text[name].to_numpy(zero_copy_only=False)
        for name in ("invoice_date", "due_date", "last_reminder_date"):
            frame[name] = self._date(text[name], name, out)
        currency = pc.utf8_upper(text["currency"])
        currency = pc.if_else(pc.equal(currency, ""), self.default_currency, currency)
        out.mark(~pc.is_in(currency, CURRENCIES).to_numpy(zero_copy_only=False), "BAD_CURRENCY",
                 "currency {!r} is not an ISO 4217 code", currency)
        frame["currency"] = currency.to_numpy(zero_copy_only=False)
        frame["amount_minor"] = self._money(text["amount"], "amount", frame["currency"], out, positive=True)
        frame["reminder_fees_minor"] = self._money(text["reminder_fees"], "reminder_fees", frame["currency"], out,
                                                   positive=False)
        frame["reminders_sent"] = self._count(text["reminders_sent"], out)
        country = pc.utf8_upper(text["debtor_country"])
        out.mark(~pc.is_in(country, COUNTRIES).to_numpy(zero_copy_only=False), "BAD_COUNTRY",
                 "debtor_country {!r} is not an ISO 3166-1 alpha-2 code", country)
        frame["debtor_country"] = country.to_numpy(zero_copy_only=False)
        frame["debtor_type"] = self._mapped(text["debtor_type"], DEBTOR_TYPES, "debtor_type", out,
                                            "consumer or business")
        frame["disputed"] = self._mapped(text["disputed"], BOOLEANS, "disputed", out, "true or false")
        for name in ("debtor_name", "debtor_national_id", "debtor_address_line1", "debtor_address_line2",
                     "debtor_postcode", "debtor_city"):
            frame[name] = text[name].to_numpy(zero_copy_only=False)
        frame["notes"] = np.full(n, "", dtype=object)
        frame["description"] = self._description(text["description"], frame)
        frame["debtor_email"] = self._email(text["debtor_email"], frame)
        frame["debtor_phone"] = self._phone(text["debtor_phone"], frame)
        frame["outcome"] = out.code
        frame["message"] = out.message
        return frame

    @staticmethod
    def _required(text: dict[str, pa.Array], is_credit: np.ndarray, out: Outcomes) -> None:
        empty = {name: pc.equal(text[name], "").to_numpy(zero_copy_only=False)
                 for name in ALWAYS_REQUIRED + ("due_date", "credited_invoice_number")}
        empty["due_date"] &= ~is_credit
        empty["credited_invoice_number"] &= is_credit
        missing = np.full(len(is_credit), "", dtype=object)
        for name, mask in empty.items():
            missing[mask] = missing[mask] + np.where(missing[mask] == "", "", ", ") + name
        out.mark(missing != "", "MISSING_FIELD", "missing {}", missing)

    def _date(self, values: pa.Array, name: str, out: Outcomes) -> np.ndarray:
        parts = pc.extract_regex(values, DATE_PATTERNS[self.layout.date_format])
        iso = pc.binary_join_element_wise(
            parts.field("y"), pc.utf8_lpad(parts.field("m"), 2, "0"), pc.utf8_lpad(parts.field("d"), 2, "0"), "-")
        parsed = pc.strptime(iso, format="%Y-%m-%d", unit="s", error_is_null=True)
        round_trip = pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), iso)
        valid = pc.fill_null(pc.and_(round_trip, pc.not_equal(parts.field("y"), "0000")), False).to_numpy(
            zero_copy_only=False)
        given = pc.not_equal(values, "").to_numpy(zero_copy_only=False)
        out.mark(given & ~valid, "BAD_DATE",
                 f"{name} {{!r}} is not a date in the format {self.layout.date_format}", values)
        result = parsed.to_numpy(zero_copy_only=False).astype("datetime64[s]")
        result[~valid] = np.datetime64("NaT")
        return result

    def _money(self, values: pa.Array, name: str, currencies: pd.Series, out: Outcomes, positive: bool) -> np.ndarray:
        pattern, thousands = AMOUNT_PATTERNS[self.layout.decimal]
        given = pc.not_equal(values, "").to_numpy(zero_copy_only=False)
        unsigned = pc.replace_substring_regex(values, "^-", "")
        negative = pc.starts_with(values, "-").to_numpy(zero_copy_only=False)
        shaped = pc.match_substring_regex(unsigned, pattern).to_numpy(zero_copy_only=False)
        plain = pc.replace_substring_regex(unsigned, thousands, "")
        if self.layout.decimal == ",":
            plain = pc.replace_substring(plain, ",", ".")
        parts = pc.extract_regex(plain, r"^(?P<int>\d*)(?:\.(?P<frac>\d*))?$")
        whole, frac = parts.field("int"), parts.field("frac")
        whole_digits = pc.utf8_length(pc.utf8_ltrim(whole, "0")).to_numpy(zero_copy_only=False)
        frac_digits = pc.fill_null(pc.utf8_length(frac), 0).to_numpy(zero_copy_only=False)
        allowed = currencies.map({c: minor_digits(c) for c in currencies.unique()}).to_numpy(dtype=np.int64)
        ok = given & shaped & (whole_digits <= MAX_MAJOR_DIGITS) & (frac_digits <= allowed)
        whole_int = pc.cast(pc.if_else(pa.array(ok), pc.if_else(pc.equal(whole, ""), "0", whole), "0"),
                            pa.int64()).to_numpy()
        frac_text = pc.if_else(pa.array(ok), pc.utf8_rpad(pc.fill_null(frac, ""), 4, "0"), "0000")
        frac_int = pc.cast(frac_text, pa.int64()).to_numpy()
        minor = whole_int * 10 ** allowed + frac_int // 10 ** (4 - allowed)
        minor = np.where(negative, -minor, minor)
        bad = given & ~ok
        out.mark(bad & shaped & (whole_digits > MAX_MAJOR_DIGITS), "BAD_AMOUNT",
                 f"{name} {{!r}} is absurdly large", values)
        out.mark(bad & shaped, "BAD_AMOUNT", f"{name} {{!r}} has more decimals than its currency allows", values)
        out.mark(bad, "BAD_AMOUNT", f"{name} {{!r}} is not an amount with decimal separator "
                                          f"{self.layout.decimal!r}", values)
        if positive:
            out.mark(given & ok & (minor <= 0), "BAD_AMOUNT", f"{name} {{!r}} must be greater than zero", values)
        else:
            out.mark(given & ok & (minor < 0), "BAD_AMOUNT", f"{name} {{!r}} must not be negative", values)
        return np.where(given & ok, minor, 0)

    @staticmethod
    def _count(values: pa.Array, out: Outcomes) -> np.ndarray:
        given = pc.not_equal(values, "").to_numpy(zero_copy_only=False)
        digit = pc.match_substring_regex(values, r"^[0-3]$").to_numpy(zero_copy_only=False)
        out.mark(given & ~digit, "BAD_AMOUNT", "reminders_sent {!r} must be a whole number from 0 to 3", values)
        counts = pc.cast(pc.if_else(pa.array(digit), values, None), pa.int64())
        return pd.array(counts.to_pandas(types_mapper=pd.ArrowDtype).astype("Int64"))

    @staticmethod
    def _mapped(values: pa.Array, mapping: dict, name: str, out: Outcomes, expected: str) -> np.ndarray:
        mapped = pd.Series(pc.utf8_lower(values).to_numpy(zero_copy_only=False)).map(mapping).to_numpy(dtype=object)
        out.mark(pd.isna(mapped), "MISSING_FIELD", f"{name} {{!r}} must be {expected}", values)
        return mapped

    @staticmethod
    def _description(values: pa.Array, frame: pd.DataFrame) -> np.ndarray:
        text = values.to_numpy(zero_copy_only=False)
        long = pc.greater(pc.utf8_length(values), MAX_DESCRIPTION).to_numpy(zero_copy_only=False)
        if long.any():
            text[long] = [t[:MAX_DESCRIPTION] for t in text[long]]
            frame.loc[long, "notes"] += f"description cut to {MAX_DESCRIPTION} characters; "
        return text

    @staticmethod
    def _email(values: pa.Array, frame: pd.DataFrame) -> np.ndarray:
        text = values.to_numpy(zero_copy_only=False)
        bad = pc.and_(pc.not_equal(values, ""), pc.invert(pc.match_substring_regex(values, EMAIL))).to_numpy(
            zero_copy_only=False)
        if bad.any():
            frame.loc[bad, "notes"] += [f"debtor_email {t!r} ignored: not an e-mail address; " for t in text[bad]]
            text[bad] = ""
        return text

    @staticmethod
    def _phone(values: pa.Array, frame: pd.DataFrame) -> np.ndarray:
        """E.164 where phonenumbers can read the number for the debtor's country; else kept as given."""
        text = values.to_numpy(zero_copy_only=False)
        given = np.flatnonzero(text != "")
        if len(given) == 0:
            return text
        pairs = pd.DataFrame({"phone": text[given], "country": frame["debtor_country"].to_numpy()[given]})
        e164 = {key: _e164(*key) for key in set(zip(pairs["phone"], pairs["country"]))}
        text[given] = [e164[key] for key in zip(pairs["phone"], pairs["country"])]
        return text


def _e164(phone: str, country: str) -> str:
    try:
        number = phonenumbers.parse(phone, country or None)
    except phonenumbers.NumberParseException:
        return phone
    if not phonenumbers.is_possible_number(number):
        return phone
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _numpy(values: pa.Array | np.ndarray) -> np.ndarray:
    return values if isinstance(values, np.ndarray) else values.to_numpy(zero_copy_only=False)
