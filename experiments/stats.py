"""Statistics for comparing conditions: confidence intervals, paired tests, pass@k and power analysis.

Task instances are nested in seeds: each seed plans its own worlds and instances, and two conditions run
with the same seed see the same instances. A comparison can therefore answer two different questions, and
this module keeps both, labelled:

* **Seeds in general (seeds as random)** - would the conditions differ on new seeds, i.e. new worlds? A
  seed's worlds make every condition easier or harder, and a condition's advantage itself varies from world
  to world (a seed x condition interaction). Both variances must enter the error, so the unit of
  inference is the seed: :func:`seed_comparison` takes per seed the mean paired difference over its tasks
  and tests the mean of these over seeds with a one-sample t test (S - 1 degrees of freedom; a t interval
  for the difference, never narrower than the tasks' own sampling noise allows), next to the exact
  sign-flip test over seeds, which assumes only that the per-seed differences are symmetric under the
  null but cannot go below ``2 / 2^S`` (0.25 with 3 seeds, 0.0625 with 5; 6 seeds are needed for 0.05).
  :func:`seed_interval` is the t interval of one condition's success rate over per-seed rates.
  :func:`seed_scope` says in words how far a comparison with S seeds reaches.
* **These worlds (seeds as fixed)** - do the conditions differ on these very task instances?
  :func:`bootstrap_ci` (two-level bootstrap), :func:`paired_permutation` (sign-flip over per-task
  differences) and :func:`mcnemar` treat the tasks as the sample. They are exact for that question and
  much more powerful, but when the effect varies by seed they are not tests of the general question:
  simulated with 41 tasks per seed and a logit-scale condition effect varying by seed with SD 1 and mean
  difference 0, the task-level test rejects at alpha 0.05 in 26% (3 seeds) to 32% (10 seeds) of
  experiments, and the two-level bootstrap's 95% interval covers a rate only 81-84% of the time with 3
  seeds and a seed SD of 1 (``tests/experiments/test_stats_calibration.py`` measures both next to the
  seed-level methods, which stay at 4.6-5.0% and 95%).

Why a seed-level t test and not a mixed-effects model: with S seeds the data hold S independent
replicates of the seed x condition interaction, whatever the number of tasks; no model can estimate that
variance from fewer. For a balanced design (the same tasks in every seed) the linear mixed model with
random seed intercepts and random condition slopes gives the same estimate of the condition effect and
the same t statistic on S - 1 degrees of freedom as the per-seed differences (the summary-statistics
approach of Holmes & Friston 1998, "Generalisability, random effects and population inference",
*NeuroImage* 7:S754; Mumford & Nichols 2009, "Simple group fMRI modeling and inference", *NeuroImage*
47:1469-1475, show it keeps its false-positive rate when the within-unit variances differ). statsmodels'
``MixedLM`` would instead refer its Wald statistic to the normal distribution (no Satterthwaite or
Kenward-Roger degrees of freedom), which is anti-conservative with 3-10 seeds, and its binomial mixed model
is variational Bayes; a logistic GLMM would also change the estimand from a difference in success rates
to a log odds ratio. The per-seed t test needs no new dependency, is exact under normal per-seed
differences and, under sign-symmetric ones, keeps close to its level (Efron 1969, "Student's t-test under
symmetry conditions", *JASA* 64:1278-1302); the calibration tests check its false-positive rate and
coverage by simulation on the logit-scale model above (3 and 10 seeds).

Also: several comparisons are corrected with :func:`holm`; repeated samples of one task give
:func:`pass_at_k` (any of k succeeds) and :func:`pass_hat_k` (all k do); :func:`power_paired`,
:func:`required_size` and :func:`pilot_estimates` plan how many seeds the seed-level comparison needs
(see ``python -m experiments.power``), with the same seed-level test and a between-seed variance of
the difference.

Everything random takes an integer ``seed`` and draws from ``numpy.random.default_rng(seed)``, so results
are reproducible. Only numpy and scipy are used.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special as spf
from scipy import stats as sps

__all__ = [
    "Correlation",
    "Interval",
    "McNemar",
    "PairedTest",
    "PowerPlan",
    "SeedComparison",
    "bootstrap_ci",
    "holm",
    "mcnemar",
    "paired_permutation",
    "pass_at_k",
    "pass_hat_k",
    "pass_hat_k_curve",
    "pilot_estimates",
    "power_paired",
    "required_size",
    "seed_comparison",
    "seed_interval",
    "seed_scope",
    "seeds_for_signflip",
    "spearman_ci",
]

FloatArray = npt.NDArray[np.float64]

# Upper bound on the number of array elements materialised at once by the vectorised resampling loops
# (~32 MB of float64); larger problems are processed in chunks of resamples.
_CHUNK_ELEMENTS = 4_000_000


# --------------------------------------------------------------------------------------------------
# Bootstrap confidence intervals
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval and the sample it came from.

    ``method`` says what the interval generalises over: ``"seeds"`` (:func:`seed_interval`: t interval over
    per-seed means, seeds as random) or ``"tasks"`` (:func:`bootstrap_ci`: these seeds' worlds).
    """

    mean: float
    low: float
    high: float
    n_seeds: int
    n_tasks: int
    method: str = "tasks"

    def fmt(self, pct: bool = True) -> str:
        """``"34.6% [28.1, 41.0]"`` (``pct=True``) or ``"0.346 [0.281, 0.410]"``."""
        if pct:
            return f"{100 * self.mean:.1f}% [{100 * self.low:.1f}, {100 * self.high:.1f}]"
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}]"


def _as_groups(
    groups: Mapping[Any, Sequence[float]] | Sequence[Sequence[float]], name: str = "bootstrap_ci"
) -> list[FloatArray]:
    items: list[tuple[Any, Sequence[float]]]
    if isinstance(groups, Mapping):
        items = list(groups.items())
    else:
        items = list(enumerate(groups))
    if not items:
        raise ValueError(f"{name}: no groups given (need at least one seed with at least one task outcome)")
    arrays = []
    for key, values in items:
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim != 1:
            raise ValueError(f"{name}: group {key!r} must be a flat sequence of numbers, got shape {arr.shape}")
        if arr.size == 0:
            raise ValueError(f"{name}: group {key!r} is empty (every seed needs at least one task outcome)")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name}: group {key!r} contains NaN or infinite values")
        arrays.append(arr)
    return arrays


