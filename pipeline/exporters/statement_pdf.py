"""A creditor's settlement statement (formats.md §3.2): ``statement_<creditor>_<period>.pdf`` in its outbox, in
its language (Danish for DK, Swedish for SE creditors, else English), readable by its bookkeeper and valid as
the VAT receipt for our commission and fees: our name, address and VAT number; the creditor's; the date of
issue and a unique number (the settlement id); what we charged without VAT, the VAT rate and the VAT.

One section per currency: each payment line (case, claim, date, what was collected, our commission, the VAT,
what is the creditor's), then the totals and what happens to the net: paid to the creditor's account, carried
to next week, or to be paid by the creditor. Rendered from the settlement as recorded, dated its payout day,
so the same week renders the same bytes.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.exporters.letters_pdf import FONTS, Page, embed_fonts, money_text, money_texts, new_pdf

TEXT = {
    "da": dict(title="Afregning", period="Periode", issued="Udstedt", number="Afregningsnr.", vat_id="CVR/moms",
               case="Sag", claim="Faktura", date="Dato", source="Kilde", collected="Indbetalt", commission="Salær",
               vat="Moms", net="Til jer", sources=dict(bank="bank", partner="partner", direct="direkte", fee="gebyr"),
               principal="Indbetalt hovedstol", interest="Renter og gebyrer indbetalt", share="Jeres andel",
               commission_total="Salær ekskl. moms", fees_due="Gebyrer ekskl. moms", vat_total="Moms {rate} %",
               carried_in="Overført fra tidligere uger", net_total="Netto",
               partner="Til orientering: retspartneren beholdt {amount} af de indbetalinger, den opkrævede.",
               reverse_charge="Omvendt betalingspligt: køber afregner momsen (momssystemdirektivet art. 196).",
               PAYOUT="Beløbet udbetales til {iban} den {day}.",
               CARRIED="Beløbet overføres til næste uges afregning.",
               INVOICED="Beløbet betales til {agency_iban} senest den {due} med afregningsnummeret som reference.",
               NIL="Intet at udbetale.",
               receipt="Denne afregning er jeres momskvittering for salær og gebyrer."),
    "sv": dict(title="Redovisning", period="Period", issued="Utfärdad", number="Redovisningsnr", vat_id="Momsreg.nr",
               case="Ärende", claim="Faktura", date="Datum", source="Källa", collected="Inbetalt",
               commission="Provision", vat="Moms", net="Till er",
               sources=dict(bank="bank", partner="partner", direct="direkt", fee="avgift"),
               principal="Inbetalt kapitalbelopp", interest="Ränta och avgifter inbetalda", share="Er andel",
               commission_total="Provision exkl. moms", fees_due="Avgifter exkl. moms", vat_total="Moms {rate} %",
               carried_in="Överfört från tidigare veckor", net_total="Netto",
               partner="För kännedom: domstolspartnern behöll {amount} av de betalningar den drev in.",
               reverse_charge="Omvänd betalningsskyldighet: köparen redovisar momsen (mervärdesskattedirektivet "
                              "art. 196).",
               PAYOUT="Beloppet betalas ut till {iban} den {day}.",
               CARRIED="Beloppet förs över till nästa veckas redovisning.",
               INVOICED="Beloppet betalas till {agency_iban} senast den {due} med redovisningsnumret som referens.",
               NIL="Inget att betala ut.",
               receipt="Denna redovisning är ert momskvitto för provision och avgifter."),
    "en": dict(title="Settlement statement", period="Period", issued="Issued", number="Settlement no.",
               vat_id="VAT no.", case="Case", claim="Invoice", date="Date", source="Source", collected="Collected",
               commission="Commission", vat="VAT", net="To you",
               sources=dict(bank="bank", partner="partner", direct="direct", fee="fee"),
               principal="Principal collected", interest="Interest and fees collected", share="Your share",
               commission_total="Commission excl. VAT", fees_due="Fees excl. VAT", vat_total="VAT {rate} %",
               carried_in="Carried from earlier weeks", net_total="Net",
               partner="For your information: the court partner kept {amount} of the payments it collected.",
               reverse_charge="Reverse charge: the customer accounts for the VAT (VAT Directive art. 196).",
               PAYOUT="Paid to {iban} on {day}.", CARRIED="Carried to next week's settlement.",
               INVOICED="To be paid to {agency_iban} by {due} with the settlement number as reference.",
               NIL="Nothing to pay.", receipt="This statement is your VAT receipt for our commission and fees."),
}
LANGUAGE = {"DK": "da", "SE": "sv"}
TABLE = (("case", -10), ("claim", -20), ("date", -10), ("source", -8), ("collected", 13), ("commission", 11),
         ("vat", 10), ("net", 13))   # (heading, width in characters; negative: left-aligned) of the payment table
COLLECTED = ("allocated_principal", "allocated_interest", "allocated_fees", "allocated_costs")
INVOICE_DAYS = 8                     # an invoiced net is due this many days after the statement


@dataclass(frozen=True)
class Party:
    name: str
    address: str
    vat_id: str
    iban: str


def write_statement(sink: BinaryIO, period: str, issued_on: date, country: str, agency: Party, creditor: Party,
                    settlements: Sequence[dict], lines: pd.DataFrame) -> None:
    """``settlements``: the creditor's summary rows of the week (one per currency, each with its ``terms``);
    ``lines``: a frame of its lines."""
    lines = lines.assign(payment_date=lines["payment_date"].dt.strftime("%Y-%m-%d"))
    language = LANGUAGE.get(country, "en")
    text = TEXT[language]
    pdf = new_pdf(f"{text['title']} {period}", issued_on, with_dejavu=False)
    shown = [*vars(agency).values(), *vars(creditor).values(),
             *(lines[name].fillna("").astype(str).str.cat() for name in ("case_number", "invoice_number"))]
    if _latin1(shown):
        page, mono = Page(pdf, family="Helvetica"), "Courier"
    else:   # a name or number beyond Latin-1: the embedded fonts, slower to load but with every letter
        embed_fonts(pdf)
        pdf.add_font("DejaVuMono", "", str(FONTS / "DejaVuSansMono.ttf"))
        page, mono = Page(pdf), "DejaVuMono"
    page.new_letter()
    _parties(page, text, agency, creditor)
    for settlement in settlements:
        _section(page, mono, language, period, issued_on, settlement,
                 lines[lines["settlement_id"] == settlement["settlement_id"]], agency, creditor)
    page.font(9)
    page.paragraph(text["receipt"])
    sink.write(bytes(pdf.output()))


def _parties(page: Page, text: dict, agency: Party, creditor: Party) -> None:
    page.at(15)
    page.font(10, bold=True)
    page.line(agency.name, 5)
    page.font(8)
    page.line(agency.address, 4)
    page.line(f"{text['vat_id']} {agency.vat_id}", 4)
    page.at(45)
    page.font(11)
    for line in (creditor.name, *creditor.address.split(", "), f"{text['vat_id']} {creditor.vat_id}"):
        page.line(line, 5.5)


def _section(page: Page, mono: str, language: str, period: str, issued_on: date, settlement: dict,
             lines: pd.DataFrame, agency: Party, creditor: Party) -> None:
    text = TEXT[language]
    currency = settlement["currency"]
    money = lambda minor: money_text(minor, currency, language)  # noqa: E731
    page.at(max(page.y + 8, 85))
    page.font(16, bold=True)
    page.line(f"{text['title']} {period} ({currency})", 10)
    page.font(9)
    for label, value in ((text["number"], settlement["settlement_id"]), (text["period"], period),
                         (text["issued"], issued_on.isoformat())):
        page.write(label, 5)
        page.line(value, 5, x=60)
    page.at(page.y + 3)
    page.font(7.5, family=mono)
    page.line(_row([text[name] for name, _ in TABLE]), 4.5)
    for row in _table(lines, text, currency, language):
        page.line(row, 4.5)
    page.at(page.y + 3)
    page.font(9)
    vat_rate = settlement["terms"].vat_rate_pct
    rate = format(vat_rate.normalize(), "f")
    totals = [(text["principal"], settlement["collected_principal"]),
              (text["interest"], settlement["collected_interest"] + settlement["collected_fees"]),
              (text["share"], settlement["creditor_share"]),
              (text["commission_total"], -settlement["commission"]),
              (text["fees_due"], -settlement["fees_due"]),
              (text["vat_total"].format(rate=rate), -settlement["vat"])]
    if settlement["carried_in"]:
        totals.append((text["carried_in"], settlement["carried_in"]))
    for label, amount in totals:
        page.write(label, 5)
        page.line(f"{money(amount)} {currency}", 5, right=190)
    page.font(10, bold=True)
    page.write(text["net_total"], 6)
    page.line(f"{money(settlement['net_payout'])} {currency}", 6, right=190)
    page.font(9)
    page.paragraph(text[settlement["outcome"]].format(iban=creditor.iban, day=issued_on.isoformat(),
                                                      agency_iban=agency.iban,
                                                      due=(issued_on + timedelta(days=INVOICE_DAYS)).isoformat()))
    if not vat_rate:
        page.paragraph(text["reverse_charge"])
    kept = int(lines["partner_commission"].sum())
    if kept:
        page.paragraph(text["partner"].format(amount=f"{money(kept)} {currency}"))


def _row(cells: Sequence[str]) -> str:
    """One line of the table in the monospaced font: one text call a payment, whatever its number of columns."""
    texts = ("" if cell is None else str(cell) for cell in cells)
    return " ".join(cell[:-width].ljust(-width) if width < 0 else cell.rjust(width)
                    for cell, (_, width) in zip(texts, TABLE)).rstrip()


def _table(lines: pd.DataFrame, text: dict, currency: str, language: str) -> list[str]:
    """The payment table's rows as `_row` lays them out, built in columns: a week of a million lines is a
    handful of vectorised passes, then one text call a row. A fee has no claim: its cell is empty."""
    amounts = [lines[list(COLLECTED)].to_numpy(dtype=np.int64).sum(axis=1),
               *(lines[name].to_numpy(dtype=np.int64) for name in ("commission", "vat", "net_to_creditor"))]
    cells = [*(pa.array(lines[name], pa.string()) for name in ("case_number", "invoice_number", "payment_date")),
             pa.array(lines["source"].map(text["sources"]), pa.string()),
             *(money_texts(column, currency, language) for column in amounts)]
    padded = [pc.utf8_rpad(pc.utf8_slice_codeunits(cell, 0, -width), -width, " ") if width < 0
              else pc.utf8_lpad(cell, width, " ") for cell, (_, width) in zip(cells, TABLE)]
    joined = pc.binary_join_element_wise(*(pc.fill_null(cell, " " * abs(width))
                                           for cell, (_, width) in zip(padded, TABLE)), " ")
    return [row.rstrip() for row in joined.to_pylist()]


def _latin1(texts: Sequence[str]) -> bool:
    """Whether the PDF's built-in fonts (Helvetica, Courier: Latin-1, which has æ, ø, å, ä, ö) show them all:
    then no font file is parsed and embedded, which would cost a creditor's statement a third of a second."""
    try:
        "".join(texts).encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True
