"""The registry (`inkasso.toml`, formats.md §0): a valid one loads; every problem names its key and what is wrong."""
from __future__ import annotations

from decimal import Decimal

import pytest

from pipeline.config import (Agency, ConfigError, CsvLayout, FeePlan, MissingFee, Partner, XmlLayout,
                             load_registry)
from pipeline.registry_text import EXAMPLE
from tests.conftest import DATA, REGISTRY


def load(tmp_path, text: str):
    path = tmp_path / "inkasso.toml"
    path.write_text(text, encoding="utf-8")
    return load_registry(path)


def problems(tmp_path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    message = str(caught.value)
    prefix = f"{tmp_path / 'inkasso.toml'}: "
    assert message.startswith(prefix)
    return message[len(prefix):]


def changed(old: str, new: str, count: int = 1) -> str:
    assert REGISTRY.count(old) >= count, old
    return REGISTRY.replace(old, new, count)


def test_a_valid_registry_loads(tmp_path):
    registry = load(tmp_path, REGISTRY)
    assert list(registry.creditors) == ["acme", "dansk", "svea"]
    acme, dansk, svea = registry.creditors.values()
    assert (acme.name, acme.vat_id, acme.country, acme.address, acme.currency, acme.iban, acme.bic, acme.fee_plan) == \
           ("Acme ApS", "DK13585628", "DK", "Industrivej 4, 8000 Aarhus C", "DKK", "DK5000400440116243", "NDEADKKK",
            "standard")
    assert acme.csv == CsvLayout()
    assert (acme.xml, svea.xml) == (XmlLayout("business"), XmlLayout("business"))
    assert dansk.csv == CsvLayout(encoding="cp1252", decimal=",", date_format="DD.MM.YYYY",
                                  columns={"fakturanr": "invoice_number", "kundenr": "debtor_id", "beløb": "amount"})
    assert (svea.legal_id, acme.legal_id) == ("5560360793", "13585628")
    plan = registry.fee_plans["standard"]
    assert plan == FeePlan(
        name="standard", success_fee_pct={"DK": Decimal("10"), "SE": Decimal("10"), "default": Decimal("15")},
        aged_surcharge_pct=Decimal("4"), aged_threshold_days=180, agency_keeps_interest_and_fees=True,
        withdrawal_fee={"DKK": Decimal("250.00"), "SEK": Decimal("250.00"), "EUR": Decimal("35.00")},
        court_withdrawal_fee={"DKK": Decimal("750.00"), "SEK": Decimal("750.00"), "EUR": Decimal("100.00")},
        negative_net="carry")
    assert (plan.fixed_fee("withdrawal_fee", "SEK"), plan.fixed_fee("court_withdrawal_fee", "EUR")) == (
        Decimal("250.00"), Decimal("100.00"))
    with pytest.raises(MissingFee) as missing:
        plan.fixed_fee("withdrawal_fee", "NOK")
    assert str(missing.value) == "fee plan 'standard' has no withdrawal_fee for NOK (it names DKK, EUR, SEK)"
    assert registry.partners == {"alektum": Partner(
        "alektum", "Alektum A/S", frozenset({"DK", "SE"}), {"DKK": Decimal("100000.00")}, 6, Decimal("25"))}
    assert registry.supported_countries == frozenset({"DK", "SE"})
    assert (registry.settle_seconds, registry.max_file_bytes, registry.max_xml_document_bytes) == (
        0, 2 * 1024**3, 50 * 1024**2)
    assert registry.agency == Agency("Nordisk Inkasso ApS", "DK12345674", "DK", "Vesterbrogade 10, 1620 København V",
                                     "DK5000400440116243", "NDEADKKK", vat_rate_pct=Decimal("25"))


def test_inits_example_is_valid_and_follows_formats_md(tmp_path):
    registry = load(tmp_path, EXAMPLE)
    assert list(registry.creditors) == ["acme"] and list(registry.partners) == ["alektum"]
    assert registry.settle_seconds == 30


def test_optional_ingest_and_agency_keys(tmp_path):
    registry = load(tmp_path, changed("settle_seconds = 0", "settle_seconds = 30\nmax_file_bytes = 1000\n"
                                                            "max_xml_document_bytes = 500")
                    .replace('supported_countries = ["DK", "SE"]', 'supported_countries = ["DK", "SE", "NO"]')
                    .replace('fee_plan = "standard"\n\n[fee_plan', 'fee_plan = "standard"\n[creditor.xml]\n'
                                                                  'debtor_type = "Consumer"\n\n[fee_plan'))
    assert (registry.settle_seconds, registry.max_file_bytes, registry.max_xml_document_bytes) == (30, 1000, 500)
    assert registry.creditors["svea"].xml == XmlLayout(debtor_type="consumer")
    assert registry.supported_countries == frozenset({"DK", "SE", "NO"})


def test_a_home_made_by_an_earlier_init_names_every_missing_key(tmp_path):
    """The example `inkasso init` wrote before formats.md §0 grew (tests/data, verbatim)."""
    old = (DATA / "inkasso_toml_from_an_earlier_init.toml").read_text(encoding="utf-8")
    assert problems(tmp_path, old) == (
        "agency.address: is required; "
        "agency.vat_rate_pct: is required; "
        "fee_plan.standard.withdrawal_fee: must be a table, not str; "
        "fee_plan.standard.court_withdrawal_fee: must be a table, not str; "
        "fee_plan.standard.negative_net: is required; "
        "creditor[0] 'acme'.address: is required; "
        "partner[0] 'alektum'.countries: is required; "
        "partner[0] 'alektum'.payment_order_limit: is required")


PROBLEMS = [
    ('iban = "SE4550000000058398257466"', 'iban = "SE4550000000058398257467"',
     "creditor[2] 'svea'.iban: 'SE4550000000058398257467' is not a valid IBAN (Invalid checksum digits)"),
    ('vat_id = "DK13585628"', 'vat_id = "DK13585627"',
     "creditor[0] 'acme'.vat_id: 'DK13585627' is not a valid DK CVR or SE organisationsnummer with country prefix"),
    ('vat_id = "SE5560360793"', 'vat_id = "5560360793"',
     "creditor[2] 'svea'.vat_id: '5560360793' is not a valid DK CVR or SE organisationsnummer with country prefix"),
    ('fee_plan = "standard"', 'fee_plan = "gold"',
     "creditor[0] 'acme'.fee_plan: unknown fee plan 'gold' (known: standard)"),
    ('id = "acme"', 'id = "Acme Corp"',
     "creditor[0].id: 'Acme Corp' must be 1-40 characters of a-z, 0-9, _ and - (it names the creditor's folder)"),
    ('id = "acme"', f'id = "{"a" * 41}"',
     f"creditor[0].id: '{'a' * 41}' must be 1-40 characters of a-z, 0-9, _ and - (it names the creditor's folder)"),
    ('id = "svea"', 'id = "acme"', "creditor[2].id: 'acme' is used twice"),
    ('id = "alektum"', 'id = "../x"',
     "partner[0].id: '../x' must be 1-40 characters of a-z, 0-9, _ and - (it names the partner's folder)"),
    ('encoding = "cp1252"', 'encoding = "latin-1"',
     "creditor[1] 'dansk'.csv.encoding: 'latin-1' is not one of utf-8, cp1252"),
    ('decimal = ","', 'decimal = ";"', "creditor[1] 'dansk'.csv.decimal: ';' must be \".\" or \",\""),
    ('date_format = "DD.MM.YYYY"', 'date_format = "MM/DD/YYYY"',
     "creditor[1] 'dansk'.csv.date_format: 'MM/DD/YYYY' is not one of YYYY-MM-DD, DD-MM-YYYY, DD.MM.YYYY, DD/MM/YYYY"),
    ('"beløb" = "amount"', '"beløb" = "amount_total"',
     "creditor[1] 'dansk'.csv.columns.beløb: 'amount_total' is not a canonical column"),
    ('columns = { "fakturanr" = "invoice_number", "kundenr" = "debtor_id", "beløb" = "amount" }', 'columns = "x"',
     "creditor[1] 'dansk'.csv.columns: must be a table, not str"),
    ('bic = "ESSESESS"', 'bic = "XXXX"', "creditor[2] 'svea'.bic: 'XXXX' is not a valid BIC (Invalid length '4')"),
    ('currency = "SEK"', 'currency = "sek"', "creditor[2] 'svea'.currency: 'sek' is not an ISO 4217 currency code"),
    ('country = "SE"', 'country = "XX"', "creditor[2] 'svea'.country: 'XX' is not an ISO 3166-1 alpha-2 country code"),
    ('name = "Svensk Handel AB"\n', '', "creditor[2] 'svea'.name: is required"),
    ('address = "Storgatan 9, 111 22 Stockholm"\n', '', "creditor[2] 'svea'.address: is required"),
    ('vat_rate_pct = "25"', 'vat_rate_pct = 25.0',
     "agency.vat_rate_pct: must be a non-negative decimal in quotes, e.g. \"250.00\", not 25.0"),
    ('SEK = "250.00"', 'SEK = 250.0',
     "fee_plan.standard.withdrawal_fee.SEK: must be a non-negative decimal in quotes, e.g. \"250.00\", not 250.0"),
    ('EUR = "35.00"', 'eur = "35.00"', "fee_plan.standard.withdrawal_fee.eur: is not an ISO 4217 currency code"),
    ('court_withdrawal_fee = { DKK = "750.00", SEK = "750.00", EUR = "100.00" }', 'court_withdrawal_fee = "750.00"',
     "fee_plan.standard.court_withdrawal_fee: must be a table, not str"),
    ('aged_threshold_days = 180', 'aged_threshold_days = -1',
     "fee_plan.standard.aged_threshold_days: must be a non-negative integer, not -1"),
    ('aged_threshold_days = 180\n', '', "fee_plan.standard.aged_threshold_days: is required"),
    ('agency_keeps_interest_and_fees = true', 'agency_keeps_interest_and_fees = "false"',
     "fee_plan.standard.agency_keeps_interest_and_fees: must be true or false (without quotes), not 'false'"),
    ('agency_keeps_interest_and_fees = true\n', '', "fee_plan.standard.agency_keeps_interest_and_fees: is required"),
    ('negative_net = "carry"', 'negative_net = "forget"',
     "fee_plan.standard.negative_net: 'forget' must be one of carry, invoice"),
    (', default = "15" }', ' }', "fee_plan.standard.success_fee_pct.default: is required: the rate for debtors of "
                                 "the countries not named"),
    ('countries = ["DK", "SE"]       #', 'countries = ["DK", "se"]       #',
     "partner[0] 'alektum'.countries: 'se' is not an ISO 3166-1 alpha-2 country code (upper case)"),
    ('payment_order_limit = { DKK = "100000.00" }', 'payment_order_limit = { DKK = "-1" }',
     "partner[0] 'alektum'.payment_order_limit.DKK: must be a non-negative decimal in quotes, e.g. \"250.00\", "
     "not '-1'"),
    ('commission_after_pct = "25"\n', '', "partner[0] 'alektum'.commission_after_pct: is required"),
    ('fee_plan = "standard"\n', 'fee_plan = "standard"\nxml = { debtor_type = "b2c" }\n',
     "creditor[0] 'acme'.xml.debtor_type: 'b2c' must be one of business, consumer"),
    ('settle_seconds = 0', 'settle_seconds = "0"', "ingest.settle_seconds: must be a non-negative integer, not '0'"),
    ('supported_countries = ["DK", "SE"]', 'supported_countries = ["dk", "SE"]',
     "agency.supported_countries: 'dk' is not an ISO 3166-1 alpha-2 country code (upper case)"),
    ('supported_countries = ["DK", "SE"]', 'supported_countries = "DK"',
     "agency.supported_countries: must be a list of ISO 3166-1 alpha-2 codes, e.g. [\"DK\", \"SE\"], not 'DK'"),
]


@pytest.mark.parametrize(("old", "new", "problem"), PROBLEMS, ids=[case[2].split(":")[0] for case in PROBLEMS])
def test_each_problem_names_its_key(tmp_path, old, new, problem):
    assert problems(tmp_path, changed(old, new)) == problem


def test_every_problem_is_reported_at_once(tmp_path):
    text = changed('fee_plan = "standard"', 'fee_plan = "gold"').replace('currency = "SEK"', 'currency = "KRONA"')
    assert problems(tmp_path, text) == ("creditor[0] 'acme'.fee_plan: unknown fee plan 'gold' (known: standard); "
                                        "creditor[2] 'svea'.currency: 'KRONA' is not an ISO 4217 currency code")


def test_creditor_must_be_an_array_of_tables(tmp_path):
    text = 'creditor = "acme"\n' + REGISTRY.split("[[creditor]]")[0]
    assert problems(tmp_path, text) == "creditor: must be an array of tables ([[creditor]]), not str"


def test_missing_or_unreadable_registry(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_registry(tmp_path / "nowhere.toml")
    assert str(caught.value) == f"{tmp_path / 'nowhere.toml'} not found: run `inkasso init` first"
    message = problems(tmp_path, "this is = not toml [")
    assert message.startswith("not valid TOML (")
