"""A small hand-made warehouse for the report tests: raw bookkeeping, analysis tables and a results schema.

Counts are drawn at random with a fixed seed, with a few deliberately small cells (men aged
60-64, a small region, a chapter group with few events) so that disclosure control has work.
Results tables follow the tidy layout of `analyses.results.SUMMARY_COLUMNS` (plus the designs'
extra ``sex`` and ``n_spells``) and a curve table with ``n_at_risk``/``n_events`` per step.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from analyses.results import SUMMARY_COLUMNS

N_SPELLS = 1200
SEED = 7


def _spells(rng: np.random.Generator) -> pd.DataFrame:
    n = N_SPELLS
    sex = rng.choice(["woman", "man"], size=n, p=[0.62, 0.38])
    age = rng.choice(["16-29", "30-39", "40-49", "50-59"], size=n, p=[0.2, 0.3, 0.3, 0.2]).astype(object)
    # Only three men aged 60-64: a primary suppression that needs a complement.
    old_men = np.flatnonzero(sex == "man")[:3]
    age[old_men] = "60-64"
    old_women = np.flatnonzero(sex == "woman")[:40]
    age[old_women] = "60-64"
    chapter = rng.choice(["psychiatric", "musculoskeletal", "other", "unknown"], size=n, p=[0.5, 0.25, 0.22, 0.03])
    group = np.where(chapter == "psychiatric", rng.choice(["depression", "anxiety", "stress"], size=n),
                     np.where(chapter == "musculoskeletal", "back_pain", np.where(chapter == "other", "injuries", "unknown")))
    region = rng.choice(["01", "12", "14", "03"], size=n, p=[0.4, 0.3, 0.29, 0.01])
    coordinated = rng.random(n) < 0.35
    end_reason = rng.choice(["return_to_work", "sickness_compensation", "censored", "death"], size=n, p=[0.7, 0.1, 0.19, 0.01])
    earnings_before = rng.gamma(4.0, 7000.0, size=n).round(0)
    earnings_before[rng.random(n) < 0.05] = np.nan
    earnings_after = rng.gamma(4.0, 7000.0, size=n).round(0)
    earnings_after[end_reason != "return_to_work"] = np.nan
    first_90 = coordinated & (rng.random(n) < 0.7)
    return pd.DataFrame({
        "spell_id": np.arange(1, n + 1, dtype=np.int64),
        "person_id": rng.integers(1, 1001, size=n).astype(np.int64),
        "sex": sex,
        "age_group": age,
        "diagnosis_chapter_group": chapter,
        "diagnosis_group": group,
        "occupation_status": rng.choice(["ANST", "ARBL", "EGEN", "OVR"], size=n, p=[0.7, 0.15, 0.1, 0.05]),
        "education_group": rng.choice(["low", "medium", "high", "unknown"], size=n, p=[0.15, 0.45, 0.38, 0.02]),
        "birth_region_code": rng.choice(["1", "2", "3", "4", None], size=n, p=[0.75, 0.05, 0.07, 0.1, 0.03]),
        "extent_at_start_pct": rng.choice([25, 50, 75, 100], size=n, p=[0.1, 0.2, 0.1, 0.6]).astype(np.int32),
        "has_prior_sick_leave": rng.random(n) < 0.3,
        "is_coordinated": coordinated,
        "is_coordinated_first_90_days": first_90,
        "end_reason": end_reason,
        "home_region_code": region,
        "earnings_before_sek": earnings_before,
        "earnings_after_sek": earnings_after,
    })


def _attrition(spells: pd.DataFrame) -> pd.DataFrame:
    final = {"all": len(spells), **spells.groupby("sex").size().to_dict()}
    final_persons = {"all": spells["person_id"].nunique(), **spells.groupby("sex")["person_id"].nunique().to_dict()}
    steps = [
        (1, "delivery", "Alla personer med sjukpenningperioder i leveransen", 1.9, None, 3),
        (2, "lisa", "Personer som finns i LISA", 1.5, None, 0),
        (3, "spells", "Sjukfall byggda med insjuknanderegeln", 1.3, 1.6, 0),
        (4, "population", "Sjukfall som börjar 2018–2024, 16–64 år, längre än 14 dagar", 1.0, 1.0, 0),
    ]
    rows = []
    for order, step, text, persons_factor, spells_factor, unknown in steps:
        for sex in ("all", "woman", "man"):
            n_persons = int(round(final_persons[sex] * persons_factor)) + (unknown if sex == "all" else 0)
            n_spells = None if spells_factor is None else int(round(final[sex] * spells_factor))
            rows.append({"step_order": order, "step": step, "description_sv": text, "sex": sex,
                         "n_persons": n_persons, "n_spells": n_spells, "n_benefit_periods": 10 * n_persons})
    frame = pd.DataFrame(rows)
    # Make every earlier step the sum of its sexes plus the unknown sex, as the contract says.
    for order in frame["step_order"].unique():
        sel = frame["step_order"] == order
        w = frame.loc[sel & (frame.sex == "woman"), "n_persons"].iloc[0]
        m = frame.loc[sel & (frame.sex == "man"), "n_persons"].iloc[0]
        unknown = [s[5] for s in steps if s[0] == order][0]
        frame.loc[sel & (frame.sex == "all"), "n_persons"] = w + m + unknown
        if frame.loc[sel, "n_spells"].notna().all():
            ws = frame.loc[sel & (frame.sex == "woman"), "n_spells"].iloc[0]
            ms = frame.loc[sel & (frame.sex == "man"), "n_spells"].iloc[0]
            frame.loc[sel & (frame.sex == "all"), "n_spells"] = ws + ms
    return frame


def _diag(exposed: float, unexposed: float, smd: float = 0.04) -> str:
    return json.dumps({"max_abs_smd": smd, "max_abs_smd_pass": smd < 0.1, "equipoise": None, "equipoise_pass": None,
                       "support_share": None, "support_share_pass": None, "mdrr": 1.31, "mdrr_pass": True,
                       "mde_risk_difference": None, "mde_risk_difference_pass": None,
                       "events_per_arm": {"exposed": exposed, "unexposed": unexposed},
                       "events_pass": min(exposed, unexposed) >= 10, "immortal_time_safe": True,
                       "passes": smd < 0.1 and min(exposed, unexposed) >= 10}, sort_keys=True)


def tv_cox_summary() -> pd.DataFrame:
    """Main hazard ratios for all, women, men and per chapter group (one with too few events)."""
    rows = [
        # population, subgroup, level, estimate, low, high, p, persons, spells, events, exposed events
        ("all", "all", "all", 1.234, 1.081, 1.409, 0.0019, 1000, 1200, 840, 290),
        ("woman", "sex", "woman", 1.187, 1.012, 1.392, 0.0351, 640, 744, 520, 181),
        ("man", "sex", "man", 1.3125, 1.046, 1.647, 0.00042, 380, 456, 320, 109),
        ("woman", "diagnosis_chapter_group", "psychiatric", 1.45, 1.15, 1.83, 0.0017, 320, 372, 260, 92),
        ("woman", "diagnosis_chapter_group", "musculoskeletal", 0.97, 0.71, 1.33, 0.85, 160, 186, 130, 45),
        ("man", "diagnosis_chapter_group", "psychiatric", 1.58, 1.12, 2.23, 0.0093, 190, 228, 160, 54),
        ("man", "diagnosis_chapter_group", "musculoskeletal", 1.07, 0.70, 1.64, 0.76, 95, 114, 80, 28),
        ("man", "diagnosis_chapter_group", "other", 2.10, 0.80, 5.50, 0.13, 40, 46, 30, 6),  # too few exposed events
    ]
    out = []
    for sex, subgroup, level, est, lo, hi, p, persons, spells, events, exposed in rows:
        out.append({"analysis_id": "tv_cox", "method": "cox", "estimand": "hazard_ratio", "term": "is_coordinated",
                    "subgroup": subgroup, "level": level, "estimate": est, "std_error": 0.07, "conf_low": lo,
                    "conf_high": hi, "p_value": p, "n_persons": persons, "n_events": events,
                    "diagnostics": _diag(exposed, events - exposed), "sex": sex, "n_spells": spells,
                    "exposed_days": 12345.0})
    frame = pd.DataFrame(out)
    return frame[SUMMARY_COLUMNS + ["sex", "n_spells", "exposed_days"]]


def target_trial_summary() -> pd.DataFrame:
    """Risk difference, risk ratio and per-arm cumulative incidence at two horizons (the designs' layout)."""
    rows = []
    for sex, subgroup, persons, events, rd, lo, hi in (("all", "all", 900, 700, 0.052, 0.021, 0.083),
                                                         ("woman", "sex", 560, 440, 0.047, 0.008, 0.086),
                                                         ("man", "sex", 340, 260, 0.061, 0.012, 0.110)):
        level = "all" if sex == "all" else sex
        for horizon, k in ((90, 0.6), (365, 1.0)):
            common = {"analysis_id": "target_trial", "method": "aalen_johansen_iptw", "term": f"horizon_{horizon}",
                      "subgroup": subgroup, "level": level, "sex": sex, "n_persons": persons,
                      "n_events": int(events * k), "p_value": None,
                      "diagnostics": json.dumps({"design": "target_trial", "events_per_arm": {"treated": 120 * k, "control": 400 * k},
                                                 "max_abs_smd": 0.05, "max_abs_smd_pass": True, "passes": True})}
            cif1, cif0 = 0.40 * k + rd, 0.40 * k
            rows.append({**common, "estimand": "risk_difference", "estimate": rd * k, "std_error": 0.015,
                         "conf_low": lo * k, "conf_high": hi * k, "arm": None})
            rows.append({**common, "estimand": "risk_ratio", "estimate": cif1 / cif0, "std_error": 0.02,
                         "conf_low": cif1 / cif0 - 0.05, "conf_high": cif1 / cif0 + 0.05, "arm": None})
            rows.append({**common, "estimand": "cumulative_incidence", "estimate": cif1, "std_error": 0.01,
                         "conf_low": cif1 - 0.02, "conf_high": cif1 + 0.02, "arm": "coordination_now"})
            rows.append({**common, "estimand": "cumulative_incidence", "estimate": cif0, "std_error": 0.01,
                         "conf_low": cif0 - 0.02, "conf_high": cif0 + 0.02, "arm": "not_now"})
    return pd.DataFrame(rows)[SUMMARY_COLUMNS + ["sex", "arm"]]


def curve_table(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for sex, n0 in (("woman", 600), ("man", 360)):
        for arm, hazard in (("coordinated", 0.006), ("uncoordinated", 0.0045)):
            at_risk, cif = n0 // 2, 0.0
            rows.append({"sex": sex, "arm": arm, "cause": "return_to_work", "time": 0, "cif": 0.0, "conf_low": 0.0,
                         "conf_high": 0.0, "n_at_risk": at_risk, "n_events": 0})
            for t in range(1, 366, 3):
                events = int(rng.binomial(at_risk, hazard * 3)) if at_risk > 0 else 0
                censored = int(rng.binomial(max(at_risk - events, 0), 0.004))
                if at_risk <= 0:
                    break
                cif += (1 - cif) * events / at_risk
                rows.append({"sex": sex, "arm": arm, "cause": "return_to_work", "time": t, "cif": cif,
                             "conf_low": max(cif - 0.03, 0.0), "conf_high": min(cif + 0.03, 1.0),
                             "n_at_risk": at_risk, "n_events": events})
                at_risk -= events + censored
    return pd.DataFrame(rows)


def make_warehouse(path: Path, *, with_results: bool = True, with_tables: bool = True) -> dict[str, pd.DataFrame]:
    """Write the warehouse; return the frames written (for expected values)."""
    rng = np.random.default_rng(SEED)
    frames: dict[str, pd.DataFrame] = {}
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema raw")
        con.execute(
            "create table raw._delivery as select 'Testleverans Övre Norrland' as delivery_name, date '2025-03-31' as extraction_date, "
            "'manifest' as extraction_date_source, timestamp '2025-04-02 09:30:00' as loaded_at, '/tmp/leverans' as source_folder, "
            "'ab' || repeat('0', 62) as manifest_sha256, 'koord 0.1.0' as koord_version"
        )
        manifest = pd.DataFrame({
            "file": ["fk_midas_sjukpenning.csv", "scb_lisa_2023.csv", "scb_migrationer.csv"],
            "extract": ["fk_midas_sjukpenning", "scb_lisa", "scb_migrationer"], "year": [None, 2023, None],
            "format": ["csv"] * 3, "sha256": ["1" * 64, "2" * 64, "3" * 64], "size_bytes": [1000, 2000, 30],
            "rows_in": [25000, 4000, 4], "encoding": ["utf-8", "iso-8859-1", "utf-8"], "delimiter": [";"] * 3,
            "encoding_source": ["manifest"] * 3, "loaded_at": [datetime(2025, 4, 2, 9, 30)] * 3,
        })
        con.register("manifest_df", manifest)
        con.execute("create table raw._manifest as select * exclude (year), year::integer as year from manifest_df")
        frames["manifest"] = manifest
        if with_tables:
            spells = _spells(rng)
            con.register("spells_df", spells)
            con.execute("create table main.spells as select * replace (extent_at_start_pct::integer as extent_at_start_pct) from spells_df")
            persons = spells.groupby("person_id").agg(sex=("sex", "first"), n_spells=("spell_id", "size")).reset_index()
            con.register("persons_df", persons)
            con.execute("create table main.persons as select * from persons_df")
            attrition = _attrition(spells)
            con.register("attrition_df", attrition)
            con.execute("create table main.attrition as select * from attrition_df")
            study = {"name": "test", "description": "Teststudie", "spell_start_from": "2018-01-01",
                     "spell_start_to": "2024-06-30", "age_min_years": 16, "age_max_years": 64, "min_spell_days": 14,
                     "gap_days": 5, "include_rhp": True, "include_fsjp": False, "relapse_window_days": 30,
                     "return_to_work": "benefit_end", "time_bands": [0, 15, 31, 61, 91, 181, 366], "analyses": {}}
            con.execute(
                "create table main._build as select 'test' as study_name, null::varchar as study_source, ? as study_json, "
                "date '2025-03-31' as extraction_date, 'koord 0.1.0' as koord_version, now() as built_at",
                [json.dumps(study)],
            )
            frames.update(spells=spells, persons=persons, attrition=attrition)
        if with_results:
            con.execute("create schema results")
            for name, frame in (("tv_cox", tv_cox_summary()), ("target_trial", target_trial_summary()),
                                ("target_trial_cif", curve_table(rng))):
                con.register(f"{name}_df", frame)
                con.execute(f"create table results.{name} as select * from {name}_df")
                frames[name] = frame
    finally:
        con.close()
    return frames


if __name__ == "__main__":  # pragma: no cover - handy for looking at the report by hand
    import sys

    make_warehouse(Path(sys.argv[1]))
    print(date.today(), "written", sys.argv[1])
