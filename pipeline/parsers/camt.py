"""ISO 20022 bank files (formats.md §2): camt.053 statements and camt.054 debit/credit notifications,
versions .001.02 to .001.08, read into one `PaymentFile`, streamed entry by entry.

Elements are matched by their local names, so every version is read the same way; the namespace of the
root element (``urn:iso:std:iso:20022:tech:xsd:camt.053.001.NN``) says which message the file holds.

What an entry (``Ntry``) becomes:

- a booked credit entry is a payment; a batch entry with several transaction details (``NtryDtls/TxDtls``)
  is one payment per detail, and the details must add up to the entry (the file is rejected if they do not);
- a reversal (``RvslInd`` true) is a payment with ``reversal`` set and a negative amount, the reversed
  payment's money going back out. ISO books the reversal of a credit as a debit entry, yet some banks keep
  the original entry's ``CdtDbtInd``, so the indicator does not decide: reconciliation finds the original;
- a plain debit entry, an entry that is not booked (``PDNG``, ``INFO``) and a debit detail netted inside a
  credit batch are listed in ``ignored`` with the reason, never dropped.

The XML is untrusted: a DTD or entity declaration is refused before parsing (as `ubl` does), and the
parser loads no DTD, resolves no entity, uses no network and refuses huge trees.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from pathlib import Path

from lxml import etree

from pipeline.money import format_minor
from pipeline.parsers import FileRejected, check_size, refuse_declarations
from pipeline.parsers.payments import Ignored, Payment, PaymentFile, minor_amount

CAMT_NAMESPACE = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:camt\.(?P<message>05[34])\.001\.(?P<version>\d{2})$")
VERSIONS = range(2, 9)  # .001.02 to .001.08
# per source: the message element, the statement element within it, and what a statement is called
MESSAGES = {"camt.053": ("BkToCstmrStmt", "Stmt", "statement"),
            "camt.054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn", "notification")}
PARSER_OPTIONS = dict(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False,
                      dtd_validation=False, remove_comments=True, remove_pis=True)
ISO_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(T[0-9:.]+)?(Z|[+-]\d{2}:\d{2})?$")
NOT_BOOKED = {"PDNG": "pending, not booked yet", "INFO": "for information only, never booked"}


def read_camt(path: Path, max_bytes: int) -> PaymentFile:
    """Every entry of a camt.053 or camt.054 file, as payments or as an entry left with its reason.

    Raises FileRejected for the whole file: EMPTY_FILE, FILE_TOO_LARGE, BAD_XML (not well-formed, a DTD,
    a mandatory element missing), UNSUPPORTED_DOCUMENT (another message or version, statements of several
    accounts), DUPLICATE_STATEMENT, DUPLICATE_KEY, BAD_AMOUNT, BAD_CURRENCY, BAD_DATE."""
    check_size(path, max_bytes)
    refuse_declarations(path)
    with _rejecting_malformed_xml():
        reader = _CamtReader(_source(path))
        statement = _path(reader.statement_tag)
        with path.open("rb") as raw:
            for event, elem in etree.iterparse(raw, events=("start", "end"), tag=(statement, _path("Ntry")),
                                               **PARSER_OPTIONS):
                reader.feed(event, elem)
    return reader.finish()


@contextmanager
def _rejecting_malformed_xml() -> Iterator[None]:
    try:
        yield
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        if "Resource limit exceeded" in exc.msg:  # huge_tree is off: a text node over 10 MB, or nesting too deep
            raise FileRejected("FILE_TOO_LARGE", f"line {line}: a value or the nesting is beyond the XML "
                                                 "parser's safety limits (10 MB of text in one element)") from None
        problem = re.sub(r", line \d+, column \d+$", "", exc.msg)
        raise FileRejected("BAD_XML", f"the file is not well-formed XML: line {line}, column {column}: "
                                      f"{problem}") from None


def _source(path: Path) -> str:
    """"camt.053" or "camt.054", from the namespace of the root element (the first thing parsed)."""
    with path.open("rb") as raw:
        _event, root = next(iter(etree.iterparse(raw, events=("start",), **PARSER_OPTIONS)))
    name = etree.QName(root)
    match = CAMT_NAMESPACE.match(name.namespace or "")
    if not match:
        raise FileRejected("UNSUPPORTED_DOCUMENT", f"not an ISO 20022 camt.053 or camt.054 message: the root "
                                                   f"element is {name.localname} in namespace "
                                                   f"{name.namespace or '(none)'}")
    source = f"camt.{match['message']}"
    if int(match["version"]) not in VERSIONS:
        raise FileRejected("UNSUPPORTED_DOCUMENT", f"{source}.001.{match['version']} is not a version we read "
                                                   f"(.001.02 to .001.08)")
    return source


@dataclass(frozen=True)
class _Place:
    """Where an entry or a transaction detail stands in the file."""

    label: str       # "statement" or "notification"
    statement: str   # the statement's (notification's) Id
    entry: int       # 1.. within the statement
    detail: int = 0  # 1.. within a split batch entry; 0 for the entry itself

    def __str__(self) -> str:
        detail = f" detail {self.detail}" if self.detail else ""
        return f"{self.label} {self.statement} entry {self.entry}{detail}"

    @property
    def key(self) -> str:
        """The place as a payment key, for a payment the bank gave no reference of its own."""
        return "/".join([self.statement, str(self.entry)] + ([str(self.detail)] if self.detail else []))


class _CamtReader:
    """One pass over the file's statements (notifications) and their entries, each entry freed after use."""

    def __init__(self, source: str):
        self.message_tag, self.statement_tag, self.label = MESSAGES[source]
        self.file = PaymentFile(source=source, account="")
        self.statements = 0
        self.statement_id: str | None = None  # of the statement being read, once its header is read
        self.statement_ids: set[str] = set()
        self.entries = 0
        self.keys: set[str] = set()

    def feed(self, event: str, elem) -> None:
        if _local(elem.tag) == "Ntry":
            if event == "end":
                self._take_entry(elem)
        elif event == "start":
            self.statements += 1
            self.statement_id = None
            self.entries = 0
        else:
            if self.statement_id is None:
                self._open_statement(elem)
            self.statement_id = None
            _free(elem)

    def finish(self) -> PaymentFile:
        if not self.statements:
            raise FileRejected("BAD_XML", f"the {self.file.source} message holds no {self.label} "
                                          f"({self.message_tag}/{self.statement_tag})")
        return self.file

    def _open_statement(self, statement) -> None:
        """Read the statement's Id and account: its header, complete by its first entry (or its end)."""
        ident = _text(statement, "Id")
        if not ident:
            raise FileRejected("BAD_XML", f"{self.label} {self.statements} of the file has no Id")
        if ident in self.statement_ids:
            raise FileRejected("DUPLICATE_STATEMENT", f"{self.label} {ident} appears more than once in the file")
        account = _text(statement, "Acct/Id/IBAN") or _text(statement, "Acct/Id/Othr/Id")
        if not account:
            raise FileRejected("BAD_XML", f"{self.label} {ident} names no account (Acct/Id/IBAN or Acct/Id/Othr/Id)")
        if self.file.account and account != self.file.account:
            raise FileRejected("UNSUPPORTED_DOCUMENT", f"{self.label} {ident} is of account {account}, an earlier "
                                                       f"one of {self.file.account}: one account per file")
        self.file.account = account
        self.statement_ids.add(ident)
        self.statement_id = ident

    def _take_entry(self, ntry) -> None:
        statement = ntry.getparent()
        if statement is None or _local(statement.tag) != self.statement_tag:
            raise FileRejected("BAD_XML", f"an entry (Ntry) outside a {self.label} ({self.statement_tag})")
        if self.statement_id is None:
            self._open_statement(statement)
        self.entries += 1
        for item in _read_entry(ntry, _Place(self.label, self.statement_id, self.entries), self._unique):
            (self.file.payments if isinstance(item, Payment) else self.file.ignored).append(item)
        _free(ntry)

    def _unique(self, key: str, place: _Place) -> str:
        """``key``, or ``key@place`` when another payment of the file has it already (a bank may give two
        entries the same AcctSvcrRef): the bank's reference stays in front, the place makes it unique, and
        the same file always gives the same keys."""
        if key in self.keys:
            key = f"{key}@{place.key}"
            if key in self.keys:
                raise FileRejected("DUPLICATE_KEY", f"{place}: the payment key {key!r} is taken twice in the file")
        self.keys.add(key)
        return key


