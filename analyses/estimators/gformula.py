"""Parametric g-formula pieces: piecewise-constant hazard models on person-time rows, and the daily chain that standardises over them.

Two pieces, general enough for any design with one time-varying treatment that switches on once:

- `fit_poisson_rows`: a Poisson (piecewise-exponential) model of events on person-time rows
  with frequency weights and a ridge penalty, by Newton–Raphson on a sparse design. Cheap to
  refit from a previous estimate, which is what a person-level bootstrap does hundreds of times.
- `daily_chain`: the discrete-time chain of the g-formula for spells that are, each day,
  untreated or treated, and leave by the outcome or a competing event. Treatment starts at the
  beginning of a day (the day of the first contact is treated person-time), then the day's
  hazards of the state apply; the outcome and the competing events of one day are handled
  together, as the Aalen–Johansen estimator handles one day's events. Deterministic: the
  expected state probabilities are carried forward, no Monte Carlo draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import scipy.sparse

from koord.errors import ConvergenceError


@dataclass(frozen=True)
class PoissonRowsFit:
    """Coefficients of `fit_poisson_rows` and how the fit went."""

    coef: np.ndarray
    n_iter: int
    converged: bool
    loglik: float


@dataclass(frozen=True)
class SpellRowsDesign:
    """The design of a piecewise-exponential model on person-time rows that share their spell's covariates.

    Row r belongs to spell ``spell[r]`` and band ``band[r]``; its columns are the band's
    indicator (``n_bands`` columns), the spell's covariate row ``spell_x`` (spells × p, sparse)
    and, when ``level[r] >= 0``, the indicator of one of ``n_levels`` exposure terms. The
    information and score are built from sums per spell and per band (``bincount``) instead of
    the rows × columns matrix: the rows of a spell repeat its covariates once per band and
    state, so this costs the spells, not the rows (and never holds the row matrix).
    """

    spell: np.ndarray
    band: np.ndarray
    n_bands: int
    spell_x: scipy.sparse.csr_matrix
    level: np.ndarray
    n_levels: int

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.spell), self.n_bands + self.spell_x.shape[1] + self.n_levels

    def _parts(self, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        nb, p = self.n_bands, self.spell_x.shape[1]
        return beta[:nb], beta[nb: nb + p], beta[nb + p:]

    def __matmul__(self, beta: np.ndarray) -> np.ndarray:
        """The linear predictor of every row."""
        b, z, e = self._parts(np.asarray(beta, float))
        eta = b[self.band] + np.asarray(self.spell_x @ z).ravel()[self.spell]
        if self.n_levels:
            on = self.level >= 0
            eta = eta + np.where(on, e[np.maximum(self.level, 0)], 0.0)
        return eta

    def score(self, residual: np.ndarray) -> np.ndarray:
        """X' residual."""
        n_spells = self.spell_x.shape[0]
        by_spell = np.bincount(self.spell, weights=residual, minlength=n_spells)
        parts = [np.bincount(self.band, weights=residual, minlength=self.n_bands), self.spell_x.T @ by_spell]
        if self.n_levels:
            on = self.level >= 0
            parts.append(np.bincount(self.level[on], weights=residual[on], minlength=self.n_levels))
        return np.concatenate(parts)

    def information(self, mu: np.ndarray) -> np.ndarray:
        """X' diag(mu) X."""
        n_spells, p = self.spell_x.shape
        nb, k = self.n_bands, self.n_levels
        z = self.spell_x
        out = np.zeros((nb + p + k, nb + p + k))
        out[:nb, :nb] = np.diag(np.bincount(self.band, weights=mu, minlength=nb))
        per_spell = np.bincount(self.spell, weights=mu, minlength=n_spells)
        out[nb:nb + p, nb:nb + p] = (z.T @ scipy.sparse.diags(per_spell) @ z).toarray()
        spell_band = scipy.sparse.csr_matrix((mu, (self.spell, self.band)), shape=(n_spells, nb))
        out[nb:nb + p, :nb] = (z.T @ spell_band).toarray()
        out[:nb, nb:nb + p] = out[nb:nb + p, :nb].T
        if k:
            on = self.level >= 0
            lv, m_on = self.level[on], mu[on]
            out[nb + p:, nb + p:] = np.diag(np.bincount(lv, weights=m_on, minlength=k))
            band_level = np.bincount(self.band[on] * k + lv, weights=m_on, minlength=nb * k).reshape(nb, k)
            out[:nb, nb + p:], out[nb + p:, :nb] = band_level, band_level.T
            spell_level = scipy.sparse.csr_matrix((m_on, (self.spell[on], lv)), shape=(n_spells, k))
            out[nb:nb + p, nb + p:] = (z.T @ spell_level).toarray()
            out[nb + p:, nb:nb + p] = out[nb:nb + p, nb + p:].T
        return out


