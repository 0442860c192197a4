"""The Alembic migrations build exactly the tables `pipeline/ledger/schema.py` describes, on both databases."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pipeline.ledger.db import make_engine, migrate
from pipeline.ledger.schema import metadata


def test_the_migrated_ledger_matches_the_schema(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert [d for d in differences if not (isinstance(d, tuple) and d[0] == "remove_table"
                                           and d[1].name == "alembic_version")] == []


def test_a_ledger_with_data_migrates_and_its_disputed_cases_keep_their_claims_disputed(settings):
    """A ledger at 0002 (made by migrating a used ledger down) upgrades in place: nothing is lost, the
    foreign keys hold, and the claims of a case that was DISPUTED as a whole are disputed since then."""
    from datetime import date

    from alembic import command
    from sqlalchemy import func, select

    from pipeline.ledger.db import run_migration
    from pipeline.ledger.schema import case_events, cases, invoices, postings
    from tests.conftest import AS_OF, DATA, drop, run_ingest

    drop(settings, "acme", "cases.csv", DATA / "instructions" / "cases_acme.csv")
    drop(settings, "acme", "instructions.csv", "instruction,invoice_number,amount,date,note\n"
                                               "DISPUTE,A-3,,2026-11-20,\n")
    run_ingest(settings, AS_OF, "before")
    engine = make_engine(settings.database_url)
    tables = (invoices, cases, postings, case_events)

    def counts():
        with engine.connect() as conn:
            return [conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables]

    before = counts()
    run_migration(engine, lambda config: command.downgrade(config, "0002"))
    migrate(engine)
    assert counts() == before
    with engine.connect() as conn:
        disputed = dict(conn.execute(select(invoices.c.invoice_number, invoices.c.disputed_since)).all())
    engine.dispose()
    assert disputed == {"A-1": None, "A-2": None, "A-3": date(2026, 11, 20), "A-4": None, "A-5": None}


def test_a_ledger_before_0005_gets_value_dates_and_its_direct_payments_move_onto_claims(database_url):
    """Rows as the code before 0005 wrote them: a direct payment on the case, a withdrawal fee; the migration
    dates them by their events (the claims by their invoice dates) and spreads the payment over the claims,
    oldest due date first, fees first."""
    from datetime import date

    from alembic import command
    from sqlalchemy import select, text

    from pipeline.ledger.db import run_migration
    from pipeline.ledger.schema import postings

    engine = make_engine(database_url)
    run_migration(engine, lambda config: command.upgrade(config, "0004"))
    with engine.begin() as conn:
        for statement in (
            "INSERT INTO creditors VALUES ('acme', 'Acme ApS', 'DK13585628', 'DK', 'DKK', 'DK5000400440116243', "
            "'NDEADKKK', 'standard')",
            "INSERT INTO ingested_files (id, creditor_id, sha256, file_name, size_bytes, kind, status, received_at, "
            "as_of, run_id) VALUES (1, 'acme', 'a', 'claims.csv', 1, 'invoice_csv', 'PROCESSED', "
            "'2026-11-20 08:00:00', '2026-11-20', 'r1'), (2, 'acme', 'b', 'instructions.csv', 1, 'instructions', "
            "'PROCESSED', '2026-11-26 08:00:00', '2026-11-26', 'r2')",
            "INSERT INTO debtors (id, creditor_id, debtor_ref, debtor_type, name, address_line1, postcode, city, "
            "country) VALUES (1, 'acme', 'D1', 'consumer', 'Bo Berg', 'Vej 1', '2100', 'København', 'DK')",
            "INSERT INTO cases (id, case_number, payment_reference, creditor_id, debtor_id, currency, country, status, "
            "opened_on, file_id) VALUES (1, '10000001', '000000100000017', 'acme', 1, 'DKK', 'DK', 'WITHDRAWN', "
            "'2026-11-20', 1)",
            "INSERT INTO invoices (id, creditor_id, invoice_number, document_type, case_id, debtor_id, invoice_date, "
            "due_date, amount_minor, currency, reminders_sent, reminder_fees_minor, below_minimum, content_sha, "
            "file_id, line) VALUES "
            "(1, 'acme', 'LATE', 'invoice', 1, 1, '2026-06-01', '2026-06-30', 200000, 'DKK', 0, 0, false, 'x', 1, 2), "
            "(2, 'acme', 'EARLY', 'invoice', 1, 1, '2026-05-01', '2026-05-31', 100000, 'DKK', 1, 5000, false, 'y', 1, 3)",
            "INSERT INTO invoices (id, creditor_id, invoice_number, document_type, credited_invoice_id, case_id, "
            "debtor_id, invoice_date, amount_minor, currency, reminders_sent, reminder_fees_minor, below_minimum, "
            "content_sha, file_id, line) VALUES "
            "(3, 'acme', 'CN', 'credit_note', 1, 1, 1, '2026-07-15', 10000, 'DKK', 0, 0, false, 'z', 1, 4)",
            "INSERT INTO postings (case_id, invoice_id, kind, amount_minor, currency, booked_on, file_id, run_id) "
            "VALUES (1, 1, 'principal', 200000, 'DKK', '2026-11-20', 1, 'r1'), "
            "(1, 2, 'principal', 100000, 'DKK', '2026-11-20', 1, 'r1'), "
            "(1, 2, 'creditor_fee', 5000, 'DKK', '2026-11-20', 1, 'r1'), "
            "(1, 1, 'credit_note', -10000, 'DKK', '2026-11-20', 1, 'r1'), "
            "(1, NULL, 'direct_payment', -120000, 'DKK', '2026-11-26', 2, 'r2'), "
            "(1, NULL, 'withdrawal_fee', 25000, 'DKK', '2026-11-26', 2, 'r2')",
            "INSERT INTO case_events (case_id, kind, on_date, file_id, run_id) VALUES "
            "(1, 'paid_directly', '2026-11-18', 2, 'r2'), (1, 'withdrawn', '2026-11-19', 2, 'r2')",
        ):
            conn.execute(text(statement))
    migrate(engine)
    with engine.connect() as conn:
        rows = conn.execute(select(postings.c.invoice_id, postings.c.kind, postings.c.amount_minor,
                                   postings.c.settles, postings.c.value_date, postings.c.booked_on)
                            .order_by(postings.c.kind, postings.c.invoice_id, postings.c.settles)).all()
    engine.dispose()
    assert rows == [
        (1, "credit_note", -10000, None, date(2026, 7, 15), date(2026, 11, 20)),
        (2, "creditor_fee", 5000, None, date(2026, 5, 1), date(2026, 11, 20)),
        (1, "direct_payment", -15000, "principal", date(2026, 11, 18), date(2026, 11, 26)),
        (2, "direct_payment", -100000, "principal", date(2026, 11, 18), date(2026, 11, 26)),
        (2, "direct_payment", -5000, "reminder_fees", date(2026, 11, 18), date(2026, 11, 26)),
        (1, "principal", 200000, None, date(2026, 6, 1), date(2026, 11, 20)),
        (2, "principal", 100000, None, date(2026, 5, 1), date(2026, 11, 20)),
        (None, "withdrawal_fee", 25000, None, date(2026, 11, 19), date(2026, 11, 26))]


def test_a_ledger_before_0006_keeps_its_files_and_owes_each_file_its_receipt_under_the_name_it_had(settings):
    """Files taken by the code before 0006 (made here by migrating a used ledger down to 0005): after the
    upgrade each is a creditor's file, a rejection keeps its code and message on its record, and each owes
    its receipt under the name it was delivered with; one the outbox lost comes back byte for byte."""
    from alembic import command
    from sqlalchemy import select, text

    from pipeline.ledger.db import run_migration
    from pipeline.ledger.schema import exports, ingested_files
    from tests.conftest import AS_OF, drop, receipts, run_ingest

    drop(settings, "acme", "claims.csv", "invoice_number,invoice_date,due_date,amount,debtor_id,debtor_type,"
                                         "debtor_name,debtor_address_line1,debtor_postcode,debtor_city,"
                                         "debtor_country\nA-1,2026-05-01,2026-05-31,2000.00,D1,consumer,Jens,"
                                         "Vej 1,2100,København,DK\n")
    drop(settings, "acme", "empty.csv", b"")
    run_ingest(settings, AS_OF, "before")
    delivered = {path.name: path.read_bytes() for path in receipts(settings, "acme")}
    engine = make_engine(settings.database_url)
    run_migration(engine, lambda config: command.downgrade(config, "0005"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT creditor_id, file_name FROM ingested_files ORDER BY id")).all() == [
            ("acme", "claims.csv"), ("acme", "empty.csv")]
        assert conn.execute(text("SELECT line, outcome, message FROM receipt_lines WHERE seq = 0")).all() == [
            (None, "EMPTY_FILE", "the file is empty")]
    migrate(engine)
    with engine.connect() as conn:
        files = conn.execute(select(ingested_files.c.party_kind, ingested_files.c.party_id, ingested_files.c.status,
                                    ingested_files.c.rejection_code, ingested_files.c.rejection_message)
                             .order_by(ingested_files.c.id)).all()
        owed = conn.execute(select(exports.c.kind, exports.c.party, exports.c.folder, exports.c.file_name,
                                   exports.c.sha256).order_by(exports.c.id)).all()
    engine.dispose()
    assert files == [("creditor", "acme", "PROCESSED", None, None),
                     ("creditor", "acme", "REJECTED", "EMPTY_FILE", "the file is empty")]
    assert sorted(name for _, _, _, name, _ in owed) == sorted(delivered)
    assert {(kind, party, folder, sha) for kind, party, folder, _, sha in owed} == {
        ("receipt", "creditors", "creditors/acme/outbox", None)}

    for name in delivered:
        (settings.home / "creditors" / "acme" / "outbox" / name).unlink()
    drop(settings, "acme", "claims.csv", "invoice_number,invoice_date,due_date,amount,debtor_id,debtor_type,"
                                         "debtor_name,debtor_address_line1,debtor_postcode,debtor_city,"
                                         "debtor_country\nA-1,2026-05-01,2026-05-31,2000.00,D1,consumer,Jens,"
                                         "Vej 1,2100,København,DK\n")
    drop(settings, "acme", "empty.csv", b"")
    again = run_ingest(settings, AS_OF, "after")
    assert again.files_seen_before == 2
    assert {path.name: path.read_bytes() for path in receipts(settings, "acme")} == delivered


def test_0005_spreads_a_direct_payment_over_what_the_claims_owed_when_it_was_booked(database_url):
    """The code before 0005 let a credit note come after a direct payment: the payment stays where it was
    owed then (claim A), and one that a later credit note left larger than its claim does not stop the
    migration (case 2: the claim is overpaid, which its balance shows)."""
    from alembic import command
    from sqlalchemy import select, text

    from pipeline.ledger.balances import claim_balances
    from pipeline.ledger.db import run_migration
    from pipeline.ledger.postings import Component
    from pipeline.ledger.schema import postings

    engine = make_engine(database_url)
    run_migration(engine, lambda config: command.upgrade(config, "0004"))
    claim = ("INSERT INTO invoices (id, creditor_id, invoice_number, document_type, credited_invoice_id, case_id, "
             "debtor_id, invoice_date, due_date, amount_minor, currency, reminders_sent, reminder_fees_minor, "
             "below_minimum, content_sha, file_id, line) VALUES ")
    with engine.begin() as conn:
        for statement in (
            "INSERT INTO creditors VALUES ('acme', 'Acme ApS', 'DK13585628', 'DK', 'DKK', 'DK5000400440116243', "
            "'NDEADKKK', 'standard')",
            "INSERT INTO ingested_files (id, creditor_id, sha256, file_name, size_bytes, kind, status, received_at, "
            "as_of, run_id) VALUES (1, 'acme', 'a', 'f.csv', 1, 'invoice_csv', 'PROCESSED', '2026-11-20 08:00:00', "
            "'2026-11-20', 'r1')",
            "INSERT INTO debtors (id, creditor_id, debtor_ref, debtor_type, name, address_line1, postcode, city, "
            "country) VALUES (1, 'acme', 'D1', 'consumer', 'Bo', 'Vej 1', '2100', 'København', 'DK')",
            "INSERT INTO cases (id, case_number, payment_reference, creditor_id, debtor_id, currency, country, status, "
            "opened_on, closed_on, file_id) VALUES (1, '10000001', '000000100000017', 'acme', 1, 'DKK', 'DK', "
            "'CLOSED', '2026-11-20', '2026-11-20', 1), (2, '10000002', '000000100000025', 'acme', 1, 'DKK', 'DK', "
            "'CLOSED', '2026-11-20', '2026-11-20', 1)",
            claim + "(1, 'acme', 'A', 'invoice', NULL, 1, 1, '2026-05-01', '2026-05-31', 100000, 'DKK', 0, 0, false, "
                    "'a', 1, 2), (2, 'acme', 'B', 'invoice', NULL, 1, 1, '2026-06-01', '2026-06-30', 100000, 'DKK', "
                    "0, 0, false, 'b', 1, 3), (3, 'acme', 'C', 'invoice', NULL, 2, 1, '2026-05-01', '2026-05-31', "
                    "100000, 'DKK', 0, 0, false, 'c', 1, 4)",
            claim + "(4, 'acme', 'CN-A', 'credit_note', 1, 1, 1, '2026-07-01', NULL, 50000, 'DKK', 0, 0, false, 'd', "
                    "1, 5), (5, 'acme', 'CN-C', 'credit_note', 3, 2, 1, '2026-07-01', NULL, 100000, 'DKK', 0, 0, "
                    "false, 'e', 1, 6)",
            "INSERT INTO postings (case_id, invoice_id, kind, amount_minor, currency, booked_on, file_id, run_id) "
            "VALUES (1, 1, 'principal', 100000, 'DKK', '2026-11-20', 1, 'r1'), "
            "(1, 2, 'principal', 100000, 'DKK', '2026-11-20', 1, 'r1'), "
            "(1, NULL, 'direct_payment', -100000, 'DKK', '2026-11-20', 1, 'r1'), "
            "(1, 1, 'credit_note', -50000, 'DKK', '2026-11-20', 1, 'r1'), "
            "(2, 3, 'principal', 100000, 'DKK', '2026-11-20', 1, 'r1'), "
            "(2, NULL, 'direct_payment', -30000, 'DKK', '2026-11-20', 1, 'r1'), "
            "(2, 3, 'credit_note', -100000, 'DKK', '2026-11-20', 1, 'r1')",
        ):
            conn.execute(text(statement))
    migrate(engine)
    with engine.connect() as conn:
        paid = conn.execute(select(postings.c.invoice_id, postings.c.amount_minor, postings.c.settles)
                            .where(postings.c.kind == "direct_payment").order_by(postings.c.invoice_id)).all()
        owed = claim_balances(conn, [1, 2, 3])
    engine.dispose()
    assert paid == [(1, -100000, "principal"), (3, -30000, "principal")]
    assert [owed[claim].outstanding[Component.PRINCIPAL] for claim in (1, 2, 3)] == [-50000, 100000, -30000]
