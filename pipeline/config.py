"""Settings and the creditor registry (`inkasso.toml`, formats.md §0).

Settings come from the environment: ``INKASSO_HOME`` (default ``./var``) and
``INKASSO_DATABASE_URL`` (default SQLite at ``$INKASSO_HOME/inkasso.db``).
The registry is validated as a whole on load; every problem names its key, e.g.
``creditor[1] "acme".iban: 'DK00…' is not a valid IBAN (invalid checksum)``.
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pycountry
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.dk import cvr
from stdnum.se import orgnr
from stdnum.se import vat as se_vat

from pipeline.money import is_currency

PARTY_ID = re.compile(r"^[a-z0-9_-]{1,40}$")
CANONICAL_COLUMNS = (
    "invoice_number", "document_type", "credited_invoice_number", "invoice_date", "due_date",
    "amount", "currency", "debtor_id", "debtor_type", "debtor_name", "debtor_national_id",
    "debtor_address_line1", "debtor_address_line2", "debtor_postcode", "debtor_city",
    "debtor_country", "debtor_email", "debtor_phone", "reminders_sent", "last_reminder_date",
    "reminder_fees", "disputed", "description",
)
DATE_FORMATS = ("YYYY-MM-DD", "DD-MM-YYYY", "DD.MM.YYYY", "DD/MM/YYYY")
ENCODINGS = ("utf-8", "cp1252")
DEFAULT_SETTLE_SECONDS = 30
DEFAULT_MAX_FILE_BYTES = 2 * 1024**3
DEFAULT_MAX_XML_DOCUMENT_BYTES = 50 * 1024**2
DEBTOR_TYPES = ("business", "consumer")
TRANSPORT_PARTIES = ("creditors", "bank", "partner", "finance", "letters")
NEGATIVE_NET = ("carry", "invoice")
TRANSPORT_KINDS = ("local", "sftp")


class ConfigError(ValueError):
    """The registry is missing, unreadable, or has keys with wrong values."""


@dataclass(frozen=True)
class CsvLayout:
    """How one creditor's accounting system writes its invoice CSV."""

    encoding: str = "utf-8"
    decimal: str = "."
    date_format: str = "YYYY-MM-DD"
    columns: dict[str, str] = field(default_factory=dict)  # their header (lower case) -> canonical


@dataclass(frozen=True)
class XmlLayout:
    """What one creditor's UBL documents do not say: UBL invoices are B2B unless the creditor says otherwise."""

    debtor_type: str = "business"


@dataclass(frozen=True)
class TransportChoice:
    """How one party's files travel: the local folders, or the SFTP server of an Airflow connection."""

    kind: str = "local"
    connection: str = ""       # Airflow connection id (sftp); from the CLI: AIRFLOW_CONN_<ID> in the environment
    base_path: str = ""        # the server folder holding the party folders; "" = the login's folder


@dataclass(frozen=True)
class Party:
    name: str
    vat_id: str
    country: str
    address: str
    iban: str
    bic: str


@dataclass(frozen=True)
class Agency(Party):
    vat_rate_pct: Decimal = Decimal(0)   # VAT on our commission and fees (settlement)


@dataclass(frozen=True)
class Creditor(Party):
    id: str = ""
    currency: str = ""
    fee_plan: str = ""
    csv: CsvLayout = field(default_factory=CsvLayout)
    xml: XmlLayout = field(default_factory=XmlLayout)

    @property
    def legal_id(self) -> str:
        """The CVR / organisationsnummer without country prefix or VAT suffix."""
        return self.vat_id[2:12] if self.vat_id.startswith("SE") else self.vat_id[2:]


class UnknownParty(ValueError):
    """A creditor or partner id the registry does not have (a command line's usage error)."""


class MissingFee(LookupError):
    """A fee plan names no amount of a fixed fee for a currency: the fee is never taken to be 0."""


