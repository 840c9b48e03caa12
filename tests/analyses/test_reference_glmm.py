"""cbpp/glmm_laplace from ../shared/reference/expected.csv: random-intercept logistic by Laplace.

README tolerance: 1e-3 relative to lme4's Laplace fit. glmer stops on its default tolerances
short of the maximum; refitted with tight ones, lme4 1.1-31 gives the values below, which we
match far more closely:

    g <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cb, family = binomial,
               control = glmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5),
                                      tolPwrss = 1e-12))
    fixef(g); as.numeric(VarCorr(g)$herd); logLik(g)
    sqrt(diag(as.matrix(vcov(g)))); sqrt(diag(as.matrix(vcov(g, use.hessian = FALSE))))
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analyses.estimators import GlmmBinomialSpec, fit_glmm_binomial


def read_expected(path: Path) -> pd.DataFrame:
    """expected.csv is unquoted and some terms hold commas: the term is what lies between the
    second field and the last two (as in test_reference_survival.py)."""
    rows = []
    for line in path.read_text().splitlines()[1:]:
        parts = line.split(",")
        rows.append({"dataset": parts[0], "model": parts[1], "term": ",".join(parts[2:-2]),
                     "quantity": parts[-2], "value": float(parts[-1])})
    return pd.DataFrame(rows)


REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "expected.csv"
GLMM_ROWS = read_expected(REFERENCE).query("model == 'glmm_laplace'") if REFERENCE.exists() else pd.DataFrame()
RELATIVE_TOLERANCE = 1e-3
TIGHT_LME4 = {
    "coef": [-1.398532115642378, -0.992332716082172, -1.128672052688385, -1.580313826107921],
    "variance": 0.412499758779294,
    "loglik": -92.0262818714972,
    "se": [0.232471839470920, 0.306642279389550, 0.326637544511163, 0.427436064565070],
    "se_given_variance": [0.227890882867717, 0.305385527671169, 0.326049282778788, 0.428795001893183],
}
TERMS = {"(Intercept)": "Intercept", "period2": "C(period)[T.2]", "period3": "C(period)[T.3]",
         "period4": "C(period)[T.4]"}


@pytest.fixture(scope="module")
def fit(reference_dir):
    cbpp = pd.read_csv(reference_dir / "cbpp.csv")
    return fit_glmm_binomial(cbpp, GlmmBinomialSpec(successes="incidence", trials="size",
                                                    formula_rhs="C(period)", group="herd"))


def test_reference_lists_the_glmm() -> None:
    assert len(GLMM_ROWS) == 7


@pytest.mark.parametrize("row", GLMM_ROWS.to_dict("records"), ids=[f"{r.term}/{r.quantity}" for r in GLMM_ROWS.itertuples()])
def test_matches_lme4_laplace(row: dict, fit) -> None:
    summary = fit.summary.set_index(["estimand", "term"])
    if row["quantity"] == "coef":
        ours = fit.coef[TERMS[row["term"]]]
    else:
        ours = summary.loc[(row["quantity"], "herd"), "estimate"]
    assert abs(ours - row["value"]) <= RELATIVE_TOLERANCE * abs(row["value"]), (ours, row["value"])


def test_reaches_the_maximum_lme4_reaches_with_tight_tolerances(fit) -> None:
    np.testing.assert_allclose(fit.coef, TIGHT_LME4["coef"], atol=1e-6)
    assert fit.variance == pytest.approx(TIGHT_LME4["variance"], abs=1e-6)
    assert fit.loglik == pytest.approx(TIGHT_LME4["loglik"], abs=1e-7)
    np.testing.assert_allclose(fit.se, TIGHT_LME4["se"], atol=1e-5)
    np.testing.assert_allclose(fit.summary["se_given_variance"].iloc[:4], TIGHT_LME4["se_given_variance"], atol=1e-6)
    assert fit.diagnostics["se_type"] == "hessian (lme4 default)"


def test_person_level_rows_give_the_same_fit_as_counts(reference_dir, fit) -> None:
    cbpp = pd.read_csv(reference_dir / "cbpp.csv")
    persons = cbpp.loc[cbpp.index.repeat(cbpp["size"])].copy()
    persons["sick"] = np.concatenate([np.r_[np.ones(i), np.zeros(s - i)] for i, s in zip(cbpp["incidence"], cbpp["size"])])
    per_person = fit_glmm_binomial(persons, GlmmBinomialSpec(successes="sick", formula_rhs="C(period)", group="herd"))
    np.testing.assert_allclose(per_person.coef, fit.coef, atol=1e-7)
    assert per_person.variance == pytest.approx(fit.variance, abs=1e-7)
    assert per_person.diagnostics["n_rows_collapsed"] == 56


def test_no_group_variation_gives_variance_near_zero() -> None:
    rng = np.random.default_rng(4)
    data = pd.DataFrame({"g": np.repeat(np.arange(10), 200), "x": rng.normal(size=2000)})
    data["y"] = rng.binomial(1, 1 / (1 + np.exp(-(-0.5 + 0.4 * data["x"]))))
    fit = fit_glmm_binomial(data, GlmmBinomialSpec(successes="y", formula_rhs="x", group="g"))
    assert fit.variance < 0.02 and abs(fit.coef["x"] - 0.4) < 0.15
    mor = fit.summary.set_index("estimand").loc["median_odds_ratio", "estimate"]
    assert mor == pytest.approx(np.exp(np.sqrt(2 * fit.variance) * 0.6744897501960817))
