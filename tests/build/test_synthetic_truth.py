"""Synthetic delivery -> ingest -> build: the build recovers what the generator planted.

The generator (`pipeline.synth`) draws spells, coordination and competing events from its
planted model and derives `truth.json["counts"]` from its own ground truth with the same
definitions as the build (study.toml, data_schemas/tables.py). The build sees only the
delivery files, dirtied with the generator's faults (duplicates, bad codes, YYYYMMDD dates,
Latin-1 files, orphan persons), after ingestion. Both sides count the same spells, so the
tolerance is zero: any difference is a definition implemented differently on one side, never
noise (the noise of the planted model is in the truth itself, not between truth and build).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest

from data_schemas.tables import END_REASONS, SEXES
from pipeline.warehouse_models import build_warehouse
from data_schemas.study import Study

PERSONS = 5_000
SEED = 2026


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from pipeline.ingest import ingest_delivery
    from pipeline.synth import write_delivery

    folder = tmp_path_factory.mktemp("synthetic")
    truth = write_delivery(folder / "delivery", persons=PERSONS, seed=SEED, faults=True, truth_path=folder / "truth.json")
    assert json.loads((folder / "truth.json").read_text(encoding="utf-8"))["counts"] == truth["counts"]
    truth = dict(truth)
    truth["_folder"] = str(folder)
    warehouse = folder / "warehouse.duckdb"
    ingest_delivery(folder / "delivery", warehouse)
    con = duckdb.connect(str(warehouse))
    build_warehouse(con, Study(), progress=lambda _: None)  # the default study; one test rebuilds, last
    yield con, truth
    con.close()


def _counts(con) -> dict:
    rows = con.execute(
        "select sex, end_reason, count(*), count(*) filter (where is_coordinated), "
        "count(*) filter (where is_relapse_within_window), count(*) filter (where is_coordinated_first_90_days) "
        "from main.spells group by all"
    ).fetchall()
    out = {s: {"spells": 0, "coordinated_spells": 0, "relapse_within_window": 0, "first_90": 0,
               "end_reason": dict.fromkeys(END_REASONS, 0)} for s in ("all", *SEXES)}
    for sex, reason, n, n_coord, n_relapse, n_90 in rows:
        for key in ("all", sex):
            out[key]["spells"] += n
            out[key]["coordinated_spells"] += n_coord
            out[key]["relapse_within_window"] += n_relapse
            out[key]["first_90"] += n_90
            out[key]["end_reason"][reason] += n
    return out


def test_the_study_of_the_truth_is_the_default_study(synthetic):
    _, truth = synthetic
    study = Study()
    for key, value in truth["study"].items():
        expected = getattr(study, key)
        assert (expected.isoformat() if hasattr(expected, "isoformat") else expected) == value, key


def test_spells_coordination_and_end_reasons_match_the_truth(synthetic):
    con, truth = synthetic
    got = _counts(con)
    counts = truth["counts"]
    assert counts["spells"] > 5_000
    # a spell whose delivery disagrees with its truth (see _inconsistent) may move one count
    slack = int(_inconsistent(_spells_side_by_side(con, truth)).sum())
    assert slack == 0, "the generator wrote periods that disagree with its own truth"
    assert got["all"]["spells"] == counts["spells"]
    # Coordinated = first GC001 within follow-up [start, end_date] on both sides (the exposure
    # of person_time; a GC001 after death or emigration is not exposure).
    planted = _truth_spells(truth)
    assert got["all"]["coordinated_spells"] == counts["coordinated_spells"]
    assert counts["coordinated_spells"] == int(planted["is_coordinated_in_followup"].sum())
    assert got["all"]["first_90"] == counts["coordinated_in_first_90_days"]
    assert abs(got["all"]["relapse_within_window"] - counts["relapse_within_window"]) <= slack
    _close(got["all"]["end_reason"], counts["end_reason"], slack)
    for sex in SEXES:
        by_sex = counts["by_sex"][sex]
        assert got[sex]["spells"] == by_sex["spells"], sex
        assert got[sex]["coordinated_spells"] == int(planted.loc[planted["sex"] == sex, "is_coordinated_in_followup"].sum()), sex
        _close(got[sex]["end_reason"], by_sex["end_reason"], slack)
    n_persons = con.execute("select count(*) from main.persons").fetchone()[0]
    assert n_persons == counts["persons"]

    # every spell FK's FSJP rule keeps: the truth's plus one per orphan row (a person missing from
    # LISA), which the attrition removes at its LISA step; the rule drops exactly the spells built
    # with an FSJP period (the generator's FSJP periods stand apart from the sick-leave spells)
    steps = dict(con.execute("select step, n_spells from main.attrition where sex = 'all'").fetchall())
    orphans = truth["faults"]["rows"].get("fk_midas_sjukpenning", {}).get("orphan_person", 0)
    assert steps["fsjp_rule"] == counts["all_spells_in_delivery"] + orphans
    fsjp_spells = con.execute(
        "select count(distinct (person_id, spell_seq)) from intermediate.int_benefit_periods_sequenced where is_in_dropped_spell"
    ).fetchone()[0]
    assert steps["spells_built"] - steps["fsjp_rule"] == fsjp_spells > 0
    not_in_lisa = con.execute("select count(*) from intermediate.int_spells_screened where not is_in_lisa").fetchone()[0]
    assert not_in_lisa == orphans


def test_every_spell_matches_its_planted_truth(synthetic):
    con, truth = synthetic
    both = _spells_side_by_side(con, truth)
    assert not _inconsistent(both).any(), "the generator wrote periods that disagree with its own truth"
    for column in ("end_reason", "end_date", "spell_days", "followup_days", "is_relapse_within_window", "days_to_first_gc001",
                   "sex", "age_years", "diagnosis_code", "diagnosis_group", "occupation_status", "extent_at_start_pct",
                   "home_region_code", "education_group", "is_born_in_sweden", "has_prior_sick_leave", "prior_sick_days_365"):
        a, b = both[f"{column}_truth"], both[f"{column}_build"]
        differ = ~((a == b) | (a.isna() & b.isna()))
        assert not differ.any(), (column, both.loc[differ, ["person_id", "spell_start_date", f"{column}_truth", f"{column}_build"]].head())


def test_aw026_follow_ups_match_their_planted_truth(synthetic):
    """AW026 (follow-up of the DV077 plan) per spell and in total, as planted (within follow-up)."""
    con, truth = synthetic
    both = _spells_side_by_side(con, truth)
    for frame_col in ("first_aw026_date_truth", "first_aw026_date_build"):
        both[frame_col] = pd.to_datetime(both[frame_col]).dt.date
    for column in ("n_aw026", "first_aw026_date", "days_to_first_aw026"):
        a, b = both[f"{column}_truth"], both[f"{column}_build"]
        differ = ~((a == b) | (a.isna() & b.isna()))
        assert not differ.any(), (column, both.loc[differ, ["person_id", "spell_start_date", f"{column}_truth", f"{column}_build"]].head())
    counts = truth["counts"]
    got = con.execute("select sum(n_aw026), count(*) filter (where n_aw026 > 0) from main.spells").fetchone()
    assert got == (counts["aw026_contacts"], counts["spells_with_aw026"])
    assert 0 < counts["spells_with_aw026"] <= counts["aw026_contacts"]
    # only spells with a DV077 plan get a follow-up, and never before the plan
    planned = both[both["n_aw026_build"] > 0]
    assert planned["first_dv077_date_build"].notna().all()
    assert (pd.to_datetime(planned["first_aw026_date_build"]) > pd.to_datetime(planned["first_dv077_date_build"])).all()


def _spells_side_by_side(con, truth) -> pd.DataFrame:
    planted = _truth_spells(truth).rename(columns={"LopNr": "person_id"})
    planted["days_to_first_gc001"] = planted["days_to_first_gc001"].where(planted["is_coordinated_in_followup"])
    built = con.execute("select * from main.spells").df()
    for frame in (planted, built):
        for col in ("spell_start_date", "end_date"):
            frame[col] = pd.to_datetime(frame[col]).dt.date
    planted["spell_last_date"] = pd.to_datetime(planted["spell_last_date"]).dt.date
    built["spell_end_date"] = pd.to_datetime(built["spell_end_date"]).dt.date
    both = planted.merge(built, on=["person_id", "spell_start_date"], how="outer", suffixes=("_truth", "_build"), indicator=True)
    assert (both["_merge"] == "both").all(), both.loc[both["_merge"] != "both", ["person_id", "spell_start_date", "_merge"]].head()
    return both


def _inconsistent(both: pd.DataFrame) -> pd.Series:
    """Spells whose delivered periods end on another day than the truth's own last day.

    The build's spell_end_date is the latest delivered TomDatum; it must equal the planted last
    day (a rounding slip in the generator's split into periods once made them differ by one).
    """
    closed = both["spell_end_date"].notna()
    return closed & (both["spell_end_date"] != both["spell_last_date"])


def _truth_spells(truth) -> pd.DataFrame:
    """The generator's per-spell truth (truth.json["spells_file"], beside truth.json), included spells only."""
    frame = pd.read_parquet(Path(truth["_folder"]) / truth["spells_file"])
    return frame[frame["is_included"]].reset_index(drop=True)


def test_the_attrition_adds_up(synthetic):
    con, _ = synthetic
    rows = con.execute("select sex, step_order, n_persons, n_spells, n_benefit_periods from main.attrition order by sex, step_order").fetchall()
    by_sex: dict[str, list] = {}
    for sex, _order, persons, spells, periods in rows:
        by_sex.setdefault(sex, []).append((persons, spells, periods))
    for sex, steps in by_sex.items():
        for (p0, s0, b0), (p1, s1, b1) in zip(steps, steps[1:]):
            assert p1 <= p0 and b1 <= b0, sex
            assert s0 is None or s1 <= s0, sex
        assert steps[-1][1] == con.execute(
            "select count(*) from main.spells" + ("" if sex == "all" else f" where sex = '{sex}'")).fetchone()[0]
    final = {sex: steps[-1] for sex, steps in by_sex.items()}
    assert final["woman"][1] + final["man"][1] == final["all"][1]


@pytest.mark.parametrize("rule", ["continue", "censor", "event"])
def test_every_relapse_rule_matches_its_truth(synthetic, rule):
    """spell_relapse_outcomes (one build) against the generator's truth under each relapse rule, spell by spell."""
    from dataclasses import replace

    from pipeline.synth import StudyRules, simulate, spell_outcomes

    con, truth = synthetic
    gt = simulate(PERSONS, SEED)
    planted = spell_outcomes(gt, replace(StudyRules.default(), relapse=rule)).filter(pl.col("is_included"))
    planted = pd.DataFrame({
        "person_id": gt.lopnr[planted["person"].to_numpy()],
        "spell_start_date": pd.to_datetime(planted["start_day"].cast(pl.Int32).cast(pl.Date).to_numpy()).date,
        "end_reason": planted["end_reason"].to_numpy(),
        "followup_days": planted["followup_days"].to_numpy(),
        "is_relapse_within_window": planted["is_relapse_within_window"].to_numpy(),
        "n_relapse_spells": planted["n_relapse_spells"].to_numpy(),
        "days_to_first_gc001": np.where(planted["is_coordinated_in_followup"].to_numpy(),
                                        planted["t_c_followup"].fill_null(-1).to_numpy(), -1).astype(np.int64),
    })
    built = con.execute("select person_id, spell_start_date, end_reason, followup_days, is_relapse_within_window, "
                        "n_relapse_spells, coalesce(days_to_first_gc001, -1) as days_to_first_gc001 "
                        "from main.spell_relapse_outcomes where relapse_rule = ?", [rule]).df()
    built["spell_start_date"] = pd.to_datetime(built["spell_start_date"]).dt.date
    both = planted.merge(built, on=["person_id", "spell_start_date"], how="outer", suffixes=("_truth", "_build"),
                         indicator=True)
    assert (both["_merge"] == "both").all(), both.loc[both["_merge"] != "both"].head()
    for column in ("end_reason", "followup_days", "is_relapse_within_window", "n_relapse_spells", "days_to_first_gc001"):
        differ = both[f"{column}_truth"].astype(str) != both[f"{column}_build"].astype(str)
        assert not differ.any(), (rule, column, both.loc[differ].head())
    # the rules differ where they should: relapses exist, 'continue' analyses fewer spells, 'event' more returns
    if rule != "censor":
        assert both["is_relapse_within_window_truth"].any()
    if rule == "continue":
        assert (both["n_relapse_spells_truth"] > 0).any()


def test_earnings_confirmed_matches_the_truth(synthetic):
    """Rebuilds with another study: keep this test last in the module."""
    con, truth = synthetic
    build_warehouse(con, Study(return_to_work="earnings_confirmed"), progress=lambda _: None)
    slack = int(_inconsistent(_spells_side_by_side(con, truth)).sum())
    _close(_counts(con)["all"]["end_reason"], truth["counts"]["end_reason_earnings_confirmed"], slack)


def _close(got: dict, planted: dict, slack: int) -> None:
    """Equal counts per end reason, but for at most `slack` spells moved between reasons."""
    assert set(got) == set(planted)
    moved = sum(abs(got[k] - planted[k]) for k in got)
    assert moved <= 2 * slack, (got, planted, slack)
