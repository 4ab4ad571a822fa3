"""Retrain under a perturbation over K seeds and ask: is the change distinguishable from seed noise?

``retrain_compare(train, perturbation=..., seeds=K)`` trains K *base* runs (unperturbed) and K
*perturbed* runs with distinct seeds, measures every pair of the 2K policies on one shared set of
states (given, or visited by the base policies) by the mean total variation
``d(i, j) = mean_s d_TV(pi_i(.|s), pi_j(.|s))``, and compares

- the *effect*: the mean distance of a base policy to a perturbed one (cross-group pairs), with
- the *seed noise*: the mean distance between two policies of the same group (within-group
  pairs, base-base and perturbed-perturbed): what a change of seed alone does.

The test statistic is the energy distance of the two groups of policies in the metric ``d``
(Székely & Rizzo 2004, 2013), ``T = 2 cross - within_base - within_perturbed``; with equal group
sizes ``T = 2 (cross - within)``, twice the effect size reported. Its null distribution is that
of a permutation test over the run labels: under the null hypothesis that the perturbation
leaves the *distribution* of trained policies unchanged, the 2K runs (distinct seeds, i.i.d.
given the training procedure) are exchangeable, so every relabelling into two groups of K is
equally likely and ``p = #{labellings with T >= T_obs} / #{labellings}`` is exact
(all ``C(2K, K)`` labellings when that is at most ``n_permutations``), else the Monte Carlo
p-value ``(1 + #{T_b >= T_obs}) / (1 + B)`` over ``B`` random relabellings, which is valid
(never anti-conservative) as well (Phipson & Smyth 2010). Either way
``P(p <= alpha) <= alpha`` under the null. ``distinguishable = p < alpha``. The statistic is
symmetric in the two groups, so the smallest attainable exact p-value is ``2 / C(2K, K)``: K = 3
runs per group can never reach ``p < 0.05`` (``min p = 0.1``); K = 4 can (``0.029``).

Intervals are stratified bootstrap intervals over runs (runs resampled with replacement within
each group, as rliable resamples runs within tasks: Agarwal et al., NeurIPS 2021, §4), percentile
method; a pair of copies of one run is not a within-group pair (its distance is 0 by
construction).

Where training is entropy- or KL-regularised with temperature ``alpha`` and discount ``gamma``
and the perturbation is a reward change with known ``||dR||_inf``, the soft-optimal policies
satisfy ``max_s d_TV <= ||dR||_inf / (2 alpha (1 - gamma))`` (Xu 2025, Prop 4.7;
:func:`theory.bounds.soft_policy_tv_bound`); it is printed beside the measured
``max_s d_TV(mean base policy, mean perturbed policy)``, and called vacuous when it is >= 1
(a total variation never exceeds 1). The bound is a statement about exact soft-optimal
policies: a trained policy's optimisation error and seed noise are not covered by it.

References
----------
.. [1] G. J. Székely, M. L. Rizzo, "Testing for equal distributions in high dimension",
   InterStat 5, 2004; "Energy statistics: a class of statistics based on distances", J. Stat.
   Plan. Inference 143(8), 2013 (energy distance, its permutation test).
.. [2] B. Phipson, G. K. Smyth, "Permutation p-values should never be zero", Stat. Appl. Genet.
   Mol. Biol. 9(1), 2010 (the ``(1 + b) / (1 + B)`` Monte Carlo p-value).
.. [3] R. Agarwal, M. Schwarzer, P. S. Castro, A. Courville, M. G. Bellemare, "Deep
   Reinforcement Learning at the Edge of the Statistical Precipice", NeurIPS 2021 (stratified
   bootstrap intervals over runs).
.. [4] X. Xu, "The Policy Cliff", arXiv:2507.20150, 2025, Prop 4.7.
"""

from __future__ import annotations

import functools
import itertools
import math
import random
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from perturbation.retrain.distance import _tv, as_probabilities
from perturbation.retrain.perturb import EnvPerturbation, _check_factory
from perturbation.sweeps.stats import Interval
from theory.bounds import soft_policy_tv_bound
from theory.checks import (
    ArgumentTypeError,
    as_float_array,
    check_bool,
    check_choice,
    check_int,
    check_open_unit,
    check_positive_int,
    check_seed,
    check_seeds,
)

