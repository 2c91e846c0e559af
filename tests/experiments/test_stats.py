"""Tests for experiments.stats (intervals, paired tests, pass@k, power) and the experiments.power command."""

from __future__ import annotations

import itertools
import json
import re
from math import comb
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from experiments import power as power_cli
from experiments.stats import (
    Interval,
    bootstrap_ci,
    holm,
    mcnemar,
    paired_permutation,
    pass_at_k,
    pass_hat_k,
    pass_hat_k_curve,
    pilot_estimates,
    power_paired,
    required_size,
    seed_comparison,
    seed_interval,
    seed_scope,
    seeds_for_signflip,
    spearman_ci,
)

# ---------------------------------------------------------------------------------------------- bootstrap


def test_interval_fmt() -> None:
    iv = Interval(mean=0.3456, low=0.2812, high=0.4104, n_seeds=5, n_tasks=300)
    assert iv.fmt() == "34.6% [28.1, 41.0]"
    assert iv.fmt(pct=False) == "0.346 [0.281, 0.410]"


def test_bootstrap_coverage_with_seed_effects() -> None:
    # Seed success rates ~ Beta(6, 14): mean exactly 0.3, sd 0.1 between seeds; 5 seeds x 40 tasks.
    rng = np.random.default_rng(2024)
    covered = 0
    reps = 200
    for r in range(reps):
        rates = rng.beta(6, 14, size=5)
        groups = [rng.random(40) < p for p in rates]
        iv = bootstrap_ci(groups, n_boot=1000, seed=r)
        covered += iv.low <= 0.3 <= iv.high
    assert 0.88 <= covered / reps <= 0.99


def test_bootstrap_single_group_matches_scipy_percentile() -> None:
    x = np.random.default_rng(7).normal(1.0, 2.0, size=100)
    ours = bootstrap_ci([x.tolist()], n_boot=10_000, seed=1)
    ref = sps.bootstrap((x,), np.mean, n_resamples=10_000, method="percentile", confidence_level=0.95, rng=2)
    assert ours.mean == pytest.approx(x.mean())
    # The mean's standard error is 0.2 here; Monte Carlo error of a 2.5% quantile at 10k resamples is ~0.006.
    assert ours.low == pytest.approx(ref.confidence_interval.low, abs=0.02)
    assert ours.high == pytest.approx(ref.confidence_interval.high, abs=0.02)
    assert (ours.n_seeds, ours.n_tasks) == (1, 100)


def test_two_level_wider_than_tasks_only_when_seeds_differ() -> None:
    rng = np.random.default_rng(3)
    groups = [(rng.random(60) < p).tolist() for p in (0.1, 0.3, 0.5, 0.7, 0.9)]
    two_level = bootstrap_ci(groups, seed=0)
    tasks_only = bootstrap_ci([[x for g in groups for x in g]], seed=0)
    assert two_level.mean == pytest.approx(tasks_only.mean)
    assert (two_level.high - two_level.low) > 2 * (tasks_only.high - tasks_only.low)


def test_bootstrap_ragged_groups_resample_whole_seeds() -> None:
    # Constant seeds: a resample is 1 (seed A twice), 0 (B twice) or 0.25 (both, pooled), w.p. 1/4, 1/4, 1/2.
    groups = {"A": [1.0] * 10, "B": [0.0] * 30}
    assert bootstrap_ci(groups, level=0.4, seed=0).low == pytest.approx(0.25)
    assert bootstrap_ci(groups, level=0.4, seed=0).high == pytest.approx(0.25)
    wide = bootstrap_ci(groups, level=0.9, seed=0)
    assert (wide.mean, wide.low, wide.high, wide.n_seeds, wide.n_tasks) == (0.25, 0.0, 1.0, 2, 40)


def test_bootstrap_errors() -> None:
    with pytest.raises(ValueError, match="no groups"):
        bootstrap_ci([])
    with pytest.raises(ValueError, match="no groups"):
        bootstrap_ci({})
    with pytest.raises(ValueError, match="'s1' is empty"):
        bootstrap_ci({"s0": [1.0], "s1": []})
    with pytest.raises(ValueError, match="level"):
        bootstrap_ci([[0.0, 1.0]], level=95)
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_ci([[0.0, float("nan")]])


