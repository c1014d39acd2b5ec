"""Everything that knows Airflow: connection lookup, the DAG files' helpers, run notes, the local
runner and the Model Risk page's mount. Airflow itself is imported inside functions only."""
