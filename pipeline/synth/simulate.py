"""Ground truth of a synthetic study population: persons, sick-leave spells and benefit periods.

Everything is vectorised over persons; the only Python loops run over the (at most four)
spell indices of a person and over code lists. The outcome model is in `pipeline.synth.model`.

Grain of the returned frames (`GroundTruth`):
- ``persons``: one row per person of the study population (and of nothing else);
- ``spells``: one row per sick-leave spell (sjukfall) as it exists in MiDAS, with its true
  covariates, event times and how it ends;
- ``periods``: one row per benefit period as written to ``fk_midas_sjukpenning`` (before
  faults), SJP/RHP of the spells plus separate FSJP periods.
Dates are day numbers (days since 1970-01-01).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl

from data_schemas.codes import chapter_group_of, regions
from data_schemas.tables import PRIOR_SICK_LEAVE_DAYS
from pipeline.synth import dates as dt
from pipeline.synth.frames import lookup
from pipeline.synth.model import (
    DEFAULT_PARAMETERS,
    CARE_LEVELS,
    CHAPTER_GROUPS,
    DIAGNOSIS_GROUPS,
    OCCUPATIONS,
    SynthParameters,
    age_group_index,
    coordination_log_multiplier,
    death_log_multiplier,
    draw_piecewise_times,
    draw_recovery_times,
    education_group_index,
    linear_predictor,
    region_effects,
    sa_log_multiplier,
)

# Independent random streams: adding faults or changing the format never changes the data.
STREAMS = {
    "persons": 1, "spells": 2, "periods": 3, "regions_u": 4, "background": 5, "lopnr": 6, "care": 7,
    "fk": 8, "af": 9, "agi": 10, "lisa": 11, "deaths": 12, "survey": 13, "faults": 14, "fsjp": 15,
    "care_aw026": 16, "regions_v": 17, "variants": 18,
}

ANST = OCCUPATIONS.index("ANST")
ARBL = OCCUPATIONS.index("ARBL")
EMPLOYER_PERIOD_DAYS = 14  # an employee's days 0-13 are paid by the employer, not in MiDAS
CAUSES = ("recovery", "death", "emigration", "sickness_compensation")  # spell terminations
EXTENTS = ("25", "50", "75", "100")


def rng_for(seed: int, stream: str, *sub: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(STREAMS[stream], *sub)))


@dataclass(frozen=True)
class Window:
    """The calendar of a delivery."""

    first_year: int
    last_year: int
    extraction_date: date

    @property
    def extraction_day(self) -> int:
        return dt.day(self.extraction_date)

    @property
    def history_start_day(self) -> int:
        """Spells may start from 1 July of the year before: history for prior sick leave."""
        return int(dt.july_first(self.first_year - 1))

    @property
    def covered_first_day(self) -> int:
        return int(dt.year_start(self.first_year))

    @property
    def covered_last_day(self) -> int:
        return int(dt.year_start(self.last_year + 1)) - 1

    @property
    def lisa_years(self) -> range:
        return range(self.first_year - 1, self.last_year + 1)

    @property
    def region_years(self) -> range:
        """Years with a residence: LISA years and the extraction year (spells in it use the year before)."""
        return range(self.first_year - 1, dt.years(np.array([self.extraction_day]))[0] + 1)


@dataclass
class GroundTruth:
    params: SynthParameters
    window: Window
    seed: int
    persons: pl.DataFrame
    spells: pl.DataFrame
    periods: pl.DataFrame
    region_u: np.ndarray  # u per region (log hazard of the first GC001), indexed like data_schemas.codes.regions()
    region_v: np.ndarray  # v per region (log hazard of return to work), indexed like region_u
    region_by_year: np.ndarray  # (persons, years) region index
    municipality_by_year: np.ndarray  # (persons, years) 4-digit municipality code
    codes: pl.DataFrame  # code_id, code, diagnosis_group index
    lopnr: np.ndarray  # LopNr of each person (increasing with the person index)
    spare_lopnr: np.ndarray  # unused LopNr values (persons outside the population, for faults)
    meta: dict = field(default_factory=dict)


# --- persons -----------------------------------------------------------------------------

def _choice(rng: np.random.Generator, shares, n: int) -> np.ndarray:
    p = np.asarray(list(shares), float)
    return rng.choice(len(p), size=n, p=p / p.sum())


MUNICIPALITY_COUNTS = {  # invented municipality sets: count per region (roughly the real ones)
    "01": 26, "03": 8, "04": 9, "05": 13, "06": 13, "07": 8, "08": 12, "09": 1, "10": 5, "12": 33, "13": 6,
    "14": 49, "17": 16, "18": 12, "19": 10, "20": 15, "21": 10, "22": 7, "23": 8, "24": 15, "25": 14,
}


def municipality_codes(region_code: str) -> np.ndarray:
    """Invented 4-digit municipality codes of a region: its seat ``LL80`` first, then ``LL14, LL16, ...``."""
    n = MUNICIPALITY_COUNTS.get(region_code, 10)
    suffixes = [80] + [14 + 2 * i for i in range(min(n - 1, 32))] + [81 + i for i in range(max(0, n - 33))]
    return np.array([int(region_code) * 100 + s for s in suffixes[:n]])


def _municipality_weights(n: int) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** 0.9  # the seat is the largest
    return w / w.sum()


def _draw_municipality(rng, region_idx: np.ndarray) -> np.ndarray:
    """A municipality of each person's region (seat largest), via one global cumulative table."""
    codes = [municipality_codes(r.code) for r in regions()]
    cum = np.concatenate([ri + np.cumsum(_municipality_weights(len(c))) for ri, c in enumerate(codes)])
    cum[np.cumsum([len(c) for c in codes]) - 1] = np.arange(1, len(codes) + 1)  # exact region ends
    flat = np.concatenate(codes)
    pos = np.searchsorted(cum, region_idx + rng.random(len(region_idx)), side="right")
    return flat[np.minimum(pos, len(flat) - 1)]