__all__ = ["RetrainComparison", "retrain_compare"]

#: Engines of :func:`retrain_compare` (those of :mod:`perturbation.sweeps`).
ENGINES = ("inprocess", "joblib", "ray")


@dataclass(frozen=True)
class RetrainComparison:
    """The perturbation's effect on the trained policies against seed noise.

    Attributes
    ----------
    seeds, perturbed_seeds : tuple of int
        Seeds of the K base and the K perturbed runs.
    perturbation : str
        What was perturbed.
    states : ndarray, shape (n, ...)
        The shared states the policies were compared on.
    probabilities : ndarray, shape (2K, n, A)
        Action probabilities of every run on ``states`` (base runs first).
    distances : ndarray, shape (2K, 2K)
        Mean total variation over ``states`` between every two runs.
    effect : Interval
        Mean distance between a base and a perturbed policy (cross-group pairs), with its
        bootstrap interval.
    seed_noise : Interval
        Mean distance between two policies of the same group (within-group pairs).
    difference : Interval
        ``effect - seed_noise`` (the effect size; half the energy statistic).
    ratio : Interval
        ``effect / seed_noise`` (``inf`` where the seed noise is 0 and the effect is not, 1 where
        both are 0).
    statistic : float
        Energy statistic ``T = 2 cross - within_base - within_perturbed``.
    p_value : float
        Permutation p-value of ``T`` over run labels.
    exact : bool
        Whether all ``C(2K, K)`` labellings were enumerated (else Monte Carlo).
    n_permutations : int
        Labellings evaluated.
    min_p_value : float
        Smallest p-value the test can give with this K (``2 / C(2K, K)`` exact).
    alpha : float
        Level of the test.
    distinguishable : bool
        ``p_value < alpha``.
    effect_disagreement, seed_disagreement : float
        Fraction of states on which the greedy actions differ, averaged over cross-group and
        within-group pairs.
    max_tv : float
        ``max_s d_TV`` between the mean base policy and the mean perturbed policy.
    bound : float or None
        Prop 4.7's bound on ``max_tv`` (for soft-optimal policies), when it applies.
    seconds : float
        Wall time (training included).
    """

    seeds: tuple[int, ...]
    perturbed_seeds: tuple[int, ...]
    perturbation: str
    states: np.ndarray = field(repr=False)
    probabilities: np.ndarray = field(repr=False)
    distances: np.ndarray = field(repr=False)
    effect: Interval
    seed_noise: Interval
    difference: Interval
    ratio: Interval
    statistic: float
    p_value: float
    exact: bool
    n_permutations: int
    min_p_value: float
    alpha: float
    distinguishable: bool
    effect_disagreement: float
    seed_disagreement: float
    max_tv: float
    bound: float | None
    seconds: float

    def __post_init__(self) -> None:
        check_open_unit("alpha", self.alpha)
        p = float(self.p_value)
        if not 0.0 < p <= 1.0:
            raise ValueError(f"p_value must be in (0, 1]; got {self.p_value!r}")
        D = as_float_array("distances", self.distances, ndim=2)
        k2 = 2 * len(self.seeds)
        if D.shape != (k2, k2) or len(self.perturbed_seeds) != len(self.seeds):
            raise ValueError(
                f"distances must be (2K, 2K) = ({k2}, {k2}) for K = {len(self.seeds)} seeds and as "
                f"many perturbed_seeds; got {D.shape} and {len(self.perturbed_seeds)}"
            )
        if bool(self.distinguishable) != (p < self.alpha):
            raise ValueError("distinguishable must equal p_value < alpha")

    @property
    def k(self) -> int:
        """Runs per group."""
        return len(self.seeds)

    @property
    def bound_vacuous(self) -> bool | None:
        """Whether the bound says nothing (>= 1, the largest total variation); None without one."""
        return None if self.bound is None else bool(self.bound >= 1.0)

    def bound_note(self) -> str:
        """One sentence on the Prop 4.7 bound (empty without one)."""
        if self.bound is None:
            return ""
        s = (
            f"Prop 4.7 (Xu 2025) bounds max TV of soft-optimal policies by {self.bound:.4g}; "
            f"measured max TV of the mean policies {self.max_tv:.4g}"
        )
        if self.bound_vacuous:
            return s + " (the bound is vacuous: >= 1)"
        if self.max_tv > self.bound:
            return s + " (above the bound: training error or seed noise, not covered by it)"
        return s

    def summary(self) -> str:
        """``effect TV x [lo, hi] vs seed noise y [lo, hi], p = ...`` and the verdict."""
        e, s = self.effect, self.seed_noise
        how = "exact" if self.exact else "Monte Carlo"
        verdict = "distinguishable" if self.distinguishable else "NOT distinguishable"
        out = (
            f"{self.perturbation}: effect TV {e.point:.3g} [{e.lower:.3g}, {e.upper:.3g}] vs seed "
            f"noise {s.point:.3g} [{s.lower:.3g}, {s.upper:.3g}], p = {self.p_value:.3g} ({how} "
            f"permutation test, {self.k}+{self.k} runs): {verdict} from seed noise at alpha = "
            f"{self.alpha:g}"
        )
        if self.min_p_value >= self.alpha:
            out += f" (with {self.k} runs per group p cannot go below {self.min_p_value:.3g})"
        if self.bound is not None:
            out += "; " + self.bound_note()
        return out


