"""The collection process as data (`pipeline.rules.process`; rules.md "The collection process"): which step a
claim takes on which day, and what each step charges."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from pipeline.rules.calendar import deadline
from pipeline.rules.process import Charge, Taken, charges_for, next_step, steps_for

TAKEN = date(2026, 11, 26)


def walk(country: str, days: list[date]) -> list[tuple[date, str, int, date | None]]:
    """Run the process on each of ``days``; a letter's deadline is its days later, on a banking day."""
    steps, history, taken = steps_for(country, TAKEN), [], []
    for day in days:
        found = next_step(steps, history, TAKEN, day)
        if found is not None:
            step = next(s for s in steps if s.name == found[0])
            due = deadline(day, step.deadline_days, country) if step.deadline_days else None
            history.append(Taken(*found, day, due))
            taken.append((day, *found, due))
    return taken


def every_day(start: date, end: date) -> list[date]:
    return [date.fromordinal(n) for n in range(start.toordinal(), end.toordinal() + 1)]


def test_denmark_warning_demand_two_reminders_then_ready_for_court():
    """Warning at once, deadline +10 (Sunday 2026-12-06 → Monday); the demand once that has passed; a reminder
    14 days after each last deadline (the first on New Year's Day: a holiday moves deadlines, not letters);
    ready for court the day after the second reminder's deadline."""
    assert walk("DK", every_day(TAKEN, date(2027, 3, 31))) == [
        (date(2026, 11, 26), "warning", 1, date(2026, 12, 7)), (date(2026, 12, 8), "demand", 1, date(2026, 12, 18)),
        (date(2027, 1, 1), "reminder", 1, date(2027, 1, 11)), (date(2027, 1, 25), "reminder", 2, date(2027, 2, 4)),
        (date(2027, 2, 5), "ready_for_court", 1, None)]


def test_sweden_demand_at_once_reminders_4_then_14_days_after_the_deadlines():
    assert walk("SE", every_day(TAKEN, date(2027, 2, 28))) == [
        (date(2026, 11, 26), "demand", 1, date(2026, 12, 4)), (date(2026, 12, 8), "reminder", 1, date(2026, 12, 16)),
        (date(2026, 12, 30), "reminder", 2, date(2027, 1, 7)), (date(2027, 1, 8), "ready_for_court", 1, None)]


def test_a_run_that_skips_days_takes_the_one_step_that_is_due():
    assert walk("DK", [TAKEN, date(2027, 3, 1), date(2027, 3, 2)]) == [
        (TAKEN, "warning", 1, date(2026, 12, 7)), (date(2027, 3, 1), "demand", 1, date(2027, 3, 11))]


def test_what_the_demand_charges():
    claim = date(2026, 5, 1)
    assert charges_for("DK", "consumer", "demand", claim) == (Charge("collection_fee", None, "DKK", "claim", None),)
    assert charges_for("DK", "business", "demand", claim) == (
        Charge("collection_fee", None, "DKK", "claim", None), Charge("compensation", Decimal("310.00"), "DKK", "claim",
                                                                     None))
    assert charges_for("SE", "consumer", "demand", claim) == (
        Charge("collection_fee", Decimal("180.00"), "SEK", "letter", None),)
    assert charges_for("SE", "business", "demand", claim) == (
        Charge("compensation", Decimal("450.00"), "SEK", "claim", Decimal("450.00")),)
    assert charges_for("DK", "consumer", "warning", claim) == charges_for("SE", "consumer", "reminder", claim) == ()
    # the Danish compensation (renteloven § 9 a) came in 2013: an older claim has none
    assert charges_for("DK", "business", "demand", date(2012, 6, 1)) == (
        Charge("collection_fee", None, "DKK", "claim", None),)
