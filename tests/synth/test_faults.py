"""Planted faults: what truth.json records is exactly what the files hold."""

from __future__ import annotations

import tomllib

import polars as pl

from data_schemas.codes import normalise_icd10
from data_schemas.extracts import match_file_stem
from synth_helpers import read_all

CANONICAL = r"^[A-Z][0-9]{2}[0-9A-Z]{0,3}$"
INTEGRAL_DECIMAL = r"^([+-]?[0-9]+)[.,]0+$"  # a whole number written as a decimal (1.0, 2,0, 25.00)


def _days(col: str) -> pl.Expr:
    return pl.col(col).str.replace_all("-", "").str.to_date("%Y%m%d").cast(pl.Int32)


def count_faults(frames: dict[str, pl.DataFrame]) -> dict[str, dict[str, int]]:
    """Count every fault kind in the files, independently of the generator."""
    found: dict[str, dict[str, int]] = {}

    def put(stem, kind, n):
        if n:
            found.setdefault(stem, {})[kind] = int(n)

    lisa_ids = pl.concat([df["LopNr"] for k, df in frames.items() if k.startswith("scb_lisa_")]).unique().implode()
    for stem, df in frames.items():
        ex, _ = match_file_stem(stem)
        put(stem, "exact_duplicate", df.height - df.unique().height)
        bad = pl.lit(False)
        kept = pl.lit(False)
        decimal = pl.lit(False)
        for c in ex.columns:
            if c.dtype in ("code", "integer") and c.name in df.columns:
                decimal = decimal | pl.col(c.name).str.contains(INTEGRAL_DECIMAL).fill_null(False)
            if c.dtype == "code" and c.name in df.columns:
                # a whole number written as a decimal is its code; a label (scb_bakgrund) is one too
                value = pl.col(c.name).str.replace(INTEGRAL_DECIMAL, "${1}")
                allowed = [*c.allowed_codes(), *(label for label, _ in c.code_labels)]
                unknown = value.is_not_null() & ~value.is_in(allowed)
                if c.on_unknown_code == "warn":  # kept with a warning (Formankod)
                    kept = kept | unknown
                else:
                    bad = bad | unknown
        put(stem, "unknown_code", df.filter(bad).height)
        put(stem, "unknown_code_kept", df.filter(kept).height)
        put(stem, "integral_decimal", df.filter(decimal).height)
        for rule in ex.periods:
            put(stem, "end_before_start", df.filter(_days(rule.end) < _days(rule.start)).height)
        if ex.person_level:
            put(stem, "orphan_person", df.filter(~pl.col("LopNr").is_in(lisa_ids)).height)
        dates = [c.name for c in ex.columns if c.dtype == "date"]
        if dates:
            put(stem, "yyyymmdd_date", df.filter(pl.any_horizontal([pl.col(d).str.contains(r"^\d{8}$") for d in dates])).height)
        icd = [c.name for c in ex.columns if c.icd10]
        if icd and stem != "scb_dodsorsak":
            col = icd[0]
            codes = df.select(pl.col(col).str.split(" ")).to_series()
            variant = codes.list.eval(~pl.element().str.contains(CANONICAL)).list.any().fill_null(False)
            put(stem, "diagnosis_variant", int(variant.sum()))
    # Periods strictly inside another period of the same person (correction periods).
    sj = frames["fk_midas_sjukpenning"].unique(maintain_order=True).with_row_index("i").filter(
        pl.col("TomDatum").is_not_null()).with_columns(fom=_days("FomDatum"), tom=_days("TomDatum")).filter(pl.col("tom") >= pl.col("fom"))
    pairs = sj.join(sj, on="LopNr", suffix="_o").filter(
        (pl.col("i") != pl.col("i_o")) & (pl.col("fom") >= pl.col("fom_o")) & (pl.col("tom") <= pl.col("tom_o"))
        & ((pl.col("fom") != pl.col("fom_o")) | (pl.col("tom") != pl.col("tom_o"))))
    # A row kept with an unknown benefit code is a copy of a real period (same dates): it overlaps it.
    kept = found.get("fk_midas_sjukpenning", {}).get("unknown_code_kept", 0)
    put("fk_midas_sjukpenning", "overlapping_period", pairs["i"].n_unique() + kept)
    return found


