"""The cohort build (`koord build`): raw layer -> staging -> intermediate -> analysis tables."""

from pipeline.build.run import BuildSummary, build_warehouse, inspect_raw_layer

__all__ = ["BuildSummary", "build_warehouse", "inspect_raw_layer"]
