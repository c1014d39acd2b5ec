"""mrm: model risk monitoring on Apache Airflow and AWS.

The library is usable without Airflow (see ``mrm.cli``); the DAGs in ``dags/`` only call
``mrm.pipeline``. Heavy dependencies (pandas, evidently, great_expectations, boto3) are imported
inside the functions that need them so that parsing DAGs stays fast.
"""

from __future__ import annotations

__version__ = "0.1.0"
