"""What a real delivery carries besides the contract's names (``names="as_delivered"``), at known rates.

None of it changes a built table: the pipeline reads each variant back to the same data.

- ``SenPNr`` repeats: every LISA file carries ``SenPNr`` (1 on every true row); for a share
  ``SENPNR_REPEAT_RATE`` of its person-years an extra row of the same ``LopNr`` with
  ``SenPNr = 0`` holds an earlier identity (the county, municipality, income and employment of
  another row of the file; sex, birth year, education and region of birth the person's own),
  placed right before or after the true row. Ingest counts both rows of each such person
  (warning ``senpnr_repeat``) and the models use the row with ``SenPNr = 1``.
- ``scb_bakgrund``: region of birth for all persons but a share ``BACKGROUND_MISSING_RATE``
  (LISA's ``FodGrEg4``, which agrees with it, fills those in), as text labels (``Sverige``,
  ``Norden utom Sverige``, ``EU28 utom Norden`` or ``EU/EES utom Norden``, ``Övriga världen``)
  in a share ``BACKGROUND_LABEL_RATE`` of rows and as codes 1-4 in the rest (warning
  ``code_label`` per label).
- ``ASJP`` periods: a share ``ASJP_RATE`` of the sickness-benefit periods coded ``SJP`` is
  coded ``ASJP`` (arbetsskadesjukpenning); the study counts it as sick leave by default
  (``include_asjp = true``), so the spells stay the same. ASJP is a known code: no warning.

With ``names="canonical"`` nothing of this is written (no ``SenPNr`` column, no
``scb_bakgrund``, no ASJP): the canonical delivery is the reference the as-delivered one must
equal, with the region of birth from LISA alone.

Counts are recorded in ``truth["variants"]``.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np
import polars as pl

from data_schemas.extracts import BIRTH_REGION_LABELS, extract
from pipeline.synth.frames import in_contract_order
from pipeline.synth.simulate import GroundTruth, rng_for

SENPNR_REPEAT_RATE = 0.005  # of the person-years of each LISA file
BACKGROUND_MISSING_RATE = 0.02  # of persons: no row in scb_bakgrund
BACKGROUND_LABEL_RATE = 0.30  # of scb_bakgrund's rows: a label instead of the code
ASJP_RATE = 0.02  # of the SJP periods of fk_midas_sjukpenning

BACKGROUND_STEM = "scb_bakgrund"


def _n(rate: float, rows: int) -> int:
    return int(round(rate * rows)) if rows else 0


class Variants:
    """Applies the as-delivered variants file by file (`apply`), writes `background`, reports `truth`."""

    def __init__(self, gt: GroundTruth, enabled: bool):
        self.gt = gt
        self.enabled = enabled
        self.senpnr_rows: dict[str, int] = {}
        self.asjp_periods = 0
        self.background_info: dict = {}

    def apply(self, stem: str, chunks: Iterable[pl.DataFrame]) -> Iterator[pl.DataFrame]:
        for df in chunks:
            if self.enabled and stem.startswith("scb_lisa_"):
                df = self._lisa(stem, df)
            elif self.enabled and stem == "fk_midas_sjukpenning":
                df = self._asjp(df)
            yield df

    # --- LISA: SenPNr and earlier identities -------------------------------------------------
    def _lisa(self, stem: str, df: pl.DataFrame) -> pl.DataFrame:
        year = int(stem.rsplit("_", 1)[1])
        rng = rng_for(self.gt.seed, "variants", 1, year)
        n = df.height
        df = df.with_columns(SenPNr=pl.lit("1"))
        lan = df["Lan"].to_numpy()
        k = _n(SENPNR_REPEAT_RATE, n)
        if k == 0 or len(np.unique(lan)) < 2:
            self.senpnr_rows[stem] = 0
            return df
        rows = np.sort(rng.choice(n, size=k, replace=False))
        # the earlier identity lived elsewhere: county, municipality, income and employment of a
        # row of another county
        donor = rng.integers(0, n, size=k)
        for _ in range(100):
            same = lan[donor] == lan[rows]
            if not same.any():
                break
            donor[same] = rng.integers(0, n, size=int(same.sum()))
        keep = ~(lan[donor] == lan[rows])
        rows, donor = rows[keep], donor[keep]
        taken = ("Lan", "Kommun", "DispInkPersF04", "SyssStat")
        earlier = df[rows].with_columns([df[c].gather(donor).alias(c) for c in taken]).with_columns(SenPNr=pl.lit("0"))
        before = rng.random(len(rows)) < 0.5
        key = np.concatenate([np.arange(n) * 3 + 1, rows * 3 + np.where(before, 0, 2)])
        out = pl.concat([df, earlier]).with_columns(_k=pl.Series(key)).sort("_k").drop("_k")
        self.senpnr_rows[stem] = int(len(rows))
        return in_contract_order(out, extract("scb_lisa"))

    # --- FK: ASJP periods ------------------------------------------------------------------------
    def _asjp(self, df: pl.DataFrame) -> pl.DataFrame:
        rng = rng_for(self.gt.seed, "variants", 2)
        sjp = np.flatnonzero((df["Formankod"] == "SJP").to_numpy())
        k = _n(ASJP_RATE, len(sjp))
        pick = np.zeros(df.height, bool)
        pick[rng.choice(sjp, size=k, replace=False)] = True
        self.asjp_periods += k
        return df.with_columns(Formankod=pl.when(pl.Series(pick)).then(pl.lit("ASJP")).otherwise(pl.col("Formankod")))

    # --- scb_bakgrund ----------------------------------------------------------------------------
    def background(self) -> pl.DataFrame:
        """``scb_bakgrund``: one row per person (but the missing share), codes or labels."""
        gt = self.gt
        rng = rng_for(gt.seed, "variants", 3)
        n = gt.persons.height
        code = gt.persons["birth_region"].to_numpy().astype(np.int64)
        missing = np.zeros(n, bool)
        missing[rng.choice(n, size=_n(BACKGROUND_MISSING_RATE, n), replace=False)] = True
        idx = np.flatnonzero(~missing)
        idx = idx[np.argsort(gt.lopnr[idx], kind="stable")]
        labelled = rng.random(len(idx)) < BACKGROUND_LABEL_RATE
        # one of the labels of the code, chosen per row (EU28 utom Norden or EU/EES utom Norden for 3)
        first: dict[str, str] = {}
        second: dict[str, str] = {}
        for label, c in BIRTH_REGION_LABELS:
            (second if c in first else first).setdefault(c, label)
        codes_txt = pl.Series(code[idx].astype(str), dtype=pl.Utf8)
        use_second = pl.Series(rng.random(len(idx)) < 0.5)
        label = pl.select(pl.when(use_second).then(codes_txt.replace_strict({**first, **second}))
                          .otherwise(codes_txt.replace_strict(first))).to_series()
        values = pl.select(pl.when(pl.Series(labelled)).then(label).otherwise(codes_txt)).to_series()
        df = pl.DataFrame({"LopNr": gt.lopnr[idx], "FodGrEg4": values})
        self.background_info = {
            "rows": int(len(idx)), "persons_missing": int(missing.sum()), "labels": int(labelled.sum()),
            "codes": int((~labelled).sum()),
            "labels_by_code": {str(c): int((labelled & (code[idx] == c)).sum()) for c in (1, 2, 3, 4)},
        }
        return in_contract_order(df, extract(BACKGROUND_STEM))

    def truth(self) -> dict:
        if not self.enabled:
            return {"written": False, "senpnr_repeat": None, "scb_bakgrund": None, "asjp_periods": None}
        rows = {s: n for s, n in sorted(self.senpnr_rows.items()) if n}
        return {
            "written": True,
            "senpnr_repeat": {
                "rate": SENPNR_REPEAT_RATE,
                "rows": rows,  # extra rows (SenPNr = 0) per LISA file stem
                "total": int(sum(rows.values())),
                # ingest's warning counts both rows of each repeated person
                "warned_rows": {s: 2 * n for s, n in rows.items()},
            },
            "scb_bakgrund": {"label_rate": BACKGROUND_LABEL_RATE, "missing_rate": BACKGROUND_MISSING_RATE,
                             **self.background_info},
            "asjp_periods": {"rate": ASJP_RATE, "rows": int(self.asjp_periods)},
        }
