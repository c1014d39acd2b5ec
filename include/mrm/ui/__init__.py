"""The "Model Risk" page: read-only views of the metrics history and the inventory, served by a FastAPI
app (:func:`mrm.ui.app.create_app`) that ``plugins/mrm_plugin.py`` mounts in Airflow's api-server.

The page only reads what the monitoring runs recorded; it never computes a check. Keep this package
free of pandas, Evidently, GX and boto3 imports at module level: Airflow imports plugins in every
process, task processes included.
"""

from __future__ import annotations

URL_PREFIX = "/model-risk"  # where the plugin mounts the app in Airflow's api-server
