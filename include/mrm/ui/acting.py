"""Who acts on the desk, and where Airflow lets them. The page asks an :class:`Acting` (a FastAPI
dependency of each desk route, built from the request) for the person (as Airflow's auth manager names
them: never a name the client sends), the models whose monitoring DAG the auth manager lets them change
(``PUT`` on ``mrm_monitor__<model_id>``; a viewer may not), whether they may act on the portfolio
(``PUT`` on ``mrm_governance``), and the secret of the forms' tokens (:mod:`mrm.ui.csrf`). The rules of
``_policy.yaml``'s role map come on top (:mod:`mrm.ticketing.review`). The bare app (tests of the
reading pages, a local run) has nobody logged in: it shows no buttons and refuses every act."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Protocol


class Acting(Protocol):
    person: str | None  # None: nobody is logged in (no act is possible)
    secret: str  # the server secret the forms' tokens are keyed by (mrm.ui.csrf)

    def may_change(self, model_ids: Iterable[str]) -> set[str]:
        """The models of ``model_ids`` whose monitoring DAG the auth manager lets the person change."""
        ...

    def may_change_portfolio(self) -> bool:
        """Whether the auth manager lets the person change the governance DAG (attest the portfolio)."""
        ...


class Nobody:
    """No login: nobody acts (the app on its own)."""

    person = None

    def __init__(self) -> None:
        self.secret = os.urandom(32).hex()

    def may_change(self, model_ids: Iterable[str]) -> set[str]:
        return set()

    def may_change_portfolio(self) -> bool:
        return False


_NOBODY = Nobody()


def nobody() -> Acting:
    return _NOBODY
