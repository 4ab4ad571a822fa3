"""DPO and IPO on completion pairs of a sequence task, N seeds at once; preference oracles.

A pair is ``(prompt, chosen, rejected)`` given as indices into ``task.prompts`` and
``task.completions()``. Given pairs are shared by all runs (or given per run); without them
each run draws its own from a Bradley-Terry oracle on its task's exact reward table
(:func:`bradley_terry_pairs`): a uniform training prompt, two distinct uniform completions
``a, b`` (redrawn while their rewards tie, by default) and the label
``P(a > b) = sigma(scale (r(a) - r(b)))`` (Bradley & Terry 1952; Rafailov et al. 2023, Eq. 1).

Each step takes ``batch_size`` pairs per run and minimises, with sequence log-probabilities
``l = sum_t log pi(y_t | x, y_<t)`` under the policy and the frozen reference,

- ``loss_type="sigmoid"``: ``-(1-e) log sigma(beta m) - e log sigma(-beta m)``,
  ``m = (l+ - l+_ref) - (l- - l-_ref)`` (Rafailov et al. 2023, Eq. 7;
  :func:`trainers.losses.dpo_loss`);
- ``loss_type="ipo"``: ``(m - 1/(2 beta))^2`` on log-probabilities averaged over each
  completion's tokens, as TRL's ``loss_type="ipo"`` (Azar et al. 2024, Eq. 17;
  :func:`trainers.losses.ipo_loss`).

General preferences (for the iterative methods of :mod:`trainers.sequence.iterative_po`):
:func:`preference_oracle` gives ``P(y > y' | x)`` for every pair of completions of a task,
either Bradley-Terry on the reward table or an *intransitive* variant with rock-paper-scissors
cycles inside each prompt's tie set (a construction of this toolkit, to exercise the Nash
view of general preferences of Munos et al. 2024 and Rosset et al. 2024), with the task's
label flips; :func:`preference_table` is its dense (P, M, M) table and
:func:`on_policy_pairs` labels two completions sampled from a policy per prompt.

References
----------
R. A. Bradley, M. E. Terry, "Rank Analysis of Incomplete Block Designs: I. The Method of Paired
Comparisons", Biometrika 39, 1952.
R. Rafailov et al., "Direct Preference Optimization: Your Language Model is Secretly a Reward
Model", NeurIPS 2023, Eq. (1), (7).
M. G. Azar et al., "A General Theoretical Paradigm to Understand Learning from Human
Preferences", AISTATS 2024, Eq. (17).
R. Munos et al., "Nash Learning from Human Feedback", ICML 2024, arXiv:2312.00886 (general,
possibly intransitive preferences P(y > y' | x)).
C. Rosset et al., "Direct Nash Optimization: Teaching Language Models to Self-Improve with
General Preferences", arXiv:2404.03715, 2024.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from theory.checks import (
    ArgumentTypeError,
    check_bool,
    check_positive,
    check_positive_int,
    check_seed,
)
from trainers import losses as L
from trainers.runtime import (
    FLAG,
    POSITIVE,
    POSITIVE_INT,
    MetricsLog,
    check_config,
    check_instance,
    one_of,
    real,
    setup,
)
from trainers.sequence import common as C
from trainers.sequence.tasks import SequenceTask

__all__ = ["SequenceDPOConfig", "bradley_terry_pairs", "train_sequence_dpo"]

Pairs = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class SequenceDPOConfig(C.PolicyOptions):
    """Hyperparameters of :func:`train_sequence_dpo` (TRL's names and defaults where they
    apply)."""

    loss_type: str = "sigmoid"
    """'sigmoid' (DPO) or 'ipo'."""
    beta: float = 0.1
    """DPO temperature / IPO's tau (TRL default 0.1)."""
    label_smoothing: float = 0.0
    """Probability that a label is flipped (conservative DPO; 'sigmoid' only)."""
    steps: int = 200
    """Optimizer steps."""
    batch_size: int = 32
    """Pairs per run per step (drawn with replacement)."""
    n_pairs: int = 2048
    """Oracle pairs drawn per run when no pairs are given."""
    oracle_scale: float = 1.0
    """Bradley-Terry oracle: P(a > b) = sigmoid(oracle_scale (r(a) - r(b)))."""
    oracle_drop_ties: bool = True
    """The oracle redraws pairs of equal reward (their labels are coin flips)."""
    lr: float = 1e-3
    """Learning rate."""

    def __post_init__(self) -> None:
        check_config(
            self,
            {
                "loss_type": one_of("sigmoid", "ipo"),
                "beta": POSITIVE,
                "label_smoothing": real(0.0, 0.5, hi_open=True),
                "steps": POSITIVE_INT,
                "batch_size": POSITIVE_INT,
                "n_pairs": POSITIVE_INT,
                "oracle_scale": POSITIVE,
                "oracle_drop_ties": FLAG,
                "lr": POSITIVE,
                **C.POLICY_OPTION_RULES,
            },
        )
        if self.label_smoothing > 0 and self.loss_type != "sigmoid":
            raise ValueError(
                "SequenceDPOConfig.label_smoothing applies to loss_type='sigmoid' only; got "
                f"loss_type={self.loss_type!r}"
            )


