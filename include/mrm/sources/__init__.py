"""Where scoring logs and labels come from. ``base`` defines what a source gives the pipeline (the
:class:`~mrm.sources.base.ScoringLogSource` protocol); ``registry`` picks a model's source by the kind of
its ``scoring_log`` (:func:`~mrm.sources.registry.source_for`); ``parquet``, ``athena`` and ``sagemaker``
are the sources; ``contract`` checks their rows against the scoring-log contract; ``labels`` reads the
ground truth. See docs/sources.md."""
