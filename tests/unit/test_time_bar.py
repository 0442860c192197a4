"""The time bar of a claim (`pipeline.rules.time_bar`; rules.md "Time bar watch"): DK forældelsesloven §§ 3
and 14 (3 years from the due date, renewed by a payment), SE preskriptionslag 2 and 5 §§ (10 years from the
claim's creation, 3 for a consumer, renewed by a written demand or reminder and by a payment)."""
from __future__ import annotations

from datetime import date

import pytest

from pipeline.rules import NoRuleInForce
from pipeline.rules.time_bar import rule_for, time_bar_date


def test_denmark_three_years_from_the_due_date_a_payment_starts_a_new_period_a_letter_does_not():
    rule = rule_for("DK", "consumer", date(2026, 4, 1))
    invoiced, due = date(2026, 4, 1), date(2026, 5, 1)
    assert time_bar_date(rule, invoiced, due) == date(2029, 5, 1)
    assert time_bar_date(rule, invoiced, due, [("letter", date(2027, 1, 10))]) == date(2029, 5, 1)
    assert time_bar_date(rule, invoiced, due, [("payment", date(2027, 1, 10)), ("letter", date(2028, 1, 1))]) == \
           date(2030, 1, 10)


@pytest.mark.parametrize("debtor_type, years", [("consumer", 3), ("business", 10)])
def test_sweden_from_the_invoice_date_renewed_by_our_letters_and_by_payments(debtor_type, years):
    rule = rule_for("SE", debtor_type, date(2026, 4, 1))
    invoiced, due = date(2026, 4, 1), date(2026, 5, 1)
    assert time_bar_date(rule, invoiced, due) == date(2026 + years, 4, 1)
    assert time_bar_date(rule, invoiced, due, [("letter", date(2026, 11, 26))]) == date(2026 + years, 11, 26)
    assert time_bar_date(rule, invoiced, due, [("letter", date(2026, 11, 26)), ("payment", date(2027, 2, 3))]) == \
           date(2027 + years, 2, 3)


def test_a_renewal_before_the_start_changes_nothing_and_a_leap_day_ends_on_28_february():
    rule = rule_for("DK", "business", date(2024, 1, 15))
    assert time_bar_date(rule, date(2024, 1, 15), date(2024, 2, 29), [("payment", date(2024, 2, 1))]) == \
           date(2027, 2, 28)


def test_no_rule_for_a_country_we_hold_none_for():
    with pytest.raises(NoRuleInForce, match="time_bar: no row for country=NO, debtor_type=consumer in force on"):
        rule_for("NO", "consumer", date(2026, 1, 1))
