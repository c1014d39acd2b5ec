"""The links a ticket or an alert carries, for people to open: the model's page and a run's evidence on
the Model Risk page, and the run in the Airflow UI, all under ``MRM_AIRFLOW_URL``. The page serves a
run's evidence behind Airflow's login and only while it matches its recorded SHA-256; the storage URI
(``file://`` or ``s3://``) stays beside it for auditors. Without ``MRM_AIRFLOW_URL`` there is no page to
link: the evidence is its storage URI, as before."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

from mrm import settings

PAGE_PREFIX = "/model-risk"  # where plugins/mrm_plugin.py mounts the page (mrm.ui.URL_PREFIX)
STORED = " (storage URI)"  # suffix of the link name of an evidence file's storage URI


def _page(path: str) -> str | None:
    base = settings.airflow_url()
    return f"{base}{PAGE_PREFIX}{path}" if base else None


def model_page(model_id: str) -> str | None:
    """The model's page (``/model-risk/models/<model_id>``), or None without MRM_AIRFLOW_URL."""
    return _page(f"/models/{quote(model_id, safe='')}")


def evidence_page(model_id: str, day: date, run_id: str, uri: str) -> str | None:
    """The page's evidence route for one file a run recorded
    (``/model-risk/evidence/<model>/<date>/<run_id>/<file name>``), or None without MRM_AIRFLOW_URL."""
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    parts = (quote(model_id, safe=""), day.isoformat(), quote(run_id, safe=""), quote(name, safe=""))
    return _page("/evidence/" + "/".join(parts))


def airflow_run(triggered_by: str | None) -> str | None:
    """``airflow:<dag_id>/<run_id>/try<n>`` -> the run's page in the Airflow UI (MRM_AIRFLOW_URL)."""
    base = settings.airflow_url()
    if not base or not triggered_by or not triggered_by.startswith("airflow:"):
        return None
    parts = triggered_by.removeprefix("airflow:").split("/")
    if len(parts) < 2:
        return None
    return f"{base}/dags/{quote(parts[0])}/runs/{quote('/'.join(parts[1:-1]) or parts[1], safe='')}"


def evidence(name: str, model_id: str, day: date, run_id: str, uri: str) -> dict[str, str]:
    """``{name: the page's URL, name + " (storage URI)": uri}``; ``{name: uri}`` without MRM_AIRFLOW_URL."""
    page = evidence_page(model_id, day, run_id, uri)
    return {name: page, f"{name}{STORED}": uri} if page else {name: uri}


def with_model_page(links: dict[str, str], model_id: str) -> dict[str, str]:
    """``links`` with the model's page added before the Airflow run (unless there is no page or it is
    there already)."""
    page = model_page(model_id)
    if page is None or "Model page" in links:
        return dict(links)
    out = {k: v for k, v in links.items() if k != "Airflow run"}
    out["Model page"] = page
    if "Airflow run" in links:
        out["Airflow run"] = links["Airflow run"]
    return out
