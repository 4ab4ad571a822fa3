"""The leaderboard's protocol: one task, one sample budget, paired seeds, three perturbations.

Every method trains on the same tied-answers task (:func:`trainers.sequence.tied_digit_sum`:
digits that sum to ``S``, then the answer ``S``; each prompt's correct completions tie), from the
same base model per seed (a brief supervised fine-tuning on uniformly random tied answers, so
that its mass is spread over each tie set: :func:`perturbation.sequence._common.reference`), with
the same number of sampled completions per run (the *sample budget*: re-draws and
re-generations count against it). Its learning rate is chosen once on the clean task from the
scale's grid (the largest final accuracy, the mean over seeds) and then frozen for every
perturbation.

The perturbations, each paired with the clean run of the same seed (same base model, same
random streams, so a pair differs by the perturbation alone):

- **P1** tie-break ``r + eps 1[y in F]`` with ``F`` a fixed random half of each tie set
  (:func:`trainers.sequence.tie_break`; Xu 2025, Prop. 3.2), over decades of ``eps``;
- **P2** reward-model noise ``r + N(0, sigma^2)`` per sampled completion
  (:func:`trainers.sequence.reward_noise`), or for preference methods oracle labels flipped
  with probability ``q`` (:func:`trainers.sequence.label_flips`);
- **P3** a fraction ``f`` of the training prompts dropped (and with them their demonstrations
  or preference pairs; evaluation keeps every prompt: :func:`trainers.sequence.drop_prompts`).

All runs of one method (seeds x conditions) train as one stacked model in one call
(:func:`run_method`); the runs' exact distributions over every completion are recorded along
training through the trainers' ``callback`` and at the end.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from theory.checks import (
    ArgumentTypeError,
    check_choice,
    check_positive,
    check_positive_int,
    check_seed,
)
from trainers.sequence import (
    SequenceRunResult,
    SequenceTask,
    drop_prompts,
    exact_distribution,
    label_flips,
    reward_noise,
    tie_break,
    tied_digit_sum,
)

__all__ = [
    "LEADERBOARD_SCALES",
    "Condition",
    "LeaderboardScale",
    "Method",
    "MethodRun",
    "condition_task",
    "conditions",
    "leaderboard_task",
    "run_method",
]


@dataclass(frozen=True)
class LeaderboardScale:
    """The size of a leaderboard: task, seeds, sample budget, perturbation sizes, lr grid."""

    name: str
    n_digits: int
    max_digit: int
    sums: tuple[int, ...]
    seeds: int
    """Seeds per condition."""
    budget: int
    """Completions sampled per run (each method's steps follow from it)."""
    eps: tuple[float, ...]
    """P1 tie-break sizes."""
    sigmas: tuple[float, ...]
    """P2 reward-noise standard deviations (reward units; the strict reward is 0 or 1)."""
    flips: tuple[float, ...]
    """P2 label-flip probabilities of the preference methods (one per sigma)."""
    drops: tuple[float, ...]
    """P3 fractions of training prompts dropped."""
    lrs: tuple[float, ...] | None
    """Learning-rate grid searched on the clean task (None: each method's default)."""
    evals: int
    """Exact evaluations along training (for the entropy and KL trajectories)."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ArgumentTypeError(f"name must be a non-empty string; got {self.name!r}")
        for f in ("n_digits", "max_digit", "seeds", "budget", "evals"):
            check_positive_int(f, getattr(self, f))
        if self.seeds < 2:
            raise ValueError(f"seeds must be >= 2 (seed dispersion needs two); got {self.seeds}")
        for f, lo, hi in (
            ("eps", 0.0, math.inf),
            ("sigmas", 0.0, math.inf),
            ("flips", 0.0, 0.5),
            ("drops", 0.0, 1.0),
        ):
            vals = getattr(self, f)
            if not isinstance(vals, tuple) or not all(
                isinstance(v, int | float) and lo < v < hi for v in vals
            ):
                raise ValueError(
                    f"{f} must be a tuple of numbers in ({lo:g}, {hi:g}); got {vals!r}"
                )
        if len(self.flips) != len(self.sigmas):
            raise ValueError(
                f"flips must hold one flip probability per sigma ({len(self.sigmas)}); "
                f"got {len(self.flips)}"
            )
        if self.lrs is not None and (
            not isinstance(self.lrs, tuple)
            or not self.lrs
            or not all(isinstance(v, int | float) and 0 < v < math.inf for v in self.lrs)
        ):
            raise ValueError(f"lrs must be None or a tuple of positive numbers; got {self.lrs!r}")


#: The scales of ``stability leaderboard --scale``; ``stability verify`` uses ``tiny``.
LEADERBOARD_SCALES: dict[str, LeaderboardScale] = {
    "tiny": LeaderboardScale(
        "tiny", 2, 2, (2, 3), seeds=3, budget=800, eps=(1e-3, 1e-1), sigmas=(0.3,),
        flips=(0.2,), drops=(0.5,), lrs=None, evals=4,
    ),
    "small": LeaderboardScale(
        "small", 3, 2, (2, 3, 4, 5), seeds=5, budget=3200, eps=(1e-3, 1e-2, 1e-1),
        sigmas=(0.1, 0.3), flips=(0.1, 0.2), drops=(0.25, 0.5), lrs=(1e-3, 3e-3, 1e-2), evals=10,
    ),
    "medium": LeaderboardScale(
        "medium", 3, 3, (3, 4, 5, 6), seeds=8, budget=8000, eps=(1e-4, 1e-3, 1e-2, 1e-1),
        sigmas=(0.05, 0.1, 0.3), flips=(0.05, 0.1, 0.2), drops=(0.25, 0.5),
        lrs=(1e-3, 3e-3, 1e-2), evals=10,
    ),
}  # fmt: skip


@functools.lru_cache(maxsize=4)
def leaderboard_task(scale: str) -> SequenceTask:
    """The tied-digit-sum task of a scale (tie sets of 2 to 3 completions at ``tiny``, 3 to 7
    at ``small``, 4 to 44 at ``medium``)."""
    sc = LEADERBOARD_SCALES[check_choice("scale", scale, tuple(LEADERBOARD_SCALES))]
    return tied_digit_sum(n_digits=sc.n_digits, max_digit=sc.max_digit, sums=sc.sums)


@dataclass(frozen=True)
class Condition:
    """One training condition: ``clean`` or a perturbation ``P1``/``P2``/``P3`` of a size."""

    kind: str
    size: float = 0.0
    """eps (P1), sigma (P2), fraction dropped (P3); 0 for clean."""
    flip: float = 0.0
    """P2 of the preference methods: the label-flip probability."""

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, ("clean", "P1", "P2", "P3"))
        for f in ("size", "flip"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < math.inf:
                raise ValueError(f"{f} must be a finite number >= 0; got {v!r}")

    @property
    def label(self) -> str:
        if self.kind == "clean":
            return "clean"
        name = {"P1": "ε", "P2": "σ", "P3": "f"}[self.kind]
        return f"{self.kind} {name}={self.size:g}"


def conditions(scale: LeaderboardScale) -> tuple[Condition, ...]:
    """The clean condition, then P1 per eps, P2 per (sigma, flip), P3 per fraction."""
    if not isinstance(scale, LeaderboardScale):
        raise ArgumentTypeError(f"scale must be a LeaderboardScale; got {type(scale).__name__}")
    return (
        Condition("clean"),
        *(Condition("P1", e) for e in scale.eps),
        *(Condition("P2", s, q) for s, q in zip(scale.sigmas, scale.flips, strict=True)),
        *(Condition("P3", f) for f in scale.drops),
    )


def condition_task(task: SequenceTask, cond: Condition, *, preference: bool) -> SequenceTask:
    """``task`` under ``cond``: the same favoured half ``F`` for every eps (seed 0), the noise
    stream of each run from its own seed (the trainers' per-run generators), the same dropped
    prompts for every seed (seed 0)."""
    if not isinstance(task, SequenceTask):
        raise ArgumentTypeError(f"task must be a SequenceTask; got {type(task).__name__}")
    if not isinstance(cond, Condition):
        raise ArgumentTypeError(f"cond must be a Condition; got {type(cond).__name__}")
    if cond.kind == "clean":
        return task
    if cond.kind == "P1":
        return tie_break(task, cond.size, seed=0)
    if cond.kind == "P2":
        return label_flips(task, cond.flip) if preference else reward_noise(task, cond.size, seed=0)
    return drop_prompts(task, cond.size, seed=0)


@dataclass(frozen=True)
class Method:
    """One objective on the leaderboard.

    ``config(lr, budget)`` builds the trainer's config with the steps that spend ``budget``
    sampled completions per run (and the leaderboard's model size); ``train`` is the trainer
    (the uniform signature of :mod:`trainers.sequence`: ``train(tasks, cfg, *, seeds, policy,
    ref_policy, callback, **data)``); ``data(task)`` gives its extra keyword data.
    """

    key: str
    label: str
    paper: str
    """Key of :data:`perturbation.references.PAPERS`."""
    train: Callable[..., SequenceRunResult]
    config: Callable[[float, int], Any]
    lr: float
    """Default learning rate (a scale without a grid uses it)."""
    preference: bool = False
    """P2 flips oracle labels instead of adding reward noise."""
    kl_beta: float | None = None
    """KL coefficient of a KL-regularized objective (the Policy Cliff's bound applies)."""
    data: Callable[[SequenceTask], dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        for f in ("key", "label", "paper"):
            if not isinstance(getattr(self, f), str) or not getattr(self, f):
                raise ArgumentTypeError(f"{f} must be a non-empty string; got {getattr(self, f)!r}")
        for f in ("train", "config"):
            if not callable(getattr(self, f)):
                raise ArgumentTypeError(f"{f} must be callable; got {getattr(self, f)!r}")
        if self.data is not None and not callable(self.data):
            raise ArgumentTypeError(f"data must be callable or None; got {self.data!r}")
        check_positive("lr", self.lr)
        if self.kl_beta is not None:
            check_positive("kl_beta", self.kl_beta)


@dataclass(frozen=True)
class MethodRun:
    """Every run of one method: ``K`` conditions x ``n`` seeds, exact distributions.

    ``logp`` (K, n, P, M) are the final exact log-probabilities over every completion of the
    clean task; ``trajectory`` holds, per exact evaluation along training, ``step`` (T,),
    ``samples`` (T,) and ``logp`` (T, K, n, P, M).
    """

    method: str
    preference: bool
    lr: float
    lr_scores: dict[float, float]
    conditions: tuple[Condition, ...]
    seeds: tuple[int, ...]
    logp: torch.Tensor
    trajectory: dict[str, Any] = field(repr=False)
    samples: float
    wall_s: float
    metrics: list[dict[str, float]] = field(repr=False)


def base_logp(task: SequenceTask, seeds: tuple[int, ...], device: str = "cpu") -> torch.Tensor:
    """Exact log-probabilities (n, P, M) of the seeds' base models on ``task`` (the reference
    every run starts from and is compared with)."""
    from perturbation.sequence._common import reference

    if not isinstance(task, SequenceTask):
        raise ArgumentTypeError(f"task must be a SequenceTask; got {type(task).__name__}")
    return exact_distribution(reference(task, tuple(seeds), device), task).logp.cpu()


def _with_logging(cfg: Any, evals: int) -> Any:
    steps = int(cfg.steps)
    return dataclasses.replace(cfg, log_every=max(1, steps // max(1, evals)))


def _train(
    method: Method,
    task: SequenceTask,
    run_tasks: list[SequenceTask],
    seeds: Sequence[int],
    cfg: Any,
    ref: torch.nn.Module,
    reps: int,
    device: str,
) -> tuple[SequenceRunResult, dict[str, Any]]:
    from perturbation.sequence._common import tile

    policy = tile(ref, reps, dtype=torch.float32)
    ref_k = tile(ref, reps, trainable=False, dtype=torch.float32)
    steps: list[int] = []
    logps: list[torch.Tensor] = []

    def record(step: int, pol: torch.nn.Module) -> None:
        steps.append(step)
        logps.append(exact_distribution(pol, task).logp.cpu())

    data = method.data(task) if method.data is not None else {}
    res = method.train(
        run_tasks,
        cfg,
        seeds=list(seeds) * reps,
        policy=policy,
        ref_policy=ref_k,
        device=device,
        callback=record,
        **data,
    )
    by_step = {int(r["step"]): r.get("stats/samples", math.nan) for r in res.metrics}
    traj = {
        "step": np.array(steps),
        "samples": np.array([by_step.get(s, math.nan) for s in steps], dtype=float),
        "logp": torch.stack(logps) if logps else torch.empty(0),
    }
    return res, traj


def run_method(
    method: Method,
    scale: str | LeaderboardScale = "tiny",
    *,
    seed: int = 0,
    device: str = "cpu",
    only: Sequence[str] | None = None,
) -> MethodRun:
    """Train ``method`` under every condition of ``scale`` (or the kinds in ``only``) from each
    seed's base model, as one stacked model; the learning rate chosen on the clean task first.

    Parameters
    ----------
    method : Method
    scale : str or LeaderboardScale, default "tiny"
    seed : int, default 0
        Seed of the run seeds (``seed * 1000 + i``) and hence of everything random.
    device : str, default "cpu"
    only : sequence of str, optional
        Condition kinds to run (``"P1"``, ``"P2"``, ``"P3"``); the clean condition always runs.

    Returns
    -------
    MethodRun
    """
    from perturbation.sequence._common import reference

    if not isinstance(method, Method):
        raise ArgumentTypeError(f"method must be a Method; got {type(method).__name__}")
    if isinstance(scale, str):
        scale = LEADERBOARD_SCALES[check_choice("scale", scale, tuple(LEADERBOARD_SCALES))]
    if not isinstance(scale, LeaderboardScale):
        raise ArgumentTypeError(f"scale must be a name or a LeaderboardScale; got {scale!r}")
    seed = check_seed(seed)
    kinds = {"P1", "P2", "P3"} if only is None else set(only)
    bad = kinds - {"P1", "P2", "P3"}
    if bad:
        raise ValueError(f"only must name P1, P2 or P3; got {sorted(bad)}")
    if LEADERBOARD_SCALES.get(scale.name) == scale:
        task = leaderboard_task(scale.name)
    else:
        task = tied_digit_sum(n_digits=scale.n_digits, max_digit=scale.max_digit, sums=scale.sums)
    seeds = tuple(seed * 1000 + i for i in range(scale.seeds))
    ref = reference(task, seeds, device)
    start = time.perf_counter()
    valid = task.valid_table()

    # --- the learning rate: the best mean final accuracy on the clean task ---
    lr_scores: dict[float, float] = {}
    if scale.lrs is None:
        lr = method.lr
    else:
        for cand in scale.lrs:
            cfg = _with_logging(method.config(cand, scale.budget), 1)
            res, _ = _train(method, task, [task] * len(seeds), seeds, cfg, ref, 1, device)
            acc = exact_distribution(res.policy, task).mass(valid).mean()
            lr_scores[cand] = float(acc) if torch.isfinite(acc) else -math.inf
        lr = max(scale.lrs, key=lambda c: (lr_scores[c], -c))

    # --- every condition, paired by seed, in one stacked model ---
    conds = tuple(c for c in conditions(scale) if c.kind == "clean" or c.kind in kinds)
    # one task object per condition, shared by its seeds' runs (scored together)
    cond_tasks = [condition_task(task, c, preference=method.preference) for c in conds]
    run_tasks = [t for t in cond_tasks for _ in seeds]
    cfg = _with_logging(method.config(lr, scale.budget), scale.evals)
    res, traj = _train(method, task, run_tasks, seeds, cfg, ref, len(conds), device)
    K, n = len(conds), len(seeds)
    final = exact_distribution(res.policy, task).logp.cpu()
    traj["logp"] = traj["logp"].reshape(-1, K, n, *final.shape[1:])
    last = res.metrics[-1] if res.metrics else {}
    return MethodRun(
        method=method.key,
        preference=method.preference,
        lr=lr,
        lr_scores=lr_scores,
        conditions=conds,
        seeds=seeds,
        logp=final.reshape(K, n, *final.shape[1:]),
        trajectory=traj,
        samples=float(last.get("stats/samples", math.nan)),
        wall_s=time.perf_counter() - start,
        metrics=res.metrics,
    )