def test_bootstrap_deterministic_and_degenerate() -> None:
    rng = np.random.default_rng(0)
    groups = [rng.random(30).tolist() for _ in range(4)]  # continuous scores: quantiles do not snap to a grid
    assert bootstrap_ci(groups, seed=5) == bootstrap_ci(groups, seed=5)
    assert bootstrap_ci(groups, seed=5) != bootstrap_ci(groups, seed=6)
    same = bootstrap_ci([[0.1] * 7, [0.1] * 3])
    assert same.low == same.mean == same.high == pytest.approx(0.1)


# ---------------------------------------------------------------------------------------------- seeds as random
# (calibration by simulation: tests/experiments/test_stats_calibration.py)


def test_seed_interval_is_the_t_interval_over_seed_means() -> None:
    groups = {7: [1, 0, 0, 1], 8: [1, 1, 1, 0, 0, 0], 9: [0, 0], 10: [1, 1, 0]}
    means = np.array([0.5, 0.5, 0.0, 2 / 3])
    iv = seed_interval(groups, bounds=None)
    low, high = sps.t.interval(0.95, 3, loc=means.mean(), scale=sps.sem(means))
    assert (iv.mean, iv.n_seeds, iv.n_tasks, iv.method) == (pytest.approx(means.mean()), 4, 15, "seeds")
    assert iv.mean != pytest.approx(7 / 15)  # each seed weighs the same, not each task
    assert (iv.low, iv.high) == (pytest.approx(low), pytest.approx(high))
    clipped = seed_interval(groups)
    assert low < 0 and clipped.low == 0.0 and clipped.high == pytest.approx(high)
    assert seed_interval(groups, level=0.5).high < high
    # One seed: no spread over seeds to estimate; the tasks-only bootstrap, labelled as such.
    one = seed_interval({3: [1, 0, 1, 1, 0]}, n_boot=500, seed=2)
    assert one == bootstrap_ci([[1, 0, 1, 1, 0]], n_boot=500, seed=2) and one.method == "tasks"
    with pytest.raises(ValueError, match="seed_interval: no groups"):
        seed_interval({})
    with pytest.raises(ValueError, match="level"):
        seed_interval(groups, level=1.0)


def test_seed_comparison_is_the_t_test_over_seed_differences() -> None:
    a = {1: [1, 1, 0, 1], 2: [1, 0, 0], 3: [1, 1, 1, 1, 0], 4: [0, 1]}
    b = {1: [0, 1, 0, 0], 2: [0, 0, 1], 3: [1, 0, 0, 1, 0], 4: [0, 0]}
    d = np.array([0.5, 0.0, 0.4, 0.5])
    res = seed_comparison(a, b, bounds=None)
    assert res.seed_diffs == pytest.approx(tuple(d)) and res.mean_diff == pytest.approx(d.mean())
    # The t test over seeds, unless the tasks' own noise (seeds as fixed) says the mean is less precise.
    floor = sum(np.var(np.subtract(a[s], b[s]), ddof=1) / len(a[s]) for s in a) / 16
    p_t, p_z = sps.ttest_1samp(d, 0.0).pvalue, 2 * sps.norm.sf(d.mean() / np.sqrt(floor))
    assert p_z > p_t and res.p_value == pytest.approx(p_z)
    half = max(sps.t.ppf(0.975, 3) * sps.sem(d), 1.959964 * np.sqrt(floor))
    assert (res.low, res.high) == (pytest.approx(d.mean() - half), pytest.approx(d.mean() + half))
    spread = seed_comparison({0: [1, 0, 0, 0], 1: [1, 1, 1, 1], 2: [0, 0, 0, 0]}, {s: [0] * 4 for s in range(3)})
    assert spread.p_value == pytest.approx(sps.ttest_1samp([0.25, 1.0, 0.0], 0.0).pvalue)  # t over seeds binds
    low, high = sps.t.interval(0.95, 2, loc=1.25 / 3, scale=sps.sem([0.25, 1.0, 0.0]))
    assert high > 1 and (spread.low, spread.high) == (pytest.approx(low), 1.0)  # clipped to the range of a - b
    assert res.sd_seeds == pytest.approx(d.std(ddof=1)) and (res.n_seeds, res.n_tasks) == (4, 14)
    # Exact sign-flip over the 3 non-zero seed differences: only all-positive and all-negative reach |sum| 1.4.
    assert res.p_signflip == pytest.approx(2 / 8) and res.min_p_signflip == pytest.approx(2 / 16)
    assert res.too_few_seeds() and res.scope() == seed_scope(4)
    # Seeds that agree exactly: the t interval would have width 0; the tasks' noise sets it instead.
    same = seed_comparison({0: [1, 0], 1: [1, 0], 2: [0, 1]}, {0: [0, 0], 1: [0, 0], 2: [0, 0]}, bounds=None)
    assert same.sd_seeds == 0 and same.high - same.low == pytest.approx(2 * 1.959964 * np.sqrt(0.5 / 2 / 3))
    assert same.p_value == pytest.approx(2 * sps.norm.sf(0.5 / np.sqrt(0.5 / 2 / 3))) and same.p_signflip == 0.25
    # Nothing varies at all: the sign-flip p-value, not 0.
    assert seed_comparison({0: [1, 1], 1: [1, 1]}, {0: [0, 0], 1: [0, 0]}).p_value == 0.5
    assert seed_comparison({0: [1], 1: [0]}, {0: [1], 1: [0]}).p_value == 1.0
    # One seed: nothing over seeds.
    one = seed_comparison({5: [1, 1, 0]}, {5: [0, 0, 0]})
    assert np.isnan(one.p_value) and np.isnan(one.low) and one.p_signflip == 1.0 and one.n_seeds == 1
    assert one.mean_diff == pytest.approx(2 / 3) and one.scope().startswith("these worlds only")
    with pytest.raises(ValueError, match="same seeds"):
        seed_comparison(a, {1: b[1]})
    with pytest.raises(ValueError, match="seed 2"):
        seed_comparison(a, {**b, 2: [0, 0]})
    with pytest.raises(ValueError, match="no seeds"):
        seed_comparison({}, {})