def _read_entry(ntry, place: _Place, unique: Callable[[str, _Place], str]) -> list[Payment | Ignored]:
    """The entry as payments, or as one entry left with its reason; ``unique`` makes a key unique in the file.

    The value date is ``ValDt``; an entry without one takes its booking date (``BookgDt``) as value date,
    since the money is at the account's disposal from its booking at the latest."""
    paths = _Paths(ntry)
    direction, reversal = paths.text("CdtDbtInd"), paths.text("RvslInd") in ("true", "1")
    reason = _why_not_a_payment(paths, direction, reversal, place)
    if reason:
        return [Ignored(str(place), reason)]
    amount, currency = _entry_amount(paths, place)
    booking_date = _date(paths, "BookgDt", place)
    value_date = _date(paths, "ValDt", place) or booking_date
    if value_date is None:
        raise FileRejected("BAD_DATE", f"{place}: neither a value date (ValDt) nor a booking date (BookgDt)")
    entry = _Entry(direction, -1 if reversal else 1, amount,
                   paths.text("AcctSvcrRef") or paths.text("NtryRef") or place.key, place,
                   dict(currency=currency, value_date=value_date, booking_date=booking_date, reversal=reversal))
    details = paths.all("NtryDtls/TxDtls")
    if len(details) <= 1:
        detail = paths.under("NtryDtls/TxDtls") if details else None
        return [entry.payment(unique(entry.key, place), amount, place, detail)]
    return _split(entry, [_Paths(detail) for detail in details], unique)


