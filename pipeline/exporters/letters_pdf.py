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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from fpdf import FPDF

from pipeline.exporters.letters import letter_id
from pipeline.money import minor_digits

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


def new_pdf(title: str, day: date, with_dejavu: bool = True) -> FPDF:
    """An A4 document dated ``day`` (never the clock: same bytes every time), with the DejaVu fonts embedded
    unless told otherwise."""
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_creation_date(datetime(day.year, day.month, day.day, tzinfo=timezone.utc))
    pdf.set_creator("inkasso-pipeline")
    pdf.set_producer("inkasso-pipeline")
    pdf.set_title(title)
    if with_dejavu:
        embed_fonts(pdf)
    return pdf


def embed_fonts(pdf: FPDF) -> None:
    """DejaVu Sans, regular and bold: every Nordic letter and far beyond."""
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))


def write_letters_pdf(sink: BinaryIO, day: date, letters: Iterable) -> None:
    """``letters``: the rows of the day's letters with their ``case_number``, in order."""
    pdf = new_pdf(f"letters {day.isoformat()}", day)
    page = Page(pdf)
    for letter in letters:
        _letter(page, letter)
    if pdf.page_no() == 0:
        pdf.add_page()  # a day without letters still renders a valid file
    sink.write(bytes(pdf.output()))


class Page:
    """Text set line by line at a cursor, with fpdf2's plain ``text`` (a day may hold hundreds of thousands
    of letters; its multi-cell machinery costs some 30 ms a letter). Paragraphs are wrapped here, word by
    word, with each word's width measured once; a letter that outgrows its page goes on to the next."""

    TOP, BOTTOM, LEFT, WIDTH = 20.0, 277.0, 20.0, 170.0

    def __init__(self, pdf: FPDF, family: str = "DejaVu"):
        self.pdf = pdf
        self.family = family
        self.y = self.TOP
        self.widths: dict[tuple[str, str, float, str], float] = {}

    def new_letter(self) -> None:
        self.pdf.add_page()

    def font(self, size: float, bold: bool = False, family: str | None = None) -> None:
        self.pdf.set_font(family or self.family, "B" if bold else "", size)

    def at(self, y: float) -> None:
        self.y = y

    def line(self, text: str, height: float, x: float | None = None, right: float | None = None) -> None:
        """One line whose baseline is ``height`` below the cursor, at ``x`` or ending at ``right``."""
        self.write(text, height, x, right)
        self.y += height

    def write(self, text: str, height: float, x: float | None = None, right: float | None = None) -> None:
        """The same without moving the cursor (the label and the amount of one line)."""
        if self.y + height > self.BOTTOM:
            self.pdf.add_page()
            self.y = self.TOP
        if right is not None:
            x = right - self.width(text)
        if text:
            self.pdf.text(self.LEFT if x is None else x, self.y + height * 0.75, text)

    def paragraph(self, text: str, height: float = 5.5, gap: float = 3.0) -> None:
        for line in self.wrap(text, self.WIDTH):
            self.line(line, height)
        self.y += gap

    def wrap(self, text: str, width: float) -> list[str]:
        lines = []
        space = self.width(" ")
        for paragraph in text.split("\n"):
            line, used = "", 0.0
            for word in paragraph.split(" "):
                word_width = self.width(word)
                if line and used + space + word_width > width:
                    lines.append(line)
                    line, used = word, word_width
                else:
                    line, used = (f"{line} {word}", used + space + word_width) if line else (word, word_width)
            lines.append(line)
        return lines

    def width(self, text: str) -> float:
        key = (self.pdf.font_family, self.pdf.font_style, self.pdf.font_size_pt, text)
        if key not in self.widths:
            if len(self.widths) > 100_000:
                self.widths.clear()  # names, references and amounts differ letter by letter
            self.widths[key] = self.pdf.get_string_width(text)
        return self.widths[key]


def _letter(page: Page, letter) -> None:
    text = TEXT[letter.language]
    title, body, next_steps = text[letter.letter_type]
    fill = dict(creditor=letter.creditor_name, deadline=_date(letter.deadline, letter.language),
                iban=letter.pay_to_iban, reference=letter.payment_reference)
    page.new_letter()
    sender, *sender_lines = letter.sender.split("\n")
    page.at(15)
    page.font(10, bold=True)
    page.line(sender, 5)
    page.font(8)
    for line in sender_lines:
        page.line(line, 4)
    _address(page, letter)
    _facts(page, letter, text)
    page.at(100)
    page.font(16, bold=True)
    page.line(title, 10)
    page.font(10)
    page.paragraph(body.format(**fill))
    _amounts(page, letter, text)
    page.paragraph(text["pay"].format(**fill))
    page.paragraph(next_steps.format(**fill))
    page.paragraph(f"{text['regards']}\n{sender}")


