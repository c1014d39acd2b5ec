"""One root exception; every error a person may read is one of these, with an actionable message."""

from __future__ import annotations


class MrmError(Exception):
    """Root of every error mrm raises on purpose. ``str(err)`` is one line a person can act on."""


class InventoryError(MrmError):
    """The model inventory is invalid or a model is not in it."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems) if len(problems) <= 3 else f"{len(problems)} problems")

    def lines(self) -> list[str]:
        return list(self.problems)


class SourceError(MrmError):
    """A scoring log or label source could not be read (missing, unreadable, wrong shape)."""


class NoDataError(SourceError):
    """The partition a run needs does not exist or holds no rows."""


class SchemaError(SourceError):
    """The data does not have the columns or types the inventory promises."""


class CheckError(MrmError):
    """A check could not be computed."""


class StoreError(MrmError):
    """The metrics history could not be read or written."""


class RunNotFoundError(StoreError):
    """A run id that the history does not hold."""


class ConfigError(MrmError):
    """A setting or Airflow connection mrm needs is missing or malformed."""


class DeliveryError(MrmError):
    """A ticket sink or alert channel did not accept a delivery.

    ``transient``: the peer may accept it later (5xx, 429, timeout, refused connection); the outbox
    retries it with backoff. Otherwise a person must fix something first (a 4xx such as an unknown Jira
    project): it is not retried within the pass, stays pending with its error (``mrm outbox``) and is
    tried again on the next pass. ``retry_after``: seconds the peer asked us to wait (HTTP 429/503
    Retry-After)."""

    def __init__(self, message: str, *, transient: bool, retry_after: float | None = None):
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after


class TicketNotFoundError(MrmError):
    """A ticket id that the built-in tracker does not hold."""


class EvidenceNotFoundError(MrmError):
    """No such evidence: not recorded, not a shared library file, or not readable where recorded."""


class EvidenceChangedError(MrmError):
    """The file at the recorded URI no longer has the recorded SHA-256."""


class BadRequestError(MrmError):
    """A query parameter the Model Risk page does not know; the message lists the valid values."""


class ReviewRefused(MrmError):
    """A review act the desk's rules refuse (:mod:`mrm.ticketing.review`); the one line names the person,
    the act, the model and what is needed."""


class NotPermittedError(ReviewRefused):
    """The person has no role on the model that allows the act (the role map of ``_policy.yaml``)."""


class SegregationOfDutiesError(ReviewRefused):
    """The act needs someone independent of the model: a reviewer who neither owns nor develops it."""


class ReviewTermsError(ReviewRefused):
    """The act is allowed to the person but not on these terms (no rationale, a date out of bounds, a
    ticket already closed)."""


class FindingNotFoundError(MrmError):
    """A finding id that the validation findings register does not hold."""


class FindingsImportError(MrmError):
    """A findings file with bad rows: one line per bad row, naming the file, the row and the field;
    nothing of the file was recorded."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems) if len(problems) <= 3 else f"{len(problems)} bad rows")

    def lines(self) -> list[str]:
        return list(self.problems)
