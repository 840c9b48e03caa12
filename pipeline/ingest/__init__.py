"""Ingestion of a register delivery into the raw layer of the DuckDB warehouse (`koord ingest`).

Modules, in the order a load uses them:

- `detect`: the delivery's files, their extracts, format, encoding, delimiter and header;
- `readers`: each file (CSV, Parquet, SAS) as a table of text columns with line numbers;
- `pnr`: refusal of deliveries that hold personal identity numbers;
- `validate`: SQL, built from the contracts, that types rows, quarantines bad ones and counts
  warnings;
- `load`: the whole load as one all-or-nothing replacement of the warehouse file;
- `report`: the per-file summary printed at the end.

Public API: `ingest_delivery(delivery_dir, warehouse, replace=False) -> LoadSummary`.
"""

from pipeline.ingest.load import LoadSummary, ingest_delivery

__all__ = ["LoadSummary", "ingest_delivery"]
