"""What the demo's fork server imports before it forks the workers (:mod:`mrm.demo.walk`): the modules
the tasks need (``WARM``), once for all workers instead of once in each. Airflow reads its configuration
at import: the parent configured it (:func:`mrm.airflow.local.configure`) before the fork server
started, with the parent's environment."""

from __future__ import annotations

import importlib

from mrm.airflow import local
from mrm.demo.walk import WARM

local.quiet()
for _name in WARM:
    importlib.import_module(_name)
