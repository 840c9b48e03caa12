"""The planted outcome model of the synthetic deliveries: parameters and hazard arithmetic.

Time ``t`` is days since the spell's first day (day 0 = ``InsjuknandeDatum``). A continuous
event time ``T`` happens on day index ``ceil(T) - 1``, so follow-up lasts ``ceil(T)`` days
(``followup_days = end_date - spell_start + 1``). The first coordination contact (GC001) is on
day index ``t_c = floor(T_c)``; exposure switches at ``t_c`` (person-time ``(0, t_c]``
unexposed, ``(t_c, followup_days]`` exposed), which matches the analysis tables.

Covariates (all observable in the delivery, measured at spell start)
    woman; age group ('16-29', '30-39' ref, '40-49', '50-59', '60-64') from
    ``year(start) - birth_year`` (65+ is treated as '60-64'); occupation status at the first
    FK period (ANST ref, ARBL, EGEN, OVR); partial extent at start (first period < 100 %);
    prior sick leave as the days of the person's earlier spells in the 365 days before start,
    in the bands of `data_schemas.tables.PRIOR_SICK_DAYS_BANDS` (0, 1-29, 30-89, 90-179, 180+;
    a graded confounder, `prior_sick_days_effects`: the more sick days before, the slower the
    return to work and the likelier coordination); education group from
    LISA ``Sun2000Niva`` (low 1-2, medium 3-4 ref, high 5-7, unknown = missing); born in
    Sweden (``FodGrEg4 = 1``); diagnosis group of the first registered diagnosis.

Linear predictor
    ``eta = sum(beta[term] * x[term])`` over the terms of `SynthParameters.beta`; higher eta =
    faster return to work.

Return to work (recovery)
    ``h_r(t) = (k / lam_g) (t / lam_g)^(k-1) * exp(eta + v_region) * exp(gamma_c * 1[t > t_c])``
    with a common Weibull shape ``k``, a scale ``lam_g`` per diagnosis group (from
    `weibull_median_days`: ``lam = median / ln(2)^(1/k)``, the median at eta = 0 without
    coordination) and ``gamma_c = log(HR)`` by chapter group (psychiatric 1.40,
    musculoskeletal 1.20, other and unknown 1.10). Drawn by inverting the cumulative hazard
    with one Exp(1) draw, piecewise before and after ``t_c``. ``v_region`` (below) acts on
    this hazard only: not on coordination, not on sickness compensation or the other
    competing events.

Coordination (first GC001)
    ``h_c(t) = r(t) * exp(u_region + delta_care_level + delta_chapter - alpha * eta)``, ``r``
    piecewise constant on `coordination_band_starts` (low days 0-14, highest 15-60, lower
    61-180, low 181-365, zero from 366); ``u_region`` per home region (below);
    ``delta_care_level`` for the spell's main care level; ``alpha > 0`` plants confounding by
    indication. A spell is coordinated if ``t_c`` falls on or before its last day.
    Coordination affects return to work only.

Region effects (issue 11: regional differences; `region_effects`, recorded in truth.json)
    The home region is the region of residence on 31 December of the year before the spell
    starts (21 regions, ``data_schemas.codes.regions()``).
    ``u_region`` (log hazard of the first GC001): ``N(0, coordination_region_sd^2)`` drawn
    from the seed (stream "regions_u"), then the regions of `coordination_region_outliers`
    set to their planted values: clear outliers of uptake, meant to lie outside the 99.8 %
    funnel limits of the uptake O/E (see the parameter's comment for how often they do).
    ``v_region`` (log hazard of return to work): ``N(0, return_to_work_region_sd^2)`` drawn
    from its own stream ("regions_v"), then the regions of `return_to_work_region_outliers`
    set to their planted values; the other regions' values are then shifted by
    ``a + b * exp(u_region)`` (the least change in the population-weighted metric) so that,
    weighted by the regions' population shares, ``v`` has mean zero and zero covariance
    with ``exp(u_region)``. Why: region raises both coordination (through ``u``) and return
    to work (through ``v``), so a model of return to work that does not adjust for region
    (tv_poisson, and the pooled pseudo-truth check-truth compares it with) would be
    confounded by region if ``v`` were correlated with the coordination hazard across the
    population; orthogonal to ``exp(u)`` the confounding vanishes to first order, while the
    region effect stays for the region analyses to find. The shift is small for most regions
    (a few hundredths: the draws' weighted mean and the outlier's share of it) but moves the
    region with the largest ``exp(u)`` (the high uptake outlier) by up to about 0.2, as its
    ``v`` is the one that balances the covariance; the spread stays about the planted sd.

Competing events (independent of recovery and coordination given the covariates)
    sickness compensation (SA, AE below age 30): piecewise-constant hazard rising with
    duration times ``exp(sa_eta_coef * eta + sa_age_effect[age group])``; the spell ends the
    day before the compensation starts. Death: constant hazard times age-group and
    diagnosis-group effects; the spell ends on the death date. Emigration: constant hazard,
    higher for the foreign-born; the spell ends on the emigration date. The 65th birthday
    (1 July of birth year + 65) ends follow-up; extraction censors it.

Employees (ANST) are paid by the employer for days 0-13, so their spells enter MiDAS only if
they last beyond day 14: every event time of an employee spell is drawn conditional on
exceeding 14 days (delayed entry), which leaves the hazards after day 14 unchanged.

Relapses (issue 14)
    The times above are those of an episode. A share ``relapse_share`` of the episodes long
    enough for two parts of more than 14 days each break: the benefit stops on a day within
    and a new spell starts ``relapse_gap_days`` (8-28) later, running to the episode's end with
    the episode's own diagnosis and draws (the break is never where the first GC001 falls). The
    delivery shows two spells, the second a relapse within the study's 30-day window. Under the
    relapse rule 'continue' a spell is followed through its relapses, so its follow-up is the
    episode's and the planted model is its exact truth; under 'censor' the break censors the
    first part, and since breaks come only in long episodes, those who relapse are the sicker
    ones (informative censoring). New episodes start at least ``new_spell_gap_min_days`` after
    the last one ends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np

from data_schemas.codes import chapter_group_of, code_list, diagnosis_group_of, diagnosis_groups, regions
from data_schemas.tables import PRIOR_SICK_DAYS_BANDS, prior_sick_days_band_labels

AGE_GROUPS = ("16-29", "30-39", "40-49", "50-59", "60-64")
AGE_GROUP_LOWER = (16, 30, 40, 50, 60)
EDUCATION_GROUPS = ("low", "medium", "high", "unknown")
OCCUPATIONS = tuple(c.code for c in code_list("occupation_status_fk"))  # ANST, ARBL, EGEN, OVR
CARE_LEVELS = tuple(c.code for c in code_list("care_level"))  # PV, SSV, PSY
CHAPTER_GROUPS = tuple(c.code for c in code_list("chapter_groups"))
DIAGNOSIS_GROUPS = tuple(g.group for g in diagnosis_groups())  # order used for integer indices


def _frozen(d: Mapping) -> Mapping:
    return MappingProxyType(dict(d))


def _m(**kw) -> Mapping:
    return field(default_factory=lambda: _frozen(kw))


# ICD-10-SE codes (canonical form) drawn within each diagnosis group, with weights.
_DIAGNOSIS_CODES = {
    "stress": (("F438A", 0.55), ("F432", 0.18), ("F439", 0.10), ("F438", 0.08), ("F431", 0.05), ("F430", 0.04)),
    "depression": (("F329", 0.25), ("F321", 0.22), ("F320", 0.12), ("F322", 0.08), ("F331", 0.15), ("F339", 0.10), ("F32", 0.08)),
    "anxiety": (("F411", 0.35), ("F419", 0.25), ("F412", 0.20), ("F410", 0.10), ("F41", 0.10)),
    "other_psychiatric": (("F100", 0.10), ("F200", 0.05), ("F319", 0.12), ("F400", 0.08), ("F429", 0.07), ("F452", 0.10),
                          ("F603", 0.05), ("F900", 0.18), ("F840", 0.10), ("F509", 0.05), ("F480", 0.10)),
    "back_pain": (("M545", 0.45), ("M544", 0.20), ("M542", 0.15), ("M543", 0.08), ("M54", 0.12)),
    "other_musculoskeletal": (("M171", 0.08), ("M161", 0.07), ("M751", 0.14), ("M797", 0.10), ("M511", 0.12), ("M771", 0.08),
                              ("M653", 0.05), ("M232", 0.08), ("M199", 0.06), ("M255", 0.08), ("M479", 0.05), ("M531", 0.09)),
    "neoplasms": (("C509", 0.35), ("C189", 0.10), ("C619", 0.10), ("C349", 0.08), ("D050", 0.07), ("C439", 0.08),
                  ("C719", 0.05), ("D259", 0.07), ("C56", 0.05), ("C64", 0.05)),
    "circulatory": (("I219", 0.20), ("I639", 0.20), ("I10", 0.12), ("I251", 0.15), ("I489", 0.15), ("I500", 0.10), ("I209", 0.08)),
    "respiratory": (("J069", 0.40), ("J189", 0.15), ("J459", 0.12), ("J441", 0.08), ("J209", 0.15), ("J019", 0.05), ("J329", 0.05)),
    "nervous": (("G439", 0.30), ("G35", 0.15), ("G409", 0.12), ("G560", 0.18), ("G473", 0.15), ("G933", 0.10)),
    "injuries": (("S824", 0.12), ("S626", 0.12), ("S525", 0.15), ("S834", 0.12), ("S422", 0.10), ("S934", 0.14), ("T149", 0.10),
                 ("S720", 0.05), ("S134", 0.10)),
    "pregnancy": (("O260", 0.10), ("O219", 0.20), ("O998", 0.15), ("O479", 0.15), ("O268", 0.30), ("O133", 0.10)),
    "symptoms": (("R529", 0.20), ("R53", 0.30), ("R51", 0.15), ("R42", 0.15), ("R104", 0.10), ("R060", 0.10)),
    "covid_special": (("U071", 0.70), ("U099", 0.20), ("U089", 0.10)),
    "other_chapters": (("K358", 0.08), ("K802", 0.08), ("N809", 0.10), ("E119", 0.08), ("H811", 0.08), ("Z736", 0.10),
                       ("B349", 0.12), ("K409", 0.08), ("L409", 0.06), ("A099", 0.12), ("K589", 0.10)),
}


@dataclass(frozen=True)
class SynthParameters:
    """Every planted parameter of the generator (all written to truth.json).

    Hazards are per day; effects are log hazard ratios unless named ``*_hr``.
    """

    # --- population -------------------------------------------------------------------
    share_women: float = 0.635
    # Age in the middle year of the period: (low, high inclusive, share).
    age_bands: tuple = ((17, 24, 0.06), (25, 34, 0.21), (35, 44, 0.24), (45, 54, 0.26), (55, 64, 0.21), (65, 69, 0.02))
    occupation_shares: Mapping = _m(ANST=0.755, ARBL=0.125, EGEN=0.045, OVR=0.075)
    occupation_redraw_per_spell: float = 0.10
    # SUN 2000 level shares (None = missing).
    education_shares: Mapping = _m(**{"1": 0.03, "2": 0.10, "3": 0.17, "4": 0.27, "5": 0.16, "6": 0.245, "7": 0.01, "missing": 0.015})
    birth_region_shares: Mapping = _m(**{"1": 0.80, "2": 0.03, "3": 0.06, "4": 0.11})
    region_move_per_year: float = 0.02
    spells_per_person_shares: tuple = (0.55, 0.27, 0.12, 0.06)  # 1, 2, 3, 4 intended spells
    # Relapse breaks (issue 14): a share of the episodes long enough for two parts of more than 14
    # days each break off on a day within and go on as a new spell 8-28 days later (a relapse within
    # the 30-day window, never merged by the 5-day gap rule) until the episode's end; the episode's
    # latent times are as drawn, so its sustained return to work follows the planted model.
    relapse_share: float = 0.05
    relapse_gap_days: tuple = (8, 28)  # next start - last day of the broken-off part
    new_spell_gap_min_days: int = 35  # gaps between episodes: next start - last day >= 35 ...
    new_spell_gap_mean_extra_days: float = 420.0  # ... + Exp(mean)

    # --- diagnosis and start ------------------------------------------------------------
    diagnosis_group_shares_women: Mapping = _m(
        stress=0.215, depression=0.08, anxiety=0.06, other_psychiatric=0.04, back_pain=0.065,
        other_musculoskeletal=0.095, neoplasms=0.035, circulatory=0.02, respiratory=0.085, nervous=0.03,
        injuries=0.055, pregnancy=0.05, symptoms=0.05, covid_special=0.03, other_chapters=0.065, unknown=0.025)
    diagnosis_group_shares_men: Mapping = _m(
        stress=0.13, depression=0.065, anxiety=0.045, other_psychiatric=0.05, back_pain=0.09,
        other_musculoskeletal=0.13, neoplasms=0.03, circulatory=0.045, respiratory=0.09, nervous=0.03,
        injuries=0.105, pregnancy=0.0, symptoms=0.05, covid_special=0.03, other_chapters=0.085, unknown=0.025)
    diagnosis_codes: Mapping = field(default_factory=lambda: _frozen(_DIAGNOSIS_CODES))
    extent_at_start_shares: Mapping = _m(**{"100": 0.80, "75": 0.05, "50": 0.13, "25": 0.02})
    # Main care level (issuer of the certificate) by chapter group and for some groups.
    care_level_shares_psychiatric: Mapping = _m(PV=0.72, PSY=0.25, SSV=0.03)
    care_level_shares_somatic: Mapping = _m(PV=0.82, PSY=0.01, SSV=0.17)
    care_level_shares_specialised: Mapping = _m(PV=0.35, PSY=0.0, SSV=0.65)  # neoplasms, circulatory
    specialised_groups: tuple = ("neoplasms", "circulatory")

    # --- return to work -----------------------------------------------------------------
    weibull_shape: float = 0.80
    weibull_median_days: Mapping = _m(
        stress=110.0, depression=118.0, anxiety=95.0, other_psychiatric=100.0, back_pain=22.0,
        other_musculoskeletal=60.0, neoplasms=150.0, circulatory=75.0, respiratory=8.0, nervous=55.0,
        injuries=38.0, pregnancy=40.0, symptoms=22.0, covid_special=16.0, other_chapters=28.0, unknown=25.0)
    beta: Mapping = _m(
        woman=-0.10, age_16_29=0.15, age_40_49=-0.10, age_50_59=-0.25, age_60_64=-0.40,
        occupation_ARBL=-0.60, occupation_EGEN=0.10, occupation_OVR=-0.30, partial_extent=0.30,
        education_low=-0.15, education_high=0.15, education_unknown=-0.10,
        born_in_sweden=0.10)
    # Log HR of return to work per band of prior sick days in the 365 days before start (ref 0):
    # graded, as register studies find, so a yes/no adjustment leaves confounding behind.
    prior_sick_days_effects: Mapping = _m(**{"1-29": -0.10, "30-89": -0.30, "90-179": -0.50, "180+": -0.75})
    coordination_hr: Mapping = _m(psychiatric=1.40, musculoskeletal=1.20, other=1.10, unknown=1.10)
    # Region effect on the log hazard of return to work (`region_effects`): N(0, sd^2) per
    # region, the outliers set, the rest made orthogonal to exp(u_region) (model docstring).
    return_to_work_region_sd: float = 0.12
    return_to_work_region_outliers: Mapping = _m(**{"21": -0.45})

    # --- coordination (first GC001) -----------------------------------------------------
    coordination_band_starts: tuple = (0, 15, 61, 181, 366)
    coordination_band_rates: tuple = (0.0006, 0.0033, 0.0013, 0.0004, 0.0)
    coordination_region_sd: float = 0.25
    # Regions whose u is set (not drawn): planted outliers of uptake (`region_effects`).
    # Kalmar (08, 2.3 % of the population) coordinates about a third as often as the others
    # (u = -1.2: O/E of uptake about 0.3), Värmland (17, 2.7 %) about three times as often
    # (u = +1.3: O/E about 2.6; a share saturates, so a high outlier needs a larger u than a
    # low one). With the drawn regions' sd 0.25 these lie well outside the 99.8 % funnel limits
    # (O/E against a national logistic case-mix model, winsorised over-dispersion): both
    # flagged at 15 000 persons (seed 11, the tests), 20 000 (seed 2026, the demo) and 100 000
    # (seed 1, `make bench`). A first calibration, sd 0.40 with outliers -1.8 and +1.9, was as
    # detectable but broke the emulated trials (mandate question 1): with 2 % of its spells
    # coordinated, region 08 stayed imbalanced after weighting (SMD 0.14) and two trial checks
    # failed; positivity matters more than a showier outlier.
    coordination_region_outliers: Mapping = _m(**{"08": -1.2, "17": 1.3})
    coordination_care_level_effect: Mapping = _m(PV=0.0, PSY=-0.25, SSV=-0.9)
    coordination_chapter_effect: Mapping = _m(psychiatric=0.30, musculoskeletal=0.10, other=0.0, unknown=-0.50)
    coordination_alpha: float = 0.60
    gc001_in_home_region_share: float = 0.90
    gc001_extra_contacts_max: int = 5
    # AW026 follow-ups of the DV077 plan (own random stream: the other contacts do not move).
    # A share of the spells with a plan get 1 AW026 contact (2 with `aw026_second_share`),
    # each `aw026_gap_days` (inclusive range) after the plan or the previous follow-up;
    # follow-ups after the spell's last day are not written.
    aw026_follow_up_share: float = 0.5
    aw026_second_share: float = 0.3
    aw026_gap_days: tuple = (14, 56)

    # --- competing events ---------------------------------------------------------------
    sa_band_starts: tuple = (0, 90, 181, 366, 731)
    sa_band_rates: tuple = (0.0, 0.00003, 0.00022, 0.00045, 0.0006)
    sa_eta_coef: float = -0.8
    sa_age_effect: Mapping = _m(**{"16-29": -0.6, "30-39": -0.3, "40-49": 0.0, "50-59": 0.35, "60-64": 0.6})
    activity_compensation_below_age: int = 30
    death_rate: float = 0.000012  # per day, age group 40-49, ordinary diagnoses
    death_age_effect: Mapping = _m(**{"16-29": -1.2, "30-39": -0.6, "40-49": 0.0, "50-59": 0.7, "60-64": 1.3})
    death_group_effect: Mapping = _m(neoplasms=3.0, circulatory=1.6, other_psychiatric=0.7, depression=0.4)
    emigration_rate: float = 0.000015  # per day, born in Sweden
    emigration_foreign_born_effect: float = 1.2

    # --- derived ------------------------------------------------------------------------
    def weibull_scale(self, group: str) -> float:
        """``lam_g`` such that the median at eta = 0 without coordination is the stated one."""
        return self.weibull_median_days[group] / math.log(2.0) ** (1.0 / self.weibull_shape)

    def scales(self) -> np.ndarray:
        """``lam_g`` indexed like `DIAGNOSIS_GROUPS`."""
        return np.array([self.weibull_scale(g) for g in DIAGNOSIS_GROUPS])

    def coordination_log_hr(self, chapter_group: str) -> float:
        return math.log(self.coordination_hr[chapter_group])

    def gammas_by_group(self) -> np.ndarray:
        """``gamma_c`` (log HR) indexed like `DIAGNOSIS_GROUPS` through their chapter group."""
        return np.array([self.coordination_log_hr(chapter_group_of(g)) for g in DIAGNOSIS_GROUPS])

    def to_dict(self) -> dict:
        """JSON-ready dictionary of every parameter, with the derived Weibull scales."""
        out = {f: _plain(getattr(self, f)) for f in self.__dataclass_fields__}
        out["weibull_scale_days"] = {g: self.weibull_scale(g) for g in DIAGNOSIS_GROUPS}
        out["coordination_log_hr"] = {c: self.coordination_log_hr(c) for c in self.coordination_hr}
        return out

    def validate(self) -> None:
        """Raise ValueError if shares do not sum to one or groups/codes are inconsistent."""
        for name in ("occupation_shares", "education_shares", "birth_region_shares", "extent_at_start_shares",
                     "diagnosis_group_shares_women", "diagnosis_group_shares_men", "care_level_shares_psychiatric",
                     "care_level_shares_somatic", "care_level_shares_specialised"):
            total = sum(getattr(self, name).values())
            if abs(total - 1.0) > 1e-9:
                raise ValueError(f"{name} sums to {total}, not 1")
        if abs(sum(s for *_, s in self.age_bands) - 1) > 1e-9 or abs(sum(self.spells_per_person_shares) - 1) > 1e-9:
            raise ValueError("age_bands or spells_per_person_shares do not sum to 1")
        for shares in (self.diagnosis_group_shares_women, self.diagnosis_group_shares_men, self.weibull_median_days):
            if set(shares) != set(DIAGNOSIS_GROUPS):
                raise ValueError(f"diagnosis groups differ from data_schemas: {sorted(set(shares) ^ set(DIAGNOSIS_GROUPS))}")
        if tuple(self.prior_sick_days_effects) != prior_sick_days_band_labels()[1:]:
            raise ValueError(f"prior_sick_days_effects must name the bands {prior_sick_days_band_labels()[1:]} in order")
        region_codes = {r.code for r in regions()}
        for name in ("coordination_region_outliers", "return_to_work_region_outliers"):
            unknown = sorted(set(getattr(self, name)) - region_codes)
            if unknown:
                raise ValueError(f"{name} names unknown region code(s) {unknown}")
        if len(self.return_to_work_region_outliers) > len(region_codes) - 2:
            raise ValueError("return_to_work_region_outliers leaves fewer than 2 regions to make v orthogonal")
        for group, codes in self.diagnosis_codes.items():
            for code, _ in codes:
                if diagnosis_group_of(code) != group:
                    raise ValueError(f"code {code} is in group {diagnosis_group_of(code)}, not {group}")
            if abs(sum(w for _, w in codes) - 1) > 1e-9:
                raise ValueError(f"code weights of {group} do not sum to 1")


def _plain(v):
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (tuple, list)):
        return [_plain(x) for x in v]
    return v


DEFAULT_PARAMETERS = SynthParameters()


# --- covariates and linear predictor ---------------------------------------------------------

def age_group_index(age_years: np.ndarray) -> np.ndarray:
    """Index into `AGE_GROUPS` (ages above 64 fall in '60-64', below 16 in '16-29')."""
    return np.clip(np.searchsorted(np.array(AGE_GROUP_LOWER), age_years, side="right") - 1, 0, len(AGE_GROUPS) - 1)


def education_group_index(sun_level: np.ndarray) -> np.ndarray:
    """Index into `EDUCATION_GROUPS` from SUN levels 1-7 (0 = missing)."""
    lv = np.asarray(sun_level)
    return np.select([lv == 0, lv <= 2, lv <= 4], [3, 0, 1], default=2)


def prior_sick_days_band_index(days: np.ndarray) -> np.ndarray:
    """Band index 0..4 of prior sick days (0, 1-29, 30-89, 90-179, 180+), the analysis covariate's bands."""
    return np.searchsorted(np.asarray(PRIOR_SICK_DAYS_BANDS), np.asarray(days), side="right")


