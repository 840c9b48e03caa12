"""The stages of the pipeline (synthetic deliveries, ingestion, the warehouse build) and the `koord` command line."""

from koord import __version__

__all__ = ["__version__"]