def test_seeds_needed_for_a_sign_flip_and_the_scope_text() -> None:
    for alpha in (0.25, 0.1, 0.05, 0.01, 0.001):
        need = seeds_for_signflip(alpha)
        assert 2 / 2**need <= alpha < 2 / 2 ** (need - 1)
    assert seeds_for_signflip(0.05) == 6
    assert seed_scope(1).startswith("these worlds only")
    assert (
        seed_scope(3)
        == "seeds, if per-seed differences are normal (3 < 6 seeds: too few to check; sign-flip p >= 0.25)"
    )
    assert "0.0625" in seed_scope(5) and seed_scope(6) == seed_scope(20) == "seeds in general"
    assert seed_scope(5, alpha=0.1) == "seeds in general"


# ---------------------------------------------------------------------------------------------- paired tests


def test_paired_permutation_exact_small_case() -> None:
    res = paired_permutation([1, 1, 1, 1, 1], [0, 0, 0, 0, 0])
    assert res.method == "exact"
    assert res.p_value == pytest.approx(2 / 32)
    assert res.mean_diff == 1.0 and res.n == 5
    # Zero differences do not change the p-value: 5 non-zero diffs + 3 ties.
    assert paired_permutation([1, 1, 1, 1, 1, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1, 0]).p_value == pytest.approx(2 / 32)


def test_paired_permutation_matches_scipy() -> None:
    rng = np.random.default_rng(11)
    a = rng.normal(0.4, 1.0, size=12)
    b = rng.normal(0.0, 1.0, size=12)
    ours = paired_permutation(a.tolist(), b.tolist())
    ref = sps.permutation_test(
        (a, b),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=np.inf,
        alternative="two-sided",
    )
    assert ours.method == "exact"
    assert ours.p_value == pytest.approx(ref.pvalue, abs=1e-12)


def test_paired_permutation_binary_equals_exact_mcnemar() -> None:
    a = [True] * 9 + [False] * 3 + [True] * 5
    b = [False] * 9 + [True] * 3 + [True] * 5
    assert paired_permutation(a, b).p_value == pytest.approx(sps.binomtest(9, 12, 0.5).pvalue)


def test_paired_permutation_monte_carlo_close_to_exact() -> None:
    rng = np.random.default_rng(5)
    a = rng.normal(0.5, 1.0, size=18).tolist()
    b = rng.normal(0.0, 1.0, size=18).tolist()
    exact = paired_permutation(a, b, exact_up_to=18)
    mc = paired_permutation(a, b, exact_up_to=0, n_perm=20_000, seed=1)
    assert (exact.method, mc.method) == ("exact", "monte-carlo")
    assert 0.01 < exact.p_value < 0.5
    assert mc.p_value == pytest.approx(exact.p_value, abs=0.01)
    # (count + 1) / (n_perm + 1): never 0, even when no random sign pattern reaches the observed sum.
    assert paired_permutation([1.0] * 40, [0.0] * 40, exact_up_to=0, n_perm=999).p_value == pytest.approx(1 / 1000)


