"""The output-check log in Swedish words: locations, reasons and rules (reports.logtext), and one row per number.

The CSV is built from `check_outputs` on small hand-made outputs; no withheld value may appear in it.
"""

from __future__ import annotations

import re
from datetime import datetime

import pandas as pd
import pytest

from reports.builder import template_environment
from reports.checklog import NUMBER_COLUMNS, number_log_frame, write_check_log
from reports.disclosure import (
    RULE_LABELS_SV,
    CurveOutput,
    DisclosureClass,
    DisclosureRules,
    FigureOutput,
    FrequencyOutput,
    MagnitudeOutput,
    ModelOutput,
    OutputDeclaration,
    Reason,
    RowLevelOutput,
    RunInfo,
    TextNumberOutput,
    check_outputs,
    magnitude_stats,
    magnitude_table_from_stats,
    with_margins,
)
from reports.logtext import defaults_text_sv, location_sv, reason_sv, rule_sv, rules_text_sv

RUN = RunInfo(run_at=datetime(2026, 1, 15, 12, 0), code_version="test", environment=(("Python", "3.11"),))
FREQ = OutputDeclaration("freq", DisclosureClass.FREQUENCY, "Frekvenstabell")
MODEL = OutputDeclaration("model", DisclosureClass.MODEL, "Modell")
CURVE = OutputDeclaration("curve", DisclosureClass.SURVIVAL_CURVE, "Kurva")
FIG = OutputDeclaration("fig", DisclosureClass.FIGURE, "Figur")
TEXT = OutputDeclaration("text", DisclosureClass.TEXT_NUMBER, "Tal")
ROWS = OutputDeclaration("rows", DisclosureClass.ROW_LEVEL, "Individdata")
CODE_WORDS = re.compile(r"[a-z]+_[a-z_]+|\b(?:True|False|None|nan|unknown|woman|man|Totalt|__saknas__)\b|:kvar|:bort")


# --- words ------------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", sorted(RULE_LABELS_SV))
def test_every_rule_has_its_own_swedish_reason(rule):
    text = reason_sv(Reason("personer / 4:bort / unknown", rule), DisclosureRules())
    assert text.startswith(("undertryckt", "stoppad"))
    assert text != f"undertryckt: {RULE_LABELS_SV[rule]}"  # not the fallback: words of its own
    assert not CODE_WORDS.search(text), text
    assert rule_sv(rule, DisclosureRules()) and not CODE_WORDS.search(rule_sv(rule, DisclosureRules()))


def test_the_reasons_read_as_the_issue_asks():
    rules = DisclosureRules()
    assert reason_sv(Reason("x", "min_cell_count", "under 10"), rules) == "undertryckt: färre än 10 personer"
    assert reason_sv(Reason("x", "secondary", "skyddar a / b / c"), rules) == (
        "undertryckt (sekundärt): annars räknebar ur summor i samma eller länkade tabeller")
    assert reason_sv(Reason("x", "min_events", "under 10"), rules) == "undertryckt: färre än 10 händelser bakom skattningen"
    assert reason_sv(Reason("x", "extreme_share"), rules) == "undertryckt: andelen är 0 % eller 100 % av gruppen"
    assert reason_sv(Reason("x", "audit", "skyddar a / b / c"), rules) == (
        "undertryckt: intervallet som övriga publicerade tal ger är smalare än 10")
    # The thresholds are those in force: from the reason's detail, else from the rules.
    assert reason_sv(Reason("x", "min_cell_count"), DisclosureRules(min_cell_count=50)) == "undertryckt: färre än 50 personer"
    assert reason_sv(Reason("x", "min_cell_count", "under 20"), rules) == "undertryckt: färre än 20 personer"
    # An unknown rule key falls back to its label.
    assert reason_sv(Reason("x", "a_new_rule"), rules) == "undertryckt: a_new_rule"


