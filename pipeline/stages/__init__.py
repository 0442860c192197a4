"""The stages, one package or module each: what a DAG task or an `inkasso` command runs.

A stage is a handler for each file the intake takes (`pipeline.intake`), or a renderer for each export it
owes (`pipeline.exports`), plus the rules it asks. It takes plain arguments (settings, business date, run
id, a party) and returns a small result of counts, which goes into XCom unchanged. No stage imports Airflow.
"""
import gc

# A stage holds up to millions of small objects (rows, balances, postings) that live to its end. With
# Python's default thresholds the collector scans them again and again while they pile up: about a tenth
# of a large reconciliation's time. Far rarer collections cost little memory and win most of that
# time back; the process (a command, a DAG task) runs stages only.
gc.set_threshold(50_000, 20, 100)