def prior_sick_days_terms(params: "SynthParameters", days: np.ndarray) -> np.ndarray:
    """The planted log HR of each spell's band of prior sick days (0 for none)."""
    labels = prior_sick_days_band_labels()
    effects = np.array([0.0, *(params.prior_sick_days_effects[b] for b in labels[1:])])
    return effects[prior_sick_days_band_index(days)]


def linear_predictor(
    params: SynthParameters,
    *,
    is_woman: np.ndarray,
    age_group: np.ndarray,
    occupation: np.ndarray,
    is_partial_extent: np.ndarray,
    prior_sick_days_365: np.ndarray,
    education_group: np.ndarray,
    is_born_in_sweden: np.ndarray,
) -> np.ndarray:
    """``eta`` for arrays of covariates (age/occupation/education as indices into the tuples above)."""
    b = params.beta
    age_terms = np.array([b["age_16_29"], 0.0, b["age_40_49"], b["age_50_59"], b["age_60_64"]])
    occ_terms = np.array([0.0 if o == "ANST" else b[f"occupation_{o}"] for o in OCCUPATIONS])
    edu_terms = np.array([b["education_low"], 0.0, b["education_high"], b["education_unknown"]])
    return (
        b["woman"] * np.asarray(is_woman, float)
        + age_terms[age_group]
        + occ_terms[occupation]
        + b["partial_extent"] * np.asarray(is_partial_extent, float)
        + prior_sick_days_terms(params, prior_sick_days_365)
        + edu_terms[education_group]
        + b["born_in_sweden"] * np.asarray(is_born_in_sweden, float)
    )


