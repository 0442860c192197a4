"""The week's payouts as ISO 20022 ``pain.001.001.09`` (formats.md §3.2): the agency pays each creditor the
positive net of its settlement, one credit transfer per creditor and currency, end-to-end id = settlement id.

The message is checked before a byte of it is written: every IBAN and BIC by schwifty (checksum, country
format, registry), then the whole document against the XSD shipped beside this module
(``xsd/pain.001.001.09.xsd``, copied unchanged from ../shared/samples with its line of SOURCES.tsv). A
payout that fails either is refused (`PayoutRefused`), and the file is not written.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import BinaryIO

from lxml import etree
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from pipeline.money import format_minor

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
XSD = Path(__file__).parent / "xsd" / "pain.001.001.09.xsd"


class PayoutRefused(ValueError):
    """A payout file that would not be accepted: a bad IBAN or BIC, or a document the XSD rejects."""


@dataclass(frozen=True)
class Account:
    name: str
    iban: str
    bic: str


@dataclass(frozen=True)
class Payout:
    end_to_end_id: str      # the settlement id
    amount_minor: int       # > 0
    currency: str
    creditor: Account
    remittance: str


def write_pain001(sink: BinaryIO, message_id: str, created_at: str, execution_date: str, debtor: Account,
                  payouts: Sequence[Payout]) -> None:
    """One payment information block per currency (the agency's account as debtor), each with its transfers
    in the order given; ``NbOfTxs`` and ``CtrlSum`` on the group and on every block."""
    for account in [debtor, *(payout.creditor for payout in payouts)]:
        check_account(account)
    if any(payout.amount_minor <= 0 for payout in payouts):
        raise PayoutRefused("a payout must be positive (a negative net is carried or invoiced, never paid)")
    document = etree.Element(f"{{{NAMESPACE}}}Document", nsmap={None: NAMESPACE})
    initiation = _sub(document, "CstmrCdtTrfInitn")
    header = _sub(initiation, "GrpHdr")
    _sub(header, "MsgId", message_id)
    _sub(header, "CreDtTm", created_at)
    _sub(header, "NbOfTxs", str(len(payouts)))
    _sub(header, "CtrlSum", str(_control_sum(payouts)))
    _sub(_sub(header, "InitgPty"), "Nm", debtor.name)
    for currency in sorted({payout.currency for payout in payouts}):
        _payment_information(initiation, f"{message_id}-{currency}", execution_date, debtor,
                             [payout for payout in payouts if payout.currency == currency])
    validate(document)
    sink.write(etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _payment_information(parent, block_id: str, execution_date: str, debtor: Account,
                         payouts: Sequence[Payout]) -> None:
    block = _sub(parent, "PmtInf")
    _sub(block, "PmtInfId", block_id)
    _sub(block, "PmtMtd", "TRF")
    _sub(block, "NbOfTxs", str(len(payouts)))
    _sub(block, "CtrlSum", str(_control_sum(payouts)))
    _sub(_sub(block, "ReqdExctnDt"), "Dt", execution_date)
    _sub(_sub(block, "Dbtr"), "Nm", debtor.name)
    _sub(_sub(_sub(block, "DbtrAcct"), "Id"), "IBAN", debtor.iban)
    _sub(_sub(_sub(block, "DbtrAgt"), "FinInstnId"), "BICFI", debtor.bic)
    for payout in payouts:
        transfer = _sub(block, "CdtTrfTxInf")
        _sub(_sub(transfer, "PmtId"), "EndToEndId", payout.end_to_end_id)
        amount = _sub(_sub(transfer, "Amt"), "InstdAmt", format_minor(payout.amount_minor, payout.currency))
        amount.set("Ccy", payout.currency)
        _sub(_sub(_sub(transfer, "CdtrAgt"), "FinInstnId"), "BICFI", payout.creditor.bic)
        _sub(_sub(transfer, "Cdtr"), "Nm", payout.creditor.name)
        _sub(_sub(_sub(transfer, "CdtrAcct"), "Id"), "IBAN", payout.creditor.iban)
        _sub(_sub(transfer, "RmtInf"), "Ustrd", payout.remittance)


def _control_sum(payouts: Sequence[Payout]) -> Decimal:
    """The sum of the amounts as decimals (the XSD's DecimalNumber), whatever their currencies."""
    return sum((Decimal(format_minor(p.amount_minor, p.currency)) for p in payouts), Decimal("0.00"))


def _sub(parent, name: str, text: str | None = None):
    element = etree.SubElement(parent, f"{{{NAMESPACE}}}{name}")
    if text is not None:
        element.text = text
    return element


def check_account(account: Account) -> None:
    try:
        IBAN(account.iban)
        BIC(account.bic)
    except SchwiftyException as error:
        raise PayoutRefused(f"{account.name}: IBAN {account.iban} / BIC {account.bic}: {error}") from None


@cache
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


def validate(document) -> None:
    schema = _schema()
    if not schema.validate(document):
        problems = "; ".join(f"line {e.line}: {e.message}" for e in list(schema.error_log)[:3])
        raise PayoutRefused(f"the payout file does not validate against pain.001.001.09: {problems}")
