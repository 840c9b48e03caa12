"""Section: the delivery, the study period and definitions, and the inclusion flow (attrition)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from markupsafe import Markup

from data_schemas.completeness import delivery_completeness, study_needed_years
from data_schemas.study import study_from_mapping
from koord.errors import StudyDefinitionError
from reports.disclosure import FrequencyOutput, Output
from reports.formatting import format_date
from reports.inputs import ReportInputs, ReportMeta
from reports.labels import SEX_PLURAL_SV
from reports.outputs import declaration
from reports.sections import RenderContext, Section, register
from reports.sections._build import FLOW_OUTPUT, FLOW_TABLES, TOTAL, UNKNOWN_SEX, attrition_table, counts_single_column
from reports.views import count_table_view, simple_table_view

MEASURES = (("n_persons", FLOW_TABLES["n_persons"], "Personer"), ("n_spells", FLOW_TABLES["n_spells"], "Sjukfall"))


def collect(inputs: ReportInputs) -> Sequence[Output]:
    outputs: list[Output] = []
    if inputs.has_table("raw", "_manifest") and "rows_in" in inputs.columns("raw", "_manifest"):
        rows = inputs.query("select file, rows_in from raw._manifest order by file")
        table = counts_single_column(rows.set_index("file")["rows_in"].fillna(0), "rows_in")
        outputs.append(FrequencyOutput(declaration("leveransfiler"), {"filer": table}))
    if inputs.has_table("raw", "_quarantine") and inputs.has_table("raw", "_manifest"):
        quarantined = inputs.query(
            "select m.extract, count(q.file) as n from raw._manifest m left join raw._quarantine q using (file) "
            "group by 1 order by 1")
        table = counts_single_column(quarantined.set_index("extract")["n"].fillna(0), "rows_quarantined")
        outputs.append(FrequencyOutput(declaration("karantan"), {"karantan": table}))
    if inputs.has_table("main", "attrition"):
        attrition = inputs.query("select * from main.attrition order by step_order, sex")
        tables = {}
        for measure, key, _ in MEASURES:
            built = attrition_table(attrition, measure)
            if built is not None:
                tables[key] = built
        if tables:
            outputs.append(FrequencyOutput(declaration(FLOW_OUTPUT), tables))
    return outputs


RTW_DEFINITIONS_SV = {
    "benefit_end": (
        "sjukfallet avslutas och varken nytt sjukfall, sjuk- eller aktivitetsersättning, dödsfall, utvandring eller "
        "65-årsdag följer inom fönstret efter sista dagen"
    ),
    "earnings_confirmed": (
        "sjukfallet avslutas som ovan och personen har dessutom kontant arbetsinkomst (AGI) kalendermånaden efter "
        "sjukfallets sista månad"
    ),
}
# What a new spell within the relapse window does to the spell before it (study.toml [outcome] relapse).
RELAPSE_RULES_SV = {
    "continue": "Ett nytt sjukfall inom fönstret räknas som återinsjuknande och sjukfallet fortsätter: uppföljningen "
                "löper vidare genom det nya sjukfallet, och återgången räknas först när ingen ny sjukskrivning följer "
                "inom fönstret (varaktig återgång). Det nya sjukfallet räknas inte som ett eget sjukfall.",
    "censor": "Ett nytt sjukfall inom fönstret räknas som återinsjuknande och sjukfallet censureras på sin sista dag; "
              "det nya sjukfallet följs som ett eget sjukfall.",
    "event": "Ett nytt sjukfall inom fönstret ändrar inget: sjukfallets slut räknas som återgång i arbete ändå, och "
             "det nya sjukfallet följs som ett eget sjukfall.",
}


def definitions(study: Mapping[str, Any] | None, extraction_date: Any) -> list[tuple[str, str]]:
    """The study's choices as (term, Swedish explanation) pairs, from the build record."""
    if not study:
        return []
    benefits = ["sjukpenning (SJP)"]
    if study.get("include_rhp"):
        benefits.append("rehabiliteringspenning (RHP)")
    if study.get("include_asjp"):
        benefits.append("arbetsskadesjukpenning (ASJP)")
    # fsjp_rule; build records from before it carry include_fsjp
    fsjp_rule = study.get("fsjp_rule") or ("include" if study.get("include_fsjp") else "drop_period")
    if fsjp_rule == "include":
        benefits.append("förebyggande sjukpenning (FSJP)")
    benefits += [f"förmånskod {code}" for code in study.get("extra_sick_leave_codes") or ()]
    bands = study.get("time_bands") or []
    out = [
        ("Studieperiod", f"sjukfall som börjar {study.get('spell_start_from')} till {study.get('spell_start_to')}; "
                         f"uppföljningen slutar senast på leveransens uttagsdatum {format_date(extraction_date)}."),
        ("Studiepopulation", f"personer {study.get('age_min_years')}–{study.get('age_max_years')} år när sjukfallet "
                             f"börjar (år för sjukfallets start minus födelseår), med sjukfall längre än "
                             f"{study.get('min_spell_days')} dagar."),
        ("Sjukfall", f"perioder med {', '.join(benefits)} i Försäkringskassans MiDAS slås ihop till ett sjukfall om "
                     f"nästa period börjar högst {study.get('gap_days')} dagar efter föregående periods slut "
                     "(insjuknanderegeln)"
                     + (", och ett sjukfall med någon period med förebyggande sjukpenning (FSJP) tas bort helt "
                        "(Försäkringskassans regel)" if fsjp_rule == "drop_spell" else "")
                     + ". Dag 0 är sjukfallets första dag (insjuknandedatum, inklusive arbetsgivarperioden)."),
        ("Återgång i arbete", RTW_DEFINITIONS_SV.get(str(study.get("return_to_work")), str(study.get("return_to_work")))
         + f" (fönster {study.get('relapse_window_days')} dagar). "
         # build records from before issue 14 carry no relapse rule: they censored
         + RELAPSE_RULES_SV.get(str(study.get("relapse") or "censor"), str(study.get("relapse")))),
        ("Konkurrerande händelser", "dödsfall, utvandring, sjuk- eller aktivitetsersättning och 65-årsdag avslutar "
                                    "uppföljningen utan återgång i arbete."),
        ("Koordinering", "första vårdkontakten med KVÅ-kod GC001 under sjukfallets uppföljning, i vilken region som "
                         "helst. Tiden före den dagen räknas som ej koordinerad, tiden efter som koordinerad."),
    ]
    if study.get("missing_lisa_years") == "allow":
        out.append(("Saknade LISA-år", "studien byggdes trots att leveransen saknar LISA för något år som studien "
                                       "behöver (se tabellen över leveransens fullständighet); sjukfall som börjar "
                                       "året efter ett saknat år har okända bakgrundsvariabler."))
    if bands:
        out.append(("Tidsband", "dagar sedan sjukfallets start: " + ", ".join(
            f"{lo}–{hi - 1}" for lo, hi in zip(bands, bands[1:])) + f", {bands[-1]}+."))
    return out


