"""The planted truth of the relapse sensitivity (issue 14, `sensitivity_relapse`), for `koord check-truth`.

`koord synth` breaks a share of the long episodes (``relapse_share``) on a day within: the benefit
stops and a new spell starts 8-28 days later and runs to the episode's end
(`pipeline.synth.simulate`). The episode's latent times are drawn before the break, so:

- 'continue' (the default): the follow-up runs through the break to the episode's end, the
  recorded return to work is the episode's latent recovery and the first GC001 its latent one:
  the planted hazard ratios per chapter group are the exact truth (as of the main analyses,
  whose models these rows repeat);
- 'censor': the break censors the first part; breaks come only in long episodes, so the
  censoring is informative, and the rest is analysed as a spell of its own, whose coordination
  may lie in the part before: biased, by design of the planted world (those who relapse are the
  sicker ones), with no planted truth;
- 'event': the break counts as a return to work that did not happen: biased as well.

Rule (`relapse_checks`; w-x are issue 15's):

y. ``covers_planted_hr_<rule>_<source>``: for the rule 'continue', each source model (tv_cox,
   tv_poisson) and each checked chapter group (psychiatric, musculoskeletal, other), everyone:
   |log(estimate / planted)| <= z SE, z Bonferroni-widened over the family (chapter groups x
   sources), as rule a of the main analyses.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from pipeline.commands.recovery import CHECKED_CHAPTER_GROUPS, _check, _one_row, planted_hazard_ratios, z_for

RELAPSE_ANALYSIS = "sensitivity_relapse"
RELAPSE_RESULTS: tuple[str, ...] = (RELAPSE_ANALYSIS,)
# The rules whose truth is the planted hazard ratio (see the module docstring).
PLANTED_RULES: tuple[str, ...] = ("continue",)


def relapse_checks(results: Mapping[str, pd.DataFrame], truth_json: Mapping) -> tuple[list[dict], list[str]]:
    """Rule y; (rows, notes). Skipped with a note without the results table or a rule in it."""
    if RELAPSE_ANALYSIS not in results:
        return [], [f"checks of {RELAPSE_ANALYSIS} skipped: no such results table"]
    table = results[RELAPSE_ANALYSIS]
    planted = planted_hazard_ratios(truth_json)
    rows, notes = [], []
    for rule in PLANTED_RULES:
        mine = table.loc[table["relapse_rule"] == rule]
        if mine.empty:
            notes.append(f"checks of {RELAPSE_ANALYSIS} under the relapse rule {rule!r} skipped: not run")
            continue
        sources = list(dict.fromkeys(mine["source"]))
        z = z_for(len(CHECKED_CHAPTER_GROUPS) * len(sources))
        for source in sources:
            by_source = mine.loc[mine["source"] == source]
            for chapter in CHECKED_CHAPTER_GROUPS:
                r = _one_row(by_source, RELAPSE_ANALYSIS, sex="all", subgroup="diagnosis_chapter_group", level=chapter)
                log_est, se = np.log(r["estimate"]), float(r["std_error"])
                rows.append(_check(RELAPSE_ANALYSIS, f"covers_planted_hr_{rule}_{source}", r, truth=planted[chapter],
                                   low=np.exp(log_est - z * se), high=np.exp(log_est + z * se), expectation="covers",
                                   z=z, scale="log", passed=abs(log_est - np.log(planted[chapter])) <= z * se))
    return rows, notes


__all__ = ["PLANTED_RULES", "RELAPSE_ANALYSIS", "RELAPSE_RESULTS", "relapse_checks"]
