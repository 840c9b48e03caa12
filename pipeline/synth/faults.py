"""The dirt of real deliveries, injected at known rates; every fault is additive or format-only.

No fault changes a true spell or count: bogus rows are extra rows that ingestion must
quarantine (exact duplicates, end before start, unknown codes) or can only warn about
(periods overlapping a real one, persons without LISA rows); rewritten real rows keep their
meaning (diagnosis spellings that normalise to the same code, ``YYYYMMDD`` dates); file-level
faults change only the form (Latin-1 encoding not declared in the manifest, ``,`` or tab
delimiters not declared, extra columns). Source rows of the different fault kinds in a file
are disjoint, so a row is counted under one kind only, and no two bogus rows are equal.

Whole numbers written as decimals (``integral_decimal``: ``1.0``, ``2,0``, ``25.00`` in code
columns of whole numbers) are rewritten real rows that load with a warning, never quarantined.

Counts are recorded per file stem in ``truth["faults"]["rows"][stem][kind]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np
import polars as pl

from data_schemas.codes import regions
from data_schemas.extracts import extract, match_file_stem
from pipeline.synth.frames import iso, lookup
from pipeline.synth.simulate import GroundTruth, rng_for

KINDS = ("exact_duplicate", "end_before_start", "unknown_code", "unknown_code_kept", "orphan_person", "overlapping_period",
         "diagnosis_variant", "yyyymmdd_date", "integral_decimal")
QUARANTINED = ("exact_duplicate", "end_before_start", "unknown_code")

RATES = {
    "exact_duplicate": 0.005,  # of rows, in the files of DUPLICATE_FILES
    "end_before_start": 0.001,
    "unknown_code": 0.001,
    "overlapping_period": 0.003,  # of fk_midas_sjukpenning rows
    "diagnosis_variant": 0.03,  # of rows with a diagnosis
    "yyyymmdd_date": 0.02,  # of fk_midas_sjukpenning rows (whole files: all rows)
    "orphan_person": 0.002,  # extra persons, relative to the population
    "integral_decimal": 0.005,  # of the eligible rows of the files of DECIMAL_COLUMNS
}
# Whole numbers written as decimals by statistical software (1.0, 2,0, 25.00): one column per
# row, in rows no other fault touches; ingest reads them as the numbers with a warning.
DECIMAL_COLUMNS = {  # file (LISA: its last year) -> columns, one chosen per row among the non-empty
    "fk_midas_sjukpenning": ("Omfattning",),
    "fk_samverkan": ("DeltagVard", "DeltagArbetsgivare", "DeltagAF"),
    "scb_lisa": ("Kon", "SyssStat"),
}
DECIMAL_FORMATS = (".0", ",0", ".00")
DUPLICATE_FILES = ("fk_midas_sjukpenning", "vard_kontakter", "af_inskrivning")
END_BEFORE_START_FILES = ("fk_midas_sjukpenning", "af_inskrivning")
UNKNOWN_CODES = {  # file: ((column, bogus value), ...) - half of the bogus rows each
    "fk_midas_sjukpenning": (("Formankod", "XXX"), ("Omfattning", "60")),
    "vard_kontakter": (("Region", "99"), ("Vardniva", "ABC")),
}
LISA_UNKNOWN = ("Lan", "99")
WHOLE_FILE_YYYYMMDD = ("scb_migrationer", "fk_midas_ersattning")
DELIMITERS = {"af_inskrivning": ",", "scb_migrationer": "\t"}
_COMMENTS = ("Samverkan med Försäkringskassan fungerar bättre än förr", "För lite tid för koordinering på vårdcentralen",
             "Arbetsgivarna är svåra att nå", "Rutinerna är nya och håller på att införas", "Önskar mer utbildning",
             "Bra stöd från ledningen", "Svårt att få tag på handläggare på Arbetsförmedlingen")


@dataclass
class FaultPlan:
    """Which files carry which file-level faults (CSV deliveries only for encoding/delimiter)."""

    latin1: list[str] = field(default_factory=list)
    delimiter: dict[str, str] = field(default_factory=dict)
    extra_columns: dict[str, list[str]] = field(default_factory=dict)
    yyyymmdd_files: list[str] = field(default_factory=list)


def plan(gt: GroundTruth, fmt: str) -> FaultPlan:
    y = gt.window.first_year
    lisa_text_year = f"scb_lisa_{y + 1}"
    return FaultPlan(
        latin1=["vard_kontakter", lisa_text_year, "enkat_samverkan"] if fmt == "csv" else [],
        delimiter=dict(DELIMITERS) if fmt == "csv" else {},
        extra_columns={"fk_samverkan": ["Handlaggare"], "enkat_samverkan": ["Kommentar"], lisa_text_year: ["KommunNamn"]},
        yyyymmdd_files=list(WHOLE_FILE_YYYYMMDD),
    )


def _n(rate: float, rows: int) -> int:
    return int(round(rate * rows)) if rows else 0


def _to_yyyymmdd(col: pl.Expr) -> pl.Expr:
    return col.str.replace_all("-", "")


def _diagnosis_variant(codes: np.ndarray, rng, allow_spaces: bool) -> np.ndarray:
    """Another spelling of each canonical code that normalises back to it (F43.8A, f43.8a, f438a, ' F43.8A ', M54-)."""
    kind = rng.integers(0, 4 if allow_spaces else 3, size=len(codes))
    c = pl.col("c")
    dotted = pl.when(c.str.len_chars() > 3).then(c.str.slice(0, 3) + "." + c.str.slice(3)).otherwise(c + "-")
    k = pl.col("k")
    expr = (pl.when(k == 0).then(dotted).when(k == 1).then(dotted.str.to_lowercase())
            .when(k == 2).then(c.str.to_lowercase()).otherwise(" " + dotted + " "))
    df = pl.DataFrame({"c": pl.Series(list(codes), dtype=pl.Utf8), "k": kind})
    return df.select(expr.alias("v"))["v"].to_list()


def _insert_after(df: pl.DataFrame, extra: pl.DataFrame, after: np.ndarray) -> pl.DataFrame:
    """Rows `extra` placed right after rows `after` of `df` (stable)."""
    if extra.height == 0:
        return df
    key = np.concatenate([np.arange(df.height) * 2, np.asarray(after) * 2 + 1])
    both = pl.concat([df, extra.select(df.columns).cast(df.schema)])
    return both.with_columns(_k=pl.Series(key)).sort("_k", maintain_order=True).drop("_k")


class _Picker:
    """Disjoint random source rows per fault kind within one file."""

    def __init__(self, n: int, rng):
        self.free = np.ones(n, bool)
        self.rng = rng

    def take(self, k: int, eligible: np.ndarray | None = None) -> np.ndarray:
        ok = self.free if eligible is None else self.free & eligible
        cand = np.flatnonzero(ok)
        k = min(k, len(cand))
        sel = np.sort(self.rng.choice(cand, size=k, replace=False)) if k else np.zeros(0, np.int64)
        self.free[sel] = False
        return sel


class FaultInjector:
    """Applies the faults file by file, chunk by chunk, and records what it did.

    Use `apply` on each file's chunks in delivery order, then `truth`.
    """

    def __init__(self, gt: GroundTruth, fmt: str):
        self.gt = gt
        self.rng = rng_for(gt.seed, "faults")
        self.plan = plan(gt, fmt)
        self.rows: dict[str, dict[str, int]] = {}
        self.columns: dict[str, dict[str, int]] = {}
        self.decimal_columns: dict[str, dict[str, int]] = {}
        self.orphans = self._orphans()
        self.decimal_lisa = f"scb_lisa_{gt.window.lisa_years[-1]}"

    def count(self, stem: str, kind: str, n: int) -> None:
        if n:
            self.rows.setdefault(stem, {})
            self.rows[stem][kind] = self.rows[stem].get(kind, 0) + int(n)

    def apply(self, stem: str, chunks: Iterable[pl.DataFrame]) -> Iterator[pl.DataFrame]:
        """The file's chunks with its faults; persons without LISA rows come as a last chunk."""
        handlers = {
            "fk_midas_sjukpenning": [self._sickness_benefit], "vard_kontakter": [self._care],
            "af_inskrivning": [self._registrations], "fk_samverkan": [self._collaboration],
        }
        handlers.setdefault(f"scb_lisa_{self.gt.window.first_year + 2}", []).append(self._lisa_unknown)
        handlers.setdefault(self.decimal_lisa, []).insert(0, self._lisa_decimals)
        last = None
        for df in chunks:
            for handler in handlers.get(stem, []):
                df = handler(stem, df)
            last = df
            yield self._file_level(stem, df)
        if stem in self.orphans and last is not None:
            orphan = self.orphans[stem].select(last.columns).cast(last.schema)
            self.count(stem, "orphan_person", orphan.height)
            yield orphan

    # --- per file -----------------------------------------------------------------------
    def _sickness_benefit(self, stem, df):
        rng = self.rng
        n = df.height
        pick = _Picker(n, rng)
        has_tom = df["TomDatum"].is_not_null().to_numpy()
        has_diag = df["Diagnos"].is_not_null().to_numpy()
        fom = df["FomDatum"].str.to_date().to_physical().to_numpy().astype(np.int64)
        tom = df["TomDatum"].str.to_date().to_physical().fill_null(-1).to_numpy().astype(np.int64)
        dup = pick.take(_n(RATES["exact_duplicate"], n))
        ebs = pick.take(_n(RATES["end_before_start"], n), has_tom)
        unk = pick.take(_n(RATES["unknown_code"], n))
        ovl = pick.take(_n(RATES["overlapping_period"], n), has_tom & (tom - fom >= 2))
        dv = pick.take(_n(RATES["diagnosis_variant"], int(has_diag.sum())), has_diag)
        ymd = pick.take(_n(RATES["yyyymmdd_date"], n), has_tom)
        dec = pick.take(_n(RATES["integral_decimal"], n))
        df = self._decimals(stem, df, dec, DECIMAL_COLUMNS["fk_midas_sjukpenning"])
        # Rewrite real rows first (their positions do not move).
        diag = df["Diagnos"].clone()
        if len(dv):
            diag = diag.scatter(dv, pl.Series(_diagnosis_variant(diag.gather(dv).to_list(), rng, allow_spaces=True), dtype=pl.Utf8))
        is_ymd = np.zeros(n, bool)
        is_ymd[ymd] = True
        date_cols = ("FomDatum", "TomDatum", "InsjuknandeDatum")
        df = df.with_columns(Diagnos=diag).with_columns(
            [pl.when(pl.Series(is_ymd)).then(_to_yyyymmdd(pl.col(c))).otherwise(pl.col(c)).alias(c) for c in date_cols])
        self.count(stem, "diagnosis_variant", len(dv))
        self.count(stem, "yyyymmdd_date", len(ymd))
        cols = self.columns.setdefault(stem, {})
        for c in date_cols:
            cols[c] = cols.get(c, 0) + int(len(ymd))
        extras, after = [df[dup]], [dup]
        self.count(stem, "exact_duplicate", len(dup))
        shift = rng.integers(1, 31, size=len(ebs))
        extras.append(df[ebs].with_columns(TomDatum=iso(fom[ebs] - shift))); after.append(ebs)
        self.count(stem, "end_before_start", len(ebs))
        half = len(unk) // 2
        for (col, bad), part in zip(UNKNOWN_CODES[stem], (unk[:half], unk[half:])):
            extras.append(df[part].with_columns(pl.lit(bad).alias(col))); after.append(part)
            # a column whose contract keeps unknown codes (Formankod) warns instead of quarantining
            kept = extract(stem.split(".")[0]).column(col).on_unknown_code == "warn"
            self.count(stem, "unknown_code_kept" if kept else "unknown_code", len(part))
            if kept:  # the kept copy overlaps the period it copies
                self.count(stem, "overlapping_period", len(part))
        length = tom[ovl] - fom[ovl]
        new_fom = fom[ovl] + 1 + np.floor(rng.random(len(ovl)) * (length - 1)).astype(np.int64)
        new_tom = new_fom + np.floor(rng.random(len(ovl)) * (tom[ovl] - new_fom + 1)).astype(np.int64)
        extras.append(df[ovl].with_columns(FomDatum=iso(new_fom), TomDatum=iso(new_tom))); after.append(ovl)
        self.count(stem, "overlapping_period", len(ovl))
        return _insert_after(df, pl.concat(extras), np.concatenate(after))

    def _decimals(self, stem, df, rows, columns, rng=None) -> pl.DataFrame:
        """Rows `rows` with one of `columns` (a non-empty one) written as a decimal (1.0, 2,0, 25.00)."""
        if not len(rows):
            return df
        rng = self.rng if rng is None else rng
        present = np.stack([df[c].is_not_null().to_numpy()[rows] for c in columns], axis=1)
        # a random non-empty column per row (callers pick rows with at least one)
        score = np.where(present, rng.random(present.shape), -1.0)
        which = score.argmax(axis=1)
        fmt = np.array(DECIMAL_FORMATS)[rng.integers(0, len(DECIMAL_FORMATS), size=len(rows))]
        cols = self.decimal_columns.setdefault(stem, {})
        out = {}
        for j, c in enumerate(columns):
            sel = rows[which == j]
            if not len(sel):
                continue
            values = df[c].gather(sel) + pl.Series(fmt[which == j], dtype=pl.Utf8)
            out[c] = df[c].scatter(sel, values)
            cols[c] = cols.get(c, 0) + int(len(sel))
        self.count(stem, "integral_decimal", len(rows))
        return df.with_columns([s.alias(c) for c, s in out.items()])

    def _collaboration(self, stem, df):
        columns = DECIMAL_COLUMNS["fk_samverkan"]
        eligible = pl.any_horizontal([pl.col(c).is_not_null() for c in columns])
        ok = df.select(eligible).to_series().to_numpy()
        rows = _Picker(df.height, self.rng).take(_n(RATES["integral_decimal"], int(ok.sum())), ok)
        return self._decimals(stem, df, rows, columns)

    def _lisa_decimals(self, stem, df):
        """Kon or SyssStat as a decimal, in rows of persons without an earlier identity (SenPNr)."""
        columns = DECIMAL_COLUMNS["scb_lisa"]
        ok = ~df["LopNr"].is_duplicated().to_numpy() & df.select(
            pl.any_horizontal([pl.col(c).is_not_null() for c in columns])).to_series().to_numpy()
        rng = self._lisa_rng(stem, 2)
        rows = _Picker(df.height, rng).take(_n(RATES["integral_decimal"], int(ok.sum())), ok)
        return self._decimals(stem, df, rows, columns, rng)

    def _care(self, stem, df):
        rng = self.rng
        n = df.height
        pick = _Picker(n, rng)
        has_diag = df["Diagnoser"].is_not_null().to_numpy()
        dup = pick.take(_n(RATES["exact_duplicate"], n))
        unk = pick.take(_n(RATES["unknown_code"], n))
        dv = pick.take(_n(RATES["diagnosis_variant"], int(has_diag.sum())), has_diag)
        diag = df["Diagnoser"].clone()
        if len(dv):
            parts = diag.gather(dv).str.splitn(" ", 2).struct.unnest()
            first = pl.Series(_diagnosis_variant(parts["field_0"].to_list(), rng, allow_spaces=False), dtype=pl.Utf8)
            rest = parts["field_1"] if "field_1" in parts.columns else pl.Series([None] * len(dv), dtype=pl.Utf8)
            diag = diag.scatter(dv, first + (" " + rest).fill_null(""))
        df = df.with_columns(Diagnoser=diag)
        self.count(stem, "diagnosis_variant", len(dv))
        half = len(unk) // 2
        extras, after = [df[dup]], [dup]
        for (col, bad), part in zip(UNKNOWN_CODES[stem], (unk[:half], unk[half:])):
            extras.append(df[part].with_columns(pl.lit(bad).alias(col))); after.append(part)
        self.count(stem, "exact_duplicate", len(dup))
        self.count(stem, "unknown_code", len(unk))
        return _insert_after(df, pl.concat(extras), np.concatenate(after))

    def _registrations(self, stem, df):
        rng = self.rng
        n = df.height
        pick = _Picker(n, rng)
        has_end = df["AvaktDatum"].is_not_null().to_numpy()
        dup = pick.take(max(1, _n(RATES["exact_duplicate"], n)) if n else 0)
        ebs = pick.take(max(1, _n(RATES["end_before_start"], n)) if n else 0, has_end)
        start = df["InskrDatum"].str.to_date().to_physical().to_numpy().astype(np.int64)
        shift = rng.integers(1, 31, size=len(ebs))
        extras = [df[dup], df[ebs].with_columns(AvaktDatum=iso(start[ebs] - shift))]
        self.count(stem, "exact_duplicate", len(dup))
        self.count(stem, "end_before_start", len(ebs))
        return _insert_after(df, pl.concat(extras), np.concatenate([dup, ebs]))

    def _lisa_rng(self, stem: str, which: int):
        """LISA's faults draw from their own stream per file: the faults of the files after LISA
        are then the same whether LISA carries SenPNr repeats (as delivered) or not (canonical)."""
        return rng_for(self.gt.seed, "faults", which, int(stem.rsplit("_", 1)[1]))

    def _lisa_unknown(self, stem, df):
        unk = _Picker(df.height, self._lisa_rng(stem, 1)).take(max(1, _n(RATES["unknown_code"], df.height)))
        col, bad = LISA_UNKNOWN
        self.count(stem, "unknown_code", len(unk))
        return _insert_after(df, df[unk].with_columns(pl.lit(bad).alias(col)), unk)

    def _file_level(self, stem, df):
        if stem in self.plan.yyyymmdd_files:
            ex, _ = match_file_stem(stem)
            dcols = [c.name for c in ex.columns if c.dtype == "date"]
            cols = self.columns.setdefault(stem, {})
            for c in dcols:
                cols[c] = cols.get(c, 0) + int(df[c].is_not_null().sum())
            df = df.with_columns([_to_yyyymmdd(pl.col(c)) for c in dcols])
            self.count(stem, "yyyymmdd_date", df.height)
        for col in self.plan.extra_columns.get(stem, []):
            df = df.with_columns(self._extra_column(col, df).alias(col))
        return df

    def _extra_column(self, col: str, df: pl.DataFrame) -> pl.Series:
        rng = self.rng
        if col == "Handlaggare":
            return "Handläggare " + pl.Series(rng.integers(100, 999, size=df.height)).cast(pl.Utf8)
        if col == "Kommentar":
            pickc = rng.integers(0, len(_COMMENTS) + 2, size=df.height)
            return lookup(_COMMENTS, np.where(pickc < len(_COMMENTS), pickc, -1))
        if col == "KommunNamn":
            names = {r.code: r.name for r in regions()}
            region_name = df["Kommun"].str.slice(0, 2).replace_strict(names, default="")
            return "Kommun " + df["Kommun"] + " (" + region_name + ")"
        raise ValueError(f"no generator for extra column {col}")

    def _orphans(self) -> dict[str, pl.DataFrame]:
        """Rows of persons without LISA rows: a benefit period and 1-3 care contacts each."""
        gt, rng = self.gt, self.rng
        n_orphans = max(2, _n(RATES["orphan_person"], gt.persons.height))
        self.n_orphans = n_orphans
        lop = np.sort(gt.spare_lopnr[:n_orphans])
        E = gt.window.extraction_day
        lo = gt.window.covered_first_day
        sick_start = lo + rng.integers(0, max(1, E - 60 - lo), size=n_orphans)
        days = rng.integers(15, 120, size=n_orphans)
        diag = rng.choice(["F438A", "M545", "F329", "S525"], size=n_orphans)
        sj = pl.DataFrame({
            "LopNr": lop, "Formankod": "SJP", "FomDatum": iso(sick_start + 14), "TomDatum": iso(np.minimum(sick_start + days, E - 1)),
            "Omfattning": "100", "Diagnos": diag, "Sysselsattning": "ANST", "InsjuknandeDatum": iso(sick_start),
        })
        k = rng.integers(1, 4, size=n_orphans)
        op = np.repeat(np.arange(n_orphans), k)
        nth = np.arange(len(op)) - np.repeat(np.cumsum(k) - k, k)
        offs = nth * 5 + rng.integers(0, 5, size=len(op))  # distinct days per orphan
        region_codes = [r.code for r in regions()]
        vk = pl.DataFrame({
            "LopNr": lop[op], "Region": np.array(region_codes)[rng.integers(0, len(region_codes), size=len(op))],
            "VardenhetId": "VC Åby 01-001", "Vardniva": "PV", "Vardgivartyp": "OFF", "KontaktDatum": iso(sick_start[op] + offs),
            "Kontakttyp": "BES", "Yrkesgrupp": "LAK", "Atgarder": pl.Series([None] * len(op), dtype=pl.Utf8), "Diagnoser": diag[op],
        })
        return {"fk_midas_sjukpenning": sj, "vard_kontakter": vk}

    def truth(self) -> dict:
        rows, fp = self.rows, self.plan
        return {
            "rates": dict(RATES),
            "rows": {stem: {k: rows[stem][k] for k in KINDS if k in rows[stem]} for stem in sorted(rows)},
            "totals": {k: sum(r.get(k, 0) for r in rows.values()) for k in KINDS},
            "quarantined_kinds": list(QUARANTINED),
            "yyyymmdd_cells_by_column": self.columns,
            "integral_decimal_cells_by_column": self.decimal_columns,
            "files": {
                "latin1": list(fp.latin1),
                "delimiter": dict(fp.delimiter),
                "extra_columns": {k: list(v) for k, v in fp.extra_columns.items()},
                "yyyymmdd_whole_file": list(fp.yyyymmdd_files),
                "manifest_omits": {"encoding": list(fp.latin1), "delimiter": sorted(fp.delimiter)},
            },
            "orphan_persons": int(self.n_orphans),
            "keys": "rows are keyed by file stem (the file name without extension)",
        }