@pytest.mark.parametrize("code, words", [
    ("personer / 4:bort / unknown", "personer, tas bort i steg 4, okänt kön"),
    ("sjukfall / 8:kvar / Totalt", "sjukfall, kvar efter steg 8, totalt"),
    ("personer / 1:kvar / woman", "personer, kvar efter steg 1, kvinnor"),
    ("woman / death / koordinerad", "kvinnor: död, koordinerade"),
    ("man / return_to_work / ej_koordinerad", "män: återgång i arbete, ej koordinerade"),
    ("age_group / 60-64 / man", "Åldersgrupp: 60–64 år, män"),
    ("diagnosis_group / __saknas__ / woman", "Diagnosgrupp: uppgift saknas, kvinnor"),
    ("has_prior_sick_leave / False / Totalt", "Sjukskriven under de 365 dagarna före: nej, totalt"),
    ("hela utdatan", "hela utdatan"),
])
def test_locations_become_words(code, words):
    assert location_sv(code) == words


def test_locations_of_models_curves_and_unknown_codes():
    coordinated = location_sv("is_coordinated / True / woman")
    assert "koordinerad" in coordinated and "kvinnor" in coordinated and "True" not in coordinated
    model = location_sv("rtw_cox / age_group / 60-64 / man / is_coordinated")
    assert model == "analys rtw_cox, Åldersgrupp: 60–64 år, män, term: koordinering"
    assert location_sv("rtw_cox / sex / woman / woman / is_coordinated") == "analys rtw_cox, Kön: Kvinnor, term: koordinering"
    assert location_sv("arm=koordinerad, sex=woman, t=30") == "koordinerade, kvinnor, dag 30"
    assert location_sv("kurvan, start") == "kurvans start"
    assert location_sv("some_table / row x / col y") == "some_table, row x, col y"  # unknown parts pass through
    assert location_sv("modell:tv_cox") == "modell:tv_cox"


def test_rules_are_sentences_with_the_thresholds_in_force():
    default = rules_text_sv(DisclosureClass.FREQUENCY, DisclosureRules())
    assert default.startswith("Celler med 1–9 personer undertrycks; nollor som röjer en egenskap hos alla i en grupp undertrycks")
    assert "sekundär undertryckning över länkade tabeller" in default and default.endswith("ingen avrundning.")
    strict = rules_text_sv(DisclosureClass.FREQUENCY, DisclosureRules(min_cell_count=50, rounding_base=5))
    assert "1–49 personer" in strict and "avrundning till närmaste 5" in strict
    for cls in DisclosureClass:
        text = rules_text_sv(cls, DisclosureRules())
        assert text and not CODE_WORDS.search(text) and "_count=" not in text, (cls, text)
    assert "färre än 10 händelser" in rules_text_sv(DisclosureClass.MODEL, DisclosureRules())


def test_the_defaults_say_where_the_rules_are_set_and_why_no_rounding():
    text = defaults_text_sv()
    assert "[disclosure]" in text and "study.toml" in text and "minst 10 personer per cell" in text
    assert "ingen avrundning" in text and "går ihop för läsaren" in text and "granskat" in text
    assert "rounding_base = 5 eller 10" in text
    assert "min_cell_count = 50" in defaults_text_sv(DisclosureRules(min_cell_count=50))


# --- one row per number -------------------------------------------------------------------------

# Withheld values chosen so that none is published anywhere else.
INTERIOR = pd.DataFrame({"woman": [1203, 7, 577], "man": [981, 313, 409]},
                        index=["psychiatric", "musculoskeletal", "other"])