def bradley_terry_pairs(
    task: SequenceTask, n: int, *, seed: int = 0, scale: float = 1.0, drop_ties: bool = True
) -> Pairs:
    """``n`` preference pairs from a Bradley-Terry oracle on ``task``'s exact reward table.

    A uniform training prompt, two distinct uniform completions ``a != b`` of
    ``task.completions()`` and the label ``P(a preferred) = sigmoid(scale (r(a) - r(b)))``
    (Bradley & Terry 1952). With ``drop_ties`` the pair is redrawn until ``r(a) != r(b)``
    (prompts whose completions all have one reward give no pair); a tied pair's label is a
    coin flip that carries no preference. A task with ``label_flip = q``
    (:func:`trainers.sequence.tasks.label_flips`) reports each label flipped with probability
    ``q``. Returns ``(prompt, chosen, rejected)`` long tensors
    (n,), indices into ``task.prompts`` and ``task.completions()``.
    """
    check_instance("task", task, SequenceTask)
    n = check_positive_int("n", n)
    seed = check_seed(seed)
    scale = check_positive("scale", scale)
    drop_ties = check_bool("drop_ties", drop_ties)
    table = task.reward_table()
    M = table.shape[1]
    if M < 2:
        raise ValueError(f"task must have at least two completions to compare; got {M}")
    ids = task.train_prompt_ids
    if drop_ties:
        ids = ids[table[ids].amax(-1) > table[ids].amin(-1)]
        if ids.numel() == 0:
            raise ValueError(
                "task gives every completion of each training prompt one reward: with "
                "drop_ties=True there is no pair to compare"
            )
    g = torch.Generator().manual_seed(seed)
    p = ids[torch.randint(ids.numel(), (n,), generator=g)]
    a = torch.randint(M, (n,), generator=g)
    b = (a + torch.randint(1, M, (n,), generator=g)) % M
    while drop_ties:  # redraw the tied pairs (each round keeps a fixed fraction of them)
        tied = (table[p, a] == table[p, b]).nonzero().flatten()
        if tied.numel() == 0:
            break
        a[tied] = torch.randint(M, (tied.numel(),), generator=g)
        b[tied] = (a[tied] + torch.randint(1, M, (tied.numel(),), generator=g)) % M
    prob = torch.sigmoid(scale * (table[p, a] - table[p, b]))
    q = task.label_flip  # the oracle's label noise (trainers.sequence.tasks.label_flips)
    prob = (1 - q) * prob + q * (1 - prob)
    win = torch.rand(n, generator=g, dtype=torch.float64) < prob
    return p, torch.where(win, a, b), torch.where(win, b, a)


def _check_pairs(pairs: object, n_prompts: int, n_completions: int) -> Pairs:
    """``pairs`` as three checked long tensors (prompt, chosen, rejected) of one length."""
    if not isinstance(pairs, tuple | list) or len(pairs) != 3:
        raise ArgumentTypeError(
            "pairs must be a tuple (prompt, chosen, rejected) of three integer arrays; got "
            f"{type(pairs).__name__}"
        )
    out = []
    for part, x, hi in zip(
        ("prompt", "chosen", "rejected"),
        pairs,
        (n_prompts, n_completions, n_completions),
        strict=True,
    ):
        arr = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
        if arr.is_floating_point() or arr.is_complex() or arr.dtype == torch.bool:
            raise ArgumentTypeError(f"pairs ({part}) must be integers; got dtype {arr.dtype}")
        if arr.ndim != 1 or arr.numel() == 0:
            raise ValueError(
                f"pairs ({part}) must be a non-empty 1-d array; got {tuple(arr.shape)}"
            )
        if int(arr.min()) < 0 or int(arr.max()) >= hi:
            raise ValueError(
                f"pairs ({part}) must lie in [0, {hi}); got [{int(arr.min())}, {int(arr.max())}]"
            )
        out.append(arr.long().cpu())
    p, w, lo = out
    if not p.shape == w.shape == lo.shape:
        raise ValueError(
            f"pairs must be three equal-length arrays; got {p.numel()}, {w.numel()}, {lo.numel()}"
        )
    if bool((w == lo).any()):
        k = int((w == lo).nonzero()[0, 0])
        raise ValueError(f"pairs: pair {k} has chosen == rejected == {int(w[k])}")
    return p, w, lo


