"""SageMaker Model Monitor data capture as a scoring log: ``source`` (:class:`CaptureSource`: listing and
reading a day), ``envelope`` (the JSON Lines records), ``decode`` (the request's features), ``response``
(score, decision, model version), ``keypath`` and ``values`` (shared helpers). The format: docs/sources.md."""
