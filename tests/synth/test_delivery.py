"""The synthetic delivery: complete, to contract, deterministic, in the requested format."""

from __future__ import annotations

import filecmp
import tomllib
from datetime import date

import polars as pl
import pytest

from data_schemas.codes import regions
from data_schemas.extracts import EXTRACTS, extract, match_file_stem
from pipeline.cli import main
from koord.errors import KoordError
from pipeline.synth import write_delivery
from synth_helpers import N_PERSONS, as_contract_names, load_truth, read_all, read_csv

LISA_YEARS = range(2017, 2025)


def expected_stems(names: str = "as_delivered") -> set[str]:
    """Every extract; the optional scb_bakgrund only as delivered (canonical: the region of birth is LISA's)."""
    stems = set()
    for ex in EXTRACTS:
        if ex.optional and names == "canonical" and ex.name != "enkat_samverkan":  # the survey: always written
            continue
        stems |= {f"{ex.name}_{y}" for y in LISA_YEARS} if ex.yearly else {ex.name}
    return stems


def test_every_extract_is_written_with_exactly_the_contract_columns(clean_delivery):
    delivery, truth = clean_delivery
    assert {p.stem for p in delivery.glob("*.csv")} == expected_stems()
    for p in delivery.glob("*.csv"):
        ex, _ = match_file_stem(p.stem)
        header = p.read_text(encoding="utf-8").split("\n", 1)[0]
        # every required column; an optional one (SenPNr, LISA's FodGrEg4 when scb_bakgrund has it) may be left out
        written = [ex.column_delivered_as(h).name for h in header.split(";")]
        assert written == [c.name for c in ex.columns if c.name in written], p.name
        assert {c.name for c in ex.columns if c.required} <= set(written), p.name
    assert not (delivery / "truth.json").exists() and (delivery.parent / "truth.json").exists()


def test_values_are_within_code_lists_and_types_without_faults(clean_delivery):
    delivery, truth = clean_delivery
    frames = read_all(delivery, truth)
    for stem, df in frames.items():
        ex, _ = match_file_stem(stem)
        assert df.height > 0, stem
        for c in ex.columns:
            if not c.required and c.name not in df.columns:
                continue
            col = df[c.name]
            if not c.nullable:
                assert col.null_count() == 0, f"{stem}.{c.name} has empty values"
            values = col.drop_nulls()
            if c.dtype == "code":
                bad = set(values.unique()) - set(c.allowed_codes()) - {label for label, _ in c.code_labels}
                assert not bad, f"{stem}.{c.name}: {sorted(bad)[:5]}"
            elif c.dtype == "integer":
                ints = values.cast(pl.Int64)
                if c.positive:
                    assert (ints > 0).all()
            elif c.dtype == "date":
                pattern = r"^\d{4}-\d{2}-(\d{2})$"
                assert values.str.contains(pattern).all(), f"{stem}.{c.name}"
                ok = values.str.to_date("%Y-%m-%d", strict=False).is_not_null() | values.str.ends_with("-00")
                assert ok.all() and (not values.str.ends_with("-00").any() or c.day_may_be_unknown)
            elif c.dtype == "yearmonth":
                assert values.str.contains(r"^\d{4}(0[1-9]|1[0-2])$").all()
            elif c.pattern:
                assert values.str.contains(f"^(?:{c.pattern})$").all(), f"{stem}.{c.name}"
            if c.icd10:
                codes = values.str.split(" ").explode()
                assert codes.str.contains(r"^[A-Z][0-9]{2}[0-9A-Z]{0,3}$").all(), f"{stem}.{c.name} not canonical"


def test_no_exact_duplicate_rows_without_faults(clean_delivery):
    delivery, truth = clean_delivery
    for stem, df in read_all(delivery, truth).items():
        assert df.is_duplicated().sum() == 0, stem


