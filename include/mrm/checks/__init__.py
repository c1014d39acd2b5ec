"""Checks: what a monitoring run computes about a model's day, as metric results and evidence.

- ``base``: the seam, the :class:`~mrm.checks.base.Check` protocol and the ``CHECKS`` registry.
- ``quality``, ``drift`` (with ``drift_methods`` and ``segments``) and ``performance``: the checks.
- ``engine/``: a day streamed once and reduced to counts against the reference profile; quality and drift
  are computed from those counts. ``reference``: the profile, from its cache or built once and cached.
- ``sample_evidence``, ``quality_gx``, ``evidently_report``: the evidence reports a reviewer opens.
- ``stats``, ``performance_stats``: the statistics. ``baseline``: thresholds proposed from the reference.
"""