@dataclass(frozen=True)
class FeePlan:
    name: str
    success_fee_pct: dict[str, Decimal]      # by debtor country; "default" for the others
    aged_surcharge_pct: Decimal
    aged_threshold_days: int
    agency_keeps_interest_and_fees: bool
    withdrawal_fee: dict[str, Decimal]       # by case currency
    court_withdrawal_fee: dict[str, Decimal]
    negative_net: str                        # "carry" or "invoice": a week whose fees exceed collections

    def fixed_fee(self, fee: str, currency: str) -> Decimal:
        """The plan's ``fee`` (``withdrawal_fee`` or ``court_withdrawal_fee``) for a case in ``currency``."""
        amounts = getattr(self, fee)
        if currency not in amounts:
            raise MissingFee(f"fee plan {self.name!r} has no {fee} for {currency} "
                             f"(it names {', '.join(sorted(amounts)) or 'no currency'})")
        return amounts[currency]


@dataclass(frozen=True)
class Partner:
    id: str
    name: str
    countries: frozenset[str]                    # the debtors' countries whose cases it takes to court
    payment_order_limit: dict[str, Decimal]      # by currency; a currency not named has no limit
    equal_terms_months: int
    commission_after_pct: Decimal
    part_cases: bool = False                     # takes the undisputed claims of a case with a disputed one


COLLECTION_COST_BASES = ("claim", "case_total")  # rules.md "The collection process"


@dataclass(frozen=True)
class Registry:
    agency: Agency
    creditors: dict[str, Creditor]
    fee_plans: dict[str, FeePlan]
    partners: dict[str, Partner]
    supported_countries: frozenset[str]
    settle_seconds: int
    max_file_bytes: int
    max_xml_document_bytes: int  # one Invoice/CreditNote; a wrapper of many small ones may be far larger
    transport: dict[str, TransportChoice] = field(default_factory=dict)  # party (TRANSPORT_PARTIES) -> choice
    collection_cost_basis: str = "claim"  # Bilag 1 on each claim, or once on the claims a demand letter names

    def creditor(self, creditor_id: str) -> Creditor:
        if creditor_id not in self.creditors:
            raise UnknownParty(f"no creditor {creditor_id!r} in the registry "
                               f"(known: {', '.join(self.creditors) or 'none'})")
        return self.creditors[creditor_id]


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str

    @classmethod
    def from_env(cls) -> "Settings":
        home = Path(os.environ.get("INKASSO_HOME") or "./var").resolve()
        url = os.environ.get("INKASSO_DATABASE_URL") or f"sqlite:///{home / 'inkasso.db'}"
        return cls(home=home, database_url=url)

    @property
    def registry_path(self) -> Path:
        return self.home / "inkasso.toml"

    def load_registry(self) -> Registry:
        return load_registry(self.registry_path)


def load_registry(path: Path) -> Registry:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} not found: run `inkasso init` first") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    problems: list[str] = []
    registry = _build_registry(raw, problems)
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    return registry


