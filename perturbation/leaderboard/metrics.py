"""The leaderboard's metrics, each exact (from enumerated distributions) and one value per seed.

With ``pi-bar`` the policy restricted to a prompt's tie set ``V_S`` and renormalised
(:meth:`trainers.sequence.SequenceDistribution.restrict`), every metric is a mean over the
task's prompts, one value per seed (so that seeds carry the intervals):

- ``change``: ``d_TV(pi-bar_pert, pi-bar_clean)`` of a seed's perturbed run against its clean
  run; ``change / size`` is the policy change per unit perturbation (``eps``, ``sigma`` or
  ``q``, ``f``). As ``eps -> 0`` a plateau of ``change`` is a policy cliff (Xu 2025, Prop.
  2.10); under KL regularization with weight ``beta`` the optimum moves by at most
  ``eps / (2 beta)`` (Xu 2025, Prop. 4.7 and Lemma C.2);
- ``shift``: ``pi-bar_eps(F) - pi-bar_0(F)``, the mass moved onto the favoured half ``F``;
- ``accuracy``: ``pi(V_S)``, the probability of a correct completion;
- ``kl_ref``: ``KL(pi || pi_ref)`` over whole completions (the base model as reference);
- ``entropy``: ``H(pi-bar) / log |V_S|``, the normalised entropy over the tie set (1: uniform
  over the tied answers, 0: one answer);
- ``collapse``: the fraction of the sample budget spent when ``H(pi-bar) < 0.1 log |V_S|``
  first holds at an exact evaluation (the mean over prompts), 1 if it never does (censored);
- ``dispersion``: a seed's mean ``d_TV(pi-bar_i, pi-bar_j)`` to the other seeds' clean runs.

:func:`aggregate` reports a metric over seeds as the interquartile mean with its stratified
bootstrap interval (Agarwal et al. 2021, §4; :func:`perturbation.sweeps.stats.bootstrap_ci`);
:func:`compare` gives the probability of improvement of one method over another
(:func:`perturbation.sweeps.stats.probability_of_improvement`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from perturbation.leaderboard.protocol import MethodRun
from perturbation.sweeps import stats
from theory.checks import ArgumentTypeError
from trainers.sequence import SequenceDistribution, SequenceTask, tie_break

__all__ = ["COLLAPSE", "Aggregate", "aggregate", "compare", "method_metrics"]

#: Collapse threshold: H(pi-bar) below this fraction of log |V_S| (the uniform tie entropy).
COLLAPSE = 0.1


def _bar(logp: torch.Tensor, valid: torch.Tensor) -> SequenceDistribution:
    return SequenceDistribution(logp).restrict(valid.expand_as(logp))


def _norm_entropy(bar: SequenceDistribution, valid: torch.Tensor) -> torch.Tensor:
    """H(pi-bar) / log |V_S| per prompt (prompts with a single tied answer count as 1)."""
    size = valid.sum(-1).to(torch.float64)
    h = bar.entropy()
    return torch.where(size > 1, h / size.log().clamp(min=1e-300), torch.ones_like(h))


def method_metrics(
    run: MethodRun, task: SequenceTask, ref_logp: torch.Tensor
) -> dict[str, np.ndarray]:
    """Every metric of ``run`` on ``task`` (its clean task): arrays over (condition, seed).

    Returns ``accuracy``, ``kl_ref``, ``entropy``, ``collapse`` of shape (K, n); ``change``,
    ``per_unit`` (K, n) with NaN for the clean condition; ``shift`` (K, n) with NaN outside
    P1; ``dispersion`` (n,) over the clean runs; ``size`` (K,); ``entropy_trajectory``
    (T, K, n) at the exact evaluations along training and their ``budget_fraction`` (T,).
    """
    if not isinstance(run, MethodRun):
        raise ArgumentTypeError(f"run must be a MethodRun; got {type(run).__name__}")
    if not isinstance(task, SequenceTask):
        raise ArgumentTypeError(f"task must be a SequenceTask; got {type(task).__name__}")
    valid = task.valid_table()
    fav = tie_break(task, 0.0, seed=0).favoured
    logp = run.logp.to(torch.float64)  # (K, n, P, M)
    n = logp.shape[1]
    dist = SequenceDistribution(logp)
    bar = _bar(logp, valid)
    out: dict[str, np.ndarray] = {
        "accuracy": dist.mass(valid.expand_as(logp)).mean(-1).numpy(),
        "kl_ref": dist.kl(SequenceDistribution(ref_logp.to(torch.float64))).mean(-1).numpy(),
        "entropy": _norm_entropy(bar, valid).mean(-1).numpy(),
        "size": np.array(
            [c.flip if c.kind == "P2" and run.preference else c.size for c in run.conditions]
        ),
    }
    change = bar.tv(SequenceDistribution(bar.logp[:1].expand_as(bar.logp))).mean(-1).numpy()
    change[0] = math.nan
    out["change"] = change
    with np.errstate(divide="ignore", invalid="ignore"):
        out["per_unit"] = change / out["size"][:, None]
    mass_f = bar.mass(fav.expand_as(logp)).numpy().mean(-1)  # (K, n)
    shift = mass_f - mass_f[:1]
    p1 = np.array([c.kind == "P1" for c in run.conditions])
    out["shift"] = np.where(p1[:, None], shift, math.nan)
    clean = bar.logp[0]  # (n, P, M)
    pair = SequenceDistribution(clean[:, None]).tv(SequenceDistribution(clean[None])).mean(-1)
    out["dispersion"] = (pair.sum(1) / max(n - 1, 1)).numpy()  # the diagonal is 0
    h, frac = _trajectory(run, valid)
    out["entropy_trajectory"], out["budget_fraction"] = h, frac
    out["collapse"] = _collapse(h, frac)
    return out


def _trajectory(run: MethodRun, valid: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The normalised tie-set entropy at each exact evaluation (T, K, n) and its x axis (T,):
    the fraction of the sample budget spent (of the steps, for a trainer that logs no
    ``stats/samples``)."""
    traj = run.trajectory["logp"]
    if traj.numel() == 0:
        return np.empty((0, *run.logp.shape[:2])), np.empty(0)
    h = _norm_entropy(_bar(traj.to(torch.float64), valid), valid).mean(-1).numpy()
    samples = np.asarray(run.trajectory["samples"], dtype=float)
    total = run.samples if math.isfinite(run.samples) and run.samples > 0 else None
    if total is None or not np.all(np.isfinite(samples)):
        steps = np.asarray(run.trajectory["step"], dtype=float)
        samples, total = steps, float(steps.max())
    return h, samples / total