# --- hazard inversions -----------------------------------------------------------------------

def weibull_cumhaz(t: np.ndarray, scale: np.ndarray, shape: float) -> np.ndarray:
    return (np.maximum(t, 0.0) / scale) ** shape


def recovery_cumhaz(t, *, eta, scale, shape, gamma, t_c):
    """Cumulative recovery hazard ``H_r(t)`` (``t_c = inf`` for never coordinated)."""
    t = np.asarray(t, float)
    c = np.exp(eta)
    before = weibull_cumhaz(np.minimum(t, t_c), scale, shape)
    after = np.where(t > t_c, weibull_cumhaz(t, scale, shape) - weibull_cumhaz(np.minimum(t, t_c), scale, shape), 0.0)
    return c * (before + np.exp(gamma) * after)


def draw_recovery_times(e1, *, eta, scale, shape, gamma, t_c, entry):
    """Invert ``H_r(T) = H_r(entry) + e1`` (``e1 ~ Exp(1)``), piecewise before/after ``t_c``."""
    c = np.exp(eta)
    target = recovery_cumhaz(entry, eta=eta, scale=scale, shape=shape, gamma=gamma, t_c=t_c) + e1
    h_at_tc = c * weibull_cumhaz(np.minimum(t_c, 1e12), scale, shape)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        t_before = scale * (target / c) ** (1.0 / shape)
        inner = (np.minimum(t_c, 1e12) / scale) ** shape + (target - h_at_tc) / (c * np.exp(gamma))
        t_after = scale * np.maximum(inner, 0.0) ** (1.0 / shape)
    return np.where(target <= h_at_tc, t_before, t_after)


