"""The daily case lifecycle (`pipeline.stages.lifecycle`) on the ledger, on SQLite and PostgreSQL, with amounts
computed by hand from rules.md ("The collection process", "Interest", "Time bar watch").

The reference rates from 2026-07-01 on are not confirmed: each test supplies its own in rates.csv, as rules.md
asks (DK 1.60 and SE 1.75, so interest is 9.60 % and 9.75 % a year)."""
from __future__ import annotations

import csv
import io
import shutil
import tempfile
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import pypdf
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from pipeline.config import Settings
from pipeline.demo import REGISTRY as DEMO_REGISTRY
from pipeline.home import Home
from pipeline.ledger import open_ledger
from pipeline.ledger.schema import case_events, cases, claim_steps, invoices, letters, postings
from pipeline.stages import lifecycle
from pipeline.stages.lifecycle import RunsGoForward
from tests.conftest import AS_OF, REGISTRY, drop, run_ingest

RATES = ("country,valid_from,rate_pct,source\nDK,2026-07-01,1.60,test\nSE,2026-07-01,1.75,test\n"
         "DK,2027-01-01,1.60,test\nSE,2027-01-01,1.75,test\n")
HEADER = ("invoice_number,invoice_date,due_date,amount,currency,debtor_id,debtor_type,debtor_name,debtor_address_line1,"
          "debtor_postcode,debtor_city,debtor_country,reminder_fees,reminders_sent\n")


@pytest.fixture
def home(settings):
    (settings.home / "rates.csv").write_text(RATES, encoding="utf-8")
    return settings


def claims(home, creditor: str, *rows: str) -> None:
    drop(home, creditor, f"claims_{len(rows)}_{rows[0][:6]}.csv", HEADER + "".join(row + "\n" for row in rows))
    assert run_ingest(home, AS_OF, "ingest", creditor_id=creditor).rows_taken == len(rows)


def days(home, first: date, last: date, creditor: str | None = None) -> list[dict]:
    return [lifecycle.run(home, first + timedelta(days=n), f"day-{n}", creditor)
            for n in range((last - first).days + 1)]


@contextmanager
def reading(home):
    engine = open_ledger(home)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def posted(home, number: str) -> dict[str, int]:
    with reading(home) as conn:
        return dict(conn.execute(select(postings.c.kind, func.sum(postings.c.amount_minor))
                                 .join(invoices, invoices.c.id == postings.c.invoice_id)
                                 .where(invoices.c.invoice_number == number).group_by(postings.c.kind)).all())


def steps(home, number: str) -> list[tuple]:
    with reading(home) as conn:
        return [tuple(row) for row in conn.execute(
            select(claim_steps.c.step, claim_steps.c.repeat, claim_steps.c.taken_on, claim_steps.c.deadline)
            .join(invoices, invoices.c.id == claim_steps.c.invoice_id).where(invoices.c.invoice_number == number)
            .order_by(claim_steps.c.taken_on))]


def events(home, number: str) -> list[tuple]:
    with reading(home) as conn:
        return [tuple(row) for row in conn.execute(
            select(case_events.c.on_date, case_events.c.kind, case_events.c.detail)
            .join(invoices, invoices.c.case_id == case_events.c.case_id).where(invoices.c.invoice_number == number)
            .where(case_events.c.kind.not_in(["case_opened", "claim_added"])).order_by(case_events.c.id))]


