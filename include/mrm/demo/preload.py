"""What the demo's fork server does before it forks the workers (:mod:`mrm.demo.walk`), once for all
workers instead of once in each: it imports the modules the tasks need (``WARM``) and builds the routes
of Airflow's in-process execution API (:func:`mrm.airflow.local.warm_execution_api`). Airflow reads its
configuration at import: the parent configured it (:func:`mrm.airflow.local.configure`) before the fork
server started, with the parent's environment."""

from __future__ import annotations

import importlib

from mrm.airflow import local
from mrm.demo.walk import WARM

local.quiet()
for _name in WARM:
    importlib.import_module(_name)
local.warm_execution_api()
