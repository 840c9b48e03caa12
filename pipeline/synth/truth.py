"""The truth of a synthetic delivery: spell outcomes under a study definition, counts and truth.json.

Counts come from the generator's own ground-truth spells, never from re-reading files. The
rules mirror the study definition (`data_schemas.study.Study`, defaults = ``study.toml``):

- a spell is studied if its first day is within [spell_start_from, spell_start_to], the age
  at start (year(start) - birth year) within [age_min_years, age_max_years] and its length
  (last benefit day - first day + 1, open spells to the extraction date) > min_spell_days;
- coordinated = the first GC001 falls within the spell's follow-up [first day, end_date]
  (the exposure rule: a GC001 after death or emigration is not exposure);
- end reason: a competing event (death on its date, emigration on its date, SA/AE start the
  day before, the 65th birthday = 1 July of birth year + 65 on that day) recorded by the
  extraction date and falling during the spell or within the relapse window after its last
  day ends follow-up (``end_date = min(event date, last day)``); ties go death > emigration >
  sickness_compensation > age_65. Otherwise an open spell is censored at extraction; a spell
  followed by a new spell within the window is censored on its last day (relapse); one whose
  window passes the extraction date is censored on its last day; every other spell is a
  return_to_work on its last day.
- the relapse rule (``[outcome] relapse``): the above is 'censor'. 'event' drops the relapse
  censoring (the spell's end is a return to work all the same). 'continue' (the default) follows
  a studied spell through its relapse chain (each next spell starting within the window after the
  last day): competing events during a spell of the chain end follow-up on their date, in a gap
  between two of its spells or within the window after the chain's last spell on the last day
  before them; the return to work is the end of the chain's last spell; the chain's later studied
  spells are not analysed (``is_relapse_continuation``, not ``is_included``), and the first GC001
  is the first of any spell of the chain within the follow-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from data_schemas.codes import chapter_group_of
from data_schemas.study import Study
from pipeline.synth import dates as dt
from pipeline.synth.frames import lookup
from pipeline.synth.model import AGE_GROUPS, CARE_LEVELS, CHAPTER_GROUPS, DIAGNOSIS_GROUPS, EDUCATION_GROUPS, OCCUPATIONS
from pipeline.synth.simulate import CAUSES, EXTENTS, GroundTruth

END_REASONS = ("return_to_work", "sickness_compensation", "death", "emigration", "age_65", "censored")
COMPETING = ("death", "emigration", "sickness_compensation", "age_65")  # in order of precedence


@dataclass(frozen=True)
class StudyRules:
    """The parts of the study definition the truth counts depend on."""

    spell_start_from: date
    spell_start_to: date
    age_min_years: int
    age_max_years: int
    min_spell_days: int
    relapse_window_days: int
    relapse: str = "continue"

    @classmethod
    def default(cls) -> "StudyRules":
        s = Study()
        return cls(s.spell_start_from, s.spell_start_to, s.age_min_years, s.age_max_years, s.min_spell_days,
                   s.relapse_window_days, s.relapse)


def spell_outcomes(gt: GroundTruth, rules: StudyRules | None = None) -> pl.DataFrame:
    """One row per ground-truth spell with inclusion, coordination and end reason under the study's rules.

    Columns added to ``gt.spells``: ``spell_last_day`` (last benefit day in the delivery),
    ``is_open``, ``spell_days``, ``is_included`` (studied and, under the relapse rule 'continue',
    not part of an earlier studied spell's follow-up), ``is_relapse_continuation`` (that part),
    ``is_coordinated`` (first GC001 within the spell), ``is_relapse_within_window``,
    ``next_start_day``, ``n_relapse_spells`` (later spells of the chain under 'continue'),
    ``followup_of`` (row of the analysed spell whose follow-up holds this spell's days, -1 if
    none), ``end_reason``, ``end_day``, ``followup_days``, ``t_c_followup`` (day index of the first
    GC001 of the follow-up, chain included; NaN if none), ``is_coordinated_in_followup``
    (t_c_followup < followup_days) and ``is_latent_recovery`` (the recovery happened first and was
    recorded: the event of the planted hazard model).
    """
    rules = rules or StudyRules.default()
    E = gt.window.extraction_day
    W = rules.relapse_window_days
    sp = gt.spells
    persons = gt.persons
    person = sp["person"].to_numpy()
    n = len(person)
    s = sp["start_day"].to_numpy()
    L = sp["last_day"].to_numpy()
    by = persons["birth_year"].to_numpy()[person]
    is_open = L > E
    last_in_file = np.minimum(L, E)
    spell_days = last_in_file - s + 1
    age = dt.years(s) - by
    studied = (
        (s >= dt.day(rules.spell_start_from)) & (s <= dt.day(rules.spell_start_to))
        & (age >= rules.age_min_years) & (age <= rules.age_max_years) & (spell_days > rules.min_spell_days)
    )
    t_c = sp["t_c"].to_numpy()
    coordinated = t_c <= (last_in_file - s)
    big = np.iinfo(np.int64).max // 4
    # The next spell of the same person; a relapse links a spell to it (relapse chains).
    same_next = np.append(person[1:] == person[:-1], False)
    next_start = np.where(same_next, np.append(s[1:], 0), big)
    relapse = ~is_open & (next_start - L <= W)
    chain = np.cumsum(np.append(True, ~relapse[:-1]))  # chain number, per spell in order
    chain_first = np.searchsorted(chain, chain, side="left")
    chain_last = np.searchsorted(chain, chain, side="right") - 1
    studied_before = np.cumsum(studied) - studied - np.append(0, np.cumsum(studied))[chain_first]
    continuation = studied & (studied_before > 0) if rules.relapse == "continue" else np.zeros(n, bool)
    included = studied & ~continuation
    last_seg = chain_last if rules.relapse == "continue" else np.arange(n)  # last spell each spell's follow-up may reach
    # Competing events (their dates as recorded by the extraction date) of each spell's person.
    exit_day = persons["exit_day"].to_numpy()[person]
    exit_cause = persons["exit_cause"].to_numpy()[person]
    sa_start = persons["compensation_start_day"].to_numpy()[person]
    a65 = dt.july_first(by + 65)
    cand = {
        "death": np.where(exit_cause == "death", exit_day, big),
        "emigration": np.where(exit_cause == "emigration", exit_day, big),
        "sickness_compensation": np.where(sa_start >= 0, sa_start - 1, big),
        "age_65": a65,
    }
    recorded = {
        "death": cand["death"] <= E, "emigration": cand["emigration"] <= E,
        "sickness_compensation": np.where(sa_start >= 0, sa_start <= E, False), "age_65": a65 <= E,
    }
    end_c = np.full(n, big)
    reason_c = np.full(n, -1)
    end_seg = np.arange(n)  # the spell (row) of the follow-up that holds its end
    rows = np.arange(n)
    for offset in range(int((last_seg - rows).max(initial=0)) + 1):
        k = rows + offset  # the offset-th spell of each spell's follow-up
        live = (k <= last_seg) & (end_c == big)  # an earlier spell's event ended the follow-up already
        k = np.minimum(k, n - 1)
        is_last = k == last_seg
        # events after the last day count within the window, but before the chain's next spell
        horizon = np.where(is_open[k], E, np.where(is_last, L[k] + W, np.minimum(L[k] + W, next_start[k] - 1)))
        for rank, c in enumerate(COMPETING):
            counts = live & recorded[c] & (cand[c] >= s[k]) & (cand[c] <= horizon)
            e = np.where(counts, np.minimum(cand[c], last_in_file[k]), big)
            better = e < end_c  # strict: an earlier-listed cause wins ties
            end_c = np.where(better, e, end_c)
            reason_c = np.where(better, rank, reason_c)
            end_seg = np.where(better, k, end_seg)
    has_comp = reason_c >= 0
    reason = np.where(has_comp, np.array(COMPETING, dtype=object)[np.maximum(reason_c, 0)], "")
    end_day = np.where(has_comp, end_c, 0)
    rest = ~has_comp
    end_seg = np.where(rest, last_seg, end_seg)
    final_open = is_open[last_seg]
    final_last = L[last_seg]
    reason = np.where(rest & final_open, "censored", reason)
    end_day = np.where(rest & final_open, E, end_day)
    closed = rest & ~final_open
    censored_by_relapse = relapse if rules.relapse == "censor" else np.zeros(n, bool)
    rtw = closed & ~censored_by_relapse & (final_last + W <= E)
    reason = np.where(closed, np.where(rtw, "return_to_work", "censored"), reason)
    end_day = np.where(closed, final_last, end_day)
    followup = end_day - s + 1
    # The first GC001 of the follow-up: of the first spell of the chain coordinated within it.
    first_gc = np.full(n, big)
    for offset in range(int((end_seg - rows).max(initial=0)) + 1):
        k = np.minimum(rows + offset, n - 1)
        day = np.where((rows + offset <= end_seg) & coordinated[k], s[k] + t_c[k], big)
        first_gc = np.minimum(first_gc, day)
    t_c_followup = np.where(first_gc < big, first_gc - s, np.nan)
    n_relapse_spells = chain_last - rows if rules.relapse == "continue" else np.zeros(n, np.int64)
    # Which analysed spell's follow-up holds each spell's days: itself, or under 'continue' the
    # studied spell its chain is followed from (for the later spells of the chain up to the end).
    head_of_chain = np.full(int(chain.max(initial=0)) + 1, -1)
    head_of_chain[chain[included]] = rows[included]
    head = head_of_chain[chain] if rules.relapse == "continue" else np.where(included, rows, -1)
    reached = (head >= 0) & (rows >= head) & (rows <= end_seg[np.maximum(head, 0)])
    followup_of = np.where(reached, head, -1)
    cause = sp["cause"].to_numpy()
    latent_recovery = (cause == CAUSES.index("recovery")) & ~is_open & (a65 > L) & ~sp["is_relapse_break"].to_numpy()
    return sp.with_columns(
        spell_last_day=pl.Series(last_in_file), is_open=pl.Series(is_open), spell_days=pl.Series(spell_days),
        is_included=pl.Series(included), is_relapse_continuation=pl.Series(continuation),
        is_coordinated=pl.Series(coordinated),
        is_relapse_within_window=pl.Series(relapse), next_start_day=pl.Series(next_start),
        n_relapse_spells=pl.Series(n_relapse_spells.astype(np.int64)), followup_of=pl.Series(followup_of),
        end_reason=pl.Series(reason.astype(str)), end_day=pl.Series(end_day), followup_days=pl.Series(followup),
        t_c_followup=pl.Series(t_c_followup).fill_nan(None),
        is_coordinated_in_followup=pl.Series(np.nan_to_num(t_c_followup, nan=np.inf) < followup), is_latent_recovery=pl.Series(latent_recovery),
        age_65_day=pl.Series(a65),
    )


def follow_relapse_chains(lab: pl.DataFrame) -> pl.DataFrame:
    """Each analysed spell's per-spell register truths gathered over its follow-up's spells (``followup_of``).

    The generator records each spell on its own (contacts, pay); under the relapse rule
    'continue' a studied spell's follow-up also holds the later spells of its chain, so its
    counts (``n_gc001``, ``n_aw026``) are summed over them, its first dates (GC001 region and
    care level, DV077, AW026) are those of the earliest, and its pay after the end
    (``is_paid_month_after``, ``is_month_after_delivered``) is that of the last. Under 'censor'
    and 'event' each spell's follow-up is its own and nothing changes.
    """
    chained = lab.filter((pl.col("followup_of") >= 0) & (pl.col("followup_of") != pl.col("spell_row")))
    if chained.height == 0:
        return lab
    per_spell = ("n_gc001", "first_gc001_region", "first_gc001_care_level", "first_dv077_day", "n_aw026",
                 "first_aw026_day", "is_paid_month_after", "is_month_after_delivered")
    parts = lab.filter(pl.col("followup_of") >= 0).sort("spell_row")
    gathered = parts.group_by("followup_of").agg(
        pl.col("n_gc001").sum(),
        pl.col("first_gc001_region").drop_nulls().first(),
        pl.col("first_gc001_care_level").drop_nulls().first(),
        pl.col("first_dv077_day").min(),
        pl.col("n_aw026").sum(),
        pl.col("first_aw026_day").min(),
        pl.col("is_paid_month_after").last(),
        pl.col("is_month_after_delivered").last(),
    ).rename({"followup_of": "spell_row", **{c: f"{c}_followup" for c in per_spell}})
    joined = lab.join(gathered.with_columns(pl.col("spell_row").cast(lab["spell_row"].dtype), _head=pl.lit(True)),
                      on="spell_row", how="left")
    return joined.with_columns(
        [pl.when(pl.col("_head")).then(pl.col(f"{c}_followup")).otherwise(pl.col(c)).alias(c) for c in per_spell]
    ).select(lab.columns)


def labelled_spells(gt: GroundTruth, outcomes: pl.DataFrame) -> pl.DataFrame:
    """Outcomes with readable labels (sex, groups, codes) for tests, truth files and analyses."""
    def lab(values, col):
        return lookup(values, outcomes[col].to_numpy(), col)

    return outcomes.with_columns(
        sex=lookup(("man", "woman"), outcomes["is_woman"].to_numpy().astype(np.int64)),
        diagnosis_code=lookup(gt.codes["code"].to_list(), outcomes["code_id"].to_numpy()),
        diagnosis_group=lab(DIAGNOSIS_GROUPS, "diagnosis_group"),
        diagnosis_chapter_group=lab(CHAPTER_GROUPS, "chapter_group"),
        age_group=lab(AGE_GROUPS, "age_group"),
        occupation_status=lab(OCCUPATIONS, "occupation"),
        education_group=lab(EDUCATION_GROUPS, "education_group"),
        main_care_level=lab(CARE_LEVELS, "care_level"),
        extent_at_start_pct=pl.Series(np.array(EXTENTS).astype(np.int64)[outcomes["extent_at_start"].to_numpy()]),
    )


def _count(df: pl.DataFrame) -> dict:
    reasons = dict(zip(*df.group_by("end_reason").len().sort("end_reason").to_dict(as_series=False).values()))
    return {
        "persons": int(df["person"].n_unique()),
        "spells": int(df.height),
        # Exposure counts within follow-up (a GC001 after death or emigration is not exposure).
        "coordinated_spells": int(df["is_coordinated_in_followup"].sum()),
        "end_reason": {r: int(reasons.get(r, 0)) for r in END_REASONS},
        "relapse_within_window": int(df["is_relapse_within_window"].sum()),
    }


def counts(labelled: pl.DataFrame) -> dict:
    """Counts under the study definition, overall, by sex and by chapter group."""
    inc = labelled.filter(pl.col("is_included"))
    out = _count(inc)
    out["by_sex"] = {sx: _count(inc.filter(pl.col("sex") == sx)) for sx in ("woman", "man")}
    out["by_chapter_group"] = {c: _count(inc.filter(pl.col("diagnosis_chapter_group") == c)) for c in CHAPTER_GROUPS}
    out["by_diagnosis_group"] = {g: _count(inc.filter(pl.col("diagnosis_group") == g)) for g in DIAGNOSIS_GROUPS}
    out["all_spells_in_delivery"] = int(labelled.height)
    out["coordinated_in_first_90_days"] = int((inc["is_coordinated_in_followup"] & (inc["t_c_followup"] <= 89)).sum())
    return out


def calibration(labelled: pl.DataFrame) -> dict:
    """Realised values of the calibration targets among studied spells (with the targets)."""
    # the delivery's spells as such: a relapse continuing an earlier spell is a studied spell too
    inc = labelled.filter(pl.col("is_included") | pl.col("is_relapse_continuation"))
    long = inc.filter(pl.col("spell_days") > 90)
    women_persons = inc.group_by("person").agg(pl.col("is_woman").first())["is_woman"].mean()
    grp_long = long.group_by("diagnosis_group").len().sort(["len", "diagnosis_group"], descending=[True, False])
    med = inc.filter(~pl.col("is_open")).group_by("diagnosis_group").agg(pl.col("spell_days").median()).sort("diagnosis_group")
    occ = inc.group_by("occupation_status").len().sort("occupation_status")
    return {
        "share_women_persons": {"value": float(women_persons), "target": [0.62, 0.65]},
        "share_psychiatric_long_spells": {"value": float((long["diagnosis_chapter_group"] == "psychiatric").mean()),
                                          "target": "about 0.5 (spells > 90 days)"},
        "share_musculoskeletal_long_spells": {"value": float((long["diagnosis_chapter_group"] == "musculoskeletal").mean()),
                                              "target": [0.15, 0.20]},
        "largest_diagnosis_group_long_spells": {"value": grp_long["diagnosis_group"][0] if grp_long.height else None,
                                                "target": "stress"},
        "share_coordinated": {"value": float(inc["is_coordinated"].mean()), "target": [0.15, 0.25]},
        "median_spell_days_closed": {"value": dict(zip(med["diagnosis_group"], med["spell_days"].cast(float))),
                                     "target": "psychiatric 100-150, back pain ~40, injuries ~60, respiratory short"},
        "share_occupation": {"value": {o: float(n / inc.height) for o, n in zip(occ["occupation_status"], occ["len"])},
                             "target": {"ANST": 0.80, "ARBL": 0.10, "EGEN": 0.04, "OVR": 0.06}},
    }


def chapter_hazard_ratios(params) -> dict:
    return {
        "hazard_ratio_by_chapter_group": {c: params.coordination_hr[c] for c in CHAPTER_GROUPS},
        "log_hazard_ratio_by_chapter_group": {c: params.coordination_log_hr(c) for c in CHAPTER_GROUPS},
        "hazard_ratio_by_diagnosis_group": {g: params.coordination_hr[chapter_group_of(g)] for g in DIAGNOSIS_GROUPS},
    }