def train_sequence_dpo(
    task_or_tasks: SequenceTask | Sequence[SequenceTask],
    cfg: SequenceDPOConfig = SequenceDPOConfig(),
    *,
    pairs: Pairs | None = None,
    seeds: Sequence[int] = (0,),
    policy: nn.Module | None = None,
    ref_policy: nn.Module | None = None,
    device: str | torch.device | None = None,
    callback: C.Callback | None = None,
) -> C.SequenceRunResult:
    """Train N = len(seeds) DPO (or IPO) runs on completion pairs as one stacked model.

    Parameters
    ----------
    task_or_tasks : SequenceTask or sequence of N SequenceTask
        As in :func:`trainers.sequence.grpo.train_grpo`; without ``pairs`` each run's oracle
        uses its own task's reward table.
    cfg : SequenceDPOConfig
    pairs : (prompt, chosen, rejected), optional
        Integer arrays of one length: prompt indices into ``task.prompts`` and two distinct
        completion indices into ``task.completions()``; shared by all runs. Default:
        :func:`bradley_terry_pairs` on each run's task (``cfg.n_pairs``, ``cfg.oracle_scale``,
        ``cfg.oracle_drop_ties``), seeded by the run's seed.
    seeds, policy, ref_policy, device, callback
        As in :func:`trainers.sequence.grpo.train_grpo`.

    Returns
    -------
    SequenceRunResult
        Metrics per step: ``losses/loss``, TRL's ``rewards/chosen``, ``rewards/rejected``,
        ``rewards/margins``, ``rewards/accuracies``, ``stats/tokens``.
    """
    check_instance("cfg", cfg, SequenceDPOConfig)
    tasks, seeds = C.resolve_runs(task_or_tasks, seeds, policy)
    callback = C.check_callback(callback)
    if ref_policy is not None and not isinstance(ref_policy, nn.Module):
        raise TypeError(f"ref_policy must be an nn.Module or None; got {type(ref_policy).__name__}")
    task = tasks[0]
    comp_tokens, comp_mask = task.completions()
    if pairs is not None:
        run_pairs = [_check_pairs(pairs, task.n_prompts, comp_tokens.shape[0])] * len(seeds)
    else:
        pair_seeds = C.stream_seeds(seeds, "oracle")
        run_pairs = [
            bradley_terry_pairs(
                t, cfg.n_pairs, seed=s, scale=cfg.oracle_scale, drop_ties=cfg.oracle_drop_ties
            )
            for t, s in zip(tasks, pair_seeds, strict=True)
        ]
    dev = setup(seeds[0], device)
    policy = C.build_policy(task, seeds, policy, cfg, dev)
    ref = C.frozen_copy(policy) if ref_policy is None else ref_policy.to(dev)
    opt = C.make_optimizer(
        [p for p in policy.parameters() if p.requires_grad], cfg.optimizer, cfg.lr
    )
    gens = C.generators(seeds, "pairs", torch.device("cpu"))
    K = cfg.batch_size
    log = MetricsLog(cfg.steps, progress=cfg.progress)
    tokens_seen = 0
    start = time.perf_counter()
    for step in range(cfg.steps):
        # --- a batch of K pairs per run; chosen and rejected in one forward (N, 2K, L) ---
        rows = [
            torch.randint(rp[0].numel(), (K,), generator=g)
            for rp, g in zip(run_pairs, gens, strict=True)
        ]
        p_idx = torch.stack([rp[0][r] for rp, r in zip(run_pairs, rows, strict=True)])
        c_idx = torch.stack(
            [torch.cat([rp[1][r], rp[2][r]]) for rp, r in zip(run_pairs, rows, strict=True)]
        )
        prompts = C.as_batch(task, torch.cat([p_idx, p_idx], dim=1), dev)
        tokens, mask = comp_tokens[c_idx].to(dev), comp_mask[c_idx].to(dev)
        logp = C.logprobs_runs(policy, prompts, tokens, mask, task)
        with torch.no_grad():
            ref_logp = C.logprobs_runs(ref, prompts, tokens, mask, task)
        seq, ref_seq = logp.sum(-1), ref_logp.sum(-1)
        if cfg.loss_type == "ipo":  # TRL averages the log-probs over each completion's tokens
            n = mask.sum(-1).clamp(min=1).to(seq.dtype)
            seq, ref_seq = seq / n, ref_seq / n
            per_pair, stats = L.ipo_loss(
                seq[:, :K], seq[:, K:], ref_seq[:, :K], ref_seq[:, K:], cfg.beta
            )
        else:
            per_pair, stats = L.dpo_loss(
                seq[:, :K],
                seq[:, K:],
                ref_seq[:, :K],
                ref_seq[:, K:],
                cfg.beta,
                label_smoothing=cfg.label_smoothing,
            )
        loss = per_pair.mean(-1)  # (N,)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        C.clip_gradients(policy, cfg.max_grad_norm)
        opt.step()
        n_tok = int(mask.sum())
        tokens_seen += n_tok
        if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
            log.log(
                step + 1,
                {
                    "losses/loss": loss.detach().mean(),
                    **stats,
                    "stats/tokens": n_tok / mask[..., 0].numel(),
                },
            )
        if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
            C.notify(callback, step + 1, policy)
        log.advance()
    log.close()
    return C.SequenceRunResult(
        policy=policy,
        ref_policy=ref,
        config=cfg,
        seeds=tuple(seeds),
        metrics=log.rows,
        tokens_seen=tokens_seen,
        wall_s=time.perf_counter() - start,
        algorithm="dpo",
    )
