"""Calibration by simulation: the seed-level statistics hold when seeds differ; the task-level ones do not.

Data model (issue 19): 41 tasks with fixed difficulties (logits ``-0.5 + 1.5 * z_k`` at the normal quantiles
``z_k``, mean success about 41%); each seed draws a world effect ``e ~ Normal(0, seed_sd)`` on the logit scale,
shared by both conditions, and a seed x condition effect ``u ~ Normal(mu, tau)`` split evenly between them:
``logit p_a = b_t + e + u/2``, ``logit p_b = b_t + e - u/2``. With ``mu = 0`` swapping a and b leaves the model
unchanged, so the true mean difference is exactly 0 (a seed-varying null). Outcomes are independent Bernoulli
given the seed. True values (mean rate, mean difference over seeds in general) come from Gauss-Hermite
quadrature over the seed effects.

Tolerances: a rate with true value q estimated from R replicates has binomial standard error
``sqrt(q (1 - q) / R)``. Coverage of a 95% interval: R = 2000 gives SE 0.49 points; we require at least 93%
(the issue's bar, 4 SE below nominal). The new intervals are deliberately never narrower than the tasks'
own sampling noise allows, which makes them conservative when seeds barely differ (up to 99% coverage),
so instead of an upper bound on coverage an interval that is merely huge fails a width bound: its mean
width may exceed the plain t interval over seed means (computed here independently) by at most 15%.
False-positive rate at alpha 0.05: R = 2000 gives SE 0.49 points; we require at most 6% (the issue's bar,
2 SE above nominal) and at least 5% - 3 SE = 3.5% (a test that never rejects fails). The
contrasts run the old task-level functions on the same model and require them to miss nominal by more
than 3 SE (coverage below 95% - 3 SE, false-positive rate above 5% + 3 SE), so each calibration test
demonstrably fails for a method that treats seeds as fixed. Everything random comes from ``SEED``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from scipy import stats as sps
from scipy.special import expit

from experiments.stats import bootstrap_ci, paired_permutation, seed_comparison, seed_interval

SEED = 19
N_TASKS = 41
DIFFICULTY = -0.5 + 1.5 * sps.norm.ppf((np.arange(N_TASKS) + 0.5) / N_TASKS)
ALPHA = 0.05
NODES, WEIGHTS = np.polynomial.hermite_e.hermegauss(60)  # for E[f(Z)], Z ~ N(0, 1)
WEIGHTS = WEIGHTS / WEIGHTS.sum()

Outcomes = npt.NDArray[np.float64]


def _se(q: float, reps: int) -> float:
    return float(np.sqrt(q * (1 - q) / reps))


def _simulate(
    rng: np.random.Generator, reps: int, n_seeds: int, seed_sd: float, mu: float = 0.0, tau: float = 0.0
) -> tuple[Outcomes, Outcomes]:
    """Outcomes of conditions a and b, shape (reps, n_seeds, N_TASKS), paired by (seed, task)."""
    e = rng.normal(0.0, seed_sd, size=(reps, n_seeds, 1))
    u = rng.normal(mu, tau, size=(reps, n_seeds, 1))
    a = rng.random((reps, n_seeds, N_TASKS)) < expit(DIFFICULTY + e + u / 2)
    b = rng.random((reps, n_seeds, N_TASKS)) < expit(DIFFICULTY + e - u / 2)
    return a.astype(np.float64), b.astype(np.float64)


def _true_rate(seed_sd: float) -> float:
    """Mean success over seeds in general of one condition without a condition effect."""
    return float(np.mean(expit(DIFFICULTY[:, None] + seed_sd * NODES[None, :]) @ WEIGHTS))


def _true_diff(seed_sd: float, mu: float, tau: float) -> float:
    """Mean over seeds in general of the per-seed difference a - b (2-d quadrature over e and u)."""
    e = seed_sd * NODES[:, None, None]
    u = mu + tau * NODES[None, :, None]
    w = WEIGHTS[:, None] * WEIGHTS[None, :]
    diff = (expit(DIFFICULTY + e + u / 2) - expit(DIFFICULTY + e - u / 2)).mean(axis=-1)
    return float((diff * w).sum())


def _groups(x: Outcomes) -> list[list[float]]:
    return [row.tolist() for row in x]


# ---------------------------------------------------------------------------------------------- intervals

COVERAGE_REPS = 2000
COVERAGE_LOW = 0.93  # the bar
CONTRAST_REPS = 300  # the old methods miss nominal by 10-25 points: a few hundred replicates show it
WIDTH_RATIO = 1.15  # mean width against the plain t interval over seed means


def _plain_t_width(per_seed: Outcomes) -> float:
    """Mean width of the textbook 95% t interval over the per-seed means (shape (reps, n_seeds))."""
    n = per_seed.shape[1]
    return float(np.mean(2 * sps.t.ppf(0.975, n - 1) * per_seed.std(axis=1, ddof=1) / np.sqrt(n)))


@pytest.mark.parametrize("seed_sd", [0.0, 0.5, 1.0])
def test_seed_interval_covers_the_rate_over_seeds(seed_sd: float) -> None:
    rng = np.random.default_rng(SEED)
    a, _ = _simulate(rng, COVERAGE_REPS, 3, seed_sd)
    truth = _true_rate(seed_sd)
    intervals = [seed_interval(_groups(a[r]), bounds=None) for r in range(COVERAGE_REPS)]
    coverage = float(np.mean([iv.low <= truth <= iv.high for iv in intervals]))
    width = float(np.mean([iv.high - iv.low for iv in intervals]))
    assert coverage >= COVERAGE_LOW, (seed_sd, coverage)
    assert width <= WIDTH_RATIO * _plain_t_width(a.mean(axis=2)), (seed_sd, width)


def test_two_level_bootstrap_fails_the_same_calibration() -> None:
    # Contrast: the same model and bar for the old interval, which resamples three seeds as if they were
    # all there are. CONTRAST_REPS replicates are plenty for a gap this size (SE 1.3 points at 300).
    rng = np.random.default_rng(SEED)
    a, _ = _simulate(rng, CONTRAST_REPS, 3, 1.0)
    truth = _true_rate(1.0)
    hits = [
        (iv := bootstrap_ci(_groups(a[r]), n_boot=500, seed=SEED + r)).low <= truth <= iv.high
        for r in range(CONTRAST_REPS)
    ]
    coverage = float(np.mean(hits))
    assert coverage < 0.95 - 3 * _se(0.95, CONTRAST_REPS), coverage
    assert coverage < COVERAGE_LOW


@pytest.mark.parametrize("n_seeds", [3, 10])
def test_seed_comparison_interval_covers_the_mean_difference(n_seeds: int) -> None:
    # A real effect (mu = 0.5 logits) that varies by seed (tau = 0.5) on top of seed effects (sd 1).
    rng = np.random.default_rng(SEED)
    a, b = _simulate(rng, COVERAGE_REPS, n_seeds, 1.0, mu=0.5, tau=0.5)
    truth = _true_diff(1.0, 0.5, 0.5)
    assert 0.05 < truth < 0.15
    hits, widths = [], []
    for r in range(COVERAGE_REPS):
        cmp = seed_comparison(dict(enumerate(_groups(a[r]))), dict(enumerate(_groups(b[r]))), bounds=None)
        hits.append(cmp.low <= truth <= cmp.high)
        widths.append(cmp.high - cmp.low)
    coverage = float(np.mean(hits))
    assert coverage >= COVERAGE_LOW, (n_seeds, coverage)
    assert float(np.mean(widths)) <= WIDTH_RATIO * _plain_t_width((a - b).mean(axis=2)), n_seeds


# ---------------------------------------------------------------------------------------------- tests

FPR_REPS = 2000
FPR_HIGH = 0.06  # the bar: 2 SE above nominal at 2000 replicates
FPR_LOW = ALPHA - 3 * _se(ALPHA, FPR_REPS)  # 0.035


@pytest.mark.parametrize("n_seeds", [3, 10])
def test_seed_test_false_positive_rate_under_a_seed_varying_null(n_seeds: int) -> None:
    # Seed effects (sd 1) and a condition effect that varies by seed (tau = 1 logit) with mean difference 0.
    rng = np.random.default_rng(SEED)
    a, b = _simulate(rng, FPR_REPS, n_seeds, 1.0, mu=0.0, tau=1.0)
    assert _true_diff(1.0, 0.0, 1.0) == pytest.approx(0.0, abs=1e-12)
    p_t, p_sign = np.empty(FPR_REPS), np.empty(FPR_REPS)
    for r in range(FPR_REPS):
        cmp = seed_comparison(dict(enumerate(_groups(a[r]))), dict(enumerate(_groups(b[r]))))
        p_t[r], p_sign[r] = cmp.p_value, cmp.p_signflip
    fpr = float(np.mean(p_t <= ALPHA))
    assert FPR_LOW <= fpr <= FPR_HIGH, (n_seeds, fpr)
    # The exact sign-flip over seeds never rejects with 3 seeds (p >= 0.25) and keeps its level with 10.
    assert float(np.mean(p_sign <= ALPHA)) <= (0.0 if n_seeds == 3 else FPR_HIGH)


@pytest.mark.parametrize("n_seeds", [3, 10])
def test_task_level_permutation_fails_the_same_calibration(n_seeds: int) -> None:
    # Contrast: the task-level sign-flip test on the same null, pooling every seed's tasks.
    rng = np.random.default_rng(SEED)
    a, b = _simulate(rng, CONTRAST_REPS, n_seeds, 1.0, mu=0.0, tau=1.0)
    p = [
        paired_permutation(a[r].ravel(), b[r].ravel(), n_perm=2000, seed=SEED + r).p_value for r in range(CONTRAST_REPS)
    ]
    fpr = float(np.mean(np.array(p) <= ALPHA))
    assert fpr > ALPHA + 3 * _se(ALPHA, CONTRAST_REPS), (n_seeds, fpr)
    assert fpr > FPR_HIGH
