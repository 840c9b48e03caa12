"""The coordinators' survey (issue 13, `survey`): response, answers, non-response-weighted estimates and tests.

Reads the analysis tables `survey_responses` (one row per respondent) and `survey_frame` (one
row per region x care level, with the frame count when the optional frame `enkat_urval` was
delivered), and for the ecological linking `spells`.

Design (`analyses.estimators.survey`): the survey invites every member of staff who performs
coordination (a census attempt); respondents are taken as a simple random sample of the frame
within weighting classes = healthcare region (the six sjukvårdsregioner,
`data_schemas.codes.healthcare_regions`) x care level, classes with fewer than
``min_class_respondents`` collapsed into a neighbour; weight = frame count / respondents; the
finite-population correction 1 - n_h/N_h; design df = respondents - classes. Without the frame
every weight is 1 and no FPC is applied (respondents taken as the whole frame of their class);
the response rate is then not computed (a row says so, with no number).

Measures (the ``estimand`` column; ``term`` = item, ``subgroup`` = all / region_code /
care_level / healthcare_region_code, ``level`` = its value; ``weighting`` = weighted or
unweighted):

- ``response_rate``: AAPOR RR1 = respondents / frame, per region, healthcare region, care level
  and for everyone (a census count: no interval).
- ``item_distribution``: share of respondents per answer ``category`` (1-5, dont_know,
  no_answer) of each item F1-F8.
- ``share_agree``: share answering 4-5 of those answering 1-5 (don't know reported apart in
  ``n_dont_know``, not as missing), with the logit interval, or Korn-Graubard for small domains
  (``interval_method``).
- ``item_mean``: mean of the 1-5 answers (t interval, design df).
- ``collaboration_index``: mean of the index items (F1-F4) answered 1-5, for respondents with at
  least ``index_min_items`` of them; ``cronbach_alpha`` of the index items (complete answers,
  Feldt interval).
- ``rao_scott``: second-order Rao-Scott F test of agreeing (4-5 vs 1-3) between regions and
  between care levels per item, ``p_holm`` adjusted over the eight items of one comparison.
- ``weighting_class``: class, respondents, frame count, weight; ``kish_effective_n`` overall.
- ``ecological``: per region the weighted index beside the region's uptake (first GC001 within
  ``uptake_window_days`` among spells still followed at the entry day) and return to work by
  ``rtw_horizon_days`` (``region_index``, ``region_uptake``, ``region_rtw``) and their Spearman
  correlations (``spearman_index_uptake``, ``spearman_index_rtw``): an ecological comparison of
  21 regions, not an effect of collaboration on anyone.

The survey has no sex: the gender perspective is not available for the respondents (the
register part of issue 13, `collaboration`, gives women and men).
"""

from __future__ import annotations

from typing import Any, Callable

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from analyses.designs._models import finish_summary, holm
from analyses.designs.specs import AnalysisSpec, SurveyParameters
from analyses.estimators import survey as est
from analyses.results import Result
from data_schemas.codes import HEALTHCARE_REGION_ORDER
from data_schemas.tables import CARE_LEVELS, SURVEY_ITEM_COLUMNS
from koord.errors import ContractViolation

METHOD = "design_based_survey"
ITEMS = tuple(SURVEY_ITEM_COLUMNS)
CATEGORIES = ("1", "2", "3", "4", "5", "dont_know", "no_answer")
DIMENSIONS = ("region_code", "healthcare_region_code", "care_level")
TEST_DIMENSIONS = ("region_code", "care_level")
DONT_KNOW = 6