def _penalised_loglik(x, beta, events, days, weights, ridge_vector, center) -> tuple[float, np.ndarray]:
    eta = np.asarray(x @ beta).ravel()
    mu = weights * days * np.exp(eta)
    loglik = float(np.sum(weights * events * eta) - mu.sum() - 0.5 * np.sum(ridge_vector * (beta - center) ** 2))
    return loglik, mu


def fit_poisson_rows(x: scipy.sparse.spmatrix | SpellRowsDesign, events: np.ndarray, days: np.ndarray, *,
                     weights: np.ndarray | None = None, start: np.ndarray | None = None,
                     penalised: np.ndarray | None = None, ridge: float = 0.0, band_ridge: float = 0.0,
                     max_iter: int = 100,
                     tolerance: float = 1e-9, name: str = "model") -> PoissonRowsFit:
    """Poisson log-linear model ``E[events] = days * exp(x beta)`` by penalised Newton–Raphson.

    Parameters
    ----------
    x : sparse design (rows × columns), or a `SpellRowsDesign`; without an intercept column unless
        the caller adds one.
    events, days : events and days at risk per row (days > 0).
    weights : frequency weights per row (a bootstrap replicate's person counts); None = 1.
    start : starting coefficients (a previous fit); None = zeros.
    penalised : which columns the ridge penalty ``ridge / 2 * beta^2`` applies to (None = all);
        it keeps a level without events in a bootstrap replicate finite. The others (the bands,
        one per row) get ``band_ridge / 2 * (beta - log overall rate)^2``: a band without events
        gets a rate far below the others instead of minus infinity.
    ridge, band_ridge : the penalties' weights (0 = maximum likelihood).
    max_iter, tolerance : Newton steps at most; converged when the largest step is below tolerance.
    name : named in the error message.

    Raises
    ------
    ConvergenceError
        When the steps do not converge within ``max_iter``.
    """
    structured = isinstance(x, SpellRowsDesign)
    if not structured:
        x = scipy.sparse.csr_matrix(x)
    events = np.asarray(events, float)
    days = np.asarray(days, float)
    weights = np.ones(len(events)) if weights is None else np.asarray(weights, float)
    p = x.shape[1]
    mask = np.ones(p, bool) if penalised is None else np.asarray(penalised, bool)
    ridge_vector = np.where(mask, ridge, band_ridge)
    # every row in exactly one band column: the bands start at (and are held towards) the overall rate
    overall = np.log((np.sum(weights * events) + 0.5) / max(np.sum(weights * days), 1e-12))
    center = np.where(mask, 0.0, overall)
    beta = center.copy() if start is None else np.array(start, float)
    xt = None if structured else x.T.tocsr()
    loglik, mu = _penalised_loglik(x, beta, events, days, weights, ridge_vector, center)
    for iteration in range(1, max_iter + 1):
        residual = weights * events - mu
        if structured:
            score, information = x.score(residual), x.information(mu)
        else:
            score, information = xt @ residual, (xt @ scipy.sparse.diags(mu) @ x).toarray()
        score = score - ridge_vector * (beta - center)
        information = information + np.diag(ridge_vector)
        try:
            step = np.linalg.solve(information, score)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(information, score, rcond=None)[0]
        halvings = 0
        while True:
            candidate = beta + step
            new_loglik, new_mu = _penalised_loglik(x, candidate, events, days, weights, ridge_vector, center)
            if np.isfinite(new_loglik) and new_loglik >= loglik - 1e-10 * abs(loglik) or halvings >= 30:
                break
            step = step / 2
            halvings += 1
        beta, loglik, mu = candidate, new_loglik, new_mu
        if np.max(np.abs(step)) < tolerance:
            return PoissonRowsFit(beta, iteration, True, loglik)
    raise ConvergenceError(f"{name}: the Poisson model did not converge in {max_iter} Newton steps "
                           f"(largest last step {np.max(np.abs(step)):.2g})")