def test_paired_permutation_effect_size_and_edge_cases() -> None:
    res = paired_permutation([3.0, 5.0, 7.0], [2.0, 3.0, 4.0])  # diffs 1, 2, 3: mean 2, sd 1
    assert res.effect_size == pytest.approx(2.0)
    assert res.mean_diff == pytest.approx(2.0)
    zero = paired_permutation([1, 0, 1], [1, 0, 1])
    assert (zero.p_value, zero.effect_size, zero.mean_diff) == (1.0, 0.0, 0.0)
    assert paired_permutation([1, 1], [0, 0]).effect_size == float("inf")
    assert paired_permutation([0, 0], [1, 1]).effect_size == float("-inf")
    with pytest.raises(ValueError, match="same length"):
        paired_permutation([1, 0], [1])
    with pytest.raises(ValueError, match="no pairs"):
        paired_permutation([], [])


def test_holm_textbook_example() -> None:
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_monotone_capped_and_validated() -> None:
    p = np.random.default_rng(1).random(20).tolist()
    adj = holm(p)
    order = np.argsort(p)
    assert np.all(np.diff(np.asarray(adj)[order]) >= 0)
    assert all(a >= r for a, r in zip(adj, p))
    assert holm([0.5, 0.6, 0.01]) == pytest.approx([1.0, 1.0, 0.03])
    assert holm([]) == []
    with pytest.raises(ValueError):
        holm([0.5, 1.2])


def test_mcnemar_exact_matches_binomtest() -> None:
    a = [True] * 7 + [False] * 2 + [True] * 10 + [False] * 5
    b = [False] * 7 + [True] * 2 + [True] * 10 + [False] * 5
    res = mcnemar(a, b)
    assert (res.b01, res.b10, res.method) == (2, 7, "exact")
    assert res.p_value == pytest.approx(sps.binomtest(7, 9, 0.5).pvalue)
    assert mcnemar([True], [True]).p_value == 1.0


def test_mcnemar_chi2_with_continuity_correction() -> None:
    # b01 = 10, b10 = 25: statistic (|10 - 25| - 1)^2 / 35 = 196 / 35 = 5.6.
    a = [False] * 10 + [True] * 25 + [True] * 40
    b = [True] * 10 + [False] * 25 + [True] * 40
    res = mcnemar(a, b)
    assert (res.b01, res.b10, res.method) == (10, 25, "chi2-cc")
    assert res.statistic == pytest.approx(5.6)
    assert res.p_value == pytest.approx(sps.chi2.sf(5.6, 1))
    assert mcnemar(a, b, exact=True).p_value == pytest.approx(sps.binomtest(25, 35, 0.5).pvalue)
    assert mcnemar(a[:12], b[:12], exact=False).method == "chi2-cc"
    with pytest.raises(ValueError, match="same length"):
        mcnemar([True], [True, False])
    with pytest.raises(ValueError, match="booleans"):
        mcnemar([0.5], [1])  # type: ignore[list-item]


# ---------------------------------------------------------------------------------------------- pass@k / pass^k


def test_pass_at_k_and_pass_hat_k_known_values() -> None:
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_hat_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_hat_k(10, 3, 2) == pytest.approx(3 / 45)
    assert pass_at_k(10, 3, 2) == pytest.approx(1 - 21 / 45)
    assert pass_at_k(5, 5, 3) == 1.0 and pass_hat_k(5, 5, 3) == 1.0
    assert pass_at_k(5, 0, 3) == 0.0 and pass_hat_k(5, 0, 3) == 0.0
    assert pass_at_k(10, 8, 3) == 1.0  # fewer than k failures: every draw of 3 has a success
    assert pass_at_k(2000, 1, 1000) == pytest.approx(0.5)  # stable for large n


@pytest.mark.parametrize("n", [1, 4, 7])
def test_pass_k_against_subset_enumeration(n: int) -> None:
    for c in range(n + 1):
        outcomes = [True] * c + [False] * (n - c)
        for k in range(1, n + 1):
            subsets = list(itertools.combinations(outcomes, k))
            assert pass_at_k(n, c, k) == pytest.approx(sum(any(s) for s in subsets) / len(subsets))
            assert pass_hat_k(n, c, k) == pytest.approx(sum(all(s) for s in subsets) / len(subsets))
            assert len(subsets) == comb(n, k)