def letter_file(home, day: date) -> list[dict]:
    path = home.home / "letters" / "outbox" / f"letters_{day.isoformat()}.csv"
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_a_danish_consumer_claim_through_the_whole_process(home):
    """2,000.00 DKK due 2026-10-01 with 100.00 of the creditor's reminder fees:
    - warning on 2026-11-26, deadline +10 = Sunday 2026-12-06 → Monday 12-07;
    - demand on 12-08 with Bilag 1 costs on 2,100.00 (the claim and the creditor's fees): 700.00;
    - reminders on 12-21 (12-07 + 14) and 2027-01-14, ready for court the day after the last deadline.
    Interest to 2026-12-08, the days 2026-10-01 … 12-07 (68) at 1.60 + 8 %: 2,000 × 0.096 × 68 / 365 = 35.77."""
    claims(home, "acme", "DK-1,2026-09-01,2026-10-01,2000.00,DKK,D1,consumer,Jens Hansen,Vej 1,2100,København Ø,DK,"
                         "100.00,1")
    days(home, AS_OF, date(2026, 12, 8))
    assert posted(home, "DK-1") == {"principal": 200000, "creditor_fee": 10000, "interest": 3577,
                                    "collection_fee": 70000}
    [letter] = letter_file(home, date(2026, 12, 8))
    assert {k: letter[k] for k in ("letter_type", "language", "sent_on", "deadline", "claims", "principal",
                                   "interest", "interest_rate_pct", "reminder_fees", "collection_fees",
                                   "compensation", "payments", "total", "currency")} == {
        "letter_type": "INKASSOKRAV", "language": "da", "sent_on": "2026-12-08", "deadline": "2026-12-18",
        "claims": "DK-1", "principal": "2000.00", "interest": "35.77", "interest_rate_pct": "9.60",
        "reminder_fees": "100.00", "collection_fees": "700.00", "compensation": "0.00", "payments": "0.00",
        "total": "2835.77", "currency": "DKK"}
    [page] = pypdf.PdfReader(home.home / "letters" / "outbox" / "letters_2026-12-08.pdf").pages
    text = page.extract_text()
    for said in ("Jens Hansen\nVej 1\n2100 København Ø\n", "Inkassokrav", "senest den\n18.12.2026",
                 "Hovedstol 2.000,00 DKK", "Renter (9,60 % p.a.) 35,77 DKK", "Rykkergebyrer 100,00 DKK",
                 "Inkassoomkostninger 700,00 DKK", "I alt at betale 2.835,77 DKK", "IBAN DK5000400440116243",
                 "betalingsreferencen " + letter["payment_reference"], "Med venlig hilsen\nNordisk Inkasso ApS"):
        assert said in text, said
    days(home, date(2026, 12, 9), date(2027, 2, 15))
    assert steps(home, "DK-1") == [
        ("warning", 1, date(2026, 11, 26), date(2026, 12, 7)), ("demand", 1, date(2026, 12, 8), date(2026, 12, 18)),
        ("reminder", 1, date(2027, 1, 1), date(2027, 1, 11)), ("reminder", 2, date(2027, 1, 25), date(2027, 2, 4)),
        ("ready_for_court", 1, date(2027, 2, 5), None)]
    assert [kind for _, kind, _ in events(home, "DK-1")] == [
        "letter_sent", "letter_sent", "fee_charged", "letter_sent", "letter_sent", "ready_for_court"]
    # interest to 2027-02-15: 2,000 × (0.096 × 92 + 0.096 × 45) / 365 = 72.07 (the half-years at the same rate)
    assert posted(home, "DK-1")["interest"] == 7207


def test_a_danish_business_pays_310_per_claim_and_bilag_1_as_consumers(home):
    claims(home, "acme", "B-1,2026-09-01,2026-10-01,4000.00,DKK,F1,business,Firma ApS,Gade 1,8000,Aarhus C,DK,,",
           "B-2,2026-09-05,2026-10-05,500.00,DKK,F1,business,Firma ApS,Gade 1,8000,Aarhus C,DK,,")
    days(home, AS_OF, date(2026, 12, 8))
    assert posted(home, "B-1")["collection_fee"] == 100000 and posted(home, "B-2")["collection_fee"] == 40000
    assert posted(home, "B-1")["compensation"] == posted(home, "B-2")["compensation"] == 31000
    [letter] = letter_file(home, date(2026, 12, 8))
    assert (letter["claims"], letter["collection_fees"], letter["compensation"]) == ("B-1|B-2", "1400.00", "620.00")


def test_a_deployment_may_take_bilag_1_once_on_the_total_of_the_claims_a_demand_names(home):
    """rules.md: ``collection_cost_basis = "case_total"`` charges Bilag 1 once on the claims that reach the demand
    together: 4,000.00 + 500.00 = 4,500.00 is the 2016 tier up to 5,000.00, 1,000.00 (per claim: 1,000 + 400)."""
    with home.registry_path.open("a", encoding="utf-8") as registry:
        registry.write('\n[lifecycle]\ncollection_cost_basis = "case_total"\n')
    claims(home, "acme", "T-1,2026-09-01,2026-10-01,4000.00,DKK,P1,consumer,Per Lund,Gade 1,8000,Aarhus C,DK,,",
           "T-2,2026-09-05,2026-10-05,500.00,DKK,P1,consumer,Per Lund,Gade 1,8000,Aarhus C,DK,,")
    days(home, AS_OF, date(2026, 12, 8))
    assert posted(home, "T-1")["collection_fee"] == 100000 and "collection_fee" not in posted(home, "T-2")
    [letter] = letter_file(home, date(2026, 12, 8))
    assert (letter["claims"], letter["collection_fees"]) == ("T-1|T-2", "1000.00")


