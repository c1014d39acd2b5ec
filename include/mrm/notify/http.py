"""HTTP for channels: one call, and every failure mapped to a DeliveryError a person can act on.

URLs are credentials often enough (a token in a webhook's path or query), so no message shows more of
a URL than ``scheme://host[:port]/…``: :func:`redact` is applied to every message :func:`call` raises,
and channels apply it to any other error text (SNS, Slack) before it reaches the outbox."""

from __future__ import annotations

import email.utils
import re
import time
from typing import Any
from urllib.parse import urlsplit

import requests

from mrm.errors import DeliveryError

DEFAULT_TIMEOUT = 10.0  # seconds to connect and to wait for each response
MIN_REDACTED = 4  # a shorter leftover of a URL's path or query reveals nothing
ELIDED = "/…"
ANY_URL = re.compile(r"""\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#'"<>]+[^\s'"<>]*""")
WITH_URL = re.compile(r"(with url: )\S+")  # urllib3's "Max retries exceeded with url: /path?query"
TRAILING = ")]}.,;:"  # punctuation after a URL in prose, given back after redaction
# requests' errors for a request that cannot be sent as written: a person must fix the URL or config
NOT_TRANSIENT = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
    requests.exceptions.TooManyRedirects,
    requests.exceptions.URLRequired,
)


def redact_url(url: str) -> str:
    """``scheme://host[:port]/…``: no login, password, path, query or fragment."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{host}{ELIDED}"


def _without(text: str, secret: str) -> str:
    """``text`` without ``secret``, even where a message cut it short (its longest prefix found)."""
    while len(secret) > MIN_REDACTED and secret not in text:
        secret = secret[:-1]
    return text.replace(secret, ELIDED) if len(secret) > MIN_REDACTED else text


def _url_match(match: re.Match) -> str:
    found = match.group()
    kept = found.rstrip(TRAILING)
    return redact_url(kept) + found[len(kept) :]


def redact(text: str, url: str | None = None) -> str:
    """``text`` with every URL cut to ``scheme://host[:port]/…``, urllib3's ``with url: /path`` cut to
    ``/…``, and the path and query of ``url`` (the request's) removed wherever they appear alone."""
    if url:
        parts = urlsplit(url)
        text = text.replace(url, redact_url(url))
        for secret in (f"{parts.path}?{parts.query}" if parts.query else "", parts.path, parts.query):
            text = _without(text, secret)
    text = ANY_URL.sub(_url_match, text)
    return WITH_URL.sub(lambda m: m.group(1) + ELIDED, text)


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: either delta-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _peer_message(resp: requests.Response) -> str:
    """Jira-style {"errorMessages": [...], "errors": {field: msg}} or the first 200 chars of the body."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200].strip()
    if isinstance(body, dict):
        parts = list(body.get("errorMessages") or [])
        parts += [f"{k}: {v}" for k, v in (body.get("errors") or {}).items()]
        if parts:
            return "; ".join(str(p) for p in parts)
        for key in ("message", "error", "detail"):
            if body.get(key):
                return str(body[key])
    return str(body)[:200]


def call(
    session: requests.Session,
    method: str,
    url: str,
    *,
    what: str,
    timeout: float = DEFAULT_TIMEOUT,
    **kwargs: Any,
) -> requests.Response:
    """``what`` names the peer and action for messages, e.g. "Jira create issue in project MRM".
    No message shows the URL's path or query (:func:`redact`)."""
    try:
        resp = session.request(method, url, timeout=timeout, **kwargs)
    except requests.RequestException as exc:
        raise _unsent(exc, url, what, timeout) from None
    if resp.status_code < 400:
        return resp
    raise _refused(resp, url, what)


def _unsent(exc: requests.RequestException, url: str, what: str, timeout: float) -> DeliveryError:
    """The DeliveryError for a request that got no HTTP answer (redacted)."""
    reason = str(exc.args[0] if exc.args else exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
    if isinstance(exc, requests.Timeout):
        message, transient = f"no answer from {url} within {timeout:g} s", True
    elif isinstance(exc, requests.ConnectionError):
        message, transient = f"cannot connect to {url} ({reason})", True
    elif isinstance(exc, NOT_TRANSIENT):
        message, transient = f"cannot send to {url} ({reason}): check the Airflow connection", False
    else:  # the answer broke off (ChunkedEncodingError, ContentDecodingError, ...): try again
        message, transient = f"the answer from {url} broke off ({reason})", True
    return DeliveryError(redact(f"{what}: {message}", url), transient=transient)


def _refused(resp: requests.Response, url: str, what: str) -> DeliveryError:
    """The DeliveryError of an HTTP error answer (4xx, 5xx), redacted."""
    detail = redact(_peer_message(resp), url)
    status = f"HTTP {resp.status_code}" + (f": {detail}" if detail else "")
    if resp.status_code == 429 or resp.status_code >= 500:
        return DeliveryError(
            f"{what}: {status}", transient=True, retry_after=retry_after(resp.headers.get("Retry-After"))
        )
    hint = {
        401: " (check the login and token of the Airflow connection)",
        403: " (the account lacks permission for this action)",
        404: " (check the URL and that the object exists)",
    }.get(resp.status_code, "")
    return DeliveryError(f"{what}: {status}{hint}", transient=False)