def study_file_differs(meta: ReportMeta) -> bool:
    """True when the study file read now defines the cohort differently from the build record."""
    tables = {k: v for k, v in meta.study_file.tables.items() if k != "disclosure"}
    if not tables or not meta.study:
        return False
    try:
        now = study_from_mapping(tables).as_dict()
    except StudyDefinitionError:
        return True
    built = {k: v for k, v in meta.study.items() if k not in ("analyses", "name", "description")}
    return any(now.get(k) != v for k, v in built.items())


def _column_headings(table_columns: Sequence[str]) -> list[tuple[str, str]]:
    names = {**SEX_PLURAL_SV, UNKNOWN_SEX: "Okänt kön", TOTAL: "Totalt"}
    return [(c, names.get(c, c)) for c in table_columns]


def render(ctx: RenderContext) -> Markup:
    meta = ctx.meta
    delivery = meta.delivery or {}
    extraction_date = delivery.get("extraction_date") or (meta.build or {}).get("extraction_date")
    attrition = ctx.get("bortfall")
    attrition_views = []
    if attrition is not None and not attrition.is_blocked:
        for _, key, title in MEASURES:
            if key not in attrition.table_keys:
                continue
            columns = list(attrition.table(key).columns)
            attrition_views.append(count_table_view(
                attrition, table_id=f"tabell-bortfall-{key}",
                caption=f"Urvalsflöde: {title.lower()} kvar efter varje steg, och hur många steget tog bort, efter kön",
                blocks=[(key, "", lambda row: step_label(meta, row))],
                columns=_column_headings(columns), total_row=None, percent=False, row_heading="Urvalssteg",
                notes=["Personer vars kön saknas i LISA räknas bara i totalen tills det steg som tar bort dem."]
                if UNKNOWN_SEX in columns else (),
            ))
    files_view = None
    files = ctx.get("leveransfiler")
    if files is not None and not files.is_blocked:
        counts = files.table("filer")["rows_in"]
        frame = meta.manifest.copy()
        frame["rows_in"] = frame["file"].map(counts.to_dict())
        frame["year"] = frame["year"].map(lambda y: "" if pd.isna(y) else str(int(y))) if "year" in frame else ""
        files_view = simple_table_view(
            frame, table_id="tabell-leverans", caption="Levererade filer och antal rader",
            columns=[("extract", "Utdrag", "text"), ("year", "År", "text"), ("format", "Format", "text"),
                     ("rows_in", "Rader", "count")],
            row_header=("file", "Fil"), source=files,
        )
    completeness_view = _completeness_view(meta, files, ctx.get("karantan"))
    return ctx.render(
        "sections/data.html.j2", delivery=delivery, completeness_view=completeness_view, extraction_date=format_date(extraction_date),
        loaded_at=format_date(delivery.get("loaded_at")),
        definitions=definitions(meta.study, extraction_date), attrition=attrition, attrition_views=attrition_views,
        files_view=files_view, differs=study_file_differs(meta),
    )


