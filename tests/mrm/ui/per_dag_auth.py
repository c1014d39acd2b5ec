"""An auth manager that grants read access per DAG, for the authorization tests: Airflow's simple auth
manager (users, roles, tokens as usual) whose DAG permission is also limited to the DAG ids listed for
the user in ``[mrm_test] dag_grants`` (JSON ``{"user": ["dag_id", ...]}``; env
``AIRFLOW__MRM_TEST__DAG_GRANTS``). The simple auth manager itself grants DAGs by role only (a viewer
reads every DAG); FAB and Keycloak grant them per DAG, which is what this stands in for. Configured the
documented way: ``[core] auth_manager = per_dag_auth.PerDagAuthManager``."""

from __future__ import annotations

import json

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
from airflow.configuration import conf


class PerDagAuthManager(SimpleAuthManager):
    def is_authorized_dag(self, *, method, user, access_entity=None, details=None) -> bool:
        if not super().is_authorized_dag(
            method=method, user=user, access_entity=access_entity, details=details
        ):
            return False
        if self._is_admin(user):
            return True
        grants = json.loads(conf.get("mrm_test", "dag_grants", fallback="{}"))
        return details is not None and details.id in grants.get(user.get_name(), [])
