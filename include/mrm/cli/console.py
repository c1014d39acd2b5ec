"""What the ``mrm`` command prints on stderr besides its own output: one line per problem, never twice.

- mrm's log records of WARNING and above become ``mrm: warning: <message>``, newlines folded, no
  traceback; the same text is printed once per command. ``mrm: error: <message>`` is only the line a
  command exits 1 with.
- A record the pipeline marks ``reraised`` (its could-not-run line, whose error the command prints
  itself) is not printed; :attr:`Console.reraised` keeps its text for an error that is not an MrmError.
- The outbox's line about undelivered notifications waits for the end of the command, which says it
  itself (``mrm run``: a warning; ``mrm notify daily``: the error it exits 1 with).
- Progress of long steps (logger ``mrm.progress``: a reference profile or the reference counts being
  built) is shown as plain lines only when stderr is a terminal; a pipe or a file gets none.
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

from mrm.core.progress import PROGRESS_LOGGER

LOGGERS = ("mrm", "py.warnings")
WARNINGS_LOGGER = "py.warnings"


class _OneLine(logging.Formatter):
    """``mrm: warning: <message>``, whatever the record's level: ``mrm: error:`` is kept for the one
    line a command exits 1 with (:meth:`Console.error`), so a script can tell the two apart."""

    def format(self, record: logging.LogRecord) -> str:
        return "mrm: warning: " + " ".join(record.getMessage().split())


def _deferred(record: logging.LogRecord) -> bool:
    """The outbox's line after a delivery pass that left items undelivered: every command that delivers
    says so itself (a warning, or the error it exits with), so it is printed at the end only if the
    command did not."""
    return record.name == "mrm.notify" and record.funcName == "deliver"


class Console(logging.Filter):
    """The filter of the command's stderr handler: drops re-raised and repeated records."""

    def __init__(self, stream) -> None:
        super().__init__()
        self.stream = stream
        self.seen: set[str] = set()
        self.reraised: str | None = None
        self.deferred: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        text = " ".join(record.getMessage().split())
        if getattr(record, "reraised", False):
            self.reraised = text
            return False
        if _deferred(record) and not getattr(record, "flushed", False):
            self.deferred.append(record)
            return False
        if text in self.seen:
            return False
        self.seen.add(text)
        return True

    def error(self, text: str) -> None:
        """The command's own ``mrm: error:`` line (what it exits 1 with), folded to one line."""
        text = " ".join(text.split())
        self.seen.add(text)
        print(f"mrm: error: {text}", file=self.stream)


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


def _progress(stream) -> logging.Handler | None:
    """Progress of long steps (logger ``mrm.progress``, INFO) on a terminal; nothing when the stream is
    a pipe or a file, so scripts see only results and problems."""
    isatty = getattr(stream, "isatty", None)
    if not (isatty and isatty()):
        return None
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(message)s"))
    lg = logging.getLogger(PROGRESS_LOGGER)
    lg.addHandler(handler)
    lg.setLevel(logging.INFO)
    return handler


@contextmanager
def console(stream=None) -> Iterator[Console]:
    """For the duration of one command: mrm's records and Python warnings as one line each on stderr."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(_OneLine())
    filt = Console(stream)
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
    progress = _progress(stream)
    try:
        yield filt
    finally:
        if progress is not None:
            logging.getLogger(PROGRESS_LOGGER).removeHandler(progress)
            logging.getLogger(PROGRESS_LOGGER).setLevel(logging.NOTSET)
        for record in filt.deferred:
            record.flushed = True
            handler.handle(record)
        warnings._showwarnmsg = shown  # type: ignore[attr-defined]
        for lg, level, propagate in before:
            lg.removeHandler(handler)
            lg.setLevel(level)
            lg.propagate = propagate
        if handler in logging.root.handlers:
            logging.root.removeHandler(handler)
            logging.root.setLevel(root_before[1])
