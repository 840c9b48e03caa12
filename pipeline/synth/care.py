"""Care contacts (``vard_kontakter``): certificates, follow-ups, GC001 coordination, DV077 plans, AW026.

Grain: one row per care contact. Spell contacts fall within the spell; the first GC001 of a
coordinated spell is on day ``t_c``, followed by 0-5 more during the spell. Background
contacts (no KVÅ code) and a few GC001 contacts outside every spell of the person and every gap
before a relapse (noise the cohort build must ignore) are added. Primary care gives about 65 % of the contacts.

AW026 (follow-up of the DV077 plan): of the spells with a DV077 plan, a share
``aw026_follow_up_share`` gets one AW026 contact ``aw026_gap_days`` (inclusive range) after the
first plan, and of those a share ``aw026_second_share`` a second one another such gap after
the first (`SynthParameters`); a follow-up after the spell's last day is not written. These
rows are drawn from their own stream (``rng_for(seed, "care_aw026", chunk)``) after every other
draw and only added, so in a delivery without faults every other row, file and planted value
is the same as without them (with ``--faults`` the fault stream, shared by the files, draws on
more ``vard_kontakter`` rows, so the faults of that and later files fall elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from data_schemas.codes import codes as code_values
from data_schemas.codes import regions
from data_schemas.extracts import extract
from data_schemas.study import DEFAULT_NEGATIVE_CONTROLS
from data_schemas.tables import AGE_GROUPS
from pipeline.synth import dates as dt
from pipeline.synth.frames import in_contract_order, iso, lookup
from pipeline.synth.model import CARE_LEVELS
from pipeline.synth.simulate import GroundTruth, rng_for

PROFESSIONS = code_values("profession")
CONTACT_TYPES = code_values("contact_type")
PROVIDERS = code_values("provider_type")
REGION_CODES = [r.code for r in regions()]
PV, SSV, PSY = (CARE_LEVELS.index(c) for c in ("PV", "SSV", "PSY"))
GC001, DV077, AW026 = "GC001", "DV077", "AW026"
ACTIONS = (None, GC001, DV077, AW026)  # Atgarder values by index

# Unit-name stems: pseudonymised units that still carry Swedish letters (å ä ö must survive).
_STEMS = ("Åby", "Älvsjö", "Öster", "Väster", "Söder", "Norr", "Centrum", "Håga", "Björkö", "Lärkan", "Gärdet",
          "Mölnbacka", "Tallbo", "Ekåsen", "Sjöstaden", "Ängen", "Strand", "Kyrkbyn", "Hällby", "Skogås")
_PREFIX = {PV: "VC", SSV: "Klinik", PSY: "Psykiatrimottagning"}
_UNITS_PER_INHABITANTS = {PV: 25_000, SSV: 120_000, PSY: 150_000}
# No background code falls in a negative-control range (study.toml [negative_controls]): E039, E785
# and I839 took the places of L309, H100 and N390 so that the draws stay the same.
_BACKGROUND_CODES = ("J069", "I10", "E119", "Z000", "M796", "R51", "K590", "E039", "E785", "I839", "J459", "M545")
_SECONDARY_CODES = ("Z563", "Z733", "F510", "R53", "G470")
# Profession shares by care level, in PROFESSIONS order (LAK SSK PSYK KUR FT AT REHAB OVR).
_PROFESSION_SHARES = {
    PV: (0.45, 0.20, 0.07, 0.09, 0.12, 0.04, 0.0, 0.03),
    PSY: (0.35, 0.15, 0.28, 0.15, 0.0, 0.05, 0.0, 0.02),
    SSV: (0.60, 0.24, 0.0, 0.02, 0.09, 0.04, 0.0, 0.01),
}
_GC001_PROFESSIONS = {"REHAB": 0.85, "KUR": 0.05, "SSK": 0.05, "AT": 0.03, "FT": 0.02}


@dataclass(frozen=True)
class Units:
    ids: list[str]
    provider: np.ndarray  # index into PROVIDERS per unit
    offset: np.ndarray  # (regions, levels) first unit index
    count: np.ndarray  # (regions, levels) units


def care_units() -> Units:
    regs = regions()
    count = np.array([[max(1, round(r.population_2023 / _UNITS_PER_INHABITANTS[lv])) for lv in range(len(CARE_LEVELS))]
                      for r in regs])
    offset = np.concatenate([[0], np.cumsum(count.ravel())[:-1]]).reshape(count.shape)
    ids, provider = [], []
    for ri, r in enumerate(regs):
        for lv in range(len(CARE_LEVELS)):
            for u in range(count[ri, lv]):
                stem = _STEMS[(u * 7 + ri * 3 + lv) % len(_STEMS)]
                ids.append(f"{_PREFIX[lv]} {stem} {r.code}-{u + 1:03d}")
                private = (u * 37 + ri) % 100 < (40 if lv == PV else 8)
                provider.append(PROVIDERS.index("PRIV") if private else PROVIDERS.index("OFF"))
    return Units(ids, np.array(provider), offset, count)


def _pick(rng, shares_by_level: dict, level: np.ndarray) -> np.ndarray:
    out = np.zeros(len(level), np.int64)
    for lv, shares in shares_by_level.items():
        sel = np.flatnonzero(level == lv)
        p = np.asarray(shares, float)
        out[sel] = rng.choice(len(p), size=len(sel), p=p / p.sum())
    return out


def _types(rng, n, p=(0.60, 0.25, 0.12, 0.03)):
    return rng.choice(len(CONTACT_TYPES), size=n, p=p)


def _other_region(rng, home):
    return (home + 1 + rng.integers(0, len(REGION_CODES) - 1, size=len(home))) % len(REGION_CODES)


# --- negative-control outcomes (issue 14) ------------------------------------------------------
# Contacts whose main diagnosis lies in a negative-control range of the default study
# (`data_schemas.study.DEFAULT_NEGATIVE_CONTROLS` = study.toml's). Per spell and outcome k they
# are a Poisson process over the follow-up, time tau in (0, followup_days] (a contact on day
# index d is at time d + 1, as the designs count), with rate
#     base_k * exp(sex + age group effects) * exp(b_k * [tau > t_c])     per day,
# so they depend only on covariates every design adjusts for (sex, age group) and on coordination
# only through a planted SYSTEMATIC ERROR b_k ~ N(NC_MU_TRUE, NC_SIGMA_TRUE^2), drawn once per
# seed. No other contact carries such a diagnosis (the spells' codes and the background codes
# avoid the ranges), so the first contact of outcome k in a spell's follow-up is the first
# event of that process, whose log hazard ratio after the first GC001 is b_k.
NC_MU_TRUE = 0.05
NC_SIGMA_TRUE = 0.05
NC_SUBSTREAM = 1  # rng_for(seed, "care", chunk, NC_SUBSTREAM): independent of every other care draw
# Codes written per outcome (inside its ranges) and base rates per person-year (woman = man x
# exp(NC_WOMAN_LOG_RATE); age group effects on the log rate, AGE_GROUPS order). The rates are
# higher than in real care so that a small synthetic delivery has events enough.
NC_CODES_BY_OUTCOME: dict[str, tuple[str, ...]] = {
    "eye": ("H100", "H259", "H521", "H041"), "ear": ("H609", "H669", "H650"), "dental_oral": ("K021", "K052", "K040"),
    "skin_infection": ("L030", "L029", "L010"), "ingrown_nail": ("L600",), "urinary_tract_infection": ("N390", "N300"),
    "allergic_rhinitis": ("J301", "J304"), "anal_disorders": ("K649", "K602", "K610"), "viral_warts": ("B079",),
}
NC_BASE_RATE_PER_YEAR: dict[str, float] = {
    "eye": 0.40, "ear": 0.30, "dental_oral": 0.25, "skin_infection": 0.35, "ingrown_nail": 0.25,
    "urinary_tract_infection": 0.45, "allergic_rhinitis": 0.30, "anal_disorders": 0.25, "viral_warts": 0.25,
}
NC_WOMAN_LOG_RATE = 0.25
NC_AGE_GROUP_LOG_RATE = (0.0, 0.10, 0.20, 0.30, 0.45)
NC_CODES: tuple[str, ...] = tuple(c for codes in NC_CODES_BY_OUTCOME.values() for c in codes)


def negative_control_parameters(seed: int) -> dict:
    """The planted negative-control model of a seed (truth.json ``care.negative_controls``)."""
    outcomes = DEFAULT_NEGATIVE_CONTROLS
    if [o.id for o in outcomes] != list(NC_CODES_BY_OUTCOME):
        raise ValueError("the synthetic negative controls must be the default study's outcomes, in its order")
    for o in outcomes:
        wrong = [c for c in NC_CODES_BY_OUTCOME[o.id] if not o.matches(c)]
        if wrong:
            raise ValueError(f"negative control {o.id}: code(s) {wrong} outside its ranges {list(o.icd)}")
    b = rng_for(seed, "care", 0, NC_SUBSTREAM + 1).normal(NC_MU_TRUE, NC_SIGMA_TRUE, size=len(outcomes))
    return {
        "mu_true": NC_MU_TRUE, "sigma_true": NC_SIGMA_TRUE,
        "outcomes": [{"id": o.id, "icd": list(o.icd), "codes": list(NC_CODES_BY_OUTCOME[o.id]),
                      "base_rate_per_year": NC_BASE_RATE_PER_YEAR[o.id], "log_hr": float(b[i]),
                      "hr": float(np.exp(b[i]))} for i, o in enumerate(outcomes)],
        "woman_log_rate": NC_WOMAN_LOG_RATE,
        "age_group_log_rate": {g: v for (g, _, _), v in zip(AGE_GROUPS, NC_AGE_GROUP_LOG_RATE)},
        "model": "per spell and outcome a Poisson process of contacts over (0, followup_days] with rate base x "
                 "exp(woman + age group) x exp(log_hr x [time > t_c]) per day; a contact at time tau is written on "
                 "day index ceil(tau) - 1",
    }


def _negative_control_contacts(gt: GroundTruth, spells: pl.DataFrame, rng, first_code: int, region_at):
    """Negative-control contacts of `spells` (see `negative_control_parameters`); (rows for `frame`, info)."""
    prm = negative_control_parameters(gt.seed)
    s = spells["start_day"].to_numpy()
    person = spells["person"].to_numpy()
    follow = np.maximum(spells["followup_days"].to_numpy().astype(float), 0.0)
    t_c = np.minimum(spells["t_c"].to_numpy().astype(float), follow)  # exposed time (t_c, followup]
    woman = gt.persons["is_woman"].to_numpy()[person]
    age = dt.years(s) - gt.persons["birth_year"].to_numpy()[person]
    group = np.searchsorted(np.array([lo for _, lo, _ in AGE_GROUPS[1:]]), age, side="right")
    log_cov = NC_WOMAN_LOG_RATE * woman + np.asarray(NC_AGE_GROUP_LOG_RATE)[group]
    rows = {key: [] for key in ("person", "day", "diag1")}
    counts = {}
    code_at = first_code
    for o in prm["outcomes"]:
        rate = o["base_rate_per_year"] / 365.25 * np.exp(log_cov)
        parts = []
        for lo, hi, mult in ((np.zeros_like(t_c), t_c, 1.0), (t_c, follow, np.exp(o["log_hr"]))):
            n = rng.poisson(rate * mult * (hi - lo))
            r = np.repeat(np.arange(len(s)), n)
            tau = lo[r] + rng.random(len(r)) * (hi[r] - lo[r])
            parts.append((r, np.maximum(np.ceil(tau) - 1, 0).astype(np.int64)))
        r = np.concatenate([p[0] for p in parts])
        d = np.concatenate([p[1] for p in parts])
        k = len(o["codes"])
        rows["person"].append(person[r])
        rows["day"].append(s[r] + d)
        rows["diag1"].append(code_at + rng.integers(0, k, size=len(r)))
        counts[o["id"]] = int(len(r))
        code_at += k
    per = np.concatenate(rows["person"])
    day = np.concatenate(rows["day"])
    n = len(per)
    level = np.where(rng.random(n) < 0.8, PV, SSV)
    out = {
        "person": per, "day": day, "region": region_at(per, day), "level": level,
        "prof": np.where(rng.random(n) < 0.8, PROFESSIONS.index("LAK"), PROFESSIONS.index("SSK")),
        "ctype": _types(rng, n, (0.85, 0.10, 0.05, 0.0)), "action": np.zeros(n, np.int64),
        "diag1": np.concatenate(rows["diag1"]), "diag2": np.full(n, -1),
    }
    return out, {"parameters": prm, "contacts": counts}


CHUNK_PERSONS = 200_000


def care_contact_chunks(gt: GroundTruth, spells: pl.DataFrame, chunk_persons: int = CHUNK_PERSONS):
    """Yield ``vard_kontakter`` in person chunks; see `_care_chunk` for what each yields."""
    units = care_units()
    person = spells["person"].to_numpy()
    bounds = np.searchsorted(person, np.arange(0, gt.persons.height + chunk_persons, chunk_persons))
    for ci, lo in enumerate(range(0, gt.persons.height, chunk_persons)):
        hi = min(gt.persons.height, lo + chunk_persons)
        part = spells.slice(int(bounds[ci]), int(bounds[ci + 1] - bounds[ci]))
        yield _care_chunk(gt, part, lo, hi, rng_for(gt.seed, "care", ci), units, rng_for(gt.seed, "care_aw026", ci),
                          rng_for(gt.seed, "care", ci, NC_SUBSTREAM))


def care_contacts(gt: GroundTruth, spells: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """All of ``vard_kontakter`` at once (small deliveries and tests)."""
    parts = list(care_contact_chunks(gt, spells))
    return (pl.concat([p[0] for p in parts]), pl.concat([p[1] for p in parts]), merge_info([p[2] for p in parts]))


def merge_info(infos: list[dict]) -> dict:
    n_first = sum(i["n_first_gc001_included"] for i in infos)
    home = sum(i["n_first_gc001_included_home"] for i in infos)
    contacts = sum(i["contacts"] for i in infos)
    return {
        "gc001_outside_spells": sum(i["gc001_outside_spells"] for i in infos),
        "gc001_first_in_home_region_share": home / n_first if n_first else None,
        "gc001_first_in_home_region_target": infos[0]["gc001_first_in_home_region_target"],
        "contacts": contacts,
        "share_primary_care": sum(i["n_primary_care"] for i in infos) / contacts if contacts else None,
        "aw026_contacts": sum(i["aw026_contacts"] for i in infos),
        "negative_controls": {**infos[0]["negative_control_contacts"]["parameters"],
                              "contacts": {k: sum(i["negative_control_contacts"]["contacts"][k] for i in infos)
                                           for k in infos[0]["negative_control_contacts"]["contacts"]}},
    }


def _care_chunk(gt: GroundTruth, spells: pl.DataFrame, p_lo: int, p_hi: int, rng, units: "Units", aw_rng,
                nc_rng):
    """Contacts of persons ``p_lo..p_hi-1`` (`spells` = their spells).

    Returns
    -------
    (contacts, gc001_by_spell, info)
        contacts : the extract rows (no exact duplicates), sorted by person and date;
        gc001_by_spell : one row per spell: ``spell_row``, ``first_dv077_day``,
            ``first_aw026_day`` and ``n_aw026`` (AW026 within follow-up, up to ``end_day``) and, for
            coordinated spells, ``n_gc001``, ``first_gc001_region`` (index) and
            ``first_gc001_care_level`` (index);
        info : counts for the truth (merged by `merge_info`).
    """
    E = gt.window.extraction_day
    y0 = gt.window.region_years.start
    n_years = gt.region_by_year.shape[1]
    s = spells["start_day"].to_numpy()
    span = spells["spell_last_day"].to_numpy() - s
    person_of = spells["person"].to_numpy()
    main = spells["care_level"].to_numpy()
    home = spells["home_region"].to_numpy()
    code = spells["code_id"].to_numpy()
    m = len(s)
    parts: list[dict] = []

    def add(person, day, region, level, prof, ctype, action, diag1, diag2, spell=None):
        k = len(person)
        parts.append({
            "person": np.asarray(person, np.int64), "day": np.asarray(day, np.int64), "region": np.asarray(region, np.int64),
            "level": np.asarray(level, np.int64), "prof": np.asarray(prof, np.int64), "ctype": np.asarray(ctype, np.int64),
            "action": np.broadcast_to(np.asarray(action, np.int64), (k,)).copy(),
            "diag1": np.asarray(diag1, np.int64), "diag2": np.asarray(diag2, np.int64),
            "spell": np.full(k, -1, np.int64) if spell is None else np.asarray(spell, np.int64),
        })

    n_codes = gt.codes.height
    all_codes = gt.codes["code"].to_list() + list(_BACKGROUND_CODES) + list(NC_CODES)

    def region_at(person, day):
        yi = np.clip(dt.years(day) - y0, 0, n_years - 1)
        return gt.region_by_year[person, yi]

    def spell_diag(rows, p_code):
        return np.where((code[rows] >= 0) & (rng.random(len(rows)) < p_code), code[rows], -1)

    # a) The certificate visit at the start, and DV077 plans for a quarter of the spells.
    rows = np.arange(m)
    cert_day = np.minimum(np.where(rng.random(m) < 0.75, 0, rng.integers(1, 4, size=m)), span)
    has_dv = rng.random(m) < 0.25
    dv_on_cert = has_dv & (rng.random(m) < 0.5)
    second = np.where(rng.random(m) < 0.2, rng.integers(0, len(_SECONDARY_CODES), size=m), -1)
    add(person_of, s + cert_day, region_at(person_of, s + cert_day), main, np.full(m, PROFESSIONS.index("LAK")),
        _types(rng, m, (0.75, 0.0, 0.25, 0.0)), np.where(dv_on_cert, 2, 0), spell_diag(rows, 1.0), second)
    sep = np.flatnonzero(has_dv & ~dv_on_cert)
    dv_day = np.minimum(rng.integers(3, 21, size=len(sep)), span[sep])
    add(person_of[sep], s[sep] + dv_day, region_at(person_of[sep], s[sep] + dv_day), main[sep],
        rng.choice([PROFESSIONS.index(p) for p in ("LAK", "SSK", "REHAB")], size=len(sep), p=[0.7, 0.2, 0.1]),
        _types(rng, len(sep), (0.7, 0.2, 0.1, 0.0)), 2, spell_diag(sep, 0.9), np.full(len(sep), -1))
    first_dv077 = np.full(m, -1)
    first_dv077[dv_on_cert] = cert_day[dv_on_cert]
    first_dv077[sep] = dv_day

    # b) Follow-up contacts during the spell.
    k = rng.poisson(np.minimum(10.0, 0.3 + span / 45.0))
    fr = np.repeat(rows, k)
    off = np.where(span[fr] >= 1, 1 + np.floor(rng.random(len(fr)) * span[fr]), 0).astype(np.int64)
    lvl = np.where(rng.random(len(fr)) < 0.6, main[fr], rng.choice(3, size=len(fr), p=[0.40, 0.35, 0.25]))
    ctype = _types(rng, len(fr))
    diag = np.where(ctype == CONTACT_TYPES.index("ADM"), -1, spell_diag(fr, 0.8))
    add(person_of[fr], s[fr] + off, region_at(person_of[fr], s[fr] + off), lvl,
        _pick(rng, _PROFESSION_SHARES, lvl), ctype, 0, diag, np.full(len(fr), -1))

    # c) Coordination: the first GC001 on day t_c, then 0-5 more during the spell.
    co = np.flatnonzero(spells["is_coordinated"].to_numpy())
    t_c = spells["t_c"].to_numpy()[co].astype(np.int64)
    first_region = np.where(rng.random(len(co)) < gt.params.gc001_in_home_region_share, home[co], _other_region(rng, home[co]))
    first_level = np.where(rng.random(len(co)) < 0.85, main[co], PV)
    gp = list(_GC001_PROFESSIONS)
    gc_prof = np.array([PROFESSIONS.index(p) for p in gp])
    gc_p = np.array(list(_GC001_PROFESSIONS.values()))
    add(person_of[co], s[co] + t_c, first_region, first_level, gc_prof[rng.choice(len(gp), size=len(co), p=gc_p)],
        _types(rng, len(co), (0.5, 0.35, 0.15, 0.0)), 1, spell_diag(co, 0.6), np.full(len(co), -1), spell=co)
    n_extra = rng.integers(0, gt.params.gc001_extra_contacts_max + 1, size=len(co))
    room = span[co] - t_c
    n_extra = np.where(room >= 1, n_extra, 0)
    er = np.repeat(np.arange(len(co)), n_extra)
    eoff = t_c[er] + 1 + np.floor(rng.random(len(er)) * room[er]).astype(np.int64)
    uniq = np.unique(np.stack([er, eoff]), axis=1) if len(er) else np.zeros((2, 0), np.int64)
    er, eoff = uniq[0], uniq[1]
    ereg = np.where(rng.random(len(er)) < 0.9, first_region[er], _other_region(rng, home[co][er]))
    elvl = np.where(rng.random(len(er)) < 0.9, first_level[er], PV)
    add(person_of[co][er], s[co][er] + eoff, ereg, elvl, gc_prof[rng.choice(len(gp), size=len(er), p=gc_p)],
        _types(rng, len(er), (0.5, 0.35, 0.15, 0.0)), 1, spell_diag(co[er], 0.6), np.full(len(er), -1), spell=co[er])
    n_gc001 = 1 + np.bincount(er, minlength=len(co))

    # d) Background contacts outside the sick-leave logic (no KVÅ codes).
    persons = gt.persons
    exit_day = persons["exit_day"].to_numpy()
    lo = int(dt.year_start(gt.window.first_year - 1))
    hi = np.minimum(E, exit_day - 1)
    chunk_persons = np.arange(p_lo, p_hi)
    n_bg = rng.poisson(0.45 * np.maximum(hi[chunk_persons] - lo, 0) / 365.25)
    bp = np.repeat(chunk_persons, n_bg)
    bday = lo + np.floor(rng.random(len(bp)) * (hi[bp] - lo + 1)).astype(np.int64)
    blvl = rng.choice(3, size=len(bp), p=[0.60, 0.30, 0.10])
    bctype = _types(rng, len(bp))
    bdiag = np.where((rng.random(len(bp)) < 0.85) & (bctype != CONTACT_TYPES.index("ADM")),
                     n_codes + rng.integers(0, len(_BACKGROUND_CODES), size=len(bp)), -1)
    add(bp, bday, region_at(bp, bday), blvl, _pick(rng, _PROFESSION_SHARES, blvl), bctype, 0, bdiag, np.full(len(bp), -1))

    # e) GC001 outside every spell of the person: noise for the cohort build to ignore.
    wide = spells.select("person", "spell_index", "start_day", "spell_last_day")
    cand = p_lo + np.flatnonzero(rng.random(p_hi - p_lo) < 0.02)
    first_start = wide.group_by("person").agg(pl.col("start_day").min(), pl.col("spell_last_day").max()).sort("person")
    f_lo = np.maximum(lo, first_start["start_day"].to_numpy()[cand - p_lo] - 400)
    f_hi = np.minimum(np.minimum(E, exit_day[cand] - 1), first_start["spell_last_day"].to_numpy()[cand - p_lo] + 400)
    nday = f_lo + np.floor(rng.random(len(cand)) * np.maximum(f_hi - f_lo + 1, 1)).astype(np.int64)
    inside = np.zeros(len(cand), bool)
    idx_in_cand = np.full(persons.height, -1)
    idx_in_cand[cand] = np.arange(len(cand))
    sp_c = idx_in_cand[person_of]
    hit = sp_c >= 0
    # a relapse gap counts as inside: the relapse rule 'continue' follows a spell through it
    upto = np.where(spells["is_relapse_within_window"].to_numpy(), spells["next_start_day"].to_numpy() - 1, s + span)
    inside_spell = hit & (nday[np.maximum(sp_c, 0)] >= s) & (nday[np.maximum(sp_c, 0)] <= upto)
    inside[sp_c[inside_spell]] = True
    ok = ~inside & (f_hi >= f_lo)
    nc = cand[ok]
    nd = nday[ok]
    add(nc, nd, region_at(nc, nd), np.where(rng.random(len(nc)) < 0.8, PV, PSY),
        np.full(len(nc), PROFESSIONS.index("REHAB")), _types(rng, len(nc), (0.5, 0.4, 0.1, 0.0)), 1,
        np.full(len(nc), -1), np.full(len(nc), -1))

    def frame(part: dict, unit_rng) -> pl.DataFrame:
        # Unit: the person's usual unit at that level in that region (85 %), else another.
        reg, lvl, per = part["region"], part["level"], part["person"]
        n_u = units.count[reg, lvl]
        usual = (per * 2654435761 + lvl * 40503 + reg * 97) % n_u
        unit = units.offset[reg, lvl] + np.where(unit_rng.random(len(per)) < 0.85, usual,
                                                 np.floor(unit_rng.random(len(per)) * n_u).astype(np.int64))
        return pl.DataFrame({
            "person": per, "day": part["day"], "LopNr": gt.lopnr[per], "Region": lookup(REGION_CODES, reg),
            "VardenhetId": lookup(units.ids, unit), "Vardniva": lookup(CARE_LEVELS, lvl),
            "Vardgivartyp": lookup(PROVIDERS, units.provider[unit]), "KontaktDatum": iso(part["day"]),
            "Kontakttyp": lookup(CONTACT_TYPES, part["ctype"]), "Yrkesgrupp": lookup(PROFESSIONS, part["prof"]),
            "Atgarder": lookup(ACTIONS, part["action"]),
            "d1": lookup(all_codes, part["diag1"]), "d2": lookup(_SECONDARY_CODES, part["diag2"]),
        })

    allc = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    df = frame(allc, rng)

    # f) AW026 follow-ups of the DV077 plan, from their own stream and after every other draw,
    # appended before the (stable) sort: the rows above keep their content and order.
    prm = gt.params
    planned = np.flatnonzero(first_dv077 >= 0)
    fu = planned[aw_rng.random(len(planned)) < prm.aw026_follow_up_share]
    n_fu = 1 + (aw_rng.random(len(fu)) < prm.aw026_second_share)
    gap_lo, gap_hi = prm.aw026_gap_days
    ar = np.repeat(fu, n_fu)
    nth = np.arange(len(ar)) - np.repeat(np.cumsum(n_fu) - n_fu, n_fu)  # 0 = first follow-up of the spell
    gaps = aw_rng.integers(gap_lo, gap_hi + 1, size=(2, len(ar)))
    aoff = first_dv077[ar] + gaps[0] + np.where(nth == 1, gaps[1], 0)
    keep = aoff <= span[ar]
    ar, aoff = ar[keep], aoff[keep]
    aday = s[ar] + aoff
    ka = len(ar)
    aw = {
        "person": person_of[ar], "day": aday, "region": region_at(person_of[ar], aday), "level": main[ar],
        "prof": aw_rng.choice([PROFESSIONS.index(p) for p in ("LAK", "SSK", "REHAB")], size=ka, p=[0.6, 0.25, 0.15]),
        "ctype": _types(aw_rng, ka, (0.6, 0.3, 0.1, 0.0)), "action": np.full(ka, ACTIONS.index(AW026)),
        "diag1": np.where((code[ar] >= 0) & (aw_rng.random(ka) < 0.8), code[ar], -1), "diag2": np.full(ka, -1),
    }
    # g) Negative-control contacts, from their own stream after every other draw (as AW026).
    nc, nc_info = _negative_control_contacts(gt, spells, nc_rng, len(all_codes) - len(NC_CODES), region_at)
    df = pl.concat([df, frame(aw, aw_rng), frame(nc, nc_rng)]).with_columns(
        Diagnoser=pl.concat_str(["d1", "d2"], separator=" ", ignore_nulls=True).replace("", None),
    ).sort(["person", "day", "Vardniva", "VardenhetId", "Atgarder"], nulls_last=True, maintain_order=True)
    contacts = in_contract_order(df, extract("vard_kontakter")).unique(maintain_order=True)
    gc = pl.DataFrame({
        "spell_row": spells["spell_row"].to_numpy()[co], "n_gc001": n_gc001,
        "first_gc001_region": first_region, "first_gc001_care_level": first_level,
    })
    dv = pl.DataFrame({"spell_row": spells["spell_row"].to_numpy(), "first_dv077_day": np.where(first_dv077 >= 0, s + first_dv077, -1)})
    in_fu = aday <= spells["end_day"].to_numpy()[ar]  # the build counts AW026 up to end_date
    n_aw026 = np.bincount(ar[in_fu], minlength=m)
    first_aw026 = np.full(m, np.iinfo(np.int64).max)
    np.minimum.at(first_aw026, ar[in_fu], aday[in_fu])
    dv = dv.with_columns(n_aw026=pl.Series(n_aw026, dtype=pl.Int64),
                         first_aw026_day=pl.Series(np.where(n_aw026 > 0, first_aw026, -1)))
    dv = dv.with_columns(first_aw026_day=pl.when(pl.col("first_aw026_day") >= 0).then(pl.col("first_aw026_day")))
    gc = dv.join(gc, on="spell_row", how="left").with_columns(
        first_dv077_day=pl.when(pl.col("first_dv077_day") >= 0).then(pl.col("first_dv077_day")))
    first_home = first_region == home[co]
    inc = spells["is_included"].to_numpy()[co]
    info = {
        "gc001_outside_spells": int(len(nc)),
        "n_first_gc001_included": int(inc.sum()),
        "n_first_gc001_included_home": int(first_home[inc].sum()),
        "gc001_first_in_home_region_target": gt.params.gc001_in_home_region_share,
        "contacts": int(contacts.height),
        "n_primary_care": int((contacts["Vardniva"] == "PV").sum()),
        "aw026_contacts": int(ka),
        "negative_control_contacts": nc_info,
    }
    return contacts, gc, info