def simulate_persons(params: SynthParameters, window: Window, n: int, rng: np.random.Generator) -> dict:
    """Person-level characteristics (arrays of length n)."""
    is_woman = rng.random(n) < params.share_women
    band = _choice(rng, [s for *_, s in params.age_bands], n)
    lo = np.array([b[0] for b in params.age_bands])[band]
    hi = np.array([b[1] for b in params.age_bands])[band]
    mid_year = (window.first_year + window.last_year) // 2
    birth_year = mid_year - rng.integers(lo, hi + 1)
    edu_keys = list(params.education_shares)
    edu = np.array([0 if k == "missing" else int(k) for k in edu_keys])[_choice(rng, params.education_shares.values(), n)]
    birth_region = np.array([int(k) for k in params.birth_region_shares])[_choice(rng, params.birth_region_shares.values(), n)]
    occupation = _choice(rng, [params.occupation_shares[o] for o in OCCUPATIONS], n)
    pop = np.array([r.population_2023 for r in regions()], float)
    years = window.region_years
    region = np.empty((n, len(years)), np.int64)
    muni = np.empty((n, len(years)), np.int64)
    region[:, 0] = rng.choice(len(pop), size=n, p=pop / pop.sum())
    muni[:, 0] = _draw_municipality(rng, region[:, 0])
    for j in range(1, len(years)):
        moves = rng.random(n) < params.region_move_per_year
        new_region = rng.choice(len(pop), size=n, p=pop / pop.sum())
        region[:, j] = np.where(moves, new_region, region[:, j - 1])
        local_move = rng.random(n) < 0.01
        muni[:, j] = np.where(moves | local_move, _draw_municipality(rng, region[:, j]), muni[:, j - 1])
    return {
        "is_woman": is_woman, "birth_year": birth_year, "education_level": edu, "birth_region": birth_region,
        "occupation": occupation, "region_by_year": region, "municipality_by_year": muni,
    }


# --- diagnosis codes -------------------------------------------------------------------------

def code_table(params: SynthParameters) -> pl.DataFrame:
    rows = [(code, DIAGNOSIS_GROUPS.index(g), w) for g, codes in params.diagnosis_codes.items() for code, w in codes]
    return pl.DataFrame(
        {"code": [r[0] for r in rows], "group": [r[1] for r in rows], "weight": [r[2] for r in rows]},
        schema={"code": pl.Utf8, "group": pl.Int64, "weight": pl.Float64},
    ).with_row_index("code_id").with_columns(pl.col("code_id").cast(pl.Int64))