def model_summary() -> pd.DataFrame:
    base = {"analysis_id": "rtw_cox", "method": "cox", "estimand": "hazard_ratio", "term": "is_coordinated",
            "sex": "man", "estimate": 1.25, "std_error": 0.1, "conf_low": 1.02, "conf_high": 1.53, "p_value": 0.03,
            "diagnostics": "{}"}
    rows = [
        {"subgroup": "sex", "level": "man", "n_persons": 3800, "n_events": 3200},
        {"subgroup": "age_group", "level": "16-39", "n_persons": 2000, "n_events": 1500},
        {"subgroup": "age_group", "level": "40-59", "n_persons": 1511, "n_events": 1233},  # complement: counts withheld
        {"subgroup": "age_group", "level": "60-64", "n_persons": 289, "n_events": 8,  # too few events
         "estimate": 2.3456, "std_error": 0.4321, "conf_low": 1.0789, "conf_high": 5.0987, "p_value": 0.0432},
    ]
    return pd.DataFrame([{**base, **r} for r in rows])


def checked_outputs(**rules):
    curve = pd.DataFrame({"arm": "koordinerad", "time": [0, 5, 8, 12, 20, 30], "cif": [0.0, 0.03, 0.05, 0.12, 0.15, 0.3],
                          "n_at_risk": [100, 100, 97, 95, 84, 80], "n_events": [0, 3, 2, 7, 3, 12]})
    outputs = [
        FrequencyOutput(FREQ, {"diagnos": with_margins(INTERIOR)}),
        ModelOutput(MODEL, model_summary()),
        CurveOutput(CURVE, curve, group_columns=("arm",)),
        FigureOutput(FIG, source_ids=("model",)),
        TextNumberOutput(TEXT, 6, output_id="text_small"),
        TextNumberOutput(TEXT, 1234, output_id="text_big"),
        RowLevelOutput(ROWS, pd.DataFrame({"person_id": [1, 2], "x": [3, 4]})),
    ]
    return check_outputs(outputs, DisclosureRules(**rules), RUN)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    directory = tmp_path_factory.mktemp("log")
    checked = checked_outputs()
    audit = pd.DataFrame({"output_id": ["freq", "freq"], "location": ["diagnos / musculoskeletal / woman", "diagnos / other / man"],
                          "lower": [0.0, 300.0], "upper": [320.0, 305.0], "width": [320.0, 5.0], "threshold": [10, 10],
                          "protected": [True, False]})
    files = [("rapport.html", "ab" * 32, "rapporten (HTML)")]
    cited = [("model", "Sammanfattning: hasardkvot, män", "1,25 (1,02–1,53)")]
    csv_path, html_path = write_check_log(checked, directory, rules=DisclosureRules(), run=RUN, env=template_environment(),
                                          warehouse="w.duckdb", audit=audit, files=files, cited=cited)
    numbers = pd.read_csv(csv_path, sep=";", dtype=str, keep_default_na=False)
    return {"dir": directory, "csv": csv_path, "html": html_path, "numbers": numbers, "checked": checked}


def test_the_log_has_one_row_per_number_with_its_columns(written):
    numbers, checked = written["numbers"], written["checked"]
    assert written["csv"].name == "utdatakontroll.csv" and written["html"].name == "utdatakontroll.html"
    assert list(numbers.columns) == list(NUMBER_COLUMNS)
    freq = numbers[numbers["output_id"] == "freq"]
    assert len(freq) == checked["freq"].n_cells == 12  # every cell of the table, margins included
    assert set(numbers["status"]) <= {"publicerad", "avrundad", "undertryckt", "stoppad"}
    assert (numbers["disclosure_class"] == "frekvenstabell").sum() == 12
    model = numbers[(numbers["output_id"] == "model") & (numbers["table"] == "summary")]
    assert len(model) == 4 * 7  # every numeric column of every row
    assert set(numbers.loc[numbers["output_id"] == "rows", "status"]) == {"stoppad"}
    assert "individnivå" in numbers.loc[numbers["output_id"] == "rows", "reason_sv"].iloc[0]
    assert numbers.loc[numbers["output_id"] == "fig", "location_sv"].iloc[0] == "figur ritad ur model"
    assert numbers.loc[numbers["output_id"] == "text_big", "value_published"].iloc[0] == "1234"
    cited = numbers[numbers["location_sv"] == "Sammanfattning: hasardkvot, män"]
    assert cited["value_published"].tolist() == ["1,25 (1,02–1,53)"] and cited["output_id"].tolist() == ["model"]
    assert (numbers["run_at"] == "2026-01-15T12:00:00").all() and (numbers["software"] == "Python 3.11").all()


