"""Shared pieces of the ``sequence/*`` experiments: the task, the base model, exact training.

Every distribution here is exact: the task's completions are enumerated
(:meth:`trainers.sequence.tasks.SequenceTask.completions`) and a stacked
:class:`~trainers.sequence.policy.TinyCausalLM` scores every one of them after every prompt,
so a policy is an ``(N, P, M)`` float64 table of log-probabilities (N runs, P prompts, M
completions).

- :func:`tied_task`: two digits summing to ``S`` and the answer ``S``; tie sets of 3 and 2.
- :func:`reference`: the base model of each seed, a brief supervised fine-tuning on uniformly
  random tied answers (:func:`trainers.sequence.sft.pretrain_reference`), so that its mass is
  spread over each tie set; every experiment starts from it and regularizes towards it.
- :func:`tile`: the runs of a stacked model repeated once per condition (paired runs: the
  same initialisation and, trained with the same seed, the same random streams).
- :func:`seq_logp` / :func:`exact`: the exact ``(N, P, M)`` log-probabilities.
- :func:`fit_kl_regularized`: training on ``E_pi r - beta KL(pi || ref)`` with the exact
  expectation of the KL-in-reward policy gradient (no sampling), until a stated gap.
- :func:`fit_k3_expected`: the exact expectation of GRPO's update with the k3 loss term
  (with or without TRL's importance-ratio correction).
- :func:`token_level_optimum`: the fixed points derived for those updates.
- :func:`train_paired_grpo`: sampled GRPO (:func:`trainers.sequence.grpo.train_grpo`), one
  run per (condition, seed) in one stacked model.
- :func:`bootstrap_ci`: percentile bootstrap intervals over seeds.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence

import numpy as np
import torch

from perturbation.registry import RunContext
from perturbation.sweeps import stats
from trainers.losses import aggregate_token_loss, grpo_token_loss, k3_kl
from trainers.sequence import (
    GRPOConfig,
    SequenceDistribution,
    SequenceTask,
    SFTConfig,
    TinyCausalLM,
    completion_logprobs,
    exact_logprobs,
    kl_regularized_optimum,
    pretrain_reference,
    reverse_kl_regularized_optimum,
    tie_break,
    tied_digit_sum,
    train_grpo,
    tv_distance,
)

#: The TinyCausalLM of every experiment: one pre-LN block of width 16 (about 4k parameters).
MODEL = {"d_model": 16, "n_layers": 1, "n_heads": 1}
#: Supervised fine-tuning of the base model on uniformly random tied answers; with probability
#: ``uniform_mix`` a target is any completion instead, so that every completion keeps mass.
SFT = SFTConfig(
    targets="valid", steps=120, batch_size=32, lr=1e-2, uniform_mix=0.3, dtype="float64", **MODEL
)
#: Stated convergence of exact KL-regularized training: every run is trained until its gap
#: ``J* - J = beta sum_x KL(pi_x || pi*_x)`` (:func:`kl_gap`) is at most this.
GAP = 2e-3
#: Evaluation budget of :func:`fit_kl_regularized` (a run that needs more fails its claim).
MAX_EVALS = 2000
#: KL weight of the regularized runs (reward units: the strict reward is 0 or 1).
BETA = 0.5
#: Tie-break sizes of the cliff experiments (three decades of reward change).
EPS = (1e-3, 1e-2, 1e-1)
#: GRPO of the sampled runs: 2 prompts x 8 completions per step, Adam 3e-3, 100 steps.
GRPO_STEPS = 100
GRPO = GRPOConfig(
    steps=GRPO_STEPS, batch_prompts=2, num_generations=8, lr=3e-3, log_every=GRPO_STEPS, **MODEL
)


# ---------------------------------------------------------------------------------------------
# The task, the seeds and the base model
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def tied_task() -> SequenceTask:
    """Two digits in ``{0, 1, 2}`` that sum to ``S``, then the answer ``S``, for ``S = 2, 3``.

    45 completions per prompt (9 digit pairs x 5 answers, then EOS); the tie sets of the strict
    reward are ``{02, 11, 20}`` and ``{12, 21}``.
    """
    return tied_digit_sum(n_digits=2, max_digit=2, sums=(2, 3))


@functools.lru_cache(maxsize=1)
def tie_break_tasks() -> tuple[SequenceTask, ...]:
    """The clean task and one :func:`~trainers.sequence.tasks.tie_break` per ``eps`` of
    :data:`EPS`: ``r + eps 1[y in F]`` with the same favoured half ``F`` of each tie set."""
    task = tied_task()
    return (task, *(tie_break(task, e, seed=0) for e in EPS))


def run_seeds(ctx: RunContext, n: int) -> tuple[int, ...]:
    """``n`` distinct training seeds of the area, from ``ctx.seed`` (shared by every claim, so
    that the base models are trained once)."""
    base = int(ctx.rng("sequence:seeds").integers(2**20))
    return tuple(base + i for i in range(n))


def n_seeds(ctx: RunContext) -> int:
    """Seeds per condition: 3 at the default scale, at least 2."""
    return ctx.n(3, minimum=2)


@functools.lru_cache(maxsize=8)
def reference(task: SequenceTask, seeds: tuple[int, ...], device: str) -> TinyCausalLM:
    """The frozen base model of each seed (stacked): SFT on random tied answers (:data:`SFT`)."""
    res = pretrain_reference(task, list(seeds), SFT, device=device)
    ref = res.policy.eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref


def tile(
    policy: TinyCausalLM,
    reps: int,
    *,
    trainable: bool = True,
    dtype: torch.dtype | None = None,
) -> TinyCausalLM:
    """A new stacked model holding ``policy``'s N runs ``reps`` times, block-wise: run
    ``k * N + i`` is a copy of run ``i`` (in ``dtype``, default ``policy``'s)."""
    param = next(policy.parameters())
    out = TinyCausalLM(
        policy.vocab_size,
        max_len=policy.max_len,
        d_model=policy.d_model,
        n_layers=policy.n_layers,
        n_heads=policy.n_heads,
        tied=policy.tied,
        seeds=list(range(policy.n_runs * reps)),
        dtype=param.dtype if dtype is None else dtype,
    ).to(param.device)
    state = {k: v.repeat(reps, *([1] * (v.dim() - 1))) for k, v in policy.state_dict().items()}
    out.load_state_dict(state)
    for p in out.parameters():
        p.requires_grad_(trainable)
    return out.train(trainable)


# ---------------------------------------------------------------------------------------------
# Exact distributions
# ---------------------------------------------------------------------------------------------


def _pairs(
    policy: TinyCausalLM, task: SequenceTask
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every (prompt, completion) pair: prompts (P M, Tp), tokens and mask (N, P M, L)."""
    dev = next(policy.parameters()).device
    tokens, mask = task.completions()
    P, M, N = task.n_prompts, tokens.shape[0], policy.n_runs
    prompts = task.prompts.repeat_interleave(M, 0).to(dev)
    toks = tokens.repeat(P, 1).expand(N, -1, -1).to(dev)
    masks = mask.repeat(P, 1).expand(N, -1, -1).to(dev)
    return prompts, toks, masks


def token_logp(policy: TinyCausalLM, task: SequenceTask) -> torch.Tensor:
    """Per-token log-probabilities ``(N, P, M, L)`` of every completion, with gradients."""
    prompts, toks, masks = _pairs(policy, task)
    lp = completion_logprobs(policy, prompts, toks, masks, allowed=task.allowed.to(toks.device))
    return lp.to(torch.float64).reshape(policy.n_runs, task.n_prompts, -1, toks.shape[-1])


def seq_logp(policy: TinyCausalLM, task: SequenceTask) -> torch.Tensor:
    """Exact ``log pi(y | x)`` of every completion after every prompt, ``(N, P, M)`` float64,
    with gradients (one teacher-forced forward over all pairs)."""
    return token_logp(policy, task).sum(-1)


def exact(policy: TinyCausalLM, task: SequenceTask) -> torch.Tensor:
    """:func:`seq_logp` without gradients, on the CPU."""
    with torch.no_grad():
        return seq_logp(policy, task).cpu()


#: Total variation along the last axis (:func:`trainers.sequence.tv_distance`).
tv = tv_distance


def restricted(logp: torch.Tensor, subset: torch.Tensor) -> torch.Tensor:
    """``pi`` restricted to ``subset`` (bool, broadcast to ``logp``) and renormalised: the
    distribution over the tie set, written pi-bar (:meth:`SequenceDistribution.restrict`)."""
    return SequenceDistribution(logp).restrict(subset).logp


# ---------------------------------------------------------------------------------------------
# Exact training
# ---------------------------------------------------------------------------------------------


def kl_gap(
    logp: torch.Tensor,
    ref_logp: torch.Tensor,
    rewards: torch.Tensor,
    beta: float,
    weights: torch.Tensor,
) -> torch.Tensor:
    """The gap ``J* - J(pi)`` per run of ``J = sum_x w_x (E_pi r - beta KL(pi_x || ref_x))``.

    [derived] ``E_pi r - beta KL(pi || ref) = beta log Z - beta KL(pi || pi*)`` with
    ``pi* = ref e^{r / beta} / Z`` (the Gibbs variational identity: expand
    ``log pi* = log ref + r / beta - log Z``), so the gap is ``beta sum_x w_x KL(pi_x || pi*_x)``
    and, by Pinsker's inequality, ``d_TV(pi_x, pi*_x) <= sqrt(gap / (2 beta w_x))``.
    """
    opt = kl_regularized_optimum(ref_logp, rewards, beta)
    kl = (logp.exp() * (logp - opt)).sum(-1)
    return beta * (weights * kl).sum(-1)


def fit_kl_regularized(
    policy: TinyCausalLM,
    task: SequenceTask,
    ref_logp: torch.Tensor,
    rewards: torch.Tensor,
    beta: float,
    *,
    weights: torch.Tensor | None = None,
    gap: float = GAP,
    max_evals: int = MAX_EVALS,
    chunk: int = 25,
) -> dict[str, float]:
    """Train ``policy`` in place on ``J(pi) = sum_x w_x (E_pi r - beta KL(pi_x || ref_x))``.

    The gradient of ``E_pi[r - beta log(pi / ref)]`` computed over every completion is the
    expectation of the score-function estimator with the KL in the reward (PPO-max's
    penalty, ``GRPOConfig.kl_in_reward``): this is that estimator's training without its
    sampling noise. Full-batch L-BFGS (strong Wolfe line search), checked every ``chunk``
    evaluations and stopped once every run's gap :func:`kl_gap` is at most ``gap``, or after
    ``max_evals`` evaluations.

    ``ref_logp`` and ``rewards`` are ``(N, P, M)`` on the CPU; ``weights`` ``(N, P)`` (default
    1; 0 leaves a prompt out of the objective). Returns the evaluations and the largest final
    gap.
    """
    dev = next(policy.parameters()).device
    w = torch.ones(ref_logp.shape[:-1], dtype=torch.float64) if weights is None else weights
    w_d, r_d, ref_d = w.to(dev), rewards.to(dev), ref_logp.to(dev)
    params = [p for p in policy.parameters() if p.requires_grad]
    opt = torch.optim.LBFGS(
        params,
        lr=1.0,
        max_iter=chunk,
        max_eval=chunk,
        history_size=50,
        tolerance_grad=0.0,
        tolerance_change=0.0,
        line_search_fn="strong_wolfe",
    )
    evals = 0

    def closure() -> torch.Tensor:
        nonlocal evals
        evals += 1
        opt.zero_grad()
        logp = seq_logp(policy, task)
        J = (w_d * (logp.exp() * (r_d - beta * (logp - ref_d))).sum(-1)).sum()
        (-J).backward()
        return -J

    worst = math.inf
    while evals < max_evals:
        opt.step(closure)
        worst = float(kl_gap(exact(policy, task), ref_logp, rewards, beta, w).max())
        if worst <= gap:
            break
    return {"evals": evals, "gap": worst}


def fit_k3_expected(
    policy: TinyCausalLM,
    task: SequenceTask,
    ref_token_logp: torch.Tensor,
    rewards: torch.Tensor,
    beta: float,
    *,
    group_size: int,
    steps: int,
    lr: float,
    bias_correction: bool,
) -> None:
    """Follow the exact expected update of GRPO's loss with the k3 term, in place.

    The loss of one sampled completion is, per token, ``-A rho_t + beta rho_t k3_t``
    (``bias_correction=True``: :func:`trainers.losses.grpo_token_loss`, TRL 1.16's default
    ``use_bias_correction_kl=True``) or ``-A rho_t + beta k3_t`` (``False``: the bare k3 of
    DeepSeekMath, Eq. 4), with ``rho_t = pi / pi_old`` (1 in value,
    ``num_iterations = 1``), ``k3_t = e^{l_ref - l} - (l_ref - l) - 1`` and the group-mean
    advantage ``A_i = r_i - mean_G r``. Over a group of ``G`` completions drawn from ``pi``,
    ``E[(r_i - mean_G r) g(y_i)] = (G-1)/G Cov_pi(r, g)``, so the expected gradient is that of
    ``sum_y pi_old(y) loss(y; A = (G-1)/G (r(y) - E_pi r))`` with ``pi_old`` held fixed:
    computed here over every completion and followed by Adam with a cosine-annealed learning
    rate (no sampling noise). ``ref_token_logp`` ``(N, P, M, L)`` are the reference's
    per-token log-probabilities, ``rewards`` ``(N, P, M)``.
    """
    dev = next(policy.parameters()).device
    _, _, masks = _pairs(policy, task)
    mask = masks.reshape(ref_token_logp.shape)[..., None, :]  # (N, P, M, 1, L): one per group
    ref_t = ref_token_logp.to(dev)[..., None, :]
    r = rewards.to(dev)
    scale = (group_size - 1) / group_size
    params = [p for p in policy.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=lr / 100)
    length = ref_token_logp.shape[-1]
    for _ in range(steps):
        lt = token_logp(policy, task)[..., None, :]  # (N, P, M, 1, L)
        with torch.no_grad():
            pi_old = lt.sum(-1).squeeze(-1).exp()  # (N, P, M)
            adv = scale * (r - (pi_old * r).sum(-1, keepdim=True))
        loss, _ = grpo_token_loss(
            lt,
            None,
            ref_t,
            adv[..., None],
            mask,
            loss_type="grpo",
            beta=beta if bias_correction else 0.0,
            max_completion_length=length,
        )  # (N, P, M): the loss of each completion as a group of one
        if not bias_correction:
            loss = loss + beta * aggregate_token_loss(k3_kl(lt, ref_t), mask, "grpo")
        opt.zero_grad()
        (pi_old * loss).sum().backward()
        opt.step()
        sched.step()


def token_level_optimum(
    ref_logp: torch.Tensor,
    rewards: torch.Tensor,
    tokens: torch.Tensor,
    mask: torch.Tensor,
    beta: float,
    *,
    kind: str = "forward",
) -> torch.Tensor:
    """The prefix-wise regularized policy with the expected reward-to-go, ``(*, M)`` log-probs.

    At every prefix ``h``, from the last position backwards,
    ``pi(.|h) = argmax_p sum_a p(a) Q(h, a) - beta D(p, ref(.|h))`` with
    ``Q(h, a) = E_pi[r | h, a]`` (the reward alone, no later KL) and ``D = KL(p || ref)``
    (``kind="forward"``: ``pi ∝ ref e^{Q / beta}``) or ``KL(ref || p)`` (``"reverse"``).
    [derived] A KL term whose gradient reaches only the token it is computed at (the k3 loss:
    forward with TRL's ratio correction, reverse without) stops here; the sequence-level
    optimum ``ref e^{r / beta} / Z`` has instead the soft value
    ``beta log E_ref[e^{r / beta} | h, a]`` in place of ``Q``.
    """
    solve = kl_regularized_optimum if kind == "forward" else reverse_kl_regularized_optimum
    lead, M = ref_logp.shape[:-1], ref_logp.shape[-1]
    ref2 = ref_logp.reshape(-1, M)
    r2 = rewards.expand_as(ref_logp).reshape(-1, M)
    keys = [
        tuple(t for t, k in zip(row, mk, strict=True) if k)
        for row, mk in zip(tokens.tolist(), mask.tolist(), strict=True)
    ]
    leaf = {key: j for j, key in enumerate(keys)}
    children: dict[tuple, list[tuple]] = {}
    for key in keys:
        for t in range(1, len(key) + 1):
            kids = children.setdefault(key[: t - 1], [])
            if key[:t] not in kids:
                kids.append(key[:t])
    out = torch.empty_like(ref2)
    for i in range(ref2.shape[0]):
        mass: dict[tuple, float] = {}
        for key, p in zip(keys, ref2[i].exp().tolist(), strict=True):
            for t in range(len(key) + 1):
                mass[key[:t]] = mass.get(key[:t], 0.0) + p
        r = r2[i].tolist()
        logpi: dict[tuple, float] = {}

        def value(node: tuple, mass=mass, r=r, logpi=logpi) -> float:
            if node not in children:
                return r[leaf[node]]
            kids = children[node]
            q = torch.tensor([value(c) for c in kids], dtype=torch.float64)
            ref_c = torch.tensor([mass[c] / mass[node] for c in kids], dtype=torch.float64)
            pol = solve(ref_c.log(), q, beta)
            logpi.update(zip(kids, pol.tolist(), strict=True))
            return float((pol.exp() * q).sum())

        value(())
        for key, j in leaf.items():
            out[i, j] = sum(logpi[key[:t]] for t in range(1, len(key) + 1))
    return out.reshape(*lead, M)


# ---------------------------------------------------------------------------------------------
# Sampled GRPO, paired over conditions
# ---------------------------------------------------------------------------------------------


def train_paired_grpo(
    ref: TinyCausalLM,
    tasks: Sequence[SequenceTask],
    cfg: GRPOConfig,
    seeds: Sequence[int],
    device: str,
) -> torch.Tensor:
    """Train one GRPO run per (condition, seed) from ``ref``, all in one stacked model.

    Run ``k * n + i`` trains on ``tasks[k]`` from seed ``i``'s base model with seed
    ``seeds[i]``'s random streams (prompts, tokens), so the runs of one seed differ only by
    their task. Returns the exact log-probabilities ``(K, n, P, M)`` on ``tasks[0]``'s
    completions (float32 training, exact float64 evaluation).
    """
    K, n = len(tasks), len(seeds)
    policy = tile(ref, K, dtype=torch.float32)
    ref_k = tile(ref, K, trainable=False, dtype=torch.float32)
    run_tasks = [t for t in tasks for _ in range(n)]
    res = train_grpo(
        run_tasks, cfg, seeds=list(seeds) * K, policy=policy, ref_policy=ref_k, device=device
    )
    lp = exact(res.policy, tasks[0])
    return lp.reshape(K, n, *lp.shape[1:])


# ---------------------------------------------------------------------------------------------
# The tie-break sweeps shared by the claims (cached per run context)
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def regularized_tie_runs(ctx: RunContext) -> dict[str, object]:
    """Exact KL-regularized training (beta = :data:`BETA`) on the clean task and on every
    tie-break of :data:`EPS`, one run per (task, seed) from the seed's base model.

    Returns ``logp`` and the closed forms ``optimum`` ``(K, n, P, M)`` (task k = 0 clean,
    k >= 1 the tie-break ``EPS[k - 1]``), the base model's ``ref_logp`` ``(n, P, M)``, the
    training's ``evals`` and largest final ``gap``, and ``scoring_error``, the largest
    difference of ``logp`` from :func:`trainers.sequence.exact_logprobs` (prefix-shared).
    """
    tasks = tie_break_tasks()
    task, K = tasks[0], len(tasks)
    seeds = run_seeds(ctx, n_seeds(ctx))
    ref = reference(task, seeds, ctx.device)
    ref_logp = exact(ref, task)
    rewards = torch.stack([t.reward_table() for t in tasks]).repeat_interleave(len(seeds), 0)
    ref_k = ref_logp.repeat(K, 1, 1)
    policy = tile(ref, K, dtype=torch.float32)
    info = fit_kl_regularized(policy, task, ref_k, rewards, BETA)
    logp = exact(policy, task)
    # an independent computation of the same table: prefix-shared scoring of trainers.sequence
    tokens, mask = task.completions()
    dev = next(policy.parameters()).device
    with torch.no_grad():
        shared = exact_logprobs(
            policy,
            task.prompts.to(dev),
            tokens.to(dev),
            mask.to(dev),
            allowed=task.allowed.to(dev),
        ).cpu()
    shape = (K, len(seeds), task.n_prompts, -1)
    return {
        "logp": logp.reshape(shape),
        "scoring_error": float((logp - shared).abs().max()),
        "optimum": kl_regularized_optimum(ref_k, rewards, BETA).reshape(shape),
        "ref_logp": ref_logp,
        "seeds": seeds,
        **info,
    }


#: The sampled trainers of the cliff experiments: (label, config).
GRPO_METHODS = {
    "GRPO (std-normalised)": dataclasses.replace(GRPO, scale_rewards="group", loss_type="grpo"),
    "Dr. GRPO (no std)": dataclasses.replace(GRPO, scale_rewards="none", loss_type="dr_grpo"),
    f"GRPO + KL in reward (β={BETA:g})": dataclasses.replace(
        GRPO, scale_rewards="none", loss_type="dr_grpo", kl_in_reward=BETA
    ),
}


@functools.lru_cache(maxsize=8)
def sampled_tie_runs(ctx: RunContext, method: str) -> torch.Tensor:
    """Sampled GRPO (:data:`GRPO_METHODS`) on the clean task and every tie-break, paired by
    seed: exact log-probabilities ``(K, n, P, M)`` of the trained runs."""
    tasks = tie_break_tasks()
    seeds = run_seeds(ctx, n_seeds(ctx))
    ref = reference(tasks[0], seeds, ctx.device)
    return train_paired_grpo(ref, tasks, GRPO_METHODS[method], seeds, ctx.device)


# ---------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------


def bootstrap_ci(
    x: Sequence[float] | np.ndarray,
    rng: np.random.Generator,
    *,
    reps: int = 2000,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """The mean of ``x`` (one value per seed) and its percentile bootstrap interval
    (:func:`perturbation.sweeps.stats.bootstrap_ci`, seeded from ``rng``)."""
    seed = int(rng.integers(2**31 - 1))
    iv = stats.bootstrap_ci(
        np.asarray(x, dtype=float), "mean", reps=reps, confidence=level, random_state=seed
    )
    return iv.point, iv.lower, iv.upper


def log_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """The least-squares slope of ``log y`` against ``log x``."""
    return float(np.polyfit(np.log(x), np.log(np.maximum(y, 1e-300)), 1)[0])
