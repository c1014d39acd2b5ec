"""HTTP for channels: one call, and every failure mapped to a DeliveryError a person can act on."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import requests

from mrm.errors import DeliveryError

DEFAULT_TIMEOUT = 10.0  # seconds to connect and to wait for each response


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
    """``what`` names the peer and action for messages, e.g. "Jira create issue in project MRM"."""
    try:
        resp = session.request(method, url, timeout=timeout, **kwargs)
    except requests.Timeout:
        raise DeliveryError(f"{what}: no answer from {url} within {timeout:g} s", transient=True) from None
    except requests.ConnectionError as exc:
        reason = str(exc.args[0] if exc.args else exc).splitlines()[0][:160]
        raise DeliveryError(f"{what}: cannot connect to {url} ({reason})", transient=True) from None
    if resp.status_code < 400:
        return resp
    detail = _peer_message(resp)
    status = f"HTTP {resp.status_code}" + (f": {detail}" if detail else "")
    if resp.status_code == 429 or resp.status_code >= 500:
        raise DeliveryError(
            f"{what}: {status}", transient=True, retry_after=retry_after(resp.headers.get("Retry-After"))
        )
    hint = {
        401: " (check the login and token of the Airflow connection)",
        403: " (the account lacks permission for this action)",
        404: " (check the URL and that the object exists)",
    }.get(resp.status_code, "")
    raise DeliveryError(f"{what}: {status}{hint}", transient=False)