def draw_codes(rng, group: np.ndarray, codes: pl.DataFrame) -> np.ndarray:
    """A code id for each diagnosis group index (-1 for groups without codes, i.e. unknown)."""
    out = np.full(len(group), -1, np.int64)
    cg = codes["group"].to_numpy()
    w = codes["weight"].to_numpy()
    ids = codes["code_id"].to_numpy()
    for g in np.unique(group):
        sel = np.flatnonzero(group == g)
        mine = cg == g
        if mine.any():
            out[sel] = rng.choice(ids[mine], size=len(sel), p=w[mine] / w[mine].sum())
    return out


# --- spells --------------------------------------------------------------------------------

def _care_level(rng, params, group: np.ndarray) -> np.ndarray:
    is_psych = np.array([chapter_group_of(g) == "psychiatric" for g in DIAGNOSIS_GROUPS])[group]
    is_spec = np.array([g in params.specialised_groups for g in DIAGNOSIS_GROUPS])[group]
    out = np.empty(len(group), np.int64)
    for mask, shares in (
        (is_psych, params.care_level_shares_psychiatric),
        (is_spec, params.care_level_shares_specialised),
        (~is_psych & ~is_spec, params.care_level_shares_somatic),
    ):
        sel = np.flatnonzero(mask)
        out[sel] = _choice(rng, [shares[c] for c in CARE_LEVELS], len(sel))
    return out


