"""The day's letters typeset for the print-and-mail partner (formats.md §3.0): ``letters_<date>.pdf``, A4,
one letter starting on a new page, the debtor's address where a window envelope shows it (DIN 5008 form B:
20 mm from the left, 45 mm from the top), in the debtor's language (Danish for DK, Swedish for SE debtors).

Each letter says what is owed and why, by when, how to pay with the payment reference, and what happens
next, and is signed by the agency. It is written from the letter's own row, so a day's file renders to the
same bytes whenever it is rendered (fpdf2 with the DejaVu Sans font embedded, which has every Nordic
letter; the creation date is the day's date).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timezone
from pathlib import Path
from typing import BinaryIO

from fpdf import FPDF

from pipeline.exporters.letters import letter_id
from pipeline.money import format_minor

FONTS = Path(__file__).parent / "fonts"
COUNTRY_NAMES = {"DK": "DENMARK", "SE": "SWEDEN"}  # the destination's last line abroad (UPU: English will do)

TEXT = {
    "da": {
        "case": "Sag", "date": "Dato", "reference": "Betalingsreference", "claims": "Fakturaer",
        "principal": "Hovedstol", "interest": "Renter ({rate} % p.a.)", "reminder_fees": "Rykkergebyrer",
        "collection_fees": "Inkassoomkostninger", "compensation": "Kompensation", "payments": "Indbetalt",
        "total": "I alt at betale", "regards": "Med venlig hilsen",
        "pay": "Sådan betaler du: overfør beløbet til IBAN {iban}, og angiv betalingsreferencen {reference}, så "
               "betalingen bliver placeret på din sag.",
        "INKASSOVARSEL": ("Inkassovarsel",
                          "{creditor} har bedt os om at opkræve nedenstående beløb, som endnu ikke er betalt. "
                          "Betal venligst det samlede beløb senest den {deadline}. Betaler du inden fristen, "
                          "kommer der ingen yderligere omkostninger på sagen.",
                          "Er beløbet ikke betalt senest den {deadline}, sender vi et inkassokrav, og der pålægges "
                          "inkassoomkostninger efter de gældende regler. Har du indsigelser mod kravet, så kontakt "
                          "os inden fristen."),
        "INKASSOKRAV": ("Inkassokrav",
                        "Beløbet er ikke betalt inden fristen i vores inkassovarsel. Sagen er derfor overgået til "
                        "inkasso, og der er pålagt de omkostninger, loven tillader. Betal venligst det samlede "
                        "beløb senest den {deadline}.",
                        "Betaler du ikke, kan {creditor} lade sagen gå videre til fogedretten, hvilket medfører "
                        "yderligere omkostninger. Der løber renter, indtil beløbet er betalt."),
        "RYKKER": ("Rykker",
                   "Vi har endnu ikke modtaget betaling af nedenstående beløb. Betal venligst det samlede beløb "
                   "senest den {deadline}.",
                   "Betaler du ikke, kan sagen blive sendt til fogedretten, hvilket medfører yderligere "
                   "omkostninger. Der løber renter, indtil beløbet er betalt."),
    },
    "sv": {
        "case": "Ärende", "date": "Datum", "reference": "OCR-nummer", "claims": "Fakturor",
        "principal": "Kapitalbelopp", "interest": "Ränta ({rate} % per år)", "reminder_fees": "Påminnelseavgifter",
        "collection_fees": "Inkassoavgift", "compensation": "Förseningsersättning", "payments": "Inbetalt",
        "total": "Att betala", "regards": "Med vänliga hälsningar",
        "pay": "Så betalar du: betala till IBAN {iban} och ange OCR-numret {reference}, så att betalningen "
               "hamnar på ditt ärende.",
        "INKASSOKRAV": ("Inkassokrav",
                        "{creditor} har gett oss i uppdrag att driva in nedanstående belopp, som ännu inte har "
                        "betalats. Betala det totala beloppet senast den {deadline}.",
                        "Har du invändningar mot kravet ska du meddela oss före förfallodagen. Betalar du inte kan "
                        "ärendet lämnas till Kronofogden, vilket medför ytterligare kostnader. Ränta löper tills "
                        "beloppet är betalt."),
        "PAMINNELSE": ("Påminnelse",
                       "Vi har ännu inte fått betalt för nedanstående belopp. Betala det totala beloppet senast den "
                       "{deadline}.",
                       "Betalar du inte kan ärendet lämnas till Kronofogden, vilket medför ytterligare kostnader. "
                       "Ränta löper tills beloppet är betalt."),
    },
}
ROWS = ("principal", "interest", "reminder_fees", "collection_fees", "compensation")


def write_letters_pdf(sink: BinaryIO, day: date, letters: Iterable) -> None:
    """``letters``: the rows of the day's letters with their ``case_number``, in order."""
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_creation_date(datetime(day.year, day.month, day.day, tzinfo=timezone.utc))
    pdf.set_creator("inkasso-pipeline")
    pdf.set_producer("inkasso-pipeline")
    pdf.set_title(f"letters {day.isoformat()}")
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(auto=True, margin=20)
    for letter in letters:
        _letter(pdf, letter)
    if pdf.page_no() == 0:
        pdf.add_page()  # a day without letters still renders a valid file
    sink.write(bytes(pdf.output()))


