"""Secondary suppression over the linked tables, with the audit-driven repair loop.

The cells of every frequency and magnitude table (and the counts models share with them)
form one linked system (`_linked_system`): their values, the equations they publish, the
links between copies of one number and the primary pattern. `secondary_suppression` extends
the pattern until no equation gives a withheld cell back; `_protect` then attacks the result
with the interval audit (`reports.audit.interval_audit`) and withholds one more cell around
any count it pins narrower than the threshold, until none is. `_check_tables` issues the
checked tables.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import pandas as pd

from koord.errors import DisclosureError
from reports.audit import UnionFind, interval_audit
from reports.disclosure.checked import WITHHELD, CheckedOutput, Reason, RunInfo, _issue, _status, none_for_missing
from reports.disclosure.declarations import (
    CountTable,
    FrequencyOutput,
    Link,
    MagnitudeOutput,
    MagnitudeTable,
    ModelOutput,
    _Key,
    _location,
    _ref_key,
    output_id_of,
)
from reports.disclosure.models import model_primary_rows
from reports.disclosure.primary import _primary_frequency, _primary_magnitude
from reports.disclosure.rules import DisclosureRules, round_count


def secondary_suppression(
    values: Mapping[_Key, float],
    equations: Sequence[tuple[_Key, ...]],
    primary: Mapping[_Key, Reason],
    *,
    margins: Iterable[_Key] = (),
    links: Iterable[tuple[_Key, _Key]] = (),
) -> dict[_Key, Reason]:
    """Extend a primary suppression pattern until no equation gives a withheld cell back.

    Parameters
    ----------
    values : mapping cell -> value
        Every cell of the linked tables (used to pick the smallest complement).
    equations : sequence of cell tuples
        Members of each additive relation (total and parts alike: one unknown member is
        recoverable whichever it is).
    primary : mapping cell -> Reason
        Cells withheld by the primary rules.
    margins : cells that are totals; chosen as complements only when no inner cell can be.
    links : pairs of cells that publish the same number; withheld together.

    Returns
    -------
    dict cell -> Reason
        Every withheld cell, primary and secondary, each with its reason.
    """
    uf = UnionFind()
    for k in values:
        uf.find(k)
    for a, b in links:
        if a not in values or b not in values:
            raise DisclosureError(f"link between unknown cells {a!r} and {b!r}")
        if not math.isclose(float(values[a]), float(values[b]), rel_tol=1e-9, abs_tol=1e-9):
            raise DisclosureError(f"linked cells {_location(a)} and {_location(b)} publish different numbers")
        uf.union(a, b)
    members: dict[_Key, list[_Key]] = {}
    for k in values:
        members.setdefault(uf.find(k), []).append(k)
    margin_classes = {uf.find(k) for k in margins}

    # Suppression state per class of linked cells: the primary or the secondary reason.
    cls_reason: dict[_Key, Reason] = {}
    for k, reason in primary.items():
        cls_reason.setdefault(uf.find(k), reason)
    class_equations = [tuple(dict.fromkeys(uf.find(k) for k in eq)) for eq in equations]
    order = {c: i for i, c in enumerate(members)}

    def preference(c: _Key) -> tuple[int, float, int]:
        # Smallest non-zero inner cell first, then margins, then zeros (a withheld zero protects little).
        v = abs(float(values[c]))
        rank = (0 if v > 0 else 2) + (1 if c in margin_classes else 0)
        return (rank, v, order[c])

    changed = True
    while changed:
        changed = False
        for eq in class_equations:
            hidden = [c for c in eq if c in cls_reason]
            if len(hidden) != 1:
                continue
            candidates = [c for c in eq if c not in cls_reason]
            if not candidates:
                continue
            pick = min(candidates, key=preference)
            cls_reason[pick] = Reason("", "secondary", f"skyddar {_location(hidden[0])}")
            changed = True

    withheld: dict[_Key, Reason] = {}
    for cls, reason in cls_reason.items():
        for k in members[cls]:
            if k in primary:
                withheld[k] = replace(primary[k], location=_location(k))
            else:
                copies = ", ".join(_location(m) for m in members[cls] if m != k)
                withheld[k] = Reason(_location(k), "linked", f"samma tal som {copies}") if reason.rule != "secondary" else (
                    replace(reason, location=_location(k), detail=reason.detail + (f"; samma tal som {copies}" if copies else ""))
                )
    return withheld


def _publish_counts(values: pd.DataFrame, withheld: set[tuple[Hashable, Hashable]], base: int | None) -> pd.DataFrame:
    out = values.astype(object).copy()
    for r in values.index:
        for c in values.columns:
            out.at[r, c] = WITHHELD if (r, c) in withheld else round_count(float(values.at[r, c]), base)
    return out


def _linked_system(
    candidates: Sequence[FrequencyOutput | MagnitudeOutput], models: Sequence[ModelOutput], rules: DisclosureRules,
) -> dict[str, Any]:
    """Every cell of the linked tables with its value, the relations among them and the primary pattern."""
    values: dict[_Key, float] = {}
    equations: list[tuple[_Key, ...]] = []
    margins: list[_Key] = []
    primary: dict[_Key, Reason] = {}
    flags: dict[str, list[Reason]] = {}
    links: list[tuple[_Key, _Key]] = []
    count_keys: set[_Key] = set()
    for out in candidates:
        oid = output_id_of(out)
        flags[oid] = []
        for tkey, table in out.tables.items():
            is_count = isinstance(table, CountTable)
            frame = table.values if is_count else table.totals
            for r in frame.index:
                for c in frame.columns:
                    values[(oid, tkey, r, c)] = float(frame.at[r, c])
                    if is_count:
                        count_keys.add((oid, tkey, r, c))
            equations += [tuple((oid, tkey, *cell) for cell in (eq.total, *eq.parts)) for eq in table.equations]
            margins += [(oid, tkey, *cell) for cell in table.margin_cells]
            if is_count:
                p, f = _primary_frequency(oid, tkey, table, rules)
                flags[oid] += f
            else:
                p = _primary_magnitude(oid, tkey, table, rules)
            primary.update(p)
        for link in out.links:
            if isinstance(link, Link):
                links.append((_ref_key(link.a), _ref_key(link.b)))
            else:
                equations.append(tuple(_ref_key(ref) for ref in (link.total, *link.parts)))
                margins.append(_ref_key(link.total))
    model_keys: set[_Key] = set()
    for model in models:
        oid = output_id_of(model)
        # A model whose estimates give its counts back withholds the counts of every row its
        # primary rules withhold: the shared count tables must withhold them too.
        withheld_rows = model_primary_rows(model, rules) if model.estimates_reveal_counts and model.shared_counts else {}
        for shared in model.shared_counts:
            key = (oid, "summary", shared.row, shared.column)
            try:
                values[key] = float(model.summary[shared.column].iloc[shared.row])
            except (KeyError, IndexError, TypeError, ValueError):
                raise DisclosureError(f"model output {oid!r}: shared count row {shared.row}, column {shared.column!r} "
                                      "is not a number of its summary") from None
            model_keys.add(key)
            count_keys.add(key)
            links.append((key, _ref_key(shared.cell)))
            if shared.row in withheld_rows:
                primary[key] = withheld_rows[shared.row]
    unknown = [k for eq in equations for k in eq if k not in values] + [k for pair in links for k in pair if k not in values]
    if unknown:
        raise DisclosureError(f"link to a cell that no checked table has: {_location(unknown[0])} (output {unknown[0][0]!r})")
    for eq in equations:
        total, parts = values[eq[0]], sum(values[k] for k in eq[1:])
        if not math.isclose(total, parts, rel_tol=1e-9, abs_tol=1e-6):
            raise DisclosureError(f"linked cells do not add up: {_location(eq[0])} is not the sum of its parts")
    return {"values": values, "equations": equations, "margins": margins, "primary": primary, "links": links,
            "flags": flags, "count_keys": count_keys, "model_keys": model_keys}


def _count_relations(
    equations: Sequence[tuple[_Key, ...]], links: Sequence[tuple[_Key, _Key]], count_keys: set[_Key],
) -> tuple[list[tuple[_Key, ...]], list[tuple[_Key, _Key]]]:
    """The relations among counts only (magnitude tables' sums of amounts are not counts)."""
    return ([eq for eq in equations if all(k in count_keys for k in eq)],
            [pair for pair in links if pair[0] in count_keys and pair[1] in count_keys])


def _protect(
    values: Mapping[_Key, float],
    equations: Sequence[tuple[_Key, ...]],
    primary: Mapping[_Key, Reason],
    margins: Sequence[_Key],
    links: Sequence[tuple[_Key, _Key]],
    count_keys: set[_Key],
    rules: DisclosureRules,
) -> dict[_Key, Reason]:
    """Secondary suppression, then the audit until no withheld count is pinned narrower than the threshold.

    The heuristic (`secondary_suppression`) leaves no equation with one unknown, but several
    equations together, or two withheld cells whose sum is small, can still pin a cell. The
    audit (`reports.audit.interval_audit`) finds such a cell; one more cell of the relations
    that pin it is withheld (the smallest non-zero inner cell first) and the pattern solved
    again, until the audit passes or nothing is left to withhold.
    """
    count_eqs, count_links = _count_relations(equations, links, count_keys)
    margin_set = set(margins)
    extra: dict[_Key, Reason] = {}
    withheld = secondary_suppression(values, equations, primary, margins=margins, links=links)
    for _ in range(len(count_keys) + 1):
        targets = [k for k in count_keys if k in withheld]
        if not targets:
            break
        published = {k: (None if k in withheld else float(round_count(values[k], rules.rounding_base))) for k in count_keys}
        intervals = interval_audit(published, count_eqs, count_links, rounding_base=rules.rounding_base, targets=targets)
        narrow = sorted((k for k in targets if intervals[k].width < rules.min_cell_count), key=repr)
        if not narrow:
            break
        pick = _widening_cell(narrow[0], withheld, count_eqs, count_links, values, margin_set)
        if pick is None:
            break  # nothing left to withhold around it; the report's audit says so
        extra[pick] = Reason("", "audit", f"skyddar {_location(narrow[0])}")
        withheld = secondary_suppression(values, equations, {**primary, **extra}, margins=margins, links=links)
    return withheld


def _widening_cell(
    target: _Key,
    withheld: Mapping[_Key, Reason],
    equations: Sequence[tuple[_Key, ...]],
    links: Sequence[tuple[_Key, _Key]],
    values: Mapping[_Key, float],
    margins: set[_Key],
) -> _Key | None:
    """A published cell whose withholding loosens the relations that pin ``target``.

    Searches the equations of the target (and its linked copies) first, then those reached
    through the other withheld cells in them; within one round the smallest non-zero inner
    cell, then margins, then zeros.
    """
    same: dict[_Key, set[_Key]] = {}
    for a, b in links:
        same.setdefault(a, {a}).add(b)
        same.setdefault(b, {b}).add(a)
    frontier, seen_cells, seen_eqs = set(same.get(target, {target})), set(), set()
    while frontier:
        seen_cells |= frontier
        candidates, reached = [], set()
        for i, eq in enumerate(equations):
            if i in seen_eqs or not frontier.intersection(eq):
                continue
            seen_eqs.add(i)
            for k in eq:
                if k in withheld:
                    reached |= same.get(k, {k})
                else:
                    candidates.append(k)
        if candidates:
            return min(candidates, key=lambda k: ((0 if values[k] > 0 else 2) + (1 if k in margins else 0),
                                                  abs(values[k]), repr(k)))
        frontier = reached - seen_cells
    return None


def _check_tables(
    candidates: Sequence[FrequencyOutput | MagnitudeOutput],
    rules: DisclosureRules,
    run: RunInfo,
    models: Sequence[ModelOutput] = (),
) -> tuple[dict[str, CheckedOutput], dict[_Key, Reason]]:
    """Frequency and magnitude tables of all candidates, solved as one linked system.

    The models' shared counts (`SharedCount`) join the system as cells linked to the count
    table cells they repeat. Returns the checked tables and the withheld shared model counts
    (key ``(model id, 'summary', row, column)``).
    """
    system = _linked_system(candidates, models, rules)
    values, equations, margins, primary, links, flags = (
        system["values"], system["equations"], system["margins"], system["primary"], system["links"], system["flags"])
    if rules.secondary_suppression:
        withheld = _protect(values, equations, primary, margins, links, system["count_keys"], rules)
    else:
        withheld = {k: replace(r, location=_location(k)) for k, r in primary.items()}

    checked = {}
    for out in candidates:
        oid = output_id_of(out)
        tables: dict[str, pd.DataFrame] = {}
        reasons: list[Reason] = []
        n_cells = 0
        for tkey, table in out.tables.items():
            hidden = {(k[2], k[3]) for k in withheld if k[0] == oid and k[1] == tkey}
            reasons += [r for k, r in withheld.items() if k[0] == oid and k[1] == tkey]
            if isinstance(table, CountTable):
                tables[tkey] = _publish_counts(table.values, hidden, rules.rounding_base)
                n_cells += table.values.size
            else:
                tables[tkey] = _publish_magnitude(table, hidden, rules.rounding_base)
                n_cells += table.totals.size
        n_suppressed = len(reasons)
        nothing_left = n_cells > 0 and n_suppressed == n_cells
        if nothing_left:
            reasons.append(Reason("hela utdatan", "nothing_left"))
        checked[oid] = _issue(
            output_id=oid, declaration=out.declaration, status=_status(n_suppressed, nothing_left),
            reasons=tuple(reasons), n_suppressed=n_suppressed, n_cells=n_cells,
            thresholds=rules.for_class(out.declaration.disclosure_class), run=run,
            _tables=tables, flags=tuple(flags[oid]),
        )
    return checked, {k: r for k, r in withheld.items() if k in system["model_keys"]}


def _publish_magnitude(table: MagnitudeTable, withheld: set[tuple[Hashable, Hashable]], base: int | None) -> pd.DataFrame:
    """Long frame: row, col, value (sum or mean), n_contributors (rounded); withheld cells `WITHHELD`."""
    rows = []
    for r in table.totals.index:
        for c in table.totals.columns:
            n = int(table.n_contributors.at[r, c])
            hidden = (r, c) in withheld
            total = float(table.totals.at[r, c])
            if hidden:
                value: object = WITHHELD
            else:  # a mean over nobody does not exist; a sum over nobody is 0
                value = None if n == 0 and table.statistic == "mean" else (total / n if table.statistic == "mean" else total)
            rows.append({"row": r, "col": c, "value": value,
                         "n_contributors": WITHHELD if hidden else round_count(n, base)})
    frame = pd.DataFrame(rows, columns=["row", "col", "value", "n_contributors"], dtype=object)  # keeps the WITHHELD markers
    return none_for_missing(frame)