def test_collection_cost_basis_is_claim_or_case_total(home):
    with home.registry_path.open("a", encoding="utf-8") as registry:
        registry.write('\n[lifecycle]\ncollection_cost_basis = "case"\n')
    with pytest.raises(Exception, match="lifecycle.collection_cost_basis: 'case' must be one of claim, case_total"):
        home.load_registry()


def test_sweden_180_once_per_demand_letter_450_per_business_claim_unless_already_charged(home):
    claims(home, "svea", "S-1,2026-09-01,2026-10-01,3000.00,SEK,C1,consumer,Eva Berg,Gata 1,11122,Stockholm,SE,,",
           "S-2,2026-09-02,2026-10-02,2000.00,SEK,C1,consumer,Eva Berg,Gata 1,11122,Stockholm,SE,,",
           "S-3,2026-09-03,2026-10-03,9000.00,SEK,B1,business,Bygg AB,Gata 2,21122,Malmö,SE,,",
           "S-4,2026-09-04,2026-10-04,9000.00,SEK,B2,business,Hus AB,Gata 3,21122,Malmö,SE,450.00,1")
    days(home, AS_OF, AS_OF)
    assert [posted(home, n).get("collection_fee", 0) for n in ("S-1", "S-2", "S-3", "S-4")] == [18000, 0, 0, 0]
    assert [posted(home, n).get("compensation", 0) for n in ("S-1", "S-2", "S-3", "S-4")] == [0, 0, 45000, 0]
    sent = letter_file(home, AS_OF)
    assert [(l["letter_type"], l["language"], l["claims"], l["deadline"]) for l in sent] == [
        ("INKASSOKRAV", "sv", "S-1|S-2", "2026-12-04"), ("INKASSOKRAV", "sv", "S-3", "2026-12-04"),
        ("INKASSOKRAV", "sv", "S-4", "2026-12-04")]


def test_every_letter_line_adds_up(home):
    claims(home, "acme", "A-1,2026-09-01,2026-10-01,2450.00,DKK,D1,consumer,Jens,Vej 1,2100,Kbh,DK,200.00,2",
           "A-2,2026-09-10,2026-10-10,1180.75,DKK,D1,consumer,Jens,Vej 1,2100,Kbh,DK,100.00,1")
    days(home, AS_OF, date(2026, 12, 8))
    for day in (AS_OF, date(2026, 12, 8)):
        for line in letter_file(home, day):
            parts = [int(line[k].replace(".", "")) for k in ("principal", "interest", "reminder_fees",
                                                              "collection_fees", "compensation")]
            assert sum(parts) - int(line["payments"].replace(".", "")) == int(line["total"].replace(".", ""))


def test_a_day_runs_once_and_days_run_forward(home):
    claims(home, "acme", "R-1,2026-09-01,2026-10-01,2000.00,DKK,D1,consumer,Jens,Vej 1,2100,Kbh,DK,,")
    first = lifecycle.run(home, AS_OF, "first")
    assert (first["letters"], first["interest_postings"], first["days_run_before"]) == (1, 1, 0)
    letters_before = (home.home / "letters" / "outbox" / f"letters_{AS_OF}.csv").read_bytes()
    again = lifecycle.run(home, AS_OF, "again")
    assert (again["letters"], again["interest_postings"], again["days_run_before"]) == (0, 0, 3)
    assert (home.home / "letters" / "outbox" / f"letters_{AS_OF}.csv").read_bytes() == letters_before
    lifecycle.run(home, AS_OF + timedelta(days=1), "next")
    with pytest.raises(RunsGoForward, match=r"^the lifecycle of acme ran for 2026-11-27 already; 2026-11-26 is "):
        lifecycle.run(home, AS_OF, "back")