def _collapse(h: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """(K, n): the budget fraction of the first evaluation with entropy below
    :data:`COLLAPSE`, 1 where there is none."""
    if h.shape[0] == 0:
        return np.ones(h.shape[1:])
    below = h < COLLAPSE
    return np.where(below.any(0), frac[below.argmax(0)], 1.0)


@dataclass(frozen=True)
class Aggregate:
    """A metric over seeds: IQM with its 95% stratified bootstrap interval."""

    point: float
    lower: float
    upper: float
    n: int

    def __str__(self) -> str:
        if not math.isfinite(self.point):
            return "–"
        return f"{self.point:.3g} [{self.lower:.3g}, {self.upper:.3g}]"


def aggregate(values: np.ndarray, *, seed: int = 0, reps: int = 1000) -> Aggregate:
    """IQM and 95% percentile interval of the finite ``values`` (seeds, or seeds x tasks as
    strata when 2-d: one stratum per column)."""
    x = np.asarray(values, dtype=float)
    if x.ndim not in (1, 2):
        raise ValueError(f"values must be 1-d (seeds) or 2-d (seeds, strata); got {x.shape}")
    if x.ndim == 1:
        x = x[:, None]
    cols = {k: x[np.isfinite(x[:, k]), k] for k in range(x.shape[1])}
    cols = {k: v for k, v in cols.items() if v.size}
    if not cols:
        return Aggregate(math.nan, math.nan, math.nan, 0)
    iv = stats.bootstrap_ci(cols, "iqm", reps=reps, random_state=seed)
    return Aggregate(iv.point, iv.lower, iv.upper, iv.n_runs)


def compare(
    x: np.ndarray, y: np.ndarray, *, higher_is_better: bool, seed: int = 0, reps: int = 1000
) -> stats.Interval:
    """Probability that a seed of X improves on a seed of Y (strata: columns when 2-d)."""
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if not higher_is_better:
        a, b = -a, -b
    if a.ndim == 1:
        a, b = a[:, None], b[:, None]
    ka = {k: a[np.isfinite(a[:, k]), k] for k in range(a.shape[1])}
    kb = {k: b[np.isfinite(b[:, k]), k] for k in range(b.shape[1])}
    keep = [k for k in ka if ka[k].size and kb.get(k, np.empty(0)).size]
    if not keep:
        raise ValueError("compare: no stratum with finite values in both x and y")
    return stats.probability_of_improvement(
        {k: ka[k] for k in keep}, {k: kb[k] for k in keep}, reps=reps, random_state=seed
    )
