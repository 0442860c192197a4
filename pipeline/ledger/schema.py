"""The ledger's tables (SQLAlchemy Core). Alembic migrations in `migrations/` create them.

Money columns end in ``_minor`` and hold integer minor units. Money moves only as
rows of ``postings`` (append-only, signed); a balance is a sum of postings.
Natural keys are unique constraints, so every write is idempotent by key:
files by (party, SHA-256), debtors by (creditor, debtor ref), documents by
(creditor, document type, number), at most one open case per (creditor, debtor, currency), payments by
(scheme, account, the bank's key), and exports by (kind, natural key) and by their name in their outbox.
"""
from __future__ import annotations

from sqlalchemy import (BigInteger, Boolean, Column, Date, DateTime, Float, ForeignKey, Index, Integer,
                        MetaData, String, Table, Text, UniqueConstraint, text)

from pipeline.ledger.postings import NAME_LENGTH

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

creditors = Table(
    "creditors", metadata,
    Column("id", String(40), primary_key=True),
    Column("name", Text, nullable=False),
    Column("vat_id", String(20), nullable=False),
    Column("country", String(2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("iban", String(34), nullable=False),
    Column("bic", String(11), nullable=False),
    Column("fee_plan", String(64), nullable=False),
)

ingested_files = Table(
    "ingested_files", metadata,
    Column("id", Integer, primary_key=True),
    Column("party_kind", String(20), nullable=False),     # whose inbox: creditor, bank, partner
    Column("party_id", String(40), nullable=False),       # the creditor's or partner's id; the bank's: "bank"
    Column("sha256", String(64), nullable=False),
    Column("file_name", Text, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("kind", String(20), nullable=False),           # the handler's: invoice_csv, instructions, ...
    Column("status", String(10), nullable=False),         # PROCESSED or REJECTED (file level)
    Column("rejection_code", String(32)),                 # REJECTED: the file-level code and why
    Column("rejection_message", Text),
    Column("received_at", DateTime, nullable=False),      # UTC; names the answer
    Column("as_of", Date, nullable=False),
    Column("run_id", Text, nullable=False),
    Column("rows_total", Integer, nullable=False, server_default=text("0")),
    Column("rows_accepted", Integer, nullable=False, server_default=text("0")),
    Column("cases_opened", Integer, nullable=False, server_default=text("0")),
    UniqueConstraint("party_kind", "party_id", "sha256"),
)

receipt_lines = Table(
    "receipt_lines", metadata,
    Column("file_id", ForeignKey("ingested_files.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),             # order in the receipt
    Column("line", Integer),                              # record number in the file, header = 1
    Column("invoice_number", Text),
    Column("outcome", String(32), nullable=False),
    Column("message", Text, nullable=False),
    Column("case_id", ForeignKey("cases.id")),
)

debtors = Table(
    "debtors", metadata,
    Column("id", Integer, primary_key=True),
    Column("creditor_id", ForeignKey("creditors.id"), nullable=False),
    Column("debtor_ref", String(64), nullable=False),
    Column("debtor_type", String(10), nullable=False),    # consumer | business
    Column("name", Text, nullable=False),
    Column("national_id", String(20)),
    Column("address_line1", Text, nullable=False),
    Column("address_line2", Text),
    Column("postcode", String(16), nullable=False),
    Column("city", Text, nullable=False),
    Column("country", String(2), nullable=False),
    Column("email", Text),
    Column("phone", String(20)),
    UniqueConstraint("creditor_id", "debtor_ref"),
)

cases = Table(
    "cases", metadata,
    Column("id", Integer, primary_key=True),              # ids are reserved in bulk: repository.reserve_ids
    Column("case_number", String(20), nullable=False, unique=True),
    Column("payment_reference", String(35), nullable=False, unique=True),
    Column("creditor_id", ForeignKey("creditors.id"), nullable=False),
    Column("debtor_id", ForeignKey("debtors.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("country", String(2), nullable=False),         # the debtor's: decides the jurisdiction
    Column("status", String(20), nullable=False),         # pipeline.case_states.STATES
    Column("status_before_dispute", String(20)),          # set while DISPUTED: the state RESUME returns to
    Column("opened_on", Date, nullable=False),
    Column("closed_on", Date),
    Column("file_id", ForeignKey("ingested_files.id"), nullable=False),
    Index("uq_cases_one_open", "creditor_id", "debtor_id", "currency", unique=True,
          sqlite_where=text("closed_on IS NULL"), postgresql_where=text("closed_on IS NULL")),
)

invoices = Table(
    "invoices", metadata,
    Column("id", Integer, primary_key=True),
    Column("creditor_id", ForeignKey("creditors.id"), nullable=False),
    Column("invoice_number", String(64), nullable=False),
    Column("document_type", String(12), nullable=False),  # invoice | credit_note
    Column("credited_invoice_id", ForeignKey("invoices.id")),
    Column("case_id", ForeignKey("cases.id"), nullable=False),
    Column("debtor_id", ForeignKey("debtors.id"), nullable=False),
    Column("invoice_date", Date, nullable=False),
    Column("due_date", Date),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reminders_sent", Integer, nullable=False),
    Column("last_reminder_date", Date),
    Column("reminder_fees_minor", BigInteger, nullable=False),
    Column("below_minimum", Boolean, nullable=False),
    Column("description", Text),
    Column("content_sha", String(64), nullable=False),    # DUPLICATE vs CONFLICT
    Column("file_id", ForeignKey("ingested_files.id"), nullable=False),
    Column("line", Integer, nullable=False),
    Column("disputed_since", Date),                       # set while the creditor disputes this claim
    Column("time_barred_on", Date),                       # the claim's time bar date, once the lifecycle found it past
    UniqueConstraint("creditor_id", "document_type", "invoice_number"),
    Index("ix_invoices_case_id", "case_id"),
)

postings = Table(
    "postings", metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False),
    Column("invoice_id", ForeignKey("invoices.id")),
    Column("kind", String(NAME_LENGTH), nullable=False),  # pipeline.ledger.postings.KINDS
    Column("amount_minor", BigInteger, nullable=False),   # signed as its kind says: + raises what is owed
    Column("currency", String(3), nullable=False),
    Column("booked_on", Date, nullable=False),            # the run's business date
    Column("value_date", Date, nullable=False),           # the day the money event took effect
    Column("settles", String(20)),                        # a payment's: the component it pays down
    Column("letter_id", ForeignKey("letters.id")),        # a charge's: the letter whose step charged it
    Column("payment_id", ForeignKey("payments.id")),      # an allocation's: the payment it allocates
    Column("file_id", ForeignKey("ingested_files.id")),
    Column("run_id", Text, nullable=False),
    Index("ix_postings_case_id", "case_id"),
    Index("ix_postings_invoice_id", "invoice_id"),
    Index("ix_postings_payment_id", "payment_id"),
)

letters = Table(
    "letters", metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False),
    Column("sequence", Integer, nullable=False),          # the case's n-th letter: letter_id is case number and n
    Column("letter_type", String(20), nullable=False),    # INKASSOVARSEL, INKASSOKRAV, RYKKER, PAMINNELSE
    Column("language", String(2), nullable=False),        # da, sv
    Column("sent_on", Date, nullable=False),
    Column("deadline", Date, nullable=False),
    Column("interest_rate_pct", String(12), nullable=False),  # the yearly rate in force on sent_on
    Column("currency", String(3), nullable=False),
    # what the letter says, as it was on sent_on, kept so that it renders to the same bytes forever: the
    # addressee, the creditor, the claims, how to pay, and what the ledger held for the letter's claims
    Column("debtor_name", Text, nullable=False),
    Column("debtor_address_line1", Text, nullable=False),
    Column("debtor_address_line2", Text),
    Column("debtor_postcode", String(16), nullable=False),
    Column("debtor_city", Text, nullable=False),
    Column("debtor_country", String(2), nullable=False),
    Column("debtor_email", Text),
    Column("creditor_name", Text, nullable=False),
    Column("claims", Text, nullable=False),               # the invoice numbers, |-separated
    Column("payment_reference", String(35), nullable=False),
    Column("pay_to_iban", String(34), nullable=False),
    Column("sender", Text, nullable=False),               # the agency: name, address, VAT id, one a line
    Column("posted_from", String(2), nullable=False),     # the agency's country: abroad, the address names the country
    Column("principal_minor", BigInteger, nullable=False),
    Column("interest_minor", BigInteger, nullable=False),
    Column("reminder_fees_minor", BigInteger, nullable=False),
    Column("collection_fees_minor", BigInteger, nullable=False),
    Column("compensation_minor", BigInteger, nullable=False),
    Column("payments_minor", BigInteger, nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("run_id", Text, nullable=False),
    UniqueConstraint("case_id", "sequence"),
    Index("ix_letters_sent_on", "sent_on"),
)

claim_steps = Table(
    "claim_steps", metadata,
    Column("invoice_id", ForeignKey("invoices.id"), primary_key=True),
    Column("step", String(20), primary_key=True),         # pipeline/rules/tables/process_steps.csv
    Column("repeat", Integer, primary_key=True),          # 1, 2, … for a step taken more than once
    Column("taken_on", Date, nullable=False),
    Column("letter_id", ForeignKey("letters.id")),        # the letter that took it (none: ready_for_court)
    Column("deadline", Date),
    Column("run_id", Text, nullable=False),
)

payments = Table(
    "payments", metadata,
    Column("id", Integer, primary_key=True),
    Column("scheme", String(12), nullable=False),          # whose keys: iso20022 (camt.053 and .054 alike), bgmax
    Column("account", String(40), nullable=False),         # the account credited: IBAN or bankgiro
    Column("bank_key", String(140), nullable=False),       # the bank's unique reference of the payment
    Column("source", String(12), nullable=False),          # camt.053, camt.054, bgmax: the file that told us first
    Column("amount_minor", BigInteger, nullable=False),    # a reversal is negative
    Column("currency", String(3), nullable=False),
    Column("value_date", Date, nullable=False),
    Column("booking_date", Date),
    Column("reference", Text, nullable=False),             # structured (FIK, OCR, RF) as written, or ""
    Column("remittance_text", Text, nullable=False),       # unstructured, or ""
    Column("payer_name", Text, nullable=False),
    Column("payer_address", Text, nullable=False),
    Column("payer_id", Text, nullable=False),
    Column("reversal", Boolean, nullable=False),
    Column("position", Text, nullable=False),              # where in its file
    Column("file_id", ForeignKey("ingested_files.id"), nullable=False),
    Column("run_id", Text, nullable=False),
    # what reconciliation made of it: matched (rule, case) and allocated, or parked (reason); judged_on is its
    # report's day, empty while it waits. Never changed once judged: an operator's work on a parked payment is
    # its resolution (resolved_*), on the report of the day it was done
    Column("judged_on", Date),
    Column("rule", String(20)),                            # REFERENCE, TEXT_REFERENCE, AMOUNT_AND_NAME, MANUAL
    Column("case_id", ForeignKey("cases.id")),
    Column("parked_reason", String(20)),                   # NO_REFERENCE, UNKNOWN_REFERENCE, AMBIGUOUS, ...
    Column("refund_due_minor", BigInteger, nullable=False, server_default=text("0")),
    Column("reverses_id", ForeignKey("payments.id")),      # a reversal: the payment it took back
    Column("resolved_on", Date),
    Column("resolved_case_id", ForeignKey("cases.id")),    # assigned to this case (MANUAL)
    Column("resolved_refund_minor", BigInteger, nullable=False, server_default=text("0")),
    Column("resolved_by", Text),
    Column("resolved_at", DateTime),
    Column("partner_commission_minor", BigInteger, nullable=False, server_default=text("0")),  # a remittance's
    UniqueConstraint("scheme", "account", "bank_key"),
    Index("ix_payments_judged_on", "judged_on"),
    Index("ix_payments_case_id", "case_id"),
)

bank_entries_left = Table(
    "bank_entries_left", metadata,                         # what a bank file holds that is not a payment in
    Column("file_id", ForeignKey("ingested_files.id"), primary_key=True),
    Column("position", Text, primary_key=True),
    Column("reason", Text, nullable=False),
)

handoff_weeks = Table(
    "handoff_weeks", metadata,                            # a week's cases were chosen: once
    Column("iso_week", String(8), primary_key=True),      # 2026-W50
    Column("run_id", Text, nullable=False),
)

handoffs = Table(
    "handoffs", metadata,                                 # a partner's batch of a week
    Column("id", Integer, primary_key=True),
    Column("partner_id", String(40), nullable=False),
    Column("iso_week", String(8), nullable=False),
    Column("handoff_date", Date, nullable=False),         # the week's Monday: amounts are brought to that day
    Column("run_id", Text, nullable=False),
    Column("marked_on", Date),                            # its cases became HANDED_OVER, once both files were out
    UniqueConstraint("partner_id", "iso_week"),
)

handoff_lines = Table(
    "handoff_lines", metadata,                            # the batch's lines as chosen: the files render from them
    Column("handoff_id", ForeignKey("handoffs.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False),
    Column("line", Text, nullable=False),                 # JSON of the columns of formats.md §3.1
)

handoff_cases = Table(
    "handoff_cases", metadata,
    Column("case_id", ForeignKey("cases.id"), primary_key=True),   # a case goes over once
    Column("handoff_id", ForeignKey("handoffs.id"), nullable=False),
)

handoff_refusals = Table(
    "handoff_refusals", metadata,                         # approved cases that stayed, and why, by week
    Column("iso_week", String(8), primary_key=True),
    Column("case_id", ForeignKey("cases.id"), primary_key=True),
    Column("creditor_id", ForeignKey("creditors.id"), nullable=False),
    Column("reasons", Text, nullable=False),              # |-separated, rules/court_eligibility.REASONS
)

settlement_weeks = Table(
    "settlement_weeks", metadata,                         # a week was settled: once, for every creditor
    Column("period", String(8), primary_key=True),        # 2026-W49
    Column("run_id", Text, nullable=False),
    Column("executes_on", Date, nullable=False),          # the payouts' execution date: the Tuesday after, or later
)

settlements = Table(
    "settlements", metadata,                              # one creditor's week in one currency
    Column("id", Integer, primary_key=True),
    Column("settlement_id", String(35), nullable=False, unique=True),   # the payout's end-to-end id
    Column("period", String(8), nullable=False),
    Column("creditor_id", ForeignKey("creditors.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("terms", Text, nullable=False),                # JSON: the fee plan as applied (rules/settlement.Terms)
    Column("parties", Text, nullable=False),              # JSON: the creditor and the agency as settled with
    Column("carried_in", BigInteger, nullable=False),     # a negative net of an earlier week, carried
    Column("net_payout", BigInteger, nullable=False),
    Column("outcome", String(10), nullable=False),        # PAYOUT, CARRIED, INVOICED, NIL
    Column("run_id", Text, nullable=False),
    UniqueConstraint("creditor_id", "currency", "period"),
)

settlement_lines = Table(
    "settlement_lines", metadata,                         # the lines as settled: the files render from them
    Column("settlement_id", ForeignKey("settlements.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False),
    Column("invoice_id", ForeignKey("invoices.id")),
    Column("payment_id", ForeignKey("payments.id")),
    Column("payment_date", Date, nullable=False),
    Column("source", String(8), nullable=False),          # bank, partner, direct, fee
    Column("allocated_principal", BigInteger, nullable=False),
    Column("allocated_interest", BigInteger, nullable=False),
    Column("allocated_fees", BigInteger, nullable=False),
    Column("allocated_costs", BigInteger, nullable=False),
    Column("creditor_share", BigInteger, nullable=False),
    Column("agency_share", BigInteger, nullable=False),
    Column("commission_rate", String(12), nullable=False),  # percent, as a decimal string
    Column("commission_base", BigInteger, nullable=False),
    Column("commission", BigInteger, nullable=False),
    Column("vat_rate", String(12), nullable=False),
    Column("vat", BigInteger, nullable=False),
    Column("partner_commission", BigInteger, nullable=False),
    Column("fees_due", BigInteger, nullable=False),
    Column("net_to_creditor", BigInteger, nullable=False),
)

settled_postings = Table(
    "settled_postings", metadata,                         # every posting a settlement took: each once
    Column("posting_id", ForeignKey("postings.id"), primary_key=True),
    Column("settlement_id", ForeignKey("settlements.id"), nullable=False),
)

lifecycle_runs = Table(
    "lifecycle_runs", metadata,
    Column("creditor_id", ForeignKey("creditors.id"), primary_key=True),
    Column("as_of", Date, primary_key=True),              # a day runs once per creditor; days run forward
    Column("run_id", Text, nullable=False),
)

case_events = Table(
    "case_events", metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False),
    Column("invoice_id", ForeignKey("invoices.id")),
    Column("kind", String(32), nullable=False),           # case_opened, claim_added, credit_note, case_closed,
                                                          # and the instructions' (case_states.TRANSITIONS)
    Column("on_date", Date, nullable=False),
    Column("file_id", ForeignKey("ingested_files.id")),
    Column("run_id", Text, nullable=False),
    Column("detail", Text),
    Index("ix_case_events_case_id", "case_id"),
)

inbox_sightings = Table(
    "inbox_sightings", metadata,
    Column("location", Text, primary_key=True),           # connection id and remote folder
    Column("name", Text, primary_key=True),
    Column("size_bytes", BigInteger, nullable=False),
    Column("mtime", BigInteger, nullable=False),          # the server's, in whole seconds
    Column("first_seen", Float, nullable=False),          # our clock (epoch seconds) when first seen so
)

exports = Table(
    "exports", metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(20), nullable=False),           # receipt, letters, court_handoff, settlement, ...
    Column("natural_key", String(200), nullable=False),   # what it is of: a file's id, a day, a partner's week, ...
    Column("party", String(20), nullable=False),          # the [transport] party it goes to: creditors, finance, ...
    Column("folder", Text, nullable=False),               # that party's outbox, e.g. creditors/acme/outbox
    Column("file_name", Text, nullable=False),
    Column("file_id", ForeignKey("ingested_files.id")),   # the file it answers, if any
    Column("as_of", Date, nullable=False),
    Column("run_id", Text, nullable=False),
    Column("sha256", String(64)),                         # of the bytes first delivered: every re-render must match
    Column("size_bytes", BigInteger),
    Column("delivered_at", DateTime),                     # UTC, the latest delivery
    UniqueConstraint("kind", "natural_key"),
    UniqueConstraint("folder", "file_name"),
)
