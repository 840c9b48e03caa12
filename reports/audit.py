"""The attacker's view: how narrowly the published numbers pin every withheld count.

From the published numbers alone and the additive relations the tables state (a margin is the
sum of its line, a flow step is the next step plus what it removed, linked tables publish the
same number, a model's persons are the flow's last step), every withheld count is an unknown
of a small integer linear program: the relations with the published numbers as constants,
counts as non-negative whole numbers, and, when counts are rounded to a base ``b``, every
published count ``v`` as an unknown in ``[v - b/2, v + b/2]``. Minimising and maximising each
withheld count gives the interval a reader can pin it to. An interval narrower than the
threshold (``min_cell_count``) means the suppression pattern does not protect that cell.

`interval_audit` is the solver (pure, no imports of ours); `reports.disclosure.audit_report`
rebuilds the attacker's system from the candidates' declared relations and the checked
outputs' published values (never the true values) and returns `audit_frame`'s one row per
withheld count; `reports.disclosure.check_outputs` uses the solver to extend suppression
until the audit passes, and `koord report` refuses to write a report whose audit fails.

An integer program rather than its linear relaxation: the attacker knows counts are whole
numbers, and the integer interval is never wider than the relaxed one.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp

Key = tuple[str, str, Hashable, Hashable]  # output id, table, row, col

AUDIT_COLUMNS = ("output_id", "table", "row", "col", "location", "lower", "upper", "width", "threshold", "protected")


@dataclass(frozen=True)
class Interval:
    lower: float
    upper: float  # inf when nothing bounds it from above

    @property
    def width(self) -> float:
        return self.upper - self.lower


class UnionFind:
    """Classes of cells that are one number (linked cells), by union-find with path halving.

    The root of a class is the first cell of its first union, so classes come out the same
    whatever order the cells are asked for in.
    """

    def __init__(self) -> None:
        self.parent: dict[Key, Key] = {}

    def find(self, k: Key) -> Key:
        self.parent.setdefault(k, k)
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = self.parent[k]
        return k

    def union(self, a: Key, b: Key) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def _classes(keys: Iterable[Key], links: Iterable[tuple[Key, Key]]) -> dict[Key, Key]:
    uf = UnionFind()
    for k in keys:
        uf.find(k)
    for a, b in links:
        uf.union(a, b)
    return {k: uf.find(k) for k in list(uf.parent)}


def interval_audit(
    published: Mapping[Key, float | None],
    equations: Sequence[tuple[Key, ...]],
    links: Iterable[tuple[Key, Key]] = (),
    *,
    rounding_base: int | None = None,
    targets: Iterable[Key] | None = None,
) -> dict[Key, Interval]:
    """The interval each withheld count can lie in, given everything published.

    Parameters
    ----------
    published : mapping cell -> published value, or None when withheld
        Every cell the relations mention.
    equations : sequences of cells, total first: ``total = sum(parts)``.
    links : pairs of cells that are the same number.
    rounding_base : published counts are rounded to this base (None: exact).
    targets : the withheld cells to bound (default: all withheld cells).

    Returns
    -------
    dict cell -> Interval, for every target.
    """
    cls = _classes(published, links)
    # The value a class publishes (any member shown publishes it).
    shown: dict[Key, float] = {}
    for k, v in published.items():
        if v is not None:
            shown.setdefault(cls[k], float(v))
    half = (rounding_base / 2.0) if rounding_base and rounding_base > 1 else 0.0
    variables = sorted({c for c in cls.values() if c not in shown or half}, key=repr)
    index = {c: i for i, c in enumerate(variables)}
    wanted = [k for k in (targets if targets is not None else (k for k, v in published.items() if v is None))]
    if not wanted:
        return {}

    rows, rhs = [], []
    for eq in equations:
        coef: dict[int, float] = {}
        const = 0.0
        for j, k in enumerate(eq):
            sign = 1.0 if j == 0 else -1.0  # total - parts = 0
            c = cls[k]
            if c in index:
                coef[index[c]] = coef.get(index[c], 0.0) + sign
            else:
                const += sign * shown[c]
        coef = {i: a for i, a in coef.items() if a != 0.0}
        if coef:
            rows.append(coef)
            rhs.append(-const)
    lower = np.zeros(len(variables))
    upper = np.full(len(variables), np.inf)
    for c, i in index.items():
        if c in shown:  # rounded: the true count lies within half a base of the published one
            lower[i] = max(0.0, shown[c] - half)
            upper[i] = shown[c] + half
    if rows:
        a = np.zeros((len(rows), len(variables)))
        for r, coef in enumerate(rows):
            for i, v in coef.items():
                a[r, i] = v
        constraints = [LinearConstraint(a, np.array(rhs), np.array(rhs))]
    else:
        constraints = []
    integrality = np.ones(len(variables))
    bounds = Bounds(lower, upper)

    out: dict[Key, Interval] = {}
    solved: dict[Key, Interval] = {}
    for k in wanted:
        c = cls[k]
        if c in solved:
            out[k] = solved[c]
            continue
        if c not in index:  # published elsewhere under a link: pinned exactly
            out[k] = solved[c] = Interval(shown[c], shown[c])
            continue
        ends = []
        for sense in (1.0, -1.0):
            objective = np.zeros(len(variables))
            objective[index[c]] = sense
            res = milp(objective, constraints=constraints, integrality=integrality, bounds=bounds)
            if res.status == 0:
                ends.append(sense * res.fun)
            elif sense < 0 and res.status in (3, 4):  # nothing bounds it from above
                ends.append(np.inf)
            else:
                raise ValueError(f"the audit's program for {k!r} could not be solved: {res.message}")
        out[k] = solved[c] = Interval(float(ends[0]), float(ends[1]))
    return out


def cell_location(key: Key) -> str:
    """``table / row / col``: where a cell is, for reasons and the log (never its value)."""
    _, table, row, col = key
    return f"{table} / {row} / {col}"


def audit_frame(intervals: Mapping[Key, Interval], threshold: int) -> pd.DataFrame:
    """One row per withheld count: its interval and whether it is wide enough."""
    rows = [
        {"output_id": k[0], "table": k[1], "row": k[2], "col": k[3], "location": cell_location(k),
         "lower": iv.lower, "upper": iv.upper, "width": iv.width, "threshold": threshold,
         "protected": bool(iv.width >= threshold)}
        for k, iv in intervals.items()
    ]
    return pd.DataFrame(rows, columns=list(AUDIT_COLUMNS))