def test_employee_benefit_starts_on_day_15_and_others_on_day_1(clean_delivery):
    delivery, truth = clean_delivery
    sj = read_csv(delivery / "fk_midas_sjukpenning.csv", truth).with_columns(
        pl.col("FomDatum", "TomDatum", "InsjuknandeDatum").str.to_date())
    first = (sj.filter(pl.col("Formankod") != "FSJP").sort("LopNr", "InsjuknandeDatum", "FomDatum")
             .group_by("LopNr", "InsjuknandeDatum", maintain_order=True).first())
    lag = (first["FomDatum"] - first["InsjuknandeDatum"]).dt.total_days()
    employees = first["Sysselsattning"] == "ANST"
    assert employees.mean() == pytest.approx(0.8, abs=0.06)
    assert (lag.filter(employees) == 14).all()
    assert (lag.filter(~employees) == 0).all()
    assert (sj["FomDatum"] >= sj["InsjuknandeDatum"]).all()
    assert (sj["TomDatum"].drop_nulls() >= sj.drop_nulls("TomDatum")["FomDatum"]).all()
    # Every period of a spell carries its InsjuknandeDatum; periods never overlap without faults.
    ordered = sj.sort("LopNr", "FomDatum")
    prev_end = ordered["TomDatum"].shift(1)
    same = ordered["LopNr"] == ordered["LopNr"].shift(1)
    assert not (same & (ordered["FomDatum"] <= prev_end)).any()
    # Open periods (empty TomDatum) only for spells ongoing at extraction.
    assert sj["TomDatum"].null_count() > 0


def test_spells_never_merge_under_the_gap_rule_and_relapses_are_planted(clean_delivery):
    delivery, truth = clean_delivery
    sj = read_csv(delivery / "fk_midas_sjukpenning.csv", truth).filter(pl.col("Formankod") != "FSJP").with_columns(
        pl.col("FomDatum", "TomDatum", "InsjuknandeDatum").str.to_date())
    spells = sj.group_by("LopNr", "InsjuknandeDatum").agg(pl.col("TomDatum").max()).sort("LopNr", "InsjuknandeDatum")
    gap = (spells["InsjuknandeDatum"] - spells["TomDatum"].shift(1)).dt.total_days()
    same = spells["LopNr"] == spells["LopNr"].shift(1)
    gaps = gap.filter(same).drop_nulls()
    assert (gaps > 5).all()
    relapse_share = ((gaps <= 30).sum()) / len(gaps)
    assert 0.02 < relapse_share < 0.12
    assert spells.height == truth["counts"]["all_spells_in_delivery"]


def test_lisa_covers_every_person_with_consistent_regions(clean_delivery):
    delivery, truth = clean_delivery
    frames = read_all(delivery, truth)
    lisa = pl.concat([frames[f"scb_lisa_{y}"].with_columns(year=pl.lit(y)) for y in LISA_YEARS])
    assert (lisa["Kommun"].str.slice(0, 2) == lisa["Lan"]).all()
    # one current row (SenPNr = 1) per person and year; the repeats are earlier identities, as truth counts them
    current = lisa.filter(pl.col("SenPNr") == "1")
    assert current.select("LopNr", "year").is_duplicated().sum() == 0
    repeats = truth["variants"]["senpnr_repeat"]
    assert lisa.filter(pl.col("SenPNr") == "0").height == repeats["total"] > 0
    assert {f"scb_lisa_{y}": lisa.filter((pl.col("year") == y) & (pl.col("SenPNr") == "0")).height
            for y in LISA_YEARS} == repeats["rows"]
    earlier = lisa.filter(pl.col("SenPNr") == "0").join(current, on=["LopNr", "year"], suffix="_current")
    assert earlier.height == repeats["total"] and (earlier["Lan"] != earlier["Lan_current"]).all()
    assert (earlier["Kon"] == earlier["Kon_current"]).all() and (earlier["FodGrEg4"] == earlier["FodGrEg4_current"]).all()
    assert (lisa["year"].cast(pl.Int64) - lisa["FodelseAr"].cast(pl.Int64) >= 16).all()
    persons = set(frames["fk_midas_sjukpenning"]["LopNr"])
    assert persons == set(lisa["LopNr"])
    assert len(persons) == N_PERSONS
    # Women about 62-65 %, born in Sweden about 80 %.
    one = lisa.unique("LopNr", keep="first")
    assert (one["Kon"] == "2").mean() == pytest.approx(0.635, abs=0.03)
    assert (one["FodGrEg4"] == "1").mean() == pytest.approx(0.80, abs=0.03)
    # Persons with a death or emigration have no LISA row after that year.
    deaths = frames["scb_dodsorsak"].with_columns(y=pl.col("DodDatum").str.slice(0, 4).cast(pl.Int64))
    after = lisa.join(deaths, on="LopNr").filter(pl.col("year") >= pl.col("y"))
    assert after.height == 0