def _letter(pdf: FPDF, letter) -> None:
    text = TEXT[letter.language]
    title, body, next_steps = text[letter.letter_type]
    fill = dict(creditor=letter.creditor_name, deadline=_date(letter.deadline, letter.language),
                iban=letter.pay_to_iban, reference=letter.payment_reference)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 10)
    sender, *sender_lines = letter.sender.split("\n")
    pdf.set_xy(20, 15)
    pdf.cell(0, 5, sender, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 8)
    for line in sender_lines:
        pdf.set_x(20)
        pdf.cell(0, 4, line, new_x="LMARGIN", new_y="NEXT")
    _address(pdf, letter)
    _facts(pdf, letter, text)
    pdf.set_xy(20, 100)
    pdf.set_font("DejaVu", "B", 16)
    pdf.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    _paragraph(pdf, body.format(**fill))
    _amounts(pdf, letter, text)
    _paragraph(pdf, text["pay"].format(**fill))
    _paragraph(pdf, next_steps.format(**fill))
    _paragraph(pdf, f"{text['regards']}\n{sender}")


def _address(pdf: FPDF, letter) -> None:
    abroad = letter.debtor_country != letter.posted_from
    lines = [letter.debtor_name, letter.debtor_address_line1, letter.debtor_address_line2 or "",
             f"{letter.debtor_postcode} {letter.debtor_city}",
             COUNTRY_NAMES.get(letter.debtor_country, letter.debtor_country) if abroad else ""]
    pdf.set_font("DejaVu", "", 11)
    pdf.set_xy(20, 50)
    for line in (line for line in lines if line):
        pdf.set_x(20)
        pdf.cell(85, 5.5, line, new_x="LMARGIN", new_y="NEXT")


def _facts(pdf: FPDF, letter, text: dict) -> None:
    facts = [(text["date"], _date(letter.sent_on, letter.language)), (text["case"], letter.case_number),
             ("", letter_id(letter.case_number, letter.sequence)), (text["reference"], letter.payment_reference)]
    pdf.set_font("DejaVu", "", 9)
    pdf.set_xy(125, 50)
    for label, value in facts:
        pdf.set_x(125)
        pdf.cell(38, 5, label)
        pdf.cell(0, 5, value, new_x="LMARGIN", new_y="NEXT")


def _amounts(pdf: FPDF, letter, text: dict) -> None:
    pdf.set_font("DejaVu", "", 10)
    pdf.set_x(20)
    pdf.multi_cell(170, 5.5, f"{text['claims']}: {', '.join(letter.claims.split('|'))}", align="L",
                   new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    rate = letter.interest_rate_pct.replace(".", ",")
    for name in ROWS:  # principal and interest always; a fee only when there is one
        amount = getattr(letter, f"{name}_minor")
        if amount or name in ("principal", "interest"):
            _amount_line(pdf, text[name].format(rate=rate), amount, letter)
    if letter.payments_minor:
        _amount_line(pdf, text["payments"], -letter.payments_minor, letter)
    pdf.set_font("DejaVu", "B", 10)
    _amount_line(pdf, text["total"], letter.total_minor, letter)
    pdf.ln(3)


def _amount_line(pdf: FPDF, label: str, minor: int, letter) -> None:
    pdf.set_x(20)
    pdf.cell(110, 6, label)
    pdf.cell(50, 6, f"{_money(minor, letter.currency, letter.language)} {letter.currency}", align="R",
             new_x="LMARGIN", new_y="NEXT")


def _paragraph(pdf: FPDF, text: str) -> None:
    pdf.set_font("DejaVu", "", 10)
    pdf.set_x(20)
    pdf.multi_cell(170, 5.5, text, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)


def _date(day: date, language: str) -> str:
    return day.strftime("%d.%m.%Y") if language == "da" else day.isoformat()


def _money(minor: int, currency: str, language: str) -> str:
    """1.234,50 (Danish) or 1 234,50 (Swedish)."""
    whole, _, fraction = format_minor(abs(minor), currency).partition(".")
    groups = f"{int(whole):,}".replace(",", "." if language == "da" else "\u00a0")
    return ("-" if minor < 0 else "") + groups + ("," + fraction if fraction else "")
