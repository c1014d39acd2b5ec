"""Credentials for channels, only from Airflow connections (or the same AIRFLOW_CONN_* environment
variables Airflow reads), never from the inventory or logs."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from mrm.errors import ConfigError


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

    def url(self, default_scheme: str = "https") -> str:
        """host may be a full URL (https://jira.example.com) or a bare host name."""
        host = self.host or ""
        if "://" in host:
            return host.rstrip("/")
        scheme = self.extra.get("scheme") or default_scheme
        port = f":{self.port}" if self.port else ""
        path = f"/{self.schema.strip('/')}" if self.schema else ""
        return f"{scheme}://{host}{port}{path}"


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