def _why_not_a_payment(ntry: _Paths, direction: str, reversal: bool, place: _Place) -> str:
    """The reason an entry is not a payment (nor a reversal of one), or "" when it is."""
    status = _status(ntry)
    if status != "BOOK":
        return f"status {status}: {NOT_BOOKED.get(status, 'not booked')}" if status else "no status (Sts)"
    if direction not in ("CRDT", "DBIT"):
        raise FileRejected("BAD_XML", f"{place}: CdtDbtInd {direction!r} is neither CRDT nor DBIT")
    if direction == "DBIT" and not reversal:
        return "debit entry (money out of the account)"
    return ""


@dataclass(frozen=True)
class _Entry:
    """What the payments of one entry share."""

    direction: str   # CRDT or DBIT
    sign: int        # -1 for a reversal
    amount: int      # the entry's amount in minor units, unsigned as written
    key: str         # the entry's key before it is made unique in the file
    place: _Place
    common: dict     # currency, value_date, booking_date, reversal

    def payment(self, key: str, amount: int, place: _Place, detail: _Paths | None) -> Payment:
        return Payment(key=key, amount_minor=self.sign * amount, position=str(place), **self.common,
                       **_described(detail))


def _split(entry: _Entry, details: list[_Paths], unique: Callable[[str, _Place], str]) -> list[Payment | Ignored]:
    """One payment per transaction detail of a batch entry. A detail's key is its own AcctSvcrRef, else the
    entry's key with the detail's position. A detail booked the other way than its entry (a fee netted in a
    credit batch, say) is left with its reason; what the details net to must be the entry's amount."""
    items: list[Payment | Ignored] = []
    net = 0
    for number, detail in enumerate(details, 1):
        at = replace(entry.place, detail=number)
        part = _detail_amount(detail, entry.common["currency"], at)
        direction = detail.text("CdtDbtInd") or entry.direction
        if direction == entry.direction:
            net += part
            key = detail.text("Refs/AcctSvcrRef") or f"{entry.key}/{number}"
            items.append(entry.payment(unique(key, at), part, at, detail))
        else:
            net -= part
            items.append(Ignored(str(at), f"detail booked {direction} inside a {entry.direction} batch entry: "
                                          "netted against it, not a payment"))
    if net != entry.amount:
        currency = entry.common["currency"]
        raise FileRejected("BAD_AMOUNT", f"{entry.place}: the details net to {format_minor(net, currency)} "
                                         f"{currency}, the entry is {format_minor(entry.amount, currency)} {currency}")
    return items


def _entry_amount(ntry: _Paths, place: _Place) -> tuple[int, str]:
    amount = ntry.first("Amt")
    if amount is None:
        raise FileRejected("BAD_AMOUNT", f"{place}: the entry has no amount (Amt)")
    currency = amount.get("Ccy")
    return minor_amount(amount.text, currency, str(place)), currency


def _detail_amount(detail: _Paths, currency: str, place: _Place) -> int:
    """A batch detail's amount, in the entry's currency (the account's): ``Amt``, else ``AmtDtls/TxAmt/Amt``."""
    amount = detail.first("Amt")
    if amount is None:
        amount = detail.first("AmtDtls/TxAmt/Amt")
    if amount is None:
        raise FileRejected("BAD_AMOUNT", f"{place}: no amount (Amt or AmtDtls/TxAmt/Amt), so the batch entry "
                                         "cannot be split into its payments")
    if amount.get("Ccy") != currency:
        raise FileRejected("BAD_CURRENCY", f"{place}: the amount is in {amount.get('Ccy')}, the entry in {currency}")
    return minor_amount(amount.text, currency, str(place))


def _status(ntry: _Paths) -> str:
    """``Sts`` as a code: its text up to .001.07, ``Sts/Cd`` (or ``Sts/Prtry``) from .001.08."""
    status = ntry.first("Sts")
    if status is None:
        return ""
    return (status.text or "").strip() or ntry.text("Sts/Cd") or ntry.text("Sts/Prtry")