def simulate_spells(params, window: Window, persons: dict, region_u: np.ndarray, codes: pl.DataFrame, rng,
                    region_v: np.ndarray | None = None) -> dict:
    """All spells of all persons, drawn spell index by spell index (vectorised over persons)."""
    n = len(persons["birth_year"])
    region_v = np.zeros(len(region_u)) if region_v is None else region_v
    E = window.extraction_day
    years0 = window.region_years.start
    n_intended = 1 + _choice(rng, params.spells_per_person_shares, n)
    last_start_day = window.covered_last_day - EMPLOYER_PERIOD_DAYS
    earliest = np.maximum(window.history_start_day, dt.year_start(persons["birth_year"] + 17))
    start = earliest + np.floor(rng.random(n) * (last_start_day - earliest + 1)).astype(np.int64)
    retire_day = dt.year_start(persons["birth_year"] + 68)
    active = np.arange(n)
    n_episodes = np.zeros(n, np.int64)  # episodes ended so far (a relapse break does not end one)
    # Relapse breaks (issue 14) come from their own stream: the rest of the episode after a break,
    # drawn with the episode, waits here for the person's next spell.
    break_rng = np.random.Generator(rng.bit_generator.jumped())
    pending = np.zeros(n, bool)
    rest: dict[str, np.ndarray] = {}
    prev_last = np.full(n, np.iinfo(np.int64).min // 4)
    earlier: list[tuple[np.ndarray, np.ndarray]] = []  # (first day, last day) of each person's k-th spell
    scales = params.scales()
    gammas = params.gammas_by_group()
    shape = params.weibull_shape
    is_woman = persons["is_woman"]
    chapter_of_group = np.array([CHAPTER_GROUPS.index(chapter_group_of(g)) for g in DIAGNOSIS_GROUPS])
    out: list[dict] = []
    for k in range(2 * len(params.spells_per_person_shares)):  # a break adds a spell to its episode
        if len(active) == 0:
            break
        m = len(active)
        s = start[active]
        by = persons["birth_year"][active]
        age = dt.years(s) - by
        age_g = age_group_index(age)
        occ = persons["occupation"][active].copy()
        if k > 0:
            redraw = rng.random(m) < params.occupation_redraw_per_spell
            occ[redraw] = _choice(rng, [params.occupation_shares[o] for o in OCCUPATIONS], int(redraw.sum()))
        woman = is_woman[active]
        group = np.where(
            woman,
            _choice(rng, [params.diagnosis_group_shares_women[g] for g in DIAGNOSIS_GROUPS], m),
            _choice(rng, [params.diagnosis_group_shares_men[g] for g in DIAGNOSIS_GROUPS], m),
        )
        # Pregnancy-related sick leave only below 46.
        group = np.where((group == DIAGNOSIS_GROUPS.index("pregnancy")) & (age >= 46),
                         DIAGNOSIS_GROUPS.index("other_chapters"), group)
        code_id = draw_codes(rng, group, codes)
        extent_keys = list(params.extent_at_start_shares)
        extent = np.array([EXTENTS.index(e) for e in extent_keys])[_choice(rng, params.extent_at_start_shares.values(), m)]
        care = _care_level(rng, params, group)
        year_idx = np.clip(dt.years(s) - 1 - years0, 0, persons["region_by_year"].shape[1] - 1)
        home = persons["region_by_year"][active, year_idx]
        prior_days = _prior_sick_days(earlier, active, s, PRIOR_SICK_LEAVE_DAYS)
        prior = prior_days > 0
        edu_g = education_group_index(persons["education_level"][active])
        born_se = persons["birth_region"][active] == 1
        eta = linear_predictor(
            params, is_woman=woman, age_group=age_g, occupation=occ, is_partial_extent=extent < EXTENTS.index("100"),
            prior_sick_days_365=prior_days, education_group=edu_g, is_born_in_sweden=born_se,
        )
        chapter = chapter_of_group[group]
        entry = np.where(occ == ANST, float(EMPLOYER_PERIOD_DAYS), 0.0)
        # Coordination: first GC001 on day index floor(T_c).
        log_c = coordination_log_multiplier(params, u_region=region_u[home], care_level=care, chapter_group=chapter, eta=eta)
        T_c = draw_piecewise_times(rng.exponential(size=m), params.coordination_band_starts,
                                   params.coordination_band_rates, np.exp(log_c), np.zeros(m))
        t_c = np.floor(T_c)
        # Return to work: the region's v on the recovery hazard only (not coordination, not SA).
        T_r = draw_recovery_times(rng.exponential(size=m), eta=eta + region_v[home], scale=scales[group], shape=shape,
                                  gamma=gammas[group], t_c=t_c, entry=entry)
        T_d = draw_piecewise_times(rng.exponential(size=m), (0,), (params.death_rate,),
                                   np.exp(death_log_multiplier(params, age_group=age_g, diagnosis_group=group)), entry)
        T_e = draw_piecewise_times(rng.exponential(size=m), (0,), (params.emigration_rate,),
                                   np.exp(np.where(born_se, 0.0, params.emigration_foreign_born_effect)), entry)
        T_sa = draw_piecewise_times(rng.exponential(size=m), params.sa_band_starts, params.sa_band_rates,
                                    np.exp(sa_log_multiplier(params, age_group=age_g, eta=eta)), entry)
        # Follow-up days of each cause; ties go to death > emigration > compensation > recovery.
        D = np.stack([np.ceil(T_r), np.ceil(T_d), np.ceil(T_e), np.ceil(T_sa)])
        D = np.where(np.isfinite(D), D, 1e9)
        order = np.array([3, 0, 1, 2])  # precedence rank of CAUSES (lower wins)
        key = D * 4 + order[:, None]
        cause = np.argmin(key, axis=0)
        length = D[cause, np.arange(m)].astype(np.int64)
        # The rest of an episode broken off by a relapse break: the episode's own draws, shifted to
        # this spell's start (its covariates at the start are its own, as the build reads them).
        cont = pending[active]
        if cont.any():
            i, p = np.flatnonzero(cont), active[cont]
            for name, values in (("occ", occ), ("group", group), ("code_id", code_id), ("extent", extent), ("care", care),
                                 ("eta", eta), ("entry", entry), ("T_c", T_c), ("T_r", T_r), ("T_d", T_d), ("T_e", T_e),
                                 ("T_sa", T_sa), ("cause", cause), ("length", length)):
                values[i] = rest[name][p]
            chapter = chapter_of_group[group]
            t_c = np.floor(T_c)
            pending[p] = False
        # A relapse break (issue 14): within a long enough episode the benefit stops on day b and a
        # new spell starts G days later (8-28: a relapse within the 30-day window, never merged by
        # the gap rule) and runs to the episode's end. The episode's latent times stay as drawn, so
        # its sustained return to work (the relapse rule 'continue') follows the planted model;
        # breaks come only in long episodes, so those who relapse are the sicker ones.
        lo, hi = params.relapse_gap_days
        gap_days = break_rng.integers(lo, hi + 1, size=m)
        room = length - gap_days - 2 * RELAPSE_MIN_PART_DAYS
        b = RELAPSE_MIN_PART_DAYS + np.floor(break_rng.random(m) * (np.maximum(room, 0) + 1)).astype(np.int64)
        brk = ((break_rng.random(m) < params.relapse_share) & ~cont & (room >= 0)
               & ~((t_c >= b) & (t_c < b + gap_days))  # the first GC001 falls in a spell, not in the gap
               & (s + b + gap_days <= E - (EMPLOYER_PERIOD_DAYS + 1)) & (s + b + gap_days < retire_day[active]))
        if brk.any():
            i, p = np.flatnonzero(brk), active[brk]
            shift = (b + gap_days)[i].astype(float)
            for name, values in (("occ", occ), ("group", group), ("code_id", code_id), ("extent", extent), ("care", care),
                                 ("eta", eta), ("cause", cause)):
                rest.setdefault(name, np.zeros(n, values.dtype))[p] = values[i]
            rest.setdefault("entry", np.zeros(n))[p] = 0.0
            # times on the rest's clock; coordination already in the first part is not redrawn (none in the rest)
            rest.setdefault("T_c", np.zeros(n))[p] = np.where(t_c[i] < b[i], np.inf, T_c[i] - shift)
            for name, values in (("T_r", T_r), ("T_d", T_d), ("T_e", T_e), ("T_sa", T_sa)):
                rest.setdefault(name, np.zeros(n))[p] = values[i] - shift
            rest.setdefault("length", np.zeros(n, np.int64))[p] = length[i] - (b + gap_days)[i]
            pending[p] = True
            length = np.where(brk, b, length)
        last = s + length - 1
        out.append({
            "person": active, "spell_index": np.full(m, k), "start_day": s, "age_years": age, "age_group": age_g,
            "occupation": occ, "diagnosis_group": group, "chapter_group": chapter, "code_id": code_id,
            "extent_at_start": extent, "care_level": care, "home_region": home, "has_prior_sick_leave": prior,
            "prior_sick_days_365": prior_days,
            "education_group": edu_g, "is_born_in_sweden": born_se, "is_woman": woman, "eta": eta, "entry_day": entry,
            "T_c": T_c, "t_c": t_c, "T_r": T_r, "T_d": T_d, "T_e": T_e, "T_sa": T_sa, "cause": cause,
            "natural_days": length, "last_day": last, "is_relapse_break": brk,
        })
        # Next spell: the rest of a broken episode, else a new episode only after a recovery that ends
        # before extraction.
        gap = params.new_spell_gap_min_days + np.floor(rng.exponential(params.new_spell_gap_mean_extra_days, size=m))
        nxt = np.where(brk, s + b + gap_days, last + gap.astype(np.int64))
        n_episodes[active] += ~brk
        go_on = brk | ((n_episodes[active] < n_intended[active]) & (cause == 0) & (last < E)
                       & (nxt <= E - (EMPLOYER_PERIOD_DAYS + 1)) & (nxt < retire_day[active]))
        prev_last[active] = last
        first_k, last_k = np.full(n, _NO_DAY), np.full(n, -_NO_DAY)
        first_k[active], last_k[active] = s, last
        earlier.append((first_k, last_k))
        start[active] = nxt
        active = active[go_on]
    spells = {key: np.concatenate([o[key] for o in out]) for key in out[0]}
    return spells


_NO_DAY = np.iinfo(np.int64).max // 4  # first day of a spell a person did not have (overlaps nothing)
RELAPSE_MIN_PART_DAYS = 15  # each part of a broken episode lasts longer than the study's 14 days


def _prior_sick_days(earlier: list[tuple[np.ndarray, np.ndarray]], active: np.ndarray, start: np.ndarray,
                     lookback: int) -> np.ndarray:
    """Days of each active person's earlier spells on days start-lookback .. start-1 (as the build counts them)."""
    days = np.zeros(len(active), np.int64)
    for first, last in earlier:
        lo = np.maximum(first[active], start - lookback)
        hi = np.minimum(last[active], start - 1)
        days += np.maximum(hi - lo + 1, 0)
    return days


def qualifies(spells: dict, window: Window, n_persons: int) -> np.ndarray:
    """Persons with at least one FK benefit day in the covered years (the study population)."""
    first_fk = spells["start_day"] + np.where(spells["occupation"] == ANST, EMPLOYER_PERIOD_DAYS, 0)
    last_fk = np.minimum(spells["last_day"], window.extraction_day)
    hit = (first_fk <= window.covered_last_day) & (last_fk >= window.covered_first_day) & (first_fk <= last_fk)
    ok = np.zeros(n_persons, bool)
    ok[spells["person"][hit]] = True
    return ok


# --- benefit periods -------------------------------------------------------------------------

def split_periods(params, window: Window, spells: pl.DataFrame, rng) -> pl.DataFrame:
    """Split each spell's FK-paid days into 1-4 benefit periods with small gaps and extent steps.

    Periods after the extraction date are dropped; the period holding the extraction date (or
    the last one before it, when the date falls in a gap of an ongoing spell) is open.
    """
    E = window.extraction_day
    s = spells["start_day"].to_numpy()
    occ = spells["occupation"].to_numpy()
    last = spells["last_day"].to_numpy()
    first = s + np.where(occ == ANST, EMPLOYER_PERIOD_DAYS, 0)
    total = last - first + 1
    n = len(s)
    n_per = 1 + np.minimum(3, rng.poisson(total / 70.0))
    n_per = np.minimum(n_per, total)
    gaps_raw = np.where(rng.random((n, 3)) < 0.15, rng.integers(1, 4, size=(n, 3)), 0)
    gaps_raw[np.arange(3)[None, :] >= (n_per - 1)[:, None]] = 0
    gap_total = gaps_raw.sum(axis=1)
    no_room = total - gap_total < n_per
    gaps_raw[no_room] = 0
    gap_total = gaps_raw.sum(axis=1)
    available = total - gap_total
    # Explode to periods.
    sp = np.repeat(np.arange(n), n_per)
    j = np.arange(len(sp)) - np.repeat(np.cumsum(n_per) - n_per, n_per)
    w = rng.exponential(size=len(sp))
    w_cum_in = np.cumsum(w)
    grp_end = np.cumsum(n_per) - 1
    grp_tot = w_cum_in[grp_end] - np.concatenate([[0.0], w_cum_in[grp_end[:-1]]])
    w_before = w_cum_in - w - np.repeat(np.concatenate([[0.0], w_cum_in[grp_end[:-1]]]), n_per)
    frac_lo = w_before / np.repeat(grp_tot, n_per)
    extra = np.repeat(available - n_per, n_per)
    cut_lo = np.clip(np.floor(extra * frac_lo).astype(np.int64), 0, extra)
    cut_lo[j == 0] = 0  # w_before can come out as -1e-17 for a spell's first period
    # Each inner boundary is computed once: the next period's cut_lo, so that floating-point
    # rounding can never make the periods of a spell run past its planted last day.
    cut_hi = np.empty_like(cut_lo)
    cut_hi[:-1] = cut_lo[1:]
    cut_hi[grp_end] = extra[grp_end]
    plen = 1 + cut_hi - cut_lo
    gap_before = np.where(j > 0, gaps_raw[sp, np.maximum(j - 1, 0)], 0)
    step = plen + gap_before
    cum = np.cumsum(step)
    grp_start_cum = np.repeat(np.concatenate([[0], cum[grp_end[:-1]]]), n_per)
    fom = first[sp] + (cum - grp_start_cum) - plen
    tom = fom + plen - 1
    # Extent: the spell's extent at start, then steps (partial return is common).
    ext = np.repeat(spells["extent_at_start"].to_numpy(), n_per).copy()
    delta = rng.choice([0, -1, -2, 1], size=len(sp), p=[0.5, 0.3, 0.1, 0.1])
    for jj in range(1, 4):
        sel = np.flatnonzero(j == jj)
        ext[sel] = np.clip(ext[sel - 1] + delta[sel], 0, 3)
    # Rehabilitation benefit for one middle period of some long spells.
    long_enough = (np.repeat(n_per, n_per) >= 3) & (np.repeat(total, n_per) > 90)
    rhp_spell = rng.random(n) < 0.3
    rhp_j = 1 + np.floor(rng.random(n) * np.maximum(n_per - 2, 1)).astype(np.int64)
    is_rhp = long_enough & rhp_spell[sp] & (j == rhp_j[sp])
    # Diagnosis: the spell's on the first period; later ones occasionally another code.
    code_id = np.repeat(spells["code_id"].to_numpy(), n_per).copy()
    change = (j > 0) & (code_id >= 0) & (rng.random(len(sp)) < 0.07)
    codes_df = code_table(params)
    code_group = codes_df["group"].to_numpy()
    alt = rng.integers(0, len(codes_df), size=len(sp))
    same_group_alt = draw_codes(rng, np.where(code_id >= 0, code_group[np.maximum(code_id, 0)], 0), codes_df)
    code_id = np.where(change, np.where(rng.random(len(sp)) < 0.6, same_group_alt, alt), code_id)
    occ_p = np.repeat(occ, n_per).copy()
    lose_job = (j > 0) & (occ_p == ANST) & (rng.random(len(sp)) < 0.02)
    occ_p[lose_job] = ARBL
    # Truncate at extraction: drop periods starting after it; the last written period of a
    # spell still ongoing then is open (empty TomDatum).
    keep = fom <= E
    sp, j, fom, tom, ext, is_rhp, code_id, occ_p = (a[keep] for a in (sp, j, fom, tom, ext, is_rhp, code_id, occ_p))
    is_last_written = np.append(sp[1:] != sp[:-1], True)
    is_open = (tom >= E) | (is_last_written & (last[sp] > E))
    persons_of_spell = spells["person"].to_numpy()
    periods = pl.DataFrame({
        "spell_row": sp, "period_index": j, "person": persons_of_spell[sp],
        "benefit": lookup(("SJP", "RHP"), is_rhp.astype(np.int64)), "fom_day": fom, "tom_day": np.where(is_open, -1, tom), "extent": ext,
        "code_id": code_id, "occupation": occ_p, "sick_start_day": s[sp], "is_open": is_open,
    }).with_columns(tom_day=pl.when(pl.col("is_open")).then(None).otherwise(pl.col("tom_day")))
    return periods


def fsjp_periods(params, window: Window, persons: pl.DataFrame, spells: pl.DataFrame, codes: pl.DataFrame, rng) -> pl.DataFrame:
    """Rare preventive sickness benefit (FSJP), placed after a person's last spell (+60 days)."""
    E = window.extraction_day
    last = spells.group_by("person").agg(pl.col("last_day").max(), pl.col("occupation").last()).sort("person")
    n = last.height
    take = rng.random(n) < 0.012
    fom = last["last_day"].to_numpy() + 60 + rng.integers(0, 400, size=n)
    length = rng.integers(5, 31, size=n)
    exit_day = persons["exit_day"].to_numpy()[last["person"].to_numpy()]
    ok = take & (fom + length - 1 < E) & (fom + length - 1 < exit_day)
    sel = np.flatnonzero(ok)
    cid = codes.filter(pl.col("code").is_in(["Z736", "M545", "F438A", "I10"]))["code_id"].to_numpy()
    return pl.DataFrame({
        "spell_row": np.full(len(sel), -1), "period_index": np.zeros(len(sel), np.int64),
        "person": last["person"].to_numpy()[sel], "benefit": np.full(len(sel), "FSJP"),
        "fom_day": fom[sel], "tom_day": fom[sel] + length[sel] - 1,
        "extent": np.where(rng.random(len(sel)) < 0.7, 3, 1),
        "code_id": rng.choice(cid, size=len(sel)), "occupation": last["occupation"].to_numpy()[sel],
        "sick_start_day": fom[sel], "is_open": np.zeros(len(sel), bool),
    }).with_columns(pl.col("tom_day").cast(pl.Int64))


# --- whole population ------------------------------------------------------------------------

def draw_region_effects(params: SynthParameters, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The planted ``(u_region, v_region)`` of the seed (`pipeline.synth.model.region_effects`)."""
    rs = regions()
    u = rng_for(seed, "regions_u").normal(0.0, params.coordination_region_sd, size=len(rs))
    v = rng_for(seed, "regions_v").normal(0.0, params.return_to_work_region_sd, size=len(rs))
    pop = np.array([r.population_2023 for r in rs], float)
    return region_effects(params, u, v, [r.code for r in rs], pop / pop.sum())


def simulate(
    persons: int,
    seed: int,
    *,
    params: SynthParameters | None = None,
    first_year: int = 2018,
    last_year: int = 2024,
    extraction_date: date = date(2025, 3, 31),
) -> GroundTruth:
    """Draw the ground truth of a study population of `persons` persons."""
    params = params or DEFAULT_PARAMETERS
    params.validate()
    if persons < 1:
        raise ValueError("persons must be at least 1")
    window = Window(first_year, last_year, extraction_date)
    E = window.extraction_day
    region_u, region_v = draw_region_effects(params, seed)
    codes = code_table(params)
    oversample = int(persons * 1.15) + 200
    pers = simulate_persons(params, window, oversample, rng_for(seed, "persons"))
    sp = simulate_spells(params, window, pers, region_u, codes, rng_for(seed, "spells"), region_v)
    ok = qualifies(sp, window, oversample)
    chosen = np.flatnonzero(ok)
    if len(chosen) < persons:
        raise RuntimeError(f"only {len(chosen)} of {oversample} drawn persons qualify; increase oversampling")
    chosen = chosen[:persons]
    new_index = np.full(oversample, -1)
    new_index[chosen] = np.arange(persons)
    keep = new_index[sp["person"]] >= 0
    sp = {k: v[keep] for k, v in sp.items()}
    sp["person"] = new_index[sp["person"]]
    pers = {k: v[chosen] for k, v in pers.items()}
    spells = pl.DataFrame(sp).sort(["person", "spell_index"]).with_row_index("spell_row").with_columns(
        pl.col("spell_row").cast(pl.Int64))

    # How each spell ends in the data; background exits after the last spell.
    last_spell = spells.group_by("person").agg(
        pl.col("last_day").last(), pl.col("cause").last(), pl.col("start_day").last()).sort("person")
    rng_bg = rng_for(seed, "background")
    L_last = last_spell["last_day"].to_numpy()
    cause_last = last_spell["cause"].to_numpy()
    by = pers["birth_year"]
    n = persons
    age_mid = (first_year + last_year) // 2 - by
    bg_death_rate = 2e-6 * np.exp(0.08 * (age_mid - 45))
    bg_emig_rate = np.where(pers["birth_region"] == 1, 1.2e-5, 4e-5)
    t_bg = rng_bg.exponential(size=n) / (bg_death_rate + bg_emig_rate)
    bg_is_death = rng_bg.random(n) < bg_death_rate / (bg_death_rate + bg_emig_rate)
    bg_day = L_last + 35 + np.floor(t_bg).astype(np.int64)
    # Spell-ending exits (death, emigration) and compensation start, as recorded if before extraction.
    exit_day = np.full(n, np.iinfo(np.int64).max // 4)
    exit_cause = np.full(n, "", dtype=object)
    ended_by = cause_last
    death_spell = (ended_by == CAUSES.index("death")) & (L_last <= E)
    emig_spell = (ended_by == CAUSES.index("emigration")) & (L_last <= E)
    exit_day[death_spell | emig_spell] = L_last[death_spell | emig_spell]
    exit_cause[death_spell] = "death"
    exit_cause[emig_spell] = "emigration"
    bg_ok = (ended_by == CAUSES.index("recovery")) & (L_last < E) & (bg_day <= E)
    exit_day[bg_ok] = bg_day[bg_ok]
    exit_cause[bg_ok] = np.where(bg_is_death[bg_ok], "death", "emigration")
    death_day_unknown = bg_ok & bg_is_death & (rng_bg.random(n) < 0.02)
    # Day 00 is read as the 15th: only where that is still well after the last spell's end.
    mid_month = dt.month_start(dt.months(exit_day)) + 14
    death_day_unknown &= mid_month >= L_last + 35
    sa_day = np.full(n, -1)
    sa = (ended_by == CAUSES.index("sickness_compensation")) & (L_last + 1 <= E)
    sa_day[sa] = L_last[sa] + 1

    persons_df = pl.DataFrame({
        "person": np.arange(n), "is_woman": pers["is_woman"], "birth_year": by,
        "education_level": pers["education_level"], "birth_region": pers["birth_region"],
        "occupation": pers["occupation"], "exit_day": exit_day, "exit_cause": exit_cause.astype(str),
        "death_day_unknown": death_day_unknown, "compensation_start_day": sa_day,
        "n_spells": spells.group_by("person").len().sort("person")["len"].to_numpy(),
    })
    periods = split_periods(params, window, spells, rng_for(seed, "periods"))
    fsjp = fsjp_periods(params, window, persons_df, spells, codes, rng_for(seed, "fsjp"))
    periods = pl.concat([periods, fsjp.select(periods.columns).cast(periods.schema)])
    periods = periods[np.lexsort((periods["fom_day"].to_numpy(), periods["person"].to_numpy()))]
    spare = max(50, persons // 50)
    pool = rng_for(seed, "lopnr").choice(20 * (persons + spare) + 1000, size=persons + spare, replace=False) + 1
    lopnr = np.sort(pool[:persons])
    return GroundTruth(
        lopnr=lopnr, spare_lopnr=pool[persons:],
        params=params, window=window, seed=seed, persons=persons_df, spells=spells, periods=periods,
        region_u=region_u, region_v=region_v, region_by_year=pers["region_by_year"], municipality_by_year=pers["municipality_by_year"],
        codes=codes,
    )