def test_a_small_cell_is_listed_empty_with_its_reason_in_words(written):
    numbers = written["numbers"].set_index("location_sv")
    small = numbers.loc["diagnos, musculoskeletal, kvinnor"]
    assert small["value_published"] == "" and small["status"] == "undertryckt"
    assert small["reason_sv"] == "undertryckt: färre än 10 personer"
    assert small["rule_sv"] == "primär undertryckning: minst 10 personer per cell"
    secondary = numbers.loc["diagnos, musculoskeletal, män"]
    assert secondary["value_published"] == "" and secondary["reason_sv"].startswith("undertryckt (sekundärt)")
    assert secondary["note_sv"] == "skyddar diagnos, musculoskeletal, kvinnor"
    published = numbers.loc["diagnos, psychiatric, kvinnor"]
    assert (published["value_published"], published["status"], published["reason_sv"]) == ("1203", "publicerad", "")
    assert "minst 10 personer per cell" in published["rule_sv"]


def test_withheld_model_rows_counts_and_curve_steps_are_listed_with_reasons(written):
    numbers = written["numbers"]
    model = numbers[numbers["output_id"] == "model"]
    old = model[model["location_sv"].str.contains("60–64")]
    assert len(old) == 7 and (old["value_published"] == "").all()
    assert set(old["reason_sv"]) == {"undertryckt: färre än 10 händelser bakom skattningen"}
    middle = model[model["location_sv"].str.contains("40–59")].set_index("measure_sv")
    assert middle.at["skattning", "value_published"] == "1.25"  # the estimate stays
    assert middle.at["antal personer", "value_published"] == "" and "sekundärt" in middle.at["antal personer", "reason_sv"]
    assert middle.loc["antal personer", "location_sv"] == "analys rtw_cox, Åldersgrupp: 40–59 år, män, term: koordinering, hasardkvot (HR)"
    curve = numbers[numbers["output_id"] == "curve"]
    hidden = curve[curve["status"] == "undertryckt"]
    assert hidden["location_sv"].tolist() == ["koordinerade, dag 5", "koordinerade, dag 8", "koordinerade, dag 20"]
    assert set(curve.loc[curve["status"] == "publicerad", "location_sv"]) == {
        "koordinerade, dag 0", "koordinerade, dag 12", "koordinerade, dag 30"}
    small = numbers[numbers["output_id"] == "text_small"].iloc[0]
    assert small["value_published"] == "" and small["reason_sv"] == "undertryckt: färre än 10 personer"


def test_no_withheld_value_appears_anywhere_in_the_log(written):
    texts = [p.read_text(encoding="utf-8") for p in sorted(written["dir"].iterdir())]
    text = "\n".join(t.split("</style>", 1)[-1] for t in texts)  # the log, not its style sheet
    text = re.sub(r"\b[0-9a-f]{64}\b", "", text)  # nor the files' SHA-256
    withheld = ["313", "577", "409", "1511", "1233", "289", "2.3456", "0.4321", "1.0789", "5.0987", "0.0432"]
    for value in withheld:
        assert not re.search(rf"(?<![\d.,:–-]){re.escape(value)}(?![\d.,]\d)", text), value
    # Single digits (the small cell 7, the model's 8 events, the text number 6) are not among the published values.
    assert not {"6", "7", "8"} & set(written["numbers"]["value_published"])


