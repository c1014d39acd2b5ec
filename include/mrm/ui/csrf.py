"""The desk's forms carry a token that only the page can have made: ``<issued>.<HMAC>`` over the person
it was made for and when, keyed by a secret of the server (in Airflow: derived from ``[api_auth]
jwt_secret``, the key its logins are signed with, so every api-server worker checks the same). A POST is
accepted only with a token made for the same person within :data:`LIFETIME`; another site can make the
browser send Airflow's cookie, but not read a page to learn the token."""

from __future__ import annotations

import hashlib
import hmac
import time

LIFETIME = 12 * 3600  # seconds a form stays valid: a working day, then reload the page
FIELD = "csrf_token"  # the hidden field's name


def derive(secret: str) -> bytes:
    """The token key from a server secret, labelled so it never equals the secret itself."""
    return hmac.new(secret.encode(), b"mrm model risk desk: form tokens", hashlib.sha256).digest()


def _mac(key: bytes, person: str, issued: int) -> str:
    message = f"{issued}\0{person.strip().lower()}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def issue(secret: str, person: str, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    return f"{issued}.{_mac(derive(secret), person, issued)}"


def valid(secret: str, person: str, token: str | None, now: float | None = None) -> bool:
    """True when ``token`` was issued for ``person`` with this secret less than :data:`LIFETIME` ago."""
    issued, _, mac = (token or "").partition(".")
    if not issued.isdigit() or not mac:
        return False
    age = int(time.time() if now is None else now) - int(issued)
    return 0 <= age <= LIFETIME and hmac.compare_digest(mac, _mac(derive(secret), person, int(issued)))
