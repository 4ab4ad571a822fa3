"""Aggregate scores over seeds with interval estimates, as rliable reports them.

Scores are a ``(runs, tasks)`` matrix (runs are seeds; tasks are, e.g., perturbation magnitudes),
a 1-D array (one task), or a mapping ``task -> 1-D array of runs`` when tasks have different
numbers of runs (a failed run leaves a hole). The point estimates follow rliable's ``metrics.py`` [1]_:

- ``iqm``: interquartile mean of all scores pooled, ``scipy.stats.trim_mean(x, 0.25)``: with
  ``N`` scores, ``floor(N/4)`` are cut from each end and the rest averaged;
- ``mean``: mean over tasks of the per-task mean over runs;
- ``median``: median over tasks of the per-task mean over runs;
- ``optimality_gap``: ``gamma - mean(min(x, gamma))`` over all scores.

Interval estimates use the *stratified* bootstrap of [1]_ (Sec. 4): runs are resampled with
replacement independently within each task, the statistic is recomputed on each of ``reps``
resamples, and the percentile interval (the default of rliable's ``get_interval_estimates``)
or the basic interval is reported. :func:`probability_of_improvement` is rliable's
``probability_of_improvement`` (Sec. 4.3 of [1]_): the Mann-Whitney probability
``P(X > Y) + P(X = Y) / 2`` of a run of X beating a run of Y, averaged over tasks, with the
two methods' runs resampled independently within each task. Performance profiles are the run-score distributions of
[1]_ (Sec. 5): the fraction of runs with score above ``tau``, averaged over tasks.

References
----------
.. [1] R. Agarwal, M. Schwarzer, P. S. Castro, A. Courville, M. G. Bellemare, "Deep
   Reinforcement Learning at the Edge of the Statistical Precipice", NeurIPS 2021
   (arXiv:2108.13264); code: google-research/rliable (``metrics.py``, ``library.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from theory.checks import (
    ArgumentTypeError,
    as_float_array,
    check_choice,
    check_open_unit,
    check_positive_int,
    check_real,
    check_rng,
    check_seed,
)

__all__ = [
    "STATISTICS",
    "Interval",
    "Profile",
    "bootstrap_ci",
    "bootstrap_distribution",
    "iqm",
    "mean",
    "mean_interval",
    "median",
    "optimality_gap",
    "performance_profile",
    "probability_of_improvement",
    "seed_interval",
]

#: Names of the built-in (vectorised) statistics.
STATISTICS: tuple[str, ...] = ("iqm", "mean", "median", "optimality_gap")

Scores = Any  # (runs, tasks) array-like, 1-D array-like (one task), or a mapping task -> runs
Statistic = str | Callable[[Any], float]


def _as_strata(scores: Scores) -> list[np.ndarray]:
    """Validate scores; return one float64 1-D array per task (each non-empty and finite)."""
    if isinstance(scores, str | bytes) or scores is None:
        raise ArgumentTypeError(
            "scores must be a (runs, tasks) array, a 1-D array or a mapping task -> runs; "
            f"got {scores!r}"
        )
    if isinstance(scores, Mapping):
        strata = []
        for k, s in scores.items():
            try:
                strata.append(np.asarray(s, dtype=np.float64))
            except (TypeError, ValueError) as exc:
                raise ArgumentTypeError(
                    f"scores[{k!r}] must be a 1-D array of numbers (the runs of one task); "
                    f"got {s!r} ({exc})"
                ) from None
            if strata[-1].ndim != 1:
                raise ValueError(
                    f"scores[{k!r}] must be 1-D (the runs of one task); got {strata[-1].shape}"
                )
    else:
        try:
            arr = np.asarray(scores, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ArgumentTypeError(
                f"scores must be a (runs, tasks) array, a 1-D array or a mapping task -> runs "
                f"({exc})"
            ) from None
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise ValueError(f"scores must be (runs, tasks) or 1-D; got shape {arr.shape}")
        strata = [arr[:, k] for k in range(arr.shape[1])]
    if not strata:
        raise ValueError("scores has no tasks")
    for k, s in enumerate(strata):
        if s.size == 0:
            raise ValueError(f"scores: task {k} has no runs")
        if not np.all(np.isfinite(s)):
            raise ValueError(f"scores: task {k} has non-finite values {s[~np.isfinite(s)]}")
    return strata


def _padded(strata: list[np.ndarray]) -> np.ndarray:
    """``(n_max, tasks)`` with NaN below each task's runs."""
    n_max = max(s.size for s in strata)
    out = np.full((n_max, len(strata)), np.nan)
    for k, s in enumerate(strata):
        out[: s.size, k] = s
    return out