def _address(page: Page, letter) -> None:
    """In the window of a DIN 5008 form B envelope: 20 mm from the left, 45 mm from the top."""
    abroad = letter.debtor_country != letter.posted_from
    lines = [letter.debtor_name, letter.debtor_address_line1, letter.debtor_address_line2 or "",
             f"{letter.debtor_postcode} {letter.debtor_city}",
             COUNTRY_NAMES.get(letter.debtor_country, letter.debtor_country) if abroad else ""]
    page.font(11)
    page.at(50)
    for line in (line for line in lines if line):
        page.line(line, 5.5)


def _facts(page: Page, letter, text: dict) -> None:
    facts = [(text["date"], _date(letter.sent_on, letter.language)), (text["case"], letter.case_number),
             ("", letter_id(letter.case_number, letter.sequence)), (text["reference"], letter.payment_reference)]
    page.font(9)
    page.at(50)
    for label, value in facts:
        page.write(label, 5, x=125)
        page.line(value, 5, x=163)


def _amounts(page: Page, letter, text: dict) -> None:
    page.paragraph(f"{text['claims']}: {', '.join(letter.claims.split('|'))}", gap=1)
    rate = letter.interest_rate_pct.replace(".", ",")
    for name in ROWS:  # principal and interest always; a fee only when there is one
        amount = getattr(letter, f"{name}_minor")
        if amount or name in ("principal", "interest"):
            _amount_line(page, text[name].format(rate=rate), amount, letter)
    if letter.payments_minor:
        _amount_line(page, text["payments"], -letter.payments_minor, letter)
    page.font(10, bold=True)
    _amount_line(page, text["total"], letter.total_minor, letter)
    page.font(10)
    page.at(page.y + 3)


def _amount_line(page: Page, label: str, minor: int, letter) -> None:
    page.write(label, 6)
    page.line(f"{money_text(minor, letter.currency, letter.language)} {letter.currency}", 6, right=180)


def _date(day: date, language: str) -> str:
    return day.strftime("%d.%m.%Y") if language == "da" else day.isoformat()


# per language: what groups the whole units by three, and what stands before the minor digits
SEPARATORS = {"da": (".", ","), "sv": ("\u00a0", ",")}
ENGLISH_SEPARATORS = (",", ".")


def money_text(minor: int, currency: str, language: str) -> str:
    """1.234,50 (Danish), 1 234,50 (Swedish) or 1,234.50 (English): whole units grouped, then the currency's
    minor digits."""
    group, point = SEPARATORS.get(language, ENGLISH_SEPARATORS)
    digits = minor_digits(currency)
    whole, fraction = divmod(abs(minor), 10 ** digits)
    return ("-" if minor < 0 else "") + f"{whole:,}".replace(",", group) + (
        f"{point}{fraction:0{digits}d}" if digits else "")


def money_texts(minor: np.ndarray, currency: str, language: str) -> pa.Array:
    """`money_text` of a column of amounts, in Arrow compute: the same texts, no Python call per amount. The
    groups of three are put together from the lowest up, each padded with zeros while a higher one follows."""
    digits = minor_digits(currency)
    amounts = np.asarray(minor, dtype=np.int64)
    whole, fraction = np.divmod(np.abs(amounts), 10 ** digits)
    separator, point = SEPARATORS.get(language, ENGLISH_SEPARATORS)
    text, rest = _group(whole), whole // 1000
    while (rest > 0).any():
        text = pc.if_else(pa.array(rest > 0), pc.binary_join_element_wise(_group(rest), text, separator), text)
        rest = rest // 1000
    text = pc.if_else(pa.array(amounts < 0), pc.binary_join_element_wise("-", text, ""), text)
    if digits:
        text = pc.binary_join_element_wise(text, pc.utf8_lpad(_digits(fraction), digits, "0"), point)
    return text


def _group(whole: np.ndarray) -> pa.Array:
    """The lowest group of three digits of each number: zero-padded where a higher group follows."""
    group = _digits(whole % 1000)
    return pc.if_else(pa.array(whole >= 1000), pc.utf8_lpad(group, 3, "0"), group)


def _digits(numbers: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(numbers, pa.int64()), pa.string())
