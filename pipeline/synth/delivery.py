"""Write a complete synthetic delivery: every extract, ``manifest.toml``, ``truth.json``."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from data_schemas.codes import regions
from data_schemas.extracts import EXTRACTS, match_file_stem
from data_schemas.study import RELAPSE_RULES
from koord.errors import KoordError
from koord.progress import say, step
from pipeline.synth import model as model_module
from pipeline.synth.agi import agi_chunks
from pipeline.synth.care import care_contact_chunks, merge_info
from pipeline.synth.faults import FaultInjector, FaultPlan
from pipeline.synth.model import CARE_LEVELS, SynthParameters
from pipeline.synth.scenario_truth import ScenarioRules, truth_for_delivery
from pipeline.synth.registers import (
    collaboration_events, collaboration_parameters, compensation, deaths, lisa_year, migrations, registrations, sickness_benefit,
)
from pipeline.synth.simulate import CAUSES, simulate
from pipeline.synth.survey import FRAME_STEM, survey
from pipeline.synth.truth import (
    StudyRules, calibration, chapter_hazard_ratios, counts, follow_relapse_chains, labelled_spells, spell_outcomes,
)
from pipeline.synth.variants import BACKGROUND_STEM, Variants
from pipeline.synth.writers import manifest_toml, write_csv, write_parquet

FORMATS = ("csv", "parquet")
ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "latin-1": "latin-1", "latin1": "latin-1", "iso-8859-1": "latin-1"}
TRUTH_SPELLS_FILE = "truth_spells.parquet"


def _check(out_dir: Path, persons: int, fmt: str, encoding: str, truth_path: Path, first_year: int, last_year: int,
           extraction_date: date) -> None:
    problems = []
    if persons < 1:
        problems.append(f"--persons must be at least 1, got {persons}")
    if fmt not in FORMATS:
        problems.append(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if encoding.lower() not in ENCODINGS:
        problems.append(f"--encoding must be utf-8 or latin-1, got {encoding!r}")
    if not 2000 <= first_year <= last_year:
        problems.append(f"--first-year {first_year} must be at most --last-year {last_year} (and after 2000)")
    if extraction_date <= date(last_year, 12, 31):
        problems.append(f"--extraction-date {extraction_date} must be after the last covered year {last_year}")
    try:
        truth_path.resolve().relative_to(out_dir.resolve())
        problems.append(f"truth file {truth_path} must be outside the delivery folder {out_dir}")
    except ValueError:
        pass
    if problems:
        raise KoordError("; ".join(problems))


def _remove_old_extract_files(out_dir: Path) -> None:
    """Earlier synthetic files in the folder (any format) would be read as part of this delivery."""
    for p in out_dir.iterdir():
        if p.is_file() and p.suffix.lower() in (".csv", ".parquet") and match_file_stem(p.stem):
            p.unlink()


# Names a real delivery carries where the contract's own name is not the register's: LISA's
# disposable income, and the project-prefixed key of FK's files (project number invented).
DISPOSABLE_INCOME_AS_DELIVERED = "DispInk04"
PREFIXED_KEY = "P1105_LopNr_PersonNr"
PREFIXED_KEY_EXTRACTS = ("fk_midas_sjukpenning", "fk_midas_ersattning", "fk_samverkan")


def delivered_names(ex, year: int | None, names: str) -> dict[str, str]:
    """Contract name -> name written, for the columns not written under the contract's name.

    "canonical": only columns whose own name the contract refuses (education: the first alias).
    "as_delivered": LISA's year-specific names, DispInk04, and the prefixed key in FK's files.
    """
    out = {}
    for c in ex.columns:
        if names == "canonical":
            written = c.delivered_names()[0]
        elif c.name == "DispInkPersF04":
            written = DISPOSABLE_INCOME_AS_DELIVERED
        elif c.is_person_key:
            written = PREFIXED_KEY if ex.name in PREFIXED_KEY_EXTRACTS else c.name
        else:
            written = c.delivered_name_for(year)
        if written != c.name:
            out[c.name] = written
    return out


def write_delivery(
    out_dir, persons: int, seed: int, *, faults: bool = False, fmt: str = "csv", encoding: str = "utf-8",
    truth_path=None, first_year: int = 2018, last_year: int = 2024, extraction_date: date = date(2025, 3, 31),
    params: SynthParameters | None = None, names: str = "as_delivered",
) -> dict:
    """See `pipeline.synth.write_delivery`."""
    if names not in ("as_delivered", "canonical"):
        raise ValueError(f"names must be 'as_delivered' or 'canonical', not {names!r}")
    out_dir = Path(out_dir)
    truth_path = Path(truth_path) if truth_path else out_dir.parent / "truth.json"
    _check(out_dir, persons, fmt, encoding, truth_path, first_year, last_year, extraction_date)
    encoding = ENCODINGS[encoding.lower()]
    out_dir.mkdir(parents=True, exist_ok=True)
    truth_path.parent.mkdir(parents=True, exist_ok=True)
    _remove_old_extract_files(out_dir)

    with step(f"drawing {persons:,} persons and their spells".replace(",", " ")):
        gt = simulate(persons, seed, params=params, first_year=first_year, last_year=last_year,
                      extraction_date=extraction_date)
        rules = StudyRules.default()
        outcomes = spell_outcomes(gt, rules)
        # What the registers record does not depend on the study's relapse rule: the files are
        # written from each spell on its own ('censor'); the truth follows the study's rule.
        physical = spell_outcomes(gt, replace(rules, relapse="censor"))
    variants = Variants(gt, enabled=names == "as_delivered")
    injector = FaultInjector(gt, fmt) if faults else None
    plan = injector.plan if injector else FaultPlan()
    files: list[dict] = []
    ext = "csv" if fmt == "csv" else "parquet"

    def write(stem: str, chunks) -> int:
        ex, year = match_file_stem(stem)
        path = out_dir / f"{stem}.{ext}"
        chunks = variants.apply(stem, chunks)
        if injector:
            chunks = injector.apply(stem, chunks)
        renames = delivered_names(ex, year, names)
        if renames:
            chunks = (df.rename({k: v for k, v in renames.items() if k in df.columns}) for df in chunks)
        key = renames.get("LopNr")
        if fmt == "csv":
            enc = "latin-1" if stem in plan.latin1 else encoding
            delim = plan.delimiter.get(stem, ";")
            rows = write_csv(path, chunks, delimiter=delim, encoding=enc)
            files.append({"file": path.name, "extract": ex.name, "year": year, "format": fmt,
                          "encoding": None if stem in plan.latin1 else enc,
                          "delimiter": None if stem in plan.delimiter else delim, "rows": rows, "key": key})
        else:
            rows = write_parquet(path, stem, chunks)
            files.append({"file": path.name, "extract": ex.name, "year": year, "format": fmt, "rows": rows, "key": key})
        return rows

    def one(build):
        yield build()

    gc001, care_infos, flags = [], [], []

    def care_chunks():
        for contacts, gc, info in care_contact_chunks(gt, physical):
            gc001.append(gc)
            care_infos.append(info)
            yield contacts

    def agi():
        for df, f in agi_chunks(gt, physical):
            flags.append(f)
            yield df

    survey_truth = {}
    survey_cells = []  # the frame (enkat_urval), written after the survey

    def survey_frame():
        df, cells, t = survey(gt)
        survey_truth.update(t)
        survey_cells.append(cells)
        return df

    builders = [(f"scb_lisa_{y}", one(lambda y=y: lisa_year(gt, y, physical))) for y in gt.window.lisa_years] + (
        [(BACKGROUND_STEM, one(variants.background))] if variants.enabled else []) + [
        ("scb_dodsorsak", one(lambda: deaths(gt, physical))),
        ("scb_migrationer", one(lambda: migrations(gt))),
        ("fk_midas_sjukpenning", one(lambda: sickness_benefit(gt))),
        ("fk_midas_ersattning", one(lambda: compensation(gt))),
        ("fk_samverkan", one(lambda: collaboration_events(gt, physical))),
        ("vard_kontakter", care_chunks()),
        ("af_inskrivning", one(lambda: registrations(gt, physical))),
        ("skv_agi_manad", agi()),
        ("enkat_samverkan", one(survey_frame)),
    ] + ([(FRAME_STEM, one(lambda: survey_cells[0]))] if variants.enabled else [])  # optional, as scb_bakgrund
    with step(f"building and writing {len(builders)} files to {out_dir}" + (" with faults" if faults else "")):
        for stem, chunks in builders:
            write(stem, chunks)
    care_info = merge_info(care_infos)
    fault_truth = injector.truth() if injector else None
    order = [e.name for e in EXTRACTS]
    files.sort(key=lambda f: (order.index(f["extract"]), f["year"] or 0))
    name = f"koord-synth-n{persons}-seed{seed}" + ("-faults" if faults else "")
    (out_dir / "manifest.toml").write_text(manifest_toml(name, extraction_date, files), encoding="utf-8")

    with step("computing the truth"):
        lab = follow_relapse_chains(labelled_spells(gt, outcomes).join(pl.concat(flags), on="spell_row", how="left")
                                    .join(pl.concat(gc001), on="spell_row", how="left"))
        truth = _truth(gt, lab, rules, files, care_info, survey_truth, fault_truth, seed, persons, fmt, encoding)
        truth["variants"] = {"names": names, **variants.truth()}
        truth["survey"] = {**survey_truth, "frame_delivered": variants.enabled}
        truth["collaboration"] = collaboration_parameters(seed)  # issue 13: the planted FK/AF collaboration model
        # issue 14: the counts under every relapse rule (truth["counts"] is the study's own rule)
        truth["counts_by_relapse_rule"] = {
            rule: counts(labelled_spells(gt, outcomes if rule == rules.relapse
                                         else spell_outcomes(gt, replace(rules, relapse=rule))))
            for rule in RELAPSE_RULES}
        truth["scenarios"] = truth_for_delivery(gt, outcomes, ScenarioRules(entry_day=rules.min_spell_days))  # issue 15: the scenarios' true shares back at work
        _truth_spells(gt, lab).write_parquet(truth_path.parent / TRUTH_SPELLS_FILE)
        truth_path.write_text(json.dumps(truth, indent=2, ensure_ascii=False), encoding="utf-8")
    say(f"  truth: {truth_path} (+ {TRUTH_SPELLS_FILE})")
    return truth


def _earnings_confirmed(lab: pl.DataFrame) -> dict:
    inc = lab.filter(pl.col("is_included"))
    confirmed = inc.with_columns(
        end_reason=pl.when((pl.col("end_reason") == "return_to_work") & ~pl.col("is_paid_month_after").fill_null(False))
        .then(pl.lit("censored")).otherwise(pl.col("end_reason")))
    return {r: int(n) for r, n in confirmed.group_by("end_reason").len().sort("end_reason").iter_rows()}


def _truth(gt, lab, rules, files, care_info, survey_truth, fault_truth, seed, persons, fmt, encoding) -> dict:
    params = gt.params
    region_codes = [r.code for r in regions()]
    c = counts(lab)
    c["end_reason_earnings_confirmed"] = _earnings_confirmed(lab)
    c["gc001_outside_spells"] = care_info["gc001_outside_spells"]
    # AW026 within follow-up of the studied spells (as spells.n_aw026 counts them).
    inc = lab.filter(pl.col("is_included"))
    c["aw026_contacts"] = int(inc["n_aw026"].sum())
    c["spells_with_aw026"] = int((inc["n_aw026"] > 0).sum())
    no_faults = {"injected": False, "rates": {}, "rows": {}, "totals": {},
                 "files": {"latin1": [], "delimiter": {}, "extra_columns": {}, "yyyymmdd_whole_file": []}}
    return {
        "generator": "koord synth",
        "seed": seed,
        "n_persons": persons,
        "window": {"first_year": gt.window.first_year, "last_year": gt.window.last_year,
                   "extraction_date": gt.window.extraction_date.isoformat(),
                   "lisa_years": list(gt.window.lisa_years)},
        "format": fmt,
        "encoding": encoding,
        "sizes": {"persons": persons, "spells_in_delivery": int(lab.height),
                  "benefit_periods": int(gt.periods.height), "files": {f["file"]: f["rows"] for f in files}},
        "parameters": {
            **params.to_dict(),
            "region_u": {code: float(u) for code, u in zip(region_codes, gt.region_u)},
            "survey": survey_truth,
        },
        "coordination_effect": chapter_hazard_ratios(params),
        "region_effects": region_effects_truth(gt),
        "study": {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(rules).items()},
        "counts": c,
        "calibration": calibration(lab),
        "care": care_info,
        "faults": {"injected": True, **fault_truth} if fault_truth else no_faults,
        "model": model_module.__doc__,
        "spells_file": TRUTH_SPELLS_FILE,
    }


def region_effects_truth(gt) -> dict:
    """truth.json's ``region_effects``: the planted u (coordination) and v (return to work) per region.

    ``variance`` is the sample variance (ddof = 1) of the 21 planted values, outliers included:
    the between-region variance a random-intercept model of these regions estimates.
    """
    region_codes = [r.code for r in regions()]
    params = gt.params

    def one(scale: str, sd: float, values, outliers) -> dict:
        return {"scale": scale, "sd": float(sd), "values": {c: float(x) for c, x in zip(region_codes, values)},
                "variance": float(np.var(np.asarray(values, float), ddof=1)), "outliers": sorted(outliers)}

    return {
        "coordination": one("log hazard of the first GC001 (day 0 on)", params.coordination_region_sd, gt.region_u,
                            params.coordination_region_outliers),
        "return_to_work": one("log hazard of return to work", params.return_to_work_region_sd, gt.region_v,
                              params.return_to_work_region_outliers),
    }


def _truth_spells(gt, lab: pl.DataFrame) -> pl.DataFrame:
    """One row per spell of the delivery with its true covariates, event times and outcome."""
    region_codes = [r.code for r in regions()]
    def date_col(name):
        return pl.col(name).cast(pl.Int32).cast(pl.Date)
    return lab.select(
        pl.Series("LopNr", gt.lopnr[lab["person"].to_numpy()]),
        "spell_index",
        date_col("start_day").alias("spell_start_date"),
        date_col("spell_last_day").alias("spell_last_date"),
        date_col("end_day").alias("end_date"),
        "end_reason", "spell_days", "followup_days", "is_open", "is_included", "is_relapse_within_window",
        "is_relapse_continuation", "n_relapse_spells",
        "is_coordinated", "is_coordinated_in_followup",
        pl.col("t_c_followup").cast(pl.Int64).alias("days_to_first_gc001"),
        "n_gc001",
        pl.col("first_gc001_region").replace_strict(dict(enumerate(region_codes)), default=None).alias("first_gc001_region_code"),
        pl.col("first_gc001_care_level").replace_strict(dict(enumerate(CARE_LEVELS)), default=None).alias("first_gc001_care_level"),
        date_col("first_dv077_day").alias("first_dv077_date"),
        date_col("first_aw026_day").alias("first_aw026_date"),
        (pl.col("first_aw026_day") - pl.col("start_day")).alias("days_to_first_aw026"),
        "n_aw026",
        "sex", "age_years", "age_group", "diagnosis_code", "diagnosis_group", "diagnosis_chapter_group",
        "occupation_status", "extent_at_start_pct", "has_prior_sick_leave", "prior_sick_days_365", "education_group",
        "is_born_in_sweden",
        pl.col("home_region").replace_strict(dict(enumerate(region_codes))).alias("home_region_code"),
        "main_care_level", "eta",
        pl.Series("u_region", gt.region_u[lab["home_region"].to_numpy()]),
        pl.Series("v_region", gt.region_v[lab["home_region"].to_numpy()]),
        "entry_day", "T_c", "T_r", "T_d", "T_e", "T_sa",
        pl.col("cause").replace_strict(dict(enumerate(CAUSES))).alias("latent_cause"),
        "is_latent_recovery", "is_paid_month_after", "is_month_after_delivered",
        date_col("age_65_day").alias("age_65_date"),
    )

