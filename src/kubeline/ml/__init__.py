"""Plain, typed scikit-learn functions for each stage of the ML life cycle.

Usable without KFP: data in, data out. Files are touched only by the small helpers that
say so (``write_parquet``, ``save_model``). Imports nothing from kubeline but ``errors``,
``parquet`` (either Parquet library) and ``charts`` (the reports' SVG plots); never kfp.

Stages, in pipeline order: :mod:`~kubeline.ml.datasets` (ingest),
:mod:`~kubeline.ml.explore`, :mod:`~kubeline.ml.validate`, :mod:`~kubeline.ml.split`,
:mod:`~kubeline.ml.features` (engineering), :mod:`~kubeline.ml.transform`,
:mod:`~kubeline.ml.zoo` and :mod:`~kubeline.ml.experiment` (experimentation and tuning),
:mod:`~kubeline.ml.train`, :mod:`~kubeline.ml.assess`, :mod:`~kubeline.ml.card` (versioning).
"""