def bootstrap_ci(
    groups: Mapping[Any, Sequence[float]] | Sequence[Sequence[float]],
    *,
    n_boot: int = 10_000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Two-level (hierarchical) percentile bootstrap interval for the pooled mean of task outcomes.

    ``groups`` holds one sequence of task outcomes (0/1 successes or scores) per seed. Each of the
    ``n_boot`` resamples draws as many seeds as there are, with replacement, then for every drawn seed as
    many tasks as that seed has, with replacement from its tasks; the statistic is the mean over all the
    resampled task outcomes (pooled, so seeds with more tasks weigh more, like the point estimate). The
    interval is the ``(1 - level) / 2`` and ``(1 + level) / 2`` percentiles of the resampled statistics.
    With a single group this is the ordinary (tasks-only) percentile bootstrap.

    References: Efron & Tibshirani (1993), *An Introduction to the Bootstrap*, ch. 13 (percentile
    interval); Davison & Hinkley (1997), *Bootstrap Methods and their Application*, sec. 3.8 (resampling
    both stages of multi-stage data); Saravanan, Berman & Sober (2020), "Application of the hierarchical
    bootstrap to multi-level data in neuroscience", *Neurons, Behavior, and Data Analysis, and Theory*.

    ``mean`` of the result is the pooled mean of the data (not of the resamples). Raises ``ValueError`` on
    empty input, an empty group, non-finite values, ``n_boot < 1`` or ``level`` outside (0, 1).

    What it generalises over: these seeds' worlds. Resampling 3 seeds cannot show how much a new seed's
    worlds would differ, so with few seeds and real seed effects the interval is too narrow for the rate
    over seeds in general (81-84% coverage for a nominal 95% with 3 seeds and a logit-scale seed SD of
    1, in ``tests/experiments/test_stats_calibration.py``); :func:`seed_interval` is the interval for that.
    """
    if n_boot < 1:
        raise ValueError(f"bootstrap_ci: n_boot must be >= 1, got {n_boot}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"bootstrap_ci: level must be in (0, 1), got {level}")
    arrays = _as_groups(groups)
    sizes = np.array([a.size for a in arrays], dtype=np.int64)
    values = np.concatenate(arrays)
    mean = float(values.mean())
    n_groups, n_total = len(arrays), int(values.size)
    if np.all(values == values[0]):
        # Every resample is the same number; return it exactly rather than a float-noise-wide interval.
        return Interval(mean, mean, mean, n_groups, n_total)

    max_n = int(sizes.max())
    padded = np.zeros((n_groups, max_n))
    for i, arr in enumerate(arrays):
        padded[i, : arr.size] = arr
    ragged = bool(np.any(sizes != max_n))
    positions = np.arange(max_n)

    rng = np.random.default_rng(seed)
    boot = np.empty(n_boot)
    chunk = max(1, _CHUNK_ELEMENTS // (n_groups * max_n))
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        chosen = rng.integers(0, n_groups, size=(b, n_groups))  # level 1: seeds with replacement
        n_chosen = sizes[chosen]
        # Level 2: tasks with replacement within each drawn seed; a seed with fewer tasks than the
        # widest uses only the first n of its max_n slots (the rest are masked out below).
        idx = rng.integers(0, n_chosen[..., None], size=(b, n_groups, max_n))
        draws = padded[chosen[..., None], idx]
        if ragged:
            draws = np.where(positions < n_chosen[..., None], draws, 0.0)
        boot[start : start + b] = draws.sum(axis=(1, 2)) / n_chosen.sum(axis=1)

    alpha = 1.0 - level
    low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    return Interval(mean, float(low), float(high), n_groups, n_total)


# --------------------------------------------------------------------------------------------------
# Seeds as random: intervals and comparisons over per-seed means
# --------------------------------------------------------------------------------------------------


def seeds_for_signflip(alpha: float = 0.05) -> int:
    """Fewest seeds with which an exact two-sided sign-flip test over seeds can reach ``p <= alpha``.

    With S seeds the smallest attainable p is ``2 / 2^S`` (all seeds agree in sign): 0.25 with 3 seeds,
    0.0625 with 5, 0.03125 with 6, so 6 for alpha = 0.05.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return max(1, math.ceil(1 - math.log2(alpha)))


def seed_scope(n_seeds: int, alpha: float = 0.05) -> str:
    """What a comparison over ``n_seeds`` seeds can say, in words (for reports).

    * 1 seed: nothing about seeds in general; only the task-level tests, for this seed's worlds.
    * fewer than :func:`seeds_for_signflip`: the t test over seeds speaks for seeds in general only if the
      per-seed differences are roughly normal, which so few seeds cannot check, and no distribution-free
      test can reach ``alpha``.
    * otherwise: seeds in general.
    """
    if n_seeds < 1:
        raise ValueError(f"n_seeds must be >= 1, got {n_seeds}")
    if n_seeds == 1:
        return "these worlds only (1 seed: no seed-level test)"
    need = seeds_for_signflip(alpha)
    if n_seeds < need:
        return (
            f"seeds, if per-seed differences are normal ({n_seeds} < {need} seeds: too few to check; "
            f"sign-flip p >= {2 / 2**n_seeds:.3g})"
        )
    return "seeds in general"


def _floor_var(arrays: Sequence[FloatArray], *, binary: bool) -> float:
    """Variance of the equal-weighted mean of per-seed means from the tasks' sampling noise alone.

    That is the variance the mean would have if the seeds were fixed: ``sum_s(v_s / n_s) / S^2`` with ``v_s``
    the variance of one task outcome of seed s. For 0/1 outcomes ``v_s = p (1 - p)`` with the pooled rate
    shrunk by half a success, ``p = (k + 0.5) / (n + 1)``, so that seeds which all score 0% (or 100%) still
    leave some uncertainty; otherwise ``v_s`` is the seed's sample variance (ddof 1; 0 for a single task).
    """
    if binary:
        k = float(sum(a.sum() for a in arrays))
        n = sum(a.size for a in arrays)
        p = (k + 0.5) / (n + 1)
        per_task = [p * (1 - p)] * len(arrays)
    else:
        per_task = [float(a.var(ddof=1)) if a.size > 1 else 0.0 for a in arrays]
    return sum(v / a.size for v, a in zip(per_task, arrays)) / len(arrays) ** 2


def _seed_bounds(means: FloatArray, floor_var: float, level: float) -> tuple[float, float, float, float]:
    """Mean, interval bounds and sd (ddof 1) of per-seed values (at least 2).

    Half-width ``max(t(S-1) * sd / sqrt(S), z * sqrt(floor_var))``: the t interval over seeds, never
    narrower than the normal interval from the tasks' sampling noise alone (see :func:`seed_interval`).
    """
    n = means.size
    mean = float(means.mean())
    sd = float(means.std(ddof=1))
    # scipy.special's t and normal functions: the same values as scipy.stats' t and norm, without their
    # per-call overhead (the calibration tests and the power simulation call these thousands of times).
    t_half = float(spf.stdtrit(n - 1, (1 + level) / 2)) * sd / math.sqrt(n)
    z_half = float(spf.ndtri((1 + level) / 2)) * math.sqrt(floor_var)
    half = max(t_half, z_half)
    return mean, mean - half, mean + half, sd


def _seed_pvalues(d: FloatArray, floor_var: FloatArray | float) -> FloatArray:
    """Two-sided p-values of mean = 0 over the last axis (per-seed differences), dual to :func:`_seed_bounds`.

    ``max(p_t, p_z)``: ``p_t`` from the one-sample t test over seeds (S - 1 df), ``p_z`` from the normal
    test with the tasks-only variance ``floor_var`` of the mean; the interval of :func:`_seed_bounds` at
    level 1 - alpha excludes 0 exactly when this p is below alpha. Vectorised over the leading axes (used
    by :func:`seed_comparison` and the power simulation). With a single seed there is no test (p = 1).
    With neither spread over seeds nor within them (every task of every seed has the same difference)
    both statistics are undefined and p is the exact sign-flip p-value over seeds (``2 / 2^S``, or 1 if
    the differences are 0) rather than 0.
    """
    n = d.shape[-1]
    if n < 2:
        return np.ones(d.shape[:-1])
    mean = d.mean(axis=-1)
    absmean = np.abs(mean)
    # Spread below rounding noise counts as none (equal values can differ in the last bits after a mean).
    tiny = 1e-12 * np.maximum(1.0, np.abs(d).max(axis=-1))
    se_t = d.std(axis=-1, ddof=1) / math.sqrt(n)
    se_z = np.sqrt(np.broadcast_to(np.asarray(floor_var, dtype=np.float64), mean.shape))
    flat_t, flat_z = se_t <= tiny, se_z <= tiny
    p_t = np.where(
        flat_t, np.where(mean == 0, 1.0, 0.0), 2.0 * spf.stdtr(n - 1, -absmean / np.where(flat_t, 1.0, se_t))
    )
    p_z = np.where(flat_z, np.where(mean == 0, 1.0, 0.0), 2.0 * spf.ndtr(-absmean / np.where(flat_z, 1.0, se_z)))
    p = np.maximum(p_t, p_z)
    sign_flip = np.where(mean == 0, 1.0, min(1.0, 2.0 / 2.0**n))
    return np.asarray(np.where(flat_t & flat_z, sign_flip, p), dtype=np.float64)


def seed_interval(
    groups: Mapping[Any, Sequence[float]] | Sequence[Sequence[float]],
    *,
    level: float = 0.95,
    bounds: tuple[float, float] | None = (0.0, 1.0),
    n_boot: int = 2_000,
    seed: int = 0,
) -> Interval:
    """Interval for the mean outcome over seeds in general (seeds as random): a t interval over per-seed means.

    ``groups`` holds one sequence of task outcomes per seed. ``mean`` is the mean of the per-seed means
    (the pooled mean when every seed has the same number of tasks); the interval is ``mean +- t(S-1) *
    sd / sqrt(S)`` with sd the standard deviation of the per-seed means (ddof 1), clipped to ``bounds``
    (the outcomes' range; None for no clipping). The per-seed mean already carries its tasks' sampling
    noise, so between-seed and within-seed variation both enter, whatever their sizes. With 3 seeds the
    t quantile has 2 degrees of freedom (4.30 for 95%): the interval is wide, because 3 seeds say little
    about a fourth. ``method="seeds"``.

    Floor: the half-width is never below ``z * sqrt(floor)``, the normal interval from the tasks' sampling
    noise alone (the variance the mean would have with the seeds fixed; for 0/1 outcomes from the pooled
    rate shrunk by half a success). A few seeds can agree by chance far more closely than their tasks
    allow - with a handful of binary tasks per seed, three seeds often tie exactly and the plain t
    interval has width 0 - so the floor keeps the interval from claiming more precision than the tasks
    alone could give (in the spirit of the modified Hartung-Knapp interval of random-effects
    meta-analysis, Roever, Knapp & Friede 2015, *BMC Med. Res. Methodol.* 15:99, which is never narrower
    than the fixed-effect one). It binds when seeds barely differ and makes the interval a little
    conservative there; when seeds differ it does not bind.

    With a single seed the spread over seeds cannot be estimated: the result is :func:`bootstrap_ci` over
    that seed's tasks (``n_boot``, ``seed``), with ``method="tasks"`` - an interval for that seed's worlds
    only. Raises ``ValueError`` like :func:`bootstrap_ci`.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"seed_interval: level must be in (0, 1), got {level}")
    arrays = _as_groups(groups, "seed_interval")
    n_total = int(sum(a.size for a in arrays))
    if len(arrays) == 1:
        return bootstrap_ci([arrays[0].tolist()], n_boot=n_boot, level=level, seed=seed)
    binary = all(bool(np.all((a == 0) | (a == 1))) for a in arrays)
    floor = _floor_var(arrays, binary=binary)
    mean, low, high, _ = _seed_bounds(np.array([a.mean() for a in arrays]), floor, level)
    if bounds is not None:
        low, high = max(bounds[0], low), min(bounds[1], high)
    return Interval(mean, low, high, len(arrays), n_total, "seeds")


@dataclass(frozen=True)
class SeedComparison:
    """Result of :func:`seed_comparison`: conditions a and b compared with seeds as random.

    ``mean_diff`` is the mean over seeds of the per-seed mean paired difference a - b, ``low``/``high`` its
    t interval, ``p_value`` the two-sided t test over seeds (all three NaN with one seed), ``p_signflip``
    the exact sign-flip test over the per-seed differences and ``min_p_signflip`` the smallest value it
    can take with ``n_seeds`` seeds (``2 / 2^S``). ``seed_diffs`` are the per-seed differences in the
    order the seeds were given.
    """

    mean_diff: float
    low: float
    high: float
    p_value: float
    p_signflip: float
    min_p_signflip: float
    sd_seeds: float
    n_seeds: int
    n_tasks: int
    seed_diffs: tuple[float, ...]

    def scope(self, alpha: float = 0.05) -> str:
        """What this comparison generalises over (:func:`seed_scope`)."""
        return seed_scope(self.n_seeds, alpha)

    def too_few_seeds(self, alpha: float = 0.05) -> bool:
        """True when no distribution-free test over these seeds could reach ``alpha`` (or there is one seed)."""
        return self.n_seeds < seeds_for_signflip(alpha)


def seed_comparison(
    a_by_seed: Mapping[Any, Sequence[float]],
    b_by_seed: Mapping[Any, Sequence[float]],
    *,
    level: float = 0.95,
    bounds: tuple[float, float] | None = (-1.0, 1.0),
    seed: int = 0,
) -> SeedComparison:
    """Compare conditions a and b with seeds (worlds) as random: t test and interval over per-seed differences.

    ``a_by_seed[s][i]`` and ``b_by_seed[s][i]`` are the outcomes of the same task instance of seed ``s``
    under the two conditions. Per seed, ``d_s = mean_i(a_si - b_si)``; the estimate is ``mean_s(d_s)``
    (each seed weighs the same), the interval ``mean +- t(S-1) * sd(d) / sqrt(S)`` clipped to ``bounds``
    (the range of a difference of outcomes in [0, 1]; None for none), and ``p_value`` the two-sided
    one-sample t test of ``mean(d) = 0`` with S - 1 degrees of freedom. As in :func:`seed_interval` the
    interval is never narrower than the normal interval from the paired differences' within-seed sampling
    noise alone, and ``p_value`` is correspondingly ``max(p_t, p_z)`` (the interval at level 1 - alpha
    excludes 0 exactly when ``p_value < alpha``). ``p_signflip`` is the exact sign-flip test on the ``d_s``
    (:func:`paired_permutation` over seeds; Monte Carlo with ``seed`` beyond 16 seeds). When nothing
    varies at all (every task of every seed has the same difference), ``p_value`` is the sign-flip p-value.

    This is the question "does a beat b on seeds in general?": a condition effect that varies between
    seeds' worlds widens the spread of the ``d_s`` and hence the interval, where the task-level
    :func:`paired_permutation` would count each world's tasks as independent evidence. With one seed the
    seed-level quantities are NaN (``p_signflip`` 1): nothing can be said beyond that seed's worlds.
    Raises ``ValueError`` on missing seeds, unpaired lengths, empty seeds or non-finite values.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"seed_comparison: level must be in (0, 1), got {level}")
    if set(a_by_seed) != set(b_by_seed):
        raise ValueError(
            f"seed_comparison: a and b must cover the same seeds, got {sorted(map(str, a_by_seed))} "
            f"and {sorted(map(str, b_by_seed))}"
        )
    if not a_by_seed:
        raise ValueError("seed_comparison: no seeds given")
    diffs, per_task, n_tasks = [], [], 0
    for s in a_by_seed:
        xa = np.asarray(a_by_seed[s], dtype=np.float64)
        xb = np.asarray(b_by_seed[s], dtype=np.float64)
        if xa.ndim != 1 or xa.shape != xb.shape:
            raise ValueError(f"seed_comparison: seed {s!r} has {xa.size} outcomes for a but {xb.size} for b")
        if xa.size == 0:
            raise ValueError(f"seed_comparison: seed {s!r} has no paired tasks")
        if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(xb))):
            raise ValueError(f"seed_comparison: seed {s!r} has NaN or infinite outcomes")
        diffs.append(float((xa - xb).mean()))
        per_task.append(xa - xb)
        n_tasks += int(xa.size)
    d = np.array(diffs)
    n = int(d.size)
    min_p = min(1.0, 2.0 / 2.0**n)
    p_sign = paired_permutation(diffs, [0.0] * n, seed=seed).p_value
    if n == 1:
        nan = math.nan
        return SeedComparison(float(d[0]), nan, nan, nan, p_sign, min_p, nan, 1, n_tasks, tuple(diffs))
    floor = _floor_var(per_task, binary=False)
    mean, low, high, sd = _seed_bounds(d, floor, level)
    if bounds is not None:
        low, high = max(bounds[0], low), min(bounds[1], high)
    p = float(_seed_pvalues(d, floor)[()])
    return SeedComparison(mean, low, high, p, p_sign, min_p, sd, n, n_tasks, tuple(diffs))


