"""The text of `inkasso.toml` (formats.md §0), written once.

`inkasso init`'s example, the demo's home, the tests' homes and the bench compose their registries from
these sections, so that a key formats.md adds is added here and nowhere else. `creditor` writes one
``[[creditor]]`` table from plain values; the agency, the standard fee plan and the court partner are
the same everywhere.
"""
from __future__ import annotations

import json
from collections.abc import Iterable

AGENCY = '''\
[agency]
name = "Nordisk Inkasso ApS"
vat_id = "DK12345674"
country = "DK"
address = "Vesterbrogade 10, 1620 København V"   # on letters, statements, the court form
iban = "DK5000400440116243"                       # debtors pay here (letters show it)
bic = "NDEADKKK"
vat_rate_pct = "25"                               # VAT on our commission and fees (settlement)
supported_countries = ["DK", "SE"]
'''

TRANSPORT_COMMENT = '''\
# [transport]                  # per party: "local" (the folders of formats.md §0) or an SFTP connection
# creditors = { kind = "sftp", connection = "creditors_sftp", base_path = "" }   # an Airflow connection (README)
'''

STANDARD_FEE_PLAN = '''\
[fee_plan.standard]            # every key required: a plan never charges a silent 0
success_fee_pct = { DK = "10", SE = "10", default = "15" }
aged_surcharge_pct = "4"
aged_threshold_days = 180
agency_keeps_interest_and_fees = true
withdrawal_fee = { DKK = "250.00", SEK = "250.00", EUR = "35.00" }        # per case currency
court_withdrawal_fee = { DKK = "750.00", SEK = "750.00", EUR = "100.00" }
negative_net = "carry"         # or "invoice": a week whose fees exceed collections
'''

COURT_PARTNER = '''\
[[partner]]
id = "alektum"
name = "Alektum A/S"
countries = ["DK", "SE"]       # the debtors' countries whose cases it takes to court
payment_order_limit = { DKK = "100000.00" }   # claims above: ABOVE_PAYMENT_ORDER_LIMIT; a currency not named: no limit
equal_terms_months = 6
commission_after_pct = "25"
'''

LAYOUT_DEFAULTS = '''\
  [creditor.csv]               # optional; defaults shown
  encoding = "utf-8"           # or "cp1252"
  decimal = "."                # or ","
  date_format = "YYYY-MM-DD"   # or DD-MM-YYYY, DD.MM.YYYY, DD/MM/YYYY
  columns = { }                # their header -> canonical name
  [creditor.xml]
  debtor_type = "business"     # or "consumer"
'''


def _toml(value) -> str:
    """A TOML value of a string, an integer or a table of strings (TOML's basic strings are JSON's)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value, ensure_ascii=False)


def creditor(id: str, name: str, vat_id: str, country: str, address: str, currency: str, iban: str, bic: str,
             fee_plan: str = "standard", csv: dict | None = None, xml: dict | None = None) -> str:
    """One ``[[creditor]]`` table; ``csv`` and ``xml`` are its optional layouts as plain dicts."""
    lines = ["[[creditor]]"] + [f"{key} = {_toml(value)}" for key, value in (
        ("id", id), ("name", name), ("vat_id", vat_id), ("country", country), ("address", address),
        ("currency", currency), ("iban", iban), ("bic", bic), ("fee_plan", fee_plan))]
    for section, layout in (("csv", csv), ("xml", xml)):
        if layout:
            lines.append(f"  [creditor.{section}]")
            lines += [f"  {key} = {_toml(value)}" for key, value in layout.items()]
    return "\n".join(lines) + "\n"


def ingest(settle_seconds: int = 30) -> str:
    return (f"[ingest]\nsettle_seconds = {settle_seconds}"
            "            # a file unchanged this long (or with a .done sidecar) is complete\n")


def registry(creditors: Iterable[str], settle_seconds: int = 30, transport: str = TRANSPORT_COMMENT,
             fee_plans: Iterable[str] = (STANDARD_FEE_PLAN,), partners: Iterable[str] = (COURT_PARTNER,),
             title: str = "# inkasso.toml: the agency, its creditors, fee plans and partners (formats.md §0)") -> str:
    """A whole registry: the agency, ``[ingest]``, ``transport`` (a ``[transport]`` table or a comment),
    the creditors, the fee plans and the partners."""
    sections = [title + "\n", AGENCY, ingest(settle_seconds), transport, *creditors, *fee_plans, *partners]
    return "\n".join(section for section in sections if section)


ACME = creditor("acme", "Acme ApS", "DK13585628", "DK", "Industrivej 4, 8000 Aarhus C", "DKK",
                "DK5000400440116243", "NDEADKKK")

EXAMPLE = registry(["# one [[creditor]] per creditor; its id ([a-z0-9_-], 1-40 characters) names its folders\n"
                    + ACME + LAYOUT_DEFAULTS])