def piecewise_cumhaz(t, band_starts, band_rates, multiplier):
    """Cumulative hazard of a piecewise-constant baseline (last band open) times `multiplier`."""
    starts = np.asarray(band_starts, float)
    rates = np.asarray(band_rates, float)
    cum = np.concatenate([[0.0], np.cumsum(rates[:-1] * np.diff(starts))])
    t = np.asarray(t, float)
    j = np.searchsorted(starts, t, side="right") - 1
    return multiplier * (cum[j] + rates[j] * (t - starts[j]))


def draw_piecewise_times(e1, band_starts, band_rates, multiplier, entry):
    """Invert ``H(T) = H(entry) + e1`` for a piecewise-constant hazard; ``inf`` if never."""
    starts = np.asarray(band_starts, float)
    rates = np.asarray(band_rates, float)
    cum = np.concatenate([[0.0], np.cumsum(rates[:-1] * np.diff(starts))])
    multiplier = np.asarray(multiplier, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = piecewise_cumhaz(entry, band_starts, band_rates, 1.0) + e1 / multiplier
        j = np.searchsorted(cum, q, side="right") - 1
        # A band whose rate is zero cannot hold the event: move to the next band with hazard.
        t = starts[j] + (q - cum[j]) / rates[j]
    last_open_zero = rates[-1] == 0
    never = (j == len(starts) - 1) & last_open_zero
    t = np.where(never | ~np.isfinite(t), np.inf, t)
    return t


def coordination_log_multiplier(params, *, u_region, care_level, chapter_group, eta):
    """``u_region + delta_care_level + delta_chapter - alpha * eta`` (care/chapter as indices)."""
    care = np.array([params.coordination_care_level_effect[c] for c in CARE_LEVELS])
    chap = np.array([params.coordination_chapter_effect[c] for c in CHAPTER_GROUPS])
    return u_region + care[care_level] + chap[chapter_group] - params.coordination_alpha * eta


def set_outliers(values: np.ndarray, region_codes, outliers: Mapping[str, float]) -> np.ndarray:
    """``values`` (one per region, in the order of ``region_codes``) with the outlier regions set."""
    out = np.array(values, float)
    codes = list(region_codes)
    for code, value in outliers.items():
        out[codes.index(code)] = float(value)
    return out


def orthogonal_region_v(v: np.ndarray, u: np.ndarray, weights: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """``v`` with its non-``fixed`` values shifted so that it is weighted-orthogonal to ``exp(u)``.

    The shift ``a + b * exp(u_i)`` of the free regions (the least change in the metric of the
    weights) makes ``sum(w v) = 0`` and ``sum(w exp(u) v) = 0``: weighted mean zero and zero
    weighted covariance with ``exp(u)``. The ``fixed`` (outlier) regions keep their values.
    """
    v = np.array(v, float)
    w = np.asarray(weights, float) / np.sum(weights)
    e = np.exp(np.asarray(u, float))
    free = ~np.asarray(fixed, bool)
    basis = np.stack([np.ones(free.sum()), e[free]])  # the shift is a + b * e on the free regions
    # constraints A v = 0 with A = [w, w e]; solve for (a, b): A_free basis^T (a, b) = -A v
    A = np.stack([w, w * e])
    gram = A[:, free] @ basis.T
    ab = np.linalg.solve(gram, -(A @ v))
    v[free] += ab @ basis
    return v


def region_effects(params: "SynthParameters", u_draw: np.ndarray, v_draw: np.ndarray, region_codes,
                   weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Planted ``(u_region, v_region)`` per region from the N(0, 1)-scaled draws (model docstring).

    ``u_draw`` and ``v_draw`` are the raw normal draws already multiplied by their sd;
    ``weights`` the regions' population shares (the persons' home regions are drawn with them).
    """
    u = set_outliers(u_draw, region_codes, params.coordination_region_outliers)
    v = set_outliers(v_draw, region_codes, params.return_to_work_region_outliers)
    fixed = np.isin(np.asarray(list(region_codes)), list(params.return_to_work_region_outliers))
    return u, orthogonal_region_v(v, u, weights, fixed)


def death_log_multiplier(params, *, age_group, diagnosis_group):
    age = np.array([params.death_age_effect[a] for a in AGE_GROUPS])
    grp = np.array([params.death_group_effect.get(g, 0.0) for g in DIAGNOSIS_GROUPS])
    return age[age_group] + grp[diagnosis_group]


def sa_log_multiplier(params, *, age_group, eta):
    age = np.array([params.sa_age_effect[a] for a in AGE_GROUPS])
    return age[age_group] + params.sa_eta_coef * eta


def return_to_work_cumulative_incidence(
    params: SynthParameters,
    days: np.ndarray,
    *,
    eta: float,
    diagnosis_group: str,
    age_group: str,
    is_born_in_sweden: bool,
    u_region: float = 0.0,
    v_region: float = 0.0,
    t_c: float = math.inf,
    entry: float = 0.0,
    step: float = 0.25,
) -> np.ndarray:
    """True cumulative incidence of recovery by `days` for one covariate pattern.

    The latent model only (recovery against death, sickness compensation and emigration;
    no age-65 or extraction censoring, no relapse rule). ``t_c`` fixes the day coordination
    starts (``inf`` = never: the counterfactual without coordination); ``entry`` conditions
    on being sick at that day (14 for spells that enter the study). `v_region` is the home
    region's effect on the log hazard of return to work (added to `eta` in the recovery
    hazard only, not in sickness compensation); `u_region` is unused by the recovery model
    and accepted for symmetry with the coordination model.

    Returns
    -------
    numpy.ndarray
        ``P(recovery by t | sick at entry)`` for each ``t`` in `days` (days since spell start).
    """
    days = np.asarray(days, float)
    g = DIAGNOSIS_GROUPS.index(diagnosis_group)
    a = AGE_GROUPS.index(age_group)
    scale = params.weibull_scale(diagnosis_group)
    gamma = params.coordination_log_hr(chapter_group_of(diagnosis_group))
    grid = np.arange(entry, max(days.max(), entry) + step, step)
    h_r = np.diff(recovery_cumhaz(grid, eta=eta + v_region, scale=scale, shape=params.weibull_shape, gamma=gamma, t_c=t_c))
    death = params.death_rate * math.exp(death_log_multiplier(params, age_group=np.array([a]), diagnosis_group=np.array([g]))[0])
    emig = params.emigration_rate * math.exp(0.0 if is_born_in_sweden else params.emigration_foreign_born_effect)
    sa_mult = math.exp(sa_log_multiplier(params, age_group=np.array([a]), eta=np.array([eta]))[0])
    h_sa = np.diff(piecewise_cumhaz(grid, params.sa_band_starts, params.sa_band_rates, sa_mult))
    h_all = h_r + h_sa + (death + emig) * step
    surv_before = np.exp(-np.concatenate([[0.0], np.cumsum(h_all)[:-1]]))
    # Exact within a step when hazards are constant over it: share of the step's exits that are recoveries.
    p_exit = 1.0 - np.exp(-h_all)
    with np.errstate(invalid="ignore", divide="ignore"):
        share_r = np.where(h_all > 0, h_r / h_all, 0.0)
    cif = np.concatenate([[0.0], np.cumsum(surv_before * p_exit * share_r)])
    return np.interp(days, grid, cif, left=0.0)