# ---------------------------------------------------------------------------------------------
# statistics on the (2K, 2K) distance matrix
# ---------------------------------------------------------------------------------------------


def _energy(D: np.ndarray, masks: np.ndarray, k: int) -> np.ndarray:
    """``2 cross - within_A - within_B`` for each labelling (row of ``masks``: group A)."""
    a = masks.astype(np.float64)
    b = 1.0 - a
    cross = np.einsum("ni,ij,nj->n", a, D, b) / (k * k)
    wa = np.einsum("ni,ij,nj->n", a, D, a) / (k * (k - 1))
    wb = np.einsum("ni,ij,nj->n", b, D, b) / (k * (k - 1))
    return 2.0 * cross - wa - wb


@functools.lru_cache(maxsize=8)
def _all_labellings(n: int, k: int) -> np.ndarray:
    """All ``C(n, k)`` boolean masks of group A (read-only, cached)."""
    masks = np.zeros((math.comb(n, k), n), dtype=bool)
    for row, idx in enumerate(itertools.combinations(range(n), k)):
        masks[row, list(idx)] = True
    masks.setflags(write=False)
    return masks


def _permutation_test(
    D: np.ndarray, k: int, n_permutations: int, rng: np.random.Generator
) -> tuple[float, float, bool, int, float]:
    """``(T_obs, p, exact, labellings evaluated, smallest attainable p)``."""
    n = 2 * k
    observed = np.zeros((1, n), dtype=bool)
    observed[0, :k] = True
    t_obs = float(_energy(D, observed, k)[0])
    total = math.comb(n, k)
    tol = 1e-12 * max(1.0, abs(t_obs))  # ties up to rounding count as ties
    if total <= n_permutations:
        t = _energy(D, _all_labellings(n, k), k)
        p = float(np.count_nonzero(t >= t_obs - tol)) / total
        return t_obs, p, True, total, 2.0 / total
    masks = np.zeros((n_permutations, n), dtype=bool)
    order = np.argsort(rng.random((n_permutations, n)), axis=1)[:, :k]
    np.put_along_axis(masks, order, True, axis=1)
    t = _energy(D, masks, k)
    p = (1.0 + np.count_nonzero(t >= t_obs - tol)) / (1.0 + n_permutations)
    return t_obs, float(p), False, n_permutations, 1.0 / (1.0 + n_permutations)


def _group_means(D: np.ndarray, k: int) -> tuple[float, float, float]:
    """(cross, within_base, within_perturbed) means over distinct pairs."""
    off = ~np.eye(k, dtype=bool)
    return (
        float(D[:k, k:].mean()),
        float(D[:k, :k][off].mean()),
        float(D[k:, k:][off].mean()),
    )