def test_interest_waits_while_a_claim_is_disputed_and_comes_whole_when_it_is_lifted(home):
    claims(home, "acme", "D-1,2026-09-01,2026-10-01,3650.00,DKK,D1,consumer,Jens,Vej 1,2100,Kbh,DK,,")
    drop(home, "acme", "instructions_1.csv", "instruction,invoice_number\nDISPUTE,D-1\n")
    run_ingest(home, AS_OF, "dispute", creditor_id="acme")
    days(home, AS_OF, date(2026, 12, 1))
    assert "interest" not in posted(home, "D-1") and steps(home, "D-1") == []
    drop(home, "acme", "instructions_2.csv", "instruction,invoice_number\nRESUME,D-1\n")
    run_ingest(home, date(2026, 12, 2), "resume", creditor_id="acme")
    lifecycle.run(home, date(2026, 12, 2), "lifted")
    # 3,650 × 0.096 × 62 / 365 (2026-10-01 … 12-01) = 59.52
    assert posted(home, "D-1")["interest"] == 5952


def test_a_payment_with_an_earlier_value_date_posts_a_correction(home):
    """1,000.00 of 3,650.00 paid directly, dated 2026-11-01, told after interest was posted to 2026-11-30 (57.60 =
    3,650 × 0.096 × 60 / 365). The payment pays the claim's interest first (57.60), then 942.40 of principal
    (rules.md: costs, fees, interest, principal), so the interest to 2026-12-01 is
    (3,650 × 31 + 2,707.60 × 30) × 0.096 / 365 = 51.12, and 6.48 of what was posted is taken back."""
    claims(home, "acme", "P-1,2026-09-01,2026-10-01,3650.00,DKK,D1,consumer,Jens,Vej 1,2100,Kbh,DK,,")
    days(home, AS_OF, date(2026, 11, 30))
    assert posted(home, "P-1")["interest"] == 5760
    drop(home, "acme", "instructions_1.csv", "instruction,invoice_number,amount,date\n"
                                             "PAID_DIRECTLY,P-1,1000.00,2026-11-01\n")
    run_ingest(home, AS_OF, "paid", creditor_id="acme")
    lifecycle.run(home, date(2026, 12, 1), "after")
    assert posted(home, "P-1") == {"principal": 365000, "interest": 5760, "interest_correction": -648,
                                   "direct_payment": -100000}


def test_the_danish_time_bar_is_not_renewed_by_letters_and_stops_everything(home):
    """Due 2024-01-10: time-barred on 2027-01-10 whatever letters went out; flagged near on the first run (45
    days before); on the day itself the interest stops at the time bar and the case closes."""
    claims(home, "acme", "T-1,2023-12-10,2024-01-10,2000.00,DKK,D1,consumer,Jens,Vej 1,2100,Kbh,DK,,")
    lifecycle.run(home, AS_OF, "first")
    assert [kind for _, kind, _ in events(home, "T-1")] == ["time_bar_near", "letter_sent"]
    days(home, date(2027, 1, 9), date(2027, 1, 10))
    with reading(home) as conn:
        case = conn.execute(select(cases).join(invoices, invoices.c.case_id == cases.c.id)
                            .where(invoices.c.invoice_number == "T-1")).one()
        barred = conn.execute(select(invoices.c.time_barred_on).where(invoices.c.invoice_number == "T-1")).scalar()
    assert (case.status, case.closed_on, barred) == ("TIME_BARRED", date(2027, 1, 10), date(2027, 1, 10))
    # 2,000 × (0.1175 × 182 + 0.1150 × 184 + 0.1075 × 181 + 0.0975 × 184 + 0.0975 × 181 + 0.096 × 184) / 365
    # … is computed by pipeline.rules.interest (tested by hand there); here: it runs to the time bar, not past it
    from pipeline.rules.interest import InterestClaim, ReferenceRates, accrued
    whole = accrued(InterestClaim("DK", date(2024, 1, 10), ((date(2023, 12, 10), 200000),)), date(2027, 1, 10),
                    ReferenceRates.for_home(home.home))
    assert posted(home, "T-1")["interest"] == whole
    assert lifecycle.run(home, date(2027, 1, 11), "after")["interest_postings"] == 0


