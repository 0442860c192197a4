"""Exact money (formats.md): integers in minor units, ISO 4217 minor digits, no floats anywhere."""
from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from pipeline.exporters.letters_pdf import money_text, money_texts
from pipeline.money import format_minor, is_currency, minor_digits, to_minor


@pytest.mark.parametrize(("currency", "digits"), [("DKK", 2), ("SEK", 2), ("EUR", 2), ("JPY", 0), ("ISK", 0),
                                                  ("KWD", 3), ("TND", 3), ("CLF", 4)])
def test_minor_digits(currency, digits):
    assert minor_digits(currency) == digits


@pytest.mark.parametrize(("amount", "currency", "minor"), [
    ("12.3", "EUR", 1230), ("1234.50", "DKK", 123450), ("1234.500", "DKK", 123450), ("0.01", "SEK", 1),
    ("-0.05", "SEK", -5), ("250000", "JPY", 250000), ("1.234", "KWD", 1234), ("999999999999.99", "DKK", 99999999999999),
    ("1E+3", "DKK", 100000),
])
def test_to_minor(amount, currency, minor):
    result = to_minor(Decimal(amount), currency)
    assert result == minor and type(result) is int


@pytest.mark.parametrize(("amount", "currency"), [("0.001", "DKK"), ("12.345", "EUR"), ("2500.5", "JPY"),
                                                  ("1.2345", "KWD")])
def test_to_minor_refuses_more_decimals_than_the_currency_has(amount, currency):
    with pytest.raises(ValueError) as caught:
        to_minor(Decimal(amount), currency)
    assert str(caught.value) == f"{amount} has more decimals than {currency} allows"


@pytest.mark.parametrize(("minor", "currency", "text"), [
    (123450, "DKK", "1234.50"), (-5, "SEK", "-0.05"), (0, "EUR", "0.00"), (1, "DKK", "0.01"),
    (250000, "JPY", "250000"), (1234, "KWD", "1.234"), (99999999999999, "DKK", "999999999999.99"),
    (-100000000123449, "DKK", "-1000000001234.49"),
])
def test_format_minor(minor, currency, text):
    assert format_minor(minor, currency) == text


@pytest.mark.parametrize(("code", "valid"), [("DKK", True), ("SEK", True), ("EUR", True), ("JPY", True),
                                             ("dkk", False), ("XYZ", False), ("DK", False), ("DKKK", False),
                                             ("", False)])
def test_is_currency(code, valid):
    assert is_currency(code) is valid


@hsettings(max_examples=300, deadline=None)
@given(st.integers(-10**15, 10**15), st.sampled_from(["DKK", "SEK", "EUR", "JPY", "KWD", "CLF"]))
def test_format_and_to_minor_round_trip_exactly(minor, currency):
    text = format_minor(minor, currency)
    assert "e" not in text.lower()                         # never scientific notation in a file
    assert len(text.rpartition(".")[2]) == minor_digits(currency) or minor_digits(currency) == 0
    assert to_minor(Decimal(text), currency) == minor


@pytest.mark.parametrize(("minor", "currency", "language", "text"), [
    (123456789, "DKK", "da", "1.234.567,89"), (-5, "DKK", "da", "-0,05"), (0, "SEK", "sv", "0,00"),
    (100000, "SEK", "sv", "1\u00a0000,00"), (-100000000, "JPY", "en", "-100,000,000"),
    (123456789, "EUR", "en", "1,234,567.89"), (1000001, "KWD", "da", "1.000,001")])
def test_money_text_groups_whole_units_as_the_language_writes_them(minor, currency, language, text):
    assert money_text(minor, currency, language) == text


@hsettings(max_examples=200)
@given(st.lists(st.integers(min_value=-10**15, max_value=10**15), max_size=30),
       st.sampled_from(["DKK", "SEK", "JPY", "KWD"]), st.sampled_from(["da", "sv", "en"]))
def test_money_texts_of_a_column_are_money_text_of_each_amount(amounts, currency, language):
    assert money_texts(np.array(amounts, dtype=np.int64), currency, language).to_pylist() == [
        money_text(amount, currency, language) for amount in amounts]