def test_regions_follow_population_shares(clean_delivery):
    delivery, truth = clean_delivery
    lisa = read_csv(delivery / "scb_lisa_2020.csv", truth)
    share = lisa.group_by("Lan").len().with_columns(share=pl.col("len") / pl.col("len").sum())
    pop = {r.code: r.population_2023 for r in regions()}
    total = sum(pop.values())
    for code, s in zip(share["Lan"], share["share"]):
        assert s == pytest.approx(pop[code] / total, abs=0.02), code


def test_manifest_describes_every_file(clean_delivery):
    delivery, truth = clean_delivery
    manifest = tomllib.loads((delivery / "manifest.toml").read_text(encoding="utf-8"))
    assert manifest["delivery"]["extraction_date"] == date(2025, 3, 31)
    files = manifest["files"]
    assert set(files) == {p.name for p in delivery.glob("*.csv")}
    for name, f in files.items():
        assert f["encoding"] == "utf-8" and f["delimiter"] == ";" and f["format"] == "csv"
        assert f["extract"] == match_file_stem(name.rsplit(".", 1)[0])[0].name
        assert f["rows"] == sum(1 for _ in open(delivery / name, encoding="utf-8")) - 1
    assert files["scb_lisa_2019.csv"]["year"] == 2019


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    a = tmp_path / "a" / "delivery"
    b = tmp_path / "b" / "delivery"
    c = tmp_path / "c" / "delivery"
    write_delivery(a, 400, seed=5, faults=True)
    write_delivery(b, 400, seed=5, faults=True)
    write_delivery(c, 400, seed=6, faults=True)
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    match, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    assert not mismatch and not errors
    assert filecmp.cmp(a.parent / "truth.json", b.parent / "truth.json", shallow=False)
    assert not filecmp.cmp(a / "fk_midas_sjukpenning.csv", c / "fk_midas_sjukpenning.csv", shallow=False)


def test_faults_do_not_change_the_underlying_data(clean_delivery, tmp_path):
    """The same seed with and without faults has the same truth counts and clean rows."""
    plain = write_delivery(tmp_path / "p" / "delivery", 500, seed=3)
    dirty = write_delivery(tmp_path / "d" / "delivery", 500, seed=3, faults=True)
    assert plain["counts"] == dirty["counts"]
    assert plain["parameters"] == dirty["parameters"]
    lisa_p = (tmp_path / "p" / "delivery" / "scb_lisa_2021.csv").read_bytes()
    lisa_d = (tmp_path / "d" / "delivery" / "scb_lisa_2021.csv").read_bytes()
    assert lisa_p == lisa_d


