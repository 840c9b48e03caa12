"""Synthetic register deliveries with a planted, documented truth (`koord synth`).

Public API::

    from pipeline.synth import write_delivery
    truth = write_delivery(out_dir, persons=20_000, seed=1, faults=True)

    # the model, for analyses validated against it
    from pipeline.synth import DEFAULT_PARAMETERS, SynthParameters, simulate, spell_outcomes
    from pipeline.synth import return_to_work_cumulative_incidence
    gt = simulate(20_000, seed=1)           # ground truth, the same draws write_delivery writes
    spells = spell_outcomes(gt)             # one row per spell: inclusion, coordination, end reason

`write_delivery` writes every extract of `data_schemas.extracts` into ``out_dir`` plus a
``manifest.toml`` (layout in `pipeline.synth.writers`), and ``truth.json`` outside the
delivery folder (default ``out_dir/../truth.json``) with ``truth_spells.parquet`` beside it
(one row per spell: true covariates, the home region's u and v, event times, end reason);
it returns the truth dict.

truth.json: ``seed``, ``n_persons``, ``window``, ``sizes``; ``parameters`` (every planted
parameter of `SynthParameters`, the Weibull scales, each region's ``u``, the survey's
region effects); ``coordination_effect`` (hazard ratio and log hazard ratio by chapter
group); ``region_effects`` (``coordination``: each region's ``u`` on the log hazard of the
first GC001, ``return_to_work``: its ``v`` on the log hazard of return to work; each with
``scale``, the planted ``sd``, ``values`` by region code, their sample ``variance`` (ddof 1)
and the planted ``outliers``); ``study`` (the study rules the counts use, from
`data_schemas.study.Study`); ``counts`` (persons, spells, coordinated spells, end reasons
overall, by sex, chapter group and diagnosis group; end reasons under the
``earnings_confirmed`` definition; GC001 contacts outside spells); ``calibration``
(realised values and targets); ``care`` (with ``negative_controls``: the planted negative-control
outcomes of issue 14, mu_true, sigma_true and each outcome's log_hr, codes and contacts); ``faults`` (``rates``, ``rows[file stem][kind]``,
``totals``, ``files``: latin1 / delimiter / extra_columns / yyyymmdd_whole_file;
``integral_decimal_cells_by_column``: whole numbers written as decimals, a kind that loads with
a warning); ``variants`` (what the as-delivered names mode writes besides the names, see
`pipeline.synth.variants`: ``names``, ``written``, ``senpnr_repeat`` (``rows`` per LISA stem =
extra rows with SenPNr = 0, ``total``, ``warned_rows`` = what ingest's ``senpnr_repeat`` counts),
``scb_bakgrund`` (``rows``, ``labels``, ``codes``, ``persons_missing``) and ``asjp_periods``
(``rows``)); ``model`` (the outcome model, in words); ``collaboration`` (issue 13: the planted FK
collaboration and AF registration model, `pipeline.synth.registers.collaboration_parameters`).

Modules: `model` (parameters, hazards, true cumulative incidence), `simulate` (persons,
spells, benefit periods), `truth` (end reasons and counts), `registers`, `care`, `agi`,
`survey` (the extracts), `variants` (SenPNr repeats, scb_bakgrund, ASJP), `faults`, `writers`,
`delivery` (orchestration).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pipeline.synth.model import (  # noqa: E402 - re-exported model API
    DEFAULT_PARAMETERS,
    SynthParameters,
    return_to_work_cumulative_incidence,
)
from pipeline.synth.simulate import GroundTruth, simulate  # noqa: E402
from pipeline.synth.delivery import write_delivery as _write  # noqa: E402
from pipeline.synth.truth import StudyRules, spell_outcomes  # noqa: E402

__all__ = [
    "write_delivery", "simulate", "spell_outcomes", "GroundTruth", "StudyRules", "SynthParameters",
    "DEFAULT_PARAMETERS", "return_to_work_cumulative_incidence",
]


def write_delivery(
    out_dir: str | Path,
    persons: int,
    seed: int,
    *,
    faults: bool = False,
    fmt: str = "csv",
    encoding: str = "utf-8",
    truth_path: str | Path | None = None,
    first_year: int = 2018,
    last_year: int = 2024,
    extraction_date: date = date(2025, 3, 31),
    names: str = "as_delivered",
) -> dict:
    """Write a complete synthetic delivery and its truth; return the truth dictionary.

    Parameters
    ----------
    out_dir : delivery folder (created; existing extract files are overwritten).
    persons : number of persons in the study population (each has >= 1 FK sickness period).
    seed : random seed; the same seed gives byte-identical files.
    faults : inject the dirt of real deliveries at known rates (recorded in truth["faults"]), whole
        numbers written as decimals (``1.0``, ``2,0``, ``25.00``) among them.
    fmt : "csv" (``;``-delimited) or "parquet".
    encoding : "utf-8" or "latin-1" for CSV files.
    truth_path : where truth.json goes; default ``out_dir/../truth.json``.
    first_year, last_year : calendar years of sickness periods covered.
    extraction_date : end of follow-up of the delivery.
    names : "as_delivered" (default): the column names a real delivery carries, LISA's
        year-specific ones (``SyssStat11``/``Sun2000Niva_Old`` to 2018, ``SyssStat19``/
        ``SUN2020Niva_Old`` from 2019, ``DispInk04``) and the project-prefixed key
        ``P1105_LopNr_PersonNr`` in FK's files (named in the manifest), and what real deliveries
        carry besides (`pipeline.synth.variants`): ``SenPNr`` in LISA with earlier identities
        (SenPNr = 0) of 0.5 % of person-years, the optional ``scb_bakgrund`` (region of birth,
        30 % of rows as text labels) and 2 % of SJP periods coded ASJP; "canonical": every
        column under the contract's own name (``Sun2000Niva_Old`` for education), none of the
        variants (no SenPNr, no scb_bakgrund, no ASJP). The built tables are the same.
    """
    return _write(
        out_dir, persons, seed, faults=faults, fmt=fmt, encoding=encoding, truth_path=truth_path,
        first_year=first_year, last_year=last_year, extraction_date=extraction_date, names=names,
    )