def test_rounded_counts_are_marked_and_the_summary_per_output_is_kept(tmp_path):
    checked = checked_outputs(rounding_base=5)
    numbers = number_log_frame(checked, DisclosureRules(rounding_base=5))
    counts = numbers[(numbers["output_id"] == "freq") & (numbers["value_published"] != "")]
    assert set(counts["status"]) == {"avrundad"} and all(int(v) % 5 == 0 for v in counts["value_published"])
    assert "avrundning till närmaste 5" in counts["rule_sv"].iloc[0]
    model = numbers[numbers["output_id"] == "model"].set_index(["location_sv", "measure_sv"])
    first = numbers.loc[numbers["output_id"] == "model", "location_sv"].iloc[0]
    assert model.loc[(first, "skattning"), "status"] == "publicerad"  # estimates are not rounded
    assert model.loc[(first, "antal personer"), "status"] == "avrundad"

    write_check_log(checked, tmp_path, rules=DisclosureRules(rounding_base=5), run=RUN, env=template_environment(),
                    warehouse="w.duckdb")
    summary = pd.read_csv(tmp_path / "utdatakontroll_utdata.csv", sep=";", keep_default_na=False)
    assert summary["output_id"].tolist() == list(checked)
    row = summary.set_index("output_id").loc["freq"]
    assert row["status"] == "suppressed" and "diagnos, musculoskeletal, kvinnor: undertryckt: färre än 10 personer" in row["reasons"]
    assert row["rule_set"].startswith("Celler med 1–9 personer undertrycks") and "närmaste 5" in row["rule_set"]
    assert not (tmp_path / "utdatakontroll_granskning.csv").exists()  # no audit given


def test_the_html_shows_rules_numbers_audit_and_files(written):
    html = written["html"].read_text(encoding="utf-8")
    assert "Celler med 1–9 personer undertrycks" in html and "Python 3.11" in html
    assert "<h2>Varje tal</h2>" in html and "undertryckt: färre än 10 personer" in html
    assert "diagnos, musculoskeletal, kvinnor" in html
    assert "Granskning av undertryckta celler" in html and "RÖJD" in html and "skyddad" in html
    assert "Filer i rapportmappen" in html and "ab" * 32 in html
    audit = pd.read_csv(written["dir"] / "utdatakontroll_granskning.csv", sep=";", keep_default_na=False)
    assert audit["result_sv"].tolist() == ["skyddad", "RÖJD"]
    assert audit["location_sv"].tolist() == ["diagnos, musculoskeletal, kvinnor", "diagnos, other, män"]


def test_magnitude_cells_list_amount_and_contributors_and_a_dominated_cell_says_why():
    amounts = {("A", "woman"): [25_000.0] * 12 + [5_000_000.0], ("A", "man"): [26_000.0] * 14,
               ("B", "woman"): [24_000.0] * 15, ("B", "man"): [27_000.0] * 6}
    contrib = pd.DataFrame([{"group": g, "sex": s, "amount": a} for (g, s), values in amounts.items() for a in values])
    stats = magnitude_stats(contrib, ["group", "sex"], "amount")
    table = magnitude_table_from_stats(stats, row="group", col="sex")
    mag = OutputDeclaration("mag", DisclosureClass.MAGNITUDE, "Inkomst")
    checked = check_outputs([MagnitudeOutput(mag, {"inc": table})], DisclosureRules(), RUN)
    numbers = number_log_frame(checked, DisclosureRules()).set_index(["location_sv", "measure_sv"])
    dominated = numbers.loc[("inc, A, kvinnor", "belopp")]
    assert dominated["value_published"] == "" and dominated["reason_sv"] == (
        "undertryckt (dominansregeln): det största bidraget utgör mer än 85 % av summan")
    few = numbers.loc[("inc, B, män", "antal bidragsgivare")]
    assert few["value_published"] == "" and few["reason_sv"] == "undertryckt: färre än 10 bidragsgivare"
    shown = numbers.loc[("inc, A, män", "antal bidragsgivare")]
    assert (shown["value_published"], shown["status"]) == ("14", "publicerad")
    assert numbers.loc[("inc, A, män", "belopp"), "value_published"] == "26000"