def test_pass_k_validation_and_curve() -> None:
    with pytest.raises(ValueError, match="0 <= c <= n"):
        pass_at_k(5, 6, 1)
    with pytest.raises(ValueError, match="1 <= k <= n"):
        pass_hat_k(5, 2, 0)
    with pytest.raises(ValueError, match="1 <= k <= n"):
        pass_hat_k(5, 2, 6)
    curve = pass_hat_k_curve({"t1": [True, True, False, True], "t2": [False, True, False, False]}, [1, 2])
    assert curve == pytest.approx({1: (0.75 + 0.25) / 2, 2: (3 / 6 + 0) / 2})
    with pytest.raises(ValueError, match="'short'"):
        pass_hat_k_curve({"long": [True] * 5, "short": [True, False]}, [1, 3])


# ---------------------------------------------------------------------------------------------- power


def test_power_under_null_is_at_most_alpha() -> None:
    for test in ("seeds", "tasks"):
        assert power_paired(0.4, 0.4, n_seeds=5, n_tasks=60, n_sim=4000, test=test) <= 0.08
        assert power_paired(0.4, 0.4, n_seeds=5, n_tasks=60, seed_sd=0.15, rho=0.5, n_sim=4000, test=test) <= 0.08


@pytest.mark.parametrize("n_seeds", [3, 10])
def test_power_seed_level_keeps_alpha_when_the_effect_varies_by_seed(n_seeds: int) -> None:
    # A null whose difference varies by seed (diff_sd 0.15): the seed-level test keeps its level, the
    # task-level test does not. 4000 simulations: binomial SE of a 5% rate 0.34 points; bars at 3 SE. (The
    # seed-level test is a little conservative here, 3.9% with 3 seeds: its tasks-only floor binds when
    # the seeds' spread is close to their tasks' noise.)
    se = np.sqrt(0.05 * 0.95 / 4000)
    kw = {"n_seeds": n_seeds, "n_tasks": 41, "seed_sd": 0.1, "diff_sd": 0.15, "n_sim": 4000, "seed": 19}
    assert 0.02 <= power_paired(0.4, 0.4, **kw) <= 0.05 + 3 * se  # type: ignore[arg-type]
    assert power_paired(0.4, 0.4, test="tasks", **kw) > 0.05 + 3 * se  # type: ignore[arg-type]


def test_power_seed_level_matches_the_noncentral_t() -> None:
    # Many tasks per seed: per-seed differences are close to Normal(0.1, diff_sd^2 + within / n), so the
    # power of the t test is the noncentral t's. 4000 simulations: SE <= 0.8 points; tolerance 3 SE.
    p_a, p_b, n_seeds, n_tasks, diff_sd = 0.5, 0.4, 5, 400, 0.1
    within = p_a * (1 - p_b) + p_b * (1 - p_a) - (p_a - p_b) ** 2  # variance of one paired difference, rho = 0
    sd = np.sqrt(diff_sd**2 + within / n_tasks)
    crit = sps.t.ppf(0.975, n_seeds - 1)
    nc = (p_a - p_b) / (sd / np.sqrt(n_seeds))
    analytic = float(sps.nct.sf(crit, n_seeds - 1, nc) + sps.nct.cdf(-crit, n_seeds - 1, nc))
    sim = power_paired(p_a, p_b, n_seeds=n_seeds, n_tasks=n_tasks, diff_sd=diff_sd, n_sim=4000, seed=19)
    assert 0.2 < analytic < 0.8
    assert sim == pytest.approx(analytic, abs=0.025)
    # More tasks cannot replace seeds when the effect varies by seed; more seeds can.
    more_tasks = power_paired(p_a, p_b, n_seeds=n_seeds, n_tasks=4 * n_tasks, diff_sd=diff_sd, n_sim=4000, seed=19)
    more_seeds = power_paired(p_a, p_b, n_seeds=4 * n_seeds, n_tasks=n_tasks, diff_sd=diff_sd, n_sim=4000, seed=19)
    assert more_tasks < sim + 0.05 < more_seeds
    assert power_paired(p_a, p_b, n_seeds=1, n_tasks=n_tasks) == 0.0  # no seed-level test with one seed
    with pytest.raises(ValueError, match="test must be"):
        power_paired(p_a, p_b, n_seeds=3, n_tasks=10, test="bogus")
    with pytest.raises(ValueError, match="diff_sd"):
        power_paired(p_a, p_b, n_seeds=3, n_tasks=10, diff_sd=-1.0)


