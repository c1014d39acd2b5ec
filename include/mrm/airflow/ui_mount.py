"""An app as Airflow's api-server mounts it: behind Airflow's login, built on its first request.

Airflow imports plugin files in every process that loads plugins (scheduler, DAG processor, each task
process), but only the api-server serves the page. So the plugin registers :class:`LazyApp`, which imports
FastAPI, Airflow's security module (about a second) and the page's modules only when a request arrives.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
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


MONITOR_DAG_PREFIX = "mrm_monitor__"  # dags/mrm_monitor.py: one DAG per model, mrm_monitor__<model_id>


def models_allowed(auth_manager: Any, user: Any, model_ids: Iterable[str], method: str) -> set[str]:
    """The models of ``model_ids`` whose monitoring DAG the auth manager lets ``user`` ``method``."""
    wanted = {MONITOR_DAG_PREFIX + m: m for m in model_ids}
    if not wanted:
        return set()
    allowed = auth_manager.filter_authorized_dag_ids(dag_ids=set(wanted), user=user, method=method)
    return {wanted[d] for d in allowed if d in wanted}


class DagAccess:
    """Which models a user may read, as Airflow's auth manager answers for their monitoring DAGs: a
    model is readable if the user may GET ``mrm_monitor__<model_id>`` (``filter_authorized_dag_ids``,
    which each auth manager implements: per DAG in FAB or Keycloak, per role in the simple one)."""

    def __init__(self, auth_manager: Any, user: Any):
        self._auth_manager, self._user = auth_manager, user

    def readable(self, model_ids: Iterable[str]) -> set[str]:
        return models_allowed(self._auth_manager, self._user, model_ids, "GET")


def dag_access() -> Callable[..., DagAccess]:
    """A FastAPI dependency: the request's :class:`DagAccess`, for the user of its Airflow token (the
    ``Authorization: Bearer`` header or the UI's ``_token`` cookie, validated by Airflow), never for a
    name the client sends."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import Depends

    def access(user: Any = Depends(get_user)) -> DagAccess:
        return DagAccess(get_auth_manager(), user)

    return access


GOVERNANCE_DAG = "mrm_governance"  # dags/mrm_governance.py: attesting the portfolio changes its review


class AirflowActing:
    """Who acts on the desk (:class:`mrm.ui.acting.Acting`), as Airflow's auth manager says: the person is
    the authenticated user's name; they may change a model's reviews where the auth manager lets them
    ``PUT`` its monitoring DAG (a viewer may not); the forms' tokens are keyed by ``[api_auth]
    jwt_secret`` (the key Airflow signs logins with, the same in every worker; mrm.ui.csrf derives its own
    key from it)."""

    def __init__(self, auth_manager: Any, user: Any, secret: str):
        self._auth_manager, self._user, self.secret = auth_manager, user, secret
        self.person = user.get_name()

    def may_change(self, model_ids: Iterable[str]) -> set[str]:
        return models_allowed(self._auth_manager, self._user, model_ids, "PUT")

    def may_change_portfolio(self) -> bool:
        allowed = self._auth_manager.filter_authorized_dag_ids(
            dag_ids={GOVERNANCE_DAG}, user=self._user, method="PUT"
        )
        return GOVERNANCE_DAG in allowed


def acting() -> Callable[..., AirflowActing]:
    """A FastAPI dependency: the request's :class:`AirflowActing`, for the user of its Airflow token."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.tokens import get_signing_key
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import Depends

    def acts(user: Any = Depends(get_user)) -> AirflowActing:
        return AirflowActing(get_auth_manager(), user, get_signing_key("api_auth", "jwt_secret"))

    return acts


def behind_login(create_app: Callable[..., Any]) -> Any:
    """``create_app(dependencies=..., access=...)`` behind Airflow's login and authorization: anonymous
    requests get 401 (a Bearer token or the UI's ``_token`` cookie works), and a user sees only the models
    whose monitoring DAG Airflow's auth manager lets them read, and acts on the desk as Airflow's user where
    the auth manager lets them change it (:class:`AirflowActing`)."""
    from airflow.api_fastapi.core_api.security import requires_authenticated
    from fastapi import Depends

    from mrm.airflow.run_notes import refresh_notes

    return create_app(
        dependencies=[Depends(requires_authenticated())],
        access=dag_access(),
        acting=acting(),
        on_attest=refresh_notes,  # the day's run notes in the Airflow grid say who reviewed it
    )
