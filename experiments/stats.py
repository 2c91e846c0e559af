"""Statistics for comparing conditions: confidence intervals, paired tests, pass@k and power analysis.

The unit of analysis is the task instance. Task instances are nested in seeds (each seed plans its own
worlds and instances), and two conditions run with the same seed see the same instances, so:

* intervals come from a two-level bootstrap (seeds, then tasks within seeds): :func:`bootstrap_ci`;
* condition comparisons are paired by task id: :func:`paired_permutation` (sign-flip test on per-task
  differences) and :func:`mcnemar` (binary outcomes);
* several comparisons are corrected with :func:`holm`;
* repeated samples of one task give :func:`pass_at_k` (any of k succeeds) and :func:`pass_hat_k` (all k do);
* :func:`power_paired`, :func:`required_size` and :func:`pilot_estimates` plan how many seeds a
  comparison needs (see ``python -m experiments.power``).

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
from scipy import stats as sps

__all__ = [
    "Correlation",
    "Interval",
    "McNemar",
    "PairedTest",
    "PowerPlan",
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
    """A point estimate with a confidence interval and the sample it came from."""

    mean: float
    low: float
    high: float
    n_seeds: int
    n_tasks: int

    def fmt(self, pct: bool = True) -> str:
        """``"34.6% [28.1, 41.0]"`` (``pct=True``) or ``"0.346 [0.281, 0.410]"``."""
        if pct:
            return f"{100 * self.mean:.1f}% [{100 * self.low:.1f}, {100 * self.high:.1f}]"
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}]"


def _as_groups(groups: Mapping[Any, Sequence[float]] | Sequence[Sequence[float]]) -> list[FloatArray]:
    items: list[tuple[Any, Sequence[float]]]
    if isinstance(groups, Mapping):
        items = list(groups.items())
    else:
        items = list(enumerate(groups))
    if not items:
        raise ValueError("bootstrap_ci: no groups given (need at least one seed with at least one task outcome)")
    arrays = []
    for key, values in items:
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim != 1:
            raise ValueError(f"bootstrap_ci: group {key!r} must be a flat sequence of numbers, got shape {arr.shape}")
        if arr.size == 0:
            raise ValueError(f"bootstrap_ci: group {key!r} is empty (every seed needs at least one task outcome)")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"bootstrap_ci: group {key!r} contains NaN or infinite values")
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


def _check_power_args(p_a: float, p_b: float, seed_sd: float, rho: float, alpha: float) -> None:
    for label, p in (("p_a", p_a), ("p_b", p_b)):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{label} must be a probability in [0, 1], got {p}")
    if not seed_sd >= 0.0:
        raise ValueError(f"seed_sd must be >= 0, got {seed_sd}")
    if not -1.0 <= rho <= 1.0:
        raise ValueError(f"rho must be in [-1, 1], got {rho}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


def power_paired(
    p_a: float,
    p_b: float,
    *,
    n_seeds: int,
    n_tasks: int,
    seed_sd: float = 0.0,
    rho: float = 0.0,
    alpha: float = 0.05,
    n_sim: int = 2000,
    seed: int = 0,
) -> float:
    """Simulated power of the paired sign-flip test to tell success rates p_a and p_b apart.

    Design: ``n_seeds`` seeds with ``n_tasks`` task instances each; both conditions run every instance.
    Data model, per simulated experiment:

    * seed effect: each seed draws one offset ``e ~ Normal(0, seed_sd)`` shared by both conditions (a seed's
      worlds are easier or harder for everyone), giving rates ``clip(p_a + e, 0, 1)`` and
      ``clip(p_b + e, 0, 1)`` on the probability scale;
    * pairs: each task's two outcomes are correlated Bernoullis with those marginals and phi correlation
      ``rho``, drawn from their exact 2x2 joint distribution, P(both succeed) = p_a p_b + rho sqrt(p_a q_a
      p_b q_b) (clipped to the attainable Frechet bounds when rho is too extreme for the marginals); since
      tasks are independent given the seed, the seed's four cell counts are one multinomial draw.

    Test: for binary outcomes the exact sign-flip test of :func:`paired_permutation` on the pooled per-task
    differences is exactly the two-sided exact binomial (sign / exact McNemar) test of the ``b10``
    discordant pairs among ``b01 + b10`` with p = 1/2, so that is what is computed, vectorised over
    simulations (``p = min(1, 2 * BinomCDF(min(b01, b10); b01 + b10, 1/2))``, 1 without discordant pairs).
    The test is conservative (discrete), so under p_a == p_b the power is at most about alpha.

    Returns the share of the ``n_sim`` simulated experiments with p <= alpha. Deterministic given ``seed``.
    References: McNemar (1947); for the correlated-Bernoulli construction see e.g. Emrich & Piedmonte (1991),
    "A method for generating high-dimensional multivariate binary variates", *Am. Stat.* 45(4):302-304.
    """
    _check_power_args(p_a, p_b, seed_sd, rho, alpha)
    if n_seeds < 1 or n_tasks < 1:
        raise ValueError(f"need n_seeds >= 1 and n_tasks >= 1, got n_seeds={n_seeds}, n_tasks={n_tasks}")
    if n_sim < 1:
        raise ValueError(f"n_sim must be >= 1, got {n_sim}")
    rng = np.random.default_rng(seed)
    if seed_sd > 0:
        offsets = rng.normal(0.0, seed_sd, size=(n_sim, n_seeds))
        cells = _joint_cells(np.clip(p_a + offsets, 0, 1), np.clip(p_b + offsets, 0, 1), rho)
        counts = rng.multinomial(n_tasks, cells).sum(axis=1)  # (n_sim, 4): pooled over seeds
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
    rho: float = 0.0,
    alpha: float = 0.05,
    tasks_per_seed: int,
    max_seeds: int = 200,
    seed: int = 0,
    n_sim: int = 2000,
) -> PowerPlan:
    """Smallest number of seeds (each with ``tasks_per_seed`` paired tasks) whose :func:`power_paired` >= target.

    Power grows with the number of seeds, so the search is a bisection over 1..``max_seeds``; every
    evaluation uses the same ``seed`` (common random numbers), which keeps the simulated power curve close to
    monotone. If ``max_seeds`` is not enough the plan for ``max_seeds`` is returned with ``reached=False``.
    """
    if not 0.0 < target < 1.0:
        raise ValueError(f"target power must be in (0, 1), got {target}")
    if tasks_per_seed < 1 or max_seeds < 1:
        raise ValueError(f"need tasks_per_seed >= 1 and max_seeds >= 1, got {tasks_per_seed}, {max_seeds}")
    _check_power_args(p_a, p_b, seed_sd, rho, alpha)
    cache: dict[int, float] = {}

    def power(n: int) -> float:
        if n not in cache:
            cache[n] = power_paired(
                p_a,
                p_b,
                n_seeds=n,
                n_tasks=tasks_per_seed,
                seed_sd=seed_sd,
                rho=rho,
                alpha=alpha,
                n_sim=n_sim,
                seed=seed,
            )
        return cache[n]

    if power(max_seeds) < target:
        return PowerPlan(max_seeds, max_seeds * tasks_per_seed, power(max_seeds), reached=False)
    lo, hi = 1, max_seeds  # invariant: power(hi) >= target
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
    xs: list[npt.NDArray[np.bool_]] = []
    ys: list[npt.NDArray[np.bool_]] = []
    for s in a_by_seed:
        xa, xb = _as_binary(a_by_seed[s], f"a[{s!r}]"), _as_binary(b_by_seed[s], f"b[{s!r}]")
        if xa.size != xb.size:
            raise ValueError(f"pilot_estimates: seed {s!r} has {xa.size} outcomes for a but {xb.size} for b")
        if xa.size == 0:
            raise ValueError(f"pilot_estimates: seed {s!r} has no paired tasks")
        rates.append((float(xa.mean()), float(xb.mean()), int(xa.size)))
        xs.append(xa)
        ys.append(xb)
    x, y = np.concatenate(xs), np.concatenate(ys)
    p_a, p_b = float(x.mean()), float(y.mean())

    n_seeds = len(rates)
    seed_sd_observed = seed_sd = 0.0
    if n_seeds > 1:
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
        "rho": rho,
        "n_seeds": n_seeds,
        "n_tasks": int(x.size),
        "b01": b01,
        "b10": b10,
    }