def test_power_increases_with_seeds_and_correlation() -> None:
    powers = [power_paired(0.5, 0.4, n_seeds=n, n_tasks=30, seed_sd=0.05, test="tasks") for n in (2, 6, 15)]
    assert powers[0] < powers[1] < powers[2]
    seeds = [power_paired(0.5, 0.4, n_seeds=n, n_tasks=30, seed_sd=0.05) for n in (2, 6, 15)]
    assert seeds[0] < seeds[1] < seeds[2] and all(s < t for s, t in zip(seeds, powers))
    # Positive within-task correlation leaves fewer discordant pairs: the paired test gains power.
    assert power_paired(0.5, 0.4, n_seeds=6, n_tasks=30, rho=0.6, test="tasks") > powers[1] + 0.1
    assert power_paired(0.5, 0.4, n_seeds=6, n_tasks=30, rho=0.6) > seeds[1] + 0.1
    for test in ("seeds", "tasks"):  # identical outcomes: never discordant
        assert power_paired(0.5, 0.5, n_seeds=6, n_tasks=30, rho=1.0, test=test) == 0.0
    # Huge seed effects push both conditions' rates of most seeds to 0 or 1 together: few discordant pairs.
    assert power_paired(0.6, 0.3, n_seeds=3, n_tasks=30, test="tasks") > 0.95
    assert power_paired(0.6, 0.3, n_seeds=3, n_tasks=30, seed_sd=10.0, test="tasks") < 0.3
    again = [power_paired(0.5, 0.4, n_seeds=6, n_tasks=30, seed_sd=0.1, diff_sd=0.05, seed=3) for _ in range(2)]
    assert again[0] == again[1]


def _connor(p_a: float, p_b: float, n: int, alpha: float = 0.05) -> float:
    """Normal approximation to McNemar's power for independent pairs (Connor 1987, Biometrics 43:207-211)."""
    p10, p01 = p_a * (1 - p_b), p_b * (1 - p_a)
    psi, delta = p10 + p01, p10 - p01
    z = sps.norm.ppf(1 - alpha / 2)
    return float(sps.norm.cdf((np.sqrt(n) * abs(delta) - z * np.sqrt(psi)) / np.sqrt(psi - delta**2)))


def _exact_power(p_a: float, p_b: float, n: int, alpha: float = 0.05) -> float:
    """Exact power of the exact sign test on n independent pairs, by enumerating (b10, b01)."""
    p10, p01 = p_a * (1 - p_b), p_b * (1 - p_a)
    b10, b01 = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    ok = b10 + b01 <= n
    counts = np.stack([b10[ok], b01[ok], n - b10[ok] - b01[ok]], axis=-1)
    prob = sps.multinomial.pmf(counts, n, [p10, p01, 1 - p10 - p01])
    m = b10[ok] + b01[ok]
    p = np.where(m > 0, np.minimum(1, 2 * sps.binom.cdf(np.minimum(b10[ok], b01[ok]), m, 0.5)), 1.0)
    return float(prob[p <= alpha].sum())


@pytest.mark.parametrize(("p_a", "p_b", "n_seeds", "n_tasks"), [(0.5, 0.35, 4, 34), (0.3, 0.2, 5, 60)])
def test_power_matches_analytic_for_independent_pairs(p_a: float, p_b: float, n_seeds: int, n_tasks: int) -> None:
    sim = power_paired(p_a, p_b, n_seeds=n_seeds, n_tasks=n_tasks, n_sim=4000, seed=1, test="tasks")
    n = n_seeds * n_tasks
    assert 0.5 < sim < 0.9
    assert sim == pytest.approx(_exact_power(p_a, p_b, n), abs=0.025)  # ~3 Monte Carlo standard errors
    # The exact test is a little conservative next to the (uncorrected) normal approximation.
    assert _connor(p_a, p_b, n) - 0.06 < sim < _connor(p_a, p_b, n) + 0.02