@dataclass(frozen=True)
class Correlation:
    """Spearman's rho with a bootstrap percentile interval (None where undefined: constant data)."""

    rho: float | None
    low: float | None
    high: float | None
    n_clusters: int
    n_units: int

    def fmt(self) -> str:
        if self.rho is None:
            return "n/a"
        if self.low is None or self.high is None:
            return f"{self.rho:+.2f}"
        return f"{self.rho:+.2f} [{self.low:+.2f}, {self.high:+.2f}]"


def _spearman(x: FloatArray, y: FloatArray) -> float | None:
    """Spearman's rho (Pearson on average ranks, as scipy.stats.spearmanr); None if undefined."""
    if x.size < 3:
        return None
    rx, ry = sps.rankdata(x), sps.rankdata(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = math.sqrt(float(rx @ rx) * float(ry @ ry))
    return float(rx @ ry) / den if den > 0 else None


def spearman_ci(
    x: Sequence[float],
    y: Sequence[float],
    clusters: Sequence[Any] | None = None,
    *,
    n_boot: int = 2_000,
    level: float = 0.95,
    seed: int = 0,
) -> Correlation:
    """Spearman's rank correlation of ``x`` and ``y`` with a percentile bootstrap interval.

    With ``clusters`` (one label per unit, e.g. the job a unit comes from) the bootstrap is two-level
    like ``bootstrap_ci``: clusters with replacement, then units with replacement within each drawn
    cluster, so units of one job are not treated as independent. Resamples on which rho is undefined
    (a constant side) are dropped; the interval is None when fewer than half remain. ``rho`` is None
    for fewer than 3 units or a constant side. Raises ``ValueError`` on mismatched lengths or
    non-finite values.
    """
    xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if xa.shape != ya.shape or xa.ndim != 1:
        raise ValueError(f"spearman_ci: x and y must be 1-d and of one length, got {xa.shape} and {ya.shape}")
    if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(ya))):
        raise ValueError("spearman_ci: x and y must be finite")
    labels = list(clusters) if clusters is not None else list(range(xa.size))
    if len(labels) != xa.size:
        raise ValueError(f"spearman_ci: {len(labels)} cluster labels for {xa.size} units")
    groups: dict[Any, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(label, []).append(i)
    members = [np.array(v) for v in groups.values()]
    rho = _spearman(xa, ya)
    if rho is None:
        return Correlation(None, None, None, len(members), int(xa.size))
    rng = np.random.default_rng(seed)
    order = np.concatenate(members)  # units grouped by cluster
    sizes = np.array([m.size for m in members])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    boot: list[float] = []
    for _ in range(n_boot):
        drawn = rng.integers(0, len(members), size=len(members))  # clusters with replacement ...
        each = np.repeat(drawn, sizes[drawn])  # ... then as many units as each has, from within it
        idx = order[starts[each] + (rng.random(each.size) * sizes[each]).astype(np.int64)]
        r = _spearman(xa[idx], ya[idx])
        if r is not None:
            boot.append(r)
    if len(boot) < n_boot / 2:
        return Correlation(rho, None, None, len(members), int(xa.size))
    alpha = 1.0 - level
    low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    return Correlation(rho, float(low), float(high), len(members), int(xa.size))


# --------------------------------------------------------------------------------------------------
# Paired tests and multiplicity
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairedTest:
    """Result of :func:`paired_permutation`. ``mean_diff`` is mean(a - b); ``effect_size`` is Cohen's d_z."""

    mean_diff: float
    p_value: float
    effect_size: float
    n: int
    method: str  # "exact" | "monte-carlo"


def paired_permutation(
    a: Sequence[float],
    b: Sequence[float],
    *,
    n_perm: int = 10_000,
    seed: int = 0,
    exact_up_to: int = 16,
) -> PairedTest:
    """Two-sided paired permutation (sign-flip) test of mean(a - b) = 0 on per-task differences.

    ``a[i]`` and ``b[i]`` are the outcomes of the same task instance under two conditions. Under the null
    hypothesis each difference ``d_i = a_i - b_i`` is symmetric about 0, so its sign is exchangeable; the
    p-value is the share of sign assignments whose ``|sum(d)|`` is at least the observed one (equivalent to
    using the mean, since n is fixed). Zero differences are unaffected by a flip and are left out of the
    enumeration (the share is unchanged). With at most ``exact_up_to`` non-zero differences all 2^m
    assignments are enumerated (``method="exact"``); otherwise ``n_perm`` random assignments are drawn and
    ``p = (count + 1) / (n_perm + 1)`` (``method="monte-carlo"``), which is a valid p-value that is never 0.
    For 0/1 outcomes the exact test is the exact McNemar (sign) test on the discordant pairs.

    ``effect_size`` is Cohen's d_z = mean(d) / sd(d) (sd with ddof=1): 0 when all differences are 0,
    +-inf when they are equal and non-zero, NaN for a single pair.

    References: Fisher (1935), *The Design of Experiments*, sec. 21; Good (2005), *Permutation, Parametric
    and Bootstrap Tests of Hypotheses*, ch. 3; Phipson & Smyth (2010), "Permutation p-values should never be
    zero", *Stat. Appl. Genet. Mol. Biol.* 9(1); Lakens (2013), "Calculating and reporting effect sizes",
    *Front. Psychol.* 4:863 (d_z).
    """
    da = np.asarray(a, dtype=np.float64)
    db = np.asarray(b, dtype=np.float64)
    if da.ndim != 1 or db.ndim != 1:
        raise ValueError("paired_permutation: a and b must be flat sequences")
    if da.size != db.size:
        raise ValueError(f"paired_permutation: a and b must be paired (same length), got {da.size} and {db.size}")
    if da.size == 0:
        raise ValueError("paired_permutation: no pairs given")
    if n_perm < 1:
        raise ValueError(f"paired_permutation: n_perm must be >= 1, got {n_perm}")
    d = da - db
    if not np.all(np.isfinite(d)):
        raise ValueError("paired_permutation: a and b must not contain NaN or infinite values")
    n = int(d.size)
    mean_diff = float(d.mean())
    effect = _cohens_dz(d)

    nonzero = d[d != 0]
    m = int(nonzero.size)
    if m == 0:
        return PairedTest(mean_diff, 1.0, effect, n, "exact")
    observed = abs(float(nonzero.sum()))
    # Sums of the same numbers in another order/sign pattern may differ by rounding; treat those as ties.
    tol = 1e-9 * float(np.abs(nonzero).sum())
    if m <= exact_up_to:
        total = 1 << m
        count = 0
        bits = np.arange(m, dtype=np.int64)
        rows = max(1, _CHUNK_ELEMENTS // m)
        for start in range(0, total, rows):
            codes = np.arange(start, min(total, start + rows), dtype=np.int64)
            signs = ((codes[:, None] >> bits) & 1) * 2 - 1  # every sign pattern exactly once
            count += int(np.count_nonzero(np.abs(signs @ nonzero) >= observed - tol))
        return PairedTest(mean_diff, count / total, effect, n, "exact")

    rng = np.random.default_rng(seed)
    count = 0
    rows = max(1, _CHUNK_ELEMENTS // m)
    for start in range(0, n_perm, rows):
        size = min(rows, n_perm - start)
        signs = rng.integers(0, 2, size=(size, m)) * 2 - 1
        count += int(np.count_nonzero(np.abs(signs @ nonzero) >= observed - tol))
    return PairedTest(mean_diff, (count + 1) / (n_perm + 1), effect, n, "monte-carlo")


def _cohens_dz(d: FloatArray) -> float:
    mean = float(d.mean())
    if d.size < 2:
        return 0.0 if mean == 0 else math.nan
    sd = float(d.std(ddof=1))
    if sd == 0:
        return 0.0 if mean == 0 else math.copysign(math.inf, mean)
    return mean / sd


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, returned in the input order.

    With the m p-values sorted ascending, the i-th smallest (1-based) is multiplied by ``m - i + 1``; a
    running maximum makes the adjusted values monotone in the raw ones, and they are capped at 1. Rejecting
    the hypotheses whose adjusted p-value is <= alpha controls the family-wise error rate at alpha.

    Reference: Holm (1979), "A simple sequentially rejective multiple test procedure", *Scand. J. Stat.*
    6(2):65-70.
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError("holm: p_values must be a flat sequence")
    if p.size == 0:
        return []
    if np.any(~np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
        raise ValueError(f"holm: p-values must be in [0, 1], got {p.tolist()}")
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return [float(x) for x in adjusted]


@dataclass(frozen=True)
class McNemar:
    """Result of :func:`mcnemar`: discordant counts (b01: a failed, b succeeded; b10: the reverse)."""

    b01: int
    b10: int
    statistic: float
    p_value: float
    method: str  # "exact" | "chi2-cc"


def _as_binary(x: Sequence[bool], name: str) -> npt.NDArray[np.bool_]:
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"mcnemar: {name} must be a flat sequence of booleans")
    if arr.size and not np.all((arr == 0) | (arr == 1)):
        raise ValueError(f"mcnemar: {name} must contain only booleans or 0/1")
    return arr.astype(bool)


def mcnemar(a: Sequence[bool], b: Sequence[bool], *, exact: bool | None = None) -> McNemar:
    """McNemar's test for paired binary outcomes (does condition a succeed as often as b on the same tasks?).

    Only discordant pairs carry information: ``b01`` = #(a fails, b succeeds), ``b10`` = #(a succeeds,
    b fails). ``exact=None`` picks the exact test when ``b01 + b10 < 25``, the chi-square otherwise.

    * exact: two-sided binomial test of ``b10`` successes in ``b01 + b10`` trials with p = 1/2
      (``scipy.stats.binomtest``); ``statistic`` is ``min(b01, b10)``.
    * chi2-cc: ``statistic = max(0, |b01 - b10| - 1)^2 / (b01 + b10)`` (Edwards' continuity correction,
      floored at 0 so equal counts give 0), p from the chi-square distribution with 1 degree of freedom.

    No discordant pairs gives statistic 0 and p = 1. References: McNemar (1947), *Psychometrika* 12:153-157;
    Edwards (1948), *Psychometrika* 13:185-187; Fagerland, Lydersen & Laake (2013), "The McNemar test for
    binary matched-pairs data: mid-p and asymptotic are better than exact conditional", *BMC Med. Res.
    Methodol.* 13:91.
    """
    xa, xb = _as_binary(a, "a"), _as_binary(b, "b")
    if xa.size != xb.size:
        raise ValueError(f"mcnemar: a and b must be paired (same length), got {xa.size} and {xb.size}")
    b01 = int(np.count_nonzero(~xa & xb))
    b10 = int(np.count_nonzero(xa & ~xb))
    n = b01 + b10
    use_exact = n < 25 if exact is None else exact
    if use_exact:
        p = 1.0 if n == 0 else float(sps.binomtest(b10, n, 0.5, alternative="two-sided").pvalue)
        return McNemar(b01, b10, float(min(b01, b10)), min(1.0, p), "exact")
    if n == 0:
        return McNemar(b01, b10, 0.0, 1.0, "chi2-cc")
    stat = max(0, abs(b01 - b10) - 1) ** 2 / n
    return McNemar(b01, b10, float(stat), float(sps.chi2.sf(stat, 1)), "chi2-cc")


# --------------------------------------------------------------------------------------------------
# pass@k and pass^k
# --------------------------------------------------------------------------------------------------


def _check_nck(n: int, c: int, k: int, name: str) -> None:
    for label, v in (("n", n), ("c", c), ("k", k)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            raise TypeError(f"{name}: {label} must be an integer, got {v!r}")
    if not 0 <= c <= n:
        raise ValueError(f"{name}: need 0 <= c <= n (c successes out of n samples), got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"{name}: need 1 <= k <= n (cannot draw k of n samples), got n={n}, k={k}")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c succeeded: ``1 - C(n-c, k) / C(n, k)``.

    The probability that at least one of k samples drawn without replacement from the n succeeds, computed
    as ``1 - prod_{i=n-c+1}^{n} (1 - k / i)`` to avoid huge binomial coefficients.

    Reference: Chen et al. (2021), "Evaluating Large Language Models Trained on Code" (HumanEval), sec. 2.1.
    """
    _check_nck(n, c, k, "pass_at_k")
    if n - c < k:
        return 1.0  # every k-subset contains a success
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1, dtype=np.float64)))


def pass_hat_k(n: int, c: int, k: int) -> float:
    """pass^k from n samples of which c succeeded: ``C(c, k) / C(n, k)``.

    The probability that all k samples drawn without replacement from the n succeed (an unbiased estimate of
    p^k, the chance that k independent trials all succeed), computed as ``prod_{i=0}^{k-1} (c - i) / (n - i)``.

    Reference: Yao et al. (2024), "tau-bench: A Benchmark for Tool-Agent-User Interaction in Real-World
    Domains", arXiv:2406.12045, sec. 3 (pass^k).
    """
    _check_nck(n, c, k, "pass_hat_k")
    if c < k:
        return 0.0
    i = np.arange(k, dtype=np.float64)
    return float(np.prod((c - i) / (n - i)))


def pass_hat_k_curve(outcomes_by_task: Mapping[str, Sequence[bool]], ks: Iterable[int]) -> dict[int, float]:
    """Mean over tasks of :func:`pass_hat_k` for each k in ``ks`` (``{k: pass^k}``, in the order of ``ks``).

    ``outcomes_by_task`` maps a task id to its repeated trial outcomes. Every task needs at least k trials
    for every requested k; a task with fewer raises ``ValueError`` naming it.
    """
    if not outcomes_by_task:
        raise ValueError("pass_hat_k_curve: no tasks given")
    counts = {task: (len(o), int(sum(bool(x) for x in o))) for task, o in outcomes_by_task.items()}
    curve: dict[int, float] = {}
    for k in ks:
        total = 0.0
        for task, (n, c) in counts.items():
            if n < k:
                raise ValueError(f"pass_hat_k_curve: task {task!r} has {n} samples, fewer than k={k}")
            total += pass_hat_k(n, c, k)
        curve[k] = total / len(counts)
    return curve


# --------------------------------------------------------------------------------------------------
# Power analysis
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PowerPlan:
    """Result of :func:`required_size`. ``reached`` is False when even ``max_seeds`` seeds fall short."""

    n_seeds: int
    n_tasks_total: int
    power: float
    reached: bool = True


def _joint_cells(p_a: FloatArray, p_b: FloatArray, rho: float) -> FloatArray:
    """Cell probabilities (11, 10, 01, 00) of a pair of Bernoullis with marginals p_a, p_b and phi = rho.

    P(both) = p_a p_b + rho sqrt(p_a (1-p_a) p_b (1-p_b)), clipped to the Frechet bounds
    [max(0, p_a + p_b - 1), min(p_a, p_b)] where rho is not attainable for these marginals.
    """
    p11 = p_a * p_b + rho * np.sqrt(p_a * (1 - p_a) * p_b * (1 - p_b))
    p11 = np.clip(p11, np.maximum(0.0, p_a + p_b - 1.0), np.minimum(p_a, p_b))
    p10 = np.maximum(p_a - p11, 0.0)
    p01 = np.maximum(p_b - p11, 0.0)
    p00 = np.maximum(1.0 - p11 - p10 - p01, 0.0)
    cells = np.stack([p11, p10, p01, p00], axis=-1)
    return np.asarray(cells / cells.sum(axis=-1, keepdims=True), dtype=np.float64)


def _check_power_args(p_a: float, p_b: float, seed_sd: float, rho: float, alpha: float, diff_sd: float = 0.0) -> None:
    for label, p in (("p_a", p_a), ("p_b", p_b)):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{label} must be a probability in [0, 1], got {p}")
    if not seed_sd >= 0.0:
        raise ValueError(f"seed_sd must be >= 0, got {seed_sd}")
    if not diff_sd >= 0.0:
        raise ValueError(f"diff_sd must be >= 0, got {diff_sd}")
    if not -1.0 <= rho <= 1.0:
        raise ValueError(f"rho must be in [-1, 1], got {rho}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


POWER_TESTS = ("seeds", "tasks")


def power_paired(
    p_a: float,
    p_b: float,
    *,
    n_seeds: int,
    n_tasks: int,
    seed_sd: float = 0.0,
    diff_sd: float = 0.0,
    rho: float = 0.0,
    alpha: float = 0.05,
    test: str = "seeds",
    n_sim: int = 2000,
    seed: int = 0,
) -> float:
    """Simulated power of a paired comparison of success rates p_a and p_b (by default the seed-level test).

    Design: ``n_seeds`` seeds with ``n_tasks`` task instances each; both conditions run every instance.
    Data model, per simulated experiment (probability scale, the scale :func:`pilot_estimates` measures):

    * seed effect: each seed draws one offset ``e ~ Normal(0, seed_sd)`` shared by both conditions (a seed's
      worlds are easier or harder for everyone) and one seed x condition effect ``u ~ Normal(0, diff_sd)``
      (a condition's advantage varies by world), giving rates ``clip(p_a + e + u/2, 0, 1)`` and
      ``clip(p_b + e - u/2, 0, 1)``; ``diff_sd`` is the between-seed sd of the true per-seed difference,
      and by symmetry the mean difference stays p_a - p_b exactly when p_a == p_b;
    * pairs: each task's two outcomes are correlated Bernoullis with those marginals and phi correlation
      ``rho``, drawn from their exact 2x2 joint distribution, P(both succeed) = p_a p_b + rho sqrt(p_a q_a
      p_b q_b) (clipped to the attainable Frechet bounds when rho is too extreme for the marginals); since
      tasks are independent given the seed, the seed's four cell counts are one multinomial draw.

    Tests (``test``):

    * ``"seeds"`` (default): the test the report uses for seeds in general, :func:`seed_comparison`'s t
      test over the per-seed mean differences ``(b10_s - b01_s) / n_tasks`` (S - 1 df, with the same
      tasks-only floor, computed from each seed's cell counts). One seed has no such test: power 0.
    * ``"tasks"``: the exact sign-flip test of :func:`paired_permutation` on the pooled per-task
      differences, which for binary outcomes is exactly the two-sided exact binomial (sign / exact McNemar)
      test of the ``b10`` discordant pairs among ``b01 + b10`` with p = 1/2 (``p = min(1, 2 *
      BinomCDF(min(b01, b10); b01 + b10, 1/2))``, 1 without discordant pairs). It answers "do they differ on
      these worlds?"; with ``diff_sd > 0`` and p_a == p_b its "power" is its false-positive rate for the
      general question, well above alpha.

    Returns the share of the ``n_sim`` simulated experiments with p <= alpha. Deterministic given ``seed``.
    References: McNemar (1947); for the correlated-Bernoulli construction see e.g. Emrich & Piedmonte (1991),
    "A method for generating high-dimensional multivariate binary variates", *Am. Stat.* 45(4):302-304.
    """
    _check_power_args(p_a, p_b, seed_sd, rho, alpha, diff_sd)
    if test not in POWER_TESTS:
        raise ValueError(f"test must be one of {POWER_TESTS}, got {test!r}")
    if n_seeds < 1 or n_tasks < 1:
        raise ValueError(f"need n_seeds >= 1 and n_tasks >= 1, got n_seeds={n_seeds}, n_tasks={n_tasks}")
    if n_sim < 1:
        raise ValueError(f"n_sim must be >= 1, got {n_sim}")
    if test == "seeds" and n_seeds < 2:
        return 0.0
    rng = np.random.default_rng(seed)
    if seed_sd > 0 or diff_sd > 0 or test == "seeds":
        offsets = rng.normal(0.0, seed_sd, size=(n_sim, n_seeds)) if seed_sd > 0 else np.zeros((n_sim, n_seeds))
        inter = rng.normal(0.0, diff_sd, size=(n_sim, n_seeds)) / 2 if diff_sd > 0 else 0.0
        cells = _joint_cells(np.clip(p_a + offsets + inter, 0, 1), np.clip(p_b + offsets - inter, 0, 1), rho)
        per_seed = rng.multinomial(n_tasks, cells)  # (n_sim, n_seeds, 4)
        if test == "seeds":
            b10_s, b01_s = per_seed[..., 1], per_seed[..., 2]
            d = (b10_s - b01_s) / n_tasks
            # Per seed, the sample variance (ddof 1) of its n paired differences in {-1, 0, 1}.
            within = (b10_s + b01_s - n_tasks * d**2) / (n_tasks - 1) if n_tasks > 1 else np.zeros_like(d)
            floor = within.sum(axis=-1) / n_tasks / n_seeds**2
            return float(np.mean(_seed_pvalues(d, floor) <= alpha))
        counts = per_seed.sum(axis=1)  # (n_sim, 4): pooled over seeds
    else:
        # Without seed effects all seeds share one distribution: a single multinomial over all tasks.
        cells = _joint_cells(np.array([p_a]), np.array([p_b]), rho)[0]
        counts = rng.multinomial(n_seeds * n_tasks, cells, size=n_sim)
    b10, b01 = counts[:, 1], counts[:, 2]
    discordant = b10 + b01
    p = np.where(discordant > 0, np.minimum(1.0, 2.0 * sps.binom.cdf(np.minimum(b10, b01), discordant, 0.5)), 1.0)
    return float(np.mean(p <= alpha))


def required_size(
    p_a: float,
    p_b: float,
    *,
    target: float = 0.8,
    seed_sd: float = 0.0,
    diff_sd: float = 0.0,
    rho: float = 0.0,
    alpha: float = 0.05,
    test: str = "seeds",
    tasks_per_seed: int,
    max_seeds: int = 200,
    seed: int = 0,
    n_sim: int = 2000,
) -> PowerPlan:
    """Smallest number of seeds (each with ``tasks_per_seed`` paired tasks) whose :func:`power_paired` >= target.

    Power grows with the number of seeds, so the search is a bisection over 1..``max_seeds`` (2.. for the
    seed-level test, which needs two seeds); every evaluation uses the same ``seed`` (common random
    numbers), which keeps the simulated power curve close to monotone. If ``max_seeds`` is not enough the
    plan for ``max_seeds`` is returned with ``reached=False``. With ``diff_sd > 0`` more tasks per seed
    cannot make up for too few seeds: each seed contributes one draw of its own effect, so the spread of
    the per-seed differences never falls below ``diff_sd``.
    """
    if not 0.0 < target < 1.0:
        raise ValueError(f"target power must be in (0, 1), got {target}")
    if tasks_per_seed < 1 or max_seeds < 1:
        raise ValueError(f"need tasks_per_seed >= 1 and max_seeds >= 1, got {tasks_per_seed}, {max_seeds}")
    _check_power_args(p_a, p_b, seed_sd, rho, alpha, diff_sd)
    cache: dict[int, float] = {}

    def power(n: int) -> float:
        if n not in cache:
            cache[n] = power_paired(
                p_a,
                p_b,
                n_seeds=n,
                n_tasks=tasks_per_seed,
                seed_sd=seed_sd,
                diff_sd=diff_sd,
                rho=rho,
                alpha=alpha,
                test=test,
                n_sim=n_sim,
                seed=seed,
            )
        return cache[n]

    if power(max_seeds) < target:
        return PowerPlan(max_seeds, max_seeds * tasks_per_seed, power(max_seeds), reached=False)
    lo, hi = (2 if test == "seeds" else 1), max_seeds  # invariant: power(hi) >= target
    lo = min(lo, hi)
    while lo < hi:
        mid = (lo + hi) // 2
        if power(mid) >= target:
            hi = mid
        else:
            lo = mid + 1
    return PowerPlan(hi, hi * tasks_per_seed, power(hi))


def pilot_estimates(
    a_by_seed: Mapping[int, Sequence[bool]],
    b_by_seed: Mapping[int, Sequence[bool]],
) -> dict[str, float]:
    """Estimate the inputs of :func:`power_paired` from a pilot run of conditions a and b.

    ``a_by_seed[s][i]`` and ``b_by_seed[s][i]`` are the outcomes of the same task instance (paired by the
    caller, e.g. by task id). Returns:

    * ``p_a``, ``p_b``: pooled success rates; ``diff`` = p_a - p_b;
    * ``seed_sd_observed``: sd of the per-seed success rates around their condition's mean, pooled over
      both conditions (ddof = 1 per condition); 0 with a single seed;
    * ``seed_sd``: the between-seed sd on the probability scale, i.e. the observed variance minus the
      binomial sampling variance of a per-seed rate (mean of r (1 - r) / n_s), floored at 0 (method of
      moments), because the simulation adds that sampling noise itself;
    * ``diff_sd``: the between-seed sd of the true per-seed difference a - b (the seed x condition
      effect of :func:`power_paired`): the variance of the per-seed mean differences minus their mean
      sampling variance (per seed, the variance of the paired differences, ddof = 1, over its n tasks),
      floored at 0; ``diff_sd_observed``: the sd of the per-seed mean differences itself. Both 0 with a
      single seed;
    * ``rho``: phi coefficient of the paired outcomes pooled over seeds (0 if either condition has a
      constant outcome, where phi is undefined);
    * ``n_seeds``, ``n_tasks`` (total pairs), ``b01``, ``b10`` (discordant counts as in :func:`mcnemar`).
    """
    if set(a_by_seed) != set(b_by_seed):
        raise ValueError(
            f"pilot_estimates: a and b must cover the same seeds, got {sorted(a_by_seed)} and {sorted(b_by_seed)}"
        )
    if not a_by_seed:
        raise ValueError("pilot_estimates: no seeds given")
    rates: list[tuple[float, float, int]] = []
    diffs: list[tuple[float, float]] = []  # per seed: mean paired difference, its sampling variance
    xs: list[npt.NDArray[np.bool_]] = []
    ys: list[npt.NDArray[np.bool_]] = []
    for s in a_by_seed:
        xa, xb = _as_binary(a_by_seed[s], f"a[{s!r}]"), _as_binary(b_by_seed[s], f"b[{s!r}]")
        if xa.size != xb.size:
            raise ValueError(f"pilot_estimates: seed {s!r} has {xa.size} outcomes for a but {xb.size} for b")
        if xa.size == 0:
            raise ValueError(f"pilot_estimates: seed {s!r} has no paired tasks")
        rates.append((float(xa.mean()), float(xb.mean()), int(xa.size)))
        d = xa.astype(np.float64) - xb.astype(np.float64)
        diffs.append((float(d.mean()), float(d.var(ddof=1)) / d.size if d.size > 1 else 0.0))
        xs.append(xa)
        ys.append(xb)
    x, y = np.concatenate(xs), np.concatenate(ys)
    p_a, p_b = float(x.mean()), float(y.mean())

    n_seeds = len(rates)
    seed_sd_observed = seed_sd = diff_sd_observed = diff_sd = 0.0
    if n_seeds > 1:
        dm = np.array([m for m, _ in diffs])
        diff_var = float(dm.var(ddof=1))
        diff_sd_observed = math.sqrt(diff_var)
        diff_sd = math.sqrt(max(0.0, diff_var - float(np.mean([v for _, v in diffs]))))
        ra = np.array([r[0] for r in rates])
        rb = np.array([r[1] for r in rates])
        ns = np.array([r[2] for r in rates], dtype=np.float64)
        observed_var = (np.sum((ra - ra.mean()) ** 2) + np.sum((rb - rb.mean()) ** 2)) / (2 * (n_seeds - 1))
        # Expected sampling variance of a per-seed rate, r(1-r)/(n-1) being unbiased for p(1-p)/n.
        df = np.maximum(ns - 1, 1)
        sampling_var = float(np.mean(np.concatenate([ra * (1 - ra) / df, rb * (1 - rb) / df])))
        seed_sd_observed = math.sqrt(observed_var)
        seed_sd = math.sqrt(max(0.0, observed_var - sampling_var))

    n11 = int(np.count_nonzero(x & y))
    b10 = int(np.count_nonzero(x & ~y))
    b01 = int(np.count_nonzero(~x & y))
    n00 = int(x.size) - n11 - b10 - b01
    denom = (n11 + b10) * (b01 + n00) * (n11 + b01) * (b10 + n00)
    rho = (n11 * n00 - b10 * b01) / math.sqrt(denom) if denom > 0 else 0.0
    return {
        "p_a": p_a,
        "p_b": p_b,
        "diff": p_a - p_b,
        "seed_sd": seed_sd,
        "seed_sd_observed": seed_sd_observed,
        "diff_sd": diff_sd,
        "diff_sd_observed": diff_sd_observed,
        "rho": rho,
        "n_seeds": n_seeds,
        "n_tasks": int(x.size),
        "b01": b01,
        "b10": b10,
    }
