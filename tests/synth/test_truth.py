"""truth.json: every planted parameter, counts that add up and that the files reproduce."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from data_schemas.codes import code_list, diagnosis_groups, regions
from data_schemas.study import Study
from pipeline.synth.model import DEFAULT_PARAMETERS
from synth_helpers import read_all

END_REASONS = {"return_to_work", "sickness_compensation", "death", "emigration", "age_65", "censored"}


def test_truth_holds_every_planted_parameter(clean_delivery):
    _, truth = clean_delivery
    p = truth["parameters"]
    assert truth["seed"] == 11 and truth["n_persons"] == 3000
    assert set(p["beta"]) >= {"woman", "age_16_29", "occupation_ARBL", "partial_extent",
                              "education_high", "born_in_sweden"}
    assert set(p["prior_sick_days_effects"]) == {"1-29", "30-89", "90-179", "180+"}
    assert 0.75 <= p["weibull_shape"] <= 0.85
    groups = {g.group for g in diagnosis_groups()}
    assert set(p["weibull_scale_days"]) == groups and set(p["weibull_median_days"]) == groups
    assert set(p["region_u"]) == {r.code for r in regions()}
    assert p["coordination_alpha"] > 0 and p["coordination_region_sd"] > 0
    assert len(p["coordination_band_rates"]) == len(p["coordination_band_starts"])
    assert set(p["coordination_care_level_effect"]) == {c.code for c in code_list("care_level")}
    for key in ("sa_band_rates", "death_rate", "death_age_effect", "emigration_rate", "sa_eta_coef"):
        assert key in p
    hr = truth["coordination_effect"]["hazard_ratio_by_chapter_group"]
    assert hr == {"psychiatric": 1.40, "musculoskeletal": 1.20, "other": 1.10, "unknown": 1.10}
    log_hr = truth["coordination_effect"]["log_hazard_ratio_by_chapter_group"]
    assert log_hr["psychiatric"] == pytest.approx(0.3364722366)
    # the survey's frame: Stockholm, the largest region, has FRAME_MAX = 600 staff invited, split 55/27/18 %
    survey = truth["parameters"]["survey"]
    assert survey["frame_by_region_level"]["01"] == {"PV": 330, "SSV": 162, "PSY": 108}
    assert all(0 < survey["respondents_by_region_level"][r][lv] <= n for r, cells in survey["frame_by_region_level"].items()
               for lv, n in cells.items())
    assert survey["frame_by_region_level"]["09"] == {"PV": 88, "SSV": 43, "PSY": 29}  # Gotland, the smallest: FRAME_MIN 160
    assert "Weibull" in truth["model"]


def test_counts_add_up(clean_delivery):
    _, truth = clean_delivery
    c = truth["counts"]
    assert set(c["end_reason"]) == END_REASONS
    assert sum(c["end_reason"].values()) == c["spells"]
    assert sum(c["end_reason_earnings_confirmed"].values()) == c["spells"]
    for by in ("by_sex", "by_chapter_group", "by_diagnosis_group"):
        parts = c[by].values()
        assert sum(x["spells"] for x in parts) == c["spells"], by
        assert sum(x["coordinated_spells"] for x in parts) == c["coordinated_spells"], by
        for reason in END_REASONS:
            assert sum(x["end_reason"][reason] for x in parts) == c["end_reason"][reason]
    assert c["by_sex"]["woman"]["persons"] + c["by_sex"]["man"]["persons"] == c["persons"]
    assert 0 < c["coordinated_spells"] < c["spells"] and c["gc001_outside_spells"] > 0
    assert all(n > 0 for n in c["end_reason"].values())
    assert c["end_reason_earnings_confirmed"]["return_to_work"] < c["end_reason"]["return_to_work"]


def test_calibration_targets_are_met(clean_delivery):
    _, truth = clean_delivery
    cal = truth["calibration"]
    assert 0.60 <= cal["share_women_persons"]["value"] <= 0.67
    assert 0.42 <= cal["share_psychiatric_long_spells"]["value"] <= 0.58
    assert 0.12 <= cal["share_musculoskeletal_long_spells"]["value"] <= 0.22
    assert cal["largest_diagnosis_group_long_spells"]["value"] == "stress"
    assert 0.15 <= cal["share_coordinated"]["value"] <= 0.25
    med = cal["median_spell_days_closed"]["value"]
    for g in ("stress", "depression", "anxiety"):
        assert 90 <= med[g] <= 175, g
    assert 30 <= med["back_pain"] <= 60 and 45 <= med["injuries"] <= 80 and med["respiratory"] < 35
    occ = cal["share_occupation"]["value"]
    assert occ["ANST"] == pytest.approx(0.80, abs=0.04) and occ["ARBL"] == pytest.approx(0.10, abs=0.03)
    assert occ["EGEN"] == pytest.approx(0.04, abs=0.02)
    assert truth["care"]["share_primary_care"] == pytest.approx(0.65, abs=0.05)
    assert truth["care"]["gc001_first_in_home_region_share"] == pytest.approx(0.90, abs=0.04)


def _days(col: str) -> pl.Expr:
    """Day numbers of an ISO or YYYYMMDD date column; day 00 is read as the 15th."""
    c = pl.col(col).str.replace_all("-", "")
    c = pl.when(c.str.ends_with("00")).then(c.str.slice(0, 6) + "15").otherwise(c)
    return c.str.to_date("%Y%m%d").cast(pl.Int32).cast(pl.Int64)


def reference_spells(frames: dict[str, pl.DataFrame], study: Study, extraction: date) -> pl.DataFrame:
    """An independent, file-based derivation of the studied spells and how they end (study.toml rules)."""
    E = (extraction - date(1970, 1, 1)).days
    W = study.relapse_window_days
    sj = frames["fk_midas_sjukpenning"].filter(pl.col("Formankod").is_in(study.benefit_codes)).with_columns(
        LopNr=pl.col("LopNr").cast(pl.Int64), start=_days("InsjuknandeDatum"), fom=_days("FomDatum"), tom=_days("TomDatum"))
    spells = (sj.group_by("LopNr", "start").agg(last=pl.col("tom").max(), is_open=pl.col("tom").is_null().any())
              .with_columns(last=pl.when(pl.col("is_open")).then(pl.lit(E)).otherwise(pl.col("last")))
              .sort("LopNr", "start")
              .with_columns(next_start=pl.col("start").shift(-1).over("LopNr")))
    lisa = pl.concat([df.select("LopNr", "Kon", "FodelseAr") for k, df in frames.items() if k.startswith("scb_lisa_")])
    lisa = lisa.unique("LopNr").with_columns(pl.col("LopNr", "FodelseAr").cast(pl.Int64))
    deaths = frames["scb_dodsorsak"].select(LopNr=pl.col("LopNr").cast(pl.Int64), death=_days("DodDatum"))
    emig = frames["scb_migrationer"].filter(pl.col("Posttyp") == "Utv").select(
        LopNr=pl.col("LopNr").cast(pl.Int64), emig=_days("Datum"))
    comp = frames["fk_midas_ersattning"].select(LopNr=pl.col("LopNr").cast(pl.Int64), comp=_days("FomDatum") - 1)
    care = frames["vard_kontakter"].filter(pl.col("Atgarder").str.contains("GC001")).select(
        LopNr=pl.col("LopNr").cast(pl.Int64), gc=_days("KontaktDatum"))
    s = spells.join(lisa, on="LopNr").with_columns(
        age=pl.col("start").cast(pl.Int32).cast(pl.Date).dt.year() - pl.col("FodelseAr"),
        a65=pl.date(pl.col("FodelseAr") + 65, 7, 1).cast(pl.Int32).cast(pl.Int64),
        spell_days=pl.col("last") - pl.col("start") + 1,
    )
    start_from = (study.spell_start_from - date(1970, 1, 1)).days
    start_to = (study.spell_start_to - date(1970, 1, 1)).days
    s = s.filter(pl.col("start").is_between(start_from, start_to) & pl.col("age").is_between(study.age_min_years, study.age_max_years)
                 & (pl.col("spell_days") > study.min_spell_days))
    gc = s.select("LopNr", "start", "last").join(care, on="LopNr").filter(pl.col("gc").is_between(pl.col("start"), pl.col("last")))
    gc = gc.group_by("LopNr", "start").agg(first_gc=pl.col("gc").min())
    s = s.join(gc, on=["LopNr", "start"], how="left")
    horizon = pl.when(pl.col("is_open")).then(pl.lit(E)).otherwise(pl.col("last") + W)
    # Competing events in precedence order: each gives min(event date, last day) when within the horizon.
    cands = []
    for name, frame, col in (("death", deaths, "death"), ("emigration", emig, "emig"), ("sickness_compensation", comp, "comp")):
        j = s.select("LopNr", "start", "last", "is_open").join(frame, on="LopNr").filter(
            (pl.col(col) >= pl.col("start")) & (pl.col(col) <= horizon) & (pl.col(col) <= E)
            & ((pl.col(col) + 1 <= E) if name == "sickness_compensation" else pl.lit(True)))
        cands.append(j.select("LopNr", "start", reason=pl.lit(name), end=pl.min_horizontal(col, "last")))
    j = s.filter((pl.col("a65") >= pl.col("start")) & (pl.col("a65") <= horizon) & (pl.col("a65") <= E))
    cands.append(j.select("LopNr", "start", reason=pl.lit("age_65"), end=pl.min_horizontal("a65", "last")))
    rank = {"death": 0, "emigration": 1, "sickness_compensation": 2, "age_65": 3}
    comp_ev = (pl.concat(cands).with_columns(rank=pl.col("reason").replace_strict(rank))
               .sort("end", "rank").group_by("LopNr", "start", maintain_order=True).first())
    s = s.join(comp_ev.select("LopNr", "start", "reason", pl.col("end").alias("comp_end")), on=["LopNr", "start"],
               how="left")
    relapse = ~pl.col("is_open") & (pl.col("next_start") - pl.col("last") <= W).fill_null(False)
    return s.with_columns(end_reason=pl.when(pl.col("reason").is_not_null()).then(pl.col("reason"))
                          .when(pl.col("is_open")).then(pl.lit("censored"))
                          .when(relapse).then(pl.lit("censored"))
                          .when(pl.col("last") + W > E).then(pl.lit("censored"))
                          .otherwise(pl.lit("return_to_work")),
                          # exposure counts within follow-up: a GC001 after a competing event's end is none
                          is_coordinated=pl.col("first_gc").is_not_null()
                          & (pl.col("first_gc") <= pl.coalesce("comp_end", "last")),
                          sex=pl.when(pl.col("Kon") == "2").then(pl.lit("woman")).otherwise(pl.lit("man")))


@pytest.mark.parametrize("which", ["clean", "faults"])
def test_the_files_reproduce_the_truth_counts(which, clean_delivery, faulty_delivery):
    delivery, truth = clean_delivery if which == "clean" else faulty_delivery
    frames = read_all(delivery, truth)
    if which == "faults":  # what ingestion quarantines or sets aside, done here crudely
        # whole numbers written as decimals (2.0, 50,0) are the numbers
        frames = {k: df.with_columns([pl.col(c).str.replace(r"^([0-9]+)[.,]0+$", "${1}")
                                      for c in ("Kon", "Omfattning") if c in df.columns]) for k, df in frames.items()}
        lisa_ids = pl.concat([df["LopNr"] for k, df in frames.items() if k.startswith("scb_lisa_")]).unique()
        sj = frames["fk_midas_sjukpenning"].unique(maintain_order=True).filter(
            pl.col("Formankod").is_in(Study().known_benefit_codes) & pl.col("Omfattning").is_in(["25", "50", "75", "100"])
            & pl.col("LopNr").is_in(lisa_ids.implode()))
        sj = sj.filter(pl.col("TomDatum").is_null() | (_days("TomDatum") >= _days("FomDatum")))
        frames["fk_midas_sjukpenning"] = sj
        frames["vard_kontakter"] = frames["vard_kontakter"].filter(pl.col("Region") != "99")
    # the reference follows each spell on its own: the relapse rule 'censor' (the others in tests/build)
    ref = reference_spells(frames, Study(relapse="censor"), date.fromisoformat(truth["window"]["extraction_date"]))
    c = truth["counts_by_relapse_rule"]["censor"]
    assert ref.height == c["spells"]
    assert ref["LopNr"].n_unique() == c["persons"]
    assert int(ref["is_coordinated"].sum()) == c["coordinated_spells"]
    got = dict(ref.group_by("end_reason").len().iter_rows())
    assert {r: got.get(r, 0) for r in END_REASONS} == c["end_reason"]
    for sex in ("woman", "man"):
        sub = ref.filter(pl.col("sex") == sex)
        assert sub.height == c["by_sex"][sex]["spells"]
        assert int(sub["is_coordinated"].sum()) == c["by_sex"][sex]["coordinated_spells"]


def test_truth_spells_file_matches_the_counts(clean_delivery):
    delivery, truth = clean_delivery
    spells = pl.read_parquet(delivery.parent / truth["spells_file"])
    inc = spells.filter(pl.col("is_included"))
    assert inc.height == truth["counts"]["spells"]
    assert int(inc["is_coordinated_in_followup"].sum()) == truth["counts"]["coordinated_spells"]
    assert (inc["days_to_first_gc001"].drop_nulls() >= 0).all()
    assert (inc.filter(pl.col("is_coordinated"))["n_gc001"] >= 1).all()
    # Coordination is never after the spell's last day (under the relapse rule 'continue', after the
    # last day of the last spell of its chain); the planted effect needs exposure before the end.
    own = inc.filter(pl.col("is_coordinated") & (pl.col("n_relapse_spells") == 0))
    assert (own.select((pl.col("spell_start_date") + pl.duration(days=pl.col("days_to_first_gc001"))
                        <= pl.col("spell_last_date")).all()).item())
    assert (inc.filter(pl.col("is_coordinated_in_followup"))
            .select((pl.col("days_to_first_gc001") < pl.col("followup_days")).all()).item())
    # the relapse rules: 'continue' analyses each chain once, 'censor' and 'event' every studied spell
    by_rule = truth["counts_by_relapse_rule"]
    assert all(truth["counts"][k] == v for k, v in by_rule["continue"].items())
    assert by_rule["censor"]["spells"] == by_rule["event"]["spells"] > by_rule["continue"]["spells"]
    assert by_rule["event"]["end_reason"]["return_to_work"] > by_rule["censor"]["end_reason"]["return_to_work"]
    assert by_rule["censor"]["relapse_within_window"] == inc["is_relapse_within_window"].sum() + spells.filter(
        pl.col("is_relapse_continuation") & pl.col("is_relapse_within_window")).height
    assert inc["eta"].std() > 0.1
    assert DEFAULT_PARAMETERS.coordination_hr["psychiatric"] == 1.4


def test_truth_holds_the_planted_region_effects(clean_delivery):
    import numpy as np

    delivery, truth = clean_delivery
    effects = truth["region_effects"]
    codes = {r.code for r in regions()}
    p = DEFAULT_PARAMETERS
    for name, sd, outliers in (("coordination", p.coordination_region_sd, p.coordination_region_outliers),
                               ("return_to_work", p.return_to_work_region_sd, p.return_to_work_region_outliers)):
        e = effects[name]
        assert e["scale"].startswith("log hazard") and e["sd"] == sd
        assert set(e["values"]) == codes and e["outliers"] == sorted(outliers)
        assert e["variance"] == pytest.approx(np.var(list(e["values"].values()), ddof=1))
        assert all(e["values"][c] == v for c, v in outliers.items())
    assert effects["coordination"]["values"] == truth["parameters"]["region_u"]
    spells = pl.read_parquet(delivery.parent / truth["spells_file"])
    by_region = spells.select("home_region_code", "u_region", "v_region").unique()
    assert by_region.height == spells["home_region_code"].n_unique()
    for code, u, v in by_region.iter_rows():
        assert u == effects["coordination"]["values"][code] and v == effects["return_to_work"]["values"][code]