def _date(ntry: _Paths, group: str, place: _Place) -> date | None:
    """The date of ``group`` (BookgDt, ValDt): its ``Dt``, else the day of its ``DtTm`` as the bank wrote it
    (the bank's own day, not moved to UTC); None when the group is absent."""
    text = ntry.text(f"{group}/Dt") or ntry.text(f"{group}/DtTm")
    if not text:
        return None
    day = _day(text)
    if day is None:
        raise FileRejected("BAD_DATE", f"{place}: {group} {text!r} is not a date")
    return day


@lru_cache(maxsize=4096)
def _day(text: str) -> date | None:
    """The day an ISO date or date-time begins with, None when it is not one (a file's entries share a few)."""
    match = ISO_DATE.match(text)
    try:
        return date.fromisoformat(match[1]) if match else None
    except ValueError:
        return None


def _described(detail: _Paths | None) -> dict[str, str]:
    """What a transaction detail tells of the payment: its references and its payer (``Dbtr``, whose name
    and address move into ``Dbtr/Pty`` from .001.08)."""
    if detail is None:
        return {}
    payer = next((detail.under(path) for path in ("RltdPties/Dbtr/Pty", "RltdPties/Dbtr") if detail.all(path)), None)
    references = detail.texts("RmtInf/Strd/CdtrRefInf/Ref") or detail.texts("RmtInf/Strd/CdtrRefInf/CdtrRef")
    described = dict(reference=references[0] if references else "", text=" ".join(detail.texts("RmtInf/Ustrd")))
    if payer is not None:
        described.update(payer_name=payer.text("Nm"), payer_address=_address(payer), payer_id=_party_id(payer))
    return described


def _address(party: _Paths) -> str:
    """``PstlAdr`` on one line: its address lines, else street, building number, post code and town."""
    if not party.all("PstlAdr"):
        return ""
    lines = party.texts("PstlAdr/AdrLine")
    if lines:
        return ", ".join(lines)
    street = " ".join(party.texts("PstlAdr/StrtNm") + party.texts("PstlAdr/BldgNb"))
    town = " ".join(party.texts("PstlAdr/PstCd") + party.texts("PstlAdr/TwnNm"))
    return ", ".join(part for part in (street, town) if part)


def _party_id(party: _Paths) -> str:
    """An organisation's other id (an organisation number, say), else a person's (a national id)."""
    return party.text("Id/OrgId/Othr/Id") or party.text("Id/PrvtId/Othr/Id")


class _Paths:
    """An element's descendants by the path of their local names (``A/B``), each path's in document order: one
    walk of an entry, then every question a dict lookup (an ElementPath with namespace wildcards costs
    microseconds, and an entry asks some twenty). ``under`` answers for the elements at a path below."""

    def __init__(self, elem, found: dict[str, list] | None = None, prefix: str = ""):
        self.prefix = prefix
        if found is None:
            found = {}
            _walk(elem, found)
        self.found = found

    def under(self, path: str) -> "_Paths":
        return _Paths(None, self.found, f"{self.prefix}{path}/")

    def all(self, path: str) -> list:
        return self.found.get(self.prefix + path, [])

    def first(self, path: str):
        found = self.found.get(self.prefix + path)
        return found[0] if found else None

    def text(self, path: str) -> str:
        found = self.found.get(self.prefix + path)
        return (found[0].text or "").strip() if found else ""

    def texts(self, path: str) -> list[str]:
        """The stripped, non-empty texts of every element at the path, in document order."""
        return [text for found in self.all(path) if (text := (found.text or "").strip())]


def _walk(elem, found: dict[str, list]) -> None:
    """Each descendant under the path of its parent's: one pass in document order, no recursion."""
    paths = {elem: ""}
    for child in elem.iterdescendants():
        tag = child.tag
        if isinstance(tag, str):   # not a comment or processing instruction
            path = paths[child.getparent()] + tag[tag.rfind("}") + 1:]
            paths[child] = path + "/"
            found.setdefault(path, []).append(child)


@lru_cache(maxsize=None)
def _path(local_names: str) -> str:
    """``A/B`` as an ElementPath matching A and B in any namespace (or none)."""
    return "/".join(f"{{*}}{name}" for name in local_names.split("/"))


def _text(elem, local_names: str) -> str:
    return (elem.findtext(_path(local_names)) or "").strip()


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _free(elem) -> None:
    """Drop a read element, and everything before it, from the tree being built."""
    elem.clear()
    while elem.getprevious() is not None:
        del elem.getparent()[0]
