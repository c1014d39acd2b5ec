"""What the ``mrm`` command prints on stderr besides its own output: one line per problem, never twice.

- mrm's log records of WARNING and above become ``mrm: warning: <message>`` (``error`` for ERROR),
  newlines folded, no traceback; the same text is printed once per command.
- A record the pipeline marks ``reraised`` (its could-not-run line, whose error the command prints
  itself) is not printed; :attr:`Console.reraised` keeps its text for an error that is not an MrmError.
- Python warnings (numpy's ``RuntimeWarning: overflow encountered ...``) become one
  ``mrm: warning: RuntimeWarning: <message>`` line each, once per message.

Airflow replaces ``warnings.showwarning`` and the root logger's handlers when it is first imported
(which ``mrm run`` does mid-command when it looks up a connection), so the console hooks the
``warnings`` module's ``_showwarnmsg`` (what the C implementation calls for every warning shown) and
gives the ``mrm`` and ``py.warnings`` loggers their own handler. Everything is put back when the
command ends. Outside the command (Airflow tasks) nothing here runs: warnings and the pipeline's lines
go to the task log as Airflow configures it.
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

LOGGERS = ("mrm", "py.warnings")
WARNINGS_LOGGER = "py.warnings"


class _OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = " ".join(record.getMessage().split())
        level = "error" if record.levelno >= logging.ERROR else "warning"
        return f"mrm: {level}: {text}"


class Console(logging.Filter):
    """The filter of the command's stderr handler: drops re-raised and repeated records."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()
        self.reraised: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        text = " ".join(record.getMessage().split())
        if getattr(record, "reraised", False):
            self.reraised = text
            return False
        if text in self.seen:
            return False
        self.seen.add(text)
        return True


def warn(text: str) -> None:
    """One ``mrm: warning:`` line, unless the same text was already printed in this command (e.g. by
    the outbox's own log line)."""
    logging.getLogger("mrm.cli").warning("%s", text)


def _log_warning(msg: warnings.WarningMessage) -> None:
    """``warnings._showwarnmsg``: a warning as one log line (category: message)."""
    if msg.file is not None:  # written to a file on purpose: leave it so
        warnings._showwarnmsg_impl(msg)  # type: ignore[attr-defined]
        return
    logging.getLogger(WARNINGS_LOGGER).warning("%s: %s", msg.category.__name__, msg.message)


@contextmanager
def console(stream=None) -> Iterator[Console]:
    """For the duration of one command: mrm's records and Python warnings as one line each on stderr."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(_OneLine())
    filt = Console()
    handler.addFilter(filt)
    before = [(lg, lg.level, lg.propagate) for lg in map(logging.getLogger, LOGGERS)]
    root_before = list(logging.root.handlers), logging.root.level
    shown = warnings._showwarnmsg  # type: ignore[attr-defined]
    for lg, _, _ in before:
        lg.addHandler(handler)
        lg.propagate = False
        if lg.level == logging.NOTSET or lg.level > logging.WARNING:
            lg.setLevel(logging.WARNING)
    if not logging.root.handlers:  # other libraries' warnings, the same way (until Airflow replaces it)
        logging.root.addHandler(handler)
        logging.root.setLevel(logging.WARNING)
    warnings._showwarnmsg = _log_warning  # type: ignore[attr-defined]
    try:
        yield filt
    finally:
        warnings._showwarnmsg = shown  # type: ignore[attr-defined]
        for lg, level, propagate in before:
            lg.removeHandler(handler)
            lg.setLevel(level)
            lg.propagate = propagate
        if handler in logging.root.handlers:
            logging.root.removeHandler(handler)
            logging.root.setLevel(root_before[1])
