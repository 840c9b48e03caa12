"""Statistical disclosure control: classify every output, check it by its class's rules, issue CheckedOutputs.

Nothing leaves the warehouse for the report unless it passed `check_outputs`. The rules per
disclosure class (thresholds in `DisclosureRules`, configurable in the study file's
``[disclosure]`` table):

Frequency tables (counts of persons or spells)
    *Primary suppression*: a cell with ``0 < n < min_cell_count`` is suppressed.
    *Disclosive zeros* (group disclosure, ONS/SCB practice): when a table declares which axis
    holds population groups (``group_axis``), a group whose whole count falls in one category
    (a "full cell", all other categories zero) reveals that attribute for everyone in the
    group. With ``disclosive_zeros = "suppress"`` the full cell and the zeros of that group
    are suppressed; ``"flag"`` only notes it for the human output checker; ``"off"`` ignores
    it. Zeros elsewhere are shown: a category that nobody has reveals nothing about anyone.
    *Secondary suppression*: every additive relation a table publishes (a margin is the sum of
    its line; a flow step is the next step plus those excluded) is an equation. An equation
    with exactly one suppressed member would give it back by subtraction, so the smallest
    other member is suppressed as well (preferring non-zero inner cells, then margins, then
    zeros), repeating until no equation has exactly one suppressed member. Linked tables
    (declared `Link`s: the same number published in two tables, e.g. the totals by sex shared
    by every block of a "Table 1"; `LinkedEquation`s: a table of totals beside the same table
    by sex) share one suppression state, so the equations of all of them are solved together. This is the standard heuristic, not an optimal or audited
    pattern (tau-ARGUS's hypercube does better); the output checker reviews the log.
    *Rounding* (optional, ``rounding_base``): published counts are rounded to the nearest
    multiple; margins are rounded on their own, so they need not add up.
Magnitude tables (sums or means of an amount over contributors)
    A cell is sensitive when it has fewer than ``min_cell_count`` contributors, when its
    ``n`` largest contributions make up more than ``k`` per cent of the cell (N-K dominance,
    for each ``(n, k)`` in ``dominance``), or when the remainder after the two largest is less
    than ``p`` per cent of the largest (p-percent rule: the second largest could estimate the
    largest too closely). Amounts are taken in absolute value (incomes can be negative).
    Secondary suppression as for frequency tables, on the cell totals.
Model and regression outputs (tidy estimate tables)
    An estimate resting on fewer than ``min_events_per_estimate`` events (the fewest in any
    arm it compares, when its diagnostics state ``events_per_arm``) or fewer than
    ``min_cell_count`` persons is suppressed; a fitted model (one ``analysis_id`` × ``subgroup``
    × ``level`` [× ``sex``]) with fewer than ``min_residual_df`` residual degrees of freedom
    (persons minus estimated parameters: ``n_parameters`` when given, else its rows) is
    suppressed whole. The counts beside the levels of one dimension add up to the
    population's: when one level's counts are withheld, the smallest other level's counts are
    withheld too (secondary suppression; its estimate stays). Published are the tidy columns
    and row labels (``sex``, ``arm`` ...), with ``n_persons``/``n_events`` rounded when
    rounding is on; other extra columns are not. Of the diagnostics JSON only the entries
    `analyses.diagnostic_keys` declares statistics, flags or protocol parameters are published;
    counts are not, and an undeclared entry is withheld and noted for the output checker. An
    output with no estimate left is blocked.
Survival and cumulative-incidence curves
    A step is shown only when at least ``curve_min_at_risk`` are at risk and at least
    ``curve_min_events`` events have happened since the last shown step; hidden steps are
    collapsed into the next shown one (its jump carries their events), so a curve only moves
    in steps of at least that many events. Rows without events (censoring only) are not
    steps. The counts beside the curve (at risk, events since the last shown step) are rounded
    when rounding is on; other counts (``n_censored``) are not published. A group with no
    step to show is removed; a curve with no group left is blocked.
Figures
    Drawn only from checked outputs; a figure whose source is blocked is blocked.
Text numbers
    A count in the running text follows the frequency rule (and rounding); a number derived
    from other outputs needs all of them checked and not blocked.
Row-level data
    Always blocked: an output with a person or spell key column, or declared row-level.

Statuses: ``passed``, ``suppressed`` (some cells, rows or steps withheld, each with its
reason) and ``blocked`` (nothing may be shown, with the reason). The reasons never contain the
withheld values, so the output-check log can travel with the report.

The package, one module per concern (this module re-exports the public names):

``rules``
    Disclosure classes, statuses, the thresholds (`DisclosureRules`), rounding.
``declarations``
    What sections declare: output kinds, count and magnitude tables with their equations,
    links across tables, the output types.
``checked``
    `CheckedOutput`, which only this package issues, and the reasons it carries.
``primary``
    Primary rules of frequency and magnitude tables; row-level data.
``suppression``
    The linked system of all tables, secondary suppression and the audit-driven repair.
``models``, ``curves``
    Model outputs (events, persons, residual df, extreme shares); survival and incidence curves.
``check``
    `check_outputs`, the entry point, and `audit_report`, the attack on what was published.

The solver that attacks the published numbers is `reports.audit`.
"""

from __future__ import annotations

from reports.disclosure.check import audit_report, check_outputs
from reports.disclosure.checked import WITHHELD, CheckedOutput, Reason, RunInfo, Withheld, is_withheld, none_for_missing, require_checked
from reports.disclosure.declarations import (
    MODEL_KEYS,
    MODEL_LABELS,
    Cell,
    CellRef,
    CountTable,
    CurveOutput,
    Equation,
    FigureOutput,
    FrequencyOutput,
    Link,
    LinkedEquation,
    MagnitudeOutput,
    MagnitudeTable,
    ModelOutput,
    Output,
    OutputDeclaration,
    RowLevelOutput,
    SharedCount,
    TextNumberOutput,
    magnitude_stats,
    magnitude_table_from_stats,
    output_id_of,
    with_margins,
)
from reports.disclosure.models import EXTREME_SHARE_MARGIN, SHARE_CONTRASTS, SHARE_ESTIMANDS, is_extreme_share
from reports.disclosure.rules import (
    DISCLOSIVE_ZERO_MODES,
    RULE_LABELS_SV,
    DisclosureClass,
    DisclosureRules,
    Status,
    round_count,
    rule_set_text,
)
from reports.disclosure.suppression import secondary_suppression

__all__ = [
    "WITHHELD",
    "Withheld",
    "is_withheld",
    "none_for_missing",
    "DISCLOSIVE_ZERO_MODES",
    "EXTREME_SHARE_MARGIN",
    "MODEL_KEYS",
    "MODEL_LABELS",
    "RULE_LABELS_SV",
    "SHARE_CONTRASTS",
    "SHARE_ESTIMANDS",
    "Cell",
    "CellRef",
    "CheckedOutput",
    "CountTable",
    "CurveOutput",
    "DisclosureClass",
    "DisclosureRules",
    "Equation",
    "FigureOutput",
    "FrequencyOutput",
    "Link",
    "LinkedEquation",
    "MagnitudeOutput",
    "MagnitudeTable",
    "ModelOutput",
    "Output",
    "OutputDeclaration",
    "Reason",
    "RowLevelOutput",
    "RunInfo",
    "SharedCount",
    "Status",
    "TextNumberOutput",
    "audit_report",
    "check_outputs",
    "is_extreme_share",
    "magnitude_stats",
    "magnitude_table_from_stats",
    "output_id_of",
    "require_checked",
    "round_count",
    "rule_set_text",
    "secondary_suppression",
    "with_margins",
]
