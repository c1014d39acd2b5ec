"""The name of the logger of long steps' progress (a reference profile or the reference counts being
built): the ``mrm`` command shows its lines when stderr is a terminal (:mod:`mrm.cli.console`); in an
Airflow task they go to the task log."""

from __future__ import annotations

PROGRESS_LOGGER = "mrm.progress"