def load_survey(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(survey_responses, survey_frame) from the warehouse; empty frames when the tables are absent."""
    present = {r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_schema = 'main'").fetchall()}
    responses = (con.execute("select * from main.survey_responses order by respondent_id").df()
                 if "survey_responses" in present else pd.DataFrame(columns=["respondent_id", "region_code", "healthcare_region_code", "care_level", *SURVEY_ITEM_COLUMNS.values()]))
    frame = (con.execute("select * from main.survey_frame order by region_code, care_level").df()
             if "survey_frame" in present else pd.DataFrame(columns=["region_code", "healthcare_region_code", "care_level", "n_invited", "n_respondents"]))
    return responses, frame


def item_matrix(responses: pd.DataFrame) -> pd.DataFrame:
    """The items F1-F8 as floats (1-6, NaN = no answer), columns named by item."""
    return pd.DataFrame({item: pd.to_numeric(responses[col], errors="coerce").astype(float)
                         for item, col in SURVEY_ITEM_COLUMNS.items()})


def weighting_design(responses: pd.DataFrame, frame: pd.DataFrame,
                     min_respondents: int) -> tuple[est.StratifiedDesign, pd.DataFrame, bool]:
    """The stratified design of the respondents, the class table and whether the frame is known.

    Classes are collapsed on respondent counts (a frame cell without respondents counts 0 and
    joins a neighbour); a class's N_h is the sum of its cells' frame counts. The frame is
    "known" when every cell with respondents has a frame count.
    """
    frame_known = bool(len(frame) and frame["n_invited"].notna().all() and len(responses) > 0)
    cells = (responses.groupby(["healthcare_region_code", "care_level"], observed=True).size()
             .rename("n_respondents").reset_index().rename(columns={"healthcare_region_code": "region_group"}))
    if frame_known:  # a frame cell nobody answered in is a class of 0 respondents: collapsed into a neighbour
        invited = frame[["healthcare_region_code", "care_level"]].drop_duplicates().rename(
            columns={"healthcare_region_code": "region_group"})
        cells = invited.merge(cells, on=["region_group", "care_level"], how="outer").fillna({"n_respondents": 0})
    groups = [g for g in HEALTHCARE_REGION_ORDER if g in set(cells["region_group"])]
    classes = est.collapse_classes(cells, groups, CARE_LEVELS, min_respondents)
    key = dict(zip(zip(classes["region_group"], classes["care_level"]), classes["weighting_class"]))
    stratum = np.array([key[(g, lv)] for g, lv in zip(responses["healthcare_region_code"], responses["care_level"])])
    if frame_known:
        f = frame.assign(weighting_class=[key.get((g, lv)) for g, lv in zip(frame["healthcare_region_code"], frame["care_level"])])
        # frame cells of a class with no respondents at all cannot be represented: reported, not weighted
        N = f.dropna(subset=["weighting_class"]).groupby("weighting_class")["n_invited"].sum()
        population = N.reindex(stratum).to_numpy(float)
        table = (pd.Series(stratum).value_counts().rename("n_respondents").rename_axis("weighting_class").reset_index()
                 .assign(n_invited=lambda d: d["weighting_class"].map(N).astype(float)))
        table["weight"] = table["n_invited"] / table["n_respondents"]
        unrepresented = int(f.loc[f["weighting_class"].isna(), "n_invited"].sum())
    else:
        population = None
        table = (pd.Series(stratum).value_counts().rename("n_respondents").rename_axis("weighting_class").reset_index()
                 .assign(n_invited=np.nan, weight=1.0))
        unrepresented = 0
    table = table.sort_values("weighting_class").reset_index(drop=True)
    table.attrs["frame_not_represented"] = unrepresented
    over = table[table["n_respondents"] > table["n_invited"]]
    if len(over):
        raise ContractViolation("survey_frame: more respondents than staff invited in weighting class(es) "
                                + ", ".join(f"{r.weighting_class} ({r.n_respondents} > {r.n_invited:g})" for r in over.itertuples()))
    return est.StratifiedDesign(stratum, population), table, frame_known


def collaboration_index(items: pd.DataFrame, index_items: tuple[str, ...], min_items: int) -> np.ndarray:
    """Mean of the index items answered 1-5, NaN with fewer than `min_items` of them."""
    X = items[list(index_items)].to_numpy(float)
    X = np.where((X >= 1) & (X <= 5), X, np.nan)
    n = (~np.isnan(X)).sum(axis=1)
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(np.where(n[:, None] > 0, X, 0.0), axis=1)
    return np.where(n >= min_items, mean, np.nan)


def _domains(responses: pd.DataFrame) -> list[tuple[str, str, np.ndarray]]:
    out = [("all", "all", np.ones(len(responses), bool))]
    for dim in DIMENSIONS:
        values = responses[dim].astype(str).to_numpy()
        for level in sorted(set(values)):
            out.append((dim, level, values == level))
    return out


def _share_row(design, y, domain, *, kg_n_eff: float) -> dict[str, Any]:
    e = est.weighted_mean(design, y, domain)
    if not np.isfinite(e.estimate):
        return {"estimate": np.nan, "std_error": np.nan, "conf_low": np.nan, "conf_high": np.nan,
                "n_persons": 0, "n_effective": 0.0, "interval_method": "none", "df": e.df}
    lo, hi, how = est.share_interval(e, max_n_eff=kg_n_eff)
    return {"estimate": e.estimate, "std_error": e.std_error, "conf_low": lo, "conf_high": hi, "n_persons": e.n,
            "n_effective": e.n_effective, "interval_method": how, "df": e.df, "weighted_n": e.weighted_n}


def _mean_row(design, y, domain) -> dict[str, Any]:
    e = est.weighted_mean(design, y, domain)
    lo, hi = est.mean_interval(e) if np.isfinite(e.estimate) else (np.nan, np.nan)
    return {"estimate": e.estimate, "std_error": e.std_error, "conf_low": lo, "conf_high": hi, "n_persons": e.n,
            "n_effective": e.n_effective, "interval_method": "t", "df": e.df, "weighted_n": e.weighted_n}


def response_rows(frame: pd.DataFrame, frame_known: bool) -> list[dict[str, Any]]:
    """AAPOR RR1 per region, healthcare region, care level and everyone (no number without a frame)."""
    rows = []
    if not frame_known:
        return [{"estimand": "response_rate", "term": "RR1", "subgroup": "all", "level": "all", "estimate": np.nan,
                 "n_persons": int(frame["n_respondents"].sum()) if len(frame) else 0, "weighting": "none",
                 "note": "frame (enkat_urval) not delivered, or without a count for a cell with respondents: "
                         "response rate not computed"}]
    f = frame.assign(all="all")
    for dim in ("all", *DIMENSIONS):
        g = f.groupby(dim)[["n_invited", "n_respondents"]].sum()
        for level, r in g.iterrows():
            rows.append({"estimand": "response_rate", "term": "RR1", "subgroup": dim, "level": str(level),
                         "estimate": r["n_respondents"] / r["n_invited"], "n_persons": int(r["n_respondents"]),
                         "n_invited": int(r["n_invited"]), "weighting": "none"})
    return rows


def answer_rows(design, responses, items, params: SurveyParameters, weightings) -> list[dict[str, Any]]:
    """Distribution, share agreeing and mean per item, everyone and per domain, weighted and unweighted."""
    rows = []
    for dim, level, domain in _domains(responses):
        for weighting, d in weightings:
            w = d.weights
            for item in ITEMS:
                x = items[item].to_numpy()
                in_d = domain
                total_w = w[in_d].sum()
                cats = {**{str(k): x == k for k in range(1, 6)}, "dont_know": x == DONT_KNOW, "no_answer": np.isnan(x)}
                for cat in CATEGORIES:
                    m = cats[cat] & in_d
                    rows.append({"estimand": "item_distribution", "term": item, "subgroup": dim, "level": level,
                                 "category": cat, "weighting": weighting,
                                 "estimate": w[m].sum() / total_w if total_w > 0 else np.nan,
                                 "n_persons": int(in_d.sum()), "n_events": int(m.sum())})
                answered = (x >= 1) & (x <= 5)
                agree = np.where(answered, (x >= 4).astype(float), np.nan)
                n_dk = int((cats["dont_know"] & in_d).sum())
                share = _share_row(d, agree, in_d, kg_n_eff=params.korn_graubard_max_n_eff)
                rows.append({"estimand": "share_agree", "term": item, "subgroup": dim, "level": level,
                             "weighting": weighting, **share, "n_events": int((answered & in_d & (x >= 4)).sum()),
                             "n_dont_know": n_dk})
                mean = _mean_row(d, np.where(answered, x, np.nan), in_d)
                rows.append({"estimand": "item_mean", "term": item, "subgroup": dim, "level": level,
                             "weighting": weighting, **mean, "n_dont_know": n_dk})
    return rows


def index_rows(design, responses, index, items, params, weightings) -> list[dict[str, Any]]:
    rows = []
    for dim, level, domain in _domains(responses):
        for weighting, d in weightings:
            rows.append({"estimand": "collaboration_index", "term": "+".join(params.index_items), "subgroup": dim,
                         "level": level, "weighting": weighting, **_mean_row(d, index, domain)})
    X = items[list(params.index_items)].to_numpy(float)
    X = np.where((X >= 1) & (X <= 5), X, np.nan)
    alpha, lo, hi, n = est.cronbach_alpha(X)
    rows.append({"estimand": "cronbach_alpha", "term": "+".join(params.index_items), "subgroup": "all", "level": "all",
                 "weighting": "unweighted", "estimate": alpha, "conf_low": lo, "conf_high": hi, "n_persons": n,
                 "interval_method": "feldt"})
    return rows


def test_rows(design, responses, items) -> list[dict[str, Any]]:
    """Rao-Scott F per item and comparison, Holm over the items of one comparison."""
    rows = []
    for dim in TEST_DIMENSIONS:
        group = responses[dim].astype(str).to_numpy()
        block = []
        for item in ITEMS:
            x = items[item].to_numpy()
            answered = (x >= 1) & (x <= 5)
            category = np.where(x >= 4, "agree", "not_agree")
            rs = est.rao_scott_test(design, group, category, answered)
            block.append({"estimand": "rao_scott", "term": item, "subgroup": dim, "level": "all", "weighting": "weighted",
                          "estimate": rs.f_statistic, "p_value": rs.p_value, "n_persons": rs.n, "ndf": rs.ndf,
                          "df": rs.ddf, "pearson": rs.pearson, "mean_design_effect": rs.mean_design_effect})
        adjusted = holm([r["p_value"] if np.isfinite(r["p_value"]) else 1.0 for r in block])
        for r, p in zip(block, adjusted):
            r["p_holm"] = p
        rows += block
    return rows


def register_by_region(spells: pd.DataFrame, params: SurveyParameters) -> pd.DataFrame:
    """Per home region: spells still followed at the entry day, uptake within the window, return to work by the horizon."""
    entry = int(params.entry_day or 0)
    s = spells.loc[spells["followup_days"] > entry]
    region = s["home_region_code"].astype(str)
    gc = pd.to_numeric(s["days_to_first_gc001"], errors="coerce")
    uptake = (gc < params.uptake_window_days).fillna(False)
    h = params.rtw_horizon_days
    rtw_by_h = (s["end_reason"].astype(str) == "return_to_work") & (s["followup_days"] <= h)
    known = rtw_by_h | (s["followup_days"] >= h) | (s["end_reason"].astype(str).isin(
        ["death", "emigration", "sickness_compensation", "age_65"]) & (s["followup_days"] <= h))
    df = pd.DataFrame({"region_code": region, "uptake": uptake.astype(float), "rtw": rtw_by_h.astype(float), "known": known})
    out = df.groupby("region_code").agg(n_spells=("uptake", "size"), n_uptake=("uptake", "sum"))
    out["uptake"] = out["n_uptake"] / out["n_spells"]
    k = df.loc[df["known"]].groupby("region_code").agg(n_known=("rtw", "size"), n_rtw=("rtw", "sum"))
    out = out.join(k, how="left")
    out["rtw"] = out["n_rtw"] / out["n_known"]
    return out.reset_index()


def ecological_rows(index_rows_: list[dict], register: pd.DataFrame) -> list[dict[str, Any]]:
    idx = {r["level"]: r for r in index_rows_ if r["estimand"] == "collaboration_index"
           and r["subgroup"] == "region_code" and r["weighting"] == "weighted"}
    rows, merged = [], []
    for r in register.itertuples():
        if r.region_code not in idx:
            continue
        i = idx[r.region_code]
        merged.append((i["estimate"], r.uptake, r.rtw))
        rows += [
            {"estimand": "ecological", "term": "region_index", "subgroup": "region_code", "level": r.region_code,
             "weighting": "weighted", "estimate": i["estimate"], "conf_low": i["conf_low"], "conf_high": i["conf_high"],
             "n_persons": i["n_persons"]},
            {"estimand": "ecological", "term": "region_uptake", "subgroup": "region_code", "level": r.region_code,
             "weighting": "none", "estimate": r.uptake, "n_persons": int(r.n_spells), "n_events": int(r.n_uptake)},
            {"estimand": "ecological", "term": "region_rtw", "subgroup": "region_code", "level": r.region_code,
             "weighting": "none", "estimate": r.rtw,
             "n_persons": int(r.n_known) if np.isfinite(r.n_known) else 0,
             "n_events": int(r.n_rtw) if np.isfinite(r.n_rtw) else 0},
        ]
    m = np.array(merged, float).reshape(-1, 3)
    ok = ~np.isnan(m).any(axis=1)
    for j, name in ((1, "spearman_index_uptake"), (2, "spearman_index_rtw")):
        if ok.sum() >= 5 and np.ptp(m[ok, 0]) > 0 and np.ptp(m[ok, j]) > 0:
            rho, p = stats.spearmanr(m[ok, 0], m[ok, j])
            # Fisher z interval of Spearman's rho with the Bonett-Wright variance (1 + rho^2 / 2) / (n - 3)
            n = int(ok.sum())
            se = np.sqrt((1 + rho ** 2 / 2) / (n - 3))
            zr = np.arctanh(np.clip(rho, -0.999999, 0.999999))
            lo, hi = np.tanh(zr - 1.959964 * se), np.tanh(zr + 1.959964 * se)
        else:
            rho = p = lo = hi = np.nan
            n = int(ok.sum())
        rows.append({"estimand": "ecological", "term": name, "subgroup": "region_code", "level": "all",
                     "weighting": "weighted", "estimate": rho, "conf_low": lo, "conf_high": hi, "p_value": p,
                     "n_persons": n, "note": "ecological: regions, not persons"})
    return rows


def survey_analysis(spec: AnalysisSpec, responses: pd.DataFrame, frame: pd.DataFrame, spells: pd.DataFrame,
                    progress: Callable[[str], None] | None = None) -> Result:
    """The survey analysis (`SurveyParameters`) on the analysis tables; see the module docstring."""
    params: SurveyParameters = spec.parameters
    say = progress or (lambda message: None)
    rows: list[dict[str, Any]] = []
    diagnostics: dict[str, Any] = {"design": spec.design, "n_respondents": int(len(responses)),
                                   "has_sex": False, "sex_note": "the survey has no sex: no figures for women and men"}
    if len(responses) == 0:
        diagnostics["note"] = "no survey responses in the warehouse"
        rows = response_rows(frame, False)
        return Result(spec.id, METHOD, finish_summary(rows, spec.id, METHOD, diagnostics), diagnostics, {})
    responses = responses.reset_index(drop=True)
    design, classes, frame_known = weighting_design(responses, frame, params.min_class_respondents)
    unweighted = est.StratifiedDesign(design.stratum, None)
    weightings = [("weighted", design), ("unweighted", unweighted)]
    items = item_matrix(responses)
    say("  survey: response and answers")
    rows += response_rows(frame, frame_known)
    for c in classes.itertuples():
        rows.append({"estimand": "weighting_class", "term": c.weighting_class, "subgroup": "weighting_class",
                     "level": c.weighting_class, "estimate": c.weight, "n_persons": int(c.n_respondents),
                     "n_invited": c.n_invited, "weighting": "weighted" if frame_known else "none"})
    rows.append({"estimand": "kish_effective_n", "term": "all", "subgroup": "all", "level": "all",
                 "estimate": est.kish_effective_n(design.weights), "n_persons": design.n, "weighting": "weighted"})
    rows += answer_rows(design, responses, items, params, weightings)
    index = collaboration_index(items, params.index_items, params.index_min_items)
    idx_rows = index_rows(design, responses, index, items, params, weightings)
    rows += idx_rows
    say("  survey: Rao-Scott tests")
    rows += test_rows(design, responses, items)
    if len(spells):
        rows += ecological_rows(idx_rows, register_by_region(spells, params))
    diagnostics.update({
        "frame_known": frame_known,
        "assumption": ("respondents a random sample of the frame within weighting classes (healthcare region x care "
                       "level); weights N_h/n_h; finite-population correction") if frame_known else
                      ("frame not delivered: respondents taken as the whole frame of their class (no non-response "
                       "weighting, no finite-population correction); response rate not computed"),
        "n_weighting_classes": int(design.n_strata), "design_df": int(design.df),
        "kish_effective_n": est.kish_effective_n(design.weights),
        "frame_not_represented": int(classes.attrs.get("frame_not_represented", 0)),
        "region_groups": "healthcare regions (sjukvårdsregioner); Halland with Västra",
        "min_class_respondents": params.min_class_respondents,
        "interval_rule": f"Korn-Graubard when the effective n < {params.korn_graubard_max_n_eff:g} or the share is "
                         f"outside [{est.KORN_GRAUBARD_P_EDGE}, {1 - est.KORN_GRAUBARD_P_EDGE}], else logit",
        "no_samplics": "samplics is not installable here; variance by the estimators.survey module (tested by hand)",
    })
    summary = finish_summary(rows, spec.id, METHOD, diagnostics)
    return Result(spec.id, METHOD, summary, diagnostics, {})


__all__ = ["collaboration_index", "load_survey", "register_by_region", "survey_analysis", "weighting_design"]