def test_a_swedish_letter_renews_the_time_bar(home):
    """Invoiced 2023-12-10 to a consumer: time-barred on 2026-12-10 without a letter; the demand of 2026-11-26
    starts a new period (preskriptionslag 5 §)."""
    claims(home, "svea", "T-2,2023-12-10,2024-01-10,2000.00,SEK,C1,consumer,Eva,Gata 1,11122,Stockholm,SE,,")
    lifecycle.run(home, AS_OF, "first")
    assert [kind for _, kind, _ in events(home, "T-2")] == ["time_bar_near", "letter_sent", "fee_charged"]
    lifecycle.run(home, date(2026, 12, 10), "later")
    assert "time_barred" not in [kind for _, kind, _ in events(home, "T-2")]


def test_a_claim_in_a_currency_the_law_does_not_set_its_fees_in_is_told_not_charged(home):
    claims(home, "acme", "E-1,2026-09-01,2026-10-01,2000.00,EUR,D1,consumer,Jens,Vej 1,2100,Kbh,DK,,")
    (home.home / "rates.csv").write_text(RATES, encoding="utf-8")
    days(home, AS_OF, date(2026, 12, 8))
    assert "collection_fee" not in posted(home, "E-1")
    assert events(home, "E-1")[-1][1:] == (
        "fee_not_charged", "no collection fee on invoice E-1: the law sets it in DKK, the claim is in EUR")


def test_the_status_file_tells_the_creditor_what_changed(home):
    claims(home, "acme", "ST-1,2026-09-01,2026-10-01,2000.00,DKK,D1,consumer,Jens,Vej 1,2100,Kbh,DK,,")
    days(home, AS_OF, date(2026, 12, 8))
    outbox = home.home / "creditors" / "acme" / "outbox"
    assert sorted(p.name for p in outbox.glob("status_*.csv")) == ["status_2026-11-26.csv", "status_2026-12-08.csv"]
    rows = list(csv.DictReader(io.StringIO((outbox / "status_2026-12-08.csv").read_text(encoding="utf-8"))))
    [row] = rows
    assert row["changes"] == "LETTER_SENT|FEE_CHARGED"
    assert row["detail"].startswith(f"INKASSOKRAV {row['case_number']}-002 for ST-1, deadline 2026-12-18; "
                                    "collection fee 700.00 DKK on invoice ST-1")


def test_sixty_daily_runs_post_the_interest_one_run_on_the_last_day_posts(home):
    """Over the demo's claims: every day from 2026-11-26 for 60 days, against one run on the 60th, per claim to
    the øre; and every letter of the daily runs exactly once."""
    from pipeline.demo import DEMO_FILES

    home.registry_path.write_text(DEMO_REGISTRY, encoding="utf-8")
    Home(home.home).create_party_folders(home.load_registry())
    homes = [home, fresh_home(DEMO_REGISTRY)]
    for each in homes:
        for creditor, (name, make) in DEMO_FILES.items():
            drop(each, creditor, name, make(AS_OF))
        run_ingest(each, AS_OF, "ingest")
    last = AS_OF + timedelta(days=59)
    days(homes[0], AS_OF, last)
    lifecycle.run(homes[1], last, "once")

    def interest(settings) -> dict[str, int]:
        with reading(settings) as conn:
            return dict(conn.execute(select(invoices.c.invoice_number, func.sum(postings.c.amount_minor))
                                     .join(invoices, invoices.c.id == postings.c.invoice_id)
                                     .where(postings.c.kind.in_(["interest", "interest_correction"]))
                                     .group_by(invoices.c.invoice_number)).all())

    daily, once = interest(homes[0]), interest(homes[1])
    assert daily == once and len(daily) == 9 and all(amount > 0 for amount in daily.values())
    with reading(homes[0]) as conn:
        sent = conn.execute(select(letters.c.case_id, letters.c.sequence, letters.c.letter_type, letters.c.sent_on)
                            ).all()
    assert len({(case, sequence) for case, sequence, _, _ in sent}) == len(sent)
    assert len({(case, kind, day) for case, _, kind, day in sent}) == len(sent)
    files = sorted((home.home / "letters" / "outbox").glob("letters_*.csv"))
    assert sum(len(letter_file(home, date.fromisoformat(p.stem.split("_")[1]))) for p in files) == len(sent)