def test_latin1_encoding_round_trips_swedish_letters(tmp_path):
    truth = write_delivery(tmp_path / "l" / "delivery", 300, seed=4, encoding="latin-1")
    raw = (tmp_path / "l" / "delivery" / "vard_kontakter.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("latin-1")
    assert any(ch in text for ch in "åäöÅÄÖ")
    utf = write_delivery(tmp_path / "u" / "delivery", 300, seed=4)
    assert (tmp_path / "u" / "delivery" / "vard_kontakter.csv").read_text(encoding="utf-8") == text
    manifest = tomllib.loads((tmp_path / "l" / "delivery" / "manifest.toml").read_text(encoding="utf-8"))
    assert manifest["files"]["vard_kontakter.csv"]["encoding"] == "latin-1"
    assert truth["counts"] == utf["counts"]


def test_parquet_delivery(tmp_path):
    truth = write_delivery(tmp_path / "q" / "delivery", 300, seed=4, fmt="parquet", faults=True)
    delivery = tmp_path / "q" / "delivery"
    files = sorted(delivery.glob("*.parquet"))
    assert {p.stem for p in files} == expected_stems()
    for p in files:
        df = as_contract_names(pl.read_parquet(p), p.stem)
        ex, _ = match_file_stem(p.stem)
        contract = [c.name for c in ex.columns if c.required or c.name in df.columns]
        assert df.columns[: len(contract)] == contract
        assert df.height == truth["sizes"]["files"][p.name]
    lisa = as_contract_names(pl.read_parquet(delivery / "scb_lisa_2020.parquet"), "scb_lisa_2020")
    assert lisa["LopNr"].dtype == pl.Int64 and lisa["Lan"].dtype == pl.String
    sj = as_contract_names(pl.read_parquet(delivery / "fk_midas_sjukpenning.parquet"), "fk_midas_sjukpenning")
    assert sj["FomDatum"].dtype == pl.String  # some rows carry YYYYMMDD dates: kept as delivered
    clean_dates = as_contract_names(pl.read_parquet(delivery / "fk_samverkan.parquet"), "fk_samverkan")
    assert clean_dates["HandelseDatum"].dtype == pl.Date
    assert truth["faults"]["files"]["latin1"] == [] and truth["faults"]["files"]["delimiter"] == {}


def test_command_line_writes_a_delivery_and_reports_bad_arguments(tmp_path, capsys):
    out = tmp_path / "cli" / "delivery"
    assert main(["synth", "--out", str(out), "--persons", "200", "--seed", "1", "--truth", str(tmp_path / "t.json")]) == 0
    assert (tmp_path / "t.json").exists() and (out / "manifest.toml").exists()
    assert "files" in capsys.readouterr().out
    assert main(["synth", "--out", str(out), "--persons", "0", "--seed", "1"]) == 2
    assert "--persons must be at least 1" in capsys.readouterr().err
    with pytest.raises(KoordError, match="outside the delivery folder"):
        write_delivery(out, 10, 1, truth_path=out / "truth.json")


def test_command_line_names_choose_delivered_or_canonical_names(tmp_path, capsys):
    delivered, canonical = tmp_path / "d" / "delivery", tmp_path / "c" / "delivery"
    assert main(["synth", "--out", str(delivered), "--persons", "300", "--seed", "2"]) == 0
    assert "variants (as_delivered): SenPNr repeats" in capsys.readouterr().out
    assert main(["synth", "--out", str(canonical), "--persons", "300", "--seed", "2", "--names", "canonical"]) == 0
    assert "names: canonical (no delivery variants written)" in capsys.readouterr().out
    header = lambda folder, f: (folder / f).read_text(encoding="utf-8").splitlines()[0].split(";")  # noqa: E731
    assert "SyssStat19" in header(delivered, "scb_lisa_2020.csv") and "SenPNr" in header(delivered, "scb_lisa_2020.csv")
    assert "SyssStat" in header(canonical, "scb_lisa_2020.csv") and "SenPNr" not in header(canonical, "scb_lisa_2020.csv")
    assert (delivered / "scb_bakgrund.csv").exists() and not (canonical / "scb_bakgrund.csv").exists()
    with pytest.raises(SystemExit):
        main(["synth", "--out", str(canonical), "--persons", "300", "--seed", "2", "--names", "real"])
    assert "invalid choice: 'real'" in capsys.readouterr().err


def test_truth_file_is_the_returned_truth(clean_delivery):
    delivery, truth = clean_delivery
    assert load_truth(delivery)["counts"] == truth["counts"]
    assert (delivery.parent / truth["spells_file"]).exists()
    assert extract("skv_agi_manad").name + ".csv" in truth["sizes"]["files"]


def test_registration_periods_of_a_person_do_not_overlap(clean_delivery):
    delivery, truth = clean_delivery
    af = read_csv(delivery / "af_inskrivning.csv", truth).with_columns(
        pl.col("InskrDatum", "AvaktDatum").str.to_date()).sort("LopNr", "InskrDatum")
    prev_end = af["AvaktDatum"].shift(1).fill_null(date(2100, 1, 1))
    same = af["LopNr"] == af["LopNr"].shift(1)
    assert not (same & (af["InskrDatum"] <= prev_end)).any()
    assert af.height > 0 and af["AvaktDatum"].null_count() > 0


def test_files_carry_the_names_a_real_delivery_of_that_year_carries(clean_delivery):
    delivery, _ = clean_delivery
    header = lambda name: (delivery / name).read_text(encoding="utf-8").splitlines()[0].split(";")  # noqa: E731
    assert {"SyssStat11", "Sun2000Niva_Old", "DispInk04", "LopNr"} <= set(header("scb_lisa_2018.csv"))
    assert {"SyssStat19", "SUN2020Niva_Old", "DispInk04"} <= set(header("scb_lisa_2020.csv"))
    assert header("fk_midas_sjukpenning.csv")[0] == "P1105_LopNr_PersonNr"
    manifest = tomllib.loads((delivery / "manifest.toml").read_text(encoding="utf-8"))
    assert manifest["files"]["fk_samverkan.csv"]["key"] == "P1105_LopNr_PersonNr"


def test_background_file_and_asjp_periods_are_as_truth_counts_them(clean_delivery):
    """scb_bakgrund agrees with LISA's FodGrEg4 (labels read as their codes); ASJP periods as counted."""
    delivery, truth = clean_delivery
    v = truth["variants"]
    assert v["names"] == "as_delivered" and v["written"]
    frames = read_all(delivery, truth)
    bg = frames["scb_bakgrund"]
    labels = dict(extract("scb_bakgrund").column("FodGrEg4").code_labels)
    is_label = bg["FodGrEg4"].is_in(list(labels))
    assert bg.height == v["scb_bakgrund"]["rows"] and bg["LopNr"].n_unique() == bg.height
    assert int(is_label.sum()) == v["scb_bakgrund"]["labels"] > 0 and int((~is_label).sum()) == v["scb_bakgrund"]["codes"]
    assert {"EU28 utom Norden", "EU/EES utom Norden"} <= set(bg["FodGrEg4"])
    lisa = pl.concat([frames[f"scb_lisa_{y}"].select("LopNr", "FodGrEg4") for y in LISA_YEARS]).unique()
    assert lisa["LopNr"].n_unique() == lisa.height  # one region of birth per person in LISA
    joined = bg.with_columns(code=pl.col("FodGrEg4").replace(labels)).join(lisa, on="LopNr", suffix="_lisa")
    assert joined.height == bg.height and (joined["code"] == joined["FodGrEg4_lisa"]).all()
    assert lisa.height - bg.height == v["scb_bakgrund"]["persons_missing"] > 0  # LISA fills these in
    sj = frames["fk_midas_sjukpenning"]
    assert (sj["Formankod"] == "ASJP").sum() == v["asjp_periods"]["rows"] > 0


def test_canonical_names_write_none_of_the_variants(tmp_path):
    truth = write_delivery(tmp_path / "c" / "delivery", 300, seed=4, names="canonical")
    delivery = tmp_path / "c" / "delivery"
    assert {p.stem for p in delivery.glob("*.csv")} == expected_stems("canonical")
    assert "SenPNr" not in (delivery / "scb_lisa_2020.csv").read_text(encoding="utf-8").split("\n", 1)[0]
    assert "ASJP" not in (delivery / "fk_midas_sjukpenning.csv").read_text(encoding="utf-8")
    assert truth["variants"] == {"names": "canonical", "written": False, "senpnr_repeat": None, "scb_bakgrund": None,
                                 "asjp_periods": None}