def _within_sums(D: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum and count of distances over pairs of positions holding different runs."""
    sub = D[idx[:, :, None], idx[:, None, :]]
    distinct = idx[:, :, None] != idx[:, None, :]
    return (sub * distinct).sum(axis=(1, 2)), distinct.sum(axis=(1, 2))


def _bootstrap(
    D: np.ndarray, k: int, reps: int, rng: np.random.Generator, within_point: float
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap distributions of (cross, within) over runs resampled within each group."""
    ia = rng.integers(0, k, size=(reps, k))
    ib = k + rng.integers(0, k, size=(reps, k))
    cross = D[ia[:, :, None], ib[:, None, :]].mean(axis=(1, 2))
    sa, ca = _within_sums(D, ia)
    sb, cb = _within_sums(D, ib)
    count = ca + cb
    # a resample holding one run per group has no within pair: keep the observed value there
    within = np.where(count > 0, (sa + sb) / np.maximum(count, 1), within_point)
    return cross, within


def _ratio(cross: np.ndarray | float, within: np.ndarray | float) -> np.ndarray:
    c, w = np.asarray(cross, dtype=np.float64), np.asarray(within, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(w > 0, c / np.where(w > 0, w, 1.0), np.where(c > 0, np.inf, 1.0))
    return r


def _interval(
    name: str, point: float, boot: np.ndarray, confidence: float, k: int, method: str = "linear"
) -> Interval:
    a = 1.0 - confidence
    lo, hi = np.quantile(boot, [a / 2, 1 - a / 2], method=method)
    return Interval(
        statistic=name,
        point=float(point),
        lower=float(min(lo, point)) if np.isfinite(lo) else float(lo),
        upper=float(max(hi, point)) if np.isfinite(hi) else float(hi),
        confidence=float(confidence),
        method="percentile",
        reps=int(boot.size),
        n_runs=2 * k,
        n_tasks=2,
    )


# ---------------------------------------------------------------------------------------------
# running the trainings
# ---------------------------------------------------------------------------------------------


def _seed_globals(seed: int) -> None:
    np.random.seed(seed % 2**32)  # noqa: NPY002 (legacy global generator, for foreign code)
    random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:  # the CPU generator (torch.manual_seed would also seed CUDA: slow)
        torch.random.default_generator.manual_seed(seed)


def _train_one(train: Callable, args: tuple, seed: int, perturbed: bool) -> tuple[Any, float]:
    """One training run; the global generators are seeded with ``seed`` first."""
    _seed_globals(seed)
    t0 = time.perf_counter()
    try:
        policy = train(*args)
    except Exception as exc:
        exc.add_note(f"retrain_compare: train failed for seed {seed} (perturbed={perturbed})")
        raise
    if policy is None:
        raise ValueError(
            f"train returned None for seed {seed} (perturbed={perturbed}); return the policy"
        )
    return policy, time.perf_counter() - t0


def _show(progress: bool | None) -> bool:
    return sys.stderr.isatty() if progress is None else progress


def _run_jobs(jobs: list[tuple], engine: str, n_jobs: int, progress: bool) -> list[Any]:
    from tqdm.auto import tqdm

    if engine == "inprocess":
        bar = tqdm(jobs, desc="retrain", unit="run", leave=False) if progress else jobs
        return [_train_one(*job)[0] for job in bar]
    if engine == "joblib":
        from joblib import Parallel, delayed, parallel_config

        with parallel_config(backend="loky", n_jobs=n_jobs, inner_max_num_threads=1):
            gen = Parallel(return_as="generator")(delayed(_train_one)(*j) for j in jobs)
            return [
                r[0]
                for r in tqdm(
                    gen, total=len(jobs), desc="retrain", disable=not progress, leave=False
                )
            ]
    from perturbation.sweeps.engines import _import_ray, connect_ray

    connect_ray(n_jobs)
    ray = _import_ray()
    task = ray.remote(num_cpus=1)(_train_one)
    refs = [task.remote(*j) for j in jobs]
    bar = tqdm(total=len(refs), desc="retrain", disable=not progress, leave=False)
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        bar.update(len(done))
    bar.close()
    return [r[0] for r in ray.get(refs)]


def _visited_states(
    policies: Sequence[Any], env: object, episodes: int, seed: int, max_steps: int
) -> np.ndarray:
    """Observations at which each policy acts in greedy rollouts
    (:func:`trainers.rollout.visited_states`; policy ``i``'s episodes reset with seeds
    ``seed + 1000 i + e``), pooled: ``(N, *obs_shape)``."""
    from trainers.rollout import visited_states

    out = []
    for i, pol in enumerate(policies):

        def probs(obs: np.ndarray, pol: Any = pol, i: int = i) -> np.ndarray:
            return as_probabilities(pol, obs, name=f"the policy of base run {i}")

        states = visited_states(
            probs, env, episodes=episodes, seed=seed + 1000 * i, max_steps=max_steps
        )
        out.append(np.asarray(states, dtype=np.float64))
    return np.concatenate(out)


def _check_bound(bound: object, perturbation: object) -> float | None:
    if bound is None:
        return None
    if not isinstance(bound, Mapping):
        raise ArgumentTypeError(
            "bound must be None or a mapping with alpha (temperature), gamma (discount) and, unless "
            f"the perturbation declares it, reward_distance (||dR||_inf); got {bound!r}"
        )
    unknown = set(bound) - {"alpha", "gamma", "reward_distance"}
    if unknown or not {"alpha", "gamma"} <= set(bound):
        raise ValueError(
            "bound must have the keys alpha, gamma and optionally reward_distance; got "
            f"{sorted(bound)}"
        )
    rd = bound.get("reward_distance")
    if rd is None:
        rd = getattr(perturbation, "reward_distance", None)
    if rd is None:
        raise ValueError(
            "bound: reward_distance (||dR||_inf) is needed: give it in bound or use a "
            "reward_perturbation(..., reward_distance=...)"
        )
    try:
        return soft_policy_tv_bound(rd, bound["alpha"], bound["gamma"])
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"bound: {exc}") from None


def _check_seeds(seeds: object, perturbed_seeds: object) -> tuple[list[int], list[int]]:
    if isinstance(seeds, int | np.integer) and not isinstance(seeds, bool):
        k = check_int("seeds", seeds, lo=2)
        base = list(range(k))
    else:
        base = check_seeds(seeds, "seeds")
        if len(base) < 2:
            raise ValueError(
                f"seeds must hold at least 2 seeds (K >= 2 runs per group); got {base}"
            )
    if perturbed_seeds is None:
        start = max(base) + 1
        pert = list(range(start, start + len(base)))
    else:
        pert = check_seeds(perturbed_seeds, "perturbed_seeds")
        if len(pert) != len(base):
            raise ValueError(
                f"perturbed_seeds must hold as many seeds as seeds ({len(base)}); got {len(pert)}"
            )
    return base, pert


def retrain_compare(
    train: Callable[..., Any],
    *,
    perturbation: EnvPerturbation | Callable[[object], object] | None = None,
    seeds: int | Sequence[int] = 5,
    perturbed_seeds: Sequence[int] | None = None,
    states: Any = None,
    env: object = None,
    engine: str = "inprocess",
    n_jobs: int = -1,
    n_permutations: int = 10_000,
    alpha: float = 0.05,
    bound: Mapping[str, float] | None = None,
    n_bootstrap: int = 2000,
    confidence: float = 0.95,
    episodes: int = 3,
    max_steps: int = 1000,
    max_states: int = 2000,
    random_state: int = 0,
    progress: bool | None = None,
) -> RetrainComparison:
    """Retrain with and without a perturbation over K seeds; is the effect above seed noise?

    Parameters
    ----------
    train : callable
        Without ``perturbation``: ``train(seed, perturbed: bool) -> policy``. With one:
        ``train(env_factory, seed) -> policy``, called with ``env`` for the base runs and
        ``perturbation(env)`` for the perturbed runs. A policy is an ``nn.Module`` (logits), a
        callable ``states -> probabilities``, an ``(S, A)`` table or a training result with
        ``.agent`` / ``.policy`` (:func:`~perturbation.retrain.as_probabilities`). Before each
        call the global numpy, ``random`` and torch CPU generators are seeded with the run's
        seed (a trainer on a GPU seeds its own).
    perturbation : EnvPerturbation or callable, optional
        ``env_factory -> env_factory`` (:func:`~perturbation.retrain.reward_perturbation`,
        :func:`~perturbation.retrain.transition_perturbation`); needs ``env``.
    seeds : int or sequence of int, default 5
        K >= 2 (seeds ``0..K-1``) or the K base seeds.
    perturbed_seeds : sequence of int, optional
        Seeds of the perturbed runs (default: the K integers after ``max(seeds)``, so that all
        2K runs are independent and exchangeable under the null).
    states : array_like, optional
        The shared states to compare on. Default: the observations visited by greedy rollouts
        of every base policy in ``env`` (``episodes`` each, at most ``max_steps`` steps),
        subsampled to ``max_states``.
    env : gymnasium id, TabularMDP or factory, optional
        The unperturbed environment (needed with ``perturbation`` or without ``states``).
    engine : {"inprocess", "joblib", "ray"}, default "inprocess"
        Where the 2K trainings run (the engines of :mod:`perturbation.sweeps`; ``train`` and the
        policies must be picklable for the process engines).
    n_jobs : int, default -1
        Worker processes of ``joblib`` / CPUs of a local Ray instance.
    n_permutations : int, default 10000
        Exact test when ``C(2K, K) <= n_permutations``, else this many random relabellings.
    alpha : float in (0, 1), default 0.05
        Level: ``distinguishable = p < alpha``.
    bound : mapping, optional
        ``{"alpha": temperature, "gamma": discount, "reward_distance": ||dR||_inf}`` of
        entropy-/KL-regularised training (``reward_distance`` may come from the
        perturbation): Prop 4.7's bound is then reported beside the measured max TV.
    n_bootstrap : int, default 2000
        Bootstrap resamples for the intervals.
    confidence : float in (0, 1), default 0.95
    episodes, max_steps, max_states : int
        Rollouts that collect ``states`` when it is not given.
    random_state : int, default 0
        Seed of the permutations, bootstrap, rollouts and subsampling.
    progress : bool, optional
        tqdm bar over the runs (default: when stderr is a terminal).

    Returns
    -------
    RetrainComparison

    Raises
    ------
    TypeError, ValueError
        Naming the argument: ``train`` not callable, fewer than 2 seeds, neither ``states`` nor
        ``env``, a ``perturbation`` without ``env``, an unknown ``engine``, a malformed
        ``bound``, policies with different action counts, ...

    Warns
    -----
    RuntimeWarning
        When K is too small for the test ever to reach ``p < alpha``.

    Examples
    --------
    Exact soft-optimal policies of a one-state bandit (no seed noise), reward of arm 0 raised:

    >>> from theory import TabularMDP, soft_optimal_policy
    >>> mdp = TabularMDP(np.ones((1, 2, 1)), np.zeros((1, 2)), gamma=0.0)
    >>> def train(seed, perturbed):
    ...     return soft_optimal_policy(mdp.with_reward(np.array([[0.2 * perturbed, 0.0]])), 1.0)
    >>> res = retrain_compare(train, seeds=4, states=[0], bound={"alpha": 1.0, "gamma": 0.0,
    ...                       "reward_distance": 0.2}, progress=False)
    >>> res.distinguishable, round(res.p_value, 4), round(res.bound, 3), round(res.max_tv, 4)
    (True, 0.0286, 0.1, 0.0498)
    """
    t_start = time.perf_counter()
    if not callable(train):
        raise ArgumentTypeError(f"train must be callable (the training function); got {train!r}")
    if perturbation is not None and not callable(perturbation):
        raise ArgumentTypeError(
            f"perturbation must be None or env_factory -> env_factory; got {perturbation!r}"
        )
    base, pert = _check_seeds(seeds, perturbed_seeds)
    k = len(base)
    check_choice("engine", engine, ENGINES)
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0:
        raise ArgumentTypeError(f"n_jobs must be a non-zero integer; got {n_jobs!r}")
    n_permutations = check_positive_int("n_permutations", n_permutations)
    alpha = check_open_unit("alpha", alpha)
    n_bootstrap = check_positive_int("n_bootstrap", n_bootstrap)
    confidence = check_open_unit("confidence", confidence)
    episodes = check_positive_int("episodes", episodes)
    max_steps = check_positive_int("max_steps", max_steps)
    max_states = check_positive_int("max_states", max_states)
    random_state = check_seed(random_state, "random_state")
    if progress is not None:
        check_bool("progress", progress)
    bound_value = _check_bound(bound, perturbation)
    if perturbation is not None:
        if env is None:
            raise ValueError(
                "env is needed with a perturbation (train(env_factory, seed) is called)"
            )
        _check_factory(env)
    if states is None and env is None:
        raise ValueError("states: give the states to compare on, or env to visit them in")
    x = None if states is None else as_float_array("states", states)
    if x is not None and x.ndim == 0:
        raise ValueError(f"states must be a batch (n, ...); got a scalar {states!r}")
    min_p = (
        2.0 / math.comb(2 * k, k)
        if math.comb(2 * k, k) <= n_permutations
        else (1.0 / (1.0 + n_permutations))
    )
    if min_p >= alpha:
        warnings.warn(
            f"seeds: with K = {k} runs per group the permutation test cannot reach p < alpha = "
            f"{alpha:g} (smallest p = {min_p:.3g}); use more seeds",
            RuntimeWarning,
            stacklevel=2,
        )
    name = getattr(perturbation, "name", None) or (
        "perturbation" if perturbation is None else repr(perturbation)
    )

    if perturbation is None:
        jobs = [(train, (s, False), s, False) for s in base] + [
            (train, (s, True), s, True) for s in pert
        ]
    else:
        perturbed_env = perturbation(env)
        jobs = [(train, (env, s), s, False) for s in base] + [
            (train, (perturbed_env, s), s, True) for s in pert
        ]
    policies = _run_jobs(jobs, engine, n_jobs, _show(progress))

    rng = np.random.default_rng(random_state)
    if x is None:
        x = _visited_states(policies[:k], env, episodes, random_state, max_steps)
        if len(x) > max_states:
            x = x[np.sort(rng.choice(len(x), size=max_states, replace=False))]
    labels = [f"base run (seed {s})" for s in base] + [f"perturbed run (seed {s})" for s in pert]
    probs = [
        as_probabilities(p, x, name=f"the policy of the {lab}")
        for p, lab in zip(policies, labels, strict=True)
    ]
    n_actions = {p.shape[1] for p in probs}
    if len(n_actions) != 1:
        raise ValueError(
            f"train returned policies with different action counts {sorted(n_actions)}"
        )
    P = np.stack(probs)
    greedy = P.argmax(axis=2)
    n = 2 * k
    D = np.zeros((n, n))
    G = np.zeros((n, n))
    for i in range(n):  # row by row: memory (2K, n, A), not (2K, 2K, n, A)
        D[i] = _tv(P[i][None], P).mean(axis=1)
        G[i] = (greedy[i][None] != greedy).mean(axis=1)
    D = 0.5 * (D + D.T)  # exactly symmetric, zero diagonal
    np.fill_diagonal(D, 0.0)

    t_obs, p_value, exact, used, min_p = _permutation_test(D, k, n_permutations, rng)
    cross, wa, wb = _group_means(D, k)
    within = 0.5 * (wa + wb)
    cross_b, within_b = _bootstrap(D, k, n_bootstrap, rng, within)
    effect = _interval("mean TV, base vs perturbed", cross, cross_b, confidence, k)
    noise = _interval("mean TV, same group", within, within_b, confidence, k)
    diff = _interval("effect - seed noise", cross - within, cross_b - within_b, confidence, k)
    ratio = _interval(
        "effect / seed noise",
        float(_ratio(cross, within)),
        _ratio(cross_b, within_b),
        confidence,
        k,
        method="inverted_cdf",  # no interpolation: infinite ratios stay infinite, never NaN
    )
    _, ga, gb = _group_means(G, k)
    max_tv = float(_tv(P[:k].mean(axis=0), P[k:].mean(axis=0)).max())
    return RetrainComparison(
        seeds=tuple(base),
        perturbed_seeds=tuple(pert),
        perturbation=str(name),
        states=x,
        probabilities=P,
        distances=D,
        effect=effect,
        seed_noise=noise,
        difference=diff,
        ratio=ratio,
        statistic=t_obs,
        p_value=p_value,
        exact=exact,
        n_permutations=used,
        min_p_value=min_p,
        alpha=alpha,
        distinguishable=p_value < alpha,
        effect_disagreement=float(G[:k, k:].mean()),
        seed_disagreement=0.5 * (ga + gb),
        max_tv=max_tv,
        bound=bound_value,
        seconds=time.perf_counter() - t_start,
    )