def _batch_stat(name: str, x: np.ndarray, n_total: int, gamma: float = 1.0) -> np.ndarray:
    """Statistic ``name`` of each resample ``x[b]`` (``x``: ``(B, n_max, tasks)``, NaN = hole)."""
    if name == "iqm":
        flat = np.sort(x.reshape(x.shape[0], -1), axis=1)[:, :n_total]  # NaN sort last
        cut = int(0.25 * n_total)  # as scipy.stats.trim_mean(x, 0.25)
        return flat[:, cut : n_total - cut].mean(axis=1)
    if name in ("mean", "median"):
        task_means = np.nanmean(x, axis=1)  # (B, tasks)
        return task_means.mean(axis=1) if name == "mean" else np.median(task_means, axis=1)
    if name == "optimality_gap":
        return gamma - np.nanmean(np.minimum(x, gamma).reshape(x.shape[0], -1), axis=1)
    raise ValueError(f"statistic must be one of {list(STATISTICS)} or a callable; got {name!r}")


def _statistic_of(statistic: Statistic, strata: list[np.ndarray]) -> float:
    if isinstance(statistic, str):
        x = _padded(strata)[None]
        return float(_batch_stat(statistic, x, sum(s.size for s in strata))[0])
    if not callable(statistic):
        raise ArgumentTypeError(f"statistic must be a name or a callable; got {statistic!r}")
    equal = len({s.size for s in strata}) == 1
    out = statistic(np.stack(strata, axis=1) if equal else strata)
    name = getattr(statistic, "__name__", statistic)
    try:
        value = float(out)
    except (TypeError, ValueError):
        raise ArgumentTypeError(
            f"statistic {name!r} returned {out!r}; a statistic must return one finite float"
        ) from None
    if not np.isfinite(value):
        raise ValueError(
            f"statistic {name!r} returned {value}; a statistic must return a finite float"
        )
    return value


def iqm(scores: Scores) -> float:
    """Interquartile mean of all scores pooled (rliable ``aggregate_iqm``, Sec. 4 of [1]_).

    ``floor(N/4)`` of the ``N`` scores are cut from each end (``scipy.stats.trim_mean(x,
    0.25, axis=None)``) and the rest are averaged.

    Examples
    --------
    >>> iqm([1.0, 2.0, 3.0, 4.0, 100.0])  # drops 1 and 100
    3.0
    """
    return _statistic_of("iqm", _as_strata(scores))


def mean(scores: Scores) -> float:
    """Mean over tasks of the per-task mean over runs (rliable ``aggregate_mean``)."""
    return _statistic_of("mean", _as_strata(scores))


def median(scores: Scores) -> float:
    """Median over tasks of the per-task mean over runs (rliable ``aggregate_median``)."""
    return _statistic_of("median", _as_strata(scores))


def optimality_gap(scores: Scores, gamma: float = 1.0) -> float:
    """``gamma - mean(min(x, gamma))`` over all scores (rliable ``aggregate_optimality_gap``).

    ``gamma`` is the score threshold above which a run counts as optimal (Agarwal et al.,
    NeurIPS 2021, Sec. 4); it must be a finite real number.
    """
    gamma = check_real("gamma", gamma)
    strata = _as_strata(scores)
    x = _padded(strata)[None]
    return float(_batch_stat("optimality_gap", x, sum(s.size for s in strata), gamma)[0])


def _check_boot_args(reps: int, confidence: float, method: str, random_state: int = 0) -> None:
    check_positive_int("reps", reps)
    check_open_unit("confidence", confidence)
    check_choice("method", method, ("percentile", "basic"))
    check_seed(random_state, "random_state")


def _resample(strata: list[np.ndarray], reps: int, rng: np.random.Generator) -> np.ndarray:
    """Stratified bootstrap resamples ``(reps, n_max, tasks)``: runs drawn within each task."""
    out = np.full((reps, max(s.size for s in strata), len(strata)), np.nan)
    for k, s in enumerate(strata):
        out[:, : s.size, k] = s[rng.integers(0, s.size, size=(reps, s.size))]
    return out


