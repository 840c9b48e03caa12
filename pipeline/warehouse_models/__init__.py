"""The warehouse's SQL models and the cohort build (`koord build`): raw -> staging -> intermediate -> analysis tables.

`sql/intermediate/*.sql` and `sql/analysis/*.sql` hold one model each (Jinja: `ref()`,
`source()`, `var()`); the staging views are generated from the delivery contracts
(`staging.py`). `project.py` derives the build order and the extracts read from the refs,
`render.py` renders the SQL, `run.py` builds everything in one transaction.
"""

from pipeline.warehouse_models.run import BuildSummary, build_warehouse, inspect_raw_layer, write_model_sql

__all__ = ["BuildSummary", "build_warehouse", "inspect_raw_layer", "write_model_sql"]
