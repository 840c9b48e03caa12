"""Monthly earnings from employers' declarations (``skv_agi_manad``), generated in person chunks.

Grain: one row per person, month of payment and employer, from January of the first covered
year after 2018 (AGI starts 2019-01) to the last full month before extraction. Employees are
paid every month by one employer (some change employer, some have a second one); pay falls
with the share of the month on FK benefit (employer-paid days 0-13 are ordinary pay), a
month fully on full-time benefit has no row; pay stops after death, emigration, sickness
compensation and retirement. The unemployed and others are paid sporadically or not at all.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import polars as pl

from data_schemas.extracts import extract
from pipeline.synth import dates as dt
from pipeline.synth.frames import in_contract_order
from pipeline.synth.model import OCCUPATIONS
from pipeline.synth.simulate import GroundTruth, rng_for

AGI_FIRST_YEAR = 2019  # employers' monthly declarations at individual level start in 2019
CHUNK_PERSONS = 100_000


def agi_months(gt: GroundTruth) -> tuple[int, int]:
    """First month index and number of months delivered."""
    m0 = int(dt.months(dt.year_start(max(AGI_FIRST_YEAR, gt.window.first_year))))
    m_last = int(dt.months(np.array([gt.window.extraction_day]))[0]) - 1  # last full month before extraction
    return m0, max(0, m_last - m0 + 1)


def _sick_fraction(periods: pl.DataFrame, lo: int, n: int, m0: int, M: int, E: int) -> np.ndarray:
    """(persons, months) share of each month's days on FK benefit, weighted by extent."""
    if periods.height == 0 or M == 0:
        return np.zeros((n, M))
    per = periods["person"].to_numpy() - lo
    fom = periods["fom_day"].to_numpy()
    tom = periods["tom_day"].fill_null(E).to_numpy()
    w = (periods["extent"].to_numpy() + 1) * 0.25  # extent index 0..3 -> 25..100 %
    mf, mt = dt.months(fom), dt.months(tom)
    k = mt - mf + 1
    r = np.repeat(np.arange(len(per)), k)
    mon = mf[r] + (np.arange(len(r)) - np.repeat(np.cumsum(k) - k, k))
    ms = dt.month_start(mon)
    me = dt.month_start(mon + 1) - 1
    days = np.minimum(tom[r], me) - np.maximum(fom[r], ms) + 1
    ok = (mon >= m0) & (mon < m0 + M) & (days > 0)
    flat = per[r][ok] * M + (mon[ok] - m0)
    sick_days = np.bincount(flat, weights=(days * w[r])[ok], minlength=n * M).reshape(n, M)
    month_days = (dt.month_start(np.arange(m0, m0 + M) + 1) - dt.month_start(np.arange(m0, m0 + M)))
    return np.minimum(sick_days / month_days[None, :], 1.0)


