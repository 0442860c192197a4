"""Exact money: amounts are integers in minor units (øre, öre, cent), never floats.

ISO 4217 gives each currency its number of minor digits; almost all have two.
The exceptions we must know are listed here; every other ISO 4217 code has two.

>>> minor_digits("DKK"), minor_digits("JPY"), minor_digits("KWD")
(2, 0, 3)
>>> format_minor(123450, "DKK")
'1234.50'
>>> format_minor(-5, "SEK")
'-0.05'
>>> to_minor(Decimal("12.3"), "EUR")
1230
"""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

import pycountry

_MINOR_DIGITS = {
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0
    ),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("CLF UYW".split(), 4),
}


@lru_cache(maxsize=1024)   # a bank file asks for the same few codes a million times
def is_currency(code: str) -> bool:
    """True for an active ISO 4217 alphabetic code such as ``DKK``."""
    return len(code) == 3 and code.isupper() and pycountry.currencies.get(alpha_3=code) is not None


def minor_digits(currency: str) -> int:
    return _MINOR_DIGITS.get(currency, 2)


def to_minor(amount: Decimal, currency: str) -> int:
    """An exact decimal amount in minor units; more digits than the currency has is an error."""
    scaled = amount.scaleb(minor_digits(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} has more decimals than {currency} allows")
    return int(scaled)


def format_minor(minor: int, currency: str) -> str:
    """Minor units as a plain decimal string with the currency's digits, for files we write."""
    digits = minor_digits(currency)
    return str(Decimal(minor).scaleb(-digits).quantize(Decimal(1).scaleb(-digits)))
