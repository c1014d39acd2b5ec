"""Credentials for channels, only from Airflow connections (or the same AIRFLOW_CONN_* environment
variables Airflow reads), never from the inventory or logs.

A connection's URL keeps the scheme its author gave, with Airflow's conventions: a host that is a
full URL (``https://jira.example.com``), the scheme of an ``AIRFLOW_CONN_*`` URI
(``http://login:token@127.0.0.1:8080``), ``schema`` set to ``http`` or ``https`` (the Airflow UI's
field, as Airflow's HTTP hook reads it; any other schema is a path), or extra ``{"scheme": "http"}``.
Only when none of them says, the scheme is https. Plain http to a host other than loopback is refused
unless the connection's extra says ``{"allow_insecure_http": true}``: tokens would cross the network
in clear.
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from mrm.errors import ConfigError

URL_SCHEMES = ("http", "https")
INSECURE_FLAG = "allow_insecure_http"  # the connection's extra: plain http to a non-loopback host is meant


def flag(value: Any) -> bool:
    """A connection extra flag: JSON true, or "true"/"1"/"yes" from a URI query."""
    return value is True or str(value).strip().lower() in ("true", "1", "yes")


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Conn:
    conn_id: str
    conn_type: str | None = None
    host: str | None = None
    port: int | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)  # never printed
    schema: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    scheme: str | None = None  # the scheme of an AIRFLOW_CONN_* URI (http or https), when it had one

    def url(self, default_scheme: str = "https") -> str:
        """The base URL: host may be a full URL (https://jira.example.com) or a bare host name; the
        scheme is the one given (see the module docstring), else ``default_scheme``. Raises ConfigError
        for plain http to a non-loopback host unless the extra allows it."""
        host = self.host or ""
        if "://" in host:
            return self.checked(host.rstrip("/"))
        schema = (self.schema or "").strip("/")
        given = schema.lower() if schema.lower() in URL_SCHEMES else None
        scheme = given or self.extra.get("scheme") or self.scheme or default_scheme
        port = f":{self.port}" if self.port else ""
        path = f"/{schema}" if schema and not given else ""
        return self.checked(f"{scheme}://{host}{port}{path}")

    def checked(self, url: str) -> str:
        """``url`` if it is https, loopback, or allowed by the extra; else the one-line refusal."""
        parts = urlsplit(url)
        if (
            parts.scheme.lower() != "http"
            or is_loopback(parts.hostname or "")
            or flag(self.extra.get(INSECURE_FLAG))
        ):
            return url
        raise ConfigError(
            f"Airflow connection '{self.conn_id}' asks for plain http to {parts.hostname}, which would send "
            "its credentials unencrypted: write https (host https://..., or schema https), or set its extra "
            f'{{"{INSECURE_FLAG}": true}} if plain http is meant'
        )


def _from_uri(conn_id: str, uri: str) -> Conn:
    parts = urlsplit(uri)
    extra = dict(parse_qsl(parts.query))
    if "__extra__" in extra:
        extra = json.loads(extra["__extra__"])
    conn_type = parts.scheme.replace("-", "_") or None
    host = unquote(parts.hostname or "") or None
    # Airflow's convention for a URL host: http://...  is written as  http://host, or the host
    # itself carries a scheme when encoded (https%3A%2F%2Fjira.example.com)
    if parts.netloc and "%3A%2F%2F" in parts.netloc.upper():
        host = unquote(parts.netloc.rsplit("@", 1)[-1])
    return Conn(
        conn_id=conn_id,
        conn_type=conn_type,
        scheme=parts.scheme.lower() if parts.scheme.lower() in URL_SCHEMES else None,
        host=host,
        port=parts.port,
        login=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        schema=parts.path.lstrip("/") or None,
        extra=extra,
    )


def _from_json(conn_id: str, text: str) -> Conn:
    data = json.loads(text)
    extra = data.get("extra") or {}
    if isinstance(extra, str):
        extra = json.loads(extra) if extra.strip() else {}
    return Conn(
        conn_id=conn_id,
        conn_type=data.get("conn_type"),
        host=data.get("host"),
        port=int(data["port"]) if data.get("port") else None,
        login=data.get("login"),
        password=data.get("password"),
        schema=data.get("schema"),
        extra=extra,
    )


def _from_airflow(conn_id: str) -> Conn | None:
    """Airflow's own lookup (secrets backends, metadata DB) when running where Airflow is configured."""
    try:
        from airflow.sdk import BaseHook

        c = BaseHook.get_connection(conn_id)
    except Exception:
        return None
    return Conn(
        conn_id=conn_id,
        conn_type=c.conn_type,
        host=c.host,
        port=c.port,
        login=c.login,
        password=c.password,
        schema=c.schema,
        extra=c.extra_dejson,
    )


def get_connection(conn_id: str, purpose: str) -> Conn:
    """The connection ``conn_id``: AIRFLOW_CONN_<ID> (URI or JSON) first, then Airflow itself.
    ``purpose`` names what needs it, for the message when it is missing."""
    env = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if env:
        try:
            return _from_json(conn_id, env) if env.lstrip().startswith("{") else _from_uri(conn_id, env)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"AIRFLOW_CONN_{conn_id.upper()} is not a valid connection URI or JSON ({exc}); "
                f"it is needed for {purpose}"
            ) from None
    found = _from_airflow(conn_id)
    if found is None:
        raise ConfigError(
            f"no Airflow connection '{conn_id}' (needed for {purpose}): add it in Airflow "
            f"(Admin > Connections) or set AIRFLOW_CONN_{conn_id.upper()}"
        )
    return found
