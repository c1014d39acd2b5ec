"""Scoring logs from Amazon Athena: ``client`` (the hook: connection settings, query states, runs, result
objects), ``template`` (the SQL templates under include/sql/) and ``source`` (:class:`AthenaSource`, the
scoring-log source). How it works, the connection and IAM: docs/sources.md."""