@dataclass(frozen=True)
class DayProbabilities:
    """One day's probabilities per spell (arrays broadcastable to the chain's shape).

    ``start``: of the treatment starting at the beginning of the day among the untreated;
    ``outcome_untreated``, ``competing_untreated``, ``outcome_treated``, ``competing_treated``:
    of leaving by the outcome or by a competing event during the day, per state. Each state's
    two exits must sum to at most 1.
    """

    start: np.ndarray
    outcome_untreated: np.ndarray
    competing_untreated: np.ndarray
    outcome_treated: np.ndarray
    competing_treated: np.ndarray


@dataclass(frozen=True)
class ChainResult:
    """Per spell (and whatever leading axes the probabilities carry), at each reported day.

    ``outcome``: the cumulative incidence of the outcome; ``treated``: the probability of
    having started treatment while still followed (treated at the start included).
    """

    days: tuple[int, ...]
    outcome: np.ndarray  # (..., n_days)
    treated: np.ndarray  # (..., n_days)


def _initial_state(report_days, first_day: int, treated_at_start, shape):
    """The chains' state at ``first_day``: sorted report days, treated and untreated shares, no outcome yet."""
    report = sorted(int(d) for d in report_days)
    if not report or report[0] < first_day:
        raise ValueError(f"report days must lie at or after the first day {first_day}, got {report}")
    start = np.asarray(treated_at_start, float)
    treated = np.broadcast_to(start, start.shape if shape is None else shape).astype(float)
    return report, treated, 1.0 - treated, np.zeros(treated.shape), treated.copy()


def daily_chain(first_day: int, report_days: Sequence[int], treated_at_start: np.ndarray,
                probabilities: Callable[[int], DayProbabilities], shape: tuple[int, ...] | None = None) -> ChainResult:
    """Carry the untreated and treated state probabilities forward day by day from ``first_day``.

    Parameters
    ----------
    first_day : the first day index followed (everyone is still followed at its start).
    report_days : days ``h`` at which the incidences are reported: what happened on the day
        indices ``first_day .. h - 1`` (an event on day index h - 1 ends follow-up at day h).
    treated_at_start : per spell, whether it is treated at ``first_day`` already (0/1).
    probabilities : day index -> `DayProbabilities` of that day.
    shape : shape of the state arrays (default that of ``treated_at_start``); leading axes may
        hold several interventions evaluated together.
    """
    report, treated, untreated, outcome, ever_treated = _initial_state(report_days, first_day, treated_at_start, shape)
    shape = treated.shape
    starting = np.empty(shape)
    gained = np.empty(shape)
    stay: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # per probabilities object (callers reuse them)
    out_outcome, out_treated = [], []
    position = 0
    for day in range(first_day, report[-1]):
        while position < len(report) and report[position] == day:
            out_outcome.append(outcome.copy()), out_treated.append(ever_treated.copy())
            position += 1
        p = probabilities(day)
        if id(p) not in stay:
            stay[id(p)] = (1.0 - p.outcome_untreated - p.competing_untreated, 1.0 - p.outcome_treated - p.competing_treated)
        stay_untreated, stay_treated = stay[id(p)]
        np.multiply(untreated, p.start, out=starting)
        untreated -= starting
        treated += starting
        ever_treated += starting
        np.multiply(untreated, p.outcome_untreated, out=gained)
        outcome += gained
        np.multiply(treated, p.outcome_treated, out=gained)
        outcome += gained
        untreated *= stay_untreated
        treated *= stay_treated
    while position < len(report):
        out_outcome.append(outcome.copy()), out_treated.append(ever_treated.copy())
        position += 1
    return ChainResult(tuple(report), np.stack(out_outcome, axis=-1), np.stack(out_treated, axis=-1))