def test_the_days_letters_are_typeset_one_a_page_and_come_back_byte_for_byte(home):
    claims(home, "acme", "L-1,2026-09-01,2026-10-01,2000.00,DKK,D1,consumer,Jens,Vej 1,2100,Kbh,DK,,")
    claims(home, "svea", "L-2,2026-09-01,2026-10-01,3000.00,SEK,C1,consumer,Eva,Gata 1,11122,Stockholm,SE,,")
    assert lifecycle.run(home, AS_OF, "day")["letter_files"] == ["letters_2026-11-26.csv", "letters_2026-11-26.pdf"]
    outbox = home.home / "letters" / "outbox"
    first = {path.name: path.read_bytes() for path in outbox.iterdir()}
    pages = [page.extract_text() for page in pypdf.PdfReader(outbox / "letters_2026-11-26.pdf").pages]
    assert [page.split("\n")[3] for page in pages] == ["Jens", "Eva"]          # the window envelope's first line
    assert ("Inkassovarsel" in pages[0], "Inkassokrav" in pages[1], "SWEDEN" in pages[1]) == (True, True, True)
    for path in outbox.iterdir():
        path.unlink()                                                      # the outbox lost them
    assert lifecycle.deliver_letters(home, AS_OF) == ["letters_2026-11-26.csv", "letters_2026-11-26.pdf"]
    assert {path.name: path.read_bytes() for path in outbox.iterdir()} == first


CAPS = {("DK", "consumer"): ("DKK", 0), ("DK", "business"): ("DKK", 31000), ("SE", "consumer"): ("SEK", 18000),
        ("SE", "business"): ("SEK", 45000)}


def fresh_home(registry: str = REGISTRY):
    """A new home on a new SQLite ledger, with the test rates."""
    root = Path(tempfile.mkdtemp(prefix="lifecycle-"))
    fresh = Settings(home=root / "home", database_url=f"sqlite:///{root / 'inkasso.db'}")
    Home(fresh.home).create()
    fresh.registry_path.write_text(registry, encoding="utf-8")
    (fresh.home / "rates.csv").write_text(RATES, encoding="utf-8")
    Home(fresh.home).create_party_folders(fresh.load_registry())
    return fresh


LAWFUL_FEES = {("DK", "consumer"): [0, 10000], ("DK", "business"): [0, 10000], ("SE", "consumer"): [0, 6000],
               ("SE", "business"): [0, 10000, 45000]}  # what a creditor may have charged before (admission)


@settings(max_examples=8, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(country=st.sampled_from(["DK", "SE"]), debtor_type=st.sampled_from(["consumer", "business"]),
       amount=st.integers(1, 60_000_000), fee_choice=st.integers(0, 2),
       gaps=st.lists(st.integers(1, 40), min_size=1, max_size=12))
def test_no_sequence_of_runs_charges_more_than_the_law_allows(country, debtor_type, amount, fee_choice, gaps):
    """Whatever days the lifecycle runs on, a claim is charged once, at its demand, at most: DK Bilag 1 on
    its principal and fees (and 310 DKK for a business), SE 180 SEK per demand letter for a consumer, 450 SEK
    for a business unless the creditor charged it. Each example is a fresh ledger (SQLite)."""
    from pipeline.rules.collection_costs import collection_costs

    home = fresh_home()
    currency, fixed = CAPS[(country, debtor_type)]
    creditor = "acme" if country == "DK" else "svea"
    lawful = LAWFUL_FEES[(country, debtor_type)]
    fees = lawful[fee_choice % len(lawful)]
    claims(home, creditor, f"H-1,2026-09-01,2026-10-01,{amount // 100}.{amount % 100:02d},{currency},H1,"
                           f"{debtor_type},N,Vej 1,2100,By,{country},{fees // 100}.00,1")
    day = AS_OF
    for gap in gaps:
        if day > date(2027, 6, 30):  # the last half-year the test rates cover
            break
        lifecycle.run(home, day, f"h-{day}", creditor)
        day += timedelta(days=gap)
    booked = posted(home, "H-1")
    cap = fixed
    if country == "DK":
        cap += collection_costs(amount + fees, "DKK", date(2026, 9, 1))
    elif debtor_type == "business" and fees >= 45000:
        cap = 0
    charged = booked.get("collection_fee", 0) + booked.get("compensation", 0)
    demanded = any(step == "demand" for step, *_ in steps(home, "H-1"))
    assert charged == (cap if demanded else 0)
    shutil.rmtree(home.home.parent, ignore_errors=True)
