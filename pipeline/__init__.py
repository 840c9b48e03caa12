"""koord: ingestion and cohort-building stages, and the `koord` command line."""

__version__ = "0.1.0"
