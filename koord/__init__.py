"""koord's ground floor: what every layer needs and that imports nothing else of ours.

``koord.errors`` (exceptions written for people), ``koord.progress`` (what long steps print),
``koord.sql`` (quoting names and strings for DuckDB) and the version. The layers above it, in
order: ``data_schemas`` (contracts and the study definition), ``analyses``, ``reports``, and
``pipeline`` (the stages and, on top, the command line, the only code that calls upward into
analyses and reports). ``tests/test_layers.py`` fails when a lower layer imports a higher one.
"""

__version__ = "0.1.0"
