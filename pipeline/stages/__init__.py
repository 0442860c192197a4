"""The stages, one package or module each: what a DAG task or an `inkasso` command runs.

A stage is a handler for each file the intake takes (`pipeline.intake`), or a renderer for each export it
owes (`pipeline.exports`), plus the rules it asks. It takes plain arguments (settings, business date, run
id, a party) and returns a small result of counts, which goes into XCom unchanged. No stage imports Airflow.
"""