def test_required_size() -> None:
    big = required_size(0.8, 0.2, tasks_per_seed=30, test="tasks")
    assert big.reached and big.n_seeds == 1 and big.n_tasks_total == 30 and big.power >= 0.8
    # The seed-level test needs two seeds at least, and with 2 the t quantile (12.7) is prohibitive.
    big_seeds = required_size(0.8, 0.2, tasks_per_seed=30)
    assert big_seeds.reached and big_seeds.n_seeds == 3 and big_seeds.power >= 0.8
    mid = required_size(0.5, 0.4, tasks_per_seed=30, seed_sd=0.05, rho=0.2)
    assert mid.reached and mid.power >= 0.8 and 3 < mid.n_seeds < 50
    # One seed fewer falls short (the search returns the smallest size, up to simulation noise).
    fewer = power_paired(0.5, 0.4, n_seeds=mid.n_seeds - 1, n_tasks=30, seed_sd=0.05, rho=0.2)
    assert fewer < 0.8
    # An effect that varies by seed needs more seeds for the same power.
    varying = required_size(0.5, 0.4, tasks_per_seed=30, seed_sd=0.05, diff_sd=0.1, rho=0.2)
    assert varying.reached and varying.n_seeds > mid.n_seeds
    tiny = required_size(0.5, 0.48, tasks_per_seed=30, max_seeds=40)
    assert not tiny.reached and tiny.n_seeds == 40 and tiny.power < 0.8


def test_pilot_estimates() -> None:
    a = {0: [True] * 6 + [False] * 4, 1: [True] * 2 + [False] * 8}
    b = {0: [True] * 4 + [False] * 6, 1: [False] * 9 + [True]}
    est = pilot_estimates(a, b)
    assert est["p_a"] == pytest.approx(0.4) and est["p_b"] == pytest.approx(0.25)
    assert (est["n_seeds"], est["n_tasks"], est["b01"], est["b10"]) == (2, 20, 1, 4)
    # 2x2 table: n11 = 4, n10 = 4, n01 = 1, n00 = 11; margins 8, 12 (a) and 5, 15 (b).
    assert est["rho"] == pytest.approx((4 * 11 - 4 * 1) / np.sqrt(8 * 12 * 5 * 15))
    # Per-seed rates a: 0.6, 0.2; b: 0.4, 0.1 -> pooled variance (0.08 + 0.045) / 2 = 0.0625.
    assert est["seed_sd_observed"] == pytest.approx(0.25)
    sampling = np.mean([0.6 * 0.4, 0.2 * 0.8, 0.4 * 0.6, 0.1 * 0.9]) / 9
    assert est["seed_sd"] == pytest.approx(np.sqrt(0.0625 - sampling))
    # Per-seed differences 0.2 and 0.1 (var 0.005); sampling variance of each: var(d, ddof 1) / 10.
    d0 = np.array([0] * 4 + [1] * 2 + [0] * 4, dtype=float)  # seed 0: a wins on tasks 4-5, else tied
    d1 = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, -1], dtype=float)
    assert (d0.mean(), d1.mean()) == (pytest.approx(0.2), pytest.approx(0.1))
    assert est["diff_sd_observed"] == pytest.approx(np.sqrt(0.005))
    assert est["diff_sd"] == pytest.approx(np.sqrt(max(0.0, 0.005 - (d0.var(ddof=1) + d1.var(ddof=1)) / 20)))
    with pytest.raises(ValueError, match="same seeds"):
        pilot_estimates(a, {0: b[0]})
    with pytest.raises(ValueError, match="seed 1"):
        pilot_estimates(a, {0: b[0], 1: [False]})


# ---------------------------------------------------------------------------------------------- power CLI


def _write_result(root: Path, condition: str, seed: int, successes: list[bool]) -> None:
    job = root / f"condition={condition},seed={seed}"
    job.mkdir(parents=True)
    tasks = [
        {"id": f"acmecorp/rigorous/test/s{seed}/w0/logs.count/{i}", "success": s, "score": float(s)}
        for i, s in enumerate(successes)
    ]
    result = {
        "world": "acmecorp",
        "protocol": "rigorous",
        "condition": condition,
        "seed": seed,
        "llm": "sim",
        "model": "sim-4o-mini-like",
        "simulated": True,
        "n_episodes": len(tasks),
        "success_rate": sum(successes) / len(successes),
        "by_phase": {"logs": sum(successes) / len(successes)},
        "tasks": tasks,
    }
    (job / "result.json").write_text(json.dumps(result), encoding="utf-8")


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    for seed in (0, 1):
        _write_result(tmp_path, "arise", seed, [True] * 18 + [False] * 12)  # 60%
        _write_result(tmp_path, "no_evolution", seed, [True] * 9 + [False] * 21)  # 30%, nested in arise's successes
    _write_result(tmp_path, "arise", 2, [True] * 30)  # no partner: ignored
    return tmp_path