STATUS_SV = {"complete": "komplett", "incomplete": "ofullständig", "not_delivered": "ej levererad",
             "optional_not_delivered": "ej levererad (behövs inte)"}


def _year(value: Any) -> int | None:
    text = str(value or "")
    return int(text[:4]) if text[:4].isdigit() else None


def _completeness_view(meta: ReportMeta, files, quarantine):
    """Per extract: delivered or not, the years (and the years the study needs that are missing),
    empty files, status; rows quarantined from the checked output (withheld when few)."""
    if meta.manifest is None or not len(meta.manifest) or files is None or files.is_blocked:
        return None
    frame = meta.manifest.copy()
    frame["rows_in"] = frame["file"].map(files.table("filer")["rows_in"].to_dict())
    study = meta.study or {}
    first, last = _year(study.get("spell_start_from")), _year(study.get("spell_start_to"))
    needed = study_needed_years("scb_lisa", first, last) if first and last else None
    table = delivery_completeness(frame[["file", "extract", "year", "rows_in"]], None, needed)
    has_quarantine = quarantine is not None and not quarantine.is_blocked
    if has_quarantine:
        published = quarantine.table("karantan")["rows_quarantined"].to_dict()
        table["rows_quarantined"] = table["extract"].map(lambda e: published.get(e, 0))  # None where withheld
    table["status"] = table["status"].map(STATUS_SV)
    for column in ("n_files", "n_empty_files"):  # numbers of files: metadata, not counts of persons
        table[column] = table[column].astype(str)
    table["extract"] = table["extract"] + " (" + table["title_sv"] + ")"
    sources = [o for o in (quarantine,) if o is not None and not o.is_blocked]
    return simple_table_view(
        table, table_id="tabell-fullstandighet", caption="Leveransens fullständighet per registerutdrag",
        columns=[("n_files", "Filer", "text"), ("years", "År", "text"), ("missing_years", "Saknade år", "text"),
                 ("n_empty_files", "Tomma filer", "text"),
                 *([("rows_quarantined", "Rader i karantän", "count")] if has_quarantine else []),
                 ("status", "Status", "text")],
        row_header=("extract", "Utdrag"), source=sources[0] if sources else None,
        notes=["Saknade år: år som fattas inom den levererade serien, och för LISA de år studien behöver (året före "
               "det första sjukfallets startår till det sista). Rader i karantän: rader som bröt mot leveransens "
               "kontrakt och lades åt sidan med sitt skäl (utdatakontroll.html)."],
    )


def step_label(meta: ReportMeta, row: object) -> str:
    """'3. <what the step keeps>' for remainder rows, 'Tas bort i steget' for removals."""
    step, kind = str(row).split(":")
    if kind == "bort":
        return "Tas bort i steget"
    return f"{step}. {meta.attrition_steps.get(int(step), '')}".strip()


SECTION = register(Section("data", "Data och definitioner", 30, collect, render))
