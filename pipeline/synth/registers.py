"""Register extracts derived from the ground truth: LISA, deaths, migrations, MiDAS, FK events, AF.

Each builder returns one extract as delivered (contract columns in order, dates as
``YYYY-MM-DD`` text, integers as Int64), free of natural exact duplicates.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from data_schemas.codes import codes as code_values
from data_schemas.codes import regions
from data_schemas.extracts import extract
from pipeline.synth import dates as dt
from pipeline.synth.frames import in_contract_order, iso, lookup
from pipeline.synth.model import DIAGNOSIS_GROUPS, OCCUPATIONS
from pipeline.synth.simulate import ANST, ARBL, EXTENTS, GroundTruth, rng_for

REGION_CODES = [r.code for r in regions()]
EGEN = OCCUPATIONS.index("EGEN")


def _sex_code(is_woman: np.ndarray) -> np.ndarray:
    return np.where(is_woman, "2", "1")  # Kon: 1 man, 2 kvinna


# --- LISA --------------------------------------------------------------------------------

def lisa_year(gt: GroundTruth, year: int, spells: pl.DataFrame) -> pl.DataFrame:
    """``scb_lisa_<year>``: persons alive, resident on 31 December and aged 16+."""
    p = gt.persons
    by = p["birth_year"].to_numpy()
    year_end = int(dt.year_start(year + 1)) - 1
    present = (year - by >= 16) & (p["exit_day"].to_numpy() > year_end)
    idx = np.flatnonzero(present)
    rng = rng_for(gt.seed, "lisa", year)
    yi = year - gt.window.region_years.start
    region = gt.region_by_year[idx, yi]
    muni = gt.municipality_by_year[idx, yi]
    occ = p["occupation"].to_numpy()[idx]
    # Employment in November: by occupation, and not on full compensation.
    on_comp = (p["compensation_start_day"].to_numpy()[idx] >= 0) & (p["compensation_start_day"].to_numpy()[idx] <= year_end)
    employed_p = np.array([0.93, 0.12, 0.90, 0.25])[occ]
    employed = (rng.random(len(idx)) < employed_p) & ~on_comp
    # Disposable income (hundreds of SEK): occupation level, person effect (stable), growth, noise.
    person_effect = rng_for(gt.seed, "lisa", 0).normal(0.0, 0.30, size=p.height)[idx]  # stable across years
    level = np.array([2650.0, 1450.0, 2300.0, 1250.0])[occ]
    income = level * np.exp(person_effect + rng.normal(0.0, 0.10, size=len(idx))) * 1.025 ** (year - 2017)
    income = np.where(on_comp, income * 0.75, income)
    negative = (occ == EGEN) & (rng.random(len(idx)) < 0.02)
    income = np.where(negative, -rng.integers(1, 300, size=len(idx)), np.round(income)).astype(np.int64)
    edu = p["education_level"].to_numpy()[idx]
    df = pl.DataFrame({
        "LopNr": gt.lopnr[idx],
        "Kon": _sex_code(p["is_woman"].to_numpy()[idx]),
        "FodelseAr": by[idx],
        "Lan": lookup(REGION_CODES, region),
        "Kommun": pl.Series(muni).cast(pl.Utf8).str.zfill(4),
        "Sun2000Niva": pl.Series(np.where(edu > 0, edu, -1)).cast(pl.Utf8).replace("-1", None),
        "DispInkPersF04": income,
        "SyssStat": np.where(employed, "1", "5"),
        "FodGrEg4": p["birth_region"].to_numpy()[idx].astype(str),
    })
    return in_contract_order(df, extract("scb_lisa"))


# --- deaths and migrations -------------------------------------------------------------------

_UNDERLYING_BY_GROUP = {
    "neoplasms": None,  # the neoplasm itself
    "circulatory": ["I219", "I639", "I251", "I500"],
    "depression": ["X700", "X609", "F100"], "other_psychiatric": ["X700", "F102", "X420"],
    "stress": ["X700", "I219", "C349"], "anxiety": ["X700", "I219"],
}
_UNDERLYING_BACKGROUND = ["I219", "I251", "C349", "C509", "C189", "J441", "I639", "X599", "V892", "K703", "E119", "G309"]


def deaths(gt: GroundTruth, spells: pl.DataFrame) -> pl.DataFrame:
    p = gt.persons
    E = gt.window.extraction_day
    dead = (p["exit_cause"] == "death").to_numpy() & (p["exit_day"].to_numpy() <= E)
    idx = np.flatnonzero(dead)
    rng = rng_for(gt.seed, "deaths")
    day = p["exit_day"].to_numpy()[idx]
    last = spells.group_by("person").agg(pl.col("last_day").last(), pl.col("diagnosis_group").last(),
                                         pl.col("code_id").last()).sort("person")
    last_day = last["last_day"].to_numpy()[idx]
    grp = last["diagnosis_group"].to_numpy()[idx]
    cid = last["code_id"].to_numpy()[idx]
    codes = gt.codes["code"].to_list()
    cause = np.array(_UNDERLYING_BACKGROUND, dtype=object)[rng.integers(0, len(_UNDERLYING_BACKGROUND), size=len(idx))]
    in_spell = day == last_day
    for g, opts in _UNDERLYING_BY_GROUP.items():
        sel = in_spell & (grp == DIAGNOSIS_GROUPS.index(g))
        if opts is None:
            cause[sel] = np.array(codes, dtype=object)[cid[sel]]
        else:
            cause[sel] = np.array(opts, dtype=object)[rng.integers(0, len(opts), size=int(sel.sum()))]
    cause[rng.random(len(idx)) < 0.03] = None
    date_txt = iso(day)
    unknown = p["death_day_unknown"].to_numpy()[idx]
    date_txt = pl.select(pl.when(pl.Series(unknown)).then(date_txt.str.slice(0, 8) + "00").otherwise(date_txt)).to_series()
    # a list, not the object array: polars 2.1 cannot cast an object array whose first value is None
    df = pl.DataFrame({"LopNr": gt.lopnr[idx], "DodDatum": date_txt, "UlOrsak": pl.Series(cause.tolist(), dtype=pl.Utf8)})
    return in_contract_order(df, extract("scb_dodsorsak"))


def migrations(gt: GroundTruth) -> pl.DataFrame:
    """Emigrations of the study period, immigrations of the foreign-born and older round trips."""
    p = gt.persons
    E = gt.window.extraction_day
    rng = rng_for(gt.seed, "deaths", 1)
    n = p.height
    by = p["birth_year"].to_numpy()
    emig = (p["exit_cause"] == "emigration").to_numpy() & (p["exit_day"].to_numpy() <= E)
    frames = [(np.flatnonzero(emig), p["exit_day"].to_numpy()[emig], "Utv")]
    cutoff = int(dt.year_start(gt.window.first_year - 1)) - 1
    foreign = (p["birth_region"].to_numpy() != 1) & (rng.random(n) < 0.6)
    lo = np.maximum(dt.year_start(by + 1), dt.year_start(1970))
    inv_day = lo + np.floor(rng.random(n) * np.maximum(cutoff - lo, 1)).astype(np.int64)
    frames.append((np.flatnonzero(foreign), inv_day[foreign], "Inv"))
    # Swedish-born who lived abroad for a while before the period: Utv then Inv.
    trip = (p["birth_region"].to_numpy() == 1) & (rng.random(n) < 0.02) & (by + 20 < gt.window.first_year - 3)
    out_day = dt.year_start(by + 20) + np.floor(rng.random(n) * np.maximum(dt.year_start(gt.window.first_year - 3) - dt.year_start(by + 20), 1)).astype(np.int64)
    back_day = np.minimum(out_day + rng.integers(90, 1500, size=n), cutoff)
    frames.append((np.flatnonzero(trip), out_day[trip], "Utv"))
    frames.append((np.flatnonzero(trip), back_day[trip], "Inv"))
    person = np.concatenate([f[0] for f in frames])
    day = np.concatenate([f[1] for f in frames])
    kind = np.concatenate([np.full(len(f[0]), f[2]) for f in frames])
    order = np.lexsort((day, person))
    df = pl.DataFrame({"LopNr": gt.lopnr[person[order]], "Datum": iso(day[order]), "Posttyp": kind[order]}).unique(maintain_order=True)
    return in_contract_order(df, extract("scb_migrationer"))


# --- Försäkringskassan -----------------------------------------------------------------------

def sickness_benefit(gt: GroundTruth) -> pl.DataFrame:
    """``fk_midas_sjukpenning`` from the benefit periods (canonical diagnosis codes)."""
    per = gt.periods
    codes = gt.codes["code"].to_list()
    df = pl.DataFrame({
        "LopNr": gt.lopnr[per["person"].to_numpy()],
        "Formankod": per["benefit"],
        "FomDatum": iso(per["fom_day"]),
        "TomDatum": iso(per["tom_day"]),
        "Omfattning": lookup(EXTENTS, per["extent"].to_numpy()),
        "Diagnos": lookup(codes, per["code_id"].to_numpy()),
        "Sysselsattning": lookup(OCCUPATIONS, per["occupation"].to_numpy()),
        "InsjuknandeDatum": iso(per["sick_start_day"]),
    })
    return in_contract_order(df, extract("fk_midas_sjukpenning"))


def compensation(gt: GroundTruth) -> pl.DataFrame:
    """``fk_midas_ersattning``: SA (AE below 30) from the day after a spell ended for it."""
    p = gt.persons
    start = p["compensation_start_day"].to_numpy()
    idx = np.flatnonzero(start >= 0)
    rng = rng_for(gt.seed, "fk", 1)
    age = dt.years(start[idx]) - p["birth_year"].to_numpy()[idx]
    is_ae = age < gt.params.activity_compensation_below_age
    # AE is granted for at most three years at a time; SA runs on.
    tom = np.where(is_ae, start[idx] + 3 * 365 - 1, -1)
    tom = np.where(tom > gt.window.extraction_day, -1, tom)
    ext = rng.choice(len(EXTENTS), size=len(idx), p=[0.06, 0.14, 0.10, 0.70])
    df = pl.DataFrame({
        "LopNr": gt.lopnr[idx], "Formankod": np.where(is_ae, "AE", "SA"), "FomDatum": iso(start[idx]),
        "TomDatum": iso(tom, missing=tom < 0), "Omfattning": lookup(EXTENTS, ext),
    })
    return in_contract_order(df, extract("fk_midas_ersattning"))


# The planted collaboration model (issue 13), recorded in truth.json["collaboration"].
AF_LATE_P = 0.4  # share of the unemployed who register at AF only after their first spell starts
AF_HAZARD_PER_DAY = 1 / 120  # their hazard of registering from the spell's start, before coordination
AF_COORDINATION_HR = 2.0  # ... multiplied by this once the spell is coordinated (after day index t_c)
COLLAB_AVST_BASE = (0.55, 0.22)  # first-round AVST probability: coordinated, not coordinated (x region multiplier)
# coordinated spells' AVST: day t_c + U (U on 5..60) in the first round, t_c + U' + V (V on 60..149) in the
# second with probability 0.3; the first needs a span (last day index) >= 29, the second > 180
COLLAB_AVST_ROUNDS = ((5, 60), (60, 149), 0.3, 29, 180)
COLLAB_INFO4_P = 0.45  # probability of a 4 § information after the first GC001 (x region multiplier)
COLLAB_INFO4_MEAN_DELAY = 40.0  # delay D = 1 + floor(X), X ~ Exp(mean): P(D <= d) = 1 - exp(-d / mean)
COLLAB_REGION_SD = 0.3  # sd of the log region multiplier (AVST and INFO4 probabilities)
COLLAB_EMPLOYER_P, COLLAB_AF_P, COLLAB_AF_OTHER_P = 0.7, 0.6, 0.05  # participation at the national level
COLLAB_PARTICIPATION_SD = 0.6  # sd of a region's participation on the logit scale
COLLAB_MAX_P = 0.95


def _expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p):
    return np.log(p / (1 - p))


def collaboration_parameters(seed: int) -> dict:
    """The planted collaboration model of the delivery with ``seed`` (deterministic; its own random stream).

    ``region_multiplier``: each region's factor on the AVST and INFO4 probabilities (the
    probability is capped at ``max_probability``); ``employer_participation``: the probability
    that the employer takes part in an AVST of an employee or self-employed person (others: 0);
    ``af_participation``: that AF takes part in an AVST of an unemployed person (others:
    ``af_participation_other``); ``info4``: probability ``p`` (x multiplier) of a 4 § information
    after the first GC001 of a coordinated spell, on day index t_c + D, D = 1 + floor(X),
    X exponential with mean ``mean_delay_days``, so P(D <= d) = ``cdf[d]`` = 1 - exp(-d / mean).
    Events count only if dated within the spell's follow-up.
    """
    rng = rng_for(seed, "fk", 3)
    k = len(REGION_CODES)
    mult = np.exp(rng.normal(0.0, COLLAB_REGION_SD, size=k))
    emp = _expit(_logit(COLLAB_EMPLOYER_P) + rng.normal(0.0, COLLAB_PARTICIPATION_SD, size=k))
    af = _expit(_logit(COLLAB_AF_P) + rng.normal(0.0, COLLAB_PARTICIPATION_SD, size=k))
    return {
        "model": "AVST (first round) with probability avst_base[coordinated] x region multiplier; INFO4 after the "
                 "first GC001 with probability info4.p x multiplier, delay D = 1 + floor(Exp(mean)); employer "
                 "takes part by region among employed and self-employed; AF by region among the unemployed.",
        "region_codes": list(REGION_CODES),
        "region_multiplier": dict(zip(REGION_CODES, mult.tolist())),
        "max_probability": COLLAB_MAX_P,
        "avst_base": {"coordinated": COLLAB_AVST_BASE[0], "not_coordinated": COLLAB_AVST_BASE[1]},
        "employer_participation": dict(zip(REGION_CODES, emp.tolist())),
        "af_participation": dict(zip(REGION_CODES, af.tolist())),
        "af_participation_other": COLLAB_AF_OTHER_P,
        "af_registration": {
            "late_share": AF_LATE_P, "hazard_per_day": AF_HAZARD_PER_DAY, "coordination_hazard_ratio": AF_COORDINATION_HR,
            "model": "of the unemployed (first spell as unemployed), late_share register only after that spell starts: "
                     "continuous time X from its start with hazard hazard_per_day on (0, t_c], times "
                     "coordination_hazard_ratio after t_c (t_c = day index of the first GC001; never if not coordinated); "
                     "registration on day index ceil(X) (>= 1)"},
        "info4": {"p": COLLAB_INFO4_P, "mean_delay_days": COLLAB_INFO4_MEAN_DELAY,
                  "cdf": {str(d): float(1 - np.exp(-d / COLLAB_INFO4_MEAN_DELAY)) for d in (30, 60, 90, 180)}},
    }


def collaboration_events(gt: GroundTruth, spells: pl.DataFrame) -> pl.DataFrame:
    """``fk_samverkan``: AVST (more when coordinated), INFO4 after coordination, PLAN, AFKART.

    Rates and participation by home region and the GC001 -> INFO4 timing are planted
    (`collaboration_parameters`).
    """
    rng = rng_for(gt.seed, "fk", 2)
    planted = collaboration_parameters(gt.seed)
    s = spells["start_day"].to_numpy()
    span = spells["spell_last_day"].to_numpy() - s  # last day index within the delivery
    coord = spells["is_coordinated"].to_numpy()
    t_c = np.where(coord, spells["t_c"].to_numpy(), 0).astype(np.int64)
    occ = spells["occupation"].to_numpy()
    region = spells["home_region"].to_numpy()
    mult = np.array([planted["region_multiplier"][c] for c in REGION_CODES])[region]
    p_emp = np.array([planted["employer_participation"][c] for c in REGION_CODES])[region]
    p_af = np.array([planted["af_participation"][c] for c in REGION_CODES])[region]
    m = len(s)
    parts = []

    def add(mask, day_index, kind, vard=None, employer=None, af=None):
        ok = mask & (day_index >= 0) & (day_index <= span)
        sel = np.flatnonzero(ok)
        parts.append(pl.DataFrame({
            "spell": sel, "day": s[sel] + day_index[sel], "HandelseTyp": np.full(len(sel), kind),
            "DeltagVard": None if vard is None else np.where(vard[sel], "1", "0"),
            "DeltagArbetsgivare": None if employer is None else np.where(employer[sel], "1", "0"),
            "DeltagAF": None if af is None else np.where(af[sel], "1", "0"),
        }, schema={"spell": pl.Int64, "day": pl.Int64, "HandelseTyp": pl.Utf8, "DeltagVard": pl.Utf8,
                   "DeltagArbetsgivare": pl.Utf8, "DeltagAF": pl.Utf8}))

    for round_ in range(2):
        base = np.where(coord, COLLAB_AVST_BASE[0], COLLAB_AVST_BASE[1])
        (lo, hi), (lo2, hi2), p_second, span_first, span_second = COLLAB_AVST_ROUNDS
        p_avst = np.minimum(base * mult, COLLAB_MAX_P) if round_ == 0 else np.where(span > span_second, p_second, 0.0)
        day = np.where(coord, t_c + rng.integers(lo, hi + 1, size=m), rng.integers(30, 121, size=m)) + round_ * rng.integers(lo2, hi2 + 1, size=m)
        vard = rng.random(m) < np.where(coord, 0.85, 0.45)
        employer = (occ == ANST) | (occ == EGEN)
        employer = employer & (rng.random(m) < p_emp)
        af = rng.random(m) < np.where(occ == ARBL, p_af, COLLAB_AF_OTHER_P)
        add((span >= span_first) & (rng.random(m) < p_avst), day, "AVST", vard, employer, af)
    delay = 1 + np.floor(rng.exponential(COLLAB_INFO4_MEAN_DELAY, size=m)).astype(np.int64)
    add(coord & (rng.random(m) < np.minimum(COLLAB_INFO4_P * mult, COLLAB_MAX_P)), t_c + delay, "INFO4")
    add((occ == ANST) & (span >= 29) & (rng.random(m) < 0.55),
        np.clip(np.round(rng.normal(30, 7, size=m)), 14, None).astype(np.int64), "PLAN")
    add((occ == ARBL) & (span >= 59) & (rng.random(m) < 0.35), rng.integers(30, 151, size=m), "AFKART")
    ev = pl.concat(parts).sort(["spell", "day", "HandelseTyp"])
    person = spells["person"].to_numpy()[ev["spell"].to_numpy()]
    df = ev.with_columns(LopNr=pl.Series(gt.lopnr[person]), HandelseDatum=iso(ev["day"]))
    return in_contract_order(df, extract("fk_samverkan")).unique(maintain_order=True)


# --- Arbetsförmedlingen ------------------------------------------------------------------------

def registrations(gt: GroundTruth, spells: pl.DataFrame) -> pl.DataFrame:
    """``af_inskrivning``: the unemployed around their spells; some employees after a spell."""
    rng = rng_for(gt.seed, "af")
    E = gt.window.extraction_day
    exit_day = gt.persons["exit_day"].to_numpy()
    unemployed = spells.filter(pl.col("occupation") == ARBL).sort(["person", "start_day"]).group_by("person").agg(
        pl.col("start_day").min(), pl.col("spell_last_day").max(), pl.col("is_coordinated").first(),
        pl.col("t_c").first()).sort("person")
    pu = unemployed["person"].to_numpy()
    n = len(pu)
    inskr = unemployed["start_day"].to_numpy() - rng.integers(30, 600, size=n)
    avakt = unemployed["spell_last_day"].to_numpy() + rng.integers(0, 400, size=n)
    # Issue 13: a share registers only after the first spell starts, faster once coordinated (planted hazard ratio).
    late_rng = rng_for(gt.seed, "af", 2)
    late = late_rng.random(n) < AF_LATE_P
    t_c = np.where(unemployed["is_coordinated"].to_numpy(), unemployed["t_c"].to_numpy(), np.inf).astype(float)
    x = late_rng.exponential(1 / AF_HAZARD_PER_DAY, size=n)
    x = np.minimum(x, t_c) + np.maximum(x - t_c, 0.0) / AF_COORDINATION_HR  # hazard x HR after t_c
    first_start = unemployed["start_day"].to_numpy()
    inskr = np.where(late, first_start + np.maximum(np.ceil(x), 1).astype(np.int64), inskr)
    avakt = np.maximum(avakt, inskr + 30)
    avakt = np.minimum(avakt, exit_day[pu])
    cat = rng.choice(4, size=n, p=[0.70, 0.10, 0.15, 0.05])
    # Employees registering after a spell ended (job loss after sick leave).
    emp = spells.filter((pl.col("occupation") == ANST) & ~pl.col("is_open"))
    pick = rng.random(emp.height) < 0.04
    pe = emp["person"].to_numpy()[pick]
    ins2 = emp["spell_last_day"].to_numpy()[pick] + rng.integers(1, 300, size=int(pick.sum()))
    av2 = np.minimum(ins2 + rng.integers(30, 500, size=len(pe)), exit_day[pe])
    cat2 = rng.choice(4, size=len(pe), p=[0.75, 0.15, 0.07, 0.03])
    person = np.concatenate([pu, pe])
    ins = np.concatenate([inskr, ins2])
    av = np.concatenate([avakt, av2])
    cats = np.concatenate([cat, cat2])
    keep = (ins <= E) & (ins < exit_day[person]) & (av >= ins)
    person, ins, av, cats = person[keep], ins[keep], av[keep], cats[keep]
    # A person's registration periods never overlap: drop later ones that start before the previous ends.
    order = np.lexsort((ins, person))
    person, ins, av, cats = person[order], ins[order], av[order], cats[order]
    while True:
        overlaps = np.append(False, (person[1:] == person[:-1]) & (ins[1:] <= av[:-1]))
        if not overlaps.any():
            break
        first = overlaps & ~np.append(False, overlaps[:-1])  # drop one per run, then look again
        person, ins, av, cats = person[~first], ins[~first], av[~first], cats[~first]
    av = np.where(av > E, -1, av)
    order = np.arange(len(person))
    df = pl.DataFrame({
        "LopNr": gt.lopnr[person[order]], "InskrDatum": iso(ins[order]),
        "AvaktDatum": iso(av[order], missing=av[order] < 0),
        "SokandeKategori": lookup(code_values("jobseeker_category"), cats[order]),
    })
    return in_contract_order(df, extract("af_inskrivning")).unique(maintain_order=True)
