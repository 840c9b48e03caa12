"""Every survival quantity in ../shared/reference/expected.csv, reproduced at the README's tolerances.

The reference values come from R (survival 3.5-3, cmprsk 2.2-11) via make_reference.R beside them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analyses.estimators import (
    AalenJohansenSpec,
    CoxSpec,
    FineGraySpec,
    KaplanMeierSpec,
    fit_aalen_johansen,
    fit_cox,
    fit_fine_gray,
    fit_kaplan_meier,
)

# README: Cox 1e-6 absolute; Aalen-Johansen 1e-7 (ties as R); Fine-Gray 1e-4.
ABSOLUTE_TOLERANCE = {
    "cox_efron": 1e-6,
    "cox_breslow": 1e-6,
    "cause_specific_cox_pcm": 1e-6,
    "km": 1e-7,
    "aalen_johansen": 1e-7,
    "fine_gray_pcm": 1e-4,
}
HEART_COVARIATES = ("age", "year", "surgery", "transplant")
ROSSI_COVARIATES = ("fin", "age", "race", "wexp", "mar", "paro", "prio")
MGUS_CAUSES = {"pcm": 1, "death": 2}


def read_expected(path: Path) -> pd.DataFrame:
    """expected.csv is written unquoted and some terms hold commas ('sex=F,t=60'): the term is
    everything between the second field and the last two."""
    rows = []
    lines = path.read_text().splitlines()
    assert lines[0] == "dataset,model,term,quantity,value"
    for line in lines[1:]:
        parts = line.split(",")
        rows.append({"dataset": parts[0], "model": parts[1], "term": ",".join(parts[2:-2]),
                     "quantity": parts[-2], "value": float(parts[-1])})
    return pd.DataFrame(rows)


REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "expected.csv"
EXPECTED = read_expected(REFERENCE) if REFERENCE.exists() else pd.DataFrame(
    columns=["dataset", "model", "term", "quantity", "value"])
SURVIVAL_ROWS = EXPECTED[EXPECTED["model"].isin(ABSOLUTE_TOLERANCE)]


def _cox_values(result) -> dict[tuple[str, str], float]:
    values = {("", "loglik"): result.loglik}
    for term in result.coef.index:
        values[(term, "coef")] = result.coef[term]
        values[(term, "se")] = result.se[term]
        if result.robust_se is not None:
            values[(term, "robust_se")] = result.robust_se[term]
    return values


@pytest.fixture(scope="module")
def computed(reference_dir: Path) -> dict[tuple[str, str], dict[tuple[str, str], float]]:
    """(dataset, model) -> {(term, quantity): value} from our estimators."""
    heart = pd.read_csv(reference_dir / "heart.csv")
    rossi = pd.read_csv(reference_dir / "rossi.csv")
    mgus = pd.read_csv(reference_dir / "mgus2_cr.csv")
    mgus["sexM"] = (mgus["sex"] == "M").astype(int)
    mgus["is_pcm"] = (mgus["event"] == 1).astype(int)
    out = {}
    for ties in ("efron", "breslow"):
        fit = fit_cox(heart, CoxSpec(stop="stop", event="event", start="start", covariates=HEART_COVARIATES,
                                     cluster="id", ties=ties))
        out[("heart", f"cox_{ties}")] = _cox_values(fit)
    out[("rossi", "cox_efron")] = _cox_values(fit_cox(rossi, CoxSpec(stop="week", event="arrest",
                                                                     covariates=ROSSI_COVARIATES)))
    out[("mgus2", "cause_specific_cox_pcm")] = _cox_values(
        fit_cox(mgus, CoxSpec(stop="etime", event="is_pcm", covariates=("age", "sexM"))))

    km = fit_kaplan_meier(heart, KaplanMeierSpec(time="stop", event="event", start="start", id="id"))
    at = km.survival_at([30, 100, 365, 1000])
    out[("heart", "km")] = {(f"t={t:g}", "survival"): s for t, s in zip(at["time"], at["survival"])}

    aj = fit_aalen_johansen(mgus, AalenJohansenSpec(time="etime", cause="event", group="sex"))
    at = aj.cif_at([60, 120, 240, 360])
    names = {v: k for k, v in MGUS_CAUSES.items()}
    out[("mgus2", "aalen_johansen")] = {
        (f"sex={g},t={t:g}", f"cif_{names[c]}"): v for g, c, t, v in zip(at["group"], at["cause"], at["time"], at["cif"])
    }
    fg = fit_fine_gray(mgus, FineGraySpec(time="etime", cause="event", cause_of_interest=1, covariates=("age", "sexM")))
    out[("mgus2", "fine_gray_pcm")] = {(t, "coef"): fg.coef[t] for t in fg.coef.index} | \
        {(t, "se"): fg.se[t] for t in fg.se.index}
    return out


def test_reference_file_lists_every_survival_model() -> None:
    assert REFERENCE.exists(), f"{REFERENCE} is missing"
    assert set(SURVIVAL_ROWS["model"]) == set(ABSOLUTE_TOLERANCE)
    assert len(SURVIVAL_ROWS) >= 70


@pytest.mark.parametrize(
    "row", SURVIVAL_ROWS.to_dict("records"),
    ids=[f"{r.dataset}/{r.model}/{r.term or '-'}/{r.quantity}" for r in SURVIVAL_ROWS.itertuples()],
)
def test_matches_r(row: dict, computed) -> None:
    values = computed[(row["dataset"], row["model"])]
    ours = values[(row["term"], row["quantity"])]
    assert abs(ours - row["value"]) <= ABSOLUTE_TOLERANCE[row["model"]], (ours, row["value"])


# Standard errors R prints beside the reference quantities (same R versions), not in expected.csv:
#   h <- read.csv("heart.csv")
#   summary(survfit(Surv(start, stop, event) ~ 1, data = h, id = id), times = c(30, 100, 365, 1000))$std.err
#   m <- read.csv("mgus2_cr.csv"); m$ev <- factor(m$event, 0:2, labels = c("censor", "pcm", "death"))
#   summary(survfit(Surv(etime, ev) ~ sex, data = m), times = c(60, 120, 240, 360))$std.err[, 2:3]
HEART_KM_SE = [0.0412215564663, 0.0499462573155, 0.0477296189246, 0.0493895460925]
MGUS_AJ_SE = {  # (sex, cause) -> at 60, 120, 240, 360 months
    ("F", 1): [0.00779833408809, 0.0107697973765, 0.0142629574345, 0.0317428378273],
    ("M", 1): [0.00616458366286, 0.0086443165522, 0.0135258309492, 0.0158156196773],
    ("F", 2): [0.0175806957234, 0.020804914518, 0.02362533434, 0.0323686906322],
    ("M", 2): [0.0176074421125, 0.0189385922542, 0.020668866928, 0.023762660557],
}


def test_kaplan_meier_greenwood_se_matches_r(reference_dir: Path) -> None:
    heart = pd.read_csv(reference_dir / "heart.csv")
    km = fit_kaplan_meier(heart, KaplanMeierSpec(time="stop", event="event", start="start", id="id"))
    np.testing.assert_allclose(km.survival_at([30, 100, 365, 1000])["std_error"], HEART_KM_SE, atol=1e-9)


def test_aalen_johansen_infinitesimal_jackknife_se_matches_r(reference_dir: Path) -> None:
    mgus = pd.read_csv(reference_dir / "mgus2_cr.csv")
    aj = fit_aalen_johansen(mgus, AalenJohansenSpec(time="etime", cause="event", group="sex"))
    at = aj.cif_at([60, 120, 240, 360])
    for (sex, cause), expected in MGUS_AJ_SE.items():
        ours = at[(at["group"] == sex) & (at["cause"] == cause)]["std_error"]
        np.testing.assert_allclose(ours, expected, atol=1e-9)