def test_power_cli_report(sweep: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = power_cli.main([str(sweep), "--a", "arise", "--b", "no_evolution", "--delta", "0.10", "--n-sim", "500"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "60 paired tasks over 2 seeds (0, 1); 30 unpaired tasks ignored" in out
    assert "p(arise) = 60.0%" in out and "p(no_evolution) = 30.0%" in out
    assert "b01 = 0" in out and "b10 = 18" in out
    observed = re.search(r"observed\s+\+30\.0 pts\s+60\.0%\s+30\.0%\s+(\d+)\s+(\d+)", out)
    delta = re.search(r"--delta\s+\+10\.0 pts\s+40\.0%\s+30\.0%\s+(\d+)\s+(\d+)", out)
    assert observed and delta, out
    # Power of the seed-level t test: at least 2 seeds; with 2 its 1-df quantile (12.7) rules out 2 here.
    assert int(observed[1]) == 3 and int(observed[2]) == 90
    assert int(delta[1]) > int(observed[1]) and int(delta[2]) == 30 * int(delta[1])
    assert "seeds needed for 80.0% power of the seed-level t test" in out
    # Both seeds differ by exactly +30 points: the t interval would have width 0; the tasks' noise sets it.
    assert "difference a - b = +30.0 pts [+18.2, +41.8] (95% t interval over seeds)" in out
    assert "seed-level p = 6.174e-07" in out and "sign-flip over seeds p = 0.5 (cannot go below 0.5)" in out
    assert "generalises to: seeds, if per-seed differences are normal (2 < 6 seeds: too few" in out
    assert "diff sd = 0.000" in out and "these worlds only (tasks as the unit" in out


def test_power_cli_errors(
    sweep: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    assert power_cli.main([str(sweep), "--a", "arise", "--b", "fixed_tools"]) == 1
    err = capsys.readouterr().err
    assert "'fixed_tools' not found" in err and "conditions present: arise, no_evolution" in err

    empty = tmp_path_factory.mktemp("empty")
    assert power_cli.main([str(empty), "--a", "arise", "--b", "no_evolution"]) == 1
    assert "no result.json" in capsys.readouterr().err

    assert power_cli.main([str(sweep), "--a", "arise", "--b", "no_evolution", "--world", "datacorp"]) == 1
    assert "worlds ['acmecorp']" in capsys.readouterr().err

    with pytest.raises(SystemExit) as exc:
        power_cli.main([str(empty / "missing"), "--a", "arise", "--b", "no_evolution"])
    assert exc.value.code == 2


def test_power_cli_no_paired_tasks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_result(tmp_path, "arise", 0, [True] * 5)
    _write_result(tmp_path, "no_evolution", 1, [False] * 5)
    assert power_cli.main([str(tmp_path), "--a", "arise", "--b", "no_evolution"]) == 1
    assert "no paired tasks" in capsys.readouterr().err


def test_spearman_ci_matches_scipy_and_covers_the_truth():
    rng = np.random.default_rng(7)
    x = rng.normal(size=80)
    y = x + rng.normal(size=80)
    c = spearman_ci(x, y, seed=1)
    assert c.rho == pytest.approx(sps.spearmanr(x, y).statistic)
    assert c.low is not None and c.high is not None and c.low < c.rho < c.high
    assert (c.n_clusters, c.n_units) == (80, 80)
    # Clustered: units of one cluster move together, so the interval is no narrower than treating them apart.
    clustered = spearman_ci(x, y, clusters=[i // 20 for i in range(80)], seed=1)
    assert clustered.n_clusters == 4 and clustered.rho == c.rho
    assert clustered.high - clustered.low >= (c.high - c.low) * 0.9
    # Independent data: the interval covers 0; perfectly monotone data: rho 1 exactly.
    z = rng.normal(size=80)
    ind = spearman_ci(x, z, seed=2)
    assert ind.low < 0 < ind.high
    assert spearman_ci([1, 2, 3, 4], [10, 20, 30, 40]).rho == 1.0
    assert spearman_ci(x, y, seed=1) == c  # seeded


def test_spearman_ci_undefined_and_bad_input():
    assert spearman_ci([1, 1, 1, 1], [1, 2, 3, 4]).rho is None
    assert spearman_ci([1, 2], [2, 1]).rho is None  # fewer than 3 units
    assert spearman_ci([1, 2, 3], [1, 2, 3]).fmt() != "n/a"
    with pytest.raises(ValueError, match="one length"):
        spearman_ci([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="finite"):
        spearman_ci([1, 2, float("nan")], [1, 2, 3])
    with pytest.raises(ValueError, match="cluster labels"):
        spearman_ci([1, 2, 3], [1, 2, 3], clusters=[0, 1])
