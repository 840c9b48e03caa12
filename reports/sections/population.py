"""Section: the study population by sex ("Tabell 1"), how follow-up ended, earnings (regions: `regions.py`)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from markupsafe import Markup

from data_schemas.codes import code_list
from data_schemas.tables import END_REASONS, SEXES, SPELLS
from reports.disclosure import CellRef, FrequencyOutput, Link, MagnitudeOutput, Output, magnitude_table_from_stats
from reports.inputs import ReportInputs
from reports.labels import SEX_PLURAL_SV, value_label
from reports.outputs import declaration
from reports.sections import RenderContext, Section, register
from reports.sections._build import MISSING, TOTAL, attrition_table, crosstab_by_sex, with_margins
from reports.views import count_table_view, magnitude_table_view

# Tabell 1: spells' characteristics at start, in this order, with their Swedish headings.
TABLE1_VARIABLES: tuple[tuple[str, str], ...] = (
    ("age_group", "Ålder vid sjukfallets start"),
    ("diagnosis_chapter_group", "Diagnoskapitel"),
    ("diagnosis_group", "Diagnosgrupp"),
    ("occupation_status", "Sysselsättning vid start"),
    ("education_group", "Utbildningsnivå"),
    ("birth_region_code", "Födelseregion"),
    ("extent_at_start_pct", "Sjukskrivningens omfattning vid start"),
    ("has_prior_sick_leave", "Sjukskriven någon gång under de 365 dagarna före"),
    ("is_coordinated", "Koordineringsinsats (GC001) under sjukfallet"),
    ("is_coordinated_first_90_days", "Koordineringsinsats inom sjukfallets första 90 dagar"),
)
SEX_COLUMNS = [(s, SEX_PLURAL_SV[s]) for s in SEXES] + [(TOTAL, "Totalt")]
ARMS = (("koordinerad", "Koordinerade"), ("ej_koordinerad", "Ej koordinerade"))
EARNINGS = (
    ("earnings_before_sek", "fore", "Före sjukfallet: genomsnittlig månadsinkomst under 12 månader före startmånaden"),
    ("earnings_after_sek", "efter", "Efter sjukfallet: inkomst kalendermånaden efter sjukfallets sista månad"),
)


def _categories(column: str) -> list[Hashable]:
    """Values in the order the code lists give them (diagnosis groups as in diagnosis_groups.csv)."""
    if column == "diagnosis_group":
        return [c.code for c in code_list("diagnosis_groups")]
    allowed = SPELLS.column(column).allowed
    if allowed is None and SPELLS.column(column).sql_type == "BOOLEAN":
        return [True, False]
    return list(allowed or [])


def _links_between(a: tuple[str, str], b: tuple[str, str], cells: Sequence[tuple[Hashable, Hashable, Hashable, Hashable]]) -> list[Link]:
    """Identity links: cell (ra, ca) of table a is cell (rb, cb) of table b."""
    return [Link(CellRef(a[0], a[1], ra, ca), CellRef(b[0], b[1], rb, cb)) for ra, ca, rb, cb in cells]


def collect(inputs: ReportInputs) -> Sequence[Output]:
    if not inputs.has_table("main", "spells"):
        return ()
    outputs: list[Output] = []
    spells_cols = set(inputs.columns("main", "spells"))
    variables = [(v, t) for v, t in TABLE1_VARIABLES if v in spells_cols]

    # Tabell 1: one block per variable; every block publishes the same totals by sex.
    blocks = {}
    for variable, _ in variables:
        counts = inputs.query(f"select sex, {variable} as value, count(*) as n from main.spells group by all")
        blocks[variable] = crosstab_by_sex(counts, categories=_categories(variable))
    first = variables[0][0]
    links: list[Link] = []
    for variable in list(blocks)[1:]:
        links += _links_between(("tabell1", first), ("tabell1", variable),
                                [(TOTAL, c, TOTAL, c) for c, _ in SEX_COLUMNS])
    # The last step of the inclusion flow is the same population: link it when it is.
    if inputs.has_table("main", "attrition"):
        flow = attrition_table(inputs.query("select * from main.attrition"), "n_spells")
        if flow is not None:
            last = flow.values.index[-1]
            same = all(flow.values.at[last, c] == blocks[first].values.at[TOTAL, c]
                       for c, _ in SEX_COLUMNS if c in flow.values.columns)
            if same:
                links += _links_between(("tabell1", first), ("bortfall", "sjukfall"),
                                        [(TOTAL, c, last, c) for c, _ in SEX_COLUMNS if c in flow.values.columns])
    outputs.append(FrequencyOutput(declaration("tabell1"), blocks, links=tuple(links)))

    # How follow-up ended, by coordination, for women and for men.
    ended = inputs.query(
        "select sex, end_reason, case when is_coordinated then 'koordinerad' else 'ej_koordinerad' end as arm, "
        "count(*) as n from main.spells group by all"
    )
    end_tables, end_links = {}, []
    for sex in SEXES:
        wide = (ended[ended["sex"] == sex].pivot_table(index="end_reason", columns="arm", values="n", aggfunc="sum", fill_value=0)
                .reindex(index=list(END_REASONS), columns=[a for a, _ in ARMS], fill_value=0))
        wide.index.name, wide.columns.name = None, None
        end_tables[sex] = with_margins(wide.astype("int64"), total_label=TOTAL, group_axis="columns")
        end_links += _links_between(("avslut", sex), ("tabell1", first), [(TOTAL, TOTAL, TOTAL, sex)])
        if "is_coordinated" in blocks:
            end_links += _links_between(("avslut", sex), ("tabell1", "is_coordinated"),
                                        [(TOTAL, "koordinerad", True, sex), (TOTAL, "ej_koordinerad", False, sex)])
    outputs.append(FrequencyOutput(declaration("avslut"), end_tables, links=tuple(
        link for link in end_links if _cell_exists(link, end_tables, blocks))))

    # Earnings before and after: magnitude tables by sex and coordination.
    earnings_tables = {}
    for column, key, _ in EARNINGS:
        if column not in spells_cols:
            continue
        stats = inputs.query(
            f"select case when grouping(sex) = 1 then '{TOTAL}' else sex end as row, "
            f"case when grouping(is_coordinated) = 1 then '{TOTAL}' when is_coordinated then 'koordinerad' "
            f"else 'ej_koordinerad' end as col, sum({column}) as total, sum(abs({column})) as abs_total, "
            f"count({column}) as n_contributors, max(abs({column}), 2) as top "
            f"from main.spells where {column} is not null "
            "group by grouping sets ((sex, is_coordinated), (sex), (is_coordinated), ())"
        )
        if stats.empty:
            continue
        stats["largest"] = [float(t[0]) if len(t) > 0 else 0.0 for t in stats["top"]]
        stats["second_largest"] = [float(t[1]) if len(t) > 1 else 0.0 for t in stats["top"]]
        earnings_tables[key] = magnitude_table_from_stats(
            stats.drop(columns="top"), row="row", col="col", total_label=TOTAL, statistic="mean",
            row_order=[*SEXES, TOTAL], col_order=[a for a, _ in ARMS] + [TOTAL],
        )
    if earnings_tables:
        outputs.append(MagnitudeOutput(declaration("inkomst"), earnings_tables))
    return outputs


def _cell_exists(link: Link, *tables_by_output: dict) -> bool:
    for ref in (link.a, link.b):
        for tables in tables_by_output:
            if ref.table in tables:
                frame = tables[ref.table].values
                if ref.row not in frame.index or ref.col not in frame.columns:
                    return False
    return True


def _label(variable: str):
    def label(value: Hashable) -> str:
        return value_label(variable, None if value == MISSING else value)
    return label


def render(ctx: RenderContext) -> Markup:
    if not ctx.meta.has_analysis_tables:
        return ctx.render("sections/population.html.j2", table1=None, missing=True)
    t1 = ctx.get("tabell1")
    table1 = None
    if t1 is not None and not t1.is_blocked:
        table1 = count_table_view(
            t1, table_id="tabell-1",
            caption="Sjukfall i studiepopulationen efter bakgrund vid sjukfallets start, kvinnor, män och totalt. Antal och andel (%) av sjukfallen i kolumnen.",
            blocks=[(v, title, _label(v)) for v, title in TABLE1_VARIABLES if v in t1.table_keys],
            columns=SEX_COLUMNS, total_row=TOTAL, total_row_label="Samtliga sjukfall",
        )
    ended = ctx.get("avslut")
    ended_view = None
    if ended is not None and not ended.is_blocked:
        ended_view = count_table_view(
            ended, table_id="tabell-avslut",
            caption="Hur uppföljningen av sjukfallen slutade, efter koordinering, kvinnor och män. Antal och andel (%) av sjukfallen i kolumnen.",
            blocks=[(s, SEX_PLURAL_SV[s], _label("end_reason")) for s in SEXES if s in ended.table_keys],
            columns=[*ARMS, (TOTAL, "Totalt")], total_row=TOTAL, total_row_label="", row_heading="Uppföljningen slutade med",
            block_total_label="Samtliga sjukfall",
        )
    earnings = ctx.get("inkomst")
    earnings_views = []
    if earnings is not None and not earnings.is_blocked:
        for i, (_, key, title) in enumerate(EARNINGS):
            if key not in earnings.table_keys:
                continue
            earnings_views.append(magnitude_table_view(
                earnings, table_id=f"tabell-inkomst-{key}", table_key=key,
                caption=f"Arbetsinkomst (AGI), kronor per månad, medelvärde. {title}.",
                rows=[(s, SEX_PLURAL_SV[s]) for s in SEXES] + [(TOTAL, "Totalt")],
                columns=[*ARMS, (TOTAL, "Totalt")], value_heading="Medelvärde, kr",
            ))
    return ctx.render("sections/population.html.j2", table1=table1, t1=t1, ended=ended, ended_view=ended_view,
                      earnings=earnings, earnings_views=earnings_views,
                      missing=False)


SECTION = register(Section("population", "Studiepopulationen", 40, collect, render))