def agi_chunks(gt: GroundTruth, spells: pl.DataFrame, chunk_persons: int = CHUNK_PERSONS) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """Yield (extract rows, per-spell 'paid in the month after the spell's last month') per chunk."""
    m0, M = agi_months(gt)
    E = gt.window.extraction_day
    p = gt.persons
    n_all = p.height
    months = np.arange(m0, m0 + M)
    growth = 1.025 ** (months // 12 + 1970 - 2019)
    anst, arbl, egen, ovr = (OCCUPATIONS.index(o) for o in ("ANST", "ARBL", "EGEN", "OVR"))
    periods_all = gt.periods.select("person", "fom_day", "tom_day", "extent")
    person_of_period = periods_all["person"].to_numpy()
    person_of_spell = spells["person"].to_numpy()
    for ci, lo in enumerate(range(0, n_all, chunk_persons)):
        hi = min(n_all, lo + chunk_persons)
        n = hi - lo
        rng = rng_for(gt.seed, "agi", ci)
        occ = p["occupation"].to_numpy()[lo:hi]
        woman = p["is_woman"].to_numpy()[lo:hi]
        regular = (occ == anst) | (((occ == egen) | (occ == ovr)) & (rng.random(n) < 0.3))
        sporadic = ~regular & (((occ == arbl) & (rng.random(n) < 0.35)) | ((occ == ovr) & (rng.random(n) < 0.3)))
        base = np.where(occ == anst, 33000.0, np.where(occ == egen, 28000.0, 14000.0))
        base = base * np.where(woman, 0.9, 1.0) * np.exp(rng.normal(0.0, 0.3, size=n))
        # Months with an employment.
        exit_month = dt.months(np.minimum(p["exit_day"].to_numpy()[lo:hi], E))
        comp = p["compensation_start_day"].to_numpy()[lo:hi]
        comp_month = np.where(comp >= 0, dt.months(np.maximum(comp, 0)), np.iinfo(np.int64).max // 4)
        retire_month = dt.months(dt.july_first(p["birth_year"].to_numpy()[lo:hi] + 66))
        stop = np.minimum(np.minimum(exit_month, comp_month), retire_month)
        employed = (months[None, :] < stop[:, None]) & regular[:, None]
        gap = regular & (rng.random(n) < 0.08)
        g_start = rng.integers(0, max(M, 1), size=n)
        g_len = rng.integers(1, 5, size=n)
        col = np.arange(M)[None, :]
        employed &= ~(gap[:, None] & (col >= g_start[:, None]) & (col < (g_start + g_len)[:, None]))
        sp_rows = np.flatnonzero(sporadic)
        employed[sp_rows] |= (rng.random((len(sp_rows), M)) < 0.25) & (months[None, :] < stop[sp_rows, None])
        # Sick leave reduces pay.
        sel = (person_of_period >= lo) & (person_of_period < hi)
        sick = _sick_fraction(periods_all.filter(pl.Series(sel)), lo, n, m0, M, E)
        work = 1.0 - sick
        has1 = employed & (work > 0.05)
        # Employer: one main employer, some change once; some employees have a second one.
        emp_ids = rng.integers(1, 400_000, size=(n, 3))
        emp_ids[:, 2] += 400_000  # second employers: another range
        switch = np.where(rng.random(n) < 0.12, rng.integers(1, max(M, 2), size=n), M + 1)
        second = regular & (occ == anst) & (rng.random(n) < 0.18)
        s_start = rng.integers(0, max(M, 1), size=n)
        s_len = rng.integers(6, 37, size=n)
        has2 = (second[:, None] & (col >= s_start[:, None]) & (col < (s_start + s_len)[:, None])
                & (months[None, :] < stop[:, None]) & (work > 0.05))
        pay2_level = rng.uniform(1500, 8000, size=n)
        # Rows in (person, month, employer slot) order.
        r, c, slot = np.nonzero(np.stack([has1, has2], axis=-1))
        w = work[r, c]
        noise = np.exp(0.04 * rng.standard_normal(len(r)))
        pay = np.where(slot == 0, base[r] * growth[c] * noise, pay2_level[r]) * w
        which = np.where(slot == 1, 2, np.where(c < switch[r], 0, 1))
        id_text = ("AG" + pl.Series(emp_ids.ravel()).cast(pl.Utf8).str.zfill(6))
        period_text = pl.Series(dt.yearmonth(months)).cast(pl.Utf8)
        df = pl.DataFrame({
            "LopNr": gt.lopnr[lo + r],
            "Period": period_text.gather(c),
            "ArbetsgivarId": id_text.gather(r * 3 + which),
            "KontantErsattning": np.round(pay).astype(np.int64),
        })
        paid = has1 | has2
        in_chunk = np.flatnonzero((person_of_spell >= lo) & (person_of_spell < hi))
        last = spells["spell_last_day"].to_numpy()[in_chunk]
        after = dt.months(last) + 1 - m0
        known = (after >= 0) & (after < M) & ~spells["is_open"].to_numpy()[in_chunk]
        paid_after = np.zeros(len(in_chunk), bool)
        paid_after[known] = paid[person_of_spell[in_chunk][known] - lo, after[known]]
        flags = pl.DataFrame({"spell_row": spells["spell_row"].to_numpy()[in_chunk], "is_paid_month_after": paid_after,
                              "is_month_after_delivered": known})
        yield in_contract_order(df, extract("skv_agi_manad")), flags
