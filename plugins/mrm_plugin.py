"""The "Model Risk" page in the Airflow UI: mrm's FastAPI app (mrm.ui.app) mounted at /model-risk behind
Airflow's login, a top-level nav entry, and a "Model Risk" tab on every DAG that opens the page of the
model the DAG monitors. The app is built on its first request (mrm.airflow.ui_mount), so importing this
file stays cheap in the scheduler and in task processes."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from mrm.airflow.ui_mount import LazyApp, behind_login
from mrm.ui import URL_PREFIX


def airflow_app():
    """The Model Risk page (mrm.ui.app) behind Airflow's login."""
    from mrm.ui.app import create_app

    return behind_login(create_app)


class MrmModelRiskPlugin(AirflowPlugin):
    name = "mrm_model_risk"
    fastapi_apps = [  # noqa: RUF012 - the attributes Airflow reads
        {"app": LazyApp(airflow_app, "Model Risk"), "url_prefix": URL_PREFIX, "name": "Model Risk"}
    ]
    external_views = [  # noqa: RUF012
        {
            "name": "Model Risk",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "url_route": "model-risk",
            "nav_top_level": True,
            "icon": f"{URL_PREFIX}/icon.svg",
        },
        {
            "name": "Model Risk",
            "href": f"{URL_PREFIX}/dags/{{DAG_ID}}",
            "destination": "dag",
            "url_route": "model-risk-dag",
            "icon": f"{URL_PREFIX}/icon.svg",
        },
    ]