class _Reader:
    """Reads one TOML table, collecting problems under a key prefix instead of stopping at the first.

    A reader method without a default makes its key required: a missing key is "is required"."""

    def __init__(self, table: object, prefix: str, problems: list[str]):
        self.table = table if isinstance(table, dict) else {}
        self.prefix = prefix
        self.problems = problems
        if not isinstance(table, dict):
            self.problem("", f"must be a table, not {type(table).__name__}")

    def problem(self, key: str, message: str) -> None:
        where = f"{self.prefix}.{key}" if key else self.prefix
        self.problems.append(f"{where}: {message}")

    def _value(self, key: str, default: object) -> object:
        value = self.table.get(key, default)
        if value is None:
            self.problem(key, "is required")
        return value

    def text(self, key: str, default: str | None = None) -> str:
        value = self._value(key, default)
        if value is None:
            return ""
        if not isinstance(value, str):
            self.problem(key, f"must be a string, not {value!r}")
            return ""
        return value.strip()

    def decimal(self, key: str, default: str | None = None) -> Decimal:
        value = self._value(key, default)
        if value is None:
            return Decimal(0)
        amount = _decimal(value)
        if amount is None:
            self.problem(key, f"must be a non-negative decimal in quotes, e.g. \"250.00\", not {value!r}")
            return Decimal(0)
        return amount

    def integer(self, key: str, default: int | None = None) -> int:
        value = self._value(key, default)
        if value is None:
            return 0
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            self.problem(key, f"must be a non-negative integer, not {value!r}")
            return 0
        return value

    def boolean(self, key: str, default: bool | None = None) -> bool:
        """true or false, nothing else: the string "false" would be true in Python, so it is an error."""
        value = self._value(key, default)
        if value is not None and not isinstance(value, bool):
            self.problem(key, f"must be true or false (without quotes), not {value!r}")
        return value is True

    def choice(self, key: str, options: tuple[str, ...], default: str | None = None) -> str:
        value = self.text(key, default)
        if value and value not in options:
            self.problem(key, f"{value!r} must be one of {', '.join(options)}")
        return value

    def subtable(self, key: str) -> "_Reader":
        """The reader of a required inner table."""
        value = self._value(key, None)
        return _Reader({} if value is None else value, f"{self.prefix}.{key}", self.problems)

    def amounts(self, key: str) -> dict[str, Decimal]:
        """A table of currency -> amount, e.g. ``{ DKK = "250.00", EUR = "35.00" }``."""
        reader = self.subtable(key)
        for currency in reader.table:
            if not is_currency(currency):
                reader.problem(currency, "is not an ISO 4217 currency code")
        return {currency: reader.decimal(currency) for currency in reader.table}

    def country(self, key: str) -> str:
        value = self.text(key)
        if value and pycountry.countries.get(alpha_2=value) is None:
            self.problem(key, f"{value!r} is not an ISO 3166-1 alpha-2 country code")
        return value

    def iban(self, key: str) -> str:
        value = self.text(key)
        try:
            return str(IBAN(value)) if value else value
        except SchwiftyException as exc:
            self.problem(key, f"{value!r} is not a valid IBAN ({exc})")
            return value

    def bic(self, key: str) -> str:
        value = self.text(key)
        try:
            return str(BIC(value)) if value else value
        except SchwiftyException as exc:
            self.problem(key, f"{value!r} is not a valid BIC ({exc})")
            return value

    def vat_id(self, key: str) -> str:
        value = self.text(key).replace(" ", "").upper()
        valid = (
            (value.startswith("DK") and cvr.is_valid(value[2:]))
            or (value.startswith("SE") and (orgnr.is_valid(value[2:]) or se_vat.is_valid(value)))
        )
        if value and not valid:
            self.problem(key, f"{value!r} is not a valid DK CVR or SE organisationsnummer with country prefix")
        return value

    def countries(self, key: str, default: list[str] | None = None) -> list[str]:
        value = self._value(key, default)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
            self.problem(key, f"must be a list of ISO 3166-1 alpha-2 codes, e.g. [\"DK\", \"SE\"], not {value!r}")
            return []
        for code in value:
            if code != code.upper() or len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
                self.problem(key, f"{code!r} is not an ISO 3166-1 alpha-2 country code (upper case)")
        return value

    def folder_id(self, key: str, what: str) -> str:
        """The id of a party whose folder it names: [a-z0-9_-], 1-40 characters."""
        value = self.text(key)
        if value and not PARTY_ID.match(value):
            self.problem(key, f"{value!r} must be 1-40 characters of a-z, 0-9, _ and - (it names the {what}'s folder)")
        return value

    def party(self) -> dict:
        return dict(name=self.text("name"), vat_id=self.vat_id("vat_id"), country=self.country("country"),
                    address=self.text("address"), iban=self.iban("iban"), bic=self.bic("bic"))