def segment_chain(first_day: int, report_days: Sequence[int], treated_at_start: np.ndarray,
                  probabilities: Callable[[int], DayProbabilities], change_days: Sequence[int],
                  shape: tuple[int, ...] | None = None) -> ChainResult:
    """`daily_chain` in closed form over segments of days whose probabilities do not change.

    The caller names every day on which a probability may change (``change_days``: band limits,
    the days an intervention starts or stops); `probabilities` is read on the first day of each
    segment. Over L days with constant probabilities, untreated survival a = (1 - start)(1 -
    outcome - competing) and treated survival g = 1 - outcome - competing (treated):

    - untreated after L days: a^L U; treated: g^L C + start g U (g^L - a^L) / (g - a), the
      last ratio computed as a^(L-1) expm1(L d) / expm1(d), d = ln g - ln a (L a^(L-1) at d = 0);
    - the days the untreated spend in the segment: U (1 - a^L) / (1 - a) (L U when a = 1);
      those of the treated follow from the treated's balance, so the outcome among them is
      outcome_t / (outcome_t + competing_t) times what left the treated state.

    Equal to `daily_chain` (tests hold it so) at the cost of segments, not days.
    """
    report, treated, untreated, outcome, ever_treated = _initial_state(report_days, first_day, treated_at_start, shape)
    shape = treated.shape
    last = report[-1]
    cuts = sorted({int(first_day), last, *(int(d) for d in (*change_days, *report) if first_day < d < last)})
    out_outcome, out_treated = {}, {}
    if first_day in report:
        out_outcome[first_day], out_treated[first_day] = outcome.copy(), ever_treated.copy()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            p, length = probabilities(lo), float(hi - lo)
            pc, r0, k0, r1, k1 = p.start, p.outcome_untreated, p.competing_untreated, p.outcome_treated, p.competing_treated
            a = (1.0 - pc) * (1.0 - r0 - k0)
            g = np.broadcast_to(1.0 - r1 - k1, shape)
            a_l = a ** length
            days_untreated = untreated * np.where(1.0 - a > 1e-12, (1.0 - a_l) / (1.0 - a), length)
            ln_a, ln_g = np.log(np.maximum(a, 1e-300)), np.log(np.maximum(g, 1e-300))
            d = ln_g - ln_a
            ratio = np.where(np.abs(d) > 1e-10, np.expm1(length * d) / np.expm1(d), length)
            new_treated = g ** length * treated + pc * g * untreated * a ** (length - 1.0) * ratio
            entered = pc * days_untreated  # treatment starts at the beginning of the untreated's days
            left_treated = treated + entered - new_treated
            share_outcome = np.where(r1 + k1 > 0, r1 / (r1 + k1), 0.0)
            outcome = outcome + (1.0 - pc) * r0 * days_untreated + share_outcome * left_treated
            ever_treated = ever_treated + entered
            untreated, treated = untreated * a_l, new_treated
            if hi in report:
                out_outcome[hi], out_treated[hi] = outcome.copy(), ever_treated.copy()
    return ChainResult(tuple(report), np.stack([out_outcome[d] for d in report], axis=-1),
                       np.stack([out_treated[d] for d in report], axis=-1))


def scaled_probability(probability: np.ndarray, multiplier: np.ndarray | float) -> np.ndarray:
    """The day's probability when the hazard behind it is multiplied: ``1 - (1 - p) ** m``."""
    p = np.clip(np.asarray(probability, float), 0.0, 1.0 - 1e-12)
    return -np.expm1(np.asarray(multiplier, float) * np.log1p(-p))


def bisect_increasing(function: Callable[[np.ndarray], np.ndarray], target: np.ndarray, low: float, high: float,
                      iterations: int = 40) -> np.ndarray:
    """Per element, the x in [low, high] where an increasing ``function`` (vectorised) reaches ``target``.

    Elements whose target lies beyond ``function(high)`` get ``high``; below ``function(low)``, ``low``.
    """
    target = np.asarray(target, float)
    lo = np.full(target.shape, float(low))
    hi = np.full(target.shape, float(high))
    for _ in range(iterations):
        mid = (lo + hi) / 2
        below = function(mid) < target
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return (lo + hi) / 2


__all__ = ["ChainResult", "DayProbabilities", "PoissonRowsFit", "SpellRowsDesign", "bisect_increasing", "daily_chain", "segment_chain",
           "fit_poisson_rows", "scaled_probability"]
