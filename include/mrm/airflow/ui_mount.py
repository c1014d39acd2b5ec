"""An app as Airflow's api-server mounts it: behind Airflow's login, built on its first request.

Airflow imports plugin files in every process that loads plugins (scheduler, DAG processor, each task
process), but only the api-server serves the page. So the plugin registers :class:`LazyApp`, which imports
FastAPI, Airflow's security module (about a second) and the page's modules only when a request arrives.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class LazyApp:
    """An ASGI app that builds the real one on its first call."""

    def __init__(self, build: Callable[[], Any], name: str):
        self._build = build
        self._app: Any = None
        self._lock = threading.Lock()
        self.name = name

    def __repr__(self) -> str:  # Airflow lists plugin apps by str() (airflow plugins, /api/v2/plugins)
        return f"<{self.name}: {self._build.__module__}.{self._build.__name__}>"

    @property
    def app(self) -> Any:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    self._app = self._build()
        return self._app

    async def __call__(self, scope, receive, send) -> None:
        await self.app(scope, receive, send)


def behind_login(create_app: Callable[..., Any]) -> Any:
    """``create_app(dependencies=...)`` behind Airflow's login: anonymous requests get 401; a Bearer token
    or the UI's ``_token`` cookie works."""
    from airflow.api_fastapi.core_api.security import requires_authenticated
    from fastapi import Depends

    return create_app(dependencies=[Depends(requires_authenticated())])