def _decimal(value: object) -> Decimal | None:
    """A finite, non-negative decimal written as a string or an integer (a TOML float is inexact: refused)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return result if result.is_finite() and result >= 0 else None


def _build_registry(raw: dict, problems: list[str]) -> Registry:
    agency_reader = _Reader(raw.get("agency", {}), "agency", problems)
    agency = Agency(**agency_reader.party(), vat_rate_pct=agency_reader.decimal("vat_rate_pct"))
    countries = agency_reader.countries("supported_countries", ["DK", "SE"])
    ingest = _Reader(raw.get("ingest", {}), "ingest", problems)
    fee_plans = {name: _fee_plan(name, table, problems)
                 for name, table in _Reader(raw.get("fee_plan", {}), "fee_plan", problems).table.items()}
    creditors: dict[str, Creditor] = {}
    for index, table in enumerate(_array_of_tables(raw, "creditor", problems)):
        creditor = _creditor(table, index, fee_plans, problems)
        if creditor.id in creditors:
            problems.append(f"creditor[{index}].id: {creditor.id!r} is used twice")
        creditors[creditor.id] = creditor
    partners: dict[str, Partner] = {}
    for index, table in enumerate(_array_of_tables(raw, "partner", problems)):
        partner = _partner(table, index, problems)
        if partner.id in partners:
            problems.append(f"partner[{index}].id: {partner.id!r} is used twice")
        partners[partner.id] = partner
    return Registry(
        agency=agency,
        creditors=creditors,
        fee_plans=fee_plans,
        partners=partners,
        supported_countries=frozenset(countries),
        settle_seconds=ingest.integer("settle_seconds", DEFAULT_SETTLE_SECONDS),
        max_file_bytes=ingest.integer("max_file_bytes", DEFAULT_MAX_FILE_BYTES),
        max_xml_document_bytes=ingest.integer("max_xml_document_bytes", DEFAULT_MAX_XML_DOCUMENT_BYTES),
        transport=_transport(raw.get("transport", {}), problems),
        collection_cost_basis=_Reader(raw.get("lifecycle", {}), "lifecycle", problems).choice(
            "collection_cost_basis", COLLECTION_COST_BASES, "claim"),
    )


def _partner(table: dict, index: int, problems: list[str]) -> Partner:
    reader = _Reader(table, f"partner[{index}]", problems)
    partner_id = reader.folder_id("id", "partner")
    reader.prefix = f"partner[{index}] {partner_id!r}"
    return Partner(partner_id, reader.text("name"), frozenset(reader.countries("countries")),
                   reader.amounts("payment_order_limit"), reader.integer("equal_terms_months"),
                   reader.decimal("commission_after_pct"), reader.boolean("part_cases", False))


def _transport(table: object, problems: list[str]) -> dict[str, TransportChoice]:
    """``[transport]``: per party ``"local"``, or a table ``{ kind = "sftp", connection = "…", base_path = "…" }``."""
    reader = _Reader(table, "transport", problems)
    for party in reader.table:
        if party not in TRANSPORT_PARTIES:
            reader.problem(party, f"unknown party (known: {', '.join(TRANSPORT_PARTIES)})")
    choices = {}
    for party in TRANSPORT_PARTIES:
        value = reader.table.get(party, "local")
        party_reader = _Reader(value if isinstance(value, dict) else {"kind": value}, f"transport.{party}", problems)
        choice = TransportChoice(party_reader.text("kind", "local"), party_reader.text("connection", ""),
                                 party_reader.text("base_path", "").rstrip("/"))
        if choice.kind not in TRANSPORT_KINDS:
            party_reader.problem("kind", f"{choice.kind!r} must be one of {', '.join(TRANSPORT_KINDS)}")
        if choice.kind == "sftp" and not choice.connection:
            party_reader.problem("connection", "is required for sftp: the Airflow connection id of the server")
        if ".." in choice.base_path.split("/"):
            party_reader.problem("base_path", f"{choice.base_path!r} must not contain ..")
        choices[party] = choice
    return choices


def _array_of_tables(raw: dict, key: str, problems: list[str]) -> list:
    """``[[key]]`` entries; anything else is a problem, not a crash."""
    value = raw.get(key, [])
    if not isinstance(value, list):
        problems.append(f"{key}: must be an array of tables ([[{key}]]), not {type(value).__name__}")
        return []
    return value


def _fee_plan(name: str, table: dict, problems: list[str]) -> FeePlan:
    """Every key is required: a plan that left one out would charge a silent 0."""
    reader = _Reader(table, f"fee_plan.{name}", problems)
    pct = reader.subtable("success_fee_pct")
    if "success_fee_pct" in reader.table and "default" not in pct.table:
        pct.problem("default", "is required: the rate for debtors of the countries not named")
    return FeePlan(
        name=name,
        success_fee_pct={country: pct.decimal(country) for country in pct.table},
        aged_surcharge_pct=reader.decimal("aged_surcharge_pct"),
        aged_threshold_days=reader.integer("aged_threshold_days"),
        agency_keeps_interest_and_fees=reader.boolean("agency_keeps_interest_and_fees"),
        withdrawal_fee=reader.amounts("withdrawal_fee"),
        court_withdrawal_fee=reader.amounts("court_withdrawal_fee"),
        negative_net=reader.choice("negative_net", NEGATIVE_NET),
    )


def _creditor(table: dict, index: int, fee_plans: dict[str, FeePlan], problems: list[str]) -> Creditor:
    reader = _Reader(table, f"creditor[{index}]", problems)
    creditor_id = reader.folder_id("id", "creditor")
    reader.prefix = f"creditor[{index}] {creditor_id!r}"
    party = reader.party()
    currency = reader.text("currency")
    if currency and not is_currency(currency):
        reader.problem("currency", f"{currency!r} is not an ISO 4217 currency code")
    fee_plan = reader.text("fee_plan")
    if fee_plan and fee_plan not in fee_plans:
        reader.problem("fee_plan", f"unknown fee plan {fee_plan!r} (known: {', '.join(sorted(fee_plans)) or 'none'})")
    return Creditor(**party, id=creditor_id, currency=currency, fee_plan=fee_plan,
                    csv=_csv_layout(reader.table.get("csv", {}), f"{reader.prefix}.csv", problems),
                    xml=_xml_layout(reader.table.get("xml", {}), f"{reader.prefix}.xml", problems))


def _xml_layout(table: dict, prefix: str, problems: list[str]) -> XmlLayout:
    reader = _Reader(table, prefix, problems)
    layout = XmlLayout(debtor_type=reader.text("debtor_type", "business").lower())
    if layout.debtor_type not in DEBTOR_TYPES:
        reader.problem("debtor_type", f"{layout.debtor_type!r} must be one of {', '.join(DEBTOR_TYPES)}")
    return layout


def _csv_layout(table: dict, prefix: str, problems: list[str]) -> CsvLayout:
    reader = _Reader(table, prefix, problems)
    layout = CsvLayout(
        encoding=reader.text("encoding", "utf-8").lower().replace("windows-1252", "cp1252"),
        decimal=reader.text("decimal", "."),
        date_format=reader.text("date_format", "YYYY-MM-DD").upper(),
        columns={str(k).strip().lower(): str(v).strip().lower()
                 for k, v in _Reader(reader.table.get("columns", {}), f"{prefix}.columns", problems).table.items()},
    )
    if layout.encoding not in ENCODINGS:
        reader.problem("encoding", f"{layout.encoding!r} is not one of {', '.join(ENCODINGS)}")
    if layout.decimal not in (".", ","):
        reader.problem("decimal", f"{layout.decimal!r} must be \".\" or \",\"")
    if layout.date_format not in DATE_FORMATS:
        reader.problem("date_format", f"{layout.date_format!r} is not one of {', '.join(DATE_FORMATS)}")
    for theirs, ours in layout.columns.items():
        if ours not in CANONICAL_COLUMNS:
            reader.problem(f"columns.{theirs}", f"{ours!r} is not a canonical column")
    return layout