def bootstrap_distribution(
    scores: Scores, statistic: Statistic = "iqm", *, reps: int = 2000, random_state: int = 0
) -> np.ndarray:
    """The statistic on ``reps`` stratified bootstrap resamples of ``scores``.

    Parameters
    ----------
    scores : array-like ``(runs, tasks)``, 1-D array-like, or mapping task -> 1-D array
        Finite scores; tasks may have different numbers of runs (mapping form).
    statistic : str or callable, default "iqm"
        One of :data:`STATISTICS`, or a function of a ``(runs, tasks)`` array (of a list of
        1-D arrays when tasks have different numbers of runs) returning a float.
    reps : int, default 2000
        Number of resamples (rliable uses 2000 for profiles, 50000 for estimates).
    random_state : int, default 0
        Seed of the resampling.

    Returns
    -------
    ndarray, shape (reps,)
    """
    strata = _as_strata(scores)
    _check_boot_args(reps, 0.95, "percentile", random_state)
    return _boot(strata, statistic, int(reps), random_state)


def _boot(strata: list[np.ndarray], statistic: Statistic, reps: int, seed: int) -> np.ndarray:
    boot = _resample(strata, reps, np.random.default_rng(seed))
    if isinstance(statistic, str):
        return _batch_stat(statistic, boot, sum(s.size for s in strata))
    if not callable(statistic):
        raise ArgumentTypeError(f"statistic must be a name or a callable; got {statistic!r}")
    sizes = [s.size for s in strata]
    return np.array(
        [_statistic_of(statistic, [b[:n, k] for k, n in enumerate(sizes)]) for b in boot]
    )


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap confidence interval.

    ``n_runs`` is the total number of scores (runs summed over tasks), ``n_tasks`` the strata.
    """

    statistic: str
    point: float
    lower: float
    upper: float
    confidence: float
    method: str
    reps: int
    n_runs: int
    n_tasks: int

    def summary(self) -> str:
        """One line, e.g. ``iqm = 0.512 [0.47, 0.55] (95% percentile CI; 64 runs in 4 tasks)``."""
        return (
            f"{self.statistic} = {self.point:.4g} [{self.lower:.4g}, {self.upper:.4g}] "
            f"({self.confidence:.0%} {self.method} CI; {self.n_runs} runs in {self.n_tasks} tasks)"
        )


def _interval(boot: np.ndarray, point: float, confidence: float, method: str) -> tuple[float, ...]:
    alpha = 1.0 - confidence
    lo, hi = np.percentile(boot, [100 * alpha / 2, 100 * (1 - alpha / 2)], axis=0)
    if method == "basic":
        lo, hi = 2 * point - hi, 2 * point - lo
    return float(lo), float(hi)


def bootstrap_ci(
    scores: Scores,
    statistic: Statistic = "iqm",
    *,
    reps: int = 2000,
    confidence: float = 0.95,
    method: str = "percentile",
    random_state: int = 0,
) -> Interval:
    """Point estimate and stratified bootstrap confidence interval (Sec. 4 of [1]_).

    Parameters
    ----------
    scores : array-like ``(runs, tasks)``, 1-D array-like, or mapping task -> 1-D array
        Finite scores; runs are resampled with replacement within each task.
    statistic : str or callable, default "iqm"
        See :func:`bootstrap_distribution`.
    reps : int, default 2000
        Number of bootstrap resamples.
    confidence : float, default 0.95
        Coverage of the interval.
    method : {"percentile", "basic"}, default "percentile"
        ``percentile``: the ``(1-c)/2`` and ``(1+c)/2`` quantiles of the bootstrap distribution
        (``np.percentile``, linear interpolation), rliable's default; ``basic``: those quantiles
        reflected about the point estimate, ``[2θ - q_hi, 2θ - q_lo]``.
    random_state : int, default 0
        Seed of the resampling.

    Returns
    -------
    Interval
        ``point`` is the statistic of ``scores`` itself; ``lower <= upper``.

    Raises
    ------
    ValueError
        On empty or non-finite scores, an unknown statistic or method, ``reps < 1`` or
        ``confidence`` outside (0, 1).

    Examples
    --------
    >>> ci = bootstrap_ci([[1.0, 5.0], [1.0, 5.0]], "mean")  # no variation within a task
    >>> (ci.point, ci.lower, ci.upper)
    (3.0, 3.0, 3.0)
    """
    strata = _as_strata(scores)
    _check_boot_args(reps, confidence, method, random_state)
    point = _statistic_of(statistic, strata)
    boot = _boot(strata, statistic, int(reps), random_state)
    lo, hi = _interval(boot, point, confidence, method)
    name = statistic if isinstance(statistic, str) else getattr(statistic, "__name__", "custom")
    return Interval(
        statistic=name,
        point=point,
        lower=lo,
        upper=hi,
        confidence=float(confidence),
        method=method,
        reps=int(reps),
        n_runs=sum(s.size for s in strata),
        n_tasks=len(strata),
    )


def _improvement(x: list[np.ndarray], y: list[np.ndarray]) -> float:
    """Mean over tasks of ``P(X > Y) + P(X = Y) / 2`` (the U statistic over ``n m``)."""
    vals = []
    for a, b in zip(x, y, strict=True):
        d = a[:, None] - b[None, :]
        vals.append(float(((d > 0) + 0.5 * (d == 0)).mean()))
    return float(np.mean(vals))


def probability_of_improvement(
    x: Scores,
    y: Scores,
    *,
    reps: int = 2000,
    confidence: float = 0.95,
    random_state: int = 0,
) -> Interval:
    """Probability that a run of X scores higher than a run of Y, with its bootstrap interval.

    rliable's ``probability_of_improvement`` (Sec. 4.3 and Eq. 1 of [1]_):
    ``P(X > Y) = (1/K) sum_k (1/(N_k M_k)) sum_{i,j} S(x_ik, y_jk)`` with ``S = 1`` if
    ``x > y``, ``1/2`` if equal, ``0`` otherwise (the Mann-Whitney U over ``N M``), over the
    ``K`` tasks shared by X and Y. The interval resamples each method's runs independently
    within each task (stratified bootstrap). Lower is better? Pass the negated scores.

    Parameters
    ----------
    x, y : array-like ``(runs, tasks)``, 1-D array-like, or mapping task -> 1-D array
        Finite scores of the two methods on the same tasks (runs may differ in number).
    reps, confidence, random_state
        As in :func:`bootstrap_ci` (percentile interval).

    Returns
    -------
    Interval
        ``statistic = "P(X > Y)"``; 0.5 means no difference.

    Examples
    --------
    >>> probability_of_improvement([3.0, 4.0], [1.0, 2.0]).point
    1.0
    >>> probability_of_improvement([1.0, 2.0], [1.0, 2.0]).point
    0.5
    """
    sx, sy = _as_strata(x), _as_strata(y)
    if len(sx) != len(sy):
        raise ValueError(f"x and y must score the same tasks; got {len(sx)} and {len(sy)} tasks")
    _check_boot_args(reps, confidence, "percentile", random_state)
    point = _improvement(sx, sy)
    rng = np.random.default_rng(random_state)
    boot = np.empty(int(reps))
    for r in range(int(reps)):
        bx = [a[rng.integers(a.size, size=a.size)] for a in sx]
        by = [b[rng.integers(b.size, size=b.size)] for b in sy]
        boot[r] = _improvement(bx, by)
    lo, hi = _interval(boot, point, confidence, "percentile")
    return Interval(
        statistic="P(X > Y)",
        point=point,
        lower=lo,
        upper=hi,
        confidence=float(confidence),
        method="percentile",
        reps=int(reps),
        n_runs=sum(a.size for a in sx) + sum(b.size for b in sy),
        n_tasks=len(sx),
    )


@dataclass(frozen=True)
class Profile:
    """A performance profile (run-score distribution) with pointwise bootstrap intervals."""

    taus: np.ndarray
    values: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    confidence: float

    def summary(self) -> str:
        """One line: the tau range and the fraction at its ends."""
        return (
            f"profile over {self.taus.size} taus in [{self.taus[0]:.4g}, {self.taus[-1]:.4g}]: "
            f"{self.values[0]:.3f} -> {self.values[-1]:.3f}"
        )


def _profile_values(x: np.ndarray, sizes: np.ndarray, tau: float) -> np.ndarray:
    """Fraction of runs above ``tau`` per task, averaged over tasks; ``x``: (B, n_max, tasks)."""
    above = np.nan_to_num(x, nan=-np.inf) > tau
    return (above.sum(axis=1) / sizes).mean(axis=1)


def performance_profile(
    scores: Scores,
    taus: Sequence[float] | np.ndarray,
    *,
    reps: int = 2000,
    confidence: float = 0.95,
    random_state: int = 0,
) -> Profile:
    """Run-score distribution ``F(tau)`` = fraction of runs with score ``> tau`` (Sec. 5 of [1]_).

    Each task weighs equally (the fraction is computed per task, then averaged; with the same
    number of runs per task this is the fraction of all scores above ``tau``, as rliable's
    ``create_performance_profile``). Pointwise percentile intervals come from the stratified
    bootstrap.

    Parameters
    ----------
    scores : array-like ``(runs, tasks)``, 1-D array-like, or mapping task -> 1-D array
    taus : 1-D array-like of float
        Thresholds (finite).
    reps, confidence, random_state
        As in :func:`bootstrap_ci`.

    Returns
    -------
    Profile
        ``values`` is non-increasing in ``tau`` and lies in ``[0, 1]``.
    """
    strata = _as_strata(scores)
    _check_boot_args(reps, confidence, "percentile", random_state)
    taus = as_float_array("taus", taus, ndim=1)
    sizes = np.array([s.size for s in strata], dtype=np.float64)
    x0 = _padded(strata)[None]
    boot = _resample(strata, int(reps), np.random.default_rng(random_state))
    alpha = 1.0 - confidence
    values, lower, upper = (np.empty(taus.size) for _ in range(3))
    for i, tau in enumerate(taus):
        values[i] = _profile_values(x0, sizes, tau)[0]
        b = _profile_values(boot, sizes, tau)
        lower[i], upper[i] = np.percentile(b, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return Profile(taus=taus, values=values, lower=lower, upper=upper, confidence=confidence)


def seed_interval(
    x: Any,
    rng: np.random.Generator,
    statistic: Callable[[np.ndarray], float] = np.mean,
    *,
    reps: int = 2000,
    confidence: float = 0.9,
) -> list[float]:
    """Percentile-bootstrap interval of ``statistic`` over seeds: the rows of ``x`` (axis 0, any
    trailing shape) resampled with replacement ``reps`` times from ``rng`` (Efron & Tibshirani
    1993, Ch. 13). For the claims that resample seeds of a per-seed array;
    :func:`bootstrap_ci` is the stratified ``(runs, tasks)`` form.

    Examples
    --------
    >>> lo, hi = seed_interval(np.arange(10.0), np.random.default_rng(0))
    >>> bool(lo < 4.5 < hi)
    True
    """
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 0 or len(arr) < 1:
        raise ValueError(f"x must hold at least one seed along axis 0; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("x must be finite; it has NaN or infinite entries")
    check_rng("rng", rng)
    reps = check_positive_int("reps", reps)
    confidence = check_open_unit("confidence", confidence)
    draws = [float(statistic(arr[rng.integers(len(arr), size=len(arr))])) for _ in range(reps)]
    tail = (1.0 - confidence) / 2.0
    return [float(np.quantile(draws, tail)), float(np.quantile(draws, 1.0 - tail))]


def mean_interval(
    x: Any, *, confidence: float = 0.95, method: str = "t"
) -> tuple[float, float, float]:
    """Mean of ``x`` and a two-sided parametric interval of it: ``(mean, low, high)``.

    ``method="t"``: Student's t interval ``mean ± t_{n-1} s / sqrt(n)``; ``"normal"``: the normal
    approximation ``mean ± z s / sqrt(n)`` (``s`` the sample std, ``ddof=1``). With one value,
    or all values equal, the interval is the point itself. :func:`seed_interval` is the
    bootstrap counterpart for other statistics.

    Examples
    --------
    >>> m, lo, hi = mean_interval([1.0, 2.0, 3.0], method="normal")
    >>> m, round(lo, 4), round(hi, 4)
    (2.0, 0.8684, 3.1316)
    """
    from scipy import stats  # lazy: scipy.stats costs a noticeable import

    arr = as_float_array("x", x, shape=(None,))
    if arr.size == 0:
        raise ValueError("x must hold at least one value")
    confidence = check_open_unit("confidence", confidence)
    method = check_choice("method", method, ("t", "normal"))
    m = float(arr.mean())
    if arr.size < 2 or np.all(arr == arr[0]):
        return m, m, m
    q = 0.5 + confidence / 2.0
    crit = stats.t.ppf(q, arr.size - 1) if method == "t" else stats.norm.ppf(q)
    half = float(crit * arr.std(ddof=1) / np.sqrt(arr.size))
    return m, m - half, m + half
