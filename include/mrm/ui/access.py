"""Who may read which model. The page asks a :class:`ModelAccess` (a FastAPI dependency of each route,
built from the request) which of some models the user may read, and shows nothing of the others: not
in the portfolio, the breaches, their pages, CSVs or evidence; a forbidden model's page answers exactly
as an unknown model's does. In Airflow the answer comes from Airflow's auth manager: read access to the
model's monitoring DAG (:func:`mrm.airflow.ui_mount.dag_access`). The bare app (tests, a local run)
lets everyone read everything."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class ModelAccess(Protocol):
    def readable(self, model_ids: Iterable[str]) -> set[str]:
        """The models of ``model_ids`` the user may read."""
        ...


class Everyone:
    """No authorization: every model is readable (the app on its own, behind no login)."""

    def readable(self, model_ids: Iterable[str]) -> set[str]:
        return set(model_ids)


def everyone() -> ModelAccess:
    return Everyone()


def may_read(access: ModelAccess, model_id: str) -> bool:
    return model_id in access.readable([model_id])