def test_fault_counts_in_the_files_equal_the_truth(faulty_delivery):
    delivery, truth = faulty_delivery
    frames = read_all(delivery, truth)
    frames = {k: df.select([c for c in df.columns if c in [x.name for x in match_file_stem(k)[0].columns]])
              for k, df in frames.items()}
    found = count_faults(frames)
    assert found == truth["faults"]["rows"]
    for kind in ("exact_duplicate", "end_before_start", "unknown_code", "orphan_person", "overlapping_period",
                 "diagnosis_variant", "yyyymmdd_date", "integral_decimal"):
        assert truth["faults"]["totals"][kind] > 0, kind
    assert "integral_decimal" not in truth["faults"]["quarantined_kinds"]


def test_a_clean_delivery_has_none_of_these_faults(clean_delivery):
    delivery, truth = clean_delivery
    assert count_faults(read_all(delivery, truth)) == {}
    assert truth["faults"]["injected"] is False and truth["faults"]["rows"] == {}


def test_diagnosis_variants_normalise_to_the_canonical_code(faulty_delivery):
    delivery, truth = faulty_delivery
    sj = read_all(delivery, truth)["fk_midas_sjukpenning"]["Diagnos"].drop_nulls()
    raw = sj.filter(~sj.str.contains(CANONICAL))
    assert raw.len() > 0 and raw.str.contains(r"\.").any() and raw.str.contains(r"[a-z]").any()
    assert raw.str.starts_with(" ").any()
    assert all(normalise_icd10(v) is not None for v in raw.to_list())


def test_file_level_faults_are_where_truth_says(faulty_delivery):
    delivery, truth = faulty_delivery
    files = truth["faults"]["files"]
    manifest = tomllib.loads((delivery / "manifest.toml").read_text(encoding="utf-8"))["files"]
    assert {"vard_kontakter", "enkat_samverkan"} <= set(files["latin1"])
    assert any(s.startswith("scb_lisa_") for s in files["latin1"])
    for stem in files["latin1"]:
        raw = (delivery / f"{stem}.csv").read_bytes()
        try:
            raw.decode("utf-8")
            decodes = True
        except UnicodeDecodeError:
            decodes = False
        assert not decodes, stem
        assert any(ch in raw.decode("latin-1") for ch in "åäö"), stem
        assert "encoding" not in manifest[f"{stem}.csv"]
    for stem, delim in files["delimiter"].items():
        header = (delivery / f"{stem}.csv").read_text(encoding="utf-8").split("\n", 1)[0]
        assert header.split(delim) == [c.name for c in match_file_stem(stem)[0].columns if c.required or c.name in header.split(delim)]
        assert "delimiter" not in manifest[f"{stem}.csv"]
    assert set(files["delimiter"].values()) == {",", "\t"}
    frames = read_all(delivery, truth)
    for stem, cols in files["extra_columns"].items():
        contract = [c.name for c in match_file_stem(stem)[0].columns if c.required or c.name in frames[stem].columns]
        assert frames[stem].columns == contract + cols
    for stem in files["yyyymmdd_whole_file"]:
        ex, _ = match_file_stem(stem)
        first_date = next(c.name for c in ex.columns if c.dtype == "date")
        assert frames[stem][first_date].str.contains(r"^\d{8}$").all()
    # Clean files keep the contract's header and the manifest declares them.
    assert manifest["fk_midas_sjukpenning.csv"]["encoding"] == "utf-8"
    assert manifest["fk_midas_sjukpenning.csv"]["delimiter"] == ";"
