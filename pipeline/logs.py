"""Who owns the logging of a process: the command line its own, Airflow its tasks'.

`inkasso` is quiet in logs: warnings and errors on stderr, INFO only with ``-v``; stdout holds the
command's own output alone. Airflow, when first imported (the SFTP connection comes from it), replaces the
root logger's handlers with its own INFO handler on stdout: `kept` puts ours back after such an import.
Inside an Airflow task, Airflow is imported already and nothing changes.
"""
from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

FORMAT = "%(levelname)s %(name)s: %(message)s"


def configure(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr, format=FORMAT,
                        force=True)


@contextmanager
def kept() -> Iterator[None]:
    """The logging configuration (handlers, levels) of every logger, as it is now, after the block too."""
    manager = logging.root.manager
    loggers = [logging.root] + [logger for logger in manager.loggerDict.values() if isinstance(logger, logging.Logger)]
    saved = {logger: (logger.handlers[:], logger.level, logger.propagate, logger.disabled) for logger in loggers}
    try:
        yield
    finally:
        for logger in [logging.root] + [lg for lg in manager.loggerDict.values() if isinstance(lg, logging.Logger)]:
            handlers, level, propagate, disabled = saved.get(logger, ([], logging.NOTSET, True, False))
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate
            logger.disabled = disabled
